//! API tokens: long-lived bearer tokens for scripts and the command line. They are rows
//! of `sessions` with `kind = 'api'` and a name, so `auth.resume` and the per-call
//! validity check treat them like login sessions; only their hash is stored.

use base64::Engine;
use protocol::auth::{ApiToken, API_TOKEN_PREFIX};
use rand::RngCore;
use sqlx::PgPool;
use time::OffsetDateTime;

use super::sessions::token_hash;
use crate::time_format::rfc3339;

/// Stored as the expiry of a token that never expires.
fn never() -> OffsetDateTime {
    time::macros::datetime!(9999-12-31 0:00 UTC)
}

fn info((id, name, created_at, expires_at, last_used_at): Row) -> ApiToken {
    ApiToken {
        id,
        name,
        created_at: rfc3339(created_at),
        expires_at: (expires_at < never()).then(|| rfc3339(expires_at)),
        last_used_at: rfc3339(last_used_at),
    }
}

type Row = (i64, String, OffsetDateTime, OffsetDateTime, OffsetDateTime);

/// Creates a token for `user_id`; returns it (shown once) with its description.
pub async fn create(
    pool: &PgPool,
    user_id: i64,
    name: &str,
    expires_at: Option<OffsetDateTime>,
) -> sqlx::Result<(String, ApiToken)> {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = format!("{API_TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw));
    let row: Row = sqlx::query_as(
        "INSERT INTO sessions (user_id, token_hash, expires_at, kind, name) VALUES ($1, $2, $3, 'api', $4)
         RETURNING id, name, created_at, expires_at, last_used_at",
    )
    .bind(user_id)
    .bind(token_hash(&token))
    .bind(expires_at.unwrap_or_else(never))
    .bind(name)
    .fetch_one(pool)
    .await?;
    Ok((token, info(row)))
}

/// The user's tokens, newest first (expired ones included until the next start).
pub async fn list(pool: &PgPool, user_id: i64) -> sqlx::Result<Vec<ApiToken>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, name, created_at, expires_at, last_used_at FROM sessions
         WHERE user_id = $1 AND kind = 'api' ORDER BY id DESC",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(info).collect())
}

/// Deletes one of the user's tokens; false when there is no such token.
pub async fn revoke(pool: &PgPool, user_id: i64, id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2 AND kind = 'api'")
        .bind(id)
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}
