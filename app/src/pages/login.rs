//! The login page.

use leptos::prelude::*;
use protocol::auth::{Login, LoginParams};

use crate::rpc;

#[component]
pub fn LoginPage() -> impl IntoView {
    let session = crate::use_session();
    let username = RwSignal::new("admin".to_string());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let params = LoginParams { username: username.get_untracked(), password: password.get_untracked() };
        leptos::task::spawn_local(async move {
            match rpc::call::<Login>(params.clone()).await {
                Ok(s) => {
                    rpc::store_token(Some(&s.token));
                    session.user.set(Some(params.username));
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };

    view! {
        <main class="login">
            <form class="card" on:submit=submit>
                <h1>"cloudsync"</h1>
                <p class="muted">"Sign in to manage cloud credentials and sync tasks."</p>
                <label>
                    "Username"
                    <input name="username" autocomplete="username" data-testid="login-username"
                        prop:value=move || username.get()
                        on:input=move |ev| username.set(event_target_value(&ev))/>
                </label>
                <label>
                    "Password"
                    <input name="password" type="password" autocomplete="current-password" data-testid="login-password"
                        prop:value=move || password.get()
                        on:input=move |ev| password.set(event_target_value(&ev))/>
                </label>
                <Show when=move || error.get().is_some()>
                    <p class="error" role="alert" data-testid="login-error">{move || error.get().unwrap_or_default()}</p>
                </Show>
                <button type="submit" class="primary" data-testid="login-submit" disabled=move || busy.get()>
                    {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
                <p class="muted small" data-testid="login-connection">{move || session.connection.get().label()}</p>
            </form>
        </main>
    }
}
