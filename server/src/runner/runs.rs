//! The run queue and the runs themselves. `Runner` owns the queue (FIFO), the running
//! runs and their cancellation handles: by default one sync runs at a time across the
//! server, a task never has two active runs, and two tasks whose local folders overlap
//! never run together. Each run starts rclone through `runner::rclone`, turns its JSON
//! log into progress and log lines, and records how it ended.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use protocol::runs::{Progress, RunState};
use sqlx::PgPool;
use tokio::sync::{oneshot, Mutex, Notify};

use super::progress::{self, RcloneLine};
use super::records;
use crate::crypto::SecretBox;
use crate::logstore::LogWriter;
use crate::providers::ProviderCatalog;

/// How long a stopped rclone gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    secrets: Arc<SecretBox>,
    providers: Arc<ProviderCatalog>,
    rclone: PathBuf,
    max_concurrent: usize,
    keep_runs: i64,
    max_log_lines: u64,
    /// Checked again at every start: the folder may have changed (a symlink) or the
    /// server may have been restarted with other roots since the task was saved.
    allowed_roots: crate::tasks::AllowedRoots,
    hub: crate::logstore::live::LiveHub,
    state: Mutex<Queue>,
    wake: Notify,
}

struct Queued {
    run_id: i64,
    task_id: i64,
    dry_run: bool,
    path: PathBuf,
    /// `<credential id>:<bucket>/<folder>`: two runs on the same remote folder (or one
    /// inside the other) never run together either.
    remote: String,
    /// Lines for the run's log that arrived before it started (see [`Runner::note`]).
    notes: Vec<(&'static str, String)>,
}

struct Active {
    run_id: i64,
    path: PathBuf,
    remote: String,
    stop: Option<oneshot::Sender<()>>,
    progress: Option<Progress>,
    /// Lines for the run's log from outside it (the scheduler's), written by the run.
    notes: Vec<(&'static str, String)>,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Queued>,
    running: HashMap<i64, Active>,
}

/// What a scheduled start did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduledStart {
    Queued(i64),
    /// The task's previous run was still queued or running: no second run; a line in
    /// that run's log says so.
    StillActive(i64),
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("task {0} does not exist")]
    NoSuchTask(i64),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// How a run ended, recorded by `records::finish_surely`.
pub struct Outcome {
    pub state: RunState,
    pub error: Option<String>,
    pub code: Option<i32>,
    pub stats: Option<Progress>,
}

impl Outcome {
    fn failed(why: String) -> Outcome {
        Outcome { state: RunState::Failed, error: Some(why), code: None, stats: None }
    }
}

/// The credential a run uses, to save a refreshed token back to.
struct ValidCredential {
    id: i64,
    attrs: crate::credentials::ValidAttributes,
}

fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(c) => format!("exit code {c}"),
        None => "killed by a signal".into(),
    }
}

/// What scripts learn about the run: the task's description and places, never a secret.
fn script_env(task: &protocol::tasks::SyncTask, run_id: i64, dry_run: bool) -> Vec<(String, String)> {
    use protocol::tasks::{Direction, TransferMode};
    let direction = match task.direction {
        Direction::Push => "PUSH",
        Direction::Pull => "PULL",
    };
    let mode = match task.transfer_mode {
        TransferMode::Sync => "SYNC",
        TransferMode::Copy => "COPY",
        TransferMode::Move => "MOVE",
    };
    vec![
        ("CLOUDSYNC_TASK_ID".into(), task.id.to_string()),
        ("CLOUDSYNC_RUN_ID".into(), run_id.to_string()),
        ("CLOUDSYNC_DESCRIPTION".into(), task.description.clone()),
        ("CLOUDSYNC_DIRECTION".into(), direction.into()),
        ("CLOUDSYNC_TRANSFER_MODE".into(), mode.into()),
        ("CLOUDSYNC_PATH".into(), task.path.clone()),
        ("CLOUDSYNC_REMOTE".into(), super::sync::remote_path(task)),
        ("CLOUDSYNC_DRY_RUN".into(), dry_run.to_string()),
    ]
}

fn overlaps(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

fn remote_overlaps(a: &str, b: &str) -> bool {
    let within = |x: &str, y: &str| {
        x == y || (x.starts_with(y) && (y.ends_with(':') || y.ends_with('/') || x[y.len()..].starts_with('/')))
    };
    within(a, b) || within(b, a)
}

impl Runner {
    pub fn new(
        pool: PgPool,
        secrets: Arc<SecretBox>,
        providers: Arc<ProviderCatalog>,
        rclone: PathBuf,
        max_concurrent: usize,
    ) -> Runner {
        Runner {
            inner: Arc::new(Inner {
                pool,
                secrets,
                providers,
                rclone,
                max_concurrent: max_concurrent.max(1),
                keep_runs: 50,
                max_log_lines: crate::config::DEFAULT_MAX_LOG_LINES,
                allowed_roots: crate::tasks::AllowedRoots::new(Vec::new()),
                hub: Default::default(),
                state: Mutex::new(Queue::default()),
                wake: Notify::new(),
            }),
        }
    }

    /// The live progress of each running task.
    pub async fn progress(&self) -> HashMap<i64, Progress> {
        self.inner.state.lock().await.running.iter().filter_map(|(t, a)| a.progress.clone().map(|p| (*t, p))).collect()
    }

    /// Where runs publish their live events.
    pub fn hub(&self) -> &crate::logstore::live::LiveHub {
        &self.inner.hub
    }

    fn publish_state(&self, run_id: i64, task_id: i64, state: RunState, error: Option<String>) {
        self.inner.hub.publish(crate::logstore::live::RunEvent::State { run_id, task_id, state, error });
    }

    /// How many finished runs (with their logs) to keep per task; the default is 50.
    pub fn keep_runs(self, keep: usize) -> Runner {
        let mut inner =
            Arc::try_unwrap(self.inner).unwrap_or_else(|_| panic!("keep_runs is set before the runner is shared"));
        inner.keep_runs = keep.max(1) as i64;
        Runner { inner: Arc::new(inner) }
    }

    /// The most lines one run's log keeps (`--max-log-lines`).
    pub fn max_log_lines(self, max: u64) -> Runner {
        let mut inner =
            Arc::try_unwrap(self.inner).unwrap_or_else(|_| panic!("max_log_lines is set before the runner is shared"));
        inner.max_log_lines = max.max(10);
        Runner { inner: Arc::new(inner) }
    }

    /// Where tasks' local folders must be (`--allowed-root`); anything but `/` by default.
    pub fn allowed_roots(self, roots: crate::tasks::AllowedRoots) -> Runner {
        let mut inner =
            Arc::try_unwrap(self.inner).unwrap_or_else(|_| panic!("allowed_roots is set before the runner is shared"));
        inner.allowed_roots = roots;
        Runner { inner: Arc::new(inner) }
    }

    /// Queues a run; returns the task's active run instead if it has one.
    pub async fn enqueue(&self, task_id: i64, dry_run: bool) -> Result<i64, RunError> {
        let task = crate::tasks::store::get(&self.inner.pool, &self.inner.secrets, task_id)
            .await?
            .ok_or(RunError::NoSuchTask(task_id))?;
        let mut q = self.inner.state.lock().await;
        if let Some(a) = q.running.get(&task_id) {
            return Ok(a.run_id);
        }
        if let Some(w) = q.waiting.iter().find(|w| w.task_id == task_id) {
            return Ok(w.run_id);
        }
        let run_id = records::insert_queued(&self.inner.pool, task_id, dry_run).await?;
        self.publish_state(run_id, task_id, RunState::Queued, None);
        let remote = format!("{}:{}", task.task.credentials, super::sync::remote_path(&task.task));
        q.waiting.push_back(Queued {
            run_id,
            task_id,
            dry_run,
            path: PathBuf::from(&task.task.path),
            remote,
            notes: Vec::new(),
        });
        drop(q);
        self.inner.wake.notify_one();
        Ok(run_id)
    }

    /// A start the scheduler asks for at the time `due` (as the user reads it). A task
    /// whose previous run is still queued or running gets no second run.
    pub async fn start_scheduled(&self, task_id: i64, due: &str) -> Result<ScheduledStart, RunError> {
        let skipped = format!("scheduled start {due}: previous run still active, skipped");
        if let Some(run_id) = self.note(task_id, "warning", skipped).await {
            return Ok(ScheduledStart::StillActive(run_id));
        }
        let run_id = self.enqueue(task_id, false).await?;
        self.note(task_id, "info", format!("started by the schedule ({due})")).await;
        Ok(ScheduledStart::Queued(run_id))
    }

    /// Adds a line to the log of the task's queued or running run; returns that run, or
    /// `None` (and drops the line) when the task has none.
    pub async fn note(&self, task_id: i64, level: &'static str, line: String) -> Option<i64> {
        let mut q = self.inner.state.lock().await;
        if let Some(a) = q.running.get_mut(&task_id) {
            a.notes.push((level, line));
            return Some(a.run_id);
        }
        let w = q.waiting.iter_mut().find(|w| w.task_id == task_id)?;
        w.notes.push((level, line));
        Some(w.run_id)
    }

    /// Moves the notes waiting for a run into its log.
    async fn write_notes(&self, task_id: i64, log: &mut LogWriter) {
        let notes = match self.inner.state.lock().await.running.get_mut(&task_id) {
            Some(a) => std::mem::take(&mut a.notes),
            None => return,
        };
        for (level, line) in notes {
            log.push(level, "scheduler", &line);
        }
    }

    /// Removes a queued run or stops a running one. Returns whether there was one.
    pub async fn abort(&self, task_id: i64) -> sqlx::Result<bool> {
        let mut q = self.inner.state.lock().await;
        if let Some(pos) = q.waiting.iter().position(|w| w.task_id == task_id) {
            let w = q.waiting.remove(pos).expect("position is valid");
            drop(q);
            records::finish(
                &self.inner.pool,
                w.run_id,
                RunState::Aborted,
                None,
                Some("aborted before it started"),
                None,
            )
            .await?;
            self.publish_state(w.run_id, task_id, RunState::Aborted, Some("aborted before it started".into()));
            return Ok(true);
        }
        if let Some(a) = q.running.get_mut(&task_id) {
            if let Some(stop) = a.stop.take() {
                let _ = stop.send(());
            }
            return Ok(true);
        }
        Ok(false)
    }

    /// Waits until the task has no running run (up to `limit`); true when idle.
    pub async fn wait_until_idle(&self, task_id: i64, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while self.inner.state.lock().await.running.contains_key(&task_id) {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    }

    /// Starts queued runs as slots free up, until the process ends.
    pub async fn run_forever(self) {
        loop {
            self.start_what_fits().await;
            self.inner.wake.notified().await;
        }
    }

    async fn start_what_fits(&self) {
        let mut q = self.inner.state.lock().await;
        let mut i = 0;
        while q.running.len() < self.inner.max_concurrent && i < q.waiting.len() {
            let w = &q.waiting[i];
            let busy = q.running.values().any(|a| overlaps(&a.path, &w.path) || remote_overlaps(&a.remote, &w.remote));
            if busy {
                i += 1;
                continue;
            }
            let next = q.waiting.remove(i).expect("index checked");
            let (stop_tx, stop_rx) = oneshot::channel();
            q.running.insert(
                next.task_id,
                Active {
                    run_id: next.run_id,
                    path: next.path.clone(),
                    remote: next.remote.clone(),
                    stop: Some(stop_tx),
                    progress: None,
                    notes: next.notes,
                },
            );
            let me = self.clone();
            tokio::spawn(async move {
                let (task_id, run_id) = (next.task_id, next.run_id);
                let pool = &me.inner.pool;
                let mut log = LogWriter::new(pool.clone(), run_id)
                    .live(me.inner.hub.clone())
                    .max_lines(me.inner.max_log_lines);
                // Whatever happens to the database during the run, the run ends with a
                // final state: a run left RUNNING would block every later run of its task.
                let outcome = match me.execute(run_id, task_id, next.dry_run, stop_rx, &mut log).await {
                    Ok(outcome) => outcome,
                    Err(e) => {
                        tracing::error!(run_id, error = %e, "the database failed during a run");
                        Outcome::failed(format!("the database failed during the run: {e}"))
                    }
                };
                me.write_notes(task_id, &mut log).await;
                if let Some(why) = &outcome.error {
                    log.push("error", "runner", why);
                }
                let level = if outcome.state == RunState::Success { "info" } else { "error" };
                log.push(level, "runner", &format!("run ended: {}", outcome.state.as_str()));
                log.flush().await;
                records::finish_surely(pool, run_id, &outcome).await;
                me.publish_state(run_id, task_id, outcome.state, outcome.error);
                if let Err(e) = records::prune(&me.inner.pool, task_id, me.inner.keep_runs).await {
                    tracing::warn!(task_id, error = %e, "removing old runs failed");
                }
                me.inner.state.lock().await.running.remove(&task_id);
                me.inner.wake.notify_one();
            });
        }
    }

    async fn execute(
        &self,
        run_id: i64,
        task_id: i64,
        dry_run: bool,
        mut stop: oneshot::Receiver<()>,
        log: &mut LogWriter,
    ) -> sqlx::Result<Outcome> {
        let pool = &self.inner.pool;
        records::mark_running(pool, run_id).await?;
        self.publish_state(run_id, task_id, RunState::Running, None);
        self.write_notes(task_id, log).await;
        let (task, command, credential) = match self.prepare(task_id, dry_run).await {
            Ok(c) => c,
            Err(why) => return Ok(Outcome::failed(why)),
        };
        let env = script_env(&task, run_id, dry_run);
        if !task.pre_script.trim().is_empty() {
            log.push("info", "runner", "running the pre-script");
            match super::scripts::run("pre_script", &task.pre_script, &env, log, &mut stop).await {
                super::scripts::ScriptOutcome::Exited(Some(0)) => {}
                outcome => {
                    let (state, why) = match outcome {
                        super::scripts::ScriptOutcome::Aborted => {
                            (RunState::Aborted, "stopped on request during the pre-script".to_string())
                        }
                        super::scripts::ScriptOutcome::CouldNotStart(why) => (RunState::Failed, why),
                        super::scripts::ScriptOutcome::Exited(code) => (
                            RunState::Failed,
                            format!("the pre-script failed ({}); rclone was not started", exit_text(code)),
                        ),
                    };
                    return Ok(Outcome { state, error: Some(why), code: None, stats: None });
                }
            }
        }
        log.push(
            "info",
            "runner",
            &format!("starting rclone {}", command.args.first().and_then(|a| a.to_str()).unwrap_or("")),
        );
        let mut child = match super::rclone::spawn(&self.inner.rclone, &command.args, Some(&command.remote)) {
            Ok(c) => c,
            Err(e) => return Ok(Outcome::failed(format!("cannot start rclone at {}: {e}", self.inner.rclone.display()))),
        };
        let pid = child.id();
        let mut stdout = child.stdout.take().expect("piped");
        // A sync prints nothing useful on stdout; it is read (so rclone never blocks on
        // it) and thrown away.
        let drain_stdout = tokio::spawn(async move {
            let _ = tokio::io::copy(&mut stdout, &mut tokio::io::sink()).await;
        });
        let mut lines = super::lines::Lines::new(child.stderr.take().expect("piped"));
        let mut last_stats: Option<Progress> = None;
        let mut last_error: Option<String> = None;
        // rclone's crypt skips files it cannot decrypt and still exits 0; a run that
        // meets any must fail loudly instead of reporting success with nothing done.
        let mut undecryptable = 0u64;
        let mut aborted = false;
        let mut kill_at: Option<tokio::time::Instant> = None;
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                line = lines.next_line() => match line {
                    Ok(Some(line)) => match progress::parse(&line) {
                        RcloneLine::Stats(p) => {
                            self.inner.hub.publish(crate::logstore::live::RunEvent::Progress { run_id, task_id, progress: p.clone() });
                            if let Some(a) = self.inner.state.lock().await.running.get_mut(&task_id) {
                                a.progress = Some(p.clone());
                            }
                            last_stats = Some(p);
                        }
                        RcloneLine::Log { mut level, message } => {
                            let message = command.remote.redact(&message);
                            if message.contains("undecryptable") || message.contains("failed to authenticate decrypted block") {
                                undecryptable += 1;
                                level = "error".into();
                            }
                            if matches!(level.as_str(), "error" | "critical" | "fatal") {
                                last_error = Some(message.clone());
                            }
                            log.push(&level, "rclone", &message);
                        }
                    },
                    _ => break,
                },
                _ = &mut stop, if !aborted => {
                    aborted = true;
                    log.push("warning", "runner", "stopping rclone (SIGTERM) on request");
                    if let Some(pid) = pid {
                        super::rclone::signal_group(pid, libc::SIGTERM);
                    }
                    kill_at = Some(tokio::time::Instant::now() + KILL_GRACE);
                }
                _ = tick.tick() => {
                    self.write_notes(task_id, log).await;
                    if let (Some(at), Some(pid)) = (kill_at, pid) {
                        if tokio::time::Instant::now() >= at {
                            super::rclone::signal_group(pid, libc::SIGKILL);
                            kill_at = None;
                        }
                    }
                    log.flush_if_due().await;
                }
            }
        }
        let status = child.wait().await;
        let _ = drain_stdout.await;
        // Also after a failed run: a token rclone refreshed must not be lost.
        if let Some(updated) = crate::credentials::refreshed_attributes(&command.remote, &credential.attrs) {
            crate::credentials::store::save_refreshed(pool, &self.inner.secrets, credential.id, &updated).await?;
            log.push("info", "runner", "saved the OAuth token rclone refreshed");
        }
        let code = status.as_ref().ok().and_then(|s| s.code());
        let errors = last_stats.as_ref().map_or(0, |s| s.errors);
        let (state, error) = if aborted {
            (RunState::Aborted, Some("stopped on request".to_string()))
        } else if undecryptable > 0 {
            let why = format!("{undecryptable} item(s) on the remote cannot be decrypted with this task's encryption password and salt; check them");
            (RunState::Failed, Some(why))
        } else if code == Some(0) && errors == 0 {
            (RunState::Success, None)
        } else {
            let why = last_error.unwrap_or_else(|| match code {
                Some(c) => format!("rclone exited with code {c}"),
                None => "rclone was killed by a signal".to_string(),
            });
            (RunState::Failed, Some(why))
        };
        let (state, error) = if state == RunState::Success && !task.post_script.trim().is_empty() {
            let mut env = env;
            env.push(("CLOUDSYNC_RESULT".into(), "SUCCESS".into()));
            if let Some(s) = &last_stats {
                env.push(("CLOUDSYNC_BYTES".into(), s.bytes.to_string()));
                env.push(("CLOUDSYNC_FILES".into(), s.transfers.to_string()));
            }
            log.push("info", "runner", "running the post-script");
            match super::scripts::run("post_script", &task.post_script, &env, log, &mut stop).await {
                super::scripts::ScriptOutcome::Exited(Some(0)) => (state, error),
                super::scripts::ScriptOutcome::Aborted => {
                    (RunState::Aborted, Some("stopped on request during the post-script".to_string()))
                }
                super::scripts::ScriptOutcome::CouldNotStart(why) => (RunState::Failed, Some(why)),
                super::scripts::ScriptOutcome::Exited(code) => (
                    RunState::Failed,
                    Some(format!("the transfer worked but the post-script failed ({})", exit_text(code))),
                ),
            }
        } else {
            (state, error)
        };
        Ok(Outcome { state, error, code, stats: last_stats })
    }

    /// The rclone command of a task, or why it cannot run.
    async fn prepare(
        &self,
        task_id: i64,
        dry_run: bool,
    ) -> Result<(protocol::tasks::SyncTask, super::sync::SyncCommand, ValidCredential), String> {
        let pool = &self.inner.pool;
        let task = crate::tasks::store::get(pool, &self.inner.secrets, task_id)
            .await
            .map_err(|e| format!("cannot load the task: {e}"))?
            .ok_or_else(|| format!("task {task_id} no longer exists"))?;
        if !task.authentic {
            return Err("the task's settings were changed outside cloudsync (in the database); check them, then save the task to approve them".into());
        }
        let real = self
            .inner
            .allowed_roots
            .check(Path::new(&task.task.path))
            .map_err(|why| format!("the task's local folder {} {why}; edit the task", task.task.path))?;
        if task.task.follow_symlinks {
            crate::tasks::check_not_writable_by_others(&real).map_err(|why| format!("follow_symlinks: {why}"))?;
        }
        let crypt = match task.crypt {
            Some(Err(e)) => return Err(format!("the task's encryption settings: {e}")),
            Some(Ok(c)) => Some(c),
            None => None,
        };
        let cred = crate::credentials::store::get(pool, &self.inner.secrets, task.task.credentials)
            .await
            .map_err(|e| format!("cannot load the credential: {e}"))?
            .ok_or_else(|| format!("credential {} no longer exists", task.task.credentials))?;
        let attrs =
            cred.attributes.map_err(|e| format!("credential “{}”: {e}; enter its settings again", cred.name))?;
        let provider = self
            .inner
            .providers
            .find(&self.inner.rclone, &cred.provider)
            .await
            .map_err(|e| format!("cannot read rclone's providers: {e}"))?
            .ok_or_else(|| format!("the installed rclone has no backend `{}`", cred.provider))?;
        let refusal = |option: &str, value: &str| self.inner.providers.refusal(&provider.name, option, value);
        let command = super::sync::build(&task.task, &provider, &attrs, crypt.as_ref(), dry_run, &refusal)
            .map_err(|why| format!("credential “{}”: {why}", cred.name))?;
        Ok((task.task, command, ValidCredential { id: cred.id, attrs }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_overlap_when_one_holds_the_other() {
        assert!(overlaps(Path::new("/srv/a"), Path::new("/srv/a/b")));
        assert!(!overlaps(Path::new("/srv/a"), Path::new("/srv/ab")));
        assert!(remote_overlaps("3:cloudsync:photos", "3:cloudsync:photos/2024"));
        assert!(remote_overlaps("3:cloudsync:", "3:cloudsync:photos"));
        assert!(!remote_overlaps("3:cloudsync:photos", "3:cloudsync:photos2"));
        assert!(!remote_overlaps("3:cloudsync:photos", "4:cloudsync:photos"));
    }
}
