//! Live run data from the server's notifications: `use_run_events` keeps this page
//! subscribed to every run's state and progress (`events.subscribe`), and subscribes
//! again after a reconnect; `follow_run` streams one run's log by sequence number
//! (`run.follow`), resuming from the last line seen after a reconnect or a lag.

use leptos::prelude::*;
use protocol::credentials::IdParams;
use protocol::runs::notify::{self, Lagged, LogBatch, ProgressUpdate, StateChange};
use protocol::runs::{Follow, FollowParams, Log, LogLine, LogParams, Progress, Run, Subscribe};
use protocol::Empty;

use crate::rpc::{self, ConnectionState};

/// Calls `on_state` and `on_progress` for every run's notifications while the calling
/// component is mounted.
pub fn use_run_events(on_state: impl Fn(StateChange) + 'static, on_progress: impl Fn(ProgressUpdate) + 'static) {
    let session = crate::use_session();
    let a = rpc::subscribe(notify::STATE, move |v| {
        if let Ok(s) = serde_json::from_str(v) {
            on_state(s)
        }
    });
    let b = rpc::subscribe(notify::PROGRESS, move |v| {
        if let Ok(p) = serde_json::from_str(v) {
            on_progress(p)
        }
    });
    // (Re)subscribe whenever the socket is open: a new socket has no subscriptions.
    Effect::new(move |_| {
        if session.connection.get() == ConnectionState::Open {
            leptos::task::spawn_local(async move {
                let _ = rpc::call::<Subscribe>(Empty {}).await;
            });
        }
    });
    // Only the local handlers go: the socket's subscription stays, because a page
    // mounted right after this one subscribes again and an unsubscribe racing it would
    // end that page's events. It is cheap, bounded and ends with the socket.
    on_cleanup(move || {
        rpc::unsubscribe(a);
        rpc::unsubscribe(b);
    });
}

/// Lines a log view keeps while it follows the end (older ones come back page by page
/// with "Load earlier"): a million-line run never fills the page.
pub const SHOWN_WHILE_FOLLOWING: usize = 5000;
/// Lines fetched from the end before following, and per "Load earlier".
pub const LOG_PAGE: u32 = 1000;

/// Streams run `id` into `lines` (each `seq` once, in order) and keeps `run` current.
/// It starts from the log's last [`LOG_PAGE`] lines; while `following` (the view is at
/// the end), it keeps only the newest [`SHOWN_WHILE_FOLLOWING`].
pub fn follow_run(
    id: i64,
    lines: RwSignal<Vec<LogLine>>,
    run: RwSignal<Option<Run>>,
    progress: RwSignal<Option<Progress>>,
    following: Signal<bool>,
) {
    let session = crate::use_session();
    let last_seq = move || lines.with_untracked(|l| l.last().map_or(0, |x| x.seq));
    let start = move || {
        leptos::task::spawn_local(async move {
            if lines.with_untracked(Vec::is_empty) {
                let tail =
                    LogParams { id, after_seq: 0, before_seq: Some(i64::MAX), query: None, limit: Some(LOG_PAGE) };
                if let Ok(tail) = rpc::call::<Log>(tail).await {
                    lines.set(tail);
                }
            }
            if let Ok(r) = rpc::call::<Follow>(FollowParams { id, after_seq: last_seq() }).await {
                if run.with_untracked(|cur| cur.as_ref().is_none_or(|c| c.state.is_active())) {
                    run.set(Some(r));
                }
            }
        });
    };
    let log = rpc::subscribe(notify::LOG, move |v| {
        let Ok(batch) = serde_json::from_str::<LogBatch>(v) else { return };
        if batch.run_id != id {
            return;
        }
        let after = last_seq();
        let fresh: Vec<LogLine> = batch.lines.into_iter().filter(|l| l.seq > after).collect();
        if !fresh.is_empty() {
            lines.update(|l| {
                l.extend(fresh);
                if following.get_untracked() && l.len() > SHOWN_WHILE_FOLLOWING {
                    l.drain(..l.len() - SHOWN_WHILE_FOLLOWING);
                }
            });
        }
    });
    let state = rpc::subscribe(notify::STATE, move |v| {
        let Ok(s) = serde_json::from_str::<StateChange>(v) else { return };
        if s.run_id != id {
            return;
        }
        leptos::task::spawn_local(async move {
            if let Ok(r) = rpc::call::<protocol::runs::Get>(IdParams { id }).await {
                run.set(Some(r));
            }
        });
    });
    let prog = rpc::subscribe(notify::PROGRESS, move |v| {
        if let Ok(p) = serde_json::from_str::<ProgressUpdate>(v) {
            if p.run_id == id {
                progress.set(Some(p.progress));
            }
        }
    });
    let lag = rpc::subscribe(notify::LAGGED, move |v| {
        if serde_json::from_str::<Lagged>(v).is_ok_and(|l| l.run_id == id) {
            start();
        }
    });
    Effect::new(move |_| {
        if session.connection.get() == ConnectionState::Open {
            start();
        }
    });
    // As above, the server-side follow is left to end with the run: an unfollow racing
    // a new follow of the same run would cut the new view off.
    on_cleanup(move || {
        for h in [log, state, prog, lag] {
            rpc::unsubscribe(h);
        }
    });
}
