//! The log store: every line of a run (rclone's, the scripts', the runner's own) with a
//! per-run sequence number, a timestamp and a level, kept apart from the run records
//! and written in batches rather than one insert per line.

pub mod live;

use std::time::{Duration, Instant};

use protocol::runs::LogLine;
use sqlx::PgPool;
use time::OffsetDateTime;

/// Flush when this many lines wait, or when the oldest has waited this long.
const BATCH_LINES: usize = 200;
const BATCH_AGE: Duration = Duration::from_millis(250);

pub struct LogWriter {
    pool: PgPool,
    hub: Option<live::LiveHub>,
    run_id: i64,
    next_seq: i64,
    buffer: Vec<(i64, OffsetDateTime, String, String, String)>,
    oldest: Option<Instant>,
}

impl LogWriter {
    pub fn new(pool: PgPool, run_id: i64) -> Self {
        LogWriter { pool, hub: None, run_id, next_seq: 1, buffer: Vec::new(), oldest: None }
    }

    /// Also publishes every stored line to live followers.
    pub fn live(mut self, hub: live::LiveHub) -> Self {
        self.hub = Some(hub);
        self
    }

    /// Buffers a line; `flush_if_due` or `flush` writes it.
    pub fn push(&mut self, level: &str, source: &str, message: &str) {
        self.buffer.push((
            self.next_seq,
            OffsetDateTime::now_utc(),
            level.to_string(),
            source.to_string(),
            message.to_string(),
        ));
        self.next_seq += 1;
        self.oldest.get_or_insert_with(Instant::now);
    }

    pub fn due(&self) -> bool {
        self.buffer.len() >= BATCH_LINES || self.oldest.is_some_and(|t| t.elapsed() >= BATCH_AGE)
    }

    pub async fn flush_if_due(&mut self) -> sqlx::Result<()> {
        if self.due() {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes every buffered line in one statement.
    pub async fn flush(&mut self) -> sqlx::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let lines = std::mem::take(&mut self.buffer);
        self.oldest = None;
        let mut seqs = Vec::with_capacity(lines.len());
        let mut ats = Vec::with_capacity(lines.len());
        let mut levels = Vec::with_capacity(lines.len());
        let mut sources = Vec::with_capacity(lines.len());
        let mut messages = Vec::with_capacity(lines.len());
        let published: Vec<LogLine> = if self.hub.is_some() {
            lines
                .iter()
                .map(|(seq, at, level, source, message)| LogLine {
                    seq: *seq,
                    at: crate::auth::sessions::rfc3339(*at),
                    level: level.clone(),
                    source: source.clone(),
                    message: message.clone(),
                })
                .collect()
        } else {
            Vec::new()
        };
        for (seq, at, level, source, message) in lines {
            seqs.push(seq);
            ats.push(at);
            levels.push(level);
            sources.push(source);
            messages.push(message);
        }
        sqlx::query(
            "INSERT INTO run_logs (run_id, seq, at, level, source, message)
             SELECT $1, * FROM UNNEST($2::bigint[], $3::timestamptz[], $4::text[], $5::text[], $6::text[])",
        )
        .bind(self.run_id)
        .bind(seqs)
        .bind(ats)
        .bind(levels)
        .bind(sources)
        .bind(messages)
        .execute(&self.pool)
        .await?;
        if let Some(hub) = &self.hub {
            for line in published {
                hub.publish(live::RunEvent::Log { run_id: self.run_id, line });
            }
        }
        Ok(())
    }
}

/// Lines of a run after `after_seq`, oldest first.
pub async fn read(pool: &PgPool, run_id: i64, after_seq: i64, limit: i64) -> sqlx::Result<Vec<LogLine>> {
    let rows: Vec<(i64, OffsetDateTime, String, String, String)> = sqlx::query_as(
        "SELECT seq, at, level, source, message FROM run_logs WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(run_id)
    .bind(after_seq)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(seq, at, level, source, message)| LogLine {
            seq,
            at: crate::auth::sessions::rfc3339(at),
            level,
            source,
            message,
        })
        .collect())
}
