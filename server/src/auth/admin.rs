//! The first start creates the one admin account.

use sqlx::PgPool;

pub const ADMIN_USERNAME: &str = "admin";

/// Creates `admin` when there is no user yet. Returns the password when it was generated
/// here, so the caller can print it once; a configured one is not echoed.
pub async fn ensure_admin(pool: &PgPool, configured: Option<&str>) -> anyhow::Result<Option<String>> {
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(pool).await?;
    if users > 0 {
        return Ok(None);
    }
    let (password, generated) = match configured {
        Some(p) => {
            protocol::validation::check_new_password(p)
                .map_err(|why| anyhow::anyhow!("CLOUDSYNC_ADMIN_PASSWORD {why}"))?;
            (p.to_string(), false)
        }
        None => (super::password::generate(), true),
    };
    let hash = super::password::hash(password.clone()).await?;
    sqlx::query("INSERT INTO users (username, password_hash) VALUES ($1, $2) ON CONFLICT (username) DO NOTHING")
        .bind(ADMIN_USERNAME)
        .bind(hash)
        .execute(pool)
        .await?;
    Ok(generated.then_some(password))
}
