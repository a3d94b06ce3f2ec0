//! Tasks in PostgreSQL: the settings as JSON, the crypt secrets sealed and bound to
//! `task:<id>`.

use chrono::{DateTime, Utc};
use protocol::credentials::SecretMask;
use protocol::tasks::{SyncTask, TaskParams, Timetable};
use sqlx::PgPool;
use time::OffsetDateTime;

use super::{CryptSecrets, ValidTask};
use crate::crypto::{CannotDecrypt, SecretBox};

/// The associated data a row's secrets are sealed with.
pub fn label(id: i64) -> String {
    format!("task:{id}")
}

/// A task's crypt secrets sealed for row `id`.
pub fn seal(secrets: &SecretBox, id: i64, crypt: Option<&CryptSecrets>) -> Option<Vec<u8>> {
    crypt.map(|c| secrets.seal(&label(id), &serde_json::to_vec(c).expect("serialisable")))
}

/// The tag over a row's settings: AES-GCM over no plaintext, with the id and the
/// settings as associated data (an authenticator only the secret seed's holder makes).
fn tag(secrets: &SecretBox, id: i64, settings: &str) -> Vec<u8> {
    secrets.seal(&tag_label(id, settings), b"")
}

fn tag_label(id: i64, settings: &str) -> String {
    format!("task-settings:{id}\n{settings}")
}

/// A stored task with its crypt secrets opened (or why not).
pub struct StoredTask {
    pub task: SyncTask,
    pub crypt: Option<Result<CryptSecrets, CannotDecrypt>>,
    /// The settings carry a valid tag: cloudsync wrote them. Runs refuse other rows.
    pub authentic: bool,
    /// The bandwidth timetable, parsed (an error only for a row cloudsync did not write).
    pub bandwidth: Result<Timetable, String>,
}

type Row = (i64, String, Option<Vec<u8>>, Option<Vec<u8>>, OffsetDateTime, OffsetDateTime);

fn from_row(
    secrets: &SecretBox,
    (id, settings, sealed, settings_tag, created_at, updated_at): Row,
) -> sqlx::Result<StoredTask> {
    let authentic = settings_tag.is_some_and(|t| secrets.open(&tag_label(id, &settings), &t).is_ok());
    let p: TaskParams = serde_json::from_str(&settings).map_err(|e| sqlx::Error::Decode(e.into()))?;
    let bandwidth = Timetable::parse(&p.bwlimit);
    let crypt = sealed.map(|s| {
        secrets.open(&label(id), &s).and_then(|b| serde_json::from_slice::<CryptSecrets>(&b).map_err(|_| CannotDecrypt))
    });
    let mask = |present: bool| present.then_some(SecretMask::SET);
    let (has_password, has_salt) = match &crypt {
        Some(Ok(c)) => (!c.password.is_empty(), !c.salt.is_empty()),
        Some(Err(_)) => (true, true),
        None => (false, false),
    };
    let task = SyncTask {
        id,
        description: p.description,
        credentials: p.credentials,
        direction: p.direction,
        transfer_mode: p.transfer_mode,
        path: p.path,
        attributes: p.attributes,
        include: p.include,
        exclude: p.exclude,
        pre_script: p.pre_script,
        post_script: p.post_script,
        bwlimit: p.bwlimit,
        transfers: p.transfers,
        follow_symlinks: p.follow_symlinks,
        create_empty_src_dirs: p.create_empty_src_dirs,
        encryption: p.encryption,
        filename_encryption: p.filename_encryption,
        encryption_password: mask(has_password),
        encryption_salt: mask(has_salt),
        schedule: p.schedule,
        enabled: p.enabled,
        max_delete: p.max_delete,
        allow_empty_source: p.allow_empty_source,
        max_delete_percent: p.max_delete_percent,
        keep_deleted: p.keep_deleted,
        keep_deleted_days: p.keep_deleted_days,
        verify: p.verify,
        retry: p.retry,
        catch_up: p.catch_up,
        notify: p.notify,
        extra_flags: p.extra_flags,
        review: p.review,
        last_run: None,
        next_run: None,
        created_at: crate::time_format::rfc3339(created_at),
        updated_at: crate::time_format::rfc3339(updated_at),
    };
    Ok(StoredTask { task, crypt, authentic, bandwidth })
}

const SELECT: &str = "SELECT id, settings, encryption_sealed, settings_tag, created_at, updated_at FROM sync_tasks";

pub async fn list(pool: &PgPool, secrets: &SecretBox) -> sqlx::Result<Vec<StoredTask>> {
    let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} ORDER BY lower(description), id")).fetch_all(pool).await?;
    rows.into_iter().map(|r| from_row(secrets, r)).collect()
}

/// What may be read of a task without opening its secrets.
#[derive(serde::Deserialize)]
struct Summary {
    description: String,
    #[serde(default)]
    notify: protocol::notify::TaskNotify,
}

fn summary(settings: &str) -> Option<Summary> {
    serde_json::from_str(settings).ok()
}

/// `(id, description)` of every task, read without opening any secret (for `/metrics`).
pub async fn descriptions(pool: &PgPool) -> sqlx::Result<Vec<(i64, String)>> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, settings FROM sync_tasks ORDER BY id").fetch_all(pool).await?;
    Ok(rows
        .into_iter()
        .map(|(id, settings)| (id, summary(&settings).map(|s| s.description).unwrap_or_default()))
        .collect())
}

/// A task's description and notification settings, read without opening its secrets
/// (the notifier asks on every run event); `None` for a row that is gone or unreadable.
pub async fn notify_settings(pool: &PgPool, id: i64) -> sqlx::Result<Option<(String, protocol::notify::TaskNotify)>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT settings FROM sync_tasks WHERE id = $1").bind(id).fetch_optional(pool).await?;
    Ok(row.and_then(|(settings,)| summary(&settings)).map(|s| (s.description, s.notify)))
}

pub async fn get(pool: &PgPool, secrets: &SecretBox, id: i64) -> sqlx::Result<Option<StoredTask>> {
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} WHERE id = $1")).bind(id).fetch_optional(pool).await?;
    row.map(|r| from_row(secrets, r)).transpose()
}

/// Writes row `id`: inserted when `insert`, else updated.
async fn write(
    conn: &mut sqlx::PgConnection,
    secrets: &SecretBox,
    id: i64,
    settings: &TaskParams,
    sealed: Option<Vec<u8>>,
    insert: bool,
) -> sqlx::Result<bool> {
    let sql = if insert {
        "INSERT INTO sync_tasks (id, description, credential_id, enabled, settings, encryption_sealed, settings_tag)
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    } else {
        "UPDATE sync_tasks SET description = $2, credential_id = $3, enabled = $4, settings = $5,
         encryption_sealed = $6, settings_tag = $7, updated_at = now() WHERE id = $1"
    };
    let text = serde_json::to_string(settings).expect("serialisable");
    let done = sqlx::query(sql)
        .bind(id)
        .bind(&settings.description)
        .bind(settings.credentials)
        .bind(settings.enabled)
        .bind(&text)
        .bind(sealed)
        .bind(tag(secrets, id, &text))
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Tags the settings of rows that have none (written before tags existed). Done once per
/// data directory, remembered by a marker file there, which the database's users cannot
/// write: later, a row without a tag is an edited row and stays refused.
pub async fn adopt_untagged(pool: &PgPool, secrets: &SecretBox, data_dir: &std::path::Path) -> anyhow::Result<u64> {
    let marker = data_dir.join("task-settings-tagged");
    if marker.exists() {
        return Ok(0);
    }
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, settings FROM sync_tasks WHERE settings_tag IS NULL").fetch_all(pool).await?;
    for (id, settings) in &rows {
        sqlx::query("UPDATE sync_tasks SET settings_tag = $2 WHERE id = $1")
            .bind(id)
            .bind(tag(secrets, *id, settings))
            .execute(pool)
            .await?;
    }
    std::fs::write(&marker, "task settings written before this file are tagged\n")?;
    Ok(rows.len() as u64)
}

async fn next_id(conn: &mut sqlx::PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT nextval('sync_tasks_id_seq')").fetch_one(conn).await
}

pub async fn create(pool: &PgPool, secrets: &SecretBox, t: &ValidTask) -> sqlx::Result<i64> {
    let mut conn = pool.acquire().await?;
    let id = next_id(&mut conn).await?;
    write(&mut conn, secrets, id, t.settings(), seal(secrets, id, t.crypt()), true).await?;
    Ok(id)
}

pub async fn update(pool: &PgPool, secrets: &SecretBox, id: i64, t: &ValidTask) -> sqlx::Result<bool> {
    write(&mut *pool.acquire().await?, secrets, id, t.settings(), seal(secrets, id, t.crypt()), false).await
}

/// `(id, schedule)` of every enabled task with a schedule: what the scheduler needs, read
/// without opening any secret. Each row is parsed here, not cast in SQL, so one row
/// the database cannot read as JSON never unschedules the others; it is skipped with a
/// warning.
pub async fn scheduled(pool: &PgPool) -> sqlx::Result<Vec<(i64, protocol::tasks::Schedule)>> {
    #[derive(serde::Deserialize)]
    struct JustSchedule {
        schedule: Option<protocol::tasks::Schedule>,
    }
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, settings FROM sync_tasks WHERE enabled ORDER BY id").fetch_all(pool).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, settings)| match serde_json::from_str::<JustSchedule>(&settings) {
            Ok(s) => Some((id, s.schedule?)),
            Err(e) => {
                tracing::warn!(task_id = id, error = %e, "a task's settings cannot be read; not scheduled");
                None
            }
        })
        .collect())
}

/// Remembers the scheduler's next planned start of a task (`None`: none planned).
pub async fn set_planned_start(pool: &PgPool, task_id: i64, at: Option<DateTime<Utc>>) -> sqlx::Result<()> {
    let at = at.map(|t| time::OffsetDateTime::from_unix_timestamp(t.timestamp()).expect("a valid time"));
    sqlx::query("UPDATE sync_tasks SET planned_start = $2 WHERE id = $1").bind(task_id).bind(at).execute(pool).await?;
    Ok(())
}

/// The enabled tasks with `catch_up` whose planned start lies before `now`: (id,
/// schedule, planned start).
pub async fn missed_starts(
    pool: &PgPool,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<(i64, protocol::tasks::Schedule, DateTime<Utc>)>> {
    #[derive(serde::Deserialize)]
    struct CatchUp {
        schedule: Option<protocol::tasks::Schedule>,
        #[serde(default)]
        catch_up: bool,
    }
    let now = time::OffsetDateTime::from_unix_timestamp(now.timestamp()).expect("a valid time");
    let rows: Vec<(i64, String, time::OffsetDateTime)> = sqlx::query_as(
        "SELECT id, settings, planned_start FROM sync_tasks WHERE enabled AND planned_start <= $1 ORDER BY id",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, settings, at)| {
            let s = serde_json::from_str::<CatchUp>(&settings).ok().filter(|s| s.catch_up)?;
            Some((id, s.schedule?, DateTime::from_timestamp(at.unix_timestamp(), 0)?))
        })
        .collect())
}

/// Every task as stored, for backups: (id, settings, sealed encryption secrets).
pub async fn list_for_backup(pool: &PgPool) -> sqlx::Result<Vec<(i64, TaskParams, Option<Vec<u8>>)>> {
    let rows: Vec<(i64, String, Option<Vec<u8>>)> =
        sqlx::query_as("SELECT id, settings, encryption_sealed FROM sync_tasks ORDER BY id").fetch_all(pool).await?;
    rows.into_iter()
        .map(|(id, settings, sealed)| {
            let p: TaskParams = serde_json::from_str(&settings).map_err(|e| sqlx::Error::Decode(e.into()))?;
            Ok((id, p, sealed))
        })
        .collect()
}

/// Inserts a restored task inside the import's transaction; `sealed_for` gives its
/// sealed secrets (re-sealed from the backup) for the new id.
pub async fn insert_restored(
    tx: &mut sqlx::PgConnection,
    secrets: &SecretBox,
    task: &ValidTask,
    sealed_for: impl FnOnce(i64) -> Option<Vec<u8>>,
) -> sqlx::Result<i64> {
    let id = next_id(tx).await?;
    write(tx, secrets, id, task.settings(), sealed_for(id), true).await?;
    Ok(id)
}

pub async fn delete(pool: &PgPool, id: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM sync_tasks WHERE id = $1").bind(id).execute(pool).await?.rows_affected() == 1)
}

/// The credential a task uses.
pub async fn credential_of(pool: &PgPool, task_id: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT credential_id FROM sync_tasks WHERE id = $1").bind(task_id).fetch_optional(pool).await
}

/// `(id, description)` of the tasks that use a credential.
pub async fn using_credential(pool: &PgPool, credential_id: i64) -> sqlx::Result<Vec<(i64, String)>> {
    sqlx::query_as("SELECT id, description FROM sync_tasks WHERE credential_id = $1 ORDER BY id")
        .bind(credential_id)
        .fetch_all(pool)
        .await
}
