//! Live run events fanned out to every follower: log lines (published only once they
//! are stored, so a follower that reads the store first and then listens misses
//! nothing), progress and state changes. A bounded broadcast: a follower that falls
//! behind is told where to resume instead of making the server buffer without limit.

use protocol::runs::{LogLine, Progress, RunState};
use tokio::sync::broadcast;

/// How many events may wait for the slowest follower.
const CAPACITY: usize = 4096;

#[derive(Clone, Debug)]
pub enum RunEvent {
    Log { run_id: i64, line: LogLine },
    Progress { run_id: i64, task_id: i64, progress: Progress },
    State { run_id: i64, task_id: i64, state: RunState, error: Option<String> },
}

impl RunEvent {
    pub fn run_id(&self) -> i64 {
        match self {
            RunEvent::Log { run_id, .. } | RunEvent::Progress { run_id, .. } | RunEvent::State { run_id, .. } => {
                *run_id
            }
        }
    }
}

#[derive(Clone)]
pub struct LiveHub {
    tx: broadcast::Sender<RunEvent>,
}

impl Default for LiveHub {
    fn default() -> Self {
        LiveHub { tx: broadcast::channel(CAPACITY).0 }
    }
}

impl LiveHub {
    pub fn publish(&self, event: RunEvent) {
        // No receivers is fine: nobody is following.
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<RunEvent> {
        self.tx.subscribe()
    }
}
