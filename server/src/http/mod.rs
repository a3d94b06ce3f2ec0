//! The HTTP surface: `/api/ws` (the JSON-RPC WebSocket), `/healthz`, `/oauth/callback`
//! (the end of "Login to Provider"), `/api/download/<ticket>` (a run log from
//! `run.download`), `/metrics` (Prometheus, `metrics.rs`), and the built web app for
//! every other path.

pub mod client_addr;
pub mod metrics;
pub mod oauth_callback;
pub mod site;
pub mod ws;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::public_urls::PublicUrls;
use crate::rpc::ApiState;

/// Shared by the HTTP handlers: the API state, the shutdown signal sockets watch, and
/// what decides who may connect.
#[derive(Clone)]
pub struct HttpState {
    pub api: Arc<ApiState>,
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    pub public_urls: Arc<PublicUrls>,
    pub proxies: Arc<client_addr::TrustedProxies>,
    pub slots: Arc<ws::SocketSlots>,
}

/// Every route, behind the `Host` check; every response carries the security headers.
pub fn router(state: HttpState, site_dir: &std::path::Path) -> Router {
    let urls = state.public_urls.clone();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/ws", get(ws::upgrade))
        .route("/oauth/callback", get(oauth_callback::callback))
        .route("/api/download/{ticket}", get(download))
        .route("/metrics", get(metrics::metrics))
        .with_state(state)
        .merge(site::router(site_dir))
        .layer(axum::middleware::from_fn(site::security_headers))
        .layer(axum::middleware::from_fn_with_state(urls, check_host))
}

/// A run's log as a text file, streamed from the store, for a ticket from
/// `run.download` (one use, one minute); 404 for any other.
async fn download(
    State(state): State<HttpState>,
    axum::extract::Path(ticket): axum::extract::Path<String>,
) -> Response {
    let Some(run_id) = state.api.downloads.redeem(&ticket) else {
        return (StatusCode::NOT_FOUND, "this download link is unknown, used or expired; ask for a new one\n")
            .into_response();
    };
    let body = axum::body::Body::from_stream(crate::logstore::download::stream(state.api.pool.clone(), run_id));
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"cloudsync-run-{run_id}.log\"")),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response()
}

/// 200 "ok" when the database answers, 503 otherwise.
async fn healthz(State(state): State<HttpState>) -> (StatusCode, &'static str) {
    match sqlx::query("SELECT 1").execute(&state.api.pool).await {
        Ok(_) => (StatusCode::OK, "ok"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}

/// 421 for a `Host` that is not one of the public URLs (or no `Host` at all).
pub async fn check_host(State(urls): State<Arc<PublicUrls>>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    match host {
        Some(h) if urls.allows_host(&h) => next.run(request).await,
        other => {
            let shown: String = other.unwrap_or_default().chars().take(100).collect();
            // Debug, not warn: anyone can send these, and the log must not fill with them.
            tracing::debug!(host = ?shown, "refused a request for a host that is not a public URL");
            (
                StatusCode::MISDIRECTED_REQUEST,
                "this server does not answer for that host name; start it with --public-url for each address it is reached at\n",
            )
                .into_response()
        }
    }
}
