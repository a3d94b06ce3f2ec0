//! Comparisons around a transfer: `plan` says what a run would do (`task.plan`),
//! `verify` compares source and destination by content after one, `prune_kept` removes
//! kept-files folders older than `keep_deleted_days`.

use std::time::Duration;

use protocol::runs::{LogLevel, LogSource, Progress};
use protocol::tasks::{Direction, SyncTask};

use super::sync::SyncCommand;
use super::Runner;
use crate::logstore::LogWriter;

/// How long a content comparison may take: it reads every file.
const COMPARE_DEADLINE: Duration = Duration::from_secs(24 * 3600);
/// How long listing or removing one kept-files folder may take.
const PRUNE_DEADLINE: Duration = Duration::from_secs(3600);

/// How long working out a plan may take: a dry run lists both sides.
const PLAN_DEADLINE: Duration = Duration::from_secs(600);

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("task {0} does not exist")]
    NoSuchTask(i64),
    /// The task could not run now (its folder, credential, settings).
    #[error("{0}")]
    CannotRun(super::run::RunFailure),
    #[error("the dry run failed: {0}")]
    Rclone(String),
}

impl Runner {
    /// What a run of `task_id` would do now: its command (without the pre-script, and
    /// without `--backup-dir`) as a dry run.
    pub async fn plan(&self, task_id: i64) -> Result<protocol::tasks::RunPlan, PlanError> {
        let (_, command, _) = self.prepare(task_id, true).await.map_err(|e| match e {
            super::run::RunFailure::TaskGone(id) => PlanError::NoSuchTask(id),
            other => PlanError::CannotRun(other),
        })?;
        crate::rclone::compare::plan(&self.inner.rclone, &command.args, Some(&command.remote), PLAN_DEADLINE)
            .await
            .map_err(PlanError::Rclone)
    }

    /// Compares what the transfer selected, by content; `stats` gains `verified` and
    /// `differences`. `Err` is the run's error line: what differs, or why it could not
    /// be compared.
    pub(super) async fn verify(
        &self,
        task: &SyncTask,
        command: &SyncCommand,
        stats: &mut Progress,
        log: &mut LogWriter,
    ) -> Result<(), String> {
        let rclone = &self.inner.rclone;
        let remote = Some(&command.remote);
        let encrypted_push = task.encryption && task.direction == Direction::Push;
        let how = if encrypted_push { "rclone cryptcheck" } else { "rclone check" };
        log.push(LogLevel::Info, LogSource::Runner, &format!("verifying the destination by content ({how})")).await;
        let args = command.verification_args(encrypted_push, false);
        let mut c = crate::rclone::compare::compare(rclone, &args, remote, COMPARE_DEADLINE)
            .await
            .map_err(|e| format!("the transfer worked but verification could not run: {e}"))?;
        if c.sizes_only && !encrypted_push {
            log.push(
                LogLevel::Info,
                LogSource::Runner,
                "the two sides share no hash: comparing again by reading both (--download)",
            )
            .await;
            let args = command.verification_args(false, true);
            c = crate::rclone::compare::compare(rclone, &args, remote, COMPARE_DEADLINE)
                .await
                .map_err(|e| format!("the transfer worked but verification could not run: {e}"))?;
        }
        stats.verified = Some(c.same);
        stats.differences = Some(c.differences);
        for line in &c.named {
            log.push(LogLevel::Error, LogSource::Runner, &format!("verification: {line}")).await;
        }
        if c.differences == 0 {
            let text = format!("verified: {} file(s) identical at the destination", c.same);
            log.push(LogLevel::Info, LogSource::Runner, &text).await;
            return Ok(());
        }
        let first = c.named.first().cloned().unwrap_or_default();
        let more =
            if c.differences > 1 { format!(" and {} more (see the log)", c.differences - 1) } else { String::new() };
        Err(format!("verification found {} difference(s) at the destination: {first}{more}", c.differences))
    }

    /// Removes this task's kept-files folders older than `keep_deleted_days`. Failing
    /// to does not fail the run: the log says what was left.
    pub(super) async fn prune_kept(&self, task: &SyncTask, command: &SyncCommand, log: &mut LogWriter) {
        let (Some(days), Some(kept)) = (task.keep_deleted_days, &command.kept) else { return };
        let rclone = &self.inner.rclone;
        let remote = Some(&command.remote);
        let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
        let names = match crate::rclone::process::folders(rclone, &kept.root, remote, PRUNE_DEADLINE).await {
            Ok(n) => n,
            Err(e) => {
                let text = format!("cannot list the kept files in {} to prune them: {e}", kept.root);
                log.push(LogLevel::Warning, LogSource::Runner, &text).await;
                return;
            }
        };
        for name in names {
            if !super::sync::kept_folder_time(&name).is_some_and(|t| t < cutoff) {
                continue;
            }
            let path = format!("{}/{name}", kept.root);
            match crate::rclone::process::purge(rclone, &path, remote, PRUNE_DEADLINE).await {
                Ok(()) => {
                    let text = format!("removed the files kept at {name} (older than {days} days)");
                    log.push(LogLevel::Info, LogSource::Runner, &text).await;
                }
                Err(e) => {
                    let text = format!("cannot remove the kept files at {path}: {e}");
                    log.push(LogLevel::Warning, LogSource::Runner, &text).await;
                }
            }
        }
    }
}
