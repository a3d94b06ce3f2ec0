//! Schedule arithmetic shared by the scheduler and the browser's preview: parsing the
//! TrueNAS-style cron fields of a task's `schedule` and answering "when is the next
//! start after this moment, in the server's time zone?". The server's scheduler and the
//! WebAssembly app run this same code, so the preview is what the scheduler will do.
//!
//! - Fields: `*`, numbers, ranges `30-35`, lists `1,8,13`, steps `*/2`, `10-40/5` and
//!   `5/15` (from 5 to the maximum), month names `jan`–`dec` and weekday names
//!   `sun`–`sat` in any case; weekday 0 and 7 are both Sunday. Errors name the field
//!   and the bad part (`dom: 32 is out of range 1-31`).
//! - When both day-of-month and day-of-week are restricted (neither is `*`), a day
//!   matches if either matches; when one is `*`, only the other counts.
//! - `begin`/`end` ("HH:MM") bound when a run may *start*; a window with `end < begin`
//!   wraps midnight.
//! - Time zones, as cronie: a wall-clock time skipped by a spring-forward transition
//!   runs once at the first minute after the gap; a time that occurs twice (fall back)
//!   runs once, at its first occurrence.
//!
//! Field matching on wall-clock minutes is the `cron` crate's. This module adapts it and
//! keeps its conventions inside: cron's fields are seconds-first, its weekdays count
//! from 1 (we hand it names), and it ANDs the two day fields (for the POSIX OR we ask two
//! cron schedules, one per day field, and take the earlier answer).

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Timelike, Utc,
};
use serde::{Deserialize, Serialize};

use crate::tasks::Schedule;
use crate::{method, FieldError};

pub use crate::zone::Zone;

method!(
    /// The next start times of a schedule in the server's time zone, and what it means
    /// in words. Nothing is stored.
    Preview = "schedule.preview", PreviewParams => SchedulePreview
);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewParams {
    pub schedule: Schedule,
    /// How many start times, 1 to [`MAX_PREVIEW`]; 25 when left out.
    #[serde(default)]
    pub count: Option<u32>,
    /// RFC 3339; the starts listed come strictly after it. Now when left out.
    #[serde(default)]
    pub from: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulePreview {
    /// The IANA zone the times are in (the server's).
    pub timezone: String,
    /// "At 03:00, on day 1 of the month and on Monday".
    pub description: String,
    /// Both day fields are restricted, so a day matches if either does.
    pub days_combine_with_or: bool,
    /// RFC 3339 with the zone's offset, earliest first. Fewer than asked when the
    /// schedule ends (it can never match, or not before 2100).
    pub runs: Vec<String>,
}

pub const DEFAULT_PREVIEW: u32 = 25;
pub const MAX_PREVIEW: u32 = 1000;

/// The preview both the server (`schedule.preview`) and the app compute, in `zone` (the
/// server's). Errors name the field (`schedule.dom`, `count`, `from`).
pub fn preview(p: &PreviewParams, zone: &Zone, now: DateTime<Utc>) -> Result<SchedulePreview, Vec<FieldError>> {
    let mut errors = Vec::new();
    let spec = CronSpec::parse(&p.schedule)
        .map_err(|e| errors.extend(e.into_iter().map(|e| FieldError::new(format!("schedule.{}", e.field), e.message))));
    let count = p.count.unwrap_or(DEFAULT_PREVIEW);
    if !(1..=MAX_PREVIEW).contains(&count) {
        errors.push(FieldError::new("count", format!("must be between 1 and {MAX_PREVIEW}")));
    }
    let from = match &p.from {
        None => Some(now),
        Some(f) => DateTime::parse_from_rfc3339(f)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| errors.push(FieldError::new("from", format!("`{f}` is not an RFC 3339 time"))))
            .ok(),
    };
    match (spec, from) {
        (Ok(spec), Some(from)) if errors.is_empty() => Ok(SchedulePreview {
            timezone: zone.name().to_string(),
            description: spec.describe(),
            days_combine_with_or: spec.days_combine_with_or(),
            runs: spec.upcoming(zone, from, count as usize).iter().map(rfc3339).collect(),
        }),
        _ => Err(errors),
    }
}

/// RFC 3339 with whole seconds and the zone's offset.
pub fn rfc3339<Z: TimeZone>(t: &DateTime<Z>) -> String
where
    Z::Offset: std::fmt::Display,
{
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A parsed schedule: one bit per allowed value of each field, and the cron schedules
/// that find the next matching wall-clock minute.
#[derive(Clone, Debug)]
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
    /// One schedule, or two (day-of-month only, day-of-week only) when they combine with OR.
    crons: Vec<cron::Schedule>,
}

pub const MONTHS: &[&str] = &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
pub const WEEKDAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
pub const MONTH_NAMES: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
pub const WEEKDAY_NAMES: &[&str] = &["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

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
            // A step past the field's end stops here instead of wrapping around.
            match v.checked_add(step.unwrap_or(1)) {
                Some(next) => v = next,
                None => break,
            }
        }
    }
    Ok((mask, text == "*"))
}

fn hhmm(s: &str) -> Result<u32, String> {
    crate::tasks::parse_hhmm(s)
}

/// The values set in a mask, smallest first.
fn values(mask: u64) -> Vec<u32> {
    (0..64).filter(|v| mask & (1 << v) != 0).collect()
}

/// A mask as a cron list ("0,15,30,45"), `*` when every value in `min..=max` is set.
fn cron_list(mask: u64, min: u32, max: u32, names: Option<&[&str]>) -> String {
    if (min..=max).all(|v| mask & (1 << v) != 0) {
        return "*".into();
    }
    let vs = values(mask);
    let items: Vec<String> = vs.iter().map(|&v| names.map_or(v.to_string(), |n| n[v as usize].to_string())).collect();
    items.join(",")
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
        // cron's own syntax: seconds first, weekdays by name so its numbering stays inside.
        let minute = cron_list(minutes, 0, 59, None);
        let hour = cron_list(hours, 0, 23, None);
        let dom = cron_list(days, 1, 31, None);
        let month = cron_list(months, 1, 12, None);
        let dow = cron_list(weekdays, 0, 6, Some(WEEKDAYS));
        let expressions = if !days_star && !weekdays_star {
            vec![format!("0 {minute} {hour} {dom} {month} *"), format!("0 {minute} {hour} * {month} {dow}")]
        } else {
            vec![format!("0 {minute} {hour} {dom} {month} {dow}")]
        };
        let crons = expressions
            .iter()
            .map(|e| e.parse::<cron::Schedule>().unwrap_or_else(|err| panic!("cron rejected `{e}`: {err}")))
            .collect();
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
            crons,
        })
    }

    /// The months (1-12) the month field allows; empty when it is `*`.
    pub fn months(&self) -> Vec<u32> {
        if self.months == 0b1_1111_1111_1110 {
            Vec::new()
        } else {
            values(self.months as u64)
        }
    }

    /// The weekdays (0 = Sunday) the day-of-week field allows; empty when it is `*`.
    pub fn weekdays(&self) -> Vec<u32> {
        if self.weekdays_star || self.weekdays == 0x7f {
            Vec::new()
        } else {
            values(self.weekdays as u64)
        }
    }

    /// Whether both day fields are restricted, so they combine with OR.
    pub fn days_combine_with_or(&self) -> bool {
        !self.days_star && !self.weekdays_star
    }

    fn in_window(&self, minute_of_day: u32) -> bool {
        if self.begin <= self.end {
            (self.begin..=self.end).contains(&minute_of_day)
        } else {
            minute_of_day >= self.begin || minute_of_day <= self.end
        }
    }

    /// The first matching wall-clock minute strictly after `after` (no time zone), or
    /// `None` when there is none before 2100.
    pub fn next_wall_after(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut at = floor_minute(after);
        loop {
            // cron works on `DateTime`s; UTC stands in for "no zone" here.
            let next = self.crons.iter().filter_map(|c| c.after(&at.and_utc()).next()).min()?.naive_utc();
            let t = next.hour() * 60 + next.minute();
            if self.in_window(t) {
                return Some(next);
            }
            // Outside the window: skip straight to the minute before it opens again.
            let day = if self.begin <= self.end && t > self.end { next.date().succ_opt()? } else { next.date() };
            let opens = day.and_hms_opt(self.begin / 60, self.begin % 60, 0)? - Duration::minutes(1);
            at = opens.max(next);
        }
    }

    /// The first start strictly after `after`, in zone `tz`, with cronie's rules for
    /// daylight-saving transitions (see the module notes).
    pub fn next_after<Z: TimeZone>(&self, tz: &Z, after: DateTime<Utc>) -> Option<DateTime<Z>> {
        let mut wall = tz.from_utc_datetime(&after.naive_utc()).naive_local();
        loop {
            let candidate = self.next_wall_after(wall)?;
            let at = resolve(tz, candidate)?;
            if at.with_timezone(&Utc) > after {
                return Some(at);
            }
            wall = candidate;
        }
    }

    /// The next `count` starts after `after`.
    pub fn upcoming<Z: TimeZone>(&self, tz: &Z, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Z>> {
        let mut out: Vec<DateTime<Z>> = Vec::with_capacity(count);
        let mut at = after;
        while out.len() < count {
            match self.next_after(tz, at) {
                Some(t) => {
                    at = t.with_timezone(&Utc);
                    out.push(t);
                }
                None => break,
            }
        }
        out
    }

    /// The days of a month on which at least one run starts (wall clock).
    pub fn run_days(&self, year: i32, month: u32) -> Vec<u32> {
        let Some(first) = NaiveDate::from_ymd_opt(year, month, 1) else { return Vec::new() };
        first
            .iter_days()
            .take_while(|d| d.month() == month)
            .filter(|d| {
                let before = d.and_hms_opt(0, 0, 0).expect("midnight exists") - Duration::minutes(1);
                self.next_wall_after(before).is_some_and(|t| t.date() == *d)
            })
            .map(|d| d.day())
            .collect()
    }

    /// The schedule in words: "At 03:00, on day 1 of the month and on Monday".
    pub fn describe(&self) -> String {
        let minutes = values(self.minutes);
        let hours = values(self.hours as u64);
        let all_hours = hours.len() == 24;
        let mut out = if minutes.len() == 1 && all_hours {
            format!("At minute {} of every hour", minutes[0])
        } else if minutes.len() == 1 && hours.len() <= 6 {
            let times: Vec<String> = hours.iter().map(|h| format!("{h:02}:{:02}", minutes[0])).collect();
            format!("At {}", join(&times))
        } else {
            let m = if minutes.len() == 60 {
                "Every minute".to_string()
            } else if let Some(step) = even_step(&minutes, 60) {
                format!("Every {step} minutes")
            } else {
                format!("At minutes {}", join_numbers(&minutes))
            };
            if all_hours {
                m
            } else {
                format!("{m}, during hours {}", join_numbers(&hours))
            }
        };
        let days = values(self.days as u64);
        let weekdays: Vec<&str> =
            values(self.weekdays as u64).iter().map(|&d| WEEKDAY_NAMES[d as usize]).collect::<Vec<_>>();
        let on_days = |ds: &[u32]| {
            if ds.len() == 1 {
                format!("on day {} of the month", ds[0])
            } else {
                format!("on days {} of the month", join_numbers(ds))
            }
        };
        match (self.days_star, self.weekdays_star) {
            (true, true) => {}
            (false, true) => out += &format!(", {}", on_days(&days)),
            (true, false) => out += &format!(", on {}", join(&weekdays)),
            (false, false) => out += &format!(", {} and on {}", on_days(&days), join(&weekdays)),
        }
        let months: Vec<&str> = values(self.months as u64).iter().map(|&m| MONTH_NAMES[m as usize - 1]).collect();
        if months.len() < 12 {
            out += &format!(", in {}", join(&months));
        }
        if (self.begin, self.end) != (0, 23 * 60 + 59) {
            let t = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
            out += &format!(", starting only between {} and {}", t(self.begin), t(self.end));
        }
        out
    }
}

/// The step when `vs` is exactly 0, step, 2·step, … below `limit`.
fn even_step(vs: &[u32], limit: u32) -> Option<u32> {
    let step = *vs.get(1)?;
    (vs[0] == 0 && step > 1 && vs.iter().copied().eq((0..limit).step_by(step as usize))).then_some(step)
}

/// "1, 2 and 5"; runs of three or more as ranges ("1-5, 8 and 10").
fn join_numbers(vs: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < vs.len() {
        let mut j = i;
        while j + 1 < vs.len() && vs[j + 1] == vs[j] + 1 {
            j += 1;
        }
        if j >= i + 2 {
            parts.push(format!("{}-{}", vs[i], vs[j]));
        } else {
            parts.extend(vs[i..=j].iter().map(|v| v.to_string()));
        }
        i = j + 1;
    }
    join(&parts)
}

fn join<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [rest @ .., last] => {
            format!("{} and {}", rest.iter().map(|s| s.as_ref()).collect::<Vec<_>>().join(", "), last.as_ref())
        }
    }
}

fn floor_minute(t: NaiveDateTime) -> NaiveDateTime {
    t.with_second(0).and_then(|t| t.with_nanosecond(0)).expect("second 0 exists")
}

/// The moment a wall-clock minute means in `tz`: the first of two when the clocks went
/// back; the first minute after the gap when the clocks went forward over it.
fn resolve<Z: TimeZone>(tz: &Z, wall: NaiveDateTime) -> Option<DateTime<Z>> {
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(t) => Some(t),
        LocalResult::Ambiguous(a, b) => Some(if a <= b { a } else { b }),
        // Gaps last at most a day (Samoa skipped 30 Dec 2011).
        LocalResult::None => {
            (1..=2 * 1440).find_map(|m| tz.from_local_datetime(&(wall + Duration::minutes(m))).earliest())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(minute: &str, hour: &str, dom: &str, month: &str, dow: &str) -> Schedule {
        Schedule::new(minute, hour, dom, month, dow)
    }

    fn at(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(year, month, day).unwrap().and_hms_opt(hour, minute, 0).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn error(s: Schedule) -> (String, String) {
        let e = CronSpec::parse(&s).unwrap_err().remove(0);
        (e.field, e.message)
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
        assert_eq!(error(sched("x", "0", "*", "*", "*")), ("minute".into(), "`x` is not a number".into()));
        assert_eq!(error(sched("*/x", "0", "*", "*", "*")), ("minute".into(), "step `x` is not a number".into()));
        // A huge step means "once", never a wrap-around to every minute.
        let once = CronSpec::parse(&sched("59/4294967295", "0", "*", "*", "*")).unwrap();
        assert_eq!(once.describe(), CronSpec::parse(&sched("59", "0", "*", "*", "*")).unwrap().describe());
        assert_eq!(error(sched("0", "0", "0", "*", "*")), ("dom".into(), "0 is out of range 1-31".into()));
        assert_eq!(error(sched("0", "0", "*", "13", "*")), ("month".into(), "13 is out of range 1-12".into()));
        let mut s = sched("0", "0", "*", "*", "*");
        s.begin = "24:00".into();
        assert_eq!(error(s).0, "begin");
        // Every bad field is reported, not only the first.
        let all = CronSpec::parse(&sched("61", "24", "32", "13", "8")).unwrap_err();
        let fields: Vec<&str> = all.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["minute", "hour", "dom", "month", "dow"]);
    }

    #[test]
    fn presets_fire_when_expected() {
        let from = at(2026, 11, 27, 10, 30);
        let next = |s: Schedule| CronSpec::parse(&s).unwrap().next_wall_after(from).unwrap();
        assert_eq!(next(sched("0", "*", "*", "*", "*")), at(2026, 11, 27, 11, 0), "hourly");
        assert_eq!(next(sched("0", "0", "*", "*", "*")), at(2026, 11, 28, 0, 0), "daily");
        assert_eq!(next(sched("0", "0", "*", "*", "sun")), at(2026, 11, 29, 0, 0), "weekly");
        assert_eq!(next(sched("0", "0", "1", "*", "*")), at(2026, 12, 1, 0, 0), "monthly");
    }

    #[test]
    fn weekday_numbers_and_names_agree() {
        // 2026-11-29 is a Sunday: 0, 7 and `sun` all mean it.
        let from = at(2026, 11, 27, 10, 30);
        for dow in ["0", "7", "sun", "SUN", "6-7"] {
            let spec = CronSpec::parse(&sched("0", "0", "*", "*", dow)).unwrap();
            let next = spec.next_wall_after(from).unwrap();
            assert!(next == at(2026, 11, 29, 0, 0) || (dow == "6-7" && next == at(2026, 11, 28, 0, 0)), "{dow}");
        }
    }

    #[test]
    fn restricted_day_fields_combine_with_or() {
        let spec = CronSpec::parse(&sched("0", "3", "1", "*", "mon")).unwrap();
        assert!(spec.days_combine_with_or());
        assert_eq!(spec.describe(), "At 03:00, on day 1 of the month and on Monday");
        let runs = spec.upcoming(&Utc, utc("2026-11-27T12:00:00Z"), 3);
        let runs: Vec<NaiveDateTime> = runs.iter().map(|t| t.naive_utc()).collect();
        assert_eq!(runs, [at(2026, 11, 30, 3, 0), at(2026, 12, 1, 3, 0), at(2026, 12, 7, 3, 0)]);
        // With one of them `*`, only the other counts.
        let spec = CronSpec::parse(&sched("0", "3", "*", "*", "mon")).unwrap();
        assert!(!spec.days_combine_with_or());
        assert_eq!(spec.next_wall_after(at(2026, 11, 30, 12, 0)), Some(at(2026, 12, 7, 3, 0)));
    }

    #[test]
    fn the_window_bounds_starts_and_may_wrap_midnight() {
        let mut s = sched("0", "*", "*", "*", "*");
        s.begin = "22:00".into();
        s.end = "02:00".into();
        let spec = CronSpec::parse(&s).unwrap();
        let runs = spec.upcoming(&Utc, utc("2026-11-27T12:00:00Z"), 5);
        let hours: Vec<u32> = runs.iter().map(|m| m.hour()).collect();
        assert_eq!(hours, [22, 23, 0, 1, 2]);
        assert_eq!(spec.describe(), "At minute 0 of every hour, starting only between 22:00 and 02:00");
        s.begin = "09:30".into();
        s.end = "10:30".into();
        let spec = CronSpec::parse(&s).unwrap();
        assert_eq!(spec.next_wall_after(at(2026, 11, 27, 10, 0)), Some(at(2026, 11, 28, 10, 0)));
    }

    #[test]
    fn leap_days_and_impossible_dates() {
        let spec = CronSpec::parse(&sched("0", "0", "29", "feb", "*")).unwrap();
        assert_eq!(spec.next_wall_after(at(2026, 3, 1, 0, 0)), Some(at(2028, 2, 29, 0, 0)));
        let never = CronSpec::parse(&sched("0", "0", "31", "feb", "*")).unwrap();
        assert_eq!(never.next_wall_after(at(2026, 1, 1, 0, 0)), None);
        assert!(never.upcoming(&Utc, utc("2026-01-01T00:00:00Z"), 5).is_empty());
    }

    #[test]
    fn descriptions_read_naturally() {
        let d = |m: &str, h: &str, dom: &str, mon: &str, dow: &str| {
            CronSpec::parse(&sched(m, h, dom, mon, dow)).unwrap().describe()
        };
        assert_eq!(d("0", "0", "*", "*", "*"), "At 00:00");
        assert_eq!(d("*", "*", "*", "*", "*"), "Every minute");
        assert_eq!(d("*/15", "*", "*", "*", "mon"), "Every 15 minutes, on Monday");
        assert_eq!(d("0", "0", "1", "*", "*"), "At 00:00, on day 1 of the month");
        assert_eq!(
            d("30", "1,13", "*", "jan,jul", "mon-fri"),
            "At 01:30 and 13:30, on Monday, Tuesday, Wednesday, Thursday and Friday, in January and July"
        );
        assert_eq!(
            d("5,10", "9-17", "1-3,9", "*", "*"),
            "At minutes 5 and 10, during hours 9-17, on days 1-3 and 9 of the month"
        );
    }

    #[test]
    fn calendar_days_follow_the_day_fields() {
        let spec = CronSpec::parse(&sched("0", "3", "1", "*", "mon")).unwrap();
        assert_eq!(spec.run_days(2026, 12), [1, 7, 14, 21, 28]);
        let feb = CronSpec::parse(&sched("0", "0", "29-31", "*", "*")).unwrap();
        assert_eq!(feb.run_days(2026, 2), Vec::<u32>::new());
        assert_eq!(feb.run_days(2028, 2), [29]);
    }

    #[test]
    fn preview_names_bad_fields_and_lists_times_with_offsets() {
        let p = PreviewParams {
            schedule: sched("0", "3", "*", "*", "*"),
            count: Some(2),
            from: Some("2026-11-27T12:00:00Z".into()),
        };
        let out = preview(&p, &berlin(), Utc::now()).unwrap();
        assert_eq!(out.runs, ["2026-11-28T03:00:00+01:00", "2026-11-29T03:00:00+01:00"]);
        assert_eq!(out.description, "At 03:00");
        let bad =
            PreviewParams { schedule: sched("61", "3", "*", "*", "*"), count: Some(0), from: Some("yesterday".into()) };
        let fields: Vec<String> =
            preview(&bad, &berlin(), Utc::now()).unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["schedule.minute", "count", "from"]);
        let default = PreviewParams { schedule: sched("*", "*", "*", "*", "*"), count: None, from: None };
        let utc_zone = Zone::new(crate::zone::ZoneRules::utc());
        assert_eq!(preview(&default, &utc_zone, Utc::now()).unwrap().runs.len(), 25);
    }

    /// The zone as the server and the app use it: rules built from the tz database.
    fn zone(name: &str) -> Zone {
        Zone::new(crate::zone::from_tzdb(name).unwrap())
    }

    /// The tz database itself, for the reference.
    fn tzdb(name: &str) -> chrono_tz::Tz {
        name.parse().unwrap()
    }

    fn berlin() -> Zone {
        zone("Europe/Berlin")
    }

    fn starts(s: Schedule, tz: &Zone, from: &str, n: usize) -> Vec<String> {
        CronSpec::parse(&s).unwrap().upcoming(tz, utc(from), n).iter().map(rfc3339).collect()
    }

    #[test]
    fn spring_forward_runs_a_skipped_time_once_after_the_gap() {
        // Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST.
        assert_eq!(
            starts(sched("30", "2", "*", "*", "*"), &berlin(), "2026-03-28T12:00:00Z", 3),
            ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00"]
        );
        // Every 15 minutes: the four skipped starts and 03:00 itself are one run.
        assert_eq!(
            starts(sched("*/15", "*", "*", "*", "*"), &berlin(), "2026-03-29T00:40:00Z", 3),
            ["2026-03-29T01:45:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:15:00+02:00"]
        );
    }

    #[test]
    fn fall_back_runs_a_repeated_time_once() {
        // Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:00-02:59 happen twice.
        assert_eq!(
            starts(sched("30", "2", "*", "*", "*"), &berlin(), "2026-10-24T12:00:00Z", 2),
            ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]
        );
        assert_eq!(
            starts(sched("*/30", "*", "*", "*", "*"), &berlin(), "2026-10-24T23:10:00Z", 4),
            [
                "2026-10-25T01:30:00+02:00",
                "2026-10-25T02:00:00+02:00",
                "2026-10-25T02:30:00+02:00",
                "2026-10-25T03:00:00+01:00"
            ]
        );
        // Asked from inside the second pass, the repeated times are not offered again.
        assert_eq!(
            starts(sched("*/30", "*", "*", "*", "*"), &berlin(), "2026-10-25T01:10:00Z", 1),
            ["2026-10-25T03:00:00+01:00"]
        );
    }

    #[test]
    fn a_zone_without_dst_is_plain() {
        let tokyo = zone("Asia/Tokyo");
        assert_eq!(
            starts(sched("30", "2", "*", "*", "*"), &tokyo, "2026-03-28T12:00:00Z", 2),
            ["2026-03-29T02:30:00+09:00", "2026-03-30T02:30:00+09:00"]
        );
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
        fn schedule(&mut self) -> Schedule {
            let mut s = sched(
                &self.field(0, 59),
                &self.field(0, 23),
                &self.field(1, 31),
                &self.field(1, 12),
                &self.field(0, 6),
            );
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
            let mut from =
                at(2024 + rng.next(4) as i32, 1 + rng.next(12), 1 + rng.next(28), rng.next(24), rng.next(60));
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
    fn brute_next_zoned(
        s: &Schedule,
        tz: &chrono_tz::Tz,
        after: DateTime<Utc>,
        limit_days: i64,
    ) -> Option<DateTime<Utc>> {
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
            let mut from =
                at(y, m, d, 0, 0).and_utc() - Duration::hours(36) + Duration::minutes(rng.next(48 * 60) as i64);
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
}
