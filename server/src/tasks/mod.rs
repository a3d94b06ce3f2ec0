//! Cloud sync tasks: checking settings against the server's state (`validate`) and
//! keeping them (`store`). Running them is the runner's job.

pub mod store;

use std::path::{Path, PathBuf};

use protocol::credentials::SecretInput;
use protocol::tasks::{check_task, TaskParams, Timetable, BUCKET_BACKENDS};
use protocol::FieldError;

/// The crypt password and salt of a task; never serialised into the task's settings.
#[derive(Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CryptSecrets {
    pub password: String,
    pub salt: String,
}

impl std::fmt::Debug for CryptSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CryptSecrets(..)")
    }
}

/// A task's settings that passed `validate` (or, restored from a backup, `restored`),
/// secrets split off, with the schedule they parse to. Only this reaches the task
/// store; its fields are private so nothing else can make one.
#[derive(Clone, Debug)]
pub struct ValidTask {
    settings: TaskParams,
    crypt: Option<CryptSecrets>,
    schedule: Option<protocol::schedule::CronSpec>,
    bandwidth: Timetable,
}

impl ValidTask {
    pub fn settings(&self) -> &TaskParams {
        &self.settings
    }

    pub fn crypt(&self) -> Option<&CryptSecrets> {
        self.crypt.as_ref()
    }

    /// The parsed bandwidth timetable.
    pub fn bandwidth(&self) -> &Timetable {
        &self.bandwidth
    }

    /// The parsed schedule when the task is enabled and has one: what the scheduler plans.
    pub fn planned_schedule(&self) -> Option<&protocol::schedule::CronSpec> {
        self.schedule.as_ref().filter(|_| self.settings.enabled)
    }

    /// A task from a backup: checked by `check_task` alone (its folder may not exist
    /// here; the runner checks it at each start), disabled, secrets given separately.
    /// Settings brought from elsewhere (TrueNAS): checked like a restored backup's,
    /// disabled, with the crypt secrets that came with them.
    pub fn imported(
        settings: TaskParams,
        credential: i64,
        crypt: Option<CryptSecrets>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut task = ValidTask::restored(settings, credential)?;
        task.crypt = crypt;
        Ok(task)
    }

    /// The same task using credential `id` (an import learns the id when it writes).
    pub fn pointing_at(mut self, id: i64) -> Self {
        self.settings.credentials = id;
        self
    }

    pub fn restored(mut settings: TaskParams, credential: i64) -> Result<Self, Vec<FieldError>> {
        let errors = check_task(&settings);
        if !errors.is_empty() {
            return Err(errors);
        }
        settings.credentials = credential;
        settings.enabled = false;
        settings.encryption_password = None;
        settings.encryption_salt = None;
        settings.description = settings.description.trim().to_string();
        let schedule = parsed_schedule(&settings);
        let bandwidth = Timetable::parse(&settings.bwlimit).unwrap_or_default();
        Ok(ValidTask { settings, crypt: None, schedule, bandwidth })
    }
}

/// The schedule of settings that passed `check_task` (so it parses; the timetable too,
/// and `check_task` names the entry at fault where `Timetable::parse` would not).
fn parsed_schedule(t: &TaskParams) -> Option<protocol::schedule::CronSpec> {
    t.schedule.as_ref().and_then(|s| protocol::schedule::CronSpec::parse(s).ok())
}

/// Where local paths may be. `/` itself only when configured explicitly; never inside,
/// or holding, a denied folder (the data directory: seed and database).
#[derive(Clone, Debug)]
pub struct AllowedRoots {
    roots: Vec<PathBuf>,
    explicit: bool,
    denied: Vec<PathBuf>,
}

impl AllowedRoots {
    /// With no configured roots, anything but `/` itself is allowed.
    pub fn new(configured: Vec<PathBuf>) -> Self {
        if configured.is_empty() {
            AllowedRoots { roots: vec![PathBuf::from("/")], explicit: false, denied: Vec::new() }
        } else {
            AllowedRoots { roots: configured, explicit: true, denied: Vec::new() }
        }
    }

    /// Also refuses folders inside or around each of `denied`.
    pub fn denying(mut self, denied: Vec<PathBuf>) -> Self {
        self.denied = denied.into_iter().map(|d| std::fs::canonicalize(&d).unwrap_or(d)).collect();
        self
    }

    pub fn check(&self, path: &Path) -> Result<PathBuf, String> {
        let real = std::fs::canonicalize(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "does not exist".to_string(),
            _ => format!("cannot be read: {e}"),
        })?;
        if !real.is_dir() {
            return Err("is not a directory".into());
        }
        if real == Path::new("/") && !(self.explicit && self.roots.iter().any(|r| r == Path::new("/"))) {
            return Err("must not be / itself; choose a folder (or start the server with --allowed-root /)".into());
        }
        if !self.roots.iter().any(|r| real.starts_with(r)) {
            let list: Vec<String> = self.roots.iter().map(|r| r.display().to_string()).collect();
            return Err(format!("must be under one of the allowed roots: {}", list.join(", ")));
        }
        if let Some(d) = self.denied.iter().find(|d| real.starts_with(d) || d.starts_with(&real)) {
            return Err(format!(
                "must not be or hold cloudsync's data directory {} (its secret seed and database)",
                d.display()
            ));
        }
        Ok(real)
    }
}

/// With `follow_symlinks`, rclone follows links as the server's user (root on a NAS):
/// a folder another user can write to, or one under such a folder, would let that user
/// plant a link to any file. Those folders are refused. A sticky folder (`/tmp`) only
/// lets users replace their own entries, so it does not count.
pub fn check_not_writable_by_others(real: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let mut dir = Some(real);
    let mut first = true;
    while let Some(d) = dir {
        let meta = std::fs::metadata(d).map_err(|e| format!("cannot be checked: {e}"))?;
        let mode = meta.mode();
        let sticky = mode & 0o1000 != 0;
        let others_write = mode & 0o022 != 0 && (first || !sticky);
        let foreign_owner = meta.uid() != me && meta.uid() != 0;
        if others_write || foreign_owner {
            let whose = if foreign_owner {
                format!("belongs to user id {}", meta.uid())
            } else {
                "is writable by other users".into()
            };
            return Err(format!(
                "{} {whose}, and following symlinks there would read or write as the server's user; turn off follow_symlinks or fix the folder's owner and mode",
                d.display()
            ));
        }
        first = false;
        dir = d.parent();
    }
    Ok(())
}

/// What `validate` needs to know about the task's credential.
pub struct CredentialFacts {
    pub backend: String,
    pub decrypts: bool,
}

/// Checks `t` against the rules in `protocol::tasks::check_task` and the server's
/// state. `stored` holds the task's current crypt secrets on an update.
pub fn validate(
    mut t: TaskParams,
    credential: Option<&CredentialFacts>,
    roots: &AllowedRoots,
    stored: Option<&CryptSecrets>,
) -> Result<ValidTask, Vec<FieldError>> {
    let mut errors = check_task(&t);
    match credential {
        None => errors.push(FieldError::new("credentials", format!("credential {} does not exist", t.credentials))),
        Some(c) if !c.decrypts => errors.push(FieldError::new(
            "credentials",
            "this credential cannot be decrypted; enter its settings again first",
        )),
        Some(c) => {
            if BUCKET_BACKENDS.contains(&c.backend.as_str()) && t.attributes.bucket.trim().is_empty() {
                errors.push(FieldError::new("attributes.bucket", format!("is required for {}", c.backend)));
            }
        }
    }
    if t.path.starts_with('/') && !errors.iter().any(|e| e.field == "path") {
        match roots.check(Path::new(&t.path)) {
            Ok(real) => {
                if t.follow_symlinks {
                    if let Err(why) = check_not_writable_by_others(&real) {
                        errors.push(FieldError::new("follow_symlinks", why));
                    }
                }
                t.path = real.display().to_string();
            }
            Err(why) => errors.push(FieldError::new("path", why)),
        }
    }
    let password = SecretInput::resolve(t.encryption_password.as_ref(), stored.map(|s| s.password.as_str()));
    let salt = SecretInput::resolve(t.encryption_salt.as_ref(), stored.map(|s| s.salt.as_str()));
    let crypt = if t.encryption {
        if password.is_empty() && !errors.iter().any(|e| e.field == "encryption_password") {
            errors.push(FieldError::new("encryption_password", "is required when encryption is on"));
        }
        Some(CryptSecrets { password, salt })
    } else {
        None
    };
    t.encryption_password = None;
    t.encryption_salt = None;
    t.description = t.description.trim().to_string();
    if errors.is_empty() {
        let schedule = parsed_schedule(&t);
        let bandwidth = Timetable::parse(&t.bwlimit).unwrap_or_default();
        Ok(ValidTask { settings: t, crypt, schedule, bandwidth })
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(path: &str) -> TaskParams {
        serde_json::from_value(serde_json::json!({
            "description": "d", "credentials": 1, "direction": "PUSH", "transfer_mode": "COPY", "path": path
        }))
        .unwrap()
    }

    fn s3() -> CredentialFacts {
        CredentialFacts { backend: "s3".into(), decrypts: true }
    }

    #[test]
    fn paths_must_exist_be_directories_and_lie_under_a_root() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let roots = AllowedRoots::new(vec![dir.path().to_path_buf()]);
        assert!(roots.check(dir.path()).is_ok());
        assert_eq!(roots.check(&dir.path().join("missing")).unwrap_err(), "does not exist");
        assert_eq!(roots.check(&file).unwrap_err(), "is not a directory");
        assert!(roots.check(Path::new("/usr")).unwrap_err().starts_with("must be under one of the allowed roots"));
        assert!(AllowedRoots::new(vec![]).check(Path::new("/")).unwrap_err().starts_with("must not be / itself"));
        assert!(AllowedRoots::new(vec!["/".into()]).check(Path::new("/")).is_ok());
    }

    #[test]
    fn bucket_and_crypt_password_are_required_where_needed() {
        let dir = tempfile::tempdir().unwrap();
        let roots = AllowedRoots::new(vec![]);
        let mut t = params(dir.path().to_str().unwrap());
        t.encryption = true;
        let errors = validate(t.clone(), Some(&s3()), &roots, None).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["attributes.bucket", "encryption_password"]);
        t.attributes.bucket = "b".into();
        t.encryption_password = Some(SecretInput::Keep);
        let kept =
            validate(t, Some(&s3()), &roots, Some(&CryptSecrets { password: "old".into(), salt: String::new() }))
                .unwrap();
        assert_eq!(kept.crypt.unwrap().password, "old", "a masked password keeps the stored one");
        assert_eq!(kept.settings.encryption_password, None, "secrets are split off the settings");
    }
}
