//! The HTTP surface: `/api/ws` (the JSON-RPC WebSocket), `/healthz`, `/oauth/callback`
//! (the end of "Login to Provider"), and the built web app for every other path.

pub mod client_addr;
pub mod oauth_callback;
pub mod public_urls;
pub mod site;
pub mod ws;

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

use crate::rpc::ApiState;

/// Shared by the HTTP handlers: the API state, the shutdown signal sockets watch, and
/// what decides who may connect.
#[derive(Clone)]
pub struct HttpState {
    pub api: Arc<ApiState>,
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    pub public_urls: Arc<public_urls::PublicUrls>,
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
        .with_state(state)
        .merge(site::router(site_dir))
        .layer(axum::middleware::from_fn(site::security_headers))
        .layer(axum::middleware::from_fn_with_state(urls, public_urls::check_host))
}

/// 200 "ok" when the database answers, 503 otherwise.
async fn healthz(State(state): State<HttpState>) -> (StatusCode, &'static str) {
    match sqlx::query("SELECT 1").execute(&state.api.pool).await {
        Ok(_) => (StatusCode::OK, "ok"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}
