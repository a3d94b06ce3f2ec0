//! `run.follow` / `run.unfollow` and `events.subscribe` / `events.unsubscribe`: live
//! run data pushed to a socket as notifications.
//!
//! A follower first subscribes to the live hub, then sends the stored lines after its
//! `after_seq`, then the live ones with a higher `seq`: lines are published only once
//! stored, so nothing falls between the two and nothing is sent twice. A socket that
//! cannot keep up gets `run.lagged` with the `seq` to resume after, and the follow
//! ends: memory stays bounded and the client misses nothing by following again.

use protocol::credentials::IdParams;
use protocol::jsonrpc::Notification;
use protocol::runs::notify::{self, Lagged, LogBatch, ProgressUpdate, StateChange};
use protocol::runs::{FollowParams, Run};
use protocol::Empty;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::{ApiError, ApiState, Caller};
use crate::logstore::live::RunEvent;
use crate::runner::records;

fn message(method: &str, params: impl serde::Serialize) -> String {
    serde_json::to_string(&Notification::new(method, serde_json::to_value(params).expect("serialisable")))
        .expect("serialisable")
}

fn state_change(run: &Run) -> String {
    message(
        notify::STATE,
        StateChange { run_id: run.id, task_id: run.task_id, state: run.state, error: run.error.clone() },
    )
}

/// Sends stored lines after `after` in pages; returns the last `seq` sent.
async fn send_stored(
    state: &ApiState,
    out: &mpsc::Sender<String>,
    run_id: i64,
    mut after: i64,
) -> Result<i64, ApiError> {
    loop {
        let lines = crate::logstore::read(&state.pool, run_id, after, 1000).await?;
        let Some(last) = lines.last().map(|l| l.seq) else { return Ok(after) };
        after = last;
        if out.send(message(notify::LOG, LogBatch { run_id, lines })).await.is_err() {
            return Ok(after);
        }
    }
}

pub async fn follow(state: &ApiState, caller: &Caller, p: FollowParams) -> Result<Run, ApiError> {
    let run_id = p.id;
    records::get(&state.pool, run_id).await?.ok_or_else(|| ApiError::not_found("run", run_id))?;
    let mut events = state.runner.hub().subscribe();
    let out = caller.outbound.clone();
    let mut last = send_stored(state, &out, run_id, p.after_seq).await?;
    let run = records::get(&state.pool, run_id).await?.ok_or_else(|| ApiError::not_found("run", run_id))?;
    if !run.state.is_active() {
        // Ended meanwhile: its last lines are stored too.
        send_stored(state, &out, run_id, last).await?;
        let _ = out.send(state_change(&run)).await;
        return Ok(run);
    }
    let task = tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(e) if e.run_id() == run_id => e,
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => {
                    let _ = out.send(message(notify::LAGGED, Lagged { run_id, resume_after_seq: last })).await;
                    return;
                }
                Err(RecvError::Closed) => return,
            };
            let text = match event {
                RunEvent::Log { line, .. } if line.seq > last => {
                    let seq = line.seq;
                    let text = message(notify::LOG, LogBatch { run_id, lines: vec![line] });
                    if out.try_send(text).is_err() {
                        let _ = out.send(message(notify::LAGGED, Lagged { run_id, resume_after_seq: last })).await;
                        return;
                    }
                    last = seq;
                    continue;
                }
                RunEvent::Log { .. } => continue,
                RunEvent::Progress { task_id, progress, .. } => {
                    // Progress is a snapshot: when the socket is full, skip this one.
                    let _ = out.try_send(message(notify::PROGRESS, ProgressUpdate { run_id, task_id, progress }));
                    continue;
                }
                RunEvent::State { task_id, state, error, .. } => {
                    let text = message(notify::STATE, StateChange { run_id, task_id, state, error });
                    if !state.is_active() {
                        let _ = out.send(text).await;
                        return;
                    }
                    text
                }
            };
            let _ = out.send(text).await;
        }
    });
    caller.add_stream(format!("run:{run_id}"), task.abort_handle());
    Ok(run)
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
                    if out.send(text).await.is_err() {
                        return;
                    }
                }
                Ok(RunEvent::Progress { run_id, task_id, progress }) => {
                    let text = message(notify::PROGRESS, ProgressUpdate { run_id, task_id, progress });
                    if out.try_send(text).is_err() && out.is_closed() {
                        return;
                    }
                }
                Ok(RunEvent::Log { .. }) => continue,
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
