//! The server's time zone as data: the list of its UTC-offset changes. The server builds
//! it once from the tz database (`from_tzdb`, feature `tzdb`) and hands the same list to
//! the web app (`schedule.zone`), so the scheduler and the browser's preview resolve
//! wall-clock times with the same rules and the same code, without the app carrying the
//! whole tz database (which would add some 200 KB to its download).
//!
//! [`Zone`] implements chrono's `TimeZone`, so `CronSpec::next_after` works with it as
//! with any zone.

use std::fmt;
use std::sync::Arc;

use chrono::{Duration, FixedOffset, MappedLocalTime, NaiveDate, NaiveDateTime, Offset, TimeZone};
use serde::{Deserialize, Serialize};

use crate::{method, Empty};

method!(
    /// The offset changes of the server's time zone, for computing schedules in the
    /// browser exactly as the scheduler does.
    Get = "schedule.zone", Empty => ZoneRules
);

/// A time zone: a name and its offset changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneRules {
    /// The IANA name, e.g. `Europe/Berlin`.
    pub name: String,
    /// Oldest first. The first entry also applies before its `at`; the last one from its
    /// `at` on for ever.
    pub changes: Vec<OffsetChange>,
}

/// From `at` on, local time is UTC + `offset`, abbreviated `abbreviation` (`CEST`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetChange {
    /// Unix seconds.
    pub at: i64,
    /// Seconds east of UTC.
    pub offset: i32,
    pub abbreviation: String,
}

/// A [`ZoneRules`] ready for date arithmetic (cheap to clone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone(Arc<ZoneRules>);

/// An offset of a [`Zone`]: which of its changes applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneOffset {
    zone: Zone,
    index: usize,
}

impl ZoneRules {
    /// UTC, with no changes.
    pub fn utc() -> ZoneRules {
        ZoneRules {
            name: "UTC".into(),
            changes: vec![OffsetChange { at: i64::MIN, offset: 0, abbreviation: "UTC".into() }],
        }
    }
}

impl Zone {
    /// Rules without changes are read as UTC; unsorted changes are sorted.
    pub fn new(mut rules: ZoneRules) -> Zone {
        if rules.changes.is_empty() {
            rules.changes = ZoneRules::utc().changes;
        }
        rules.changes.sort_by_key(|c| c.at);
        Zone(Arc::new(rules))
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }

    pub fn rules(&self) -> &ZoneRules {
        &self.0
    }

    /// The change in force at Unix second `t`.
    fn index_at(&self, t: i64) -> usize {
        self.0.changes.partition_point(|c| c.at <= t).saturating_sub(1)
    }

    fn offset(&self, index: usize) -> ZoneOffset {
        ZoneOffset { zone: self.clone(), index }
    }
}

impl ZoneOffset {
    fn change(&self) -> &OffsetChange {
        &self.zone.0.changes[self.index]
    }
}

impl Offset for ZoneOffset {
    fn fix(&self) -> FixedOffset {
        FixedOffset::east_opt(self.change().offset).unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"))
    }
}

impl fmt::Display for ZoneOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.change().abbreviation)
    }
}

impl TimeZone for Zone {
    type Offset = ZoneOffset;

    fn from_offset(offset: &ZoneOffset) -> Zone {
        offset.zone.clone()
    }

    fn offset_from_local_date(&self, local: &NaiveDate) -> MappedLocalTime<ZoneOffset> {
        self.offset_from_local_datetime(&local.and_hms_opt(0, 0, 0).expect("midnight exists"))
    }

    /// A wall-clock time is read with every change near it; each whose offset maps it
    /// back into that change's own span is a meaning of it: none in a gap, two in a
    /// repeated hour.
    fn offset_from_local_datetime(&self, local: &NaiveDateTime) -> MappedLocalTime<ZoneOffset> {
        let wall = local.and_utc().timestamp();
        let day = Duration::days(1).num_seconds();
        let (first, last) = (self.index_at(wall - day), self.index_at(wall + day));
        let mut meanings = (first..=last).filter(|&i| self.index_at(wall - self.0.changes[i].offset as i64) == i);
        match (meanings.next(), meanings.next()) {
            (None, _) => MappedLocalTime::None,
            (Some(i), None) => MappedLocalTime::Single(self.offset(i)),
            // Earlier change first: it is the earlier instant (the larger offset).
            (Some(i), Some(j)) => MappedLocalTime::Ambiguous(self.offset(i), self.offset(j)),
        }
    }

    fn offset_from_utc_date(&self, utc: &NaiveDate) -> ZoneOffset {
        self.offset_from_utc_datetime(&utc.and_hms_opt(0, 0, 0).expect("midnight exists"))
    }

    fn offset_from_utc_datetime(&self, utc: &NaiveDateTime) -> ZoneOffset {
        self.offset(self.index_at(utc.and_utc().timestamp()))
    }
}

/// The rules of an IANA zone from the tz database, from 1970 to 2100.
#[cfg(feature = "tzdb")]
pub fn from_tzdb(name: &str) -> Result<ZoneRules, String> {
    let tz: chrono_tz::Tz = name.parse().map_err(|_| format!("`{name}` is not a known IANA time zone"))?;
    let at = |t: i64| {
        let o = tz.offset_from_utc_datetime(&chrono::DateTime::from_timestamp(t, 0).expect("in range").naive_utc());
        (o.fix().local_minus_utc(), o.to_string())
    };
    let (start, end) = (0i64, 4_102_444_800i64); // 1970-01-01, 2100-01-01
    let first = at(start);
    let mut changes = vec![OffsetChange { at: i64::MIN, offset: first.0, abbreviation: first.1.clone() }];
    let mut previous = first;
    let mut t = start;
    // Offsets change at most every few weeks; step by 6 hours, then find the second.
    while t < end {
        let next = at(t + 6 * 3600);
        if next != previous {
            let (mut lo, mut hi) = (t, t + 6 * 3600);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if at(mid) == previous {
                    lo = mid
                } else {
                    hi = mid
                }
            }
            let now = at(hi);
            changes.push(OffsetChange { at: hi, offset: now.0, abbreviation: now.1.clone() });
            previous = now;
        }
        t += 6 * 3600;
    }
    Ok(ZoneRules { name: name.to_string(), changes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    #[test]
    fn agrees_with_the_tz_database_hour_by_hour() {
        for name in ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "America/Sao_Paulo"] {
            let zone = Zone::new(from_tzdb(name).unwrap());
            let tz: chrono_tz::Tz = name.parse().unwrap();
            let mut t = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
            while t.timestamp() < 1_893_456_000 {
                // Instants: the same offset and abbreviation.
                let (ours, theirs) = (t.with_timezone(&zone), t.with_timezone(&tz));
                assert_eq!(ours.offset().fix(), theirs.offset().fix(), "{name} {t}");
                assert_eq!(ours.format("%Z").to_string(), theirs.format("%Z").to_string(), "{name} {t}");
                // Wall-clock readings: the same meanings (gaps and repeats included).
                let wall = t.naive_utc();
                let (a, b) = (zone.from_local_datetime(&wall), tz.from_local_datetime(&wall));
                let utc = |r: MappedLocalTime<DateTime<Zone>>| r.map(|d| d.timestamp());
                assert_eq!(utc(a), b.map(|d| d.timestamp()), "{name} wall {wall}");
                t += Duration::minutes(30);
            }
        }
    }

    #[test]
    fn empty_rules_are_utc_and_rules_travel_as_json() {
        let zone = Zone::new(ZoneRules { name: "nowhere".into(), changes: vec![] });
        let t = DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(t.with_timezone(&zone).to_rfc3339(), "2026-06-01T12:00:00+00:00");
        let rules = from_tzdb("Europe/Berlin").unwrap();
        let back: ZoneRules = serde_json::from_str(&serde_json::to_string(&rules).unwrap()).unwrap();
        assert_eq!(back, rules);
        assert!(rules.changes.len() > 200 && rules.changes.len() < 400, "{}", rules.changes.len());
        assert!(from_tzdb("Mars/Base").is_err());
    }
}
