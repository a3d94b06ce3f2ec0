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
//!
//! Laid out by stage: `parse` reads the fields into bit masks and cron schedules,
//! `next` finds start times (windows, zones), `describe` puts a schedule into words;
//! `tests` has the tables and, in `tests::oracle`, the property tests against an
//! independent reference matcher.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::tasks::Schedule;
use crate::{method, FieldError};

pub use crate::zone::Zone;

mod describe;
mod next;
mod parse;
#[cfg(test)]
mod tests;

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

impl CronSpec {
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
}

/// The values set in a mask, smallest first.
fn values(mask: u64) -> Vec<u32> {
    (0..64).filter(|v| mask & (1 << v) != 0).collect()
}
