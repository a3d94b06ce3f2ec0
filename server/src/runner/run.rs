//! One run's life: load and check the task and its credential (`prepare`), the
//! pre-script, rclone with live progress and log lines, the post-script; how it ended
//! (`Outcome`) and, when it could not even start, why (`RunFailure`).

use std::path::Path;
use std::time::Duration;

use protocol::runs::{LogLevel, LogSource, Progress, RunState};
use protocol::tasks::{Direction, TransferMode};
use tokio::sync::oneshot;

use super::progress::{self, RcloneLine};
use super::records;
use super::scripts::ScriptOutcome;
use super::Runner;
use crate::logstore::LogWriter;

/// How long a stopped rclone gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(10);

/// Why a run could not get as far as its transfer.
#[derive(Debug, thiserror::Error)]
pub enum RunFailure {
    #[error("task {0} no longer exists")]
    TaskGone(i64),
    #[error("credential {0} no longer exists")]
    CredentialGone(i64),
    #[error("cannot load the {what}: {error}")]
    Load { what: &'static str, error: sqlx::Error },
    #[error("the task's settings were changed outside cloudsync (in the database); check them, then save the task to approve them")]
    SettingsChanged,
    #[error("this sync would delete {would} of the {of} files at the destination, more than {percent}%; nothing was deleted. Run it once allowing deletes if that is what you want, or raise max_delete_percent")]
    TooManyDeletes { would: u64, of: u64, percent: u8 },
    #[error("cannot count what this sync would delete: {0}; nothing was deleted")]
    DeleteCheck(String),
    #[error("source is empty (is the disk mounted?); nothing was deleted")]
    EmptySource,
    #[error(
        "the source holds no file the task's include/exclude rules select (is the disk mounted?); nothing was deleted"
    )]
    NothingSelected,
    #[error("cannot check that the source holds files: {0}; nothing was deleted")]
    SourceCheck(String),
    #[error("the bandwidth timetable cannot be used: {0}; save the task again")]
    Bandwidth(String),
    #[error("the task's local folder {path} {why}; edit the task")]
    Folder { path: String, why: String },
    #[error("follow_symlinks: {0}")]
    FollowSymlinks(String),
    #[error("the task's encryption settings: {0}")]
    Encryption(crate::crypto::CannotDecrypt),
    #[error("credential “{name}”: {why}")]
    Credential { name: String, why: String },
    #[error("cannot read rclone's providers: {0}")]
    Providers(String),
    #[error("the installed rclone has no backend `{0}`")]
    NoBackend(String),
    #[error("{0}")]
    ScriptCouldNotStart(String),
    #[error("the pre-script failed ({}); rclone was not started", exit_text(*.0))]
    PreScript(Option<i32>),
    #[error("cannot start rclone at {path}: {error}")]
    RcloneStart { path: String, error: std::io::Error },
}

/// How a run ended, recorded by `records::finish_surely`.
pub struct Outcome {
    pub state: RunState,
    /// A failure the task's `retry` may try again: not an aborted run, not one a guard
    /// stopped (it would stop again), not a task gone or refused.
    pub retry: bool,
    pub error: Option<String>,
    pub code: Option<i32>,
    pub stats: Option<Progress>,
}

impl Outcome {
    pub(super) fn failed(why: impl std::fmt::Display) -> Outcome {
        Outcome { state: RunState::Failed, retry: true, error: Some(why.to_string()), code: None, stats: None }
    }

    fn aborted(why: &str) -> Outcome {
        Outcome { state: RunState::Aborted, retry: false, error: Some(why.to_string()), code: None, stats: None }
    }
}

impl From<RunFailure> for Outcome {
    fn from(why: RunFailure) -> Outcome {
        let last_word = matches!(
            why,
            RunFailure::EmptySource
                | RunFailure::NothingSelected
                | RunFailure::TooManyDeletes { .. }
                | RunFailure::TaskGone(_)
                | RunFailure::SettingsChanged
        );
        Outcome { retry: !last_word, ..Outcome::failed(why) }
    }
}

/// The credential a run uses, to save a refreshed token back to.
pub(super) struct ValidCredential {
    id: i64,
    attrs: crate::credentials::ValidAttributes,
}

pub(super) fn exit_text(code: Option<i32>) -> String {
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
        // The names TrueNAS gives its scripts, for scripts brought from it (its
        // credential and encryption secrets are left out, as everywhere here).
        ("CLOUD_SYNC_ID".into(), task.id.to_string()),
        ("CLOUD_SYNC_DESCRIPTION".into(), task.description.clone()),
        ("CLOUD_SYNC_DIRECTION".into(), direction.into()),
        ("CLOUD_SYNC_TRANSFER_MODE".into(), mode.into()),
        ("CLOUD_SYNC_PATH".into(), task.path.clone()),
        ("CLOUD_SYNC_BUCKET".into(), task.attributes.bucket.clone()),
        ("CLOUD_SYNC_FOLDER".into(), task.attributes.folder.clone()),
        ("CLOUD_SYNC_ENCRYPTION".into(), u8::from(task.encryption).to_string()),
        ("CLOUD_SYNC_FILENAME_ENCRYPTION".into(), u8::from(task.filename_encryption).to_string()),
    ]
}

impl Runner {
    pub(super) async fn execute(
        &self,
        run_id: i64,
        task_id: i64,
        (dry_run, allow_deletes): (bool, bool),
        mut stop: oneshot::Receiver<()>,
        log: &mut LogWriter,
    ) -> sqlx::Result<Outcome> {
        let pool = &self.inner.pool;
        records::mark_running(pool, run_id).await?;
        self.publish_state(run_id, task_id, RunState::Running, None);
        self.write_notes(task_id, log).await;
        let (task, command, credential) = match self.prepare(task_id, dry_run).await {
            Ok(c) => c,
            Err(why) => return Ok(Outcome::from(why)),
        };
        let env = script_env(&task, run_id, dry_run);
        if !task.pre_script.trim().is_empty() {
            log.push(LogLevel::Info, LogSource::Runner, "running the pre-script").await;
            match super::scripts::run(LogSource::PreScript, &task.pre_script, &env, log, &mut stop).await {
                ScriptOutcome::Exited(Some(0)) => {}
                ScriptOutcome::Aborted => return Ok(Outcome::aborted("stopped on request during the pre-script")),
                ScriptOutcome::CouldNotStart(why) => return Ok(Outcome::from(RunFailure::ScriptCouldNotStart(why))),
                ScriptOutcome::Exited(code) => return Ok(Outcome::from(RunFailure::PreScript(code))),
            }
        }
        if let Err(why) = self.check_source(&task, &command, dry_run, log).await {
            return Ok(Outcome::from(why));
        }
        if let Err(why) = self.check_deletions(&task, &command, dry_run || allow_deletes, log).await {
            return Ok(Outcome::from(why));
        }
        log.push(
            LogLevel::Info,
            LogSource::Runner,
            &format!("starting rclone {}", command.args.first().and_then(|a| a.to_str()).unwrap_or("")),
        )
        .await;
        if let Some(kept) = command.kept.as_ref().filter(|_| !dry_run) {
            let text = format!("files this run deletes or overwrites at the destination go to {}", kept.dir);
            log.push(LogLevel::Info, LogSource::Runner, &text).await;
        }
        let args = command.transfer_args();
        let mut child = match crate::rclone::process::spawn(&self.inner.rclone, &args, Some(&command.remote)) {
            Ok(c) => c,
            Err(error) => {
                let path = self.inner.rclone.display().to_string();
                return Ok(Outcome::from(RunFailure::RcloneStart { path, error }));
            }
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
        // Often enough that a line of a followed run waits at most about two BATCH_AGEs
        // to go live.
        let mut tick = tokio::time::interval(crate::logstore::BATCH_AGE);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
                                level = LogLevel::Error;
                            }
                            if level == LogLevel::Error {
                                last_error = Some(message.clone());
                            }
                            log.push(level, LogSource::Rclone, &message).await;
                        }
                    },
                    _ => break,
                },
                _ = &mut stop, if !aborted => {
                    aborted = true;
                    log.push(LogLevel::Warning, LogSource::Runner, "stopping rclone (SIGTERM) on request").await;
                    tracing::debug!(run_id, "stopping rclone (SIGTERM)");
                    if let Some(pid) = pid {
                        crate::rclone::process::signal_group(pid, libc::SIGTERM);
                    }
                    kill_at = Some(tokio::time::Instant::now() + KILL_GRACE);
                }
                _ = tick.tick() => {
                    self.write_notes(task_id, log).await;
                    if let (Some(at), Some(pid)) = (kill_at, pid) {
                        if tokio::time::Instant::now() >= at {
                            crate::rclone::process::signal_group(pid, libc::SIGKILL);
                            kill_at = None;
                        }
                    }
                    log.flush_if_due().await;
                }
            }
        }
        let status = child.wait().await;
        let _ = drain_stdout.await;
        tracing::debug!(run_id, ?status, "rclone ended");
        // Also after a failed run: a token rclone refreshed must not be lost.
        if let Some(updated) = crate::credentials::refreshed_attributes(&command.remote, &credential.attrs) {
            crate::credentials::store::save_refreshed(pool, &self.inner.secrets, credential.id, &updated).await?;
            log.push(LogLevel::Info, LogSource::Runner, "saved the OAuth token rclone refreshed").await;
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
        let (state, error) = if state == RunState::Success && task.verify && !dry_run {
            let mut stats = last_stats.take().unwrap_or_default();
            let verified = self.verify(&task, &command, &mut stats, log).await;
            last_stats = Some(stats);
            match verified {
                Ok(()) => (state, error),
                Err(why) => (RunState::Failed, Some(why)),
            }
        } else {
            (state, error)
        };
        if state == RunState::Success && !dry_run {
            self.prune_kept(&task, &command, log).await;
        }
        let (state, error) = if state == RunState::Success && !task.post_script.trim().is_empty() {
            let mut env = env;
            env.push(("CLOUDSYNC_RESULT".into(), "SUCCESS".into()));
            if let Some(s) = &last_stats {
                env.push(("CLOUDSYNC_BYTES".into(), s.bytes.to_string()));
                env.push(("CLOUDSYNC_FILES".into(), s.transfers.to_string()));
            }
            log.push(LogLevel::Info, LogSource::Runner, "running the post-script").await;
            match super::scripts::run(LogSource::PostScript, &task.post_script, &env, log, &mut stop).await {
                ScriptOutcome::Exited(Some(0)) => (state, error),
                ScriptOutcome::Aborted => {
                    (RunState::Aborted, Some("stopped on request during the post-script".to_string()))
                }
                ScriptOutcome::CouldNotStart(why) => (RunState::Failed, Some(why)),
                ScriptOutcome::Exited(code) => (
                    RunState::Failed,
                    Some(format!("the transfer worked but the post-script failed ({})", exit_text(code))),
                ),
            }
        } else {
            (state, error)
        };
        Ok(Outcome { state, retry: state == RunState::Failed, error, code, stats: last_stats })
    }

    /// The rclone command of a task, or why it cannot run.
    pub(super) async fn prepare(
        &self,
        task_id: i64,
        dry_run: bool,
    ) -> Result<(protocol::tasks::SyncTask, super::sync::SyncCommand, ValidCredential), RunFailure> {
        let pool = &self.inner.pool;
        let task = crate::tasks::store::get(pool, &self.inner.secrets, task_id)
            .await
            .map_err(|error| RunFailure::Load { what: "task", error })?
            .ok_or(RunFailure::TaskGone(task_id))?;
        if !task.authentic {
            return Err(RunFailure::SettingsChanged);
        }
        let path = task.task.path.clone();
        let t = &task.task;
        let guarded = t.direction == Direction::Push && t.transfer_mode != TransferMode::Copy && !t.allow_empty_source;
        if guarded && !dry_run && !Path::new(&path).exists() {
            // A missing source folder (an unmounted disk's mount point gone) is an empty one.
            return Err(RunFailure::EmptySource);
        }
        let real = self
            .inner
            .allowed_roots
            .check(Path::new(&path))
            .map_err(|why| RunFailure::Folder { path: path.clone(), why })?;
        if task.task.follow_symlinks {
            crate::tasks::check_not_writable_by_others(&real).map_err(RunFailure::FollowSymlinks)?;
        }
        let crypt = match task.crypt {
            Some(Err(e)) => return Err(RunFailure::Encryption(e)),
            Some(Ok(c)) => Some(c),
            None => None,
        };
        let cred = crate::credentials::store::get(pool, &self.inner.secrets, task.task.credentials)
            .await
            .map_err(|error| RunFailure::Load { what: "credential", error })?
            .ok_or(RunFailure::CredentialGone(task.task.credentials))?;
        let name = cred.name.clone();
        let attrs = cred.attributes.map_err(|e| RunFailure::Credential {
            name: name.clone(),
            why: format!("{e}; enter its settings again"),
        })?;
        let provider = self
            .inner
            .providers
            .find(&self.inner.rclone, &cred.provider)
            .await
            .map_err(|e| RunFailure::Providers(e.to_string()))?
            .ok_or_else(|| RunFailure::NoBackend(cred.provider.clone()))?;
        let refusal = |option: &str, value: &str| self.inner.providers.refusal(&provider.name, option, value);
        let bandwidth = task.bandwidth.map_err(RunFailure::Bandwidth)?;
        let started = chrono::Utc::now();
        let command =
            super::sync::build(&task.task, &bandwidth, &provider, &attrs, crypt.as_ref(), dry_run, &refusal, started)
                .map_err(|why| RunFailure::Credential { name: name.clone(), why })?;
        Ok((task.task, command, ValidCredential { id: cred.id, attrs }))
    }
}
