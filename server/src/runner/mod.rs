//! The runner: task runs. `Runner` (here) is what the rest of the server sees: it
//! queues runs, asks `queue` which may start (by default one sync at a time across the
//! server, never two runs of one task, never two whose local or remote folders
//! overlap), owns the stop handles, and gives every run a final state; `run` is one
//! run's life (`RunFailure` says why one could not start); `sync` builds its rclone
//! command (started by `rclone::process`); `guards` stops a sync that would empty or
//! mostly delete its destination; `scripts` runs pre- and post-scripts; `after`
//! verifies a transfer and prunes kept files; `retry` queues a failed run again;
//! `lines` reads a child's output as bounded lines; `progress` reads rclone's JSON
//! log; `records` keeps the run records.

mod after;
pub use after::PlanError;
mod guards;
pub mod lines;
pub mod progress;
mod queue;
pub mod records;
mod retry;
pub mod run;
pub mod scripts;
pub mod sync;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use protocol::runs::{LogLevel, LogSource, Progress, RunState};
use sqlx::PgPool;
use tokio::sync::{Mutex, Notify};

use crate::crypto::SecretBox;
use crate::logstore::LogWriter;
use crate::providers::ProviderCatalog;

/// What the log says when the provider refused the credential's login.
const LOGIN_REFUSED: &str = "the provider refused this credential's login (expired or revoked); it is marked “needs reconnect” and no retry follows: log in to the provider again on the Credentials page";
use queue::{Queue, Queued};
use run::Outcome;

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
    /// Told when runs start and end (not dry runs).
    notifier: Option<crate::notify::Notifier>,
    counters: crate::metrics::Counters,
    state: Mutex<Queue>,
    wake: Notify,
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
                max_log_lines: crate::logstore::DEFAULT_MAX_LINES,
                allowed_roots: crate::tasks::AllowedRoots::new(Vec::new()),
                hub: Default::default(),
                notifier: None,
                counters: Default::default(),
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
    /// Where ended runs are counted (`/metrics`).
    pub fn counters(self, counters: crate::metrics::Counters) -> Runner {
        let mut inner =
            Arc::try_unwrap(self.inner).unwrap_or_else(|_| panic!("the counters are set before the runner is shared"));
        inner.counters = counters;
        Runner { inner: Arc::new(inner) }
    }

    /// Runs waiting and runs going.
    pub async fn counts(&self) -> (usize, usize) {
        let q = self.inner.state.lock().await;
        (q.waiting.len(), q.running.len())
    }

    pub fn notifier(self, notifier: crate::notify::Notifier) -> Runner {
        let mut inner =
            Arc::try_unwrap(self.inner).unwrap_or_else(|_| panic!("the notifier is set before the runner is shared"));
        inner.notifier = Some(notifier);
        Runner { inner: Arc::new(inner) }
    }

    pub fn allowed_roots(self, roots: crate::tasks::AllowedRoots) -> Runner {
        let mut inner =
            Arc::try_unwrap(self.inner).unwrap_or_else(|_| panic!("allowed_roots is set before the runner is shared"));
        inner.allowed_roots = roots;
        Runner { inner: Arc::new(inner) }
    }

    /// Queues a run; returns the task's active run instead if it has one.
    pub async fn enqueue(&self, task_id: i64, dry_run: bool, allow_deletes: bool) -> Result<i64, RunError> {
        self.enqueue_run(task_id, dry_run, allow_deletes, None).await
    }

    async fn enqueue_run(
        &self,
        task_id: i64,
        dry_run: bool,
        allow_deletes: bool,
        retry: Option<queue::RetryOf>,
    ) -> Result<i64, RunError> {
        let task = crate::tasks::store::get(&self.inner.pool, &self.inner.secrets, task_id)
            .await?
            .ok_or(RunError::NoSuchTask(task_id))?;
        let mut q = self.inner.state.lock().await;
        if let Some(a) = q.going(task_id) {
            return Ok(a.run_id);
        }
        if let Some(w) = q.waiting.iter().find(|w| w.task_id == task_id) {
            return Ok(w.run_id);
        }
        let run_id = records::insert_queued(&self.inner.pool, task_id, dry_run, retry.map(|r| r.first)).await?;
        self.publish_state(run_id, task_id, RunState::Queued, None);
        let remote = format!("{}:{}", task.task.credentials, sync::remote_path(&task.task));
        q.waiting.push_back(Queued {
            run_id,
            task_id,
            dry_run,
            allow_deletes,
            path: PathBuf::from(&task.task.path),
            remote,
            notes: Vec::new(),
            retry,
        });
        drop(q);
        self.inner.wake.notify_one();
        Ok(run_id)
    }

    /// A start the scheduler asks for at the time `due` (as the user reads it). A task
    /// whose previous run is still queued or running gets no second run.
    pub async fn start_scheduled(&self, task_id: i64, due: &str) -> Result<ScheduledStart, RunError> {
        let skipped = format!("scheduled start {due}: previous run still active, skipped");
        if let Some(run_id) = self.note(task_id, LogLevel::Warning, skipped).await {
            if let (Some(n), Ok(Some(run))) = (&self.inner.notifier, records::get(&self.inner.pool, run_id).await) {
                n.start_skipped(task_id, run, due.to_string());
            }
            return Ok(ScheduledStart::StillActive(run_id));
        }
        let run_id = self.enqueue(task_id, false, false).await?;
        self.note(task_id, LogLevel::Info, format!("started by the schedule ({due})")).await;
        Ok(ScheduledStart::Queued(run_id))
    }

    /// The one run that makes up for `missed` scheduled starts, the latest at `due`,
    /// missed while the server was down (task `catch_up`).
    pub async fn start_catch_up(&self, task_id: i64, due: &str, missed: u32) -> Result<i64, RunError> {
        let run_id = self.enqueue(task_id, false, false).await?;
        let earlier = match missed {
            1 => String::new(),
            n => format!(" and {} earlier", n - 1),
        };
        let line = format!("catching up: the scheduled start of {due}{earlier} was missed while the server was down; this one run makes up for it");
        self.note(task_id, LogLevel::Info, line).await;
        Ok(run_id)
    }

    /// Adds a line to the log of the task's queued or running run; returns that run, or
    /// `None` (and drops the line) when the task has none. A run that is ending has
    /// written its notes and counts as gone.
    pub async fn note(&self, task_id: i64, level: LogLevel, line: String) -> Option<i64> {
        let mut q = self.inner.state.lock().await;
        if let Some(a) = q.going(task_id) {
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
            log.push(level, LogSource::Scheduler, &line).await;
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

    /// A run that failed because the provider refused the credential's OAuth login marks
    /// the credential `needs_reconnect`: `Some(true)` the first time, `Some(false)` when it
    /// was already marked.
    async fn login_refused(&self, task_id: i64, outcome: &Outcome) -> Option<bool> {
        let why = outcome.error.as_deref().filter(|_| outcome.state == RunState::Failed)?;
        if !crate::rclone::login_refused(why) {
            return None;
        }
        let pool = &self.inner.pool;
        let credential = crate::tasks::store::credential_of(pool, task_id).await.ok()??;
        match crate::credentials::store::mark_needs_reconnect(pool, credential, why).await {
            Ok(first) => Some(first),
            Err(e) => {
                tracing::warn!(credential, error = %e, "cannot mark a credential as needing a new login");
                Some(false)
            }
        }
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
        while let Some(index) = q.next_to_start(self.inner.max_concurrent) {
            let (next, stop_rx) = q.start(index);
            let me = self.clone();
            tokio::spawn(async move {
                let (task_id, run_id) = (next.task_id, next.run_id);
                let pool = &me.inner.pool;
                let mut log =
                    LogWriter::new(pool.clone(), run_id).live(me.inner.hub.clone()).max_lines(me.inner.max_log_lines);
                if let Some(n) = me.inner.notifier.as_ref().filter(|_| !next.dry_run) {
                    n.run_started(task_id, run_id);
                }
                // Whatever happens to the database during the run, the run ends with a
                // final state: a run left RUNNING would block every later run of its task.
                let outcome =
                    match me.execute(run_id, task_id, (next.dry_run, next.allow_deletes), stop_rx, &mut log).await {
                        Ok(outcome) => outcome,
                        Err(e) => {
                            tracing::error!(run_id, error = %e, "the database failed during a run");
                            Outcome::failed(format!("the database failed during the run: {e}"))
                        }
                    };
                // From here the run is over: a scheduled start or a click queues a new
                // run behind it (and notes go to that one) instead of being skipped.
                if let Some(a) = me.inner.state.lock().await.running.get_mut(&task_id) {
                    a.ending = true;
                }
                me.write_notes(task_id, &mut log).await;
                if let Some(why) = &outcome.error {
                    log.push(LogLevel::Error, LogSource::Runner, why).await;
                }
                let level = if outcome.state == RunState::Success { LogLevel::Info } else { LogLevel::Error };
                log.push(level, LogSource::Runner, &format!("run ended: {}", outcome.state.as_str())).await;
                let login_refused = me.login_refused(task_id, &outcome).await;
                if login_refused.is_some() {
                    log.push(LogLevel::Error, LogSource::Runner, LOGIN_REFUSED).await;
                }
                let retry = match login_refused {
                    Some(_) => None,
                    None => me.next_retry(task_id, run_id, next.dry_run, next.retry, &outcome).await,
                };
                if let Some((r, delay)) = retry {
                    let text = format!("retrying in {} s (retry {} of {})", delay.as_secs(), r.attempt, r.of);
                    log.push(LogLevel::Info, LogSource::Runner, &text).await;
                }
                log.flush().await;
                records::finish_surely(pool, run_id, &outcome).await;
                tracing::debug!(run_id, state = outcome.state.as_str(), "run recorded");
                me.inner.counters.run_ended(task_id, outcome.state);
                me.publish_state(run_id, task_id, outcome.state, outcome.error);
                if let Some(n) = me.inner.notifier.as_ref().filter(|_| !next.dry_run) {
                    let previous = records::previous_state(pool, task_id, run_id).await.ok().flatten();
                    if let Ok(Some(run)) = records::get(pool, run_id).await {
                        n.run_ended(crate::notify::Ended { task_id, run, previous, login_refused });
                    }
                }
                if let Err(e) = records::prune(&me.inner.pool, task_id, me.inner.keep_runs).await {
                    tracing::warn!(task_id, error = %e, "removing old runs failed");
                }
                me.inner.state.lock().await.running.remove(&task_id);
                me.inner.wake.notify_one();
                if let Some((r, delay)) = retry {
                    me.retry_later(task_id, run_id, r, delay);
                }
            });
        }
    }
}
