//! "Preview" on the Tasks page: what a run of the task would do now (`task.plan`), with
//! the first paths of each kind, and "Run as shown" to run it past the deletion guard,
//! since the deletions are on screen.

use leptos::prelude::*;
use protocol::credentials::IdParams;
use protocol::runs::{RunParams, RunTask};
use protocol::tasks::{Plan, PlanPart, RunPlan};
use protocol::units::human_bytes;

use crate::widgets::call_then;

/// The preview of task `id`, worked out when shown; `on_run` after "Run as shown".
#[component]
pub fn PlanView(id: i64, on_close: Callback<()>, on_run: Callback<()>) -> impl IntoView {
    let plan = RwSignal::new(None::<RunPlan>);
    let error = RwSignal::new(None::<String>);
    call_then::<Plan>(IdParams { id }, error, move |p| {
        let _ = plan.try_set(Some(p));
    });
    let run = move |_| {
        call_then::<RunTask>(RunParams { id, dry_run: false, allow_deletes: true }, error, move |_| {
            on_run.try_run(());
            on_close.try_run(());
        })
    };
    view! {
        <div class="card plan" data-testid="task-plan">
            {move || match (plan.get(), error.get()) {
                (_, Some(e)) => view! { <p class="error small" data-testid="task-plan-error">{e}</p> }.into_any(),
                (None, None) => view! { <p class="muted small">"Working out what a run would do (a dry run)…"</p> }.into_any(),
                (Some(p), None) => view! {
                    <p class="small" data-testid="task-plan-summary">{summary(&p)}</p>
                    {part("To copy", "copy", p.copy)}
                    {part("To update", "update", p.update)}
                    {part("To delete at the destination", "delete", p.delete)}
                    <button class="primary inline" data-testid="task-plan-run" on:click=run>"Run as shown"</button>
                }.into_any(),
            }}
            <button type="button" class="link" on:click=move |_| on_close.run(())>"Close"</button>
        </div>
    }
}

/// "This run will copy 1 file (10 B), update none and delete 2 files (29 B) at the
/// destination."
pub fn summary(p: &RunPlan) -> String {
    let n = |part: &PlanPart| match part.count {
        0 => "none".to_string(),
        1 => format!("1 file ({})", human_bytes(part.bytes as f64)),
        c => format!("{c} files ({})", human_bytes(part.bytes as f64)),
    };
    format!(
        "This run will copy {}, update {} and delete {} at the destination.",
        n(&p.copy),
        n(&p.update),
        n(&p.delete)
    )
}

fn part(title: &'static str, kind: &'static str, part: PlanPart) -> impl IntoView {
    let more = part.count.saturating_sub(part.paths.len() as u64);
    (part.count > 0).then(|| {
        view! {
            <details data-testid=format!("task-plan-{kind}")>
                <summary>{format!("{title}: {}", part.count)}</summary>
                <ul class="small">
                    {part.paths.into_iter().map(|p| view! { <li><code>{p}</code></li> }).collect_view()}
                </ul>
                {(more > 0).then(|| view! { <p class="muted small">{format!("… and {more} more")}</p> })}
            </details>
        }
    })
}
