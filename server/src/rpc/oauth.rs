//! `oauth.*` handlers: start and finish "Login to Provider", and the per-provider OAuth
//! app settings.

use protocol::credentials::SecretMask;
use protocol::oauth::{
    check_secret_url, check_url, ClientSetParams, FinishParams, FinishResult, OAuthClient, StartParams, StartResult,
};
use protocol::providers::Provider;
use serde_json::Value;

use super::{ApiError, ApiState, Caller};
use crate::oauth::logins::{LoginError, LoginPlan};
use crate::oauth::{clients, known_endpoints};

async fn oauth_provider(state: &ApiState, name: &str) -> Result<Provider, ApiError> {
    let list = state
        .providers
        .get(&state.rclone.path)
        .await
        .map_err(|e| ApiError::RcloneFailed(format!("cannot read rclone's providers: {e}")))?;
    match list.iter().find(|p| p.name == name) {
        Some(p) if p.oauth => Ok(p.clone()),
        Some(_) => Err(ApiError::field("provider", format!("{name} does not log in with OAuth"))),
        None => Err(ApiError::field("provider", format!("unknown provider `{name}`; provider.list has the choices"))),
    }
}

/// The first non-empty of the given values.
fn first(values: &[Option<&str>]) -> Option<String> {
    values.iter().flatten().find(|v| !v.trim().is_empty()).map(|v| v.trim().to_string())
}

pub async fn start(state: &ApiState, caller: &Caller, p: StartParams) -> Result<StartResult, ApiError> {
    let user = caller.user().ok_or(ApiError::NotAuthenticated)?;
    let provider = oauth_provider(state, &p.provider).await?;
    check_url(&p.origin).map_err(|why| ApiError::field("origin", why))?;
    let origin = p.origin.trim_end_matches('/');
    if origin.matches('/').count() != 2 {
        return Err(ApiError::field("origin", "must be scheme://host[:port] without a path"));
    }
    // The provider sends the browser (and the code) back here: only to an address the
    // server is published at.
    if !state.public_urls.has_origin(origin) {
        let known = state.public_urls.origins().join(", ");
        return Err(ApiError::field(
            "origin",
            format!("{origin} is not one of the server's public URLs ({known}); start it with --public-url"),
        ));
    }
    let redirect_uri = format!("{origin}/oauth/callback");
    let saved = clients::get(&state.pool, &state.secrets, &provider.name).await?.unwrap_or_default();
    let known = known_endpoints(&provider.name);

    let client_id = first(&[p.client_id.as_deref(), Some(&saved.client_id)]).ok_or_else(|| {
        ApiError::field(
            "client_id",
            format!(
                "is required: register an OAuth app with {} whose redirect URL is {redirect_uri} and save its id under the provider's OAuth settings, or paste the token `rclone authorize \"{}\"` prints",
                provider.name, provider.name
            ),
        )
    })?;
    let saved_secret = saved.client_secret.and_then(Result::ok);
    let client_secret = first(&[p.client_secret.as_deref(), saved_secret.as_deref()]).unwrap_or_default();
    let auth_url = first(&[p.auth_url.as_deref(), Some(&saved.auth_url), known.as_ref().map(|k| k.auth_url)])
        .ok_or_else(|| {
            ApiError::field(
                "auth_url",
                format!("is required: cloudsync knows no authorisation URL for {}", provider.name),
            )
        })?;
    let token_url = first(&[p.token_url.as_deref(), Some(&saved.token_url), known.as_ref().map(|k| k.token_url)])
        .ok_or_else(|| {
            ApiError::field("token_url", format!("is required: cloudsync knows no token URL for {}", provider.name))
        })?;
    check_url(&auth_url).map_err(|why| ApiError::field("auth_url", why))?;
    check_secret_url(&token_url).map_err(|why| ApiError::field("token_url", why))?;
    let scopes = first(&[Some(&saved.scopes), known.as_ref().map(|k| k.scopes)]).unwrap_or_default();
    let extra =
        known.map(|k| k.extra.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()).unwrap_or_default();

    let plan = LoginPlan {
        provider: provider.name.clone(),
        client_id,
        client_secret,
        auth_url,
        token_url,
        scopes,
        redirect_uri: redirect_uri.clone(),
        extra,
    };
    let (login_state, authorize_url) = state.oauth_logins.start(user.session_id, plan);
    tracing::info!(provider = provider.name, "OAuth login started");
    Ok(StartResult { authorize_url, state: login_state, redirect_uri })
}

pub async fn finish(state: &ApiState, caller: &Caller, p: FinishParams) -> Result<FinishResult, ApiError> {
    let user = caller.user().ok_or(ApiError::NotAuthenticated)?;
    match state.oauth_logins.finish(user.session_id, &p.state) {
        Ok(token) => Ok(FinishResult { token }),
        Err(e @ LoginError::UnknownState) => Err(ApiError::field("state", e.to_string())),
        Err(e) => Err(ApiError::Conflict(e.to_string())),
    }
}

fn to_api(s: clients::ClientSettings) -> OAuthClient {
    OAuthClient {
        client_secret: s.client_secret.map(|_| SecretMask::SET),
        provider: s.provider,
        client_id: s.client_id,
        auth_url: s.auth_url,
        token_url: s.token_url,
        scopes: s.scopes,
    }
}

pub async fn client_list(state: &ApiState) -> Result<Vec<OAuthClient>, ApiError> {
    Ok(clients::list(&state.pool, &state.secrets).await?.into_iter().map(to_api).collect())
}

pub async fn client_set(state: &ApiState, p: ClientSetParams) -> Result<OAuthClient, ApiError> {
    let provider = oauth_provider(state, &p.provider).await?;
    let mut errors = Vec::new();
    let checks: [(&str, &String, fn(&str) -> Result<(), String>); 2] =
        [("auth_url", &p.auth_url, check_url), ("token_url", &p.token_url, check_secret_url)];
    for (field, url, check) in checks {
        if !url.trim().is_empty() {
            if let Err(why) = check(url.trim()) {
                errors.push(protocol::FieldError::new(field, why));
            }
        }
    }
    let secret = match &p.client_secret {
        None => None,
        Some(v) if SecretMask::is_mask(v) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.push(protocol::FieldError::new("client_secret", "must be a string"));
            None
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::InvalidParams(errors));
    }
    let settings = clients::ClientSettings {
        provider: provider.name.clone(),
        client_id: p.client_id.trim().to_string(),
        client_secret: None,
        auth_url: p.auth_url.trim().to_string(),
        token_url: p.token_url.trim().to_string(),
        scopes: p.scopes.trim().to_string(),
    };
    clients::save(&state.pool, &state.secrets, &settings, secret.as_deref()).await?;
    let saved = clients::get(&state.pool, &state.secrets, &provider.name).await?.expect("just saved");
    Ok(to_api(saved))
}
