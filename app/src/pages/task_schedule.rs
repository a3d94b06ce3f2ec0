//! The schedule section of the task form: presets, the Advanced Scheduler (cron fields,
//! month and weekday boxes, the start window) and a live preview (the sentence, the
//! next 25 starts and a month calendar) computed here in WebAssembly by
//! `protocol::schedule`, the code the server's scheduler runs, in the server's zone (its
//! rules come once from `schedule.zone`).

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use leptos::prelude::*;
use protocol::schedule::{self, CronSpec, PreviewParams, SchedulePreview, MONTH_NAMES, WEEKDAYS, WEEKDAY_NAMES};
use protocol::tasks::Schedule;
use protocol::zone::{Zone, ZoneRules};
use protocol::Empty;

use crate::widgets::{FieldError, TextField};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Preset {
    Manual,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Custom,
}

/// Each preset with its value in the select and its cron fields.
const PRESETS: &[(Preset, &str, &str, [&str; 5])] = &[
    (Preset::Hourly, "hourly", "Hourly (at minute 0)", ["0", "*", "*", "*", "*"]),
    (Preset::Daily, "daily", "Daily (at 00:00)", ["0", "0", "*", "*", "*"]),
    (Preset::Weekly, "weekly", "Weekly (Sunday 00:00)", ["0", "0", "*", "*", "sun"]),
    (Preset::Monthly, "monthly", "Monthly (day 1, 00:00)", ["0", "0", "1", "*", "*"]),
];

/// The schedule as the form edits it. `schedule()` is what gets saved.
#[derive(Clone, Copy)]
pub struct ScheduleFields {
    preset: RwSignal<Preset>,
    minute: RwSignal<String>,
    hour: RwSignal<String>,
    dom: RwSignal<String>,
    months: RwSignal<[bool; 12]>,
    weekdays: RwSignal<[bool; 7]>,
    begin: RwSignal<String>,
    end: RwSignal<String>,
}

/// Checked boxes as a cron field: none or all checked is `*`.
fn boxes_to_field<const N: usize>(checked: &[bool; N], name: impl Fn(usize) -> String) -> String {
    let on: Vec<String> = (0..N).filter(|&i| checked[i]).map(name).collect();
    if on.is_empty() || on.len() == N {
        "*".into()
    } else {
        on.join(",")
    }
}

impl ScheduleFields {
    pub fn new(initial: Option<&Schedule>) -> Self {
        let s = initial.cloned().unwrap_or_default();
        let fields5 = [s.minute.as_str(), s.hour.as_str(), s.dom.as_str(), s.month.as_str(), s.dow.as_str()];
        let default_window = s.begin == "00:00" && s.end == "23:59";
        let preset = match initial {
            None => Preset::Manual,
            Some(_) => PRESETS
                .iter()
                .find(|(_, _, _, f)| *f == fields5 && default_window)
                .map_or(Preset::Custom, |(p, _, _, _)| *p),
        };
        let spec = CronSpec::parse(&s).ok();
        let mut months = [false; 12];
        let mut weekdays = [false; 7];
        if let Some(spec) = &spec {
            spec.months().iter().for_each(|&m| months[m as usize - 1] = true);
            spec.weekdays().iter().for_each(|&d| weekdays[d as usize] = true);
        }
        ScheduleFields {
            preset: RwSignal::new(preset),
            minute: RwSignal::new(s.minute),
            hour: RwSignal::new(s.hour),
            dom: RwSignal::new(s.dom),
            months: RwSignal::new(months),
            weekdays: RwSignal::new(weekdays),
            begin: RwSignal::new(s.begin),
            end: RwSignal::new(s.end),
        }
    }

    /// What the fields say, whatever the preset.
    fn raw(&self) -> Schedule {
        Schedule {
            minute: self.minute.get().trim().to_string(),
            hour: self.hour.get().trim().to_string(),
            dom: self.dom.get().trim().to_string(),
            month: boxes_to_field(&self.months.get(), |i| (i + 1).to_string()),
            dow: boxes_to_field(&self.weekdays.get(), |i| WEEKDAYS[i].to_string()),
            begin: self.begin.get().trim().to_string(),
            end: self.end.get().trim().to_string(),
        }
    }

    /// The schedule to save; `None` for manual runs only.
    pub fn schedule(&self) -> Option<Schedule> {
        (self.preset.get() != Preset::Manual).then(|| self.raw())
    }

    fn choose(&self, preset: Preset) {
        self.preset.set(preset);
        if let Some((_, _, _, f)) = PRESETS.iter().find(|(p, _, _, _)| *p == preset) {
            self.minute.set(f[0].into());
            self.hour.set(f[1].into());
            self.dom.set(f[2].into());
            let spec = CronSpec::parse(&Schedule::new(f[0], f[1], f[2], f[3], f[4])).expect("presets are valid");
            let mut weekdays = [false; 7];
            spec.weekdays().iter().for_each(|&d| weekdays[d as usize] = true);
            self.months.set([false; 12]);
            self.weekdays.set(weekdays);
            self.begin.set("00:00".into());
            self.end.set("23:59".into());
        }
    }
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(js_sys::Date::now() as i64).unwrap_or_default()
}

/// "Sat 2026-11-28 03:00" from an RFC 3339 time with offset.
fn show_time(rfc3339: &str) -> String {
    // By hand rather than with `format("%a …")`: chrono's strftime parser is ~8 KB of
    // WebAssembly for this one line.
    let Ok(t) = DateTime::parse_from_rfc3339(rfc3339) else { return String::new() };
    let day = &WEEKDAY_NAMES[t.weekday().num_days_from_sunday() as usize][..3];
    format!("{day} {:04}-{:02}-{:02} {:02}:{:02}", t.year(), t.month(), t.day(), t.hour(), t.minute())
}

#[component]
pub fn ScheduleEditor(fields: ScheduleFields) -> impl IntoView {
    let rules = crate::widgets::load::<protocol::zone::Get>(Empty {});
    let zone = Memo::new(move |_| rules.get().and_then(|r| r.ok()).map(Zone::new));
    // The preview lists starts after the moment the form opened.
    let from = StoredValue::new(now());
    let errors = Memo::new(move |_| match fields.preset.get() {
        Preset::Manual => Vec::new(),
        _ => CronSpec::parse(&fields.raw()).err().unwrap_or_default(),
    });
    let err = move |field: &'static str| {
        Signal::derive(move || errors.get().into_iter().find(|e| e.field == field).map(|e| e.message))
    };
    let preview = Memo::new(move |_| -> Option<Result<SchedulePreview, String>> {
        let schedule = fields.schedule()?;
        let zone = zone.get()?;
        let params = PreviewParams {
            schedule,
            count: Some(schedule::DEFAULT_PREVIEW),
            from: Some(schedule::rfc3339(&from.get_value())),
        };
        Some(schedule::preview(&params, &zone, from.get_value()).map_err(|e| {
            let fields: Vec<String> = e.iter().map(|e| e.field.trim_start_matches("schedule.").to_string()).collect();
            format!("No preview: fix {} above.", fields.join(", "))
        }))
    });
    let custom = move || fields.preset.get() == Preset::Custom;
    let preset_value = move || match fields.preset.get() {
        Preset::Manual => "manual",
        Preset::Custom => "custom",
        p => PRESETS.iter().find(|(q, _, _, _)| *q == p).map_or("custom", |(_, v, _, _)| *v),
    };
    let on_preset = move |ev| {
        let v = event_target_value(&ev);
        let preset = match v.as_str() {
            "manual" => Preset::Manual,
            "custom" => Preset::Custom,
            v => PRESETS.iter().find(|(_, q, _, _)| *q == v).map_or(Preset::Custom, |(p, _, _, _)| *p),
        };
        fields.choose(preset);
    };
    let text = move |label: &'static str,
                     value: RwSignal<String>,
                     testid: &'static str,
                     field: &'static str,
                     hint: &'static str| {
        view! { <TextField label value testid placeholder=hint error=err(field)/> }
    };
    view! {
        <fieldset data-testid="schedule-editor">
            <legend>"Schedule"</legend>
            <label>
                "Runs"
                <select data-testid="schedule-preset" prop:value=preset_value on:change=on_preset>
                    <option value="manual">"Manually only"</option>
                    {PRESETS.iter().map(|(_, v, label, _)| view! { <option value=*v>{*label}</option> }).collect_view()}
                    <option value="custom">"Custom (advanced scheduler)"</option>
                </select>
            </label>
            <Show when=custom>
                <div class="row">
                    {text("Minutes", fields.minute, "schedule-minute", "minute", "0-59, */15, 0,30")}
                    {text("Hours", fields.hour, "schedule-hour", "hour", "0-23, */2, 9-17")}
                    {text("Days of month", fields.dom, "schedule-dom", "dom", "1-31, */2, 1,15")}
                </div>
                <div class="boxes" data-testid="schedule-months">
                    <span class="small">"Months (none or all: every month)"</span>
                    {(0..12).map(|i| view! {
                        <label class="check">
                            <input type="checkbox" data-testid=format!("schedule-month-{}", i + 1)
                                prop:checked=move || fields.months.get()[i]
                                on:change=move |ev| { let on = event_target_checked(&ev); fields.months.update(|m| m[i] = on); }/>
                            {&MONTH_NAMES[i][..3]}
                        </label>
                    }).collect_view()}
                </div>
                <div class="boxes" data-testid="schedule-weekdays">
                    <span class="small">"Days of week (none or all: every day)"</span>
                    {[1usize, 2, 3, 4, 5, 6, 0].into_iter().map(|i| view! {
                        <label class="check">
                            <input type="checkbox" data-testid=format!("schedule-dow-{}", WEEKDAYS[i])
                                prop:checked=move || fields.weekdays.get()[i]
                                on:change=move |ev| { let on = event_target_checked(&ev); fields.weekdays.update(|d| d[i] = on); }/>
                            {&WEEKDAY_NAMES[i][..3]}
                        </label>
                    }).collect_view()}
                </div>
                <div class="row">
                    <label>
                        "Start no earlier than"
                        <input type="time" data-testid="schedule-begin" prop:value=move || fields.begin.get() on:input=move |ev| fields.begin.set(event_target_value(&ev))/>
                        <FieldError error=err("begin")/>
                    </label>
                    <label>
                        "Start no later than"
                        <input type="time" data-testid="schedule-end" prop:value=move || fields.end.get() on:input=move |ev| fields.end.set(event_target_value(&ev))/>
                        <FieldError error=err("end")/>
                    </label>
                </div>
                <p class="muted small">"A run that is still going at the end of the window keeps running."</p>
            </Show>
            {move || preview.get().map(|p| view! { <Preview preview=p zone=zone.get().unwrap_or_else(|| Zone::new(ZoneRules::utc())) fields=fields from=from.get_value()/> })}
        </fieldset>
    }
}

#[component]
fn Preview(
    preview: Result<SchedulePreview, String>,
    zone: Zone,
    fields: ScheduleFields,
    from: DateTime<Utc>,
) -> impl IntoView {
    let p = match preview {
        Err(why) => return view! { <p class="error small" data-testid="schedule-preview-empty">{why}</p> }.into_any(),
        Ok(p) => p,
    };
    let none = p.runs.is_empty();
    view! {
        <div class="schedule-preview" data-testid="schedule-preview" data-from=schedule::rfc3339(&from)>
            <p data-testid="schedule-description"><strong>{p.description.clone()}</strong></p>
            {p.days_combine_with_or.then(|| view! {
                <p class="warning small" data-testid="schedule-or-note">
                    "Both days of month and days of week are set: as in cron, a day matches if either matches."
                </p>
            })}
            <p class="muted small" data-testid="schedule-zone">{format!("Times in the server's time zone: {}", zone.name())}</p>
            <div class="row">
                <div>
                    {none.then(|| view! { <p class="warning small">"This schedule never starts (no such date before 2100)."</p> })}
                    <ol class="next-runs" data-testid="schedule-runs">
                        {p.runs.iter().map(|r| view! { <li data-at=r.clone() title=r.clone()>{show_time(r)}</li> }).collect_view()}
                    </ol>
                </div>
                <Calendar fields=fields zone=zone from=from/>
            </div>
        </div>
    }
    .into_any()
}

/// A month with the days on which a run starts highlighted; arrows change the month.
#[component]
fn Calendar(fields: ScheduleFields, zone: Zone, from: DateTime<Utc>) -> impl IntoView {
    let today = from.with_timezone(&zone).date_naive();
    let month = RwSignal::new((today.year(), today.month()));
    let step = move |delta: i32| {
        month.update(|(y, m)| {
            let index = *y * 12 + *m as i32 - 1 + delta;
            *y = index.div_euclid(12);
            *m = index.rem_euclid(12) as u32 + 1;
        })
    };
    let grid = move || {
        let (y, m) = month.get();
        let run_days =
            fields.schedule().and_then(|s| CronSpec::parse(&s).ok()).map(|s| s.run_days(y, m)).unwrap_or_default();
        let first = NaiveDate::from_ymd_opt(y, m, 1).expect("valid month");
        let blanks = first.weekday().num_days_from_monday();
        let days: Vec<NaiveDate> = first.iter_days().take_while(|d| d.month() == m).collect();
        view! {
            {(0..blanks).map(|_| view! { <span></span> }).collect_view()}
            {days.into_iter().map(|d| {
                let runs = run_days.contains(&d.day()) && d >= today;
                let class = match (runs, d < today) { (true, _) => "run", (false, true) => "past", _ => "" };
                view! { <span class=class data-run=runs.to_string() data-testid="calendar-day">{d.day()}</span> }
            }).collect_view()}
        }
    };
    view! {
        <div class="calendar" data-testid="schedule-calendar">
            <div class="calendar-head">
                <button type="button" class="link" on:click=move |_| step(-1) aria-label="previous month">"‹"</button>
                <span data-testid="calendar-month">{move || { let (y, m) = month.get(); format!("{} {y}", MONTH_NAMES[m as usize - 1]) }}</span>
                <button type="button" class="link" on:click=move |_| step(1) aria-label="next month">"›"</button>
            </div>
            <div class="calendar-grid">
                {["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"].map(|d| view! { <b>{d}</b> }).collect_view()}
                {grid}
            </div>
        </div>
    }
}
