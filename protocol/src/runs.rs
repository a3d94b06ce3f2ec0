//! `task.run`, `task.abort` and `run.*`: running tasks and reading what happened.

use serde::{Deserialize, Serialize};

use crate::credentials::IdParams;
use crate::{method, Empty};

method!(
    /// Queues a run of the task; if it already has a queued or running run, returns that.
    RunTask = "task.run", RunParams => RunStarted
);
method!(
    /// Removes the task's queued run, or stops its running one (SIGTERM, SIGKILL after 10 s).
    Abort = "task.abort", IdParams => Empty
);
method!(
    /// Runs, newest first.
    List = "run.list", ListParams => Vec<Run>
);
method!(
    /// Per day (UTC) of the last `days`: bytes moved and runs by how they ended, for the
    /// dashboard's charts. Days without runs are there with zeros, oldest first.
    Daily = "run.daily", DailyParams => Vec<DayStats>
);

method!(
    /// Each task's newest finished runs (not dry runs), oldest first, as points for the
    /// Tasks page's sparklines.
    Recent = "run.recent", RecentParams => Vec<RunPoint>
);

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecentParams {
    /// Runs per task, 1 to 50; 20 when left out.
    #[serde(default)]
    pub per_task: Option<u32>,
}

/// One finished run, as a sparkline needs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunPoint {
    pub task_id: i64,
    pub run_id: i64,
    pub state: RunState,
    pub duration_seconds: f64,
    pub bytes: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DailyParams {
    /// 1 to 365; 30 when left out.
    #[serde(default)]
    pub days: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DayStats {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    /// Transferred by runs that ended that day (dry runs aside).
    pub bytes: u64,
    pub succeeded: u32,
    /// FAILED and INTERRUPTED.
    pub failed: u32,
    /// ABORTED.
    pub aborted: u32,
}
method!(
    Get = "run.get", IdParams => Run
);
method!(
    /// A run's log lines after `after_seq` (or the newest below `before_seq`), oldest
    /// first; with `query`, only the lines that contain it, searched in the database.
    Log = "run.log", LogParams => Vec<LogLine>
);
method!(
    /// A one-time address that downloads the run's whole log as text, streamed from the
    /// store; it works once, within a minute, without the session's token in it.
    Download = "run.download", IdParams => LogDownload
);

method!(
    /// Sends the run's stored log lines after `after_seq` as `run.log` notifications,
    /// then its live lines, `run.progress` and `run.state`, until the run ends or
    /// `run.unfollow`.
    Follow = "run.follow", FollowParams => Run
);
method!(
    Unfollow = "run.unfollow", IdParams => Empty
);
method!(
    /// Pushes `run.state` and `run.progress` of every run to this socket, so task lists
    /// update live, until `events.unsubscribe`.
    Subscribe = "events.subscribe", Empty => Empty
);
method!(
    Unsubscribe = "events.unsubscribe", Empty => Empty
);

/// Notification names and payloads.
pub mod notify {
    use super::{LogLine, Progress, RunState};
    use serde::{Deserialize, Serialize};

    pub const LOG: &str = "run.log";
    pub const PROGRESS: &str = "run.progress";
    pub const STATE: &str = "run.state";
    /// The socket fell behind: follow again from `resume_after_seq`.
    pub const LAGGED: &str = "run.lagged";

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct LogBatch {
        pub run_id: i64,
        pub lines: Vec<LogLine>,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct ProgressUpdate {
        pub run_id: i64,
        pub task_id: i64,
        pub progress: Progress,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct StateChange {
        pub run_id: i64,
        pub task_id: i64,
        pub state: RunState,
        pub error: Option<String>,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct Lagged {
        pub run_id: i64,
        pub resume_after_seq: i64,
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowParams {
    pub id: i64,
    #[serde(default)]
    pub after_seq: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunParams {
    pub id: i64,
    #[serde(default)]
    pub dry_run: bool,
    /// Run once even if the sync would delete more than `max_delete_percent` of the
    /// destination's files.
    #[serde(default)]
    pub allow_deletes: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunStarted {
    pub run_id: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RunState {
    Queued,
    Running,
    Success,
    Failed,
    Aborted,
    /// The server stopped while the run was queued or running.
    Interrupted,
}

impl RunState {
    pub fn is_active(self) -> bool {
        matches!(self, RunState::Queued | RunState::Running)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "QUEUED",
            RunState::Running => "RUNNING",
            RunState::Success => "SUCCESS",
            RunState::Failed => "FAILED",
            RunState::Aborted => "ABORTED",
            RunState::Interrupted => "INTERRUPTED",
        }
    }

    pub fn parse(s: &str) -> Option<RunState> {
        [
            RunState::Queued,
            RunState::Running,
            RunState::Success,
            RunState::Failed,
            RunState::Aborted,
            RunState::Interrupted,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// What rclone's stats say about a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub bytes: u64,
    pub total_bytes: u64,
    /// 0 to 100.
    pub percent: f64,
    /// Bytes per second.
    pub speed: f64,
    /// Seconds, when rclone knows.
    pub eta: Option<u64>,
    pub transfers: u64,
    pub total_transfers: u64,
    pub checks: u64,
    pub deletes: u64,
    pub errors: u64,
    /// With `verify`: files found identical at the destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<u64>,
    /// With `verify`: files that differ, are missing at the destination or could not
    /// be compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub differences: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: i64,
    pub task_id: i64,
    pub state: RunState,
    pub dry_run: bool,
    /// RFC 3339, UTC.
    pub queued_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub exit_code: Option<i32>,
    /// One line saying why a run failed.
    pub error: Option<String>,
    /// The last stats (final ones once the run ended).
    pub stats: Option<Progress>,
    /// For a retry (task `retry`): the first run of its chain.
    #[serde(default)]
    pub retry_of: Option<i64>,
}

impl Run {
    /// Seconds from start to end, once it ended.
    pub fn duration_seconds(&self) -> Option<f64> {
        let at = |t: &Option<String>| chrono::DateTime::parse_from_rfc3339(t.as_deref()?).ok();
        let (start, end) = (at(&self.started_at)?, at(&self.finished_at)?);
        Some((end - start).num_milliseconds().max(0) as f64 / 1000.0)
    }

    /// Bytes moved per second over the whole run (not for dry runs, which move none).
    pub fn average_speed(&self) -> Option<f64> {
        let seconds = self.duration_seconds().filter(|s| *s > 0.0 && !self.dry_run)?;
        Some(self.stats.as_ref()?.bytes as f64 / seconds)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    #[serde(default)]
    pub task_id: Option<i64>,
    /// Only runs in this state.
    #[serde(default)]
    pub state: Option<RunState>,
    #[serde(default)]
    pub limit: Option<u32>,
    /// Only runs with an id below this (paging).
    #[serde(default)]
    pub before: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogParams {
    pub id: i64,
    #[serde(default)]
    pub after_seq: i64,
    /// Only lines below this `seq`, the newest `limit` of them (still oldest first): to
    /// page back from the end. Any number above the last `seq` gives the tail.
    #[serde(default)]
    pub before_seq: Option<i64>,
    /// Only lines whose message contains this text, ignoring case (at most
    /// [`MAX_LOG_QUERY`] characters).
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

pub const MAX_LOG_QUERY: usize = 200;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogDownload {
    /// A path on this server (`/api/download/…`): fetch it with a plain GET.
    pub url: String,
    /// RFC 3339, UTC: the address is refused after this, or once used.
    pub expires_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// 1, 2, 3… per run.
    pub seq: i64,
    /// RFC 3339, UTC.
    pub at: String,
    pub level: LogLevel,
    pub source: LogSource,
    pub message: String,
}

/// How serious a log line is; on the wire `error`, `warning`, `notice`, `info`, `debug`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warning,
    Notice,
    Info,
    Debug,
}

impl LogLevel {
    pub const ALL: [LogLevel; 5] =
        [LogLevel::Error, LogLevel::Warning, LogLevel::Notice, LogLevel::Info, LogLevel::Debug];

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warning => "warning",
            LogLevel::Notice => "notice",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }

    /// A level as rclone (or the log store) writes it; rclone's `critical`, `alert` and
    /// `emergency` are errors, anything unknown is a notice.
    pub fn parse(text: &str) -> LogLevel {
        match text.trim().to_ascii_lowercase().as_str() {
            "error" | "critical" | "fatal" | "alert" | "emergency" => LogLevel::Error,
            "warning" | "warn" => LogLevel::Warning,
            "info" => LogLevel::Info,
            "debug" => LogLevel::Debug,
            _ => LogLevel::Notice,
        }
    }
}

impl std::fmt::Display for LogLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Who wrote a log line; on the wire `rclone`, `runner`, `scheduler`, `pre_script`,
/// `post_script`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogSource {
    Rclone,
    Runner,
    Scheduler,
    PreScript,
    PostScript,
}

impl LogSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LogSource::Rclone => "rclone",
            LogSource::Runner => "runner",
            LogSource::Scheduler => "scheduler",
            LogSource::PreScript => "pre_script",
            LogSource::PostScript => "post_script",
        }
    }

    /// A source as the log store keeps it (anything unknown is the runner's).
    pub fn parse(text: &str) -> LogSource {
        match text {
            "rclone" => LogSource::Rclone,
            "scheduler" => LogSource::Scheduler,
            "pre_script" => LogSource::PreScript,
            "post_script" => LogSource::PostScript,
            _ => LogSource::Runner,
        }
    }

    /// cloudsync's own lines (always kept, even past a run's line limit).
    pub fn is_own(self) -> bool {
        matches!(self, LogSource::Runner | LogSource::Scheduler)
    }
}

impl std::fmt::Display for LogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}
