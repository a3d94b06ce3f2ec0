//! What `cloudsync login` remembers: the server URL and a session token, in
//! `$XDG_CONFIG_HOME/cloudsync/cli.json` (or `~/.config/cloudsync/cli.json`), mode 0600
//! in a 0700 folder.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::CliError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub url: String,
    pub username: String,
    pub token: String,
}

pub fn path() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".")).join(".config")
    });
    base.join("cloudsync/cli.json")
}

pub fn load() -> Result<Option<Profile>, CliError> {
    let p = path();
    match std::fs::read(&p) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| CliError::Usage(format!("{} is damaged ({e}); run `cloudsync login` again", p.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CliError::Usage(format!("cannot read {}: {e}", p.display()))),
    }
}

/// Writes the profile readable by its owner only (a fresh file, renamed into place).
pub fn save(profile: &Profile) -> Result<PathBuf, CliError> {
    let p = path();
    let fail = |e: std::io::Error| CliError::Usage(format!("cannot write {}: {e}", p.display()));
    let dir = p.parent().expect("the path has a folder");
    std::fs::create_dir_all(dir).map_err(fail)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(fail)?;
    let tmp = p.with_extension("json.new");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(fail)?;
    f.write_all(&serde_json::to_vec_pretty(profile).expect("serialisable")).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, &p).map_err(fail)?;
    Ok(p)
}

/// Forgets the stored login; true when there was one.
pub fn remove() -> Result<bool, CliError> {
    match std::fs::remove_file(path()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(CliError::Usage(format!("cannot remove {}: {e}", path().display()))),
    }
}
