//! The Runs page: the history of runs across tasks, and a run's log, which follows the
//! end while the run is active unless the user scrolls up, with a level filter, a text
//! search and a download.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use protocol::credentials::IdParams;
use protocol::runs::{Download, List, ListParams, Log, LogLine, LogParams, Run, RunState};
use protocol::tasks;
use protocol::Empty;

use crate::live::LOG_PAGE;
use crate::rpc;
use crate::widgets::{call_then, ListView, Reload};
use protocol::units::{human_bytes, human_duration};

#[component]
pub fn RunsPage() -> impl IntoView {
    let reload = Reload::new();
    let query = use_query_map();
    // The filters start from the address (`?state=FAILED&task=3`), so other pages can link here.
    let state_filter = RwSignal::new(query.with_untracked(|q| q.get("state").and_then(|s| RunState::parse(&s))));
    let task_filter = RwSignal::new(query.with_untracked(|q| q.get("task").and_then(|t| t.parse::<i64>().ok())));
    let runs = reload.call::<List>(move || ListParams {
        task_id: task_filter.get(),
        state: state_filter.get(),
        limit: Some(100),
        before: None,
    });
    crate::live::use_run_events(move |_| reload.now(), |_| {});
    let task_names = crate::widgets::load::<tasks::List>(Empty {});
    let selected = Memo::new(move |_| query.with(|q| q.get("run").and_then(|v| v.parse::<i64>().ok())));
    const STATES: [RunState; 6] = [
        RunState::Failed,
        RunState::Interrupted,
        RunState::Aborted,
        RunState::Success,
        RunState::Running,
        RunState::Queued,
    ];

    view! {
        <section data-testid="page-runs">
            <h2>"Runs"</h2>
            {move || selected.get().map(|id| view! { <RunLog id=id/> })}
            <div class="filters">
                <label>"State "
                    <select data-testid="run-filter-state"
                        prop:value=move || state_filter.get().map_or("", |s| s.as_str())
                        on:change=move |ev| state_filter.set(RunState::parse(&event_target_value(&ev)))>
                        <option value="">"any"</option>
                        {STATES.into_iter().map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
                    </select>
                </label>
                <label>" Task "
                    <select data-testid="run-filter-task"
                        prop:value=move || task_filter.get().map(|t| t.to_string()).unwrap_or_default()
                        on:change=move |ev| task_filter.set(event_target_value(&ev).parse().ok())>
                        <option value="">"any"</option>
                        <Suspense>
                            {move || task_names.get().map(|list| list.unwrap_or_default().into_iter().map(|t| view! {
                                <option value=t.id.to_string() selected=move || task_filter.get() == Some(t.id)>{t.description}</option>
                            }).collect_view())}
                        </Suspense>
                    </select>
                </label>
            </div>
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
                        <thead><tr><th>"Run"</th><th>"Task"</th><th>"State"</th><th>"Started"</th><th>"Duration"</th><th>"Transferred"</th><th>"Average speed"</th></tr></thead>
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
    let duration = run.duration_seconds().map(human_duration).unwrap_or_else(|| "—".into());
    let speed = run.average_speed().map(|v| format!("{}/s", human_bytes(v))).unwrap_or_else(|| "—".into());
    // A dry run moved nothing: its stats say what a run would have done.
    let moved = run
        .stats
        .as_ref()
        .map(|s| match run.dry_run {
            true => {
                format!("would copy {} file(s), {}; delete {}", s.transfers, human_bytes(s.bytes as f64), s.deletes)
            }
            false => human_bytes(s.bytes as f64),
        })
        .unwrap_or_default();
    view! {
        <tr data-testid="run-row">
            <td data-label="Run"><a href=format!("/runs?run={}", run.id) data-testid="run-open">{format!("#{}", run.id)}</a></td>
            <td data-label="Task">{task}</td>
            <td data-label="State">
                <span class=class>{run.state.as_str()}</span>
                {run.dry_run.then(|| view! { <span class="badge">"dry run"</span> })}
                {run.retry_of.map(|first| view! {
                    <a class="badge" data-testid="run-retry-of" href=format!("/runs?run={first}")>{format!("retry of #{first}")}</a>
                })}
                {run.error.map(|e| view! { <div class="small error">{e}</div> })}
            </td>
            <td data-label="Started">{run.started_at.unwrap_or_else(|| "—".into()).chars().take(19).collect::<String>().replace('T', " ")}</td>
            <td data-label="Duration" data-testid="run-duration">{duration}</td>
            <td data-label="Transferred">{moved}</td>
            <td data-label="Average speed" data-testid="run-speed">{speed}</td>
        </tr>
    }
}

/// A run's log, streamed by `run.follow` (the last lines, then live ones), with earlier
/// lines paged back from the store, search in the database, and a download the server
/// streams.
#[component]
fn RunLog(id: i64) -> impl IntoView {
    let lines = RwSignal::new(Vec::<LogLine>::new());
    let run = RwSignal::new(None::<Run>);
    let live_progress = RwSignal::new(None::<protocol::runs::Progress>);
    let level = RwSignal::new(String::from("all"));
    let search = RwSignal::new(String::new());
    // Lines containing the search text, from the server; `None` when not searching.
    let found = RwSignal::new(None::<Result<Vec<LogLine>, String>>);
    let follow = RwSignal::new(true);
    let error = RwSignal::new(None::<String>);
    crate::live::follow_run(id, lines, run, live_progress, follow.into());
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
    let run_search = move || {
        let query = search.get_untracked().trim().to_string();
        if query.is_empty() {
            return found.set(None);
        }
        let params = LogParams { id, after_seq: 0, before_seq: None, query: Some(query), limit: Some(LOG_PAGE) };
        leptos::task::spawn_local(async move {
            found.set(Some(rpc::call::<Log>(params).await.map_err(|e| e.to_string())));
        });
    };
    let earlier = move |_| {
        let Some(first) = lines.with_untracked(|l| l.first().map(|x| x.seq)) else { return };
        follow.set(false);
        let params = LogParams { id, after_seq: 0, before_seq: Some(first), query: None, limit: Some(LOG_PAGE) };
        call_then::<Log>(params, error, move |older| {
            lines.update(|l| {
                l.splice(0..0, older);
            })
        });
    };
    let has_earlier = move || found.with(Option::is_none) && lines.with(|l| l.first().is_some_and(|x| x.seq > 1));
    let visible = move || {
        let lvl = level.get();
        let keep = |x: &&LogLine| lvl == "all" || x.level.as_str() == lvl;
        match found.get() {
            Some(Ok(hits)) => hits.iter().filter(keep).cloned().collect::<Vec<_>>(),
            Some(Err(_)) => Vec::new(),
            None => lines.with(|l| l.iter().filter(keep).cloned().collect::<Vec<_>>()),
        }
    };
    let search_note = move || {
        found.get().map(|f| match f {
            Ok(hits) if hits.len() as u32 >= LOG_PAGE => format!("The first {LOG_PAGE} lines that contain it."),
            Ok(hits) => format!("{} line(s) contain it.", hits.len()),
            Err(e) => e,
        })
    };
    let download = move |_| {
        call_then::<Download>(IdParams { id }, error, move |d| {
            let link: Result<web_sys::HtmlAnchorElement, _> =
                document().create_element("a").map(wasm_bindgen::JsCast::unchecked_into);
            if let Ok(a) = link {
                a.set_href(&d.url);
                a.set_download(&format!("cloudsync-run-{id}.log"));
                a.click();
            }
        });
    };
    view! {
        <div class="card log" data-testid="run-log">
            <div class="heading">
                <h3>{format!("Run #{id}")}</h3>
                <span data-testid="run-state">{move || run.get().map(|r| r.state.as_str().to_string()).unwrap_or_default()}</span>
            </div>
            {move || live_progress.get().filter(|_| run.get().is_some_and(|r| r.state.is_active())).or_else(|| run.get().and_then(|r| r.stats)).map(|s| view! {
                <p class="small muted" data-testid="run-stats">
                    {format!("{} of {} · {} of {} files · {} checks · {} deletes · {} errors{}",
                        human_bytes(s.bytes as f64), human_bytes(s.total_bytes as f64), s.transfers, s.total_transfers, s.checks, s.deletes, s.errors,
                        match (s.verified, s.differences) {
                            (Some(v), Some(d)) => format!(" · verified: {v} identical, {d} different"),
                            _ => String::new(),
                        })}
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
                <input placeholder="Search the whole log (Enter)" data-testid="log-search" prop:value=move || search.get()
                    on:input=move |ev| { search.set(event_target_value(&ev)); if search.get_untracked().trim().is_empty() { found.set(None); } }
                    on:change=move |_| run_search()/>
            </div>
            {move || search_note().map(|n| view! {
                <p class="small muted" data-testid="log-search-note">{n}" "
                    <button type="button" class="link" on:click=move |_| { search.set(String::new()); found.set(None); }>"Back to the log"</button>
                </p>
            })}
            <Show when=has_earlier>
                <button type="button" class="link small" data-testid="log-earlier" on:click=earlier>"Load earlier lines"</button>
            </Show>
            <div class="log-lines" node_ref=log_box on:scroll=on_scroll data-testid="log-lines">
                <For each=visible key=|l| l.seq let:l>
                    <div class=format!("line {}", l.level)>
                        <span class="seq">{l.seq}</span>" "
                        <span class="lvl">{l.level.as_str()}</span>" "
                        <span class="msg">{l.message.clone()}</span>
                    </div>
                </For>
            </div>
            {move || error.get().map(|e| view! { <p class="error small">{e}</p> })}
            <div class="buttons">
                <button type="button" on:click=download data-testid="log-download">"Download log"</button>
                <a href="/runs" class="small">"Close"</a>
            </div>
        </div>
    }
}
