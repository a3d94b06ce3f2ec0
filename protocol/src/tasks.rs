//! `task.*`: cloud sync tasks. Field names follow TrueNAS's cloud sync API so its users
//! recognise them. The checks that need no server state live here, so the task form
//! shows the same messages before a round trip.

use serde::{Deserialize, Serialize};

use crate::credentials::{IdParams, SecretMask};
use crate::{method, Empty, FieldError};

method!(
    /// Every task.
    List = "task.list", Empty => Vec<SyncTask>
);
method!(
    Get = "task.get", IdParams => SyncTask
);
method!(
    /// Validates and stores a new task; the encryption password and salt are sealed.
    Create = "task.create", TaskParams => SyncTask
);
method!(
    /// Replaces a task's settings; encryption secrets left out or sent back masked keep
    /// their stored values.
    Update = "task.update", UpdateParams => SyncTask
);
method!(
    Delete = "task.delete", IdParams => Empty
);
method!(
    /// Creates the reverse task (direction flipped), disabled, as TrueNAS does.
    Restore = "task.restore", RestoreParams => SyncTask
);

method!(
    /// What a run of the task would do now, computed by rclone with `--dry-run`;
    /// nothing changes.
    Plan = "task.plan", IdParams => RunPlan
);

/// What a run would do: files to copy (new at the destination), to update (there, but
/// different) and to delete; each with its count, bytes and first [`PLAN_PATHS`] paths.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunPlan {
    pub copy: PlanPart,
    pub update: PlanPart,
    pub delete: PlanPart,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanPart {
    pub count: u64,
    pub bytes: u64,
    /// The first [`PLAN_PATHS`], in rclone's order.
    pub paths: Vec<String>,
}

/// How many paths a [`PlanPart`] names.
pub const PLAN_PATHS: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Direction {
    /// Local to cloud.
    Push,
    /// Cloud to local.
    Pull,
}

impl Direction {
    pub fn reversed(self) -> Direction {
        match self {
            Direction::Push => Direction::Pull,
            Direction::Pull => Direction::Push,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TransferMode {
    /// Make the destination identical to the source, deleting extra files.
    Sync,
    /// Copy new and changed files; delete nothing.
    Copy,
    /// Copy, then delete the copied files from the source.
    Move,
}

/// One entry of the bandwidth timetable: from `time` ("HH:MM") on, at most
/// `bandwidth` bytes per second (`None`: unlimited).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BwLimit {
    pub time: String,
    pub bandwidth: Option<u64>,
}

/// When the task runs: cron fields as TrueNAS has them (see [`crate::schedule`]) and
/// the window ("HH:MM") in which a run may start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub minute: String,
    pub hour: String,
    pub dom: String,
    pub month: String,
    pub dow: String,
    /// The window a run may start in; the whole day (00:00–23:59) when left out.
    #[serde(default = "day_start")]
    pub begin: String,
    #[serde(default = "day_end")]
    pub end: String,
}

fn day_start() -> String {
    "00:00".into()
}

fn day_end() -> String {
    "23:59".into()
}

impl Schedule {
    /// The five cron fields, with the default window (all day).
    pub fn new(minute: &str, hour: &str, dom: &str, month: &str, dow: &str) -> Schedule {
        Schedule {
            minute: minute.into(),
            hour: hour.into(),
            dom: dom.into(),
            month: month.into(),
            dow: dow.into(),
            ..Schedule::default()
        }
    }

    /// "0 3 * * mon": the five fields separated by spaces (each is checked later, by
    /// `schedule::CronSpec::parse`).
    pub fn from_cron(text: &str) -> Result<Schedule, String> {
        match text.split_whitespace().collect::<Vec<_>>()[..] {
            [minute, hour, dom, month, dow] => Ok(Schedule::new(minute, hour, dom, month, dow)),
            _ => Err(format!("`{text}` is not five fields: minute hour day-of-month month day-of-week")),
        }
    }
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            minute: "0".into(),
            hour: "*".into(),
            dom: "*".into(),
            month: "*".into(),
            dow: "*".into(),
            begin: day_start(),
            end: day_end(),
        }
    }
}

/// Where on the remote: the bucket (bucket-based backends) and the folder in it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteLocation {
    #[serde(default)]
    pub bucket: String,
    #[serde(default)]
    pub folder: String,
}

/// The settings of a task as sent to `create` and `update`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskParams {
    pub description: String,
    pub credentials: i64,
    pub direction: Direction,
    pub transfer_mode: TransferMode,
    /// The local directory.
    pub path: String,
    #[serde(default)]
    pub attributes: RemoteLocation,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub pre_script: String,
    #[serde(default)]
    pub post_script: String,
    #[serde(default)]
    pub bwlimit: Vec<BwLimit>,
    #[serde(default = "default_transfers")]
    pub transfers: u32,
    #[serde(default)]
    pub follow_symlinks: bool,
    #[serde(default)]
    pub create_empty_src_dirs: bool,
    #[serde(default)]
    pub encryption: bool,
    #[serde(default)]
    pub filename_encryption: bool,
    /// Write-only; sent back masked or left out, the stored value stays; `null` or ""
    /// clears it.
    #[serde(default, deserialize_with = "crate::credentials::SecretInput::nullable")]
    pub encryption_password: Option<crate::credentials::SecretInput>,
    #[serde(default, deserialize_with = "crate::credentials::SecretInput::nullable")]
    pub encryption_salt: Option<crate::credentials::SecretInput>,
    /// `None`: manual runs only.
    #[serde(default)]
    pub schedule: Option<Schedule>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Refuse to delete more than this many files in one run.
    #[serde(default)]
    pub max_delete: Option<u64>,
    /// A SYNC or MOVE whose source holds no files while its destination does fails
    /// before rclone deletes anything, unless this is set (an unmounted disk reads as
    /// an empty folder).
    #[serde(default)]
    pub allow_empty_source: bool,
    /// A SYNC that would delete more than this share (1–100) of the destination's
    /// files fails before deleting anything; `null`: no such limit. 50 when left out.
    #[serde(default = "half")]
    pub max_delete_percent: Option<u8>,
    /// Files a run deletes or overwrites at the destination are moved into a dated
    /// folder (see [`KEPT_SUFFIX`]) instead of being lost.
    #[serde(default)]
    pub keep_deleted: bool,
    /// After a successful run, dated folders of kept files older than this many days
    /// are removed; `null`: kept forever.
    #[serde(default)]
    pub keep_deleted_days: Option<u32>,
    /// After a successful transfer, source and destination are compared by content
    /// (`rclone check --one-way`, `cryptcheck` for encrypted tasks); any difference
    /// fails the run.
    #[serde(default)]
    pub verify: bool,
    /// A failed run (not an aborted one, not one stopped by a data-safety guard) is
    /// queued again after a delay.
    #[serde(default)]
    pub retry: Retry,
    /// When the server was down at a scheduled start, one run is queued when it starts
    /// again (one, however many starts were missed).
    #[serde(default)]
    pub catch_up: bool,
    /// Which notification targets hear about its runs, and when.
    #[serde(default)]
    pub notify: crate::notify::TaskNotify,
    /// rclone flags from a fixed safe list ([`SAFE_FLAGS`], [`SAFE_VALUED_FLAGS`] as
    /// `--name=value`), added to every transfer.
    #[serde(default)]
    pub extra_flags: Vec<String>,
    /// What to check before enabling it, written by an import (TrueNAS); saving the
    /// task without them clears them.
    #[serde(default)]
    pub review: Vec<String>,
}

/// `attempts` retries at most (0–10), the first `delay_seconds` (≥ 1) after the failure,
/// each later one after twice the delay before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    #[serde(default)]
    pub attempts: u8,
    #[serde(default = "default_retry_delay")]
    pub delay_seconds: u32,
}

impl Default for Retry {
    fn default() -> Self {
        Retry { attempts: 0, delay_seconds: default_retry_delay() }
    }
}

impl Retry {
    /// How long to wait before retry number `n` (1 for the first), or `None` when the
    /// policy allows no such retry.
    pub fn delay(&self, n: u8) -> Option<std::time::Duration> {
        if n == 0 || n > self.attempts {
            return None;
        }
        let seconds = u64::from(self.delay_seconds).saturating_mul(1u64 << (n - 1).min(30));
        Some(std::time::Duration::from_secs(seconds))
    }
}

fn default_retry_delay() -> u32 {
    60
}

/// Notes on how the destination's provider behaves where users do not expect it, for
/// the task form: `provider` is the credential's rclone backend, `storage_class` its
/// S3 storage class if set. Empty when nothing applies.
pub fn provider_warnings(
    provider: &str,
    storage_class: Option<&str>,
    direction: Direction,
    mode: TransferMode,
    encryption: bool,
    filename_encryption: bool,
) -> Vec<&'static str> {
    let mut out = Vec::new();
    let deletes = mode != TransferMode::Copy;
    let push = direction == Direction::Push;
    if provider == "b2" && push && deletes {
        out.push("B2 keeps old versions: a deleted or replaced file becomes a hidden version that still takes space (and costs) until a lifecycle rule on the bucket removes it.");
    }
    if provider == "s3"
        && storage_class.is_some_and(|c| {
            let c = c.to_ascii_uppercase();
            c == "GLACIER" || c == "DEEP_ARCHIVE"
        })
    {
        out.push("S3 Glacier and Deep Archive objects cannot be read (or verified) until restored, and deleting them early is charged for the rest of their minimum storage time.");
    }
    if provider == "drive" && push {
        out.push("Google Drive accepts at most 750 GB of uploads per account per day; a bigger first backup takes several days, and runs fail with a quota error until the next day.");
    }
    if provider == "dropbox" && push && deletes {
        out.push("Dropbox refuses some files it has flagged (copyright, malware); such a refusal can abort a run before its deletions, so check failed runs' logs.");
    }
    if encryption && filename_encryption {
        out.push("Encrypted file names are longer than the originals: names over about 143 characters fail on many backends (those with a 255-byte limit).");
    }
    out
}

/// The most retries a task may ask for.
pub const MAX_RETRY_ATTEMPTS: u8 = 10;
/// The longest first retry delay: a day.
pub const MAX_RETRY_DELAY_SECONDS: u32 = 86_400;

/// Kept files of a task whose remote folder is `bucket/photos` go under
/// `bucket/photos.cloudsync-deleted/<UTC time of the run>/`; where the destination has
/// no parent to sit beside (a bucket's root, a local folder, an encrypted remote), under
/// [`KEPT_FOLDER`] inside it, which the sync then leaves alone.
pub const KEPT_SUFFIX: &str = ".cloudsync-deleted";
/// See [`KEPT_SUFFIX`].
pub const KEPT_FOLDER: &str = ".cloudsync-deleted";

/// Whether kept files sit beside the destination (a folder of a cloud remote, not
/// encrypted) rather than inside it; see [`KEPT_SUFFIX`].
pub fn kept_beside(direction: Direction, encryption: bool, folder: &str) -> bool {
    direction == Direction::Push && !encryption && !folder.trim_matches('/').is_empty()
}
/// The longest `keep_deleted_days`: a hundred years.
pub const MAX_KEEP_DELETED_DAYS: u32 = 36_500;

fn default_transfers() -> u32 {
    4
}

fn yes() -> bool {
    true
}

/// The default `max_delete_percent`.
pub const DEFAULT_MAX_DELETE_PERCENT: u8 = 50;

fn half() -> Option<u8> {
    Some(DEFAULT_MAX_DELETE_PERCENT)
}

/// `id` plus every field of [`TaskParams`] (serde cannot deny unknown fields through
/// `flatten`; the inner struct still does).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpdateParams {
    pub id: i64,
    #[serde(flatten)]
    pub task: TaskParams,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreParams {
    pub id: i64,
    pub transfer_mode: TransferMode,
    /// The local directory to restore into.
    pub path: String,
}

/// A task as the API returns it: secrets masked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncTask {
    pub id: i64,
    pub description: String,
    pub credentials: i64,
    pub direction: Direction,
    pub transfer_mode: TransferMode,
    pub path: String,
    pub attributes: RemoteLocation,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub pre_script: String,
    pub post_script: String,
    pub bwlimit: Vec<BwLimit>,
    pub transfers: u32,
    pub follow_symlinks: bool,
    pub create_empty_src_dirs: bool,
    pub encryption: bool,
    pub filename_encryption: bool,
    pub encryption_password: Option<SecretMask>,
    pub encryption_salt: Option<SecretMask>,
    pub schedule: Option<Schedule>,
    pub enabled: bool,
    pub max_delete: Option<u64>,
    #[serde(default)]
    pub allow_empty_source: bool,
    #[serde(default = "half")]
    pub max_delete_percent: Option<u8>,
    #[serde(default)]
    pub keep_deleted: bool,
    #[serde(default)]
    pub keep_deleted_days: Option<u32>,
    #[serde(default)]
    pub verify: bool,
    #[serde(default)]
    pub retry: Retry,
    #[serde(default)]
    pub catch_up: bool,
    #[serde(default)]
    pub notify: crate::notify::TaskNotify,
    #[serde(default)]
    pub extra_flags: Vec<String>,
    #[serde(default)]
    pub review: Vec<String>,
    /// The newest run: its state, and while it runs its live progress in `stats`.
    pub last_run: Option<crate::runs::Run>,
    /// When the scheduler will start it next (RFC 3339 in the server's zone); `None`
    /// without a schedule, when disabled, or when the schedule never matches again.
    #[serde(default)]
    pub next_run: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub updated_at: String,
}

/// Backends whose remote paths start with a bucket (or container).
pub const BUCKET_BACKENDS: &[&str] = &[
    "azureblob",
    "b2",
    "google cloud storage",
    "oracleobjectstorage",
    "qingstor",
    "s3",
    "storj",
    "swift",
    "tardigrade",
];

pub const MAX_TRANSFERS: u32 = 64;

/// Checks an rclone filter pattern: one line, not empty, balanced `{}` and `[]`.
pub fn check_pattern(p: &str) -> Result<(), String> {
    if p.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if p.contains(['\n', '\r']) || p.chars().any(char::is_control) {
        return Err("must be one line without control characters".into());
    }
    let (mut braces, mut brackets) = (0i32, 0i32);
    let mut escaped = false;
    for c in p.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '{' => braces += 1,
            '}' => braces -= 1,
            '[' => brackets += 1,
            ']' => brackets -= 1,
            _ => {}
        }
        if braces < 0 || brackets < 0 {
            return Err(format!("`{p}` closes a bracket it did not open"));
        }
    }
    if braces != 0 || brackets != 0 {
        return Err(format!("`{p}` has an unclosed {{ or ["));
    }
    Ok(())
}

/// A bandwidth timetable that parsed: (minutes after midnight, bytes per second or
/// unlimited), times ascending. Made only by [`Timetable::parse`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timetable(Vec<(u32, Option<u64>)>);

impl Timetable {
    /// The entries' times as `check_task` checks them: valid, each later than the one before.
    pub fn parse(entries: &[BwLimit]) -> Result<Timetable, String> {
        let mut out: Vec<(u32, Option<u64>)> = Vec::with_capacity(entries.len());
        for b in entries {
            let at = parse_hhmm(&b.time)?;
            if out.last().is_some_and(|(before, _)| *before >= at) {
                return Err(format!("`{}` must be later than the entry before it", b.time));
            }
            out.push((at, b.bandwidth));
        }
        Ok(Timetable(out))
    }

    /// rclone's `--bwlimit` value, `08:00,1048576B 18:00,off`; `None` when empty.
    pub fn rclone_arg(&self) -> Option<String> {
        if self.0.is_empty() {
            return None;
        }
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(at, rate)| {
                let rate = rate.map_or_else(|| "off".to_string(), |n| format!("{n}B"));
                format!("{:02}:{:02},{rate}", at / 60, at % 60)
            })
            .collect();
        Some(parts.join(" "))
    }
}

/// Minutes after midnight of an "HH:MM" time.
pub fn parse_hhmm(s: &str) -> Result<u32, String> {
    let (h, m) = s.split_once(':').ok_or_else(|| format!("`{s}` is not a time; expected HH:MM"))?;
    let h: u32 = h.parse().map_err(|_| format!("`{s}` is not a time; expected HH:MM"))?;
    let m: u32 = m.parse().map_err(|_| format!("`{s}` is not a time; expected HH:MM"))?;
    if h > 23 || m > 59 || s.len() != 5 {
        return Err(format!("`{s}` is not a time between 00:00 and 23:59"));
    }
    Ok(h * 60 + m)
}

/// The checks on a task's settings that need no server state. Field names are the
/// params' (`include[2]`, `bwlimit[1].time`, …).
/// rclone flags a task may add as they are: they change how files are compared or
/// listed, never where data goes or what is deleted.
pub const SAFE_FLAGS: &[&str] = &[
    "--checksum",
    "--size-only",
    "--fast-list",
    "--ignore-existing",
    "--update",
    "--ignore-size",
    "--ignore-times",
    "--ignore-checksum",
    "--no-update-modtime",
    "--no-traverse",
    "--no-check-dest",
    "--metadata",
    "--immutable",
    "--s3-no-check-bucket",
];

/// rclone flags a task may add with a plain value (`--name=value`): tuning and
/// backend storage settings.
pub const SAFE_VALUED_FLAGS: &[&str] = &[
    "--checkers",
    "--tpslimit",
    "--multi-thread-cutoff",
    "--multi-thread-streams",
    "--max-age",
    "--min-age",
    "--max-size",
    "--min-size",
    "--s3-storage-class",
    "--s3-server-side-encryption",
    "--s3-chunk-size",
    "--s3-upload-cutoff",
    "--b2-chunk-size",
    "--b2-upload-cutoff",
    "--dropbox-chunk-size",
];

/// Whether `flag` is on the safe lists: a bare flag, or a valued one as `--name=value`
/// with a value of letters, digits and `._:-` (at most 64).
pub fn check_flag(flag: &str) -> Result<(), String> {
    if SAFE_FLAGS.contains(&flag) {
        return Ok(());
    }
    let Some((name, value)) = flag.split_once('=') else {
        return Err(match SAFE_VALUED_FLAGS.contains(&flag) {
            true => format!("`{flag}` needs a value: {flag}=VALUE"),
            false => {
                format!("`{}` is not a flag cloudsync allows (see SAFE_FLAGS in docs/api.md)", flag.escape_debug())
            }
        });
    };
    if !SAFE_VALUED_FLAGS.contains(&name) {
        return Err(format!(
            "`{}` is not a flag cloudsync allows (see SAFE_FLAGS in docs/api.md)",
            name.escape_debug()
        ));
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || "._:-".contains(c);
    if value.is_empty() || value.len() > 64 || !value.chars().all(plain) {
        return Err(format!("the value of {name} must be 1 to 64 letters, digits or ._:-"));
    }
    Ok(())
}

pub fn check_task(t: &TaskParams) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut err = |field: String, message: String| errors.push(FieldError::new(field, message));
    if t.description.trim().is_empty() {
        err("description".into(), "must not be empty".into());
    } else if t.description.chars().count() > 200 {
        err("description".into(), "must be at most 200 characters".into());
    } else if t.description.chars().any(char::is_control) {
        err("description".into(), "must be one line without control characters".into());
    }
    if !t.path.starts_with('/') {
        err("path".into(), "must be an absolute path".into());
    } else if t.path.chars().any(char::is_control) {
        err("path".into(), "must not contain control characters".into());
    } else if t.path.len() > 4096 {
        err("path".into(), "must be at most 4096 bytes".into());
    }
    for (name, list) in [("include", &t.include), ("exclude", &t.exclude)] {
        for (i, p) in list.iter().enumerate() {
            if let Err(why) = check_pattern(p) {
                err(format!("{name}[{i}]"), why);
            }
        }
    }
    if let Err(why) = crate::credentials::check_remote_path(&t.attributes.folder) {
        err("attributes.folder".into(), why);
    }
    if t.attributes.folder.len() > 4096 {
        err("attributes.folder".into(), "must be at most 4096 bytes".into());
    }
    if t.attributes.bucket.contains('/') {
        err("attributes.bucket".into(), "must be a bucket name without /".into());
    } else if t.attributes.bucket.chars().any(char::is_control) {
        err("attributes.bucket".into(), "must not contain control characters".into());
    } else if t.attributes.bucket.len() > 255 {
        err("attributes.bucket".into(), "must be at most 255 bytes".into());
    }
    for (name, list) in [("include", &t.include), ("exclude", &t.exclude)] {
        if list.len() > 1000 {
            err(name.into(), "must have at most 1000 patterns".into());
        }
    }
    if t.bwlimit.len() > 48 {
        err("bwlimit".into(), "must have at most 48 entries".into());
    }
    let mut previous: Option<u32> = None;
    for (i, b) in t.bwlimit.iter().enumerate() {
        match parse_hhmm(&b.time) {
            Ok(m) => {
                if previous.is_some_and(|p| m <= p) {
                    err(format!("bwlimit[{i}].time"), "must be later than the entry before it".into());
                }
                previous = Some(m);
            }
            Err(why) => err(format!("bwlimit[{i}].time"), why),
        }
    }
    if !(1..=MAX_TRANSFERS).contains(&t.transfers) {
        err("transfers".into(), format!("must be between 1 and {MAX_TRANSFERS}"));
    }
    if t.retry.attempts > MAX_RETRY_ATTEMPTS {
        err("retry.attempts".into(), format!("must be between 0 and {MAX_RETRY_ATTEMPTS}"));
    }
    if !(1..=MAX_RETRY_DELAY_SECONDS).contains(&t.retry.delay_seconds) {
        err("retry.delay_seconds".into(), format!("must be between 1 and {MAX_RETRY_DELAY_SECONDS}"));
    }
    if t.keep_deleted_days.is_some_and(|d| !(1..=MAX_KEEP_DELETED_DAYS).contains(&d)) {
        err(
            "keep_deleted_days".into(),
            format!("must be between 1 and {MAX_KEEP_DELETED_DAYS}, or null to keep forever"),
        );
    }
    if t.keep_deleted_days.is_some() && !t.keep_deleted {
        err("keep_deleted_days".into(), "needs keep_deleted".into());
    }
    if t.max_delete_percent.is_some_and(|p| !(1..=100).contains(&p)) {
        err("max_delete_percent".into(), "must be between 1 and 100, or null for no limit".into());
    }
    for (name, script) in [("pre_script", &t.pre_script), ("post_script", &t.post_script)] {
        if script.len() > 64 * 1024 {
            err(name.into(), "must be at most 64 KiB".into());
        } else if script.contains('\0') {
            err(name.into(), "must not contain a NUL character".into());
        }
    }
    for (i, f) in t.extra_flags.iter().enumerate() {
        if let Err(why) = check_flag(f) {
            err(format!("extra_flags[{i}]"), why);
        }
    }
    if t.extra_flags.len() > 32 {
        err("extra_flags".into(), "must have at most 32 flags".into());
    }
    if t.review.len() > 50 || t.review.iter().any(|r| r.len() > 1000 || r.chars().any(|c| c.is_control() && c != '\n'))
    {
        err("review".into(), "must be at most 50 lines of at most 1000 characters".into());
    }
    if let Some(s) = &t.schedule {
        if let Err(bad) = crate::schedule::CronSpec::parse(s) {
            for e in bad {
                err(format!("schedule.{}", e.field), e.message);
            }
        }
    }
    errors
}

#[cfg(test)]
mod timetable_tests {
    use super::*;

    #[test]
    fn a_timetable_parses_in_order_and_becomes_rclones_argument() {
        let bw = |time: &str, bandwidth| BwLimit { time: time.into(), bandwidth };
        let t = Timetable::parse(&[bw("08:00", Some(1_048_576)), bw("18:30", None)]).unwrap();
        assert_eq!(t.rclone_arg().as_deref(), Some("08:00,1048576B 18:30,off"));
        assert_eq!(Timetable::parse(&[]).unwrap().rclone_arg(), None);
        assert!(Timetable::parse(&[bw("18:00", None), bw("08:00", None)]).unwrap_err().contains("later"));
        assert!(Timetable::parse(&[bw("25:00", None)]).is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> TaskParams {
        serde_json::from_value(serde_json::json!({
            "description": "photos", "credentials": 1, "direction": "PUSH", "transfer_mode": "SYNC", "path": "/srv/photos"
        }))
        .unwrap()
    }

    #[test]
    fn provider_warnings_apply_only_where_the_provider_behaves_so() {
        let (push, pull) = (Direction::Push, Direction::Pull);
        let (sync, copy) = (TransferMode::Sync, TransferMode::Copy);
        assert_eq!(provider_warnings("b2", None, push, sync, false, false).len(), 1);
        assert!(provider_warnings("b2", None, push, copy, false, false).is_empty(), "a copy deletes nothing");
        assert!(provider_warnings("b2", None, pull, sync, false, false).is_empty(), "the deletions are local");
        assert_eq!(provider_warnings("s3", Some("deep_archive"), pull, copy, false, false).len(), 1);
        assert!(provider_warnings("s3", Some("STANDARD"), push, sync, false, false).is_empty());
        assert!(provider_warnings("drive", None, push, copy, false, false)[0].contains("750 GB"));
        assert!(provider_warnings("dropbox", None, push, sync, false, false)[0].contains("flagged"));
        assert!(provider_warnings("sftp", None, push, sync, true, true)[0].contains("143"));
        assert!(provider_warnings("sftp", None, push, sync, true, false).is_empty());
    }

    #[test]
    fn retries_wait_twice_as_long_each_time_and_stop_at_the_attempts() {
        let r = Retry { attempts: 3, delay_seconds: 10 };
        let secs = |n| r.delay(n).map(|d| d.as_secs());
        assert_eq!([secs(0), secs(1), secs(2), secs(3), secs(4)], [None, Some(10), Some(20), Some(40), None]);
        assert_eq!(Retry::default().delay(1), None, "no retries unless asked");
        let huge = Retry { attempts: 10, delay_seconds: MAX_RETRY_DELAY_SECONDS };
        assert_eq!(huge.delay(10).map(|d| d.as_secs()), Some(86_400 * 512));
        let mut t = task();
        t.retry = Retry { attempts: 11, delay_seconds: 0 };
        let fields: Vec<String> = check_task(&t).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["retry.attempts", "retry.delay_seconds"]);
    }

    #[test]
    fn defaults_match_truenas() {
        let t = task();
        assert_eq!(t.transfers, 4);
        assert!(t.enabled);
        assert_eq!(t.schedule, None);
        assert!(check_task(&t).is_empty());
    }

    #[test]
    fn names_each_bad_field() {
        let mut t = task();
        t.description = " ".into();
        t.path = "relative".into();
        t.include = vec!["*.jpg".into(), "{a,b".into()];
        t.bwlimit = vec![
            BwLimit { time: "08:00".into(), bandwidth: Some(1) },
            BwLimit { time: "07:00".into(), bandwidth: None },
            BwLimit { time: "25:00".into(), bandwidth: None },
        ];
        t.transfers = 0;
        t.attributes.folder = "../etc".into();
        t.schedule = Some(Schedule { dom: "32".into(), ..Schedule::default() });
        t.pre_script = "echo hi \u{0}".into();
        let fields: Vec<String> = check_task(&t).into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "description",
                "path",
                "include[1]",
                "attributes.folder",
                "bwlimit[1].time",
                "bwlimit[2].time",
                "transfers",
                "pre_script",
                "schedule.dom"
            ]
        );
        let mut t = task();
        t.description = "a\u{0}b".into();
        t.attributes.bucket = "b\nx".into();
        t.path = "/srv/\u{0}".into();
        let fields: Vec<String> = check_task(&t).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["description", "path", "attributes.bucket"]);
    }

    #[test]
    fn patterns_and_times() {
        assert!(check_pattern("**/*.{jpg,png}").is_ok());
        assert!(check_pattern("/cache/**").is_ok());
        assert!(check_pattern("a]").is_err());
        assert!(check_pattern("").is_err());
        assert_eq!(parse_hhmm("23:59"), Ok(1439));
        assert!(parse_hhmm("7:00").is_err());
        assert!(parse_hhmm("12:60").is_err());
    }
}
