//! A schedule in words ("At 03:00, on day 1 of the month and on Monday"), as the task
//! list and the preview show it.

use super::{values, CronSpec, MONTH_NAMES, WEEKDAY_NAMES};

impl CronSpec {
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
