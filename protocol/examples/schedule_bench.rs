//! How fast the schedule arithmetic is, in the two places it runs: the scheduler
//! (next start of every task after a change) and the task form's live preview (parse,
//! describe and 25 starts on every keystroke, in WebAssembly; this measures the native
//! build, the browser is a few times slower).
//!
//! cargo run --release -p cloudsync-protocol --example schedule_bench

use std::time::Instant;

use chrono::{DateTime, Utc};
use protocol::schedule::{preview, CronSpec, PreviewParams, Zone};
use protocol::tasks::Schedule;
use protocol::zone::from_tzdb;

fn main() {
    let from: DateTime<Utc> = "2026-03-27T12:00:00Z".parse().unwrap();
    let t = Instant::now();
    let rules = from_tzdb("Europe/Berlin").unwrap();
    let built = t.elapsed();
    let json = serde_json::to_string(&rules).unwrap().len();
    let berlin = Zone::new(rules);
    let cases = [
        ("every 15 minutes", "*/15 * * * *"),
        ("daily 02:30 (DST gap)", "30 2 * * *"),
        ("monthly OR monday", "0 3 1 * mon"),
        ("29 February", "0 0 29 feb *"),
        ("weekdays 9-17 every 5", "*/5 9-17 * * mon-fri"),
    ];
    println!("{:<24} {:>14} {:>16} {:>18}", "schedule", "parse (µs)", "next start (µs)", "preview of 25 (µs)");
    let cases: Vec<(&str, Schedule)> = cases.iter().map(|(n, c)| (*n, Schedule::from_cron(c).unwrap())).collect();
    for (name, s) in &cases {
        let n = 2000;
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(CronSpec::parse(s).unwrap());
        }
        let parse = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        let spec = CronSpec::parse(s).unwrap();
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(spec.next_after(&berlin, from));
        }
        let next = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        let params = PreviewParams { schedule: s.clone(), count: Some(25), from: Some(from.to_rfc3339()) };
        let m = 200;
        let t = Instant::now();
        for _ in 0..m {
            std::hint::black_box(preview(&params, &berlin, from).unwrap());
        }
        let whole = t.elapsed().as_secs_f64() * 1e6 / m as f64;
        println!("{name:<24} {parse:>14.1} {next:>16.1} {whole:>18.1}");
    }
    println!(
        "zone rules for Europe/Berlin, 1970-2100: built from the tz database in {:.1} ms, {json} bytes as JSON",
        built.as_secs_f64() * 1e3
    );
    // The scheduler after a task change: parse and place every task.
    let tasks = 10_000;
    let t = Instant::now();
    for i in 0..tasks {
        let s = &cases[i % cases.len()].1;
        std::hint::black_box(CronSpec::parse(s).unwrap().next_after(&berlin, from));
    }
    println!("scheduler reload of {tasks} tasks: {:.1} ms of schedule arithmetic", t.elapsed().as_secs_f64() * 1e3);
}
