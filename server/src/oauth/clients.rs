//! The administrator's OAuth app settings per provider, in `oauth_clients`. The client
//! secret is sealed with the credentials key, bound to `oauth-client:<provider>`.

use sqlx::PgPool;

use crate::crypto::{CannotDecrypt, SecretBox};

#[derive(Clone, Default)]
pub struct ClientSettings {
    pub provider: String,
    pub client_id: String,
    pub client_secret: Option<Result<String, CannotDecrypt>>,
    pub auth_url: String,
    pub token_url: String,
    pub scopes: String,
}

fn label(provider: &str) -> String {
    format!("oauth-client:{provider}")
}

type Row = (String, String, Option<Vec<u8>>, String, String, String);

fn from_row(secrets: &SecretBox, (provider, client_id, sealed, auth_url, token_url, scopes): Row) -> ClientSettings {
    let client_secret =
        sealed.map(|s| secrets.open(&label(&provider), &s).map(|b| String::from_utf8_lossy(&b).into_owned()));
    ClientSettings { provider, client_id, client_secret, auth_url, token_url, scopes }
}

pub async fn list(pool: &PgPool, secrets: &SecretBox) -> sqlx::Result<Vec<ClientSettings>> {
    let rows: Vec<Row> =
        sqlx::query_as("SELECT provider, client_id, client_secret_sealed, auth_url, token_url, scopes FROM oauth_clients ORDER BY provider")
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(|r| from_row(secrets, r)).collect())
}

pub async fn get(pool: &PgPool, secrets: &SecretBox, provider: &str) -> sqlx::Result<Option<ClientSettings>> {
    let row: Option<Row> =
        sqlx::query_as("SELECT provider, client_id, client_secret_sealed, auth_url, token_url, scopes FROM oauth_clients WHERE provider = $1")
            .bind(provider)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|r| from_row(secrets, r)))
}

/// Saves settings; `secret` is `None` to keep the stored one, `Some("")` to clear it.
pub async fn save(pool: &PgPool, secrets: &SecretBox, s: &ClientSettings, secret: Option<&str>) -> sqlx::Result<()> {
    let sealed: Option<Option<Vec<u8>>> =
        secret.map(|v| (!v.is_empty()).then(|| secrets.seal(&label(&s.provider), v.as_bytes())));
    sqlx::query(
        "INSERT INTO oauth_clients (provider, client_id, client_secret_sealed, auth_url, token_url, scopes)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (provider) DO UPDATE SET client_id = $2,
             client_secret_sealed = CASE WHEN $7 THEN $3 ELSE oauth_clients.client_secret_sealed END,
             auth_url = $4, token_url = $5, scopes = $6, updated_at = now()",
    )
    .bind(&s.provider)
    .bind(&s.client_id)
    .bind(sealed.clone().flatten())
    .bind(&s.auth_url)
    .bind(&s.token_url)
    .bind(&s.scopes)
    .bind(sealed.is_some())
    .execute(pool)
    .await?;
    Ok(())
}
