//! The log store: every line of a run (rclone's, the scripts', the runner's own) with a
//! per-run sequence number, a timestamp and a level, kept apart from the run records
//! and written in batches rather than one insert per line (`writer.rs`), then
//! published to live followers (`live.rs`).
//!
//! Whatever a line holds, storing it cannot fail a run: NUL (which PostgreSQL's text
//! refuses) and other control characters but tab are replaced, a line is at most
//! `MAX_LINE_CHARS`, a run keeps at most `max_lines` lines (then one "log truncated"
//! line; the runner's own lines are always kept), and a batch the database refuses
//! is dropped with a warning in the server log instead of stopping the run.

pub mod download;
pub mod live;
mod writer;

pub use writer::{LogWriter, BATCH_AGE, BATCH_BYTES, BATCH_LINES, QUEUED_BATCHES};

use protocol::runs::{LogLevel, LogLine, LogSource};
use sqlx::PgPool;
use time::OffsetDateTime;

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

/// Which lines of a run to read: after `after`, below `before`, containing `query`.
#[derive(Clone, Copy, Debug)]
pub struct Page<'a> {
    pub after: i64,
    /// With it, the newest `limit` lines below it (still returned oldest first).
    pub before: Option<i64>,
    /// Case-insensitive substring of the message.
    pub query: Option<&'a str>,
    pub limit: i64,
}

/// Lines of a run after `after_seq`, oldest first.
pub async fn read(pool: &PgPool, run_id: i64, after_seq: i64, limit: i64) -> sqlx::Result<Vec<LogLine>> {
    read_page(pool, run_id, Page { after: after_seq, before: None, query: None, limit }).await
}

/// `text` as an ILIKE pattern that matches it anywhere, its `%`, `_` and `\` literal.
fn contains_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// One page of a run's lines, oldest first. The search runs in the database, over the
/// run's rows only (the primary key's range), so it never loads a log into memory.
pub async fn read_page(pool: &PgPool, run_id: i64, page: Page<'_>) -> sqlx::Result<Vec<LogLine>> {
    // Only the conditions asked for: one statement (and one plan) per shape, so reading
    // after a `seq` stays a range scan of the primary key, whatever the other shapes do.
    let mut filter = String::from("run_id = $1 AND seq > $2");
    if page.before.is_some() {
        filter.push_str(" AND seq < $4");
    }
    if page.query.is_some() {
        filter.push_str(if page.before.is_some() { " AND message ILIKE $5" } else { " AND message ILIKE $4" });
    }
    let sql = if page.before.is_some() {
        format!(
            "SELECT * FROM (SELECT seq, at, level, source, message FROM run_logs WHERE {filter}
             ORDER BY seq DESC LIMIT $3) newest ORDER BY seq"
        )
    } else {
        format!("SELECT seq, at, level, source, message FROM run_logs WHERE {filter} ORDER BY seq LIMIT $3")
    };
    let mut q = sqlx::query_as::<_, (i64, OffsetDateTime, String, String, String)>(&sql)
        .bind(run_id)
        .bind(page.after)
        .bind(page.limit);
    if let Some(before) = page.before {
        q = q.bind(before);
    }
    if let Some(text) = page.query {
        q = q.bind(contains_pattern(text));
    }
    let rows = q.fetch_all(pool).await?;
    Ok(rows
        .into_iter()
        .map(|(seq, at, level, source, message)| LogLine {
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
    fn a_query_matches_its_text_literally() {
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
        assert_eq!(contains_pattern(""), "%%");
    }

    #[test]
    fn control_characters_are_replaced_and_long_text_cut() {
        assert_eq!(clean("a\0b\u{1b}[31mc\td", 100), "a\u{fffd}b\u{fffd}[31mc\td");
        assert_eq!(clean("one\ntwo", 100), "one\u{fffd}two", "a line is one line");
        assert_eq!(clean("abcdef", 3), "abc … [cut]");
        assert_eq!(clean("abc", 3), "abc");
    }
}
