//! `system.*`: facts about the server the app shows on its System page.

use serde::{Deserialize, Serialize};

use crate::{method, Empty};

method!(
    /// Versions, paths and the time zone of the server.
    Info = "system.info", Empty => SystemInfo
);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SystemInfo {
    /// cloudsync's own version.
    pub version: String,
    /// `None` when rclone is missing or did not answer; `rclone_problem` says why.
    pub rclone_version: Option<String>,
    pub rclone_path: String,
    /// Set when rclone is missing, unusable or older than the oldest supported version.
    pub rclone_problem: Option<String>,
    pub postgres_version: String,
    pub data_dir: String,
    /// IANA name of the zone schedules are evaluated in.
    pub timezone: String,
}

/// The oldest rclone release cloudsync works with.
pub const MIN_RCLONE: (u32, u32) = (1, 60);

/// Reads the version out of the first line of `rclone version` ("rclone v1.75.2").
pub fn parse_rclone_version(output: &str) -> Option<String> {
    let first = output.lines().next()?.trim();
    let v = first.strip_prefix("rclone v")?;
    let v = v.split_whitespace().next()?;
    (!v.is_empty()).then(|| v.to_string())
}

/// Whether a version string such as `1.75.2` or `1.60.1-DEV` is at least [`MIN_RCLONE`].
pub fn rclone_is_supported(version: &str) -> bool {
    let mut parts = version.split(|c: char| !c.is_ascii_digit()).filter(|p| !p.is_empty());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= MIN_RCLONE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_version_from_rclone_output() {
        assert_eq!(parse_rclone_version("rclone v1.75.2\n- os/version: debian").as_deref(), Some("1.75.2"));
        assert_eq!(parse_rclone_version("rclone v1.60.1-DEV\n").as_deref(), Some("1.60.1-DEV"));
        assert_eq!(parse_rclone_version("bash: rclone: not found"), None);
        assert_eq!(parse_rclone_version(""), None);
    }

    #[test]
    fn supports_1_60_and_later_only() {
        assert!(rclone_is_supported("1.60.1-DEV"));
        assert!(rclone_is_supported("1.75.2"));
        assert!(rclone_is_supported("2.0.0"));
        assert!(!rclone_is_supported("1.59.9"));
        assert!(!rclone_is_supported("garbage"));
    }
}
