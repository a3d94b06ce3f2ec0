//! `auth.*` handlers: log a socket in, resume, log out, change the password.

use std::time::Instant;

use protocol::auth::{
    ApiToken, ChangePasswordParams, LoginParams, NewApiToken, ResumeParams, Session, TokenCreateParams, WhoAmI,
};
use protocol::credentials::IdParams;
use protocol::Empty;

use super::{ApiError, ApiState, Caller};
use crate::auth::{password, sessions, tokens};

pub async fn login(state: &ApiState, caller: &Caller, p: LoginParams) -> Result<Session, ApiError> {
    let now = Instant::now();
    if let Err(wait) = state.login_limiter.check(caller.addr, now) {
        return Err(ApiError::RateLimited { addr: caller.addr, retry_after_secs: wait.as_secs().max(1) });
    }
    let row: Option<(i64, String)> = sqlx::query_as("SELECT id, password_hash FROM users WHERE username = $1")
        .bind(&p.username)
        .fetch_optional(&state.pool)
        .await?;
    // An unknown user costs a hash check too, so timing does not reveal which usernames exist.
    let (id, hash) = row.unwrap_or((-1, password::DUMMY_HASH.to_string()));
    let user_id = match password::verify(p.password, hash).await? {
        true if id >= 0 => id,
        _ => {
            state.login_limiter.record_failure(caller.addr, now);
            tracing::warn!(addr = %caller.addr, username = %p.username, "failed login");
            return Err(ApiError::LoginFailed);
        }
    };
    state.login_limiter.record_success(caller.addr);
    let (token, session_id, expires_at) = sessions::create(&state.pool, user_id).await?;
    caller.set_user(Some(sessions::AuthenticatedUser { user_id, username: p.username, session_id, expires_at }));
    Ok(Session { token, expires_at: sessions::rfc3339(expires_at) })
}

pub async fn resume(state: &ApiState, caller: &Caller, p: ResumeParams) -> Result<WhoAmI, ApiError> {
    let user = sessions::lookup(&state.pool, &p.token).await?.ok_or(ApiError::NotAuthenticated)?;
    let me = WhoAmI { username: user.username.clone(), expires_at: sessions::rfc3339(user.expires_at) };
    caller.set_user(Some(user));
    Ok(me)
}

pub async fn logout(state: &ApiState, caller: &Caller) -> Result<Empty, ApiError> {
    if let Some(user) = caller.user() {
        sessions::delete(&state.pool, user.session_id).await?;
    }
    caller.set_user(None);
    Ok(Empty {})
}

pub async fn me(caller: &Caller) -> Result<WhoAmI, ApiError> {
    let user = caller.user().ok_or(ApiError::NotAuthenticated)?;
    Ok(WhoAmI { username: user.username, expires_at: sessions::rfc3339(user.expires_at) })
}

pub async fn change_password(state: &ApiState, caller: &Caller, p: ChangePasswordParams) -> Result<Empty, ApiError> {
    let user = caller.user().ok_or(ApiError::NotAuthenticated)?;
    if let Err(why) = protocol::validation::check_new_password(&p.new) {
        return Err(ApiError::field("new", why));
    }
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(user.user_id)
        .fetch_one(&state.pool)
        .await?;
    if !password::verify(p.old, stored).await? {
        return Err(ApiError::field("old", "is not the current password"));
    }
    let hash = password::hash(p.new).await?;
    let mut tx = state.pool.begin().await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(user.user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2 AND kind = 'session'")
        .bind(user.user_id)
        .bind(user.session_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(username = %user.username, "password changed; other sessions ended");
    Ok(Empty {})
}

pub async fn token_create(state: &ApiState, caller: &Caller, p: TokenCreateParams) -> Result<NewApiToken, ApiError> {
    let user = caller.user().ok_or(ApiError::NotAuthenticated)?;
    let mut errors = Vec::new();
    if let Err(why) = protocol::auth::check_token_name(&p.name) {
        errors.push(protocol::FieldError::new("name", why));
    }
    let expires_at = match p.expires_at.as_deref() {
        None => None,
        Some(text) => match time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
            Ok(t) if t > time::OffsetDateTime::now_utc() => Some(t),
            Ok(_) => {
                errors.push(protocol::FieldError::new("expires_at", "must be in the future"));
                None
            }
            Err(_) => {
                errors.push(protocol::FieldError::new("expires_at", format!("`{text}` is not an RFC 3339 time")));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(ApiError::InvalidParams(errors));
    }
    let (token, info) = tokens::create(&state.pool, user.user_id, p.name.trim(), expires_at).await?;
    tracing::info!(id = info.id, name = %info.name, user = %user.username, "API token created");
    Ok(NewApiToken { token, info })
}

pub async fn token_list(state: &ApiState, caller: &Caller) -> Result<Vec<ApiToken>, ApiError> {
    let user = caller.user().ok_or(ApiError::NotAuthenticated)?;
    Ok(tokens::list(&state.pool, user.user_id).await?)
}

pub async fn token_revoke(state: &ApiState, caller: &Caller, p: IdParams) -> Result<protocol::Empty, ApiError> {
    let user = caller.user().ok_or(ApiError::NotAuthenticated)?;
    if !tokens::revoke(&state.pool, user.user_id, p.id).await? {
        return Err(ApiError::NotFound(format!("API token {} does not exist", p.id)));
    }
    tracing::info!(id = p.id, user = %user.username, "API token revoked");
    Ok(protocol::Empty {})
}
