//! The log store: every line of a run (rclone's, the scripts', the runner's own) with a
//! per-run sequence number, a timestamp and a level, kept apart from the run records
//! and written in batches rather than one insert per line.
//!
//! Whatever a line holds, storing it cannot fail a run: NUL (which PostgreSQL's text
//! refuses) and other control characters but tab are replaced, a line is at most
//! `MAX_LINE_CHARS`, a run keeps at most `max_lines` lines (then one "log truncated"
//! line; the runner's own lines are always kept), and a batch the database refuses
//! is dropped with a warning in the server log instead of stopping the run.

pub mod live;

use std::time::{Duration, Instant};

use protocol::runs::{LogLevel, LogLine, LogSource};
use sqlx::PgPool;
use time::OffsetDateTime;

/// Flush when this many lines wait, or when the oldest has waited this long.
const BATCH_LINES: usize = 200;
const BATCH_AGE: Duration = Duration::from_millis(250);

/// The most lines one run keeps unless `--max-log-lines` says otherwise.
pub const DEFAULT_MAX_LINES: u64 = 1_000_000;

/// The longest message kept (in characters); longer ones are cut and marked.
pub const MAX_LINE_CHARS: usize = 8 * 1024;

/// `text` as the store keeps it: control characters but tab replaced (U+FFFD), at most
/// `max` characters.
pub fn clean(text: &str, max: usize) -> String {
    let mut out: String =
        text.chars().take(max).map(|c| if c.is_control() && c != '\t' { '\u{fffd}' } else { c }).collect();
    if text.chars().nth(max).is_some() {
        out.push_str(" … [cut]");
    }
    out
}

pub struct LogWriter {
    pool: PgPool,
    hub: Option<live::LiveHub>,
    run_id: i64,
    next_seq: i64,
    buffer: Vec<(i64, OffsetDateTime, LogLevel, LogSource, String)>,
    oldest: Option<Instant>,
    max_lines: u64,
    /// Lines not kept because the run reached `max_lines`.
    dropped: u64,
}

impl LogWriter {
    pub fn new(pool: PgPool, run_id: i64) -> Self {
        LogWriter {
            pool,
            hub: None,
            run_id,
            next_seq: 1,
            buffer: Vec::new(),
            oldest: None,
            max_lines: DEFAULT_MAX_LINES,
            dropped: 0,
        }
    }

    /// At most `max` lines (from rclone and scripts; the runner's own always go in).
    pub fn max_lines(mut self, max: u64) -> Self {
        self.max_lines = max;
        self
    }

    /// Also publishes every stored line to live followers.
    pub fn live(mut self, hub: live::LiveHub) -> Self {
        self.hub = Some(hub);
        self
    }

    /// Buffers a line; `flush_if_due` or `flush` writes it.
    pub fn push(&mut self, level: LogLevel, source: LogSource, message: &str) {
        let own = source.is_own();
        let kept = (self.next_seq - 1) as u64;
        if !own && kept >= self.max_lines {
            if self.dropped == 0 {
                let note = format!(
                    "log truncated: this run reached {} lines; later lines from rclone and scripts are not kept",
                    self.max_lines
                );
                self.add(LogLevel::Warning, LogSource::Runner, note);
            }
            self.dropped += 1;
            return;
        }
        self.add(level, source, clean(message, MAX_LINE_CHARS));
    }

    fn add(&mut self, level: LogLevel, source: LogSource, message: String) {
        self.buffer.push((self.next_seq, OffsetDateTime::now_utc(), level, source, message));
        self.next_seq += 1;
        self.oldest.get_or_insert_with(Instant::now);
    }

    /// How many lines were not kept (past `max_lines`).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    pub fn due(&self) -> bool {
        self.buffer.len() >= BATCH_LINES || self.oldest.is_some_and(|t| t.elapsed() >= BATCH_AGE)
    }

    pub async fn flush_if_due(&mut self) {
        if self.due() {
            self.flush().await;
        }
    }

    /// Writes every buffered line in one statement. A batch the database refuses is
    /// dropped (and said so in the server log): a run goes on without its log rather
    /// than stopping half-way.
    pub async fn flush(&mut self) {
        let n = self.buffer.len();
        if let Err(e) = self.try_flush().await {
            tracing::error!(run_id = self.run_id, lines = n, error = %e, "cannot store log lines of a run; dropped");
        }
    }

    async fn try_flush(&mut self) -> sqlx::Result<()> {
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
                    at: crate::time_format::rfc3339(*at),
                    level: *level,
                    source: *source,
                    message: message.clone(),
                })
                .collect()
        } else {
            Vec::new()
        };
        for (seq, at, level, source, message) in lines {
            seqs.push(seq);
            ats.push(at);
            levels.push(level.as_str());
            sources.push(source.as_str());
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
        .map(|(seq, at, level, source, message): (i64, OffsetDateTime, String, String, String)| LogLine {
            seq,
            at: crate::time_format::rfc3339(at),
            level: LogLevel::parse(&level),
            source: LogSource::parse(&source),
            message,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_replaced_and_long_text_cut() {
        assert_eq!(clean("a\0b\u{1b}[31mc\td", 100), "a\u{fffd}b\u{fffd}[31mc\td");
        assert_eq!(clean("one\ntwo", 100), "one\u{fffd}two", "a line is one line");
        assert_eq!(clean("abcdef", 3), "abc … [cut]");
        assert_eq!(clean("abc", 3), "abc");
    }

    #[tokio::test]
    async fn a_run_keeps_at_most_max_lines_and_says_so_once() {
        let pool = sqlx::PgPool::connect_lazy("postgres://nobody@127.0.0.1:9/none").unwrap();
        let mut log = LogWriter::new(pool, 1).max_lines(3);
        for i in 0..10 {
            log.push(LogLevel::Info, LogSource::Rclone, &format!("line {i}"));
        }
        log.push(LogLevel::Info, LogSource::Runner, "run ended: SUCCESS");
        let messages: Vec<&str> = log.buffer.iter().map(|l| l.4.as_str()).collect();
        assert_eq!(messages.len(), 5, "{messages:?}");
        assert!(messages[3].starts_with("log truncated"), "{messages:?}");
        assert_eq!(messages[4], "run ended: SUCCESS");
        assert_eq!(log.dropped(), 7);
    }
}
