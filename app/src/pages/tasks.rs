//! The Tasks page (a placeholder until its issue lands).

use leptos::prelude::*;

#[component]
pub fn TasksPage() -> impl IntoView {
    view! {
        <section data-testid="page-tasks">
            <h2>"Tasks"</h2>
            <p class="muted">"Cloud sync tasks: push or pull, sync, copy or move, on a schedule. Coming soon."</p>
        </section>
    }
}
