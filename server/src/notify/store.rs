//! Notification targets in `notify_targets` (settings sealed whole, bound to the row's
//! id) and delivery attempts in `notify_deliveries`.

use protocol::credentials::SecretMask;
use protocol::notify::{Delivery, NotifyTarget, TargetSettings, TaskNotify};
use sqlx::PgPool;
use time::OffsetDateTime;

use crate::crypto::SecretBox;
use crate::time_format::rfc3339;

/// A target's settings as they are used: every secret in clear (in memory only).
pub type Settings = TargetSettings<String>;

pub struct StoredTarget {
    pub id: i64,
    pub name: String,
    /// `Err` when the settings cannot be opened (another secret seed).
    pub settings: Result<Settings, crate::crypto::CannotDecrypt>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl StoredTarget {
    /// As the API shows it: secrets masked. A target that cannot be opened shows no
    /// settings it does not have; `None`.
    pub fn to_api(&self) -> Option<NotifyTarget> {
        let settings = self.settings.as_ref().ok()?.clone();
        let masked = settings.map_secrets(|_, _| Ok::<_, ()>(SecretMask::SET)).ok()?;
        Some(NotifyTarget {
            id: self.id,
            name: self.name.clone(),
            target: masked,
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        })
    }
}

fn label(id: i64) -> String {
    format!("notify_target:{id}")
}

type Row = (i64, String, Option<Vec<u8>>, OffsetDateTime, OffsetDateTime);

fn from_row(secrets: &SecretBox, (id, name, sealed, created_at, updated_at): Row) -> StoredTarget {
    let settings = sealed
        .ok_or(crate::crypto::CannotDecrypt)
        .and_then(|s| secrets.open(&label(id), &s))
        .and_then(|plain| serde_json::from_slice(&plain).map_err(|_| crate::crypto::CannotDecrypt));
    StoredTarget { id, name, settings, created_at, updated_at }
}

const SELECT: &str = "SELECT id, name, settings_sealed, created_at, updated_at FROM notify_targets";

pub async fn list(pool: &PgPool, secrets: &SecretBox) -> sqlx::Result<Vec<StoredTarget>> {
    let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} ORDER BY name")).fetch_all(pool).await?;
    Ok(rows.into_iter().map(|r| from_row(secrets, r)).collect())
}

pub async fn get(pool: &PgPool, secrets: &SecretBox, id: i64) -> sqlx::Result<Option<StoredTarget>> {
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} WHERE id = $1")).bind(id).fetch_optional(pool).await?;
    Ok(row.map(|r| from_row(secrets, r)))
}

/// The targets among `ids` (those that still exist).
pub async fn many(pool: &PgPool, secrets: &SecretBox, ids: &[i64]) -> sqlx::Result<Vec<StoredTarget>> {
    let rows: Vec<Row> =
        sqlx::query_as(&format!("{SELECT} WHERE id = ANY($1) ORDER BY id")).bind(ids).fetch_all(pool).await?;
    Ok(rows.into_iter().map(|r| from_row(secrets, r)).collect())
}

fn seal(secrets: &SecretBox, id: i64, settings: &Settings) -> Vec<u8> {
    secrets.seal(&label(id), &serde_json::to_vec(settings).expect("settings serialise"))
}

/// Stores a new target; its id. `Err(None)` when the name is taken.
pub async fn create(pool: &PgPool, secrets: &SecretBox, name: &str, settings: &Settings) -> sqlx::Result<Option<i64>> {
    let mut tx = pool.begin().await?;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO notify_targets (name, kind) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id",
    )
    .bind(name)
    .bind(settings.kind())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = id else { return Ok(None) };
    sqlx::query("UPDATE notify_targets SET settings_sealed = $2 WHERE id = $1")
        .bind(id)
        .bind(seal(secrets, id, settings))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(id))
}

/// Replaces a target's name and settings; false when the name belongs to another.
pub async fn update(
    pool: &PgPool,
    secrets: &SecretBox,
    id: i64,
    name: &str,
    settings: &Settings,
) -> sqlx::Result<bool> {
    let taken: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM notify_targets WHERE name = $1 AND id <> $2)")
        .bind(name)
        .bind(id)
        .fetch_one(pool)
        .await?;
    if taken {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE notify_targets SET name = $2, kind = $3, settings_sealed = $4, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(name)
    .bind(settings.kind())
    .bind(seal(secrets, id, settings))
    .execute(pool)
    .await?;
    Ok(true)
}

/// Deletes a target and takes it out of the server-wide default.
pub async fn delete(pool: &PgPool, id: i64) -> sqlx::Result<bool> {
    sqlx::query("UPDATE notify_default SET targets = array_remove(targets, $1)").bind(id).execute(pool).await?;
    Ok(sqlx::query("DELETE FROM notify_targets WHERE id = $1").bind(id).execute(pool).await?.rows_affected() > 0)
}

pub async fn record_delivery(
    pool: &PgPool,
    target_id: i64,
    run_id: Option<i64>,
    outcome: &Result<Option<u16>, (Option<u16>, String)>,
) -> sqlx::Result<()> {
    let (ok, status, error) = match outcome {
        Ok(status) => (true, *status, None),
        Err((status, e)) => (false, *status, Some(e.as_str())),
    };
    sqlx::query("INSERT INTO notify_deliveries (target_id, run_id, ok, status, error) VALUES ($1, $2, $3, $4, $5)")
        .bind(target_id)
        .bind(run_id)
        .bind(ok)
        .bind(status.map(i32::from))
        .bind(error)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn deliveries(pool: &PgPool, target_id: Option<i64>, limit: i64) -> sqlx::Result<Vec<Delivery>> {
    let rows: Vec<(i64, Option<i64>, OffsetDateTime, bool, Option<i32>, Option<String>)> = sqlx::query_as(
        "SELECT target_id, run_id, at, ok, status, error FROM notify_deliveries
         WHERE ($1::bigint IS NULL OR target_id = $1) ORDER BY id DESC LIMIT $2",
    )
    .bind(target_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(target_id, run_id, at, ok, status, error)| Delivery {
            target_id,
            run_id,
            at: rfc3339(at),
            ok,
            status: status.and_then(|s| u16::try_from(s).ok()),
            error,
        })
        .collect())
}

/// The server-wide default for tasks that list no targets.
pub async fn default_notify(pool: &PgPool) -> sqlx::Result<TaskNotify> {
    let row: Option<(Vec<i64>, String)> =
        sqlx::query_as("SELECT targets, notify_on FROM notify_default").fetch_optional(pool).await?;
    Ok(row
        .map(|(targets, on)| TaskNotify {
            targets,
            on: serde_json::from_value(serde_json::Value::String(on)).unwrap_or_default(),
        })
        .unwrap_or_default())
}

pub async fn set_default_notify(pool: &PgPool, notify: &TaskNotify) -> sqlx::Result<()> {
    let on = serde_json::to_value(notify.on).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
    sqlx::query(
        "INSERT INTO notify_default (only_row, targets, notify_on) VALUES (true, $1, $2)
         ON CONFLICT (only_row) DO UPDATE SET targets = $1, notify_on = $2",
    )
    .bind(&notify.targets)
    .bind(on)
    .execute(pool)
    .await?;
    Ok(())
}
