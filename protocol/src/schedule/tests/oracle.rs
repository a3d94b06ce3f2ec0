//! Property tests against an obviously-correct reference: fields read from their
//! text by a separate parser into tables, its own calendar, minute-by-minute search
//! (wall clock and real time across daylight-saving changes).

use super::*;
use crate::schedule::parse::hhmm;

/// A small deterministic generator, so the property test needs no extra crate.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u32) -> u32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as u32
    }
    fn field(&mut self, min: u32, max: u32) -> String {
        match self.next(6) {
            0 | 1 => "*".into(),
            2 => format!("{}", min + self.next(max - min + 1)),
            3 => {
                let a = min + self.next(max - min + 1);
                format!("{a}-{}", a + self.next(max - a + 1))
            }
            4 => format!("*/{}", 1 + self.next(max.min(12))),
            _ => {
                let a = min + self.next(max - min + 1);
                let b = min + self.next(max - min + 1);
                format!("{a},{b}")
            }
        }
    }
    fn schedule(&mut self) -> Schedule {
        let mut s =
            sched(&self.field(0, 59), &self.field(0, 23), &self.field(1, 31), &self.field(1, 12), &self.field(0, 6));
        if self.next(3) == 0 {
            s.begin = format!("{:02}:{:02}", self.next(24), self.next(60));
            s.end = format!("{:02}:{:02}", self.next(24), self.next(60));
        }
        s
    }
}

/// The reference's own calendar (not chrono's): 0 = Sunday, Howard Hinnant's
/// days-from-civil.
fn ref_weekday(y: i32, m: u32, d: u32) -> u32 {
    let y = if m <= 2 { y - 1 } else { y } as i64;
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146097 + doe - 719468 + 4).rem_euclid(7) as u32
}

fn ref_days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

#[test]
fn the_reference_calendar_is_right() {
    assert_eq!(ref_weekday(2026, 11, 27), 5, "a Friday");
    assert_eq!(ref_weekday(2000, 2, 29), 2, "a Tuesday");
    assert_eq!(ref_weekday(1970, 1, 1), 4, "a Thursday");
    assert_eq!(ref_days_in_month(2028, 2), 29);
    assert_eq!(ref_days_in_month(2100, 2), 28);
}

/// An independent reading of one field: is `v` in it? Works on the text directly.
fn ref_field(text: &str, v: u32, min: u32, max: u32, names: &[&str], base: u32) -> bool {
    let num = |s: &str| {
        s.parse::<u32>()
            .ok()
            .or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(s)).map(|i| i as u32 + base))
            .unwrap()
    };
    let norm = |x: u32| if max == 6 && x == 7 { 0 } else { x };
    text.split(',').any(|item| {
        let (range, step) = item.split_once('/').map_or((item, 1), |(r, s)| (r, s.parse().unwrap()));
        let (lo, hi) = match range {
            "*" => (min, max),
            r if r.contains('-') => {
                let (a, b) = r.split_once('-').unwrap();
                (num(a), num(b))
            }
            r if item.contains('/') => (num(r), max),
            r => (num(r), num(r)),
        };
        (lo..=hi).step_by(step as usize).any(|x| norm(x) == v)
    })
}

/// The obviously-correct reference: each field read from its text by `ref_field`
/// into a table of allowed values, once per schedule.
struct Reference {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    weekdays: Vec<bool>,
    either_day: bool,
    window: (u32, u32),
}

impl Reference {
    fn new(s: &Schedule) -> Self {
        let table = |text: &str, min: u32, max: u32, names: &[&str], base: u32| -> Vec<bool> {
            (0..=max).map(|v| v >= min && ref_field(text, v, min, max, names, base)).collect()
        };
        Reference {
            minutes: table(&s.minute, 0, 59, &[], 0),
            hours: table(&s.hour, 0, 23, &[], 0),
            days: table(&s.dom, 1, 31, &[], 0),
            months: table(&s.month, 1, 12, MONTHS, 1),
            weekdays: table(&s.dow, 0, 6, WEEKDAYS, 0),
            either_day: s.dom.trim() != "*" && s.dow.trim() != "*",
            window: (hhmm(&s.begin).unwrap(), hhmm(&s.end).unwrap()),
        }
    }

    /// Whether a run starts at this wall-clock minute.
    fn matches(&self, (y, mo, d, h, mi): (i32, u32, u32, u32, u32)) -> bool {
        let (dom, dow) = (self.days[d as usize], self.weekdays[ref_weekday(y, mo, d) as usize]);
        let days = if self.either_day { dom || dow } else { dom && dow };
        let (t, (b, e)) = (h * 60 + mi, self.window);
        let window = if b <= e { b <= t && t <= e } else { t >= b || t <= e };
        days && window && self.months[mo as usize] && self.hours[h as usize] && self.minutes[mi as usize]
    }
}

/// The reference search on the wall clock: try every minute.
fn brute_next(s: &Schedule, after: NaiveDateTime, limit_days: u32) -> Option<NaiveDateTime> {
    let reference = Reference::new(s);
    let (mut y, mut mo, mut d) = (after.year(), after.month(), after.day());
    let mut t = after.hour() * 60 + after.minute() + 1;
    for _ in 0..limit_days {
        while t < 1440 {
            if reference.matches((y, mo, d, t / 60, t % 60)) {
                return Some(at(y, mo, d, t / 60, t % 60));
            }
            t += 1;
        }
        t = 0;
        (y, mo, d) = if d < ref_days_in_month(y, mo) {
            (y, mo, d + 1)
        } else if mo < 12 {
            (y, mo + 1, 1)
        } else {
            (y + 1, 1, 1)
        };
    }
    None
}

/// The fast answer must be the reference's; when the reference, which looks only so
/// far ahead, found nothing, the fast one must lie beyond its horizon.
fn agree<T: PartialEq + std::fmt::Debug>(
    fast: Option<T>,
    slow: Option<T>,
    beyond_horizon: impl Fn(&T) -> bool,
    case: &str,
) {
    match (fast, slow) {
        (Some(f), Some(b)) => assert_eq!(f, b, "{case}"),
        (Some(f), None) => assert!(beyond_horizon(&f), "{case}: {f:?} but the reference found nothing"),
        (None, Some(b)) => panic!("{case}: missed {b:?}"),
        (None, None) => {}
    }
}

#[test]
fn next_wall_after_agrees_with_a_minute_by_minute_matcher() {
    let mut rng = Lcg(0x5eed);
    for _ in 0..5000 {
        let s = rng.schedule();
        let spec = CronSpec::parse(&s).unwrap_or_else(|e| panic!("{s:?}: {e:?}"));
        let mut from = at(2024 + rng.next(4) as i32, 1 + rng.next(12), 1 + rng.next(28), rng.next(24), rng.next(60));
        for _ in 0..3 {
            let fast = spec.next_wall_after(from);
            let slow = brute_next(&s, from, 400);
            agree(fast, slow, |f| *f - from > Duration::days(399), &format!("{s:?} after {from:?}"));
            match fast {
                Some(f) => from = f,
                None => break,
            }
        }
    }
}

/// The reference for real time: walk UTC minute by minute. A minute starts a run
/// when its wall-clock reading matches and is that reading's first occurrence, or
/// when the clocks just jumped forward over a reading that matches.
fn brute_next_zoned(s: &Schedule, tz: &chrono_tz::Tz, after: DateTime<Utc>, limit_days: i64) -> Option<DateTime<Utc>> {
    let reference = Reference::new(s);
    let wall = |u: DateTime<Utc>| u.with_timezone(tz).naive_local();
    let parts = |w: NaiveDateTime| (w.year(), w.month(), w.day(), w.hour(), w.minute());
    let mut u = after.with_second(0).unwrap().with_nanosecond(0).unwrap();
    // Every reading up to the latest one seen has occurred (clocks go back by at most
    // a few hours, over readings they showed just before).
    let mut latest = (0..=240).map(|back| wall(u - Duration::minutes(back))).max().unwrap();
    for _ in 0..limit_days * 1440 {
        let previous = wall(u);
        u += Duration::minutes(1);
        let now = wall(u);
        if now > latest {
            latest = now;
            if reference.matches(parts(now)) {
                return Some(u);
            }
        }
        let mut skipped = previous + Duration::minutes(1);
        while skipped < now {
            if reference.matches(parts(skipped)) {
                return Some(u);
            }
            skipped += Duration::minutes(1);
        }
    }
    None
}

#[test]
fn next_after_agrees_with_a_real_time_matcher_across_dst() {
    // (zone, transition days) — Lord Howe moves by 30 minutes; Tokyo has no DST.
    let zones = [
        ("Europe/Berlin", [(2026, 3, 29), (2026, 10, 25)]),
        ("America/New_York", [(2026, 3, 8), (2026, 11, 1)]),
        ("Australia/Lord_Howe", [(2026, 4, 5), (2026, 10, 4)]),
        ("Asia/Tokyo", [(2026, 3, 29), (2026, 10, 25)]),
    ];
    let mut rng = Lcg(0xd57);
    for case in 0..1000 {
        let (zone, days) = zones[case % zones.len()];
        let (rules, tz) = (self::zone(zone), tzdb(zone));
        let mut s = rng.schedule();
        // Aim at the hours around the transitions.
        if rng.next(2) == 0 {
            s.hour = ["1-3", "2", "*/2", "0-4"][rng.next(4) as usize].into();
        }
        let spec = CronSpec::parse(&s).unwrap();
        let (y, m, d) = days[rng.next(2) as usize];
        let mut from = at(y, m, d, 0, 0).and_utc() - Duration::hours(36) + Duration::minutes(rng.next(48 * 60) as i64);
        for _ in 0..4 {
            let fast = spec.next_after(&rules, from).map(|t| t.with_timezone(&Utc));
            let slow = brute_next_zoned(&s, &tz, from, 20);
            agree(fast, slow, |f| *f - from > Duration::days(19), &format!("{zone} {s:?} after {from}"));
            match fast {
                Some(f) if f - from <= Duration::days(19) => from = f,
                _ => break,
            }
        }
    }
}

#[test]
fn next_after_agrees_with_a_real_time_matcher_over_a_year_in_zones_with_dst() {
    // Sao Paulo dropped DST in 2019: zones change their rules too.
    let zones = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Sao_Paulo", "UTC"];
    let mut rng = Lcg(0x7ea5);
    for case in 0..200 {
        let zone = zones[case % zones.len()];
        let (rules, tz) = (self::zone(zone), tzdb(zone));
        let s = rng.schedule();
        let spec = CronSpec::parse(&s).unwrap();
        let mut from =
            at(2025 + rng.next(2) as i32, 1 + rng.next(12), 1 + rng.next(28), rng.next(24), rng.next(60)).and_utc();
        for _ in 0..2 {
            let fast = spec.next_after(&rules, from).map(|t| t.with_timezone(&Utc));
            let slow = brute_next_zoned(&s, &tz, from, 400);
            agree(fast, slow, |f| *f - from > Duration::days(399), &format!("{zone} {s:?} after {from}"));
            match fast {
                Some(f) => from = f,
                None => break,
            }
        }
    }
}
