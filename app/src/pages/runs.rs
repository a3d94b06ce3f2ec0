//! The Runs page (a placeholder until its issue lands).

use leptos::prelude::*;

#[component]
pub fn RunsPage() -> impl IntoView {
    view! {
        <section data-testid="page-runs">
            <h2>"Runs"</h2>
            <p class="muted">"Runs: live progress and logs of every sync. Coming soon."</p>
        </section>
    }
}
