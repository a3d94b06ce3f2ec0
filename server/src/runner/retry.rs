//! Retries (task `retry`): a failed run is queued again after a delay that doubles each
//! time. Each retry is a run of its own whose `retry_of` is the first run of the chain.
//! A retry waits in memory (a restart forgets it; `catch_up` covers missed schedules),
//! and it is dropped when any other run of the task started meanwhile, so it never
//! doubles a scheduled or manual run.

use std::time::Duration;

use protocol::runs::{LogLevel, RunState};

use super::queue::RetryOf;
use super::run::Outcome;
use super::{records, Runner};

impl Runner {
    /// The retry to queue after run `run_id` ended with `outcome`, and when; `retry` is
    /// that run's own place in a chain.
    pub(super) async fn next_retry(
        &self,
        task_id: i64,
        run_id: i64,
        dry_run: bool,
        retry: Option<RetryOf>,
        outcome: &Outcome,
    ) -> Option<(RetryOf, Duration)> {
        if dry_run || outcome.state != RunState::Failed || !outcome.retry {
            return None;
        }
        let task = crate::tasks::store::get(&self.inner.pool, &self.inner.secrets, task_id).await.ok()??;
        let policy = task.task.retry;
        let next = RetryOf {
            first: retry.map_or(run_id, |r| r.first),
            attempt: retry.map_or(1, |r| r.attempt + 1),
            of: policy.attempts,
        };
        Some((next, policy.delay(next.attempt)?))
    }

    /// Queues `next` after `delay`, unless another run of the task started meanwhile or
    /// the task was disabled or deleted.
    pub(super) fn retry_later(&self, task_id: i64, failed_run: i64, next: RetryOf, delay: Duration) {
        let me = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let pool = &me.inner.pool;
            if records::newest(pool, task_id).await.ok().flatten() != Some(failed_run) {
                tracing::info!(task_id, failed_run, "retry dropped: the task has run since");
                return;
            }
            match crate::tasks::store::get(pool, &me.inner.secrets, task_id).await {
                Ok(Some(t)) if t.task.enabled => {}
                _ => return,
            }
            match me.enqueue_run(task_id, false, false, Some(next)).await {
                Ok(run_id) => {
                    let line = format!("retry {} of {} of run {}, which failed", next.attempt, next.of, next.first);
                    me.note(task_id, LogLevel::Info, line).await;
                    tracing::info!(task_id, run_id, attempt = next.attempt, "retry queued");
                }
                Err(e) => tracing::warn!(task_id, error = %e, "cannot queue a retry"),
            }
        });
    }
}
