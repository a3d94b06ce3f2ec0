//! `auth.*`: logging a socket in, resuming a session on a new socket, passwords.

use serde::{Deserialize, Serialize};

use crate::{method, Empty};

method!(
    /// Checks a username and password and authenticates this socket.
    Login = "auth.login", LoginParams => Session
);
method!(
    /// Authenticates this socket with a session token from an earlier `auth.login`, or
    /// an API token from `auth.token.create`.
    Resume = "auth.resume", ResumeParams => WhoAmI
);
method!(
    /// Ends this socket's login session; its token stops working everywhere. A socket
    /// authenticated with an API token is only logged out (revoke tokens with
    /// `auth.token.revoke`).
    Logout = "auth.logout", Empty => Empty
);
method!(
    /// Who this socket is logged in as.
    Me = "auth.me", Empty => WhoAmI
);
method!(
    /// Changes the logged-in user's password and ends every other session of that user.
    ChangePassword = "auth.change_password", ChangePasswordParams => Empty
);

method!(
    /// Creates a long-lived API token for scripts and the command line; the token is in
    /// this answer only (the server keeps its hash).
    TokenCreate = "auth.token.create", TokenCreateParams => NewApiToken
);
method!(
    /// The logged-in user's API tokens, without their secrets.
    TokenList = "auth.token.list", Empty => Vec<ApiToken>
);
method!(
    /// Revokes an API token: sockets using it are closed and their streams end.
    TokenRevoke = "auth.token.revoke", crate::credentials::IdParams => Empty
);

/// What every API token starts with, so one is recognisable in a config file or a leak
/// scanner.
pub const API_TOKEN_PREFIX: &str = "cst_";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenCreateParams {
    pub name: String,
    /// The current password again: a stolen session alone cannot mint a lasting token.
    #[serde(default)]
    pub password: Option<String>,
    /// RFC 3339, in the future; never expires when left out.
    #[serde(default)]
    pub expires_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// `None`: never expires.
    pub expires_at: Option<String>,
    pub last_used_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewApiToken {
    /// Shown once: use it with `auth.resume` (or the CLI's `--token`).
    pub token: String,
    #[serde(flatten)]
    pub info: ApiToken,
}

/// Checks a token's name: not empty, at most 100 characters, one line.
pub fn check_token_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        Err("must not be empty".into())
    } else if name.chars().count() > 100 {
        Err("must be at most 100 characters".into())
    } else if name.chars().any(char::is_control) {
        Err("must be one line without control characters".into())
    } else {
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginParams {
    pub username: String,
    pub password: String,
}

/// A new session. The token is shown once; the server keeps only its hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub token: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResumeParams {
    pub token: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WhoAmI {
    pub username: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordParams {
    pub old: String,
    pub new: String,
    /// Also revoke every API token of the user (but the caller's own, if it is one).
    #[serde(default)]
    pub revoke_tokens: bool,
}
