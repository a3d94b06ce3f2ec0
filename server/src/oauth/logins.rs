//! OAuth logins in progress. A login is created by `oauth.start` for one session, is
//! completed once by the provider's redirect to `/oauth/callback` (which exchanges the
//! code for a token), and is collected once by `oauth.finish` from the same session.
//! Unknown, replayed or expired `state`s are refused. Logins live in memory for ten
//! minutes: a restart simply means logging in again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use rand::RngCore;
use serde::Deserialize;

pub const LOGIN_LIFETIME: Duration = Duration::from_secs(600);

/// What the token exchange needs, fixed when the login starts.
#[derive(Clone)]
pub struct LoginPlan {
    pub provider: String,
    pub client_id: String,
    pub client_secret: String,
    pub auth_url: String,
    pub token_url: String,
    pub scopes: String,
    pub redirect_uri: String,
    pub extra: Vec<(String, String)>,
}

struct Pending {
    session_id: i64,
    plan: LoginPlan,
    /// PKCE (RFC 7636): the secret whose S256 hash went out with the authorisation
    /// request; only this server can complete the exchange with it, so a code stolen or
    /// injected on the way back is useless to anyone else.
    verifier: String,
    started: Instant,
    stage: Stage,
}

enum Stage {
    WaitingForCallback,
    Exchanging,
    /// The token JSON, or why the login failed.
    Done(Result<String, String>),
}

#[derive(Default)]
pub struct OAuthLogins {
    pending: Mutex<HashMap<String, Pending>>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LoginError {
    #[error("this login request is unknown, expired or already used; start the login again")]
    UnknownState,
    #[error("the login has not been completed in the provider's window yet")]
    NotCompleted,
    #[error("the login was refused: {0}")]
    Refused(String),
}

impl OAuthLogins {
    /// Registers a login for `session_id`; returns the `state` and the URL to open.
    pub fn start(&self, session_id: i64, plan: LoginPlan) -> (String, String) {
        let mut raw = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let state = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
        let mut query = vec![
            ("response_type".to_string(), "code".to_string()),
            ("client_id".to_string(), plan.client_id.clone()),
            ("redirect_uri".to_string(), plan.redirect_uri.clone()),
            ("state".to_string(), state.clone()),
            ("code_challenge".to_string(), pkce_challenge(&verifier)),
            ("code_challenge_method".to_string(), "S256".to_string()),
        ];
        if !plan.scopes.is_empty() {
            query.push(("scope".into(), plan.scopes.clone()));
        }
        query.extend(plan.extra.iter().cloned());
        let sep = if plan.auth_url.contains('?') { '&' } else { '?' };
        let url = format!("{}{sep}{}", plan.auth_url, encode_query(&query));
        let mut pending = self.pending.lock().expect("oauth lock");
        pending.retain(|_, p| p.started.elapsed() < LOGIN_LIFETIME);
        pending.insert(
            state.clone(),
            Pending { session_id, plan, verifier, started: Instant::now(), stage: Stage::WaitingForCallback },
        );
        (state, url)
    }

    /// The plan of a login waiting for its callback; takes the callback's turn, so a
    /// second callback with the same state is refused.
    /// Returns the plan and the PKCE verifier.
    pub fn begin_callback(&self, state: &str) -> Result<(LoginPlan, String), LoginError> {
        let mut pending = self.pending.lock().expect("oauth lock");
        match pending.get_mut(state) {
            Some(p) if p.started.elapsed() < LOGIN_LIFETIME && matches!(p.stage, Stage::WaitingForCallback) => {
                p.stage = Stage::Exchanging;
                Ok((p.plan.clone(), p.verifier.clone()))
            }
            _ => Err(LoginError::UnknownState),
        }
    }

    pub fn complete(&self, state: &str, outcome: Result<String, String>) {
        if let Some(p) = self.pending.lock().expect("oauth lock").get_mut(state) {
            p.stage = Stage::Done(outcome);
        }
    }

    /// The token for `session_id`'s login `state`, once.
    pub fn finish(&self, session_id: i64, state: &str) -> Result<String, LoginError> {
        let mut pending = self.pending.lock().expect("oauth lock");
        let Some(p) = pending.get(state).filter(|p| p.session_id == session_id && p.started.elapsed() < LOGIN_LIFETIME)
        else {
            return Err(LoginError::UnknownState);
        };
        if !matches!(p.stage, Stage::Done(_)) {
            return Err(LoginError::NotCompleted);
        }
        match pending.remove(state).map(|p| p.stage) {
            Some(Stage::Done(Ok(token))) => Ok(token),
            Some(Stage::Done(Err(why))) => Err(LoginError::Refused(why)),
            _ => unreachable!("checked to be done above"),
        }
    }
}

/// `BASE64URL(SHA256(verifier))`, the S256 challenge.
fn pkce_challenge(verifier: &str) -> String {
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// The longest token lifetime believed: a provider's (or a forged) huge `expires_in`
/// must not overflow the expiry time.
const MAX_EXPIRES_IN: i64 = 10 * 365 * 24 * 3600;

fn encode_query(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", percent(k), percent(v))).collect::<Vec<_>>().join("&")
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

/// Exchanges an authorisation code at the provider's token endpoint and returns the
/// token as rclone stores it.
/// The provider's answer is never shown: only its status and, when it is an OAuth
/// error, its standard `error` code.
pub async fn exchange(http: &reqwest::Client, plan: &LoginPlan, verifier: &str, code: &str) -> Result<String, String> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", plan.redirect_uri.as_str()),
        ("client_id", plan.client_id.as_str()),
        ("client_secret", plan.client_secret.as_str()),
        ("code_verifier", verifier),
    ];
    let response = http
        .post(&plan.token_url)
        .form(&form)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| format!("cannot reach the token endpoint {}: {}", plan.token_url, e.without_url()))?;
    let status = response.status();
    // A token answer is small; anything past this is not one.
    let body = read_limited(response, 64 * 1024).await;
    if !status.is_success() {
        #[derive(Deserialize)]
        struct OAuthError {
            error: String,
        }
        let code = serde_json::from_slice::<OAuthError>(&body)
            .ok()
            .map(|e| e.error)
            .filter(|e| e.len() <= 64 && e.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        return Err(match code {
            Some(code) => format!("the token endpoint answered {status} ({code})"),
            None => format!("the token endpoint answered {status}"),
        });
    }
    let token: TokenResponse =
        serde_json::from_slice(&body).map_err(|_| "the token endpoint's answer is not a token".to_string())?;
    let expiry = token
        .expires_in
        .map(|s| time::OffsetDateTime::now_utc() + time::Duration::seconds(s.clamp(0, MAX_EXPIRES_IN)))
        .map(crate::time_format::rfc3339);
    Ok(serde_json::json!({
        "access_token": token.access_token,
        "token_type": token.token_type.unwrap_or_else(|| "Bearer".into()),
        "refresh_token": token.refresh_token.unwrap_or_default(),
        "expiry": expiry.unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
    })
    .to_string())
}

/// At most `limit` bytes of a response body.
async fn read_limited(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk[..chunk.len().min(limit - body.len())]);
        if body.len() >= limit {
            break;
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> LoginPlan {
        LoginPlan {
            provider: "dropbox".into(),
            client_id: "cid".into(),
            client_secret: "cs".into(),
            auth_url: "https://auth.example/authorize".into(),
            token_url: "https://auth.example/token".into(),
            scopes: "files.read account".into(),
            redirect_uri: "http://nas:8080/oauth/callback".into(),
            extra: vec![("token_access_type".into(), "offline".into())],
        }
    }

    #[test]
    fn the_url_carries_client_redirect_state_and_scopes() {
        let logins = OAuthLogins::default();
        let (state, url) = logins.start(1, plan());
        assert!(url.starts_with("https://auth.example/authorize?response_type=code&client_id=cid&redirect_uri=http%3A%2F%2Fnas%3A8080%2Foauth%2Fcallback&state="));
        assert!(url.contains(&format!("state={state}")));
        assert!(url.contains("scope=files.read%20account") && url.contains("token_access_type=offline"));
    }

    #[test]
    fn a_login_completes_once_for_its_own_session_only() {
        let logins = OAuthLogins::default();
        let (state, _) = logins.start(7, plan());
        assert_eq!(logins.finish(7, &state), Err(LoginError::NotCompleted));
        logins.begin_callback(&state).unwrap();
        assert_eq!(
            logins.begin_callback(&state).err(),
            Some(LoginError::UnknownState),
            "a replayed callback is refused"
        );
        logins.complete(&state, Ok("{\"access_token\":\"t\"}".into()));
        assert_eq!(logins.finish(8, &state), Err(LoginError::UnknownState), "another session cannot collect it");
        assert_eq!(logins.finish(7, &state).unwrap(), "{\"access_token\":\"t\"}");
        assert_eq!(logins.finish(7, &state), Err(LoginError::UnknownState), "collected once");
        assert_eq!(logins.begin_callback("made-up").err(), Some(LoginError::UnknownState));
    }
}
