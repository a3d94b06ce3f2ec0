//! The schedule tables: every syntax form and error, windows, descriptions, calendars,
//! previews and the daylight-saving cases; `oracle` holds the property tests.

mod oracle;

use super::*;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};

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
        assert!(CronSpec::parse(&sched(minute, hour, dom, month, dow)).is_ok(), "{minute} {hour} {dom} {month} {dow}");
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
    let fields: Vec<String> = preview(&bad, &berlin(), Utc::now()).unwrap_err().into_iter().map(|e| e.field).collect();
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
