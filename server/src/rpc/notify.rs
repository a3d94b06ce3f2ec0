//! `notify.*`: notification targets (settings checked, secrets sealed and write-only),
//! the test send, and the delivery log.

use protocol::credentials::{IdParams, SecretInput};
use protocol::notify::{
    DeliveriesParams, Delivery, NotifyTarget, TargetParams, TargetUpdateParams, TaskNotify, TestResult,
};
use protocol::{Empty, FieldError};

use super::{ApiError, ApiState};
use crate::notify::store;

fn shown(t: store::StoredTarget) -> Result<NotifyTarget, ApiError> {
    let name = t.name.clone();
    t.to_api().ok_or_else(|| {
        ApiError::Conflict(format!("the settings of “{name}” cannot be decrypted with this server's secret seed"))
    })
}

pub async fn list(state: &ApiState) -> Result<Vec<NotifyTarget>, ApiError> {
    Ok(store::list(&state.pool, &state.secrets).await?.into_iter().filter_map(|t| t.to_api()).collect())
}

/// The settings to store: params checked, each secret either new or (`Keep`) the
/// stored one; a `Keep` with nothing stored names its field.
fn resolve(p: &TargetParams, stored: Option<&store::Settings>) -> Result<store::Settings, ApiError> {
    let problems = protocol::notify::check_target(p);
    if !problems.is_empty() {
        return Err(ApiError::InvalidParams(problems));
    }
    let mut kept = std::collections::HashMap::new();
    if let Some(s) = stored.filter(|s| s.kind() == p.target.kind()) {
        let _ = s.clone().map_secrets(|name, v| {
            kept.insert(name.to_string(), v);
            Ok::<_, ()>(())
        });
    }
    let mut missing = Vec::new();
    let settings = p.target.clone().map_secrets(|name, v| {
        Ok::<_, ()>(match v {
            SecretInput::Set(v) => v.trim().to_string(),
            SecretInput::Keep => kept.get(name).cloned().unwrap_or_else(|| {
                missing.push(FieldError::new(name, "nothing is stored to keep; enter a value"));
                String::new()
            }),
        })
    });
    match settings {
        Ok(s) if missing.is_empty() => Ok(s),
        _ => Err(ApiError::InvalidParams(missing)),
    }
}

fn name_taken(name: &str) -> ApiError {
    ApiError::field("name", format!("a target named “{name}” already exists"))
}

pub async fn create(state: &ApiState, p: TargetParams) -> Result<NotifyTarget, ApiError> {
    let settings = resolve(&p, None)?;
    let name = p.name.trim();
    let id = store::create(&state.pool, &state.secrets, name, &settings).await?.ok_or_else(|| name_taken(name))?;
    let made = store::get(&state.pool, &state.secrets, id).await?.ok_or_else(|| ApiError::not_found("target", id))?;
    shown(made)
}

pub async fn update(state: &ApiState, p: TargetUpdateParams) -> Result<NotifyTarget, ApiError> {
    let current =
        store::get(&state.pool, &state.secrets, p.id).await?.ok_or_else(|| ApiError::not_found("target", p.id))?;
    let settings = resolve(&p.target, current.settings.as_ref().ok())?;
    let name = p.target.name.trim();
    if !store::update(&state.pool, &state.secrets, p.id, name, &settings).await? {
        return Err(name_taken(name));
    }
    let saved =
        store::get(&state.pool, &state.secrets, p.id).await?.ok_or_else(|| ApiError::not_found("target", p.id))?;
    shown(saved)
}

pub async fn delete(state: &ApiState, p: IdParams) -> Result<Empty, ApiError> {
    if store::delete(&state.pool, p.id).await? {
        Ok(Empty {})
    } else {
        Err(ApiError::not_found("target", p.id))
    }
}

pub async fn test(state: &ApiState, p: IdParams) -> Result<TestResult, ApiError> {
    state.notifier.test(p.id).await?.ok_or_else(|| ApiError::not_found("target", p.id))
}

pub async fn deliveries(state: &ApiState, p: DeliveriesParams) -> Result<Vec<Delivery>, ApiError> {
    let limit = i64::from(p.limit.unwrap_or(50).clamp(1, 500));
    Ok(store::deliveries(&state.pool, p.target_id, limit).await?)
}

/// A field error for each of `targets` that names no target, as `<field>.targets[i]`.
pub async fn unknown_targets(state: &ApiState, field: &str, targets: &[i64]) -> Result<Vec<FieldError>, ApiError> {
    let known: Vec<i64> = store::many(&state.pool, &state.secrets, targets).await?.into_iter().map(|t| t.id).collect();
    Ok(targets
        .iter()
        .enumerate()
        .filter(|(_, id)| !known.contains(id))
        .map(|(i, id)| FieldError::new(format!("{field}[{i}]"), format!("target {id} does not exist")))
        .collect())
}

pub async fn default_get(state: &ApiState) -> Result<TaskNotify, ApiError> {
    Ok(store::default_notify(&state.pool).await?)
}

pub async fn default_set(state: &ApiState, p: TaskNotify) -> Result<TaskNotify, ApiError> {
    let unknown = unknown_targets(state, "targets", &p.targets).await?;
    if !unknown.is_empty() {
        return Err(ApiError::InvalidParams(unknown));
    }
    let mut p = p;
    p.targets.dedup();
    store::set_default_notify(&state.pool, &p).await?;
    default_get(state).await
}
