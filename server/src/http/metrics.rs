//! `GET /metrics`: Prometheus' text format, for an `Authorization: Bearer <API token>`
//! (or anyone with `--metrics-public`). The gauges are read from the database, the
//! runner and the scheduler at each scrape; see `metrics` for the series.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::HttpState;
use crate::metrics::{Snapshot, TaskFacts};

pub async fn metrics(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let api = &state.api;
    if !api.metrics_public {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let known = match token {
            Some(t) => crate::auth::sessions::lookup(&api.pool, t).await.ok().flatten().is_some(),
            None => false,
        };
        if !known {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "send an API token: Authorization: Bearer <token> (cloudsync token create)\n",
            )
                .into_response();
        }
    }
    match snapshot(&state).await {
        Ok(s) => match crate::metrics::render(&api.counters, &s) {
            Ok(text) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "cannot render the metrics");
                (StatusCode::INTERNAL_SERVER_ERROR, "cannot render the metrics\n").into_response()
            }
        },
        Err(e) => {
            tracing::error!(error = %e, "cannot read the metrics");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

async fn snapshot(state: &HttpState) -> sqlx::Result<Snapshot> {
    let api = &state.api;
    // Ids and descriptions only: a scrape opens no secret.
    let tasks = crate::tasks::store::descriptions(&api.pool).await?;
    let mut latest: std::collections::HashMap<i64, _> =
        crate::runner::records::latest_per_task(&api.pool).await?.into_iter().map(|r| (r.task_id, r)).collect();
    let successes = crate::runner::records::last_success_per_task(&api.pool).await?;
    let (queued, running) = api.runner.counts().await;
    let tasks = tasks
        .into_iter()
        .map(|(id, description)| TaskFacts {
            id,
            description,
            last_run: latest.remove(&id),
            last_success: successes.get(&id).copied(),
            next_run: api.scheduler.next_run(id).map(|at| at.timestamp()),
        })
        .collect();
    Ok(Snapshot {
        tasks,
        queued,
        running,
        version: env!("CARGO_PKG_VERSION").to_string(),
        rclone: api.rclone.version.clone().unwrap_or_else(|| "unknown".into()),
    })
}
