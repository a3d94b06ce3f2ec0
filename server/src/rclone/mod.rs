//! Everything that knows rclone, and nothing else: starting it (`process`, the only
//! place that does; `compare` reads its content comparisons), a remote's configuration and the redaction of its secrets (`env`),
//! rclone's password obscuring (`obscure`), finding it and its version (`detect`), and
//! reading its backend schema (`schema`). A leaf: nothing here imports the rest of the
//! server, so providers, credentials and the runner all build on it, never the reverse.

pub mod compare;
pub mod detect;
pub mod env;
pub mod obscure;
pub mod process;
pub mod schema;

pub use detect::{detect, RcloneStatus};
pub use env::{RemoteEnv, REMOTE};

/// Whether rclone's message says the provider refused the OAuth login itself (a revoked
/// or expired refresh token), which only a new login fixes.
pub fn login_refused(message: &str) -> bool {
    // The oauth2 library's words, so an S3 "ExpiredToken" or the like never counts.
    const SIGNS: [&str; 4] =
        ["invalid_grant", "couldn't fetch token", "oauth2: token expired", "refresh token is not set"];
    let lower = message.to_ascii_lowercase();
    SIGNS.iter().any(|s| lower.contains(s))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_refused_login_is_told_from_other_failures() {
        let refused = r#"couldn't find root directory ID: couldn't fetch token: invalid_grant: maybe token expired? - try refreshing with "rclone config reconnect x:""#;
        assert!(super::login_refused(refused));
        assert!(super::login_refused("oauth2: token expired and refresh token is not set"));
        assert!(!super::login_refused("directory not found"));
        assert!(!super::login_refused("Forbidden: 403 (the token is fine)"));
        assert!(!super::login_refused("ExpiredToken: The provided token has expired. status code: 400"));
    }
}
