//! The HTTP surface: `/api/ws` (the JSON-RPC WebSocket), `/healthz`, `/oauth/callback`
//! (the end of "Login to Provider"), and the built web app for every other path.

pub mod oauth_callback;
pub mod site;
pub mod ws;

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

use crate::rpc::ApiState;

/// Shared by the HTTP handlers: the API state and the shutdown signal sockets watch.
#[derive(Clone)]
pub struct HttpState {
    pub api: Arc<ApiState>,
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

pub fn router(state: HttpState, site_dir: &std::path::Path) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/ws", get(ws::upgrade))
        .route("/oauth/callback", get(oauth_callback::callback))
        .with_state(state)
        .merge(site::router(site_dir))
}

/// 200 "ok" when the database answers, 503 otherwise.
async fn healthz(State(state): State<HttpState>) -> (StatusCode, &'static str) {
    match sqlx::query("SELECT 1").execute(&state.api.pool).await {
        Ok(_) => (StatusCode::OK, "ok"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}
