//! Reading a schedule's fields: each into a bit mask of allowed values (errors name the
//! field and the bad part), then into the `cron` crate's seconds-first expressions, one
//! or two (the POSIX OR of the day fields).

use super::{values, CronSpec, MONTHS, WEEKDAYS};
use crate::tasks::Schedule;
use crate::FieldError;

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

pub(super) fn hhmm(s: &str) -> Result<u32, String> {
    crate::tasks::parse_hhmm(s)
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
}
