//! `provider.list` and `credential.*` handlers.

use std::collections::BTreeMap;
use std::time::Duration;

use protocol::credentials::{
    BrowseParams, CloudCredential, CreateParams, CredentialState, IdParams, RemoteEntry, UpdateParams, Verification,
    VerifyParams, VerifyResult,
};
use protocol::providers::Provider;
use protocol::Empty;
use serde_json::Value;

use super::{ApiError, ApiState};
use crate::credentials::store::{self, StoredCredential};
use crate::credentials::{self, ValidAttributes};
use crate::rclone::process as rclone;
use crate::rclone::REMOTE;
use crate::time_format::rfc3339;

/// rclone's connection timeout and the overall deadline for verify and browse.
const CONNECT_TIMEOUT: &str = "15s";
const DEADLINE: Duration = Duration::from_secs(30);

pub async fn list_providers(state: &ApiState) -> Result<Vec<Provider>, ApiError> {
    Ok(providers(state).await?.as_ref().clone())
}

async fn providers(state: &ApiState) -> Result<std::sync::Arc<Vec<Provider>>, ApiError> {
    state.providers.get(&state.rclone.path).await.map_err(|e| {
        tracing::warn!(error = format!("{e:#}"), "cannot read rclone's providers");
        ApiError::RcloneFailed(format!("cannot read the providers of rclone at {}: {e}", state.rclone.path.display()))
    })
}

/// The catalog's refusals for one backend (options that reach into the server).
pub fn refusal<'a>(state: &'a ApiState, backend: &'a str) -> impl Fn(&str, &str) -> Option<String> + 'a {
    move |option, value| state.providers.refusal(backend, option, value)
}

async fn provider(state: &ApiState, name: &str) -> Result<Provider, ApiError> {
    providers(state)
        .await?
        .iter()
        .find(|p| p.name == name)
        .cloned()
        .ok_or_else(|| ApiError::field("provider", format!("unknown provider `{name}`; provider.list has the choices")))
}

fn to_api(c: StoredCredential, provider: Option<&Provider>) -> CloudCredential {
    let (attributes, state, problem) = match &c.attributes {
        Ok(a) => match &c.needs_reconnect {
            None => (credentials::masked(provider, a), CredentialState::Ok, None),
            Some(why) => (
                credentials::masked(provider, a),
                CredentialState::NeedsReconnect,
                Some(format!("the provider refused the login ({why}); log in to the provider again")),
            ),
        },
        Err(e) => (
            BTreeMap::new(),
            CredentialState::CannotDecrypt,
            Some(format!("{e}; enter this credential's settings again")),
        ),
    };
    CloudCredential {
        id: c.id,
        name: c.name,
        provider: c.provider,
        attributes,
        state,
        problem,
        last_verification: c.verification.map(|(at, ok, reason)| Verification { ok, reason, at: rfc3339(at) }),
        created_at: rfc3339(c.created_at),
        updated_at: rfc3339(c.updated_at),
    }
}

async fn load(state: &ApiState, id: i64) -> Result<StoredCredential, ApiError> {
    store::get(&state.pool, &state.secrets, id).await?.ok_or_else(|| ApiError::not_found("credential", id))
}

async fn respond(state: &ApiState, id: i64) -> Result<CloudCredential, ApiError> {
    let c = load(state, id).await?;
    let p = providers(state).await.ok().and_then(|list| list.iter().find(|p| p.name == c.provider).cloned());
    Ok(to_api(c, p.as_ref()))
}

pub async fn list(state: &ApiState) -> Result<Vec<CloudCredential>, ApiError> {
    let all = store::list(&state.pool, &state.secrets).await?;
    let catalog = providers(state).await.ok();
    Ok(all
        .into_iter()
        .map(|c| {
            let p = catalog.as_ref().and_then(|l| l.iter().find(|p| p.name == c.provider));
            to_api(c, p)
        })
        .collect())
}

pub async fn get(state: &ApiState, p: IdParams) -> Result<CloudCredential, ApiError> {
    respond(state, p.id).await
}

fn check_name(name: &str) -> Result<String, ApiError> {
    protocol::credentials::check_name(name).map_err(|why| ApiError::field("name", why))?;
    Ok(name.trim().to_string())
}

pub async fn create(state: &ApiState, p: CreateParams) -> Result<CloudCredential, ApiError> {
    let name = check_name(&p.name)?;
    let provider = provider(state, &p.provider).await?;
    let attrs = credentials::validate(&provider, &p.attributes, None, &refusal(state, &provider.name))
        .map_err(ApiError::InvalidParams)?;
    let id = store::create(&state.pool, &state.secrets, &name, &provider.name, &attrs).await?;
    tracing::info!(id, name, provider = provider.name, "credential created");
    respond(state, id).await
}

pub async fn update(state: &ApiState, p: UpdateParams) -> Result<CloudCredential, ApiError> {
    let current = load(state, p.id).await?;
    let name = match &p.name {
        Some(n) => check_name(n)?,
        None => current.name.clone(),
    };
    let provider = provider(state, &current.provider).await?;
    let attrs = match (&p.attributes, &current.attributes) {
        (Some(input), Ok(stored)) => {
            credentials::validate(&provider, input, Some(stored), &refusal(state, &provider.name))
                .map_err(ApiError::InvalidParams)?
        }
        // Settings that cannot be decrypted are replaced as a whole.
        (Some(input), Err(_)) => credentials::validate(&provider, input, None, &refusal(state, &provider.name))
            .map_err(ApiError::InvalidParams)?,
        (None, Ok(stored)) => stored.clone(),
        (None, Err(e)) => {
            return Err(ApiError::Conflict(format!("credential {}: {e}; send its attributes again", p.id)))
        }
    };
    store::update(&state.pool, &state.secrets, p.id, &name, &attrs).await?;
    respond(state, p.id).await
}

pub async fn delete(state: &ApiState, p: IdParams) -> Result<Empty, ApiError> {
    let users = crate::tasks::store::using_credential(&state.pool, p.id).await?;
    if !users.is_empty() {
        let names: Vec<String> = users.iter().map(|(id, d)| format!("“{d}” (task {id})")).collect();
        return Err(ApiError::Conflict(format!(
            "credential {} is used by {}; delete those tasks or give them another credential first",
            p.id,
            names.join(", ")
        )));
    }
    if !store::delete(&state.pool, p.id).await? {
        return Err(ApiError::not_found("credential", p.id));
    }
    tracing::info!(id = p.id, "credential deleted");
    Ok(Empty {})
}

/// The provider and settings a verify request names.
async fn resolve(state: &ApiState, p: &VerifyParams) -> Result<(Provider, ValidAttributes), ApiError> {
    match (p.id, &p.provider, &p.attributes) {
        (Some(id), None, attrs) => {
            let current = load(state, id).await?;
            let provider = provider(state, &current.provider).await?;
            let stored = current.attributes.as_ref().ok();
            let attrs = match (attrs, stored) {
                (Some(input), stored) => {
                    credentials::validate(&provider, input, stored, &refusal(state, &provider.name))
                        .map_err(ApiError::InvalidParams)?
                }
                (None, Some(stored)) => stored.clone(),
                (None, None) => {
                    return Err(ApiError::Conflict(format!(
                        "credential {id} cannot be decrypted; enter its settings again"
                    )))
                }
            };
            Ok((provider, attrs))
        }
        (None, Some(name), Some(input)) => {
            let provider = provider(state, name).await?;
            let attrs = credentials::validate(&provider, input, None, &refusal(state, &provider.name))
                .map_err(ApiError::InvalidParams)?;
            Ok((provider, attrs))
        }
        _ => Err(ApiError::field("params", "give `id` (optionally with `attributes`), or `provider` and `attributes`")),
    }
}

fn common_flags() -> Vec<std::ffi::OsString> {
    [
        "--contimeout",
        CONNECT_TIMEOUT,
        "--timeout",
        "30s",
        "--retries",
        "1",
        "--low-level-retries",
        "1",
        "--use-json-log",
        "--log-level",
        "ERROR",
    ]
    .into_iter()
    .map(Into::into)
    .collect()
}

pub async fn verify(state: &ApiState, p: VerifyParams) -> Result<VerifyResult, ApiError> {
    let (provider, attrs) = resolve(state, &p).await?;
    let remote = credentials::remote_env(&provider, &attrs, &refusal(state, &provider.name))
        .map_err(|why| ApiError::field("attributes", why))?;
    let mut args: Vec<std::ffi::OsString> = vec!["lsjson".into(), "--max-depth".into(), "1".into()];
    args.extend(common_flags());
    args.push(format!("{REMOTE}:").into());
    let out = rclone::run(&state.rclone.path, &args, Some(&remote), DEADLINE)
        .await
        .map_err(|e| ApiError::RcloneFailed(format!("cannot run rclone at {}: {e}", state.rclone.path.display())))?;
    if let (Some(id), Some(updated)) =
        (p.id.filter(|_| p.attributes.is_none()), credentials::refreshed_attributes(&remote, &attrs))
    {
        store::save_refreshed(&state.pool, &state.secrets, id, &updated).await?;
    }
    let result = if out.timed_out {
        VerifyResult { ok: false, reason: Some(format!("no answer within {} s", DEADLINE.as_secs())) }
    } else if out.code == Some(0) {
        VerifyResult { ok: true, reason: None }
    } else {
        VerifyResult { ok: false, reason: Some(rclone::error_line(&out.stderr, Some(&remote))) }
    };
    if let (Some(id), None) = (p.id, &p.attributes) {
        let refused = result.reason.as_deref().is_some_and(crate::rclone::login_refused);
        store::record_verification(&state.pool, id, result.ok, result.reason.as_deref(), refused).await?;
    }
    Ok(result)
}

pub async fn browse(state: &ApiState, p: BrowseParams) -> Result<Vec<RemoteEntry>, ApiError> {
    protocol::credentials::check_remote_path(&p.path).map_err(|why| ApiError::field("path", why))?;
    let (provider, attrs) = resolve(state, &VerifyParams { id: Some(p.id), provider: None, attributes: None }).await?;
    let remote = credentials::remote_env(&provider, &attrs, &refusal(state, &provider.name))
        .map_err(|why| ApiError::field("attributes", why))?;
    let path = p.path.trim_matches('/');
    let mut args: Vec<std::ffi::OsString> = vec!["lsjson".into(), "--dirs-only".into()];
    args.extend(common_flags());
    args.push(format!("{REMOTE}:{path}").into());
    let out = rclone::run(&state.rclone.path, &args, Some(&remote), DEADLINE)
        .await
        .map_err(|e| ApiError::RcloneFailed(format!("cannot run rclone at {}: {e}", state.rclone.path.display())))?;
    if let Some(updated) = credentials::refreshed_attributes(&remote, &attrs) {
        store::save_refreshed(&state.pool, &state.secrets, p.id, &updated).await?;
    }
    match out.code {
        _ if out.timed_out => {
            Err(ApiError::RcloneFailed(format!("the remote did not answer within {} s", DEADLINE.as_secs())))
        }
        Some(0) => {
            let listing: Vec<Value> =
                serde_json::from_slice(&out.stdout).map_err(|e| ApiError::Unexpected(e.into()))?;
            let mut entries: Vec<RemoteEntry> = listing
                .iter()
                .filter_map(|e| e.get("Name").and_then(Value::as_str))
                .map(|name| RemoteEntry {
                    name: name.to_string(),
                    path: if path.is_empty() { name.to_string() } else { format!("{path}/{name}") },
                })
                .collect();
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(entries)
        }
        // rclone's exit code 3: directory not found.
        Some(3) => Err(ApiError::NotFound(format!("`{path}` does not exist on the remote"))),
        _ => Err(ApiError::RcloneFailed(rclone::error_line(&out.stderr, Some(&remote)))),
    }
}
