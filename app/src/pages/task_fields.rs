//! A task as its form edits it: one signal per field, made from a saved task (or the
//! defaults) by [`TaskFields::new`] and turned back into params by
//! [`TaskFields::to_params`], as [`ScheduleFields`] does for the schedule.

use leptos::prelude::*;
use protocol::credentials::SecretInput;
use protocol::tasks::{BwLimit, Direction, RemoteLocation, Retry, SyncTask, TaskParams, TransferMode};

use super::task_schedule::ScheduleFields;

/// A bandwidth row as the form edits it: time and MiB/s as text ("" = unlimited).
#[derive(Clone, Debug, PartialEq)]
pub struct BwRow {
    pub key: u32,
    pub time: RwSignal<String>,
    pub mibps: RwSignal<String>,
}

/// A field the form could not even turn into params, e.g. `transfers` not a number:
/// (field, message), named as the server would name it.
pub type LocalError = (String, String);

#[derive(Clone, Copy)]
pub struct TaskFields {
    pub description: RwSignal<String>,
    /// The credential's id as the select holds it.
    pub credential: RwSignal<String>,
    pub direction: RwSignal<Direction>,
    pub mode: RwSignal<TransferMode>,
    pub path: RwSignal<String>,
    pub bucket: RwSignal<String>,
    pub folder: RwSignal<String>,
    /// One pattern per line.
    pub include: RwSignal<String>,
    pub exclude: RwSignal<String>,
    pub transfers: RwSignal<String>,
    pub follow_symlinks: RwSignal<bool>,
    pub empty_dirs: RwSignal<bool>,
    pub max_delete: RwSignal<String>,
    pub allow_empty_source: RwSignal<bool>,
    /// A whole number of percent; "" is no limit.
    pub max_delete_percent: RwSignal<String>,
    pub keep_deleted: RwSignal<bool>,
    /// Days as text; "" keeps forever.
    pub keep_deleted_days: RwSignal<String>,
    pub verify: RwSignal<bool>,
    pub retry_attempts: RwSignal<String>,
    pub retry_delay: RwSignal<String>,
    pub catch_up: RwSignal<bool>,
    /// Safe rclone flags, separated by spaces.
    pub extra_flags: RwSignal<String>,
    pub notify_targets: RwSignal<Vec<i64>>,
    pub notify_on: RwSignal<protocol::notify::NotifyOn>,
    pub enabled: RwSignal<bool>,
    pub encryption: RwSignal<bool>,
    pub filename_encryption: RwSignal<bool>,
    /// Empty with a saved one means "keep the saved one".
    pub password: RwSignal<String>,
    pub salt: RwSignal<String>,
    pub password_saved: bool,
    pub salt_saved: bool,
    pub pre_script: RwSignal<String>,
    pub post_script: RwSignal<String>,
    pub schedule: ScheduleFields,
    pub bw_rows: RwSignal<Vec<BwRow>>,
    next_key: StoredValue<u32>,
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

fn mib(bytes: u64) -> String {
    format!("{}", bytes as f64 / 1048576.0)
}

impl TaskFields {
    /// The fields of `existing`, or a new task's defaults with `first_credential` chosen.
    pub fn new(existing: Option<&SyncTask>, first_credential: Option<i64>) -> TaskFields {
        let e = existing;
        let text = |f: fn(&SyncTask) -> String| RwSignal::new(e.map(f).unwrap_or_default());
        let fields = TaskFields {
            description: text(|t| t.description.clone()),
            credential: RwSignal::new(
                e.map(|t| t.credentials).or(first_credential).map(|id| id.to_string()).unwrap_or_default(),
            ),
            direction: RwSignal::new(e.map_or(Direction::Push, |t| t.direction)),
            mode: RwSignal::new(e.map_or(TransferMode::Copy, |t| t.transfer_mode)),
            path: text(|t| t.path.clone()),
            bucket: text(|t| t.attributes.bucket.clone()),
            folder: text(|t| t.attributes.folder.clone()),
            include: text(|t| t.include.join("\n")),
            exclude: text(|t| t.exclude.join("\n")),
            transfers: RwSignal::new(e.map_or_else(|| "4".into(), |t| t.transfers.to_string())),
            follow_symlinks: RwSignal::new(e.is_some_and(|t| t.follow_symlinks)),
            empty_dirs: RwSignal::new(e.is_some_and(|t| t.create_empty_src_dirs)),
            max_delete: text(|t| t.max_delete.map(|n| n.to_string()).unwrap_or_default()),
            allow_empty_source: RwSignal::new(e.is_some_and(|t| t.allow_empty_source)),
            max_delete_percent: RwSignal::new(e.map_or_else(
                || protocol::tasks::DEFAULT_MAX_DELETE_PERCENT.to_string(),
                |t| t.max_delete_percent.map(|p| p.to_string()).unwrap_or_default(),
            )),
            keep_deleted: RwSignal::new(e.is_some_and(|t| t.keep_deleted)),
            keep_deleted_days: text(|t| t.keep_deleted_days.map(|d| d.to_string()).unwrap_or_default()),
            verify: RwSignal::new(e.is_some_and(|t| t.verify)),
            retry_attempts: RwSignal::new(e.map_or(0, |t| t.retry.attempts).to_string()),
            retry_delay: RwSignal::new(
                e.map_or_else(|| Retry::default().delay_seconds, |t| t.retry.delay_seconds).to_string(),
            ),
            catch_up: RwSignal::new(e.is_some_and(|t| t.catch_up)),
            extra_flags: text(|t| t.extra_flags.join(" ")),
            notify_targets: RwSignal::new(e.map(|t| t.notify.targets.clone()).unwrap_or_default()),
            notify_on: RwSignal::new(e.map(|t| t.notify.on).unwrap_or_default()),
            enabled: RwSignal::new(e.is_none_or(|t| t.enabled)),
            encryption: RwSignal::new(e.is_some_and(|t| t.encryption)),
            filename_encryption: RwSignal::new(e.is_none_or(|t| t.filename_encryption)),
            password: RwSignal::new(String::new()),
            salt: RwSignal::new(String::new()),
            password_saved: e.is_some_and(|t| t.encryption_password.is_some()),
            salt_saved: e.is_some_and(|t| t.encryption_salt.is_some()),
            pre_script: text(|t| t.pre_script.clone()),
            post_script: text(|t| t.post_script.clone()),
            schedule: ScheduleFields::new(e.and_then(|t| t.schedule.as_ref())),
            bw_rows: RwSignal::new(Vec::new()),
            next_key: StoredValue::new(0),
        };
        for b in e.map(|t| t.bwlimit.as_slice()).unwrap_or_default() {
            fields.add_bw_row(b.time.clone(), b.bandwidth.map(mib).unwrap_or_default());
        }
        fields
    }

    /// Appends a bandwidth row.
    pub fn add_bw_row(self, time: String, mibps: String) {
        let key = self.next_key.get_value();
        self.next_key.set_value(key + 1);
        let row = BwRow { key, time: RwSignal::new(time), mibps: RwSignal::new(mibps) };
        self.bw_rows.update(|rows| rows.push(row));
    }

    /// The params to save, read without tracking; a field that is not even of the right
    /// kind (a number, say) is an error naming it. Everything else is left to
    /// `check_task` and the server.
    pub fn to_params(self) -> Result<TaskParams, LocalError> {
        let whole_number = |field: &str| (field.to_string(), "must be a whole number".to_string());
        let transfers: u32 = self.transfers.get_untracked().trim().parse().map_err(|_| whole_number("transfers"))?;
        let max_delete = match self.max_delete.get_untracked().trim() {
            "" => None,
            v => Some(v.parse::<u64>().map_err(|_| whole_number("max_delete"))?),
        };
        let max_delete_percent = match self.max_delete_percent.get_untracked().trim() {
            "" => None,
            v => Some(v.parse::<u8>().map_err(|_| {
                ("max_delete_percent".to_string(), "must be a whole number from 1 to 100, or empty".to_string())
            })?),
        };
        let keep_deleted = self.keep_deleted.get_untracked();
        let keep_deleted_days = match self.keep_deleted_days.get_untracked().trim() {
            _ if !keep_deleted => None,
            "" => None,
            v => Some(v.parse::<u32>().map_err(|_| {
                (
                    "keep_deleted_days".to_string(),
                    "must be a whole number of days, or empty to keep forever".to_string(),
                )
            })?),
        };
        let retry = Retry {
            attempts: self.retry_attempts.get_untracked().trim().parse().map_err(|_| whole_number("retry.attempts"))?,
            delay_seconds: self
                .retry_delay
                .get_untracked()
                .trim()
                .parse()
                .map_err(|_| whole_number("retry.delay_seconds"))?,
        };
        let mut bwlimit = Vec::new();
        for (i, r) in self.bw_rows.get_untracked().iter().enumerate() {
            let bandwidth = match r.mibps.get_untracked().trim() {
                "" => None,
                v => {
                    let mibps = v
                        .parse::<f64>()
                        .map_err(|_| (format!("bwlimit[{i}].bandwidth"), "must be a number of MiB/s".to_string()))?;
                    Some((mibps * 1048576.0) as u64)
                }
            };
            bwlimit.push(BwLimit { time: r.time.get_untracked().trim().to_string(), bandwidth });
        }
        let secret =
            |v: String, saved: bool| Some(if v.is_empty() && saved { SecretInput::Keep } else { SecretInput::Set(v) });
        Ok(TaskParams {
            description: self.description.get_untracked(),
            credentials: self
                .credential
                .get_untracked()
                .parse()
                .map_err(|_| ("credentials".to_string(), "choose a credential".to_string()))?,
            direction: self.direction.get_untracked(),
            transfer_mode: self.mode.get_untracked(),
            path: self.path.get_untracked().trim().to_string(),
            attributes: RemoteLocation {
                bucket: self.bucket.get_untracked().trim().to_string(),
                folder: self.folder.get_untracked().trim().trim_matches('/').to_string(),
            },
            include: lines(&self.include.get_untracked()),
            exclude: lines(&self.exclude.get_untracked()),
            pre_script: self.pre_script.get_untracked(),
            post_script: self.post_script.get_untracked(),
            bwlimit,
            transfers,
            follow_symlinks: self.follow_symlinks.get_untracked(),
            create_empty_src_dirs: self.empty_dirs.get_untracked(),
            encryption: self.encryption.get_untracked(),
            filename_encryption: self.filename_encryption.get_untracked(),
            encryption_password: secret(self.password.get_untracked(), self.password_saved),
            encryption_salt: secret(self.salt.get_untracked(), self.salt_saved),
            schedule: untrack(|| self.schedule.schedule()),
            enabled: self.enabled.get_untracked(),
            max_delete,
            allow_empty_source: self.allow_empty_source.get_untracked(),
            max_delete_percent,
            keep_deleted,
            keep_deleted_days,
            verify: self.verify.get_untracked(),
            retry,
            catch_up: self.catch_up.get_untracked(),
            notify: protocol::notify::TaskNotify {
                targets: self.notify_targets.get_untracked(),
                on: self.notify_on.get_untracked(),
            },
            extra_flags: self.extra_flags.get_untracked().split_whitespace().map(str::to_string).collect(),
            // Saving from the form is the review.
            review: Vec::new(),
        })
    }
}
