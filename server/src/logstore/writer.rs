//! [`LogWriter`]: how one run's lines get into the store. The run's reader pushes lines;
//! a full batch (by lines or bytes) or one older than [`BATCH_AGE`] (while someone
//! follows a log live; [`QUIET_BATCH_AGE`] while nobody does) goes to a store task
//! that inserts it in one statement and then publishes it to live followers. Between
//! them is a channel of [`QUEUED_BATCHES`]: when storage is slower than the child, `push`
//! waits, the reader stops reading, and the child blocks on its full pipe. So a run holds
//! at most (1 + `QUEUED_BATCHES` + 1) batches in memory, however fast it writes.

use std::time::{Duration, Instant};

use protocol::runs::{LogLevel, LogLine, LogSource};
use sqlx::PgPool;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use super::live::{LiveHub, StoredBatch};
use super::{clean, DEFAULT_MAX_LINES, MAX_LINE_CHARS};

/// A batch is sent to the store at this many lines…
pub const BATCH_LINES: usize = 2000;
/// …or this many bytes of messages…
pub const BATCH_BYTES: usize = 256 * 1024;
/// …or once its oldest line waited this long while a follower watches (the reader's
/// tick checks)…
pub const BATCH_AGE: Duration = Duration::from_millis(20);
/// …or this long while nobody follows a log: four statements a second instead of fifty
/// for a chatty run, and a follower who comes gets the waiting lines at the next tick.
pub const QUIET_BATCH_AGE: Duration = Duration::from_millis(250);
/// Batches sent but not yet stored, beyond the one being inserted.
pub const QUEUED_BATCHES: usize = 2;

struct Pending {
    seq: i64,
    at: OffsetDateTime,
    level: LogLevel,
    source: LogSource,
    message: String,
}

enum Job {
    Store(Vec<Pending>),
    /// Answered once every batch sent before it is stored (or dropped).
    Synced(oneshot::Sender<()>),
}

pub struct LogWriter {
    pool: PgPool,
    hub: Option<LiveHub>,
    run_id: i64,
    next_seq: i64,
    batch: Vec<Pending>,
    batch_bytes: usize,
    oldest: Option<Instant>,
    max_lines: u64,
    /// Lines not kept because the run reached `max_lines`.
    dropped: u64,
    /// The store task, started by the first batch.
    store: Option<mpsc::Sender<Job>>,
}

impl LogWriter {
    pub fn new(pool: PgPool, run_id: i64) -> Self {
        LogWriter {
            pool,
            hub: None,
            run_id,
            next_seq: 1,
            batch: Vec::new(),
            batch_bytes: 0,
            oldest: None,
            max_lines: DEFAULT_MAX_LINES,
            dropped: 0,
            store: None,
        }
    }

    /// At most `max` lines (from rclone and scripts; the runner's own always go in).
    pub fn max_lines(mut self, max: u64) -> Self {
        self.max_lines = max;
        self
    }

    /// Also publishes every stored batch to live followers.
    pub fn live(mut self, hub: LiveHub) -> Self {
        self.hub = Some(hub);
        self
    }

    /// Adds a line; when that fills the batch, waits until the store has room for it.
    pub async fn push(&mut self, level: LogLevel, source: LogSource, message: &str) {
        let kept = (self.next_seq - 1) as u64;
        if !source.is_own() && kept >= self.max_lines {
            if self.dropped == 0 {
                let note = format!(
                    "log truncated: this run reached {} lines; later lines from rclone and scripts are not kept",
                    self.max_lines
                );
                self.add(LogLevel::Warning, LogSource::Runner, note);
            }
            self.dropped += 1;
        } else {
            self.add(level, source, clean(message, MAX_LINE_CHARS));
        }
        if self.batch.len() >= BATCH_LINES || self.batch_bytes >= BATCH_BYTES {
            self.send_batch().await;
        }
    }

    fn add(&mut self, level: LogLevel, source: LogSource, message: String) {
        self.batch_bytes += message.len();
        self.batch.push(Pending { seq: self.next_seq, at: OffsetDateTime::now_utc(), level, source, message });
        self.next_seq += 1;
        self.oldest.get_or_insert_with(Instant::now);
    }

    /// How many lines were not kept (past `max_lines`).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Lines waiting in this writer's batch (not yet handed to the store).
    pub fn buffered(&self) -> usize {
        self.batch.len()
    }

    /// Whether the batch's oldest line has waited [`BATCH_AGE`] (with followers) or
    /// [`QUIET_BATCH_AGE`].
    pub fn due(&self) -> bool {
        let watched = self.hub.as_ref().is_some_and(LiveHub::has_log_followers);
        let age = if watched { BATCH_AGE } else { QUIET_BATCH_AGE };
        self.oldest.is_some_and(|t| t.elapsed() >= age)
    }

    pub async fn flush_if_due(&mut self) {
        if self.due() {
            self.send_batch().await;
        }
    }

    /// Sends the batch and waits until every line pushed so far is stored (or, when the
    /// database refused a batch, dropped with an error in the server log: a run goes on
    /// without its log rather than stopping half-way).
    pub async fn flush(&mut self) {
        self.send_batch().await;
        let Some(store) = &self.store else { return };
        let (tx, rx) = oneshot::channel();
        if store.send(Job::Synced(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    async fn send_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let lines = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        self.oldest = None;
        let store = self.store.get_or_insert_with(|| {
            let (tx, rx) = mpsc::channel(QUEUED_BATCHES);
            tokio::spawn(store_batches(self.pool.clone(), self.hub.clone(), self.run_id, rx));
            tx
        });
        if store.send(Job::Store(lines)).await.is_err() {
            tracing::error!(run_id = self.run_id, "the log store task is gone; lines dropped");
        }
    }
}

/// The store task of one run: inserts batches in order, then publishes each.
async fn store_batches(pool: PgPool, hub: Option<LiveHub>, run_id: i64, mut jobs: mpsc::Receiver<Job>) {
    while let Some(job) = jobs.recv().await {
        match job {
            Job::Synced(done) => {
                let _ = done.send(());
            }
            Job::Store(lines) => {
                if let Err(e) = insert(&pool, run_id, &lines).await {
                    tracing::error!(run_id, lines = lines.len(), error = %e, "cannot store log lines of a run; dropped");
                    continue;
                }
                if let Some(hub) = hub.as_ref().filter(|h| h.has_log_followers()) {
                    let lines = lines
                        .into_iter()
                        .map(|p| LogLine {
                            seq: p.seq,
                            at: crate::time_format::rfc3339(p.at),
                            level: p.level,
                            source: p.source,
                            message: p.message,
                        })
                        .collect();
                    hub.publish_logs(StoredBatch::new(run_id, lines));
                }
            }
        }
    }
}

/// Stores a batch with one `COPY … FROM STDIN` (text format): about twice the rows a
/// second of an `INSERT … SELECT FROM UNNEST(…)`, and the database is what a fast child
/// waits for.
async fn insert(pool: &PgPool, run_id: i64, lines: &[Pending]) -> sqlx::Result<()> {
    use sqlx::postgres::PgPoolCopyExt;
    let mut data = Vec::with_capacity(lines.iter().map(|l| l.message.len() + 64).sum());
    for l in lines {
        // run_id, seq, at, level, source, message: tab-separated, one row per line.
        let at = crate::time_format::rfc3339(l.at);
        data.extend_from_slice(
            format!("{run_id}\t{}\t{at}\t{}\t{}\t", l.seq, l.level.as_str(), l.source.as_str()).as_bytes(),
        );
        copy_escape(&l.message, &mut data);
        data.push(b'\n');
    }
    let mut copy = pool.copy_in_raw("COPY run_logs (run_id, seq, at, level, source, message) FROM STDIN").await?;
    if let Err(e) = copy.send(data).await {
        let _ = copy.abort("cloudsync could not send the batch").await;
        return Err(e);
    }
    copy.finish().await?;
    Ok(())
}

/// `text` as a field of COPY's text format: backslash, tab, newline and carriage return
/// escaped (the store has already replaced every other control character).
fn copy_escape(text: &str, out: &mut Vec<u8>) {
    for b in text.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_fields_escape_what_the_format_uses() {
        let mut out = Vec::new();
        copy_escape("a\tb\\c\nd\re \\N", &mut out);
        assert_eq!(out, b"a\\tb\\\\c\\nd\\re \\\\N");
    }

    #[tokio::test]
    async fn a_run_keeps_at_most_max_lines_and_says_so_once() {
        let pool = sqlx::PgPool::connect_lazy("postgres://nobody@127.0.0.1:9/none").unwrap();
        let mut log = LogWriter::new(pool, 1).max_lines(3);
        for i in 0..10 {
            log.push(LogLevel::Info, LogSource::Rclone, &format!("line {i}")).await;
        }
        log.push(LogLevel::Info, LogSource::Runner, "run ended: SUCCESS").await;
        let messages: Vec<&str> = log.batch.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(messages.len(), 5, "{messages:?}");
        assert!(messages[3].starts_with("log truncated"), "{messages:?}");
        assert_eq!(messages[4], "run ended: SUCCESS");
        assert_eq!(log.dropped(), 7);
    }
}
