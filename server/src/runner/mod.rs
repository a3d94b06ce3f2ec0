//! The runner: the only part of cloudsync that starts rclone. `rclone` starts it (for
//! the short commands credentials need and for sync runs); `runs` queues and
//! supervises task runs; `scripts` runs pre- and post-scripts; `sync` builds a run's command line; `progress` reads rclone's
//! JSON log; `records` keeps the run records.

pub mod lines;
pub mod obscure;
pub mod progress;
pub mod rclone;
pub mod records;
pub mod runs;
pub mod scripts;
pub mod sync;

pub use runs::{Runner, ScheduledStart};
