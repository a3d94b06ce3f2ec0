//! Failed-login brake per client address: after `max_failures` failures within
//! `window`, further attempts from that address are refused, even with the right
//! password, until the oldest failure leaves the window. Kept in memory: a restart
//! forgives, which is acceptable for a brake whose job is to make guessing slow.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct LoginRateLimiter {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl Default for LoginRateLimiter {
    fn default() -> Self {
        Self::new(5, Duration::from_secs(300))
    }
}

impl LoginRateLimiter {
    pub fn new(max_failures: usize, window: Duration) -> Self {
        Self { max_failures, window, failures: Mutex::new(HashMap::new()) }
    }

    /// `Err(wait)` when `addr` must wait before trying again.
    pub fn check(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut map = self.failures.lock().expect("rate limiter lock");
        let Some(list) = map.get_mut(&addr) else { return Ok(()) };
        while list.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
            list.pop_front();
        }
        if list.len() >= self.max_failures {
            let oldest = *list.front().expect("non-empty");
            return Err(self.window.saturating_sub(now.duration_since(oldest)));
        }
        Ok(())
    }

    pub fn record_failure(&self, addr: IpAddr, now: Instant) {
        let mut map = self.failures.lock().expect("rate limiter lock");
        map.entry(addr).or_default().push_back(now);
    }

    /// A successful login forgets the address's failures.
    pub fn record_success(&self, addr: IpAddr) {
        self.failures.lock().expect("rate limiter lock").remove(&addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn blocks_after_the_limit_and_releases_after_the_window() {
        let rl = LoginRateLimiter::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(rl.check(A, t0).is_ok(), "attempt {i}");
            rl.record_failure(A, t0 + Duration::from_secs(i));
        }
        let wait = rl.check(A, t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(rl.check(B, t0).is_ok(), "other addresses are not affected");
        assert!(rl.check(A, t0 + Duration::from_secs(61)).is_ok());
    }

    #[test]
    fn success_forgets_failures() {
        let rl = LoginRateLimiter::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        rl.record_failure(A, t0);
        rl.record_success(A);
        rl.record_failure(A, t0);
        assert!(rl.check(A, t0).is_ok());
    }
}
