//! A remote's configuration as rclone reads it: `RCLONE_CONFIG_<REMOTE>_<OPTION>`
//! environment variables, or, for OAuth remotes whose token rclone refreshes, a private
//! 0600 config file under the runtime folder; and the redaction of its secrets from
//! anything rclone prints.

use std::collections::BTreeMap;
use std::path::Path;

/// The name remotes get on rclone's command line: `cloudsync:bucket/folder`.
pub const REMOTE: &str = "cloudsync";

/// A remote's configuration, given to rclone as environment variables, or, for OAuth
/// remotes whose token rclone may refresh, as a 0600 config file in a private temporary
/// folder (removed when the last clone of this value is dropped) so the refreshed token
/// can be read back. The file is written once, when rclone first starts, with every
/// remote added by then (a crypt remote wrapping this one included).
#[derive(Clone, Default)]
pub struct RemoteEnv {
    pub(super) vars: Vec<(String, String)>,
    /// `(remote, option, value)` as rclone's config file holds them.
    entries: Vec<(String, String, String)>,
    /// Values that must never appear in anything shown to a user.
    secrets: Vec<String>,
    /// `Some` when rclone gets a config file; filled at the first `spawn`.
    pub(super) config_file: Option<std::sync::Arc<std::sync::Mutex<Option<ConfigFile>>>>,
}

/// A private rclone config file.
pub struct ConfigFile {
    _dir: tempfile::TempDir,
    pub path: std::path::PathBuf,
    /// The `token` of [`REMOTE`] as written, to notice a refresh.
    token_written: Option<String>,
}

impl std::fmt::Debug for RemoteEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.vars.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("RemoteEnv").field("vars", &names).finish_non_exhaustive()
    }
}

impl RemoteEnv {
    /// `backend` is rclone's type (`s3`, `sftp`, …); `attributes` are option values as
    /// rclone reads them; `obscured` names the options rclone expects obscured and
    /// `secret` those to redact from output.
    ///
    /// An attribute that would set the remote's type (`type`, `TYPE`, anything rclone
    /// would read as `RCLONE_CONFIG_<REMOTE>_TYPE`) is refused: it would switch
    /// the backend behind the credential's back.
    pub fn new(
        name: &str,
        backend: &str,
        attributes: &BTreeMap<String, String>,
        obscured: &dyn Fn(&str) -> bool,
        secret: &dyn Fn(&str) -> bool,
    ) -> Result<Self, String> {
        if let Some(bad) = attributes.keys().find(|k| env_name(k) == "TYPE" || k.trim().is_empty()) {
            return Err(format!(
                "the attribute `{}` is not an option and cannot be given to rclone",
                bad.escape_debug()
            ));
        }
        let prefix = format!("RCLONE_CONFIG_{}_", env_name(name));
        let mut env = RemoteEnv::default();
        env.vars.push((format!("{prefix}TYPE"), backend.to_string()));
        env.entries.push((name.to_string(), "type".into(), backend.to_string()));
        for (key, value) in attributes {
            let value = if obscured(key) && !value.is_empty() { super::obscure::obscure(value) } else { value.clone() };
            env.entries.push((name.to_string(), key.clone(), value.clone()));
            if (secret(key) || obscured(key)) && !value.is_empty() {
                env.secrets.push(attributes[key].clone());
                env.secrets.push(value.clone());
                // A secret that is JSON (an OAuth token) is redacted member by member
                // too: rclone may print its access_token or refresh_token alone.
                env.secrets.extend(json_strings(&attributes[key]));
            }
            env.vars.push((format!("{prefix}{}", env_name(key)), value));
        }
        Ok(env)
    }

    /// Adds another remote's variables (a crypt remote wrapping this one).
    pub fn extend(&mut self, other: RemoteEnv) {
        self.vars.extend(other.vars);
        self.entries.extend(other.entries);
        self.secrets.extend(other.secrets);
    }

    /// Gives rclone a config file instead of variables (see the type's comment).
    pub fn with_config_file(mut self) -> RemoteEnv {
        self.config_file = Some(Default::default());
        self
    }

    /// The config file's path, writing the file the first time; `None` without one.
    pub(super) fn config_path(&self) -> std::io::Result<Option<std::path::PathBuf>> {
        let Some(cell) = &self.config_file else { return Ok(None) };
        let mut file = cell.lock().expect("config file lock");
        if file.is_none() {
            let mut written = write_config(&self.entries)?;
            written.token_written =
                self.entries.iter().find(|(r, k, _)| r == REMOTE && k == "token").map(|(_, _, v)| v.clone());
            *file = Some(written);
        }
        Ok(file.as_ref().map(|f| f.path.clone()))
    }

    /// The token of [`REMOTE`] if rclone changed it in the config file.
    pub fn refreshed_token(&self) -> Option<String> {
        let cell = self.config_file.as_ref()?;
        let guard = cell.lock().expect("config file lock");
        let file = guard.as_ref()?;
        let text = std::fs::read_to_string(&file.path).ok()?;
        let mut section = String::new();
        for line in text.lines().map(str::trim) {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_string();
            } else if section == REMOTE {
                if let Some((k, v)) = line.split_once('=') {
                    if k.trim() == "token" {
                        let v = v.trim().to_string();
                        return (Some(&v) != file.token_written.as_ref() && !v.is_empty()).then_some(v);
                    }
                }
            }
        }
        None
    }

    /// Replaces every secret value in `text` with `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        let mut secrets: Vec<&String> = self.secrets.iter().filter(|s| s.len() >= 3).collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for s in secrets {
            out = out.replace(s.as_str(), "***");
        }
        out
    }
}

/// Where private config folders go (`use_runtime_dir`); `$TMPDIR` when unset.
static RUNTIME_DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

const CONFIG_DIR_PREFIX: &str = "cloudsync-rclone-";

/// Makes `dir` (0700) the home of the private config folders, and removes folders a
/// killed server left there, or in `$TMPDIR` where earlier versions kept them: they
/// hold OAuth tokens and crypt passwords. Once per process; later calls keep the first.
pub fn use_runtime_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let started = std::time::SystemTime::now();
    let _ = RUNTIME_DIR.set(dir.to_path_buf());
    for (folder, only_older) in [(dir.to_path_buf(), false), (std::env::temp_dir(), true)] {
        let removed = remove_stale_config_dirs(&folder, only_older.then_some(started));
        if removed > 0 {
            tracing::info!(removed, folder = %folder.display(), "removed rclone config folders a previous run left behind");
        }
    }
    Ok(())
}

/// Removes `cloudsync-rclone-*` folders owned by this user in `folder` (modified before
/// `older_than`, when given, so live folders of other servers in a shared `$TMPDIR` stay).
pub fn remove_stale_config_dirs(folder: &Path, older_than: Option<std::time::SystemTime>) -> usize {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let Ok(entries) = std::fs::read_dir(folder) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(CONFIG_DIR_PREFIX) {
            continue;
        }
        let Ok(meta) = entry.path().symlink_metadata() else { continue };
        let old_enough = older_than.is_none_or(|t| meta.modified().is_ok_and(|m| m < t));
        if meta.is_dir() && meta.uid() == me && old_enough && std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

fn write_config(entries: &[(String, String, String)]) -> std::io::Result<ConfigFile> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut builder = tempfile::Builder::new();
    builder.prefix(CONFIG_DIR_PREFIX);
    let dir = match RUNTIME_DIR.get() {
        Some(root) => builder.tempdir_in(root)?,
        None => builder.tempdir()?,
    };
    let path = dir.path().join("rclone.conf");
    let mut text = String::new();
    let mut current = "";
    for (remote, key, value) in entries {
        if remote != current {
            text.push_str(&format!("[{remote}]\n"));
            current = remote;
        }
        // One line per value: rclone's config format has no continuation lines.
        text.push_str(&format!("{key} = {}\n", value.replace(['\n', '\r'], " ")));
    }
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
    f.write_all(text.as_bytes())?;
    Ok(ConfigFile { _dir: dir, path, token_written: None })
}

/// The string values inside `text` when it is a JSON object (8 characters or more: the
/// token's `token_type` "Bearer" is no secret).
fn json_strings(text: &str) -> Vec<String> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text) else { return Vec::new() };
    map.into_iter().filter_map(|(_, v)| v.as_str().map(str::to_string)).filter(|v| v.len() >= 8).collect()
}

fn env_name(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_is_written_once_with_every_remote_and_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let mut attrs = BTreeMap::new();
        attrs.insert("token".to_string(), r#"{"access_token":"a"}"#.to_string());
        let mut env =
            RemoteEnv::new(REMOTE, "drive", &attrs, &|_| false, &|k| k == "token").unwrap().with_config_file();
        let mut crypt = BTreeMap::new();
        crypt.insert("remote".to_string(), format!("{REMOTE}:backup"));
        env.extend(RemoteEnv::new("crypted", "crypt", &crypt, &|_| false, &|_| false).unwrap());
        let path = env.config_path().unwrap().unwrap();
        assert_eq!(env.config_path().unwrap().unwrap(), path, "written once");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(&format!("[{REMOTE}]")) && text.contains("[crypted]"), "{text}");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(env.refreshed_token(), None);
        std::fs::write(&path, text.replace(r#"{"access_token":"a"}"#, r#"{"access_token":"b"}"#)).unwrap();
        assert_eq!(env.refreshed_token().as_deref(), Some(r#"{"access_token":"b"}"#));
        let dir = path.parent().unwrap().to_path_buf();
        drop(env);
        assert!(!dir.exists(), "the private folder goes with the last clone");
    }

    fn remote() -> RemoteEnv {
        let mut attrs = BTreeMap::new();
        attrs.insert("user".to_string(), "alice".to_string());
        attrs.insert("pass".to_string(), "hunter22".to_string());
        attrs.insert("secret_access_key".to_string(), "AKIASECRETVALUE".to_string());
        RemoteEnv::new("cloudsync", "webdav", &attrs, &|k| k == "pass", &|k| k == "secret_access_key").unwrap()
    }

    #[test]
    fn an_attribute_that_would_set_the_type_is_refused() {
        for key in ["type", "TYPE", "Type"] {
            let mut attrs = BTreeMap::new();
            attrs.insert("host".to_string(), "localhost".to_string());
            attrs.insert(key.to_string(), "sftp".to_string());
            let e = RemoteEnv::new(REMOTE, "b2", &attrs, &|_| false, &|_| false).unwrap_err();
            assert!(e.contains("is not an option"), "{e}");
        }
    }

    #[test]
    fn stale_config_folders_are_removed_and_fresh_ones_kept() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("cloudsync-rclone-old")).unwrap();
        std::fs::write(root.path().join("cloudsync-rclone-old/rclone.conf"), "token = x").unwrap();
        std::fs::create_dir(root.path().join("other")).unwrap();
        let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        assert_eq!(remove_stale_config_dirs(root.path(), Some(past)), 0, "newer than the cut-off");
        assert_eq!(remove_stale_config_dirs(root.path(), None), 1);
        assert!(!root.path().join("cloudsync-rclone-old").exists());
        assert!(root.path().join("other").exists());
    }

    #[test]
    fn configures_the_remote_through_environment_names() {
        let r = remote();
        let names: Vec<&str> = r.vars.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "RCLONE_CONFIG_CLOUDSYNC_TYPE",
                "RCLONE_CONFIG_CLOUDSYNC_PASS",
                "RCLONE_CONFIG_CLOUDSYNC_SECRET_ACCESS_KEY",
                "RCLONE_CONFIG_CLOUDSYNC_USER"
            ]
        );
        let pass = &r.vars.iter().find(|(k, _)| k.ends_with("_PASS")).unwrap().1;
        assert_ne!(pass, "hunter22", "password options are obscured");
        assert_eq!(crate::rclone::obscure::reveal(pass).as_deref(), Some("hunter22"));
        assert!(!format!("{r:?}").contains("hunter22"));
    }

    #[test]
    fn the_members_of_a_json_token_are_redacted_one_by_one() {
        let mut attrs = BTreeMap::new();
        attrs.insert(
            "token".to_string(),
            r#"{"access_token":"ya29.access-part","token_type":"Bearer","refresh_token":"1//refresh-part"}"#
                .to_string(),
        );
        let env = RemoteEnv::new(REMOTE, "drive", &attrs, &|_| false, &|k| k == "token").unwrap();
        assert_eq!(
            env.redact("refresh failed for 1//refresh-part (was ya29.access-part), Bearer"),
            "refresh failed for *** (was ***), Bearer"
        );
    }
}
