//! Live run events fanned out to every follower. Two bounded broadcasts:
//!
//! - stored log lines, one [`StoredBatch`] per insert (published only once stored, so a
//!   follower that reads the store first and then listens misses nothing). A follower
//!   that falls behind reads what it missed from the store instead of the server
//!   keeping it in memory: at most [`LOG_BATCHES`] batches wait here, each bounded by
//!   the writer's batch size;
//! - progress and state changes, small and few.

use std::sync::{Arc, OnceLock};

use protocol::runs::{LogLine, Progress, RunState};
use tokio::sync::broadcast;

/// How many progress and state events may wait for the slowest listener.
const EVENTS: usize = 1024;
/// How many stored batches may wait for the slowest follower.
pub const LOG_BATCHES: usize = 16;

#[derive(Clone, Debug)]
pub enum RunEvent {
    Progress { run_id: i64, task_id: i64, progress: Progress },
    State { run_id: i64, task_id: i64, state: RunState, error: Option<String> },
}

impl RunEvent {
    pub fn run_id(&self) -> i64 {
        match self {
            RunEvent::Progress { run_id, .. } | RunEvent::State { run_id, .. } => *run_id,
        }
    }
}

/// Lines of one run just stored together, `seq` ascending and without gaps.
#[derive(Debug)]
pub struct StoredBatch {
    pub run_id: i64,
    pub lines: Vec<LogLine>,
    /// The batch as one notification, made by the first follower that sends it whole and
    /// shared by the others.
    text: OnceLock<String>,
}

impl StoredBatch {
    pub fn new(run_id: i64, lines: Vec<LogLine>) -> StoredBatch {
        StoredBatch { run_id, lines, text: OnceLock::new() }
    }

    pub fn first_seq(&self) -> i64 {
        self.lines.first().map_or(0, |l| l.seq)
    }

    pub fn last_seq(&self) -> i64 {
        self.lines.last().map_or(0, |l| l.seq)
    }

    /// The whole batch as text: `make` runs once, whoever asks first.
    pub fn shared_text(&self, make: impl FnOnce(&[LogLine]) -> String) -> &str {
        self.text.get_or_init(|| make(&self.lines))
    }
}

#[derive(Clone)]
pub struct LiveHub {
    events: broadcast::Sender<RunEvent>,
    logs: broadcast::Sender<Arc<StoredBatch>>,
}

impl Default for LiveHub {
    fn default() -> Self {
        LiveHub { events: broadcast::channel(EVENTS).0, logs: broadcast::channel(LOG_BATCHES).0 }
    }
}

impl LiveHub {
    pub fn publish(&self, event: RunEvent) {
        // No receivers is fine: nobody is listening.
        let _ = self.events.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<RunEvent> {
        self.events.subscribe()
    }

    /// Whether anyone follows a log now (else stored lines are not turned into events).
    pub fn has_log_followers(&self) -> bool {
        self.logs.receiver_count() > 0
    }

    pub fn publish_logs(&self, batch: StoredBatch) {
        let _ = self.logs.send(Arc::new(batch));
    }

    pub fn subscribe_logs(&self) -> broadcast::Receiver<Arc<StoredBatch>> {
        self.logs.subscribe()
    }
}
