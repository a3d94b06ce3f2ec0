//! The brake on password guessing, keyed by (account, client).
//!
//! - An attempt is counted **before** its password is checked, under the lock, and the
//!   count is undone when the password was right: concurrent attempts cannot all slip
//!   through between a check and a record.
//! - The first `free_attempts` failures of an (account, client) pair within `window`
//!   cost nothing; each further one doubles the wait before the next attempt of that
//!   pair is checked (1 s, 2 s, 4 s, … up to `max_delay`). That is a delay, not a
//!   lockout: once it has passed, the right password works again, and a stranger
//!   guessing from elsewhere never delays the admin's own address.
//! - A client (an IPv4 address, or an IPv6 /64, which one subscriber usually holds
//!   whole) may have at most `per_client` counted attempts in the window across every
//!   account, so spraying usernames does not multiply the guesses.
//! - The limiter's memory is bounded: at most `max_entries` pairs; when full, expired
//!   entries are dropped first, then the one idle longest.
//!
//! Kept in memory: a restart forgives, which is acceptable for a brake whose job is to
//! make guessing slow.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Who is guessing: an IPv4 address, or the /64 prefix of an IPv6 one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    pub fn of(addr: IpAddr) -> ClientKey {
        match addr {
            IpAddr::V4(v4) => ClientKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey(IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(v6) & !((1u128 << 64) - 1);
                    ClientKey(IpAddr::V6(bits.into()))
                }
            },
        }
    }
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}"),
            IpAddr::V6(a) => write!(f, "{a}/64"),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub free_attempts: usize,
    pub window: Duration,
    pub max_delay: Duration,
    pub per_client: usize,
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            free_attempts: 5,
            window: Duration::from_secs(15 * 60),
            max_delay: Duration::from_secs(5 * 60),
            per_client: 30,
            max_entries: 10_000,
        }
    }
}

type Pair = (String, ClientKey);

#[derive(Default)]
struct Entry {
    /// Counted attempts (failures, and attempts still being checked), oldest first.
    attempts: VecDeque<Instant>,
}

#[derive(Default)]
struct Books {
    pairs: HashMap<Pair, Entry>,
    /// Counted attempts per client across accounts.
    clients: HashMap<ClientKey, VecDeque<Instant>>,
}

pub struct LoginRateLimiter {
    limits: Limits,
    books: Arc<Mutex<Books>>,
}

impl Default for LoginRateLimiter {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

/// Why an attempt may not be checked yet.
#[derive(Debug, PartialEq, Eq)]
pub struct Wait {
    pub client: ClientKey,
    pub retry_after: Duration,
}

/// A counted attempt; [`Attempt::succeeded`] undoes the count. Dropped without it, the
/// attempt stays counted as a failure.
pub struct Attempt {
    books: Arc<Mutex<Books>>,
    pair: Pair,
    at: Instant,
}

impl Attempt {
    /// The password was right: the attempt is uncounted and the pair's failures forgotten.
    pub fn succeeded(self) {
        let mut books = self.books.lock().expect("rate limiter lock");
        books.pairs.remove(&self.pair);
        if let Some(list) = books.clients.get_mut(&self.pair.1) {
            if let Some(pos) = list.iter().position(|t| *t == self.at) {
                list.remove(pos);
            }
            if list.is_empty() {
                books.clients.remove(&self.pair.1);
            }
        }
    }
}

/// The account part of the key: case-folded and cut short, so a long or odd username
/// costs no more memory than a real one.
fn account_key(username: &str) -> String {
    username.trim().chars().take(64).flat_map(char::to_lowercase).collect()
}

fn prune(list: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while list.front().is_some_and(|t| now.saturating_duration_since(*t) >= window) {
        list.pop_front();
    }
}

impl LoginRateLimiter {
    pub fn new(limits: Limits) -> Self {
        Self { limits, books: Default::default() }
    }

    /// Counts an attempt by `client` at `username`, or says how long to wait first.
    pub fn begin(&self, username: &str, client: IpAddr, now: Instant) -> Result<Attempt, Wait> {
        let client = ClientKey::of(client);
        let pair = (account_key(username), client);
        let l = self.limits;
        let mut books = self.books.lock().expect("rate limiter lock");
        let books = &mut *books;

        if books.pairs.len() >= l.max_entries || books.clients.len() >= l.max_entries {
            make_room(books, now, l);
        }
        let per_client = books.clients.entry(client).or_default();
        prune(per_client, now, l.window);
        if per_client.len() >= l.per_client {
            let oldest = *per_client.front().expect("non-empty");
            return Err(Wait { client, retry_after: l.window.saturating_sub(now.saturating_duration_since(oldest)) });
        }

        let entry = books.pairs.entry(pair.clone()).or_default();
        prune(&mut entry.attempts, now, l.window);
        let counted = entry.attempts.len();
        if counted >= l.free_attempts {
            let doublings = (counted - l.free_attempts).min(30) as u32;
            let delay = Duration::from_secs(1u64 << doublings).min(l.max_delay);
            let last = *entry.attempts.back().expect("non-empty");
            let ready = last + delay;
            if now < ready {
                return Err(Wait { client, retry_after: ready - now });
            }
        }
        entry.attempts.push_back(now);
        books.clients.entry(client).or_default().push_back(now);
        Ok(Attempt { books: self.books.clone(), pair, at: now })
    }

    /// How many (account, client) pairs are remembered.
    pub fn remembered(&self) -> usize {
        self.books.lock().expect("rate limiter lock").pairs.len()
    }
}

/// Drops expired entries; if that is not enough, the ones idle longest.
fn make_room(books: &mut Books, now: Instant, l: Limits) {
    let live = |t: Option<&Instant>| t.is_some_and(|t| now.saturating_duration_since(*t) < l.window);
    books.pairs.retain(|_, e| live(e.attempts.back()));
    books.clients.retain(|_, list| live(list.back()));
    while books.pairs.len() >= l.max_entries {
        let oldest = books.pairs.iter().min_by_key(|(_, e)| e.attempts.back().copied()).map(|(k, _)| k.clone());
        books.pairs.remove(&oldest.expect("non-empty"));
    }
    while books.clients.len() >= l.max_entries {
        let oldest = books.clients.iter().min_by_key(|(_, list)| list.back().copied()).map(|(k, _)| *k);
        books.clients.remove(&oldest.expect("non-empty"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    fn limiter() -> LoginRateLimiter {
        LoginRateLimiter::new(Limits {
            free_attempts: 3,
            window: Duration::from_secs(600),
            max_delay: Duration::from_secs(8),
            per_client: 10,
            max_entries: 4,
        })
    }

    #[test]
    fn attempts_are_counted_before_the_check_so_concurrent_ones_cannot_all_pass() {
        let rl = limiter();
        let t0 = Instant::now();
        // Three attempts in flight at once (none finished): the fourth must wait.
        let held: Vec<Attempt> = (0..3).map(|_| rl.begin("admin", A, t0).unwrap()).collect();
        let wait = rl.begin("admin", A, t0).err().unwrap();
        assert_eq!(wait.retry_after, Duration::from_secs(1));
        drop(held);
    }

    #[test]
    fn failures_grow_a_delay_that_passes_instead_of_a_lockout() {
        let rl = limiter();
        let t0 = Instant::now();
        for _ in 0..3 {
            drop(rl.begin("admin", A, t0).unwrap());
        }
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert!(rl.begin("admin", A, at(0)).is_err());
        drop(rl.begin("admin", A, at(1)).unwrap()); // waited 1 s
        assert_eq!(rl.begin("admin", A, at(2)).err().unwrap().retry_after, Duration::from_secs(1));
        drop(rl.begin("admin", A, at(3)).unwrap()); // waited 2 s
        assert_eq!(rl.begin("admin", A, at(4)).err().unwrap().retry_after, Duration::from_secs(3));
        // The right password after the wait gets through and forgets the failures.
        rl.begin("admin", A, at(7)).unwrap().succeeded();
        rl.begin("admin", A, at(7)).unwrap().succeeded();
        // Another client, or another account, was never slowed.
        rl.begin("admin", B, at(0)).unwrap().succeeded();
        rl.begin("backup", A, at(0)).unwrap().succeeded();
    }

    #[test]
    fn the_delay_is_capped() {
        let rl = limiter();
        let t0 = Instant::now();
        let mut t = t0;
        for _ in 0..9 {
            loop {
                match rl.begin("admin", A, t) {
                    Ok(a) => {
                        drop(a);
                        break;
                    }
                    Err(w) => {
                        assert!(w.retry_after <= Duration::from_secs(8), "{w:?}");
                        t += w.retry_after;
                    }
                }
            }
        }
    }

    #[test]
    fn a_client_may_not_spray_usernames() {
        let rl = limiter();
        let t0 = Instant::now();
        for i in 0..10 {
            drop(rl.begin(&format!("user{i}"), A, t0).unwrap());
        }
        assert!(rl.begin("user-new", A, t0).is_err());
        assert!(rl.begin("user-new", B, t0).is_ok());
    }

    #[test]
    fn ipv6_is_keyed_by_its_64_prefix_and_mapped_v4_as_v4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ClientKey::of(a), ClientKey::of(b));
        assert_ne!(ClientKey::of(a), ClientKey::of(c));
        assert_eq!(ClientKey::of("::ffff:10.0.0.1".parse().unwrap()), ClientKey::of(A));
        assert_eq!(ClientKey::of(a).to_string(), "2001:db8:1:2::/64");
    }

    #[test]
    fn memory_is_bounded() {
        let rl = limiter();
        let t0 = Instant::now();
        for i in 0..100u8 {
            let client = IpAddr::V4(std::net::Ipv4Addr::new(10, 1, 0, i));
            drop(rl.begin("admin", client, t0 + Duration::from_millis(i as u64)));
        }
        assert!(rl.remembered() <= 4, "{}", rl.remembered());
    }
}
