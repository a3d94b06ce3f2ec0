//! The Credentials page (a placeholder until its issue lands).

use leptos::prelude::*;

#[component]
pub fn CredentialsPage() -> impl IntoView {
    view! {
        <section data-testid="page-credentials">
            <h2>"Credentials"</h2>
            <p class="muted">"Cloud credentials: every rclone backend, encrypted at rest, verified before saving. Coming next."</p>
        </section>
    }
}
