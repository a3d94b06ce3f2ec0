//! Schedule arithmetic shared by the scheduler and the browser's preview: parsing the
//! TrueNAS-style cron fields of a task's `schedule` and answering "when is the next
//! start after this minute?" with POSIX/Vixie cron semantics.
//!
//! - Fields: `*`, numbers, ranges `30-35`, lists `1,8,13`, steps `*/2`, `10-40/5` and
//!   `5/15` (from 5 to the maximum), month names `jan`–`dec` and weekday names
//!   `sun`–`sat` in any case; weekday 0 and 7 are both Sunday.
//! - When both day-of-month and day-of-week are restricted (neither is `*`), a day
//!   matches if either matches; when one is `*`, only the other counts.
//! - `begin`/`end` ("HH:MM") bound when a run may *start*; a window with `end < begin`
//!   wraps midnight.
//!
//! This works on wall-clock minutes without a time zone. (Written here rather than on
//! the `cron` crate, whose seconds-first fields, weekday numbering and AND-ed day
//! fields would all need translating.) Time zones and daylight-saving transitions are
//! the caller's: see the schedules issue.

use crate::tasks::Schedule;
use crate::FieldError;

/// A wall-clock minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Minute {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
}

/// A parsed schedule: one bit per allowed value of each field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronSpec {
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    days_star: bool,
    weekdays_star: bool,
    begin: u32,
    end: u32,
}

const MONTHS: &[&str] = &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Parses one field into a bit mask of allowed values in `min..=max`, and whether it
/// was `*`. `names` map to `min + index` (months) or `index` (weekdays).
fn field(text: &str, min: u32, max: u32, names: &[&str], name_base: u32) -> Result<(u64, bool), String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("must not be empty".into());
    }
    let value = |s: &str| -> Result<u32, String> {
        if let Ok(n) = s.parse::<u32>() {
            return Ok(n);
        }
        names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(s))
            .map(|i| i as u32 + name_base)
            .ok_or_else(|| format!("`{s}` is not a number{}", if names.is_empty() { "" } else { " or a name" }))
    };
    let mut mask = 0u64;
    for item in text.split(',') {
        if item.is_empty() {
            return Err(format!("`{text}` has an empty list item"));
        }
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().map_err(|_| format!("step `{s}` is not a number"))?;
                if step == 0 {
                    return Err("step 0 is not allowed".into());
                }
                (r, Some(step))
            }
            None => (item, None),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let v = value(range)?;
            (v, if step.is_some() { max } else { v })
        };
        for v in [lo, hi] {
            // Weekday 7 is Sunday too.
            let top = if max == 6 { 7 } else { max };
            if v < min || v > top {
                return Err(format!("{v} is out of range {min}-{max}"));
            }
        }
        if lo > hi {
            return Err(format!("range {lo}-{hi} goes backwards"));
        }
        let mut v = lo;
        while v <= hi {
            mask |= 1 << (if max == 6 && v == 7 { 0 } else { v });
            v += step.unwrap_or(1);
        }
    }
    Ok((mask, text == "*"))
}

fn hhmm(s: &str) -> Result<u32, String> {
    crate::tasks::parse_hhmm(s)
}

impl CronSpec {
    /// Parses a schedule; errors name the field (`minute`, `hour`, `dom`, `month`,
    /// `dow`, `begin`, `end`) and the bad part.
    pub fn parse(s: &Schedule) -> Result<CronSpec, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut take = |name: &str, r: Result<(u64, bool), String>| match r {
            Ok(v) => v,
            Err(why) => {
                errors.push(FieldError::new(name, why));
                (0, false)
            }
        };
        let (minutes, _) = take("minute", field(&s.minute, 0, 59, &[], 0));
        let (hours, _) = take("hour", field(&s.hour, 0, 23, &[], 0));
        let (days, days_star) = take("dom", field(&s.dom, 1, 31, &[], 0));
        let (months, _) = take("month", field(&s.month, 1, 12, MONTHS, 1));
        let (weekdays, weekdays_star) = take("dow", field(&s.dow, 0, 6, WEEKDAYS, 0));
        let begin = hhmm(&s.begin).map_err(|why| errors.push(FieldError::new("begin", why))).unwrap_or(0);
        let end = hhmm(&s.end).map_err(|why| errors.push(FieldError::new("end", why))).unwrap_or(0);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(CronSpec {
            minutes,
            hours: hours as u32,
            days: days as u32,
            months: months as u16,
            weekdays: weekdays as u8,
            days_star,
            weekdays_star,
            begin,
            end,
        })
    }

    /// Whether both day fields are restricted, so they combine with OR.
    pub fn days_combine_with_or(&self) -> bool {
        !self.days_star && !self.weekdays_star
    }

    fn day_matches(&self, year: i32, month: u32, day: u32) -> bool {
        if self.months & (1 << month) == 0 {
            return false;
        }
        let dom = self.days & (1 << day) != 0;
        let dow = self.weekdays & (1 << weekday(year, month, day)) != 0;
        if self.days_combine_with_or() {
            dom || dow
        } else {
            dom && dow
        }
    }

    fn in_window(&self, minute_of_day: u32) -> bool {
        if self.begin <= self.end {
            (self.begin..=self.end).contains(&minute_of_day)
        } else {
            minute_of_day >= self.begin || minute_of_day <= self.end
        }
    }

    /// Whether a run starts at `m`.
    pub fn matches(&self, m: Minute) -> bool {
        self.day_matches(m.year, m.month, m.day)
            && self.hours & (1 << m.hour) != 0
            && self.minutes & (1 << m.minute) != 0
            && self.in_window(m.hour * 60 + m.minute)
    }

    /// The first start strictly after `after`, looking up to 28 years ahead (enough for
    /// any day/weekday combination, leap days included); `None` when there is none.
    pub fn next_after(&self, after: Minute) -> Option<Minute> {
        let (mut y, mut mo, mut d) = (after.year, after.month, after.day);
        let mut from = after.hour * 60 + after.minute + 1;
        for _ in 0..(366 * 28) {
            if self.day_matches(y, mo, d) {
                for t in from..1440 {
                    let (hour, minute) = (t / 60, t % 60);
                    if self.hours & (1 << hour) != 0 && self.minutes & (1 << minute) != 0 && self.in_window(t) {
                        return Some(Minute { year: y, month: mo, day: d, hour, minute });
                    }
                }
            }
            from = 0;
            (y, mo, d) = next_day(y, mo, d);
        }
        None
    }

    /// The next `count` starts after `after`.
    pub fn upcoming(&self, after: Minute, count: usize) -> Vec<Minute> {
        let mut out = Vec::with_capacity(count);
        let mut at = after;
        while out.len() < count {
            match self.next_after(at) {
                Some(m) => {
                    out.push(m);
                    at = m;
                }
                None => break,
            }
        }
        out
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

fn next_day(y: i32, m: u32, d: u32) -> (i32, u32, u32) {
    if d < days_in_month(y, m) {
        (y, m, d + 1)
    } else if m < 12 {
        (y, m + 1, 1)
    } else {
        (y + 1, 1, 1)
    }
}

/// 0 = Sunday (days from civil, Howard Hinnant's algorithm).
pub fn weekday(y: i32, m: u32, d: u32) -> u32 {
    let y = if m <= 2 { y - 1 } else { y } as i64;
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    (days + 4).rem_euclid(7) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(minute: &str, hour: &str, dom: &str, month: &str, dow: &str) -> Schedule {
        Schedule {
            minute: minute.into(),
            hour: hour.into(),
            dom: dom.into(),
            month: month.into(),
            dow: dow.into(),
            begin: "00:00".into(),
            end: "23:59".into(),
        }
    }

    fn at(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> Minute {
        Minute { year, month, day, hour, minute }
    }

    fn error(s: Schedule) -> (String, String) {
        let e = CronSpec::parse(&s).unwrap_err().remove(0);
        (e.field, e.message)
    }

    #[test]
    fn weekdays_are_right() {
        assert_eq!(weekday(2026, 11, 27), 5, "a Friday");
        assert_eq!(weekday(2000, 2, 29), 2, "a Tuesday");
        assert_eq!(weekday(1970, 1, 1), 4, "a Thursday");
    }

    #[test]
    fn every_syntax_form_parses() {
        for (minute, hour, dom, month, dow) in [
            ("*", "*", "*", "*", "*"),
            ("0", "3", "1", "1", "0"),
            ("30-35", "*/2", "1,8,13", "jan-MAR", "mon-fri"),
            ("10-40/5", "5/6", "*/3", "Dec", "7"),
            ("59", "23", "31", "12", "SAT,sun"),
        ] {
            assert!(
                CronSpec::parse(&sched(minute, hour, dom, month, dow)).is_ok(),
                "{minute} {hour} {dom} {month} {dow}"
            );
        }
    }

    #[test]
    fn errors_name_the_field_and_the_bad_part() {
        assert_eq!(error(sched("0", "0", "32", "*", "*")), ("dom".into(), "32 is out of range 1-31".into()));
        assert_eq!(error(sched("60", "0", "*", "*", "*")), ("minute".into(), "60 is out of range 0-59".into()));
        assert_eq!(error(sched("*/0", "0", "*", "*", "*")), ("minute".into(), "step 0 is not allowed".into()));
        assert_eq!(error(sched("0", "", "*", "*", "*")), ("hour".into(), "must not be empty".into()));
        assert_eq!(error(sched("0", "0", "*", "foo", "*")), ("month".into(), "`foo` is not a number or a name".into()));
        assert_eq!(error(sched("0", "0", "*", "*", "8")), ("dow".into(), "8 is out of range 0-6".into()));
        assert_eq!(error(sched("0", "5-2", "*", "*", "*")), ("hour".into(), "range 5-2 goes backwards".into()));
        assert_eq!(error(sched("1,,2", "0", "*", "*", "*")), ("minute".into(), "`1,,2` has an empty list item".into()));
        let mut s = sched("0", "0", "*", "*", "*");
        s.begin = "24:00".into();
        assert_eq!(error(s).0, "begin");
    }

    #[test]
    fn presets_fire_when_expected() {
        let from = at(2026, 11, 27, 10, 30);
        let next = |s: Schedule| CronSpec::parse(&s).unwrap().next_after(from).unwrap();
        assert_eq!(next(sched("0", "*", "*", "*", "*")), at(2026, 11, 27, 11, 0), "hourly");
        assert_eq!(next(sched("0", "0", "*", "*", "*")), at(2026, 11, 28, 0, 0), "daily");
        assert_eq!(next(sched("0", "0", "*", "*", "sun")), at(2026, 11, 29, 0, 0), "weekly");
        assert_eq!(next(sched("0", "0", "1", "*", "*")), at(2026, 12, 1, 0, 0), "monthly");
    }

    #[test]
    fn restricted_day_fields_combine_with_or() {
        // "At 03:00 on day 1 of the month and on Monday."
        let spec = CronSpec::parse(&sched("0", "3", "1", "*", "mon")).unwrap();
        assert!(spec.days_combine_with_or());
        let runs = spec.upcoming(at(2026, 11, 27, 12, 0), 3);
        assert_eq!(runs, [at(2026, 11, 30, 3, 0), at(2026, 12, 1, 3, 0), at(2026, 12, 7, 3, 0)]);
        // With one of them `*`, only the other counts.
        let spec = CronSpec::parse(&sched("0", "3", "*", "*", "mon")).unwrap();
        assert_eq!(spec.next_after(at(2026, 11, 30, 12, 0)), Some(at(2026, 12, 7, 3, 0)));
    }

    #[test]
    fn the_window_bounds_starts_and_may_wrap_midnight() {
        let mut s = sched("0", "*", "*", "*", "*");
        s.begin = "22:00".into();
        s.end = "02:00".into();
        let runs = CronSpec::parse(&s).unwrap().upcoming(at(2026, 11, 27, 12, 0), 5);
        let hours: Vec<u32> = runs.iter().map(|m| m.hour).collect();
        assert_eq!(hours, [22, 23, 0, 1, 2]);
    }

    #[test]
    fn leap_days_and_impossible_dates() {
        let spec = CronSpec::parse(&sched("0", "0", "29", "feb", "*")).unwrap();
        assert_eq!(spec.next_after(at(2026, 3, 1, 0, 0)), Some(at(2028, 2, 29, 0, 0)));
        let never = CronSpec::parse(&sched("0", "0", "31", "feb", "*")).unwrap();
        assert_eq!(never.next_after(at(2026, 1, 1, 0, 0)), None);
    }

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

    /// The obviously-correct reference matcher for one minute, straight from the text.
    fn ref_matches(s: &Schedule, m: Minute) -> bool {
        let dom = ref_field(&s.dom, m.day, 1, 31, &[], 0);
        let dow = ref_field(&s.dow, weekday(m.year, m.month, m.day), 0, 6, WEEKDAYS, 0);
        let days = if s.dom.trim() != "*" && s.dow.trim() != "*" { dom || dow } else { dom && dow };
        let t = m.hour * 60 + m.minute;
        let (b, e) = (hhmm(&s.begin).unwrap(), hhmm(&s.end).unwrap());
        let window = if b <= e { b <= t && t <= e } else { t >= b || t <= e };
        days && window
            && ref_field(&s.month, m.month, 1, 12, MONTHS, 1)
            && ref_field(&s.hour, m.hour, 0, 23, &[], 0)
            && ref_field(&s.minute, m.minute, 0, 59, &[], 0)
    }

    /// The reference search: try every minute.
    fn brute_next(s: &Schedule, after: Minute, limit_days: u32) -> Option<Minute> {
        let (mut y, mut mo, mut d) = (after.year, after.month, after.day);
        let mut t = after.hour * 60 + after.minute + 1;
        for _ in 0..limit_days {
            while t < 1440 {
                let m = Minute { year: y, month: mo, day: d, hour: t / 60, minute: t % 60 };
                if ref_matches(s, m) {
                    return Some(m);
                }
                t += 1;
            }
            t = 0;
            (y, mo, d) = next_day(y, mo, d);
        }
        None
    }

    #[test]
    fn next_after_agrees_with_a_minute_by_minute_matcher() {
        let mut rng = Lcg(0x5eed);
        for _ in 0..2000 {
            let mut s =
                sched(&rng.field(0, 59), &rng.field(0, 23), &rng.field(1, 31), &rng.field(1, 12), &rng.field(0, 6));
            if rng.next(3) == 0 {
                s.begin = format!("{:02}:{:02}", rng.next(24), rng.next(60));
                s.end = format!("{:02}:{:02}", rng.next(24), rng.next(60));
            }
            let spec = CronSpec::parse(&s).unwrap_or_else(|e| panic!("{s:?}: {e:?}"));
            let mut at_ = Minute {
                year: 2024 + rng.next(4) as i32,
                month: 1 + rng.next(12),
                day: 1 + rng.next(28),
                hour: rng.next(24),
                minute: rng.next(60),
            };
            for _ in 0..3 {
                let fast = spec.next_after(at_);
                let slow = brute_next(&s, at_, 400);
                match (fast, slow) {
                    (Some(f), Some(b)) => assert_eq!(f, b, "{s:?} after {at_:?}"),
                    (Some(f), None) => assert!(
                        (f.year - at_.year) * 12 + f.month as i32 - at_.month as i32 >= 12,
                        "{s:?}: {f:?} but nothing within 400 days"
                    ),
                    (None, Some(b)) => panic!("{s:?} after {at_:?}: missed {b:?}"),
                    (None, None) => {}
                }
                match fast {
                    Some(f) => at_ = f,
                    None => break,
                }
            }
        }
    }
}
