//! Run records in `runs`: state, times, exit code, error line and final stats. The log
//! lines are elsewhere (`logstore`).

use protocol::runs::{Progress, Run, RunState};
use sqlx::PgPool;
use time::OffsetDateTime;

use crate::time_format::rfc3339;

type Row = (
    i64,
    i64,
    String,
    bool,
    OffsetDateTime,
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
    Option<i32>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

const SELECT: &str =
    "SELECT id, task_id, state, dry_run, queued_at, started_at, finished_at, exit_code, error, stats, retry_of FROM runs";

fn from_row(
    (id, task_id, state, dry_run, queued_at, started_at, finished_at, exit_code, error, stats, retry_of): Row,
) -> Run {
    Run {
        id,
        task_id,
        state: RunState::parse(&state).unwrap_or(RunState::Interrupted),
        dry_run,
        queued_at: rfc3339(queued_at),
        started_at: started_at.map(rfc3339),
        finished_at: finished_at.map(rfc3339),
        exit_code,
        error,
        stats: stats.and_then(|s| serde_json::from_str::<Progress>(&s).ok()),
        retry_of,
    }
}

/// A new queued run; `retry_of` is the first run of the chain a retry belongs to.
pub async fn insert_queued(pool: &PgPool, task_id: i64, dry_run: bool, retry_of: Option<i64>) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO runs (task_id, state, dry_run, retry_of) VALUES ($1, 'QUEUED', $2, $3) RETURNING id",
    )
    .bind(task_id)
    .bind(dry_run)
    .bind(retry_of)
    .fetch_one(pool)
    .await
}

pub async fn mark_running(pool: &PgPool, id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE runs SET state = 'RUNNING', started_at = now() WHERE id = $1").bind(id).execute(pool).await?;
    Ok(())
}

pub async fn finish(
    pool: &PgPool,
    id: i64,
    state: RunState,
    exit_code: Option<i32>,
    error: Option<&str>,
    stats: Option<&Progress>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE runs SET state = $2, finished_at = now(), exit_code = $3, error = $4, stats = $5 WHERE id = $1",
    )
    .bind(id)
    .bind(state.as_str())
    .bind(exit_code)
    .bind(error)
    .bind(stats.map(|s| serde_json::to_string(s).expect("serialisable")))
    .execute(pool)
    .await?;
    Ok(())
}

/// Records how a run ended, retrying for about a minute if the database fails: a run
/// left RUNNING would refuse every later run of its task.
pub async fn finish_surely(pool: &PgPool, id: i64, outcome: &super::run::Outcome) {
    let error = outcome.error.as_deref().map(|e| crate::logstore::clean(e, 2000));
    let mut wait = std::time::Duration::from_millis(200);
    for attempt in 1.. {
        match finish(pool, id, outcome.state, outcome.code, error.as_deref(), outcome.stats.as_ref()).await {
            Ok(()) => return,
            Err(e) if attempt < 10 => {
                tracing::warn!(run_id = id, attempt, error = %e, "cannot record how a run ended; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(10));
            }
            Err(e) => {
                tracing::error!(run_id = id, error = %e, "cannot record how a run ended; it shows as running until the next start");
                return;
            }
        }
    }
}

/// At start: runs a previous process left queued or running did not finish.
pub async fn interrupt_leftovers(pool: &PgPool) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE runs SET state = 'INTERRUPTED', finished_at = now(), error = 'the server stopped before this run finished' WHERE state IN ('QUEUED', 'RUNNING')",
    )
    .execute(pool)
    .await?
    .rows_affected())
}

pub async fn get(pool: &PgPool, id: i64) -> sqlx::Result<Option<Run>> {
    Ok(sqlx::query_as::<_, Row>(&format!("{SELECT} WHERE id = $1")).bind(id).fetch_optional(pool).await?.map(from_row))
}

pub async fn list(
    pool: &PgPool,
    task_id: Option<i64>,
    state: Option<RunState>,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<Run>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{SELECT} WHERE ($1::bigint IS NULL OR task_id = $1) AND ($2::text IS NULL OR state = $2)
         AND ($3::bigint IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
    ))
    .bind(task_id)
    .bind(state.map(RunState::as_str))
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// Keeps the newest `keep` finished runs of a task (and their logs); older ones go.
pub async fn prune(pool: &PgPool, task_id: i64, keep: i64) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM runs WHERE task_id = $1 AND state NOT IN ('QUEUED', 'RUNNING')
         AND id NOT IN (SELECT id FROM runs WHERE task_id = $1 ORDER BY id DESC LIMIT $2)",
    )
    .bind(task_id)
    .bind(keep)
    .execute(pool)
    .await?
    .rows_affected())
}

/// The newest run of each task.
pub async fn latest_per_task(pool: &PgPool) -> sqlx::Result<Vec<Run>> {
    let rows: Vec<Row> =
        sqlx::query_as(&format!("SELECT DISTINCT ON (task_id) * FROM ({SELECT}) r ORDER BY task_id, id DESC"))
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// The id of the task's newest run, if it has any.
pub async fn newest(pool: &PgPool, task_id: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT max(id) FROM runs WHERE task_id = $1").bind(task_id).fetch_one(pool).await
}

/// The state of the task's finished run before `run_id` (dry runs aside).
pub async fn previous_state(pool: &PgPool, task_id: i64, run_id: i64) -> sqlx::Result<Option<RunState>> {
    let state: Option<String> = sqlx::query_scalar(
        "SELECT state FROM runs WHERE task_id = $1 AND id < $2 AND NOT dry_run AND state NOT IN ('QUEUED', 'RUNNING')
         ORDER BY id DESC LIMIT 1",
    )
    .bind(task_id)
    .bind(run_id)
    .fetch_optional(pool)
    .await?;
    Ok(state.and_then(|s| RunState::parse(&s)))
}

/// When each task's newest successful run ended (Unix seconds), by task id.
pub async fn last_success_per_task(pool: &PgPool) -> sqlx::Result<std::collections::HashMap<i64, i64>> {
    let rows: Vec<(i64, OffsetDateTime)> = sqlx::query_as(
        "SELECT task_id, max(finished_at) FROM runs WHERE state = 'SUCCESS' AND NOT dry_run AND finished_at IS NOT NULL
         GROUP BY task_id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(id, at)| (id, at.unix_timestamp())).collect())
}

/// Bytes and runs per UTC day of the last `days` (today included), oldest first, days
/// without runs as zeros. Dry runs are left out.
pub async fn daily(pool: &PgPool, days: u32) -> sqlx::Result<Vec<protocol::runs::DayStats>> {
    let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT to_char(d.day, 'YYYY-MM-DD'),
                COALESCE(sum((r.stats::jsonb ->> 'bytes')::bigint), 0)::bigint,
                count(*) FILTER (WHERE r.state = 'SUCCESS'),
                count(*) FILTER (WHERE r.state IN ('FAILED', 'INTERRUPTED')),
                count(*) FILTER (WHERE r.state = 'ABORTED')
         FROM generate_series((now() AT TIME ZONE 'UTC')::date - ($1::int - 1), (now() AT TIME ZONE 'UTC')::date, '1 day') AS d(day)
         LEFT JOIN runs r ON NOT r.dry_run AND r.finished_at IS NOT NULL
              AND (r.finished_at AT TIME ZONE 'UTC')::date = d.day
         GROUP BY d.day ORDER BY d.day",
    )
    .bind(days as i32)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(day, bytes, succeeded, failed, aborted)| protocol::runs::DayStats {
            day,
            bytes: bytes.max(0) as u64,
            succeeded: succeeded as u32,
            failed: failed as u32,
            aborted: aborted as u32,
        })
        .collect())
}

/// Each task's newest `per_task` finished runs that were not dry runs, oldest first.
pub async fn recent(pool: &PgPool, per_task: u32) -> sqlx::Result<Vec<protocol::runs::RunPoint>> {
    let rows: Vec<(i64, i64, String, f64, i64)> = sqlx::query_as(
        "SELECT task_id, id, state,
                COALESCE(EXTRACT(EPOCH FROM finished_at - started_at), 0)::float8,
                COALESCE((stats::jsonb ->> 'bytes')::bigint, 0)
         FROM (SELECT *, row_number() OVER (PARTITION BY task_id ORDER BY id DESC) AS n
               FROM runs WHERE NOT dry_run AND finished_at IS NOT NULL) r
         WHERE n <= $1 ORDER BY task_id, id",
    )
    .bind(per_task as i32)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(task_id, run_id, state, seconds, bytes)| protocol::runs::RunPoint {
            task_id,
            run_id,
            state: RunState::parse(&state).unwrap_or(RunState::Interrupted),
            duration_seconds: seconds.max(0.0),
            bytes: bytes.max(0) as u64,
        })
        .collect())
}
