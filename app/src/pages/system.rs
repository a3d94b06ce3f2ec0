//! The System page: what `system.info` reports, changing the admin password, and the
//! sections in `system_notify`, `system_tokens`, `system_backup`, `system_truenas` and
//! `system_oauth`.

use leptos::prelude::*;
use protocol::auth::{ChangePassword, ChangePasswordParams};
use protocol::system::{Info, SystemInfo};
use protocol::{Empty, RpcError};

use crate::rpc;
use crate::widgets::{CheckBox, Reload};

#[component]
pub fn SystemPage() -> impl IntoView {
    let info = crate::widgets::load::<Info>(Empty {});
    let tokens = Reload::new();
    view! {
        <section data-testid="page-system">
            <h2>"System"</h2>
            <ErrorBoundary fallback=|errors| view! {
                <p class="error" data-testid="system-error">
                    {move || errors.get().into_iter().map(|(_, e)| e.to_string()).collect::<Vec<_>>().join("; ")}
                </p>
            }>
                <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || Suspend::new(async move { info.await.map(|i| view! { <InfoTable info=i/> }) })}
                </Transition>
            </ErrorBoundary>
            <ChangePasswordForm tokens=tokens/>
            <super::system_notify::NotificationsSection/>
            <super::system_tokens::ApiTokensSection reload=tokens/>
            <super::system_backup::BackupSection/>
            <super::system_truenas::TruenasSection/>
            <super::system_oauth::OAuthAppsSection/>
        </section>
    }
}

#[component]
fn InfoTable(info: SystemInfo) -> impl IntoView {
    let rclone = info.rclone_version.clone().unwrap_or_else(|| "not available".into());
    view! {
        <dl class="facts">
            <dt>"cloudsync"</dt><dd data-testid="cloudsync-version">{info.version}</dd>
            <dt>"rclone"</dt><dd data-testid="rclone-version">{rclone}</dd>
            <dt>"rclone path"</dt><dd><code>{info.rclone_path}</code></dd>
            <dt>"PostgreSQL"</dt><dd data-testid="postgres-version">{info.postgres_version}</dd>
            <dt>"Data directory"</dt><dd><code>{info.data_dir}</code></dd>
            <dt>"Time zone"</dt><dd data-testid="timezone">{info.timezone}</dd>
        </dl>
        {info.rclone_problem.map(|p| view! { <p class="warning" data-testid="rclone-problem">{p}</p> })}
    }
}

/// `tokens` reloads the API tokens section when a change revoked them.
#[component]
fn ChangePasswordForm(tokens: Reload) -> impl IntoView {
    let old = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let revoke_tokens = RwSignal::new(false);
    let error = RwSignal::new(None::<RpcError>);
    // What the last change also did: None until a change went through.
    let done = RwSignal::new(None::<bool>);

    let local_check = move || -> Option<(&'static str, String)> {
        let n = new.get();
        if n.is_empty() {
            return None;
        }
        if let Err(why) = protocol::validation::check_new_password(&n) {
            return Some(("new", why));
        }
        (!confirm.get().is_empty() && confirm.get() != n).then(|| ("confirm", "does not match the new password".into()))
    };
    let field_error = move |field: &'static str| {
        move || {
            local_check()
                .filter(|(f, _)| *f == field)
                .map(|(_, m)| m)
                .or_else(|| error.get().and_then(|e| e.field_error(field)))
        }
    };

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        done.set(None);
        error.set(None);
        if local_check().is_some() || confirm.get_untracked() != new.get_untracked() {
            return;
        }
        let revoked = revoke_tokens.get_untracked();
        let params =
            ChangePasswordParams { old: old.get_untracked(), new: new.get_untracked(), revoke_tokens: revoked };
        leptos::task::spawn_local(async move {
            match rpc::call::<ChangePassword>(params).await {
                Ok(_) => {
                    done.set(Some(revoked));
                    if revoked {
                        revoke_tokens.set(false);
                        tokens.now();
                    }
                    old.set(String::new());
                    new.set(String::new());
                    confirm.set(String::new());
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };

    view! {
        <form class="card narrow" on:submit=submit data-testid="change-password">
            <h3>"Change password"</h3>
            <PasswordInput label="Current password" value=old error=Signal::derive(field_error("old")) testid="old-password"/>
            <PasswordInput label="New password" value=new error=Signal::derive(field_error("new")) testid="new-password"/>
            <PasswordInput label="Repeat new password" value=confirm error=Signal::derive(field_error("confirm")) testid="confirm-password"/>
            <CheckBox label="Also revoke every API token (scripts and command lines using one stop working)"
                value=revoke_tokens testid="revoke-tokens"/>
            <Show when=move || error.get().is_some_and(|e| e.field_errors().is_empty())>
                <p class="error">{move || error.get().map(|e| e.message).unwrap_or_default()}</p>
            </Show>
            {move || done.get().map(|revoked| {
                let text = if revoked {
                    "Password changed. Other sessions were signed out and every API token was revoked."
                } else {
                    "Password changed. Other sessions were signed out; API tokens still work."
                };
                view! { <p class="ok" data-testid="password-changed">{text}</p> }
            })}
            <button type="submit" class="primary">"Change password"</button>
        </form>
    }
}

#[component]
fn PasswordInput(
    label: &'static str,
    value: RwSignal<String>,
    error: Signal<Option<String>>,
    testid: &'static str,
) -> impl IntoView {
    view! {
        <label>
            {label}
            <input type="password" autocomplete="new-password" data-testid=testid
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))/>
            <crate::widgets::FieldError error=error/>
        </label>
    }
}
