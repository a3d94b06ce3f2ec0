//! Finding rclone and asking its version (through `process`, which starts every rclone
//! process).

use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol::system::{parse_rclone_version, rclone_is_supported, MIN_RCLONE};

/// What the server knows about its rclone, reported by `system.info`.
#[derive(Clone, Debug)]
pub struct RcloneStatus {
    /// The resolved path, or the name as given when it could not be found.
    pub path: PathBuf,
    pub version: Option<String>,
    /// Why rclone cannot be used, in one line.
    pub problem: Option<String>,
}

/// Resolves `rclone` (a path, or a name searched in `PATH`) and runs `rclone version`
/// with a timeout. Never fails: problems are reported in the status.
pub async fn detect(rclone: &Path) -> RcloneStatus {
    let Some(path) = resolve(rclone) else {
        return RcloneStatus {
            path: rclone.into(),
            version: None,
            problem: Some(format!(
                "rclone not found at `{}`; install rclone {}.{} or newer and pass --rclone",
                rclone.display(),
                MIN_RCLONE.0,
                MIN_RCLONE.1
            )),
        };
    };
    let output = match super::process::run(&path, &["version".into()], None, Duration::from_secs(15)).await {
        Ok(out) if out.timed_out => return status(path, None, "`rclone version` did not answer within 15 s".into()),
        Ok(out) => out,
        Err(e) => return status(path, None, format!("cannot run {}: {e}", rclone.display())),
    };
    let text = String::from_utf8_lossy(&output.stdout);
    match parse_rclone_version(&text) {
        Some(v) if rclone_is_supported(&v) => RcloneStatus { path, version: Some(v), problem: None },
        Some(v) => {
            let why = format!("rclone {v} is too old; cloudsync needs {}.{} or newer", MIN_RCLONE.0, MIN_RCLONE.1);
            status(path, Some(v), why)
        }
        None => status(path, None, "`rclone version` printed no version; is this rclone?".into()),
    }
}

fn status(path: PathBuf, version: Option<String>, problem: String) -> RcloneStatus {
    RcloneStatus { path, version, problem: Some(problem) }
}

fn resolve(rclone: &Path) -> Option<PathBuf> {
    if rclone.components().count() > 1 {
        return rclone.is_file().then(|| std::path::absolute(rclone).unwrap_or_else(|_| rclone.into()));
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(rclone))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn fake_rclone(dir: &Path, prints: &str) -> PathBuf {
        let path = dir.join("rclone");
        std::fs::write(&path, format!("#!/bin/sh\necho '{prints}'\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[tokio::test]
    async fn reports_a_missing_rclone_clearly() {
        let s = detect(Path::new("/nonexistent/rclone")).await;
        assert!(s.version.is_none());
        assert!(s.problem.unwrap().contains("rclone not found at `/nonexistent/rclone`"));
    }

    #[tokio::test]
    async fn reports_an_old_rclone_with_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let s = detect(&fake_rclone(dir.path(), "rclone v1.53.3")).await;
        assert_eq!(s.version.as_deref(), Some("1.53.3"));
        assert!(s.problem.unwrap().contains("too old"));
    }

    #[tokio::test]
    async fn accepts_a_current_rclone() {
        let dir = tempfile::tempdir().unwrap();
        let s = detect(&fake_rclone(dir.path(), "rclone v1.75.2")).await;
        assert_eq!(s.version.as_deref(), Some("1.75.2"));
        assert!(s.problem.is_none());
    }
}
