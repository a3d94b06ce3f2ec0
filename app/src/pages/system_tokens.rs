//! The API tokens section of the System page: list, create (the token is shown once,
//! with how to use it from the command line) and revoke.

use leptos::prelude::*;
use protocol::auth::{ApiToken, TokenCreate, TokenCreateParams, TokenList, TokenRevoke};
use protocol::credentials::IdParams;
use protocol::{Empty, RpcError};

use crate::rpc;
use crate::widgets::{FieldError, ListView, Reload};

fn short(t: &str) -> String {
    t.chars().take(16).collect::<String>().replace('T', " ")
}

/// `reload` is the page's: a password change that revokes every token reloads the list.
#[component]
pub fn ApiTokensSection(reload: Reload) -> impl IntoView {
    let tokens = reload.call::<TokenList>(|| Empty {});
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<RpcError>);
    let created = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        created.set(None);
        let params = TokenCreateParams {
            name: name.get_untracked(),
            expires_at: None,
            password: Some(password.get_untracked()),
        };
        if let Err(why) = protocol::auth::check_token_name(&params.name) {
            return error.set(Some(RpcError::invalid_params(vec![protocol::FieldError::new("name", why)])));
        }
        leptos::task::spawn_local(async move {
            match rpc::call::<TokenCreate>(params).await {
                Ok(t) => {
                    created.set(Some(t.token));
                    name.set(String::new());
                    password.set(String::new());
                    reload.now();
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let revoke = move |t: ApiToken| {
        if !window().confirm_with_message(&format!("Revoke the API token “{}”?", t.name)).unwrap_or(false) {
            return;
        }
        leptos::task::spawn_local(async move {
            match rpc::call::<TokenRevoke>(IdParams { id: t.id }).await {
                Ok(_) => reload.now(),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let name_error = Signal::derive(move || error.get().and_then(|e| e.field_error("name")));
    let password_error = Signal::derive(move || {
        error.get().and_then(|e| {
            e.field_error("password")
                .or_else(|| (e.code == protocol::ErrorCode::LOGIN_FAILED).then(|| e.message.clone()))
        })
    });
    let general = move || {
        error
            .get()
            .filter(|e| e.field_errors().is_empty() && e.code != protocol::ErrorCode::LOGIN_FAILED)
            .map(|e| e.message)
    };
    view! {
        <form class="card narrow" on:submit=submit data-testid="api-tokens">
            <h3>"API tokens"</h3>
            <p class="muted small">
                "For scripts and the command line: " <code>"cloudsync --url URL --token TOKEN task list"</code>
                ". A token works until revoked, also after logging out or changing the password (unless the change revokes every token)."
            </p>
            <ListView items=move || async move { tokens.await }
                empty=|| view! { <p class="muted small" data-testid="no-tokens">"No API tokens."</p> }
                list=move |list| view! {
                            <table class="list small" data-testid="token-list">
                                <thead><tr><th>"Name"</th><th>"Created (UTC)"</th><th>"Last used (UTC)"</th><th></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|t| {
                                        let for_revoke = t.clone();
                                        view! {
                                            <tr data-testid="token-row" data-name=t.name.clone()>
                                                <td data-label="Name">{t.name.clone()}</td>
                                                <td data-label="Created">{short(&t.created_at)}</td>
                                                <td data-label="Last used">{short(&t.last_used_at)}</td>
                                                <td class="actions"><button type="button" class="danger" data-testid="token-revoke" on:click=move |_| revoke(for_revoke.clone())>"Revoke"</button></td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }/>
            <label>
                "New token name"
                <input data-testid="token-name" placeholder="nightly backup script" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                <FieldError error=name_error/>
            </label>
            <label>
                "Your current password (to confirm)"
                <input type="password" autocomplete="current-password" data-testid="token-password" prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
                <FieldError error=password_error/>
            </label>
            {move || created.get().map(|t| view! {
                <div class="ok small" data-testid="token-created">
                    <p>"Copy the token now; it is not shown again:"</p>
                    <code data-testid="token-secret">{t}</code>
                </div>
            })}
            {move || general().map(|m| view! { <p class="error small">{m}</p> })}
            <button type="submit" class="primary" data-testid="token-create">"Create token"</button>
        </form>
    }
}
