//! Downloading a whole run log without holding it: `run.download` hands out a ticket
//! (128 random bits, one use, one minute), and `GET /api/download/<ticket>` streams the
//! log from the store page by page. A browser can follow such a link as a plain
//! download, and no session token ever appears in an address.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::Stream;
use rand::RngCore;
use sqlx::PgPool;

/// How long a ticket works.
pub const TICKET_LIFETIME: Duration = Duration::from_secs(60);
/// Tickets outstanding at most; the oldest goes when a new one would pass it.
const MAX_TICKETS: usize = 256;
/// Lines read from the store per page of the download.
const PAGE: i64 = 5000;

#[derive(Clone, Default)]
pub struct Tickets {
    inner: Arc<Mutex<HashMap<String, (i64, Instant)>>>,
}

impl Tickets {
    /// A new ticket for run `run_id`.
    pub fn issue(&self, run_id: i64) -> String {
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let ticket: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut map = self.inner.lock().expect("tickets lock");
        let now = Instant::now();
        map.retain(|_, (_, at)| now.duration_since(*at) < TICKET_LIFETIME);
        if map.len() >= MAX_TICKETS {
            if let Some(oldest) = map.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| k.clone()) {
                map.remove(&oldest);
            }
        }
        map.insert(ticket.clone(), (run_id, now));
        ticket
    }

    /// The run of `ticket`, which is used up; `None` when unknown, used or expired.
    pub fn redeem(&self, ticket: &str) -> Option<i64> {
        let (run_id, at) = self.inner.lock().expect("tickets lock").remove(ticket)?;
        (at.elapsed() < TICKET_LIFETIME).then_some(run_id)
    }
}

/// The run's log as text, `PAGE` lines at a time: `<at> <LEVEL> <source>: <message>`.
/// A database error ends the stream with an error (the download then fails visibly
/// instead of looking complete).
pub fn stream(pool: PgPool, run_id: i64) -> impl Stream<Item = Result<String, sqlx::Error>> {
    futures_util::stream::try_unfold(Some(0i64), move |after| {
        let pool = pool.clone();
        async move {
            let Some(after) = after else { return Ok(None) };
            let lines = super::read(&pool, run_id, after, PAGE).await?;
            let Some(last) = lines.last().map(|l| l.seq) else { return Ok(None) };
            let mut text = String::with_capacity(lines.len() * 80);
            for l in &lines {
                text.push_str(&format!(
                    "{} {:<7} {}: {}\n",
                    l.at,
                    l.level.as_str().to_uppercase(),
                    l.source.as_str(),
                    l.message
                ));
            }
            let next = (lines.len() as i64 == PAGE).then_some(last);
            Ok(Some((text, next)))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_works_once() {
        let t = Tickets::default();
        let a = t.issue(7);
        assert_eq!(a.len(), 32);
        assert_ne!(a, t.issue(7), "tickets are random");
        assert_eq!(t.redeem(&a), Some(7));
        assert_eq!(t.redeem(&a), None, "used up");
        assert_eq!(t.redeem("0123"), None);
    }

    #[test]
    fn tickets_are_bounded() {
        let t = Tickets::default();
        let first = t.issue(1);
        for i in 0..MAX_TICKETS {
            t.issue(i as i64);
        }
        assert_eq!(t.inner.lock().unwrap().len(), MAX_TICKETS);
        assert_eq!(t.redeem(&first), None, "the oldest went");
    }
}
