//! The Tasks page: cloud sync tasks with their direction, mode and places, each task's
//! last run (live progress) and next run, and the buttons that run, stop, preview
//! (`task_plan`), edit, restore and delete them; the form is `task_form`.

use leptos::prelude::*;
use protocol::credentials::{self, IdParams};
use protocol::runs::{Abort, Recent, RecentParams, Run, RunParams, RunPoint, RunState, RunTask};
use protocol::tasks::{Delete, Direction, List, RemoteLocation, Restore, RestoreParams, SyncTask, TransferMode};
use protocol::units::{human_bytes, human_duration};
use protocol::Empty;

use super::task_form::task_editor;
use super::task_plan::PlanView;
use crate::widgets::{call_then, ListView, Reload, Sparkline};

#[component]
pub fn TasksPage() -> impl IntoView {
    let reload = Reload::new();
    let tasks = reload.call::<List>(|| Empty {});
    let creds = reload.call::<credentials::List>(|| Empty {});
    let recent = reload.call::<Recent>(|| RecentParams { per_task: Some(20) });
    // Live: a state change reloads the list; progress updates the bars in place.
    let live = RwSignal::new(std::collections::HashMap::<i64, protocol::runs::Progress>::new());
    crate::live::use_run_events(
        move |s| {
            live.update(|m| {
                m.remove(&s.task_id);
            });
            reload.now();
        },
        move |p| {
            live.update(|m| {
                m.insert(p.task_id, p.progress);
            })
        },
    );
    // Events sent while the socket was down are gone: reload after every reconnect.
    let session = crate::use_session();
    let was_open = StoredValue::new(true);
    Effect::new(move |_| {
        let open = session.connection.get() == crate::rpc::ConnectionState::Open;
        if open && !was_open.get_value() {
            reload.now();
        }
        was_open.set_value(open);
    });
    // A slow safety net while a run is active (state events are delivered in order,
    // progress snapshots may be skipped); a missed event costs seconds, never a stale page.
    let any_active = RwSignal::new(false);
    if let Ok(handle) = set_interval_with_handle(
        move || {
            if any_active.get_untracked() {
                reload.now();
            }
        },
        std::time::Duration::from_secs(10),
    ) {
        on_cleanup(move || handle.clear());
    }
    let editing = RwSignal::new(None::<Option<SyncTask>>);
    let notice = RwSignal::new(None::<String>);
    let done = move |m: Option<String>| {
        editing.set(None);
        notice.set(m);
        reload.now();
    };

    view! {
        <section data-testid="page-tasks">
            <div class="heading">
                <h2>"Cloud sync tasks"</h2>
                <button class="primary inline" data-testid="add-task" on:click=move |_| { notice.set(None); editing.set(Some(None)); }>"Add task"</button>
            </div>
            <Show when=move || notice.get().is_some()>
                <p class="ok" data-testid="tasks-notice">{move || notice.get().unwrap_or_default()}</p>
            </Show>
            {move || editing.get().map(|existing| view! {
                <Transition fallback=|| view! { <p class="muted">"Loading the form…"</p> }>
                    {move || {
                        let existing = existing.clone();
                        Suspend::new(async move {
                            let list = creds.await.unwrap_or_default();
                            task_editor(list, existing, Callback::new(move |m| done(m))).await
                        })
                    }}
                </Transition>
            })}
            <ListView
                items=move || async move {
                    let names = creds.await.unwrap_or_default();
                    // Grouped once by task: a scan per task would be tasks × runs.
                    let mut points: std::collections::HashMap<i64, Vec<RunPoint>> = std::collections::HashMap::new();
                    for p in recent.await.unwrap_or_default() {
                        points.entry(p.task_id).or_default().push(p);
                    }
                    let list = tasks.await;
                    any_active.set(list.as_ref().is_ok_and(|l| l.iter().any(|t| t.last_run.as_ref().is_some_and(|r| r.state.is_active()))));
                    let list = list?;
                    Ok(list.into_iter().map(|t| {
                        let name = names.iter().find(|c| c.id == t.credentials).map(|c| c.name.clone());
                        let history = points.remove(&t.id).unwrap_or_default();
                        (name.unwrap_or_else(|| format!("credential {}", t.credentials)), history, t)
                    }).collect::<Vec<_>>())
                }
                empty=|| view! {
                    <p class="muted" data-testid="no-tasks">"No tasks yet. Add one to back a folder up to the cloud or bring it back."</p>
                }
                list=move |list| view! {
                    <table class="list" data-testid="task-list">
                        <thead><tr><th>"Task"</th><th>"What"</th><th>"Where"</th><th>"Last run"</th><th>"Next run"</th><th></th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|(credential, history, t)| {
                                let id = t.id;
                                let stored = t.last_run.clone();
                                let last = Signal::derive(move || {
                                    stored.clone().map(|mut r| {
                                        if let Some(p) = live.try_with(|m| m.get(&id).cloned()).flatten() {
                                            r.stats = Some(p);
                                        }
                                        r
                                    })
                                });
                                view! { <TaskRow task=t credential=credential history last_run=last on_edit=Callback::new(move |t| { notice.set(None); editing.set(Some(Some(t))); }) on_changed=Callback::new(move |m| done(m)) on_run=Callback::new(move |_| reload.now())/> }
                            }).collect_view()}
                        </tbody>
                    </table>
                }/>
        </section>
    }
}

fn describe(d: Direction, m: TransferMode) -> &'static str {
    match (d, m) {
        (Direction::Push, TransferMode::Sync) => "Push · sync (mirror to the cloud)",
        (Direction::Push, TransferMode::Copy) => "Push · copy",
        (Direction::Push, TransferMode::Move) => "Push · move",
        (Direction::Pull, TransferMode::Sync) => "Pull · sync (mirror from the cloud)",
        (Direction::Pull, TransferMode::Copy) => "Pull · copy",
        (Direction::Pull, TransferMode::Move) => "Pull · move",
    }
}

fn remote_path(a: &RemoteLocation) -> String {
    [a.bucket.as_str(), a.folder.as_str()].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join("/")
}

#[component]
fn TaskRow(
    task: SyncTask,
    credential: String,
    /// The newest finished runs, oldest first, for the sparklines.
    history: Vec<RunPoint>,
    last_run: Signal<Option<Run>>,
    on_edit: Callback<SyncTask>,
    on_changed: Callback<Option<String>>,
    on_run: Callback<()>,
) -> impl IntoView {
    let id = task.id;
    let error = RwSignal::new(None::<String>);
    // Each answer may reach a row a state event has already replaced: `try_run`.
    let start = move |dry_run: bool| {
        call_then::<RunTask>(RunParams { id, dry_run, allow_deletes: false }, error, move |_| {
            on_run.try_run(());
        })
    };
    // The last run stopped at the deletion guard: offer to run once past it, after the
    // user types what it will do.
    let held_back = move || {
        last_run.try_get().flatten().is_some_and(|r| {
            r.state == RunState::Failed && r.error.as_deref().is_some_and(|e| e.starts_with("this sync would delete"))
        })
    };
    let run_anyway = move |_| {
        let question = "This run will delete those files at the destination. Type DELETE to go ahead.";
        if window().prompt_with_message(question).ok().flatten().is_some_and(|t| t.trim() == "DELETE") {
            call_then::<RunTask>(RunParams { id, dry_run: false, allow_deletes: true }, error, move |_| {
                on_run.try_run(());
            })
        }
    };
    let previewing = RwSignal::new(false);
    // A SYNC's first run shows what it would do (and delete) first; "Run as shown" runs it.
    let first_sync = task.transfer_mode == TransferMode::Sync;
    let run_now = move || {
        if first_sync && last_run.try_get().flatten().is_none() {
            previewing.set(true);
        } else {
            start(false);
        }
    };
    let stop = move |_| {
        call_then::<Abort>(IdParams { id }, error, move |_| {
            on_run.try_run(());
        })
    };
    // `try_get`: a progress event can reach a row the list has just replaced.
    let active = move || last_run.try_get().flatten().is_some_and(|r| r.state.is_active());
    let description = task.description.clone();
    let delete = move |_| {
        let name = description.clone();
        if !window().confirm_with_message(&format!("Delete the task “{name}”?")).unwrap_or(false) {
            return;
        }
        call_then::<Delete>(IdParams { id }, error, move |_| {
            on_changed.try_run(Some(format!("Deleted “{name}”.")));
        });
    };
    let restore_name = task.description.clone();
    let restore = move |_| {
        let question = format!("Restore “{restore_name}”: copy its remote files into which local folder?");
        let Some(path) = window().prompt_with_message(&question).ok().flatten().filter(|p| !p.trim().is_empty()) else {
            return;
        };
        let params = RestoreParams { id, transfer_mode: TransferMode::Copy, path: path.trim().to_string() };
        call_then::<Restore>(params, error, move |t| {
            on_changed.try_run(Some(format!("Created “{}”, disabled: check it, then run it.", t.description)));
        });
    };
    let arrow = if task.direction == Direction::Push { "→" } else { "←" };
    let place = format!("{} {arrow} {}:{}", task.path, credential, remote_path(&task.attributes));
    let edit = task.clone();
    view! {
        <tr data-testid="task-row" data-name=task.description.clone()>
            <td data-label="Task">
                <strong>{task.description.clone()}</strong>
                {(!task.enabled).then(|| view! { <span class="badge">"disabled"</span> })}
                {task.encryption.then(|| view! { <span class="badge">"encrypted"</span> })}
                {(!task.review.is_empty()).then(|| view! {
                    <span class="badge wait" data-testid="task-review-badge">"to review"</span>
                    <ul class="small review" data-testid="task-review">
                        {task.review.iter().map(|r| view! { <li>{r.clone()}</li> }).collect_view()}
                    </ul>
                })}
            </td>
            <td data-label="What">{describe(task.direction, task.transfer_mode)}</td>
            <td data-label="Where"><code data-testid="task-place">{place}</code></td>
            <td data-label="Last run">
                <RunBadge run=last_run/>
                <div class="sparklines">
                    <Sparkline values=history.iter().map(|p| p.duration_seconds).collect() label="duration"
                        newest=history.last().map(|p| human_duration(p.duration_seconds)).unwrap_or_default()/>
                    <Sparkline values=history.iter().map(|p| p.bytes as f64).collect() label="bytes"
                        newest=history.last().map(|p| human_bytes(p.bytes as f64)).unwrap_or_default()/>
                </div>
            </td>
            <td data-label="Next run" data-testid="task-next-run" title=task.next_run.clone().unwrap_or_default()>
                {match (&task.next_run, &task.schedule, task.enabled) {
                    (Some(at), _, _) => at.chars().take(16).collect::<String>().replace('T', " "),
                    (None, None, _) => "manual".to_string(),
                    (None, Some(_), false) => "disabled".to_string(),
                    (None, Some(_), true) => "never".to_string(),
                }}
                {task.schedule.as_ref().and_then(|s| protocol::schedule::CronSpec::parse(s).ok()).map(|spec| view! {
                    <div class="small muted" data-testid="task-schedule">{spec.describe()}</div>
                })}
            </td>
            <td class="actions">
                <Show when=move || !active() fallback=move || view! {
                    <button data-testid="task-stop" class="danger" on:click=stop>"Stop"</button>
                }>
                    <button data-testid="task-run" on:click=move |_| run_now()>"Run now"</button>
                    <button data-testid="task-dry-run" on:click=move |_| start(true)>"Dry run"</button>
                    <button data-testid="task-preview" on:click=move |_| previewing.set(true)>"Preview"</button>
                    <Show when=held_back>
                        <button class="danger" data-testid="task-run-anyway" on:click=run_anyway>"Run, allowing deletes…"</button>
                    </Show>
                </Show>
                <button on:click=move |_| on_edit.run(edit.clone()) data-testid="task-edit">"Edit"</button>
                <button on:click=restore data-testid="task-restore">"Restore…"</button>
                <button class="danger" on:click=delete data-testid="task-delete">"Delete"</button>
                {move || error.try_get().flatten().map(|e| view! { <div class="error small">{e}</div> })}
                <Show when=move || previewing.try_get().unwrap_or(false)>
                    <PlanView id on_close=Callback::new(move |_| { previewing.try_set(false); }) on_run/>
                </Show>
            </td>
        </tr>
    }
}

/// The state of a task's last run, with progress while it runs; links to its log.
#[component]
pub fn RunBadge(run: Signal<Option<Run>>) -> impl IntoView {
    move || match run.try_get().flatten() {
        None => view! { <span class="badge" data-testid="task-state">"never run"</span> }.into_any(),
        Some(r) => {
            let class = super::runs::state_class(r.state);
            let progress = (r.state == RunState::Running).then(|| r.stats.clone()).flatten().map(|p| {
                let eta = p.eta.map(|s| format!(", {s} s left")).unwrap_or_default();
                format!("{:.0}% · {}/s{eta}", p.percent, protocol::units::human_bytes(p.speed))
            });
            let label =
                if r.dry_run { format!("{} (dry run)", r.state.as_str()) } else { r.state.as_str().to_string() };
            // When it ended (or started, or was queued), in UTC as the server reports it.
            let when = r.finished_at.clone().or(r.started_at.clone()).unwrap_or(r.queued_at.clone());
            let when = format!("{} UTC", when.chars().take(16).collect::<String>().replace('T', " "));
            view! {
                <a href=format!("/runs?run={}", r.id) class=class data-testid="task-state">{label}</a>
                <div class="small muted" data-testid="task-run-time">{when}</div>
                {progress.map(|p| view! {
                    <div class="progress"><div class="bar" style:width=format!("{:.0}%", r.stats.as_ref().map_or(0.0, |s| s.percent))></div></div>
                    <div class="small muted" data-testid="task-progress">{p}</div>
                })}
                {r.error.map(|e| view! { <div class="small error">{e}</div> })}
            }.into_any()
        }
    }
}
