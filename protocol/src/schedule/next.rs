//! When a schedule starts next: the matching wall-clock minute inside the begin/end
//! window (`next_wall_after`), then that minute as a moment in a zone with cronie's
//! daylight-saving rules (`next_after`).

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

use super::CronSpec;

impl CronSpec {
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
