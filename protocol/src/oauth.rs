//! `oauth.*`: "Login to Provider" for backends that authorise with OAuth (Dropbox,
//! Google Drive, Box, OneDrive, pCloud, …), done by the server so it works when the
//! browser runs on another machine than the server.
//!
//! The flow: `oauth.start` returns the provider's authorisation URL with a `state`
//! bound to the calling session; the page opens it in a popup; the provider redirects
//! to this server's `/oauth/callback`, which exchanges the code for a token; the popup
//! tells its opener (same-origin `postMessage` of the `state`, never the token), and the
//! opener fetches the token over its authenticated socket with `oauth.finish`.

use serde::{Deserialize, Serialize};

use crate::credentials::SecretMask;
use crate::{method, Empty};

method!(
    /// Begins a login; returns the URL to open.
    Start = "oauth.start", StartParams => StartResult
);
method!(
    /// The token of a completed login of this session, as rclone's `token` option wants it.
    Finish = "oauth.finish", FinishParams => FinishResult
);
method!(
    /// The per-provider OAuth app settings the administrator has saved.
    ClientList = "oauth.client.list", Empty => Vec<OAuthClient>
);
method!(
    /// Saves a provider's OAuth app settings; empty values fall back to the defaults.
    ClientSet = "oauth.client.set", ClientSetParams => OAuthClient
);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartParams {
    pub provider: String,
    /// The origin the app runs on (`location.origin`); the provider redirects to
    /// `<origin>/oauth/callback`, which must be registered with the provider.
    pub origin: String,
    /// Overrides for this login (from the credential form); else the saved settings.
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub auth_url: Option<String>,
    #[serde(default)]
    pub token_url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StartResult {
    pub authorize_url: String,
    pub state: String,
    pub redirect_uri: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinishParams {
    pub state: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinishResult {
    /// JSON as rclone stores it: `{"access_token", "token_type", "refresh_token", "expiry"}`.
    pub token: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OAuthClient {
    pub provider: String,
    pub client_id: String,
    pub client_secret: Option<SecretMask>,
    pub auth_url: String,
    pub token_url: String,
    pub scopes: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSetParams {
    pub provider: String,
    #[serde(default)]
    pub client_id: String,
    /// Left out or sent back masked keeps the saved secret; `""` clears it.
    #[serde(default)]
    pub client_secret: Option<serde_json::Value>,
    #[serde(default)]
    pub auth_url: String,
    #[serde(default)]
    pub token_url: String,
    #[serde(default)]
    pub scopes: String,
}

/// Checks a URL a provider setting names: http or https, with a host.
pub fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("must start with https:// or http://")?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) || host.contains('@') {
        return Err("must name a host".into());
    }
    Ok(())
}

/// A URL secrets are sent to (the token endpoint): https, or plain http to this machine
/// only (loopback), never plain http across a network.
pub fn check_secret_url(url: &str) -> Result<(), String> {
    check_url(url)?;
    if let Some(rest) = url.strip_prefix("http://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
        };
        let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return Err("must be an https:// URL (plain http only to localhost)".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_urls_must_be_https_but_for_loopback() {
        assert!(check_secret_url("https://oauth2.googleapis.com/token").is_ok());
        assert!(check_secret_url("http://127.0.0.1:8080/token").is_ok());
        assert!(check_secret_url("http://localhost/token").is_ok());
        assert!(check_secret_url("http://[::1]:9/token").is_ok());
        assert!(check_secret_url("http://auth.example/token").is_err());
        assert!(check_secret_url("http://127.0.0.1.evil.example/token").is_err());
        assert!(check_secret_url("http://user@127.0.0.1/token").is_err());
    }

    #[test]
    fn urls_must_be_http_with_a_host() {
        assert!(check_url("https://www.dropbox.com/oauth2/authorize").is_ok());
        assert!(check_url("http://127.0.0.1:8080").is_ok());
        assert!(check_url("ftp://x").is_err());
        assert!(check_url("https:///path").is_err());
        assert!(check_url("javascript:alert(1)").is_err());
    }
}
