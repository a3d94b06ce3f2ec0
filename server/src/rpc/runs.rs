//! `task.run`, `task.abort` and `run.*` handlers.

use protocol::credentials::IdParams;
use protocol::runs::{ListParams, LogLine, LogParams, Run, RunParams, RunStarted};
use protocol::Empty;

use super::{ApiError, ApiState};
use crate::runner::records;

pub async fn run(state: &ApiState, p: RunParams) -> Result<RunStarted, ApiError> {
    Ok(RunStarted { run_id: state.runner.enqueue(p.id, p.dry_run).await? })
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
    Ok(records::list(&state.pool, p.task_id, p.before, limit).await?)
}

pub async fn get(state: &ApiState, p: IdParams) -> Result<Run, ApiError> {
    records::get(&state.pool, p.id).await?.ok_or_else(|| ApiError::not_found("run", p.id))
}

pub async fn log(state: &ApiState, p: LogParams) -> Result<Vec<LogLine>, ApiError> {
    get(state, IdParams { id: p.id }).await?;
    let limit = p.limit.unwrap_or(1000).clamp(1, 10_000) as i64;
    Ok(crate::logstore::read(&state.pool, p.id, p.after_seq, limit).await?)
}
