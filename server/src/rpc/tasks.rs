//! `task.*` handlers. Every change plans the task in the scheduler, so next start times
//! follow.

use protocol::credentials::IdParams;
use protocol::tasks::{RestoreParams, SyncTask, TaskParams, UpdateParams};
use protocol::Empty;

use super::{ApiError, ApiState};
use crate::credentials::store as credential_store;
use crate::tasks::{self, store, CredentialFacts, CryptSecrets, ValidTask};

async fn credential_facts(state: &ApiState, id: i64) -> Result<Option<CredentialFacts>, ApiError> {
    Ok(credential_store::get(&state.pool, &state.secrets, id)
        .await?
        .map(|c| CredentialFacts { backend: c.provider, decrypts: c.attributes.is_ok() }))
}

async fn check(state: &ApiState, p: TaskParams, stored: Option<&CryptSecrets>) -> Result<ValidTask, ApiError> {
    let facts = credential_facts(state, p.credentials).await?;
    let unknown_targets = super::notify::unknown_targets(state, "notify.targets", &p.notify.targets).await?;
    match tasks::validate(p, facts.as_ref(), &state.allowed_roots, stored) {
        Ok(valid) if unknown_targets.is_empty() => Ok(valid),
        Ok(_) => Err(ApiError::InvalidParams(unknown_targets)),
        Err(mut errors) => {
            errors.extend(unknown_targets);
            Err(ApiError::InvalidParams(errors))
        }
    }
}

async fn load(state: &ApiState, id: i64) -> Result<store::StoredTask, ApiError> {
    store::get(&state.pool, &state.secrets, id).await?.ok_or_else(|| ApiError::not_found("task", id))
}

/// Adds each task's newest run, with live progress while it runs, and its next start.
async fn with_runs(state: &ApiState, mut tasks: Vec<SyncTask>) -> Result<Vec<SyncTask>, ApiError> {
    let mut latest = crate::runner::records::latest_per_task(&state.pool).await?;
    let live = state.runner.progress().await;
    for t in &mut tasks {
        t.next_run = state.scheduler.next_run(t.id).map(|at| protocol::schedule::rfc3339(&at));
        if let Some(pos) = latest.iter().position(|r| r.task_id == t.id) {
            let mut run = latest.swap_remove(pos);
            if let Some(p) = live.get(&t.id) {
                run.stats = Some(p.clone());
            }
            t.last_run = Some(run);
        }
    }
    Ok(tasks)
}

pub async fn list(state: &ApiState) -> Result<Vec<SyncTask>, ApiError> {
    let tasks = store::list(&state.pool, &state.secrets).await?.into_iter().map(|t| t.task).collect();
    with_runs(state, tasks).await
}

pub async fn get(state: &ApiState, p: IdParams) -> Result<SyncTask, ApiError> {
    let task = load(state, p.id).await?.task;
    Ok(with_runs(state, vec![task]).await?.remove(0))
}

pub async fn create(state: &ApiState, p: TaskParams) -> Result<SyncTask, ApiError> {
    let valid = check(state, p, None).await?;
    let id = store::create(&state.pool, &state.secrets, &valid).await?;
    state.scheduler.plan_task(id, valid.planned_schedule());
    tracing::info!(id, description = valid.settings().description, "task created");
    get(state, IdParams { id }).await
}

pub async fn update(state: &ApiState, p: UpdateParams) -> Result<SyncTask, ApiError> {
    let current = load(state, p.id).await?;
    let stored = current.crypt.and_then(Result::ok);
    let valid = check(state, p.task, stored.as_ref()).await?;
    store::update(&state.pool, &state.secrets, p.id, &valid).await?;
    state.scheduler.plan_task(p.id, valid.planned_schedule());
    get(state, IdParams { id: p.id }).await
}

pub async fn delete(state: &ApiState, p: IdParams) -> Result<Empty, ApiError> {
    // A running task is stopped first; its run records go with it.
    if state.runner.abort(p.id).await? {
        tracing::info!(id = p.id, "stopping the task's run before deleting it");
        if !state.runner.wait_until_idle(p.id, std::time::Duration::from_secs(15)).await {
            return Err(ApiError::Conflict(format!("task {}'s run did not stop in time; try again", p.id)));
        }
    }
    if !store::delete(&state.pool, p.id).await? {
        return Err(ApiError::not_found("task", p.id));
    }
    state.scheduler.plan_task(p.id, None);
    tracing::info!(id = p.id, "task deleted");
    Ok(Empty {})
}

pub async fn restore(state: &ApiState, p: RestoreParams) -> Result<SyncTask, ApiError> {
    let current = load(state, p.id).await?;
    let stored = match current.crypt {
        Some(Err(_)) => {
            return Err(ApiError::Conflict(format!("task {}'s encryption settings cannot be decrypted", p.id)))
        }
        Some(Ok(c)) => Some(c),
        None => None,
    };
    let t = current.task;
    let mask = Some(protocol::credentials::SecretInput::Keep);
    let params = TaskParams {
        description: format!("Restore of {}", t.description),
        credentials: t.credentials,
        direction: t.direction.reversed(),
        transfer_mode: p.transfer_mode,
        path: p.path,
        attributes: t.attributes,
        include: t.include,
        exclude: t.exclude,
        pre_script: String::new(),
        post_script: String::new(),
        bwlimit: t.bwlimit,
        transfers: t.transfers,
        follow_symlinks: t.follow_symlinks,
        create_empty_src_dirs: t.create_empty_src_dirs,
        encryption: t.encryption,
        filename_encryption: t.filename_encryption,
        encryption_password: mask.clone(),
        encryption_salt: mask,
        schedule: None,
        enabled: false,
        max_delete: t.max_delete,
        allow_empty_source: t.allow_empty_source,
        max_delete_percent: t.max_delete_percent,
        // A restore writes into a new local folder: nothing there to keep.
        keep_deleted: false,
        keep_deleted_days: None,
        verify: t.verify,
        retry: t.retry,
        catch_up: false,
        notify: t.notify,
        extra_flags: t.extra_flags,
        review: Vec::new(),
    };
    let valid = check(state, params, stored.as_ref()).await?;
    let id = store::create(&state.pool, &state.secrets, &valid).await?;
    state.scheduler.plan_task(id, valid.planned_schedule());
    get(state, IdParams { id }).await
}

pub async fn plan(state: &ApiState, p: IdParams) -> Result<protocol::tasks::RunPlan, ApiError> {
    use crate::runner::PlanError;
    state.runner.plan(p.id).await.map_err(|e| match e {
        PlanError::NoSuchTask(id) => ApiError::not_found("task", id),
        PlanError::CannotRun(why) => ApiError::Conflict(why.to_string()),
        PlanError::Rclone(why) => ApiError::RcloneFailed(format!("the dry run failed: {why}")),
    })
}
