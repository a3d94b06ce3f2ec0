//! The Runs page: the history of runs across tasks, and a run's log, which follows the
//! end while the run is active unless the user scrolls up, with a level filter, a text
//! search and a download.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use protocol::runs::{List, ListParams, LogLine, Run, RunState};
use protocol::tasks;
use protocol::Empty;

use crate::rpc;
use crate::widgets::{ListView, Reload};
use protocol::units::human_bytes;

#[component]
pub fn RunsPage() -> impl IntoView {
    let reload = Reload::new();
    let runs = reload.call::<List>(|| ListParams { task_id: None, limit: Some(100), before: None });
    crate::live::use_run_events(move |_| reload.now(), |_| {});
    let task_names = LocalResource::new(|| rpc::call::<tasks::List>(Empty {}));
    let query = use_query_map();
    let selected = Memo::new(move |_| query.with(|q| q.get("run").and_then(|v| v.parse::<i64>().ok())));

    view! {
        <section data-testid="page-runs">
            <h2>"Runs"</h2>
            {move || selected.get().map(|id| view! { <RunLog id=id/> })}
            <ListView
                items=move || async move {
                    let names = task_names.await.unwrap_or_default();
                    Ok(runs.await?.into_iter().map(|r| {
                        let task = names.iter().find(|t| t.id == r.task_id).map(|t| t.description.clone());
                        (task.unwrap_or_else(|| format!("task {}", r.task_id)), r)
                    }).collect::<Vec<_>>())
                }
                empty=|| view! { <p class="muted" data-testid="no-runs">"No runs yet."</p> }
                list=|list| view! {
                    <table class="list" data-testid="run-list">
                        <thead><tr><th>"Run"</th><th>"Task"</th><th>"State"</th><th>"Started"</th><th>"Transferred"</th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|(task, r)| view! { <RunRow run=r task=task/> }).collect_view()}
                        </tbody>
                    </table>
                }/>
        </section>
    }
}

/// The badge style of a run state.
pub fn state_class(state: RunState) -> &'static str {
    match state {
        RunState::Success => "badge ok",
        RunState::Queued | RunState::Running => "badge wait",
        _ => "badge bad",
    }
}

#[component]
fn RunRow(run: Run, task: String) -> impl IntoView {
    let class = state_class(run.state);
    let moved = run.stats.as_ref().map(|s| human_bytes(s.bytes as f64)).unwrap_or_default();
    view! {
        <tr data-testid="run-row">
            <td data-label="Run"><a href=format!("/runs?run={}", run.id) data-testid="run-open">{format!("#{}", run.id)}</a></td>
            <td data-label="Task">{task}</td>
            <td data-label="State">
                <span class=class>{run.state.as_str()}</span>
                {run.dry_run.then(|| view! { <span class="badge">"dry run"</span> })}
                {run.error.map(|e| view! { <div class="small error">{e}</div> })}
            </td>
            <td data-label="Started">{run.started_at.unwrap_or_else(|| "—".into()).chars().take(19).collect::<String>().replace('T', " ")}</td>
            <td data-label="Transferred">{moved}</td>
        </tr>
    }
}

/// A run's log, streamed by `run.follow` (stored lines, then live ones).
#[component]
fn RunLog(id: i64) -> impl IntoView {
    let lines = RwSignal::new(Vec::<LogLine>::new());
    let run = RwSignal::new(None::<Run>);
    let live_progress = RwSignal::new(None::<protocol::runs::Progress>);
    let level = RwSignal::new(String::from("all"));
    let search = RwSignal::new(String::new());
    let follow = RwSignal::new(true);
    crate::live::follow_run(id, lines, run, live_progress);
    let log_box = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        lines.track();
        if follow.get_untracked() {
            if let Some(el) = log_box.get() {
                el.set_scroll_top(el.scroll_height());
            }
        }
    });
    let on_scroll = move |_| {
        if let Some(el) = log_box.get() {
            follow.set(el.scroll_top() + el.client_height() >= el.scroll_height() - 8);
        }
    };
    let visible = move || {
        let lvl = level.get();
        let needle = search.get().to_lowercase();
        lines.with(|l| {
            l.iter()
                .filter(|x| lvl == "all" || x.level.as_str() == lvl)
                .filter(|x| needle.is_empty() || x.message.to_lowercase().contains(&needle))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let download = move |_| {
        let text: String = lines
            .with(|l| l.iter().map(|x| format!("{} {:7} {:8} {}\n", x.at, x.level, x.source, x.message)).collect());
        let _ = super::system_backup::save_file_with_type(&format!("cloudsync-run-{id}.log"), &text, "text/plain");
    };
    view! {
        <div class="card log" data-testid="run-log">
            <div class="heading">
                <h3>{format!("Run #{id}")}</h3>
                <span data-testid="run-state">{move || run.get().map(|r| r.state.as_str().to_string()).unwrap_or_default()}</span>
            </div>
            {move || live_progress.get().filter(|_| run.get().is_some_and(|r| r.state.is_active())).or_else(|| run.get().and_then(|r| r.stats)).map(|s| view! {
                <p class="small muted" data-testid="run-stats">
                    {format!("{} of {} · {} of {} files · {} checks · {} deletes · {} errors",
                        human_bytes(s.bytes as f64), human_bytes(s.total_bytes as f64), s.transfers, s.total_transfers, s.checks, s.deletes, s.errors)}
                </p>
            })}
            <div class="row log-tools">
                <select prop:value=move || level.get() on:change=move |ev| level.set(event_target_value(&ev)) data-testid="log-level">
                    <option value="all">"All levels"</option>
                    <option value="error">"Errors"</option>
                    <option value="warning">"Warnings"</option>
                    <option value="notice">"Notices"</option>
                    <option value="info">"Info"</option>
                </select>
                <input placeholder="Search the log" data-testid="log-search" prop:value=move || search.get() on:input=move |ev| search.set(event_target_value(&ev))/>
            </div>
            <div class="log-lines" node_ref=log_box on:scroll=on_scroll data-testid="log-lines">
                <For each=visible key=|l| l.seq let:l>
                    <div class=format!("line {}", l.level)>
                        <span class="seq">{l.seq}</span>" "
                        <span class="lvl">{l.level.as_str()}</span>" "
                        <span class="msg">{l.message.clone()}</span>
                    </div>
                </For>
            </div>
            <div class="buttons">
                <button type="button" on:click=download data-testid="log-download">"Download log"</button>
                <a href="/runs" class="small">"Close"</a>
            </div>
        </div>
    }
}
