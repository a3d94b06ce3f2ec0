//! `GET /oauth/callback`: where the provider sends the browser back after the user
//! allowed access. The server exchanges the code for a token itself; the page only
//! tells its opener (same origin) that the login with this `state` is done, so the
//! token never passes through the popup.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::HttpState;
use crate::oauth::logins;

pub async fn callback(State(state): State<HttpState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let api = state.api;
    let Some(login_state) = q.get("state") else {
        return page(StatusCode::BAD_REQUEST, "Login failed", "The provider's answer has no state.", None);
    };
    let (plan, verifier) = match api.oauth_logins.begin_callback(login_state) {
        Ok(found) => found,
        Err(e) => return page(StatusCode::BAD_REQUEST, "Login failed", &e.to_string(), None),
    };
    let outcome = match (q.get("code"), q.get("error")) {
        (_, Some(error)) => Err(q.get("error_description").cloned().unwrap_or_else(|| error.clone())),
        (Some(code), None) => logins::exchange(&api.http, &plan, &verifier, code).await,
        (None, None) => Err("the provider's answer has no code".into()),
    };
    let ok = outcome.is_ok();
    if let Err(why) = &outcome {
        tracing::warn!(provider = plan.provider, why, "OAuth login failed");
    }
    api.oauth_logins.complete(login_state, outcome);
    let (title, text) = if ok {
        ("Login complete", "cloudsync received the token. This window closes itself; if it does not, close it.")
    } else {
        ("Login failed", "The provider did not give a token. Go back to cloudsync to see why.")
    };
    page(StatusCode::OK, title, text, Some(login_state))
}

fn page(status: StatusCode, title: &str, text: &str, notify_state: Option<&str>) -> Response {
    use base64::Engine;
    use sha2::Digest;
    let code = notify_state
        .map(|s| {
            let s = serde_json::to_string(s).unwrap_or_default();
            format!(
                "if (window.opener) {{ window.opener.postMessage({{type: 'cloudsync-oauth', state: {s}}}, window.location.origin); setTimeout(() => window.close(), 500); }}"
            )
        })
        .unwrap_or_default();
    // This page's one script is allowed by its hash, and nothing else runs.
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(code.as_bytes()));
    let policy = format!(
        "default-src 'none'; script-src 'sha256-{hash}'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    let script = if code.is_empty() { String::new() } else { format!("<script>{code}</script>") };
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>{t}</title><body style=\"font-family:system-ui;margin:3rem\"><h1>{t}</h1><p data-testid=oauth-message>{m}</p>{script}",
        t = escape(title),
        m = escape(text)
    );
    (status, [("cache-control", "no-store".to_string()), ("content-security-policy", policy)], Html(body))
        .into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
