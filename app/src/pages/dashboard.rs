//! The dashboard, the first page after login: tasks that need attention first, runs
//! going and waiting (live), the next starts, and two charts drawn here in SVG: bytes
//! per day over 30 days, and runs per day by how they ended.

use leptos::prelude::*;
use protocol::credentials::CredentialState;
use protocol::runs::{Daily, DailyParams, DayStats, RunState};
use protocol::tasks::{List, SyncTask};
use protocol::units::human_bytes;
use protocol::Empty;

use crate::widgets::Reload;

/// Why a task needs a look, if it does; `reconnect` names the credentials whose login
/// the provider refused.
fn attention(t: &SyncTask, reconnect: &[(i64, String)]) -> Option<String> {
    if let Some((_, name)) = reconnect.iter().find(|(id, _)| *id == t.credentials) {
        return Some(format!(
            "credential “{name}” needs reconnect: log in to the provider again on the Credentials page"
        ));
    }
    match &t.last_run {
        Some(r) if matches!(r.state, RunState::Failed | RunState::Interrupted) => {
            Some(format!("last run {}: {}", r.state.as_str(), r.error.clone().unwrap_or_default()))
        }
        None if t.enabled && t.schedule.is_some() => Some("scheduled but never run yet".into()),
        _ if !t.enabled && t.schedule.is_some() => Some("disabled, so its schedule does not run".into()),
        _ => None,
    }
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    let reload = Reload::new();
    let tasks = reload.call::<List>(|| Empty {});
    let credentials = reload.call::<protocol::credentials::List>(|| Empty {});
    let days = reload.call::<Daily>(|| DailyParams { days: Some(30) });
    let live = RwSignal::new(std::collections::HashMap::<i64, protocol::runs::Progress>::new());
    crate::live::use_run_events(
        move |_| reload.now(),
        move |p| {
            live.update(|m| {
                m.insert(p.task_id, p.progress);
            })
        },
    );
    view! {
        <section data-testid="page-dashboard">
            <h2>"Dashboard"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let reconnect: Vec<(i64, String)> = credentials.await.unwrap_or_default().into_iter()
                        .filter(|c| c.state == CredentialState::NeedsReconnect)
                        .map(|c| (c.id, c.name))
                        .collect();
                    match tasks.await {
                        Err(e) => view! { <p class="error">{e.message}</p> }.into_any(),
                        Ok(list) => view! { <Overview tasks=list reconnect live/> }.into_any(),
                    }
                })}
                {move || Suspend::new(async move {
                    match days.await {
                        Err(e) => view! { <p class="error">{e.message}</p> }.into_any(),
                        Ok(d) => view! {
                            <div class="charts">
                                <BytesChart days=d.clone()/>
                                <RunsChart days=d/>
                            </div>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Overview(
    tasks: Vec<SyncTask>,
    reconnect: Vec<(i64, String)>,
    live: RwSignal<std::collections::HashMap<i64, protocol::runs::Progress>>,
) -> impl IntoView {
    let needing: Vec<(SyncTask, String)> =
        tasks.iter().filter_map(|t| attention(t, &reconnect).map(|why| (t.clone(), why))).collect();
    let active: Vec<SyncTask> =
        tasks.iter().filter(|t| t.last_run.as_ref().is_some_and(|r| r.state.is_active())).cloned().collect();
    let mut next: Vec<SyncTask> = tasks.iter().filter(|t| t.next_run.is_some()).cloned().collect();
    next.sort_by(|a, b| a.next_run.cmp(&b.next_run));
    next.truncate(5);
    let healthy = tasks.len() - needing.len();
    view! {
        <div class="card" data-testid="dash-attention">
            <h3>"Needs attention"</h3>
            {if needing.is_empty() {
                view! { <p class="ok small" data-testid="dash-all-well">{format!("All {} task(s) are fine.", tasks.len())}</p> }.into_any()
            } else {
                view! {
                    <ul>
                        {needing.into_iter().map(|(t, why)| view! {
                            <li data-testid="dash-attention-task" data-name=t.description.clone()>
                                <a href=t.last_run.as_ref().map_or("/tasks".to_string(), |r| format!("/runs?run={}", r.id))>
                                    <strong>{t.description.clone()}</strong>
                                </a>
                                " " <span class="small error">{why}</span>
                            </li>
                        }).collect_view()}
                    </ul>
                    <p class="muted small">{format!("{healthy} other task(s) are fine.")}</p>
                }.into_any()
            }}
        </div>
        <div class="card" data-testid="dash-active">
            <h3>"Running and waiting"</h3>
            {if active.is_empty() {
                view! { <p class="muted small">"Nothing is running."</p> }.into_any()
            } else {
                active.into_iter().map(|t| {
                    let id = t.id;
                    let state = t.last_run.as_ref().map_or("", |r| r.state.as_str());
                    view! {
                        <p data-testid="dash-active-task">
                            <strong>{t.description.clone()}</strong> " " <span class="badge wait">{state}</span>
                            {move || live.get().get(&id).map(|p| format!(" {:.0}% · {}/s", p.percent, human_bytes(p.speed)))}
                        </p>
                    }
                }).collect_view().into_any()
            }}
        </div>
        <div class="card" data-testid="dash-next">
            <h3>"Next starts"</h3>
            {if next.is_empty() {
                view! { <p class="muted small">"No scheduled starts."</p> }.into_any()
            } else {
                view! {
                    <ul class="small">
                        {next.into_iter().map(|t| view! {
                            <li>{t.next_run.unwrap_or_default().chars().take(16).collect::<String>().replace('T', " ")} " · " {t.description}</li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </div>
    }
}

/// Chart geometry: `n` bars across a 300 × 100 view box.
const W: f64 = 300.0;
const H: f64 = 100.0;

fn bar_x(i: usize, n: usize) -> (f64, f64) {
    let slot = W / n.max(1) as f64;
    (i as f64 * slot + slot * 0.1, slot * 0.8)
}

#[component]
fn BytesChart(days: Vec<DayStats>) -> impl IntoView {
    let max = days.iter().map(|d| d.bytes).max().unwrap_or(0).max(1) as f64;
    let total: u64 = days.iter().map(|d| d.bytes).sum();
    let n = days.len();
    view! {
        <figure class="card chart" data-testid="chart-bytes">
            <figcaption>{format!("Transferred per day, last {n} days ({} in all)", human_bytes(total as f64))}</figcaption>
            <svg viewBox=format!("0 0 {W} {H}") preserveAspectRatio="none" role="img" aria-label="bytes transferred per day">
                {days.into_iter().enumerate().map(|(i, d)| {
                    let (x, w) = bar_x(i, n);
                    let h = d.bytes as f64 / max * (H - 2.0);
                    view! {
                        <rect class="bar-bytes" x=x y=H - h width=w height=h data-day=d.day.clone()>
                            <title>{format!("{}: {}", d.day, human_bytes(d.bytes as f64))}</title>
                        </rect>
                    }
                }).collect_view()}
            </svg>
        </figure>
    }
}

#[component]
fn RunsChart(days: Vec<DayStats>) -> impl IntoView {
    let max = days.iter().map(|d| d.succeeded + d.failed + d.aborted).max().unwrap_or(0).max(1) as f64;
    let n = days.len();
    view! {
        <figure class="card chart" data-testid="chart-runs">
            <figcaption>
                "Runs per day: " <span class="key ok">"succeeded"</span> " " <span class="key bad">"failed"</span> " "
                <span class="key muted">"stopped"</span>
            </figcaption>
            <svg viewBox=format!("0 0 {W} {H}") preserveAspectRatio="none" role="img" aria-label="runs per day by state">
                {days.into_iter().enumerate().map(|(i, d)| {
                    let (x, w) = bar_x(i, n);
                    let scale = |c: u32| c as f64 / max * (H - 2.0);
                    let (ok, bad, stopped) = (scale(d.succeeded), scale(d.failed), scale(d.aborted));
                    let title = format!("{}: {} succeeded, {} failed, {} stopped", d.day, d.succeeded, d.failed, d.aborted);
                    view! {
                        <g data-day=d.day.clone()>
                            <title>{title}</title>
                            <rect class="bar-ok" x=x y=H - ok width=w height=ok/>
                            <rect class="bar-bad" x=x y=H - ok - bad width=w height=bad/>
                            <rect class="bar-stopped" x=x y=H - ok - bad - stopped width=w height=stopped/>
                        </g>
                    }
                }).collect_view()}
            </svg>
        </figure>
    }
}
