//! `auth.*` handlers: log a socket in, resume, log out, change the password.

use std::sync::Arc;
use std::time::Instant;

use protocol::auth::{
    ApiToken, ChangePasswordParams, LoginParams, NewApiToken, ResumeParams, Session, TokenCreateParams, WhoAmI,
};
use protocol::credentials::IdParams;
use protocol::Empty;

use super::{ApiError, ApiState, Caller};
use crate::auth::{password, sessions, tokens};

pub async fn login(state: &ApiState, caller: &Arc<Caller>, p: LoginParams) -> Result<Session, ApiError> {
    check_lengths(&p.username, &p.password)?;
    let attempt = state.login_limiter.begin(&p.username, caller.addr, Instant::now()).map_err(|w| {
        ApiError::RateLimited { client: w.client.to_string(), retry_after_secs: w.retry_after.as_secs().max(1) }
    })?;
    let Some(user_id) = check_password(state, &p.username, p.password).await? else {
        // The attempt stays counted.
        tracing::warn!(addr = %caller.addr, username = ?shown(&p.username), "failed login");
        return Err(ApiError::LoginFailed);
    };
    attempt.succeeded();
    let (token, session_id, expires_at) = sessions::create(&state.pool, user_id).await?;
    caller
        .log_in(sessions::AuthenticatedUser { user_id, username: p.username, session_id, expires_at }, &state.sockets);
    Ok(Session { token, expires_at: crate::time_format::rfc3339(expires_at) })
}

/// Usernames and passwords past these lengths are refused before any hashing.
fn check_lengths(username: &str, password: &str) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if username.len() > MAX_USERNAME_BYTES {
        errors.push(protocol::FieldError::new("username", format!("must be at most {MAX_USERNAME_BYTES} bytes")));
    }
    if password.len() > password::MAX_PASSWORD_BYTES {
        errors.push(protocol::FieldError::new(
            "password",
            format!("must be at most {} bytes", password::MAX_PASSWORD_BYTES),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::InvalidParams(errors))
    }
}

const MAX_USERNAME_BYTES: usize = 256;

/// A username as the log shows it: cut short; `?` formatting escapes control characters,
/// so a typed newline cannot forge a log line.
fn shown(username: &str) -> String {
    username.chars().take(64).collect()
}

/// The user's id when `password` is theirs. An unknown user costs a hash check too, so
/// timing does not reveal which usernames exist.
async fn check_password(state: &ApiState, username: &str, password: String) -> Result<Option<i64>, ApiError> {
    let row: Option<(i64, String)> = sqlx::query_as("SELECT id, password_hash FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(&state.pool)
        .await?;
    let (id, hash) = row.unwrap_or((-1, password::DUMMY_HASH.to_string()));
    Ok(password::verify(password, hash).await?.then_some(id).filter(|id| *id >= 0))
}

/// For actions that need the current password again (`auth.token.create`, exporting the
/// secret seed): counted like a login, `-32002` when wrong, a field error when missing.
pub async fn confirm_password(
    state: &ApiState,
    caller: &Caller,
    user: &sessions::AuthenticatedUser,
    password: Option<String>,
) -> Result<(), ApiError> {
    let password = match password {
        Some(p) if !p.is_empty() => p,
        _ => return Err(ApiError::field("password", "is required: enter your current password to confirm")),
    };
    check_lengths(&user.username, &password)?;
    let attempt = state.login_limiter.begin(&user.username, caller.addr, Instant::now()).map_err(|w| {
        ApiError::RateLimited { client: w.client.to_string(), retry_after_secs: w.retry_after.as_secs().max(1) }
    })?;
    match check_password(state, &user.username, password).await? {
        Some(id) if id == user.user_id => {
            attempt.succeeded();
            Ok(())
        }
        _ => {
            tracing::warn!(addr = %caller.addr, username = ?shown(&user.username), "wrong password to confirm an action");
            Err(ApiError::WrongPassword)
        }
    }
}

pub async fn resume(state: &ApiState, caller: &Arc<Caller>, p: ResumeParams) -> Result<WhoAmI, ApiError> {
    let user = sessions::lookup(&state.pool, &p.token).await?.ok_or(ApiError::NotAuthenticated)?;
    let me = WhoAmI { username: user.username.clone(), expires_at: crate::time_format::rfc3339(user.expires_at) };
    caller.log_in(user, &state.sockets);
    Ok(me)
}

/// Ends the socket's login session: every socket using it (this one included, once
/// the answer is sent) closes. A socket on an API token is only logged out itself.
pub async fn logout(state: &ApiState, caller: &Caller) -> Result<Empty, ApiError> {
    if let Some(user) = caller.user() {
        if sessions::delete(&state.pool, user.session_id).await? {
            state.sockets.end_sessions(&[user.session_id]);
        }
    }
    caller.set_user(None);
    Ok(Empty {})
}

pub async fn me(caller: &Caller) -> Result<WhoAmI, ApiError> {
    let user = caller.user().ok_or(ApiError::NotAuthenticated)?;
    Ok(WhoAmI { username: user.username, expires_at: crate::time_format::rfc3339(user.expires_at) })
}

pub async fn change_password(state: &ApiState, caller: &Caller, p: ChangePasswordParams) -> Result<Empty, ApiError> {
    let user = caller.user().ok_or(ApiError::NotAuthenticated)?;
    if let Err(why) = protocol::validation::check_new_password(&p.new) {
        return Err(ApiError::field("new", why));
    }
    check_lengths(&user.username, &p.new)
        .map_err(|_| ApiError::field("new", format!("must be at most {} bytes", password::MAX_PASSWORD_BYTES)))?;
    // The old password is checked like a login: counted, delayed when guessed.
    match confirm_password(state, caller, &user, Some(p.old)).await {
        Err(ApiError::WrongPassword) => return Err(ApiError::field("old", "is not the current password")),
        Err(ApiError::InvalidParams(bad)) => {
            let why = bad.into_iter().next().map(|e| e.message).unwrap_or_else(|| "is required".into());
            return Err(ApiError::field("old", why));
        }
        other => other?,
    }
    let hash = password::hash(p.new).await?;
    let mut tx = state.pool.begin().await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(user.user_id)
        .execute(&mut *tx)
        .await?;
    // Other login sessions end; API tokens too when asked.
    let ended: Vec<(i64, String)> = sqlx::query_as(
        "DELETE FROM sessions WHERE user_id = $1 AND id <> $2 AND (kind = 'session' OR (kind = 'api' AND $3))
         RETURNING id, kind",
    )
    .bind(user.user_id)
    .bind(user.session_id)
    .bind(p.revoke_tokens)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let ids: Vec<i64> = ended.iter().map(|(id, _)| *id).collect();
    let closed = state.sockets.end_sessions(&ids);
    let tokens = ended.iter().filter(|(_, kind)| kind == "api").count();
    tracing::info!(
        username = ?shown(&user.username),
        sessions = ended.len() - tokens,
        tokens,
        sockets = closed,
        "password changed; other sessions ended"
    );
    Ok(Empty {})
}

pub async fn token_create(state: &ApiState, caller: &Caller, p: TokenCreateParams) -> Result<NewApiToken, ApiError> {
    let user = caller.user().ok_or(ApiError::NotAuthenticated)?;
    confirm_password(state, caller, &user, p.password).await?;
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
        return Err(ApiError::not_found("API token", p.id));
    }
    let closed = state.sockets.end_sessions(&[p.id]);
    tracing::info!(id = p.id, user = %user.username, sockets = closed, "API token revoked");
    Ok(protocol::Empty {})
}
