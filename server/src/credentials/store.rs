//! Credentials in PostgreSQL. Attributes are serialised to JSON and sealed as one
//! ciphertext whose associated data names the row (`credential:<id>`); the id is drawn
//! from the sequence before the insert so it can be bound.

use std::collections::BTreeMap;

use sqlx::PgPool;
use time::OffsetDateTime;

use super::ValidAttributes;
use crate::crypto::{CannotDecrypt, SecretBox};

/// A stored credential, decrypted if possible.
pub struct StoredCredential {
    pub id: i64,
    pub name: String,
    pub provider: String,
    pub attributes: Result<ValidAttributes, CannotDecrypt>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub verification: Option<(OffsetDateTime, bool, Option<String>)>,
    /// The provider refused the OAuth login: rclone's reason.
    pub needs_reconnect: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a credential named `{0}` already exists")]
    DuplicateName(String),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// The associated data a row's secrets are sealed with.
pub fn label(id: i64) -> String {
    format!("credential:{id}")
}

pub fn seal(secrets: &SecretBox, id: i64, attrs: &ValidAttributes) -> Vec<u8> {
    let json = serde_json::to_vec(attrs.as_map()).expect("a string map serialises");
    secrets.seal(&label(id), &json)
}

fn open(secrets: &SecretBox, id: i64, sealed: &[u8]) -> Result<ValidAttributes, CannotDecrypt> {
    let json = secrets.open(&label(id), sealed)?;
    let map: BTreeMap<String, String> = serde_json::from_slice(&json).map_err(|_| CannotDecrypt)?;
    Ok(ValidAttributes::from_stored(map))
}

fn duplicate(e: sqlx::Error, name: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.constraint() == Some("cloud_credentials_name_key") => {
            StoreError::DuplicateName(name.into())
        }
        _ => StoreError::Sql(e),
    }
}

pub async fn create(
    pool: &PgPool,
    secrets: &SecretBox,
    name: &str,
    provider: &str,
    attrs: &ValidAttributes,
) -> Result<i64, StoreError> {
    let mut tx = pool.begin().await?;
    let id = insert_sealed(&mut tx, name, provider, |id| seal(secrets, id, attrs)).await?;
    tx.commit().await?;
    Ok(id)
}

/// Inserts a row whose ciphertext `sealed_for(id)` makes once the id is drawn.
pub async fn insert_sealed(
    tx: &mut sqlx::PgConnection,
    name: &str,
    provider: &str,
    sealed_for: impl FnOnce(i64) -> Vec<u8>,
) -> Result<i64, StoreError> {
    let id: i64 = sqlx::query_scalar("SELECT nextval('cloud_credentials_id_seq')").fetch_one(&mut *tx).await?;
    sqlx::query("INSERT INTO cloud_credentials (id, name, provider, attributes_sealed) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(name)
        .bind(provider)
        .bind(sealed_for(id))
        .execute(&mut *tx)
        .await
        .map_err(|e| duplicate(e, name))?;
    Ok(id)
}

/// Every row as stored, for backups: (id, name, provider, ciphertext).
pub async fn list_sealed(pool: &PgPool) -> sqlx::Result<Vec<(i64, String, String, Vec<u8>)>> {
    sqlx::query_as("SELECT id, name, provider, attributes_sealed FROM cloud_credentials ORDER BY id")
        .fetch_all(pool)
        .await
}

type Row = (
    i64,
    String,
    String,
    Vec<u8>,
    OffsetDateTime,
    OffsetDateTime,
    Option<OffsetDateTime>,
    Option<bool>,
    Option<String>,
    Option<String>,
);

const SELECT: &str = "SELECT id, name, provider, attributes_sealed, created_at, updated_at, verified_at, verify_ok, verify_reason, needs_reconnect FROM cloud_credentials";

fn from_row(secrets: &SecretBox, r: Row) -> StoredCredential {
    let (id, name, provider, sealed, created_at, updated_at, verified_at, ok, reason, needs_reconnect) = r;
    StoredCredential {
        id,
        name,
        provider,
        attributes: open(secrets, id, &sealed),
        created_at,
        updated_at,
        verification: verified_at.map(|at| (at, ok.unwrap_or(false), reason)),
        needs_reconnect,
    }
}

pub async fn list(pool: &PgPool, secrets: &SecretBox) -> sqlx::Result<Vec<StoredCredential>> {
    let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} ORDER BY lower(name), id")).fetch_all(pool).await?;
    Ok(rows.into_iter().map(|r| from_row(secrets, r)).collect())
}

pub async fn get(pool: &PgPool, secrets: &SecretBox, id: i64) -> sqlx::Result<Option<StoredCredential>> {
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} WHERE id = $1")).bind(id).fetch_optional(pool).await?;
    Ok(row.map(|r| from_row(secrets, r)))
}

/// Replaces name and attributes; clears the last verification, which was of other
/// settings.
pub async fn update(
    pool: &PgPool,
    secrets: &SecretBox,
    id: i64,
    name: &str,
    attrs: &ValidAttributes,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE cloud_credentials SET name = $2, attributes_sealed = $3, updated_at = now(),
         verified_at = NULL, verify_ok = NULL, verify_reason = NULL, needs_reconnect = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(name)
    .bind(seal(secrets, id, attrs))
    .execute(pool)
    .await
    .map_err(|e| duplicate(e, name))?;
    Ok(done.rows_affected() == 1)
}

/// Saves attributes rclone changed (a refreshed OAuth token), keeping the name and the
/// last verification; a refresh that worked means the login is good again.
pub async fn save_refreshed(pool: &PgPool, secrets: &SecretBox, id: i64, attrs: &ValidAttributes) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE cloud_credentials SET attributes_sealed = $2, updated_at = now(), needs_reconnect = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(seal(secrets, id, attrs))
    .execute(pool)
    .await?;
    tracing::info!(id, "saved a token rclone refreshed");
    Ok(())
}

pub async fn delete(pool: &PgPool, id: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM cloud_credentials WHERE id = $1").bind(id).execute(pool).await?.rows_affected() == 1)
}

/// Records a verification's outcome. A working one clears the needs-reconnect mark; one
/// the provider refused the login for (`login_refused`) sets it, keeping an earlier reason.
pub async fn record_verification(
    pool: &PgPool,
    id: i64,
    ok: bool,
    reason: Option<&str>,
    login_refused: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE cloud_credentials SET verified_at = now(), verify_ok = $2, verify_reason = $3,
         needs_reconnect = CASE WHEN $2 THEN NULL WHEN $4 THEN COALESCE(needs_reconnect, $3)
                                ELSE needs_reconnect END
         WHERE id = $1",
    )
    .bind(id)
    .bind(ok)
    .bind(reason)
    .bind(login_refused)
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks the credential as needing a new OAuth login; true when it did not already
/// (so the failure is told once).
pub async fn mark_needs_reconnect(pool: &PgPool, id: i64, reason: &str) -> sqlx::Result<bool> {
    let done =
        sqlx::query("UPDATE cloud_credentials SET needs_reconnect = $2 WHERE id = $1 AND needs_reconnect IS NULL")
            .bind(id)
            .bind(reason)
            .execute(pool)
            .await?;
    Ok(done.rows_affected() == 1)
}
