//! Login sessions in PostgreSQL: they survive a server restart and expire on their own.
//! The client holds a random 256-bit token; the table holds its SHA-256.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use time::OffsetDateTime;

/// How long a session token stays valid after login.
pub const SESSION_LIFETIME: time::Duration = time::Duration::hours(24);

/// The user a socket is logged in as.
#[derive(Clone, Debug, PartialEq)]
pub struct AuthenticatedUser {
    pub user_id: i64,
    pub username: String,
    pub session_id: i64,
    pub expires_at: OffsetDateTime,
}

pub(crate) fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Creates a session for `user_id`; returns the token (shown once) and its expiry.
pub async fn create(pool: &PgPool, user_id: i64) -> sqlx::Result<(String, i64, OffsetDateTime)> {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let expires_at = OffsetDateTime::now_utc() + SESSION_LIFETIME;
    let id: i64 =
        sqlx::query_scalar("INSERT INTO sessions (user_id, token_hash, expires_at) VALUES ($1, $2, $3) RETURNING id")
            .bind(user_id)
            .bind(token_hash(&token))
            .bind(expires_at)
            .fetch_one(pool)
            .await?;
    Ok((token, id, expires_at))
}

/// The session a token belongs to, if it exists and has not expired.
pub async fn lookup(pool: &PgPool, token: &str) -> sqlx::Result<Option<AuthenticatedUser>> {
    let row: Option<(i64, String, i64, OffsetDateTime)> = sqlx::query_as(
        "UPDATE sessions s SET last_used_at = now() FROM users u
         WHERE s.token_hash = $1 AND s.expires_at > now() AND u.id = s.user_id
         RETURNING u.id, u.username, s.id, s.expires_at",
    )
    .bind(token_hash(token))
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(user_id, username, session_id, expires_at)| AuthenticatedUser {
        user_id,
        username,
        session_id,
        expires_at,
    }))
}

/// Whether a session is still valid (not logged out, not expired).
pub async fn is_valid(pool: &PgPool, session_id: i64) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND expires_at > now())")
        .bind(session_id)
        .fetch_one(pool)
        .await
}

/// Ends a login session (an API token is left alone: it is revoked explicitly).
/// Ends a login session (API tokens are left alone); true when there was one.
pub async fn delete(pool: &PgPool, session_id: i64) -> sqlx::Result<bool> {
    let done =
        sqlx::query("DELETE FROM sessions WHERE id = $1 AND kind = 'session'").bind(session_id).execute(pool).await?;
    Ok(done.rows_affected() == 1)
}

/// Removes expired sessions; called at start.
pub async fn purge_expired(pool: &PgPool) -> sqlx::Result<u64> {
    Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= now()").execute(pool).await?.rows_affected())
}
