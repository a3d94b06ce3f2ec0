//! `auth.*`: logging a socket in, resuming a session on a new socket, passwords.

use serde::{Deserialize, Serialize};

use crate::{method, Empty};

method!(
    /// Checks a username and password and authenticates this socket.
    Login = "auth.login", LoginParams => Session
);
method!(
    /// Authenticates this socket with a token from an earlier `auth.login`.
    Resume = "auth.resume", ResumeParams => WhoAmI
);
method!(
    /// Ends this socket's session; its token stops working everywhere.
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
}
