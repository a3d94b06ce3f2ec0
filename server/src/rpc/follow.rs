//! `run.follow` / `run.unfollow` and `events.subscribe` / `events.unsubscribe`: live
//! run data pushed to a socket as notifications.
//!
//! A follower first subscribes to the live hub, then sends the stored lines after its
//! `after_seq`, then the live ones with a higher `seq`: lines are published only once
//! stored, so nothing falls between the two and nothing is sent twice. Live lines come
//! as the batches the store wrote (one notification each, serialised once for every
//! follower). A socket that cannot keep up is fed from the store instead: memory stays
//! bounded and the client misses nothing.

use std::sync::Arc;

use protocol::credentials::IdParams;
use protocol::runs::notify::{self, ProgressUpdate, StateChange};
use protocol::runs::{FollowParams, LogLine, Run};
use protocol::Empty;
use sqlx::PgPool;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::{mpsc, Semaphore};

use super::{ApiError, ApiState, Caller, Outgoing};
use crate::logstore::live::{RunEvent, StoredBatch};
use crate::runner::records;

/// A notification as text, serialised straight from `params` (same shape as
/// [`protocol::jsonrpc::Notification`]).
fn message(method: &str, params: impl serde::Serialize) -> String {
    #[derive(serde::Serialize)]
    struct Out<'a, P> {
        jsonrpc: &'static str,
        method: &'a str,
        params: P,
    }
    serde_json::to_string(&Out { jsonrpc: protocol::jsonrpc::VERSION, method, params }).expect("serialisable")
}

/// `run.log` of `lines`: the shape of [`LogBatch`], from a slice.
fn log_message(run_id: i64, lines: &[LogLine]) -> String {
    #[derive(serde::Serialize)]
    struct Lines<'a> {
        run_id: i64,
        lines: &'a [LogLine],
    }
    message(notify::LOG, Lines { run_id, lines })
}

fn state_change(run: &Run) -> String {
    message(
        notify::STATE,
        StateChange { run_id: run.id, task_id: run.task_id, state: run.state, error: run.error.clone() },
    )
}

/// A socket's queue as a follower uses it: log batches take from the socket's byte
/// budget, so however fast a run writes, a socket has at most
/// [`LOG_BUDGET_BYTES`](super::LOG_BUDGET_BYTES) of log waiting for it.
#[derive(Clone)]
struct Out {
    tx: mpsc::Sender<Outgoing>,
    budget: Arc<Semaphore>,
}

impl Out {
    fn of(caller: &Caller) -> Out {
        Out { tx: caller.outbound.clone(), budget: caller.log_budget.clone() }
    }

    /// Queues a `run.log` notification once the budget has room; `None`: socket gone.
    async fn log(&self, text: String) -> Option<()> {
        let want = text.len().clamp(1, super::LOG_BUDGET_BYTES) as u32;
        let held = self.budget.clone().acquire_many_owned(want).await.ok()?;
        self.tx.send(Outgoing { text, held: Some(held) }).await.ok()
    }

    async fn send(&self, text: String) -> Option<()> {
        self.tx.send(text.into()).await.ok()
    }

    /// Queues `text` unless the queue is full (progress snapshots).
    fn offer(&self, text: String) {
        let _ = self.tx.try_send(text.into());
    }
}

/// Lines read from the store per message when catching up.
const STORED_PAGE: i64 = 1000;

/// Sends stored lines after `after` in pages, waiting for the socket; returns the last
/// `seq` sent, or `None` when the socket is gone.
async fn send_stored(pool: &PgPool, out: &Out, run_id: i64, mut after: i64) -> sqlx::Result<Option<i64>> {
    loop {
        let lines = crate::logstore::read(pool, run_id, after, STORED_PAGE).await?;
        let Some(last) = lines.last().map(|l| l.seq) else { return Ok(Some(after)) };
        if out.log(log_message(run_id, &lines)).await.is_none() {
            return Ok(None);
        }
        after = last;
    }
}

pub async fn follow(state: &ApiState, caller: &Caller, p: FollowParams) -> Result<Run, ApiError> {
    let run_id = p.id;
    let first = records::get(&state.pool, run_id).await?.ok_or_else(|| ApiError::not_found("run", run_id))?;
    // Listen first, then read the store: a line is published only once stored, so
    // whatever is not in the store yet will come live.
    let hub = state.runner.hub();
    let mut follower = Follower {
        pool: state.pool.clone(),
        out: Out::of(caller),
        run_id,
        last: p.after_seq,
        logs: hub.subscribe_logs(),
        events: hub.subscribe(),
    };
    let Some(last) = send_stored(&follower.pool, &follower.out, run_id, follower.last).await? else {
        return Ok(first); // The socket is gone: nobody to follow for.
    };
    follower.last = last;
    let run = records::get(&state.pool, run_id).await?.ok_or_else(|| ApiError::not_found("run", run_id))?;
    if !run.state.is_active() {
        // Ended meanwhile: its last lines are stored too.
        send_stored(&state.pool, &follower.out, run_id, follower.last).await?;
        let _ = follower.out.send(state_change(&run)).await;
        return Ok(run);
    }
    let task = tokio::spawn(follower.run());
    caller.add_stream(format!("run:{run_id}"), task.abort_handle());
    Ok(run)
}

/// One socket following one run's live log.
struct Follower {
    pool: PgPool,
    out: Out,
    run_id: i64,
    /// The last `seq` sent.
    last: i64,
    logs: broadcast::Receiver<Arc<StoredBatch>>,
    events: broadcast::Receiver<RunEvent>,
}

impl Follower {
    /// Sends live batches (each at most once, in `seq` order) and progress until the run
    /// ends. A follower that falls behind the hub reads what it missed from the store:
    /// the server never keeps more of a log in memory for a slow socket than the hub's
    /// few batches. Ends when the socket does.
    async fn run(mut self) {
        let run_id = self.run_id;
        loop {
            tokio::select! {
                batch = self.logs.recv() => match batch {
                    Ok(b) if b.run_id == run_id => {
                        if self.send_batch(&b).await.is_none() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => {
                        self.logs = self.logs.resubscribe();
                        if self.catch_up().await.is_none() {
                            return;
                        }
                    }
                    Err(RecvError::Closed) => return,
                },
                event = self.events.recv() => match event {
                    Ok(RunEvent::Progress { run_id: r, task_id, progress }) if r == run_id => {
                        // A snapshot: when the socket is full, skip it; the next replaces it.
                        self.out.offer(message(notify::PROGRESS, ProgressUpdate { run_id, task_id, progress }));
                    }
                    Ok(RunEvent::State { run_id: r, task_id, state, error }) if r == run_id => {
                        if !state.is_active() {
                            // Every line was stored before the run's end was published.
                            if self.catch_up().await.is_some() {
                                let _ = self.out.send(message(notify::STATE, StateChange { run_id, task_id, state, error })).await;
                            }
                            return;
                        }
                        if self.out.send(message(notify::STATE, StateChange { run_id, task_id, state, error })).await.is_none() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => {
                        // A state change may be among the missed: ask the record.
                        if let Ok(Some(run)) = records::get(&self.pool, run_id).await {
                            if !run.state.is_active() {
                                if self.catch_up().await.is_some() {
                                    let _ = self.out.send(state_change(&run)).await;
                                }
                                return;
                            }
                        }
                    }
                    Err(RecvError::Closed) => return,
                },
            }
        }
    }

    /// Sends the lines of `batch` after `last`; a gap before it is filled from the store.
    async fn send_batch(&mut self, batch: &StoredBatch) -> Option<()> {
        if batch.last_seq() <= self.last {
            return Some(());
        }
        if batch.first_seq() > self.last + 1 {
            self.catch_up().await?;
            if batch.last_seq() <= self.last {
                return Some(());
            }
        }
        let text = if batch.first_seq() == self.last + 1 {
            batch.shared_text(|lines| log_message(self.run_id, lines)).to_string()
        } else {
            let start = batch.lines.partition_point(|l| l.seq <= self.last);
            log_message(self.run_id, &batch.lines[start..])
        };
        self.out.log(text).await?;
        self.last = batch.last_seq();
        Some(())
    }

    /// Sends every stored line after `last`. `None` when the socket or the store failed.
    async fn catch_up(&mut self) -> Option<()> {
        match send_stored(&self.pool, &self.out, self.run_id, self.last).await {
            Ok(Some(last)) => {
                self.last = last;
                Some(())
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(run_id = self.run_id, error = %e, "a follower cannot read the stored log");
                None
            }
        }
    }
}

pub async fn unfollow(caller: &Caller, p: IdParams) -> Result<Empty, ApiError> {
    caller.end_stream(&format!("run:{}", p.id));
    Ok(Empty {})
}

pub async fn subscribe(state: &ApiState, caller: &Caller) -> Result<Empty, ApiError> {
    let mut events = state.runner.hub().subscribe();
    let out = caller.outbound.clone();
    let task = tokio::spawn(async move {
        loop {
            match events.recv().await {
                // A state change is waited for (lists rely on it); a progress snapshot
                // is skipped when the socket is full, the next one replaces it.
                Ok(RunEvent::State { run_id, task_id, state, error }) => {
                    let text = message(notify::STATE, StateChange { run_id, task_id, state, error });
                    if out.send(text.into()).await.is_err() {
                        return;
                    }
                }
                Ok(RunEvent::Progress { run_id, task_id, progress }) => {
                    let text = message(notify::PROGRESS, ProgressUpdate { run_id, task_id, progress });
                    if out.try_send(text.into()).is_err() && out.is_closed() {
                        return;
                    }
                }
                // The hub's buffer overflowed: the client is told nothing more precise
                // than "things changed", by the next state change it receives.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            }
        }
    });
    caller.add_stream("events".into(), task.abort_handle());
    Ok(Empty {})
}

pub async fn unsubscribe(caller: &Caller) -> Result<Empty, ApiError> {
    caller.end_stream("events");
    Ok(Empty {})
}
