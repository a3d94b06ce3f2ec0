//! The run queue as data: the runs waiting (first in, first out) and the runs going,
//! and the one decision about them, which waiting run may start now
//! (`Queue::next_to_start`): a pure function, tested without rclone or a database.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use protocol::runs::{LogLevel, Progress};
use tokio::sync::oneshot;

pub(super) struct Queued {
    pub run_id: i64,
    pub task_id: i64,
    pub dry_run: bool,
    /// Past the `max_delete_percent` guard, this once.
    pub allow_deletes: bool,
    pub path: PathBuf,
    /// `<credential id>:<bucket>/<folder>`: two runs on the same remote folder (or one
    /// inside the other) never run together either.
    pub remote: String,
    /// Lines for the run's log that arrived before it started (see `Runner::note`).
    pub notes: Vec<(LogLevel, String)>,
    /// For a retry: which one, of which chain.
    pub retry: Option<RetryOf>,
}

/// A retry's place: the first run of its chain, its number (1 for the first retry) and
/// how many the task allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryOf {
    pub first: i64,
    pub attempt: u8,
    pub of: u8,
}

pub(super) struct Active {
    pub run_id: i64,
    pub path: PathBuf,
    pub remote: String,
    pub stop: Option<oneshot::Sender<()>>,
    pub progress: Option<Progress>,
    /// Lines for the run's log from outside it (the scheduler's), written by the run.
    pub notes: Vec<(LogLevel, String)>,
    /// Its transfer is over and its last lines and final state are being written: a
    /// new run of the task (a click, a scheduled start) is queued behind it rather than
    /// this one returned or skipped.
    pub ending: bool,
}

#[derive(Default)]
pub(super) struct Queue {
    pub waiting: VecDeque<Queued>,
    /// By task id: a task never has two.
    pub running: HashMap<i64, Active>,
}

impl Queue {
    /// The task's run that is going and not yet ending: the one a new start of the task
    /// joins (or is skipped for), and the one notes go to.
    pub fn going(&mut self, task_id: i64) -> Option<&mut Active> {
        self.running.get_mut(&task_id).filter(|a| !a.ending)
    }

    /// The position in `waiting` of the first run that may start now: fewer than `max`
    /// runs are going, and neither its local folder nor its remote folder overlaps one
    /// that is. Runs behind a blocked one may pass it.
    pub fn next_to_start(&self, max: usize) -> Option<usize> {
        if self.running.len() >= max {
            return None;
        }
        self.waiting.iter().position(|w| {
            !self.running.values().any(|a| overlaps(&a.path, &w.path) || remote_overlaps(&a.remote, &w.remote))
        })
    }

    /// Moves the waiting run at `index` to the running ones; returns it, and the
    /// receiving end of its stop signal.
    pub fn start(&mut self, index: usize) -> (Queued, oneshot::Receiver<()>) {
        let mut next = self.waiting.remove(index).expect("index from next_to_start");
        let (stop_tx, stop_rx) = oneshot::channel();
        let active = Active {
            run_id: next.run_id,
            path: next.path.clone(),
            remote: next.remote.clone(),
            stop: Some(stop_tx),
            progress: None,
            notes: std::mem::take(&mut next.notes),
            ending: false,
        };
        self.running.insert(next.task_id, active);
        (next, stop_rx)
    }
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

    fn queued(task_id: i64, path: &str, remote: &str) -> Queued {
        Queued {
            run_id: task_id * 10,
            task_id,
            dry_run: false,
            allow_deletes: false,
            path: path.into(),
            remote: remote.into(),
            notes: Vec::new(),
            retry: None,
        }
    }

    #[test]
    fn runs_start_in_order_up_to_the_limit() {
        let mut q = Queue::default();
        q.waiting.extend([queued(1, "/a", "1:x"), queued(2, "/b", "1:y"), queued(3, "/c", "1:z")]);
        assert_eq!(q.next_to_start(2), Some(0));
        let (first, _stop) = q.start(0);
        assert_eq!(first.task_id, 1);
        assert_eq!(q.next_to_start(2), Some(0), "task 2 is next");
        q.start(0);
        assert_eq!(q.next_to_start(2), None, "two are going");
        q.running.remove(&1);
        assert_eq!(q.waiting[q.next_to_start(2).unwrap()].task_id, 3);
    }

    #[test]
    fn a_run_whose_folders_overlap_a_going_one_waits_and_later_ones_pass_it() {
        let mut q = Queue::default();
        q.waiting.extend([
            queued(1, "/srv/photos", "1:b/photos"),
            queued(2, "/srv/photos/2024", "2:c"),
            queued(3, "/srv/docs", "1:b/photos/raw"),
            queued(4, "/srv/music", "1:b/music"),
        ]);
        q.start(0);
        let next = q.next_to_start(4).unwrap();
        assert_eq!(q.waiting[next].task_id, 4, "2 overlaps locally, 3 remotely");
    }
}
