//! `task.run`, `task.abort` and `run.*` handlers.

use protocol::credentials::IdParams;
use protocol::runs::{ListParams, LogDownload, LogLine, LogParams, Run, RunParams, RunStarted, MAX_LOG_QUERY};
use protocol::Empty;

use super::{ApiError, ApiState};
use crate::logstore::Page;
use crate::runner::records;

pub async fn run(state: &ApiState, p: RunParams) -> Result<RunStarted, ApiError> {
    Ok(RunStarted { run_id: state.runner.enqueue(p.id, p.dry_run, p.allow_deletes).await? })
}

pub async fn abort(state: &ApiState, p: IdParams) -> Result<Empty, ApiError> {
    if state.runner.abort(p.id).await? {
        Ok(Empty {})
    } else {
        Err(ApiError::Conflict(format!("task {} has no queued or running run", p.id)))
    }
}

pub async fn list(state: &ApiState, p: ListParams) -> Result<Vec<Run>, ApiError> {
    let limit = p.limit.unwrap_or(50).clamp(1, 500) as i64;
    Ok(records::list(&state.pool, p.task_id, p.state, p.before, limit).await?)
}

pub async fn get(state: &ApiState, p: IdParams) -> Result<Run, ApiError> {
    records::get(&state.pool, p.id).await?.ok_or_else(|| ApiError::not_found("run", p.id))
}

pub async fn log(state: &ApiState, p: LogParams) -> Result<Vec<LogLine>, ApiError> {
    if let Some(q) = &p.query {
        if q.chars().count() > MAX_LOG_QUERY {
            return Err(ApiError::field("query", format!("must be at most {MAX_LOG_QUERY} characters")));
        }
        if q.contains('\0') {
            return Err(ApiError::field("query", "must not contain NUL"));
        }
    }
    get(state, IdParams { id: p.id }).await?;
    let limit = p.limit.unwrap_or(1000).clamp(1, 10_000) as i64;
    let query = p.query.as_deref().filter(|q| !q.is_empty());
    let page = Page { after: p.after_seq, before: p.before_seq, query, limit };
    Ok(crate::logstore::read_page(&state.pool, p.id, page).await?)
}

pub async fn download(state: &ApiState, p: IdParams) -> Result<LogDownload, ApiError> {
    get(state, IdParams { id: p.id }).await?;
    let ticket = state.downloads.issue(p.id);
    let expires = time::OffsetDateTime::now_utc() + crate::logstore::download::TICKET_LIFETIME;
    Ok(LogDownload { url: format!("/api/download/{ticket}"), expires_at: crate::time_format::rfc3339(expires) })
}

pub async fn daily(
    state: &ApiState,
    p: protocol::runs::DailyParams,
) -> Result<Vec<protocol::runs::DayStats>, ApiError> {
    let days = p.days.unwrap_or(30);
    if !(1..=365).contains(&days) {
        return Err(ApiError::field("days", "must be between 1 and 365"));
    }
    Ok(records::daily(&state.pool, days).await?)
}

pub async fn recent(
    state: &ApiState,
    p: protocol::runs::RecentParams,
) -> Result<Vec<protocol::runs::RunPoint>, ApiError> {
    let per_task = p.per_task.unwrap_or(20);
    if !(1..=50).contains(&per_task) {
        return Err(ApiError::field("per_task", "must be between 1 and 50"));
    }
    Ok(records::recent(&state.pool, per_task).await?)
}
