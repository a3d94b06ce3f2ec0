//! The OAuth apps section of the System page: per-provider client id/secret and
//! endpoint overrides used by "Login to Provider" when a credential form leaves them
//! empty.

use leptos::prelude::*;
use protocol::oauth::{ClientList, ClientSet, ClientSetParams, OAuthClient};
use protocol::providers;
use protocol::{Empty, RpcError};

use crate::rpc;
use crate::widgets::{Reload, TextField};

#[component]
pub fn OAuthAppsSection() -> impl IntoView {
    let reload = Reload::new();
    let saved = reload.call::<ClientList>(|| Empty {});
    let providers = crate::widgets::load::<providers::List>(Empty {});
    let provider = RwSignal::new(String::new());
    let client_id = RwSignal::new(String::new());
    let client_secret = RwSignal::new(String::new());
    let auth_url = RwSignal::new(String::new());
    let token_url = RwSignal::new(String::new());
    let error = RwSignal::new(None::<RpcError>);
    let done = RwSignal::new(false);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        done.set(false);
        let secret = client_secret.get_untracked();
        let params = ClientSetParams {
            provider: provider.get_untracked(),
            client_id: client_id.get_untracked(),
            client_secret: (!secret.is_empty()).then(|| serde_json::Value::String(secret)),
            auth_url: auth_url.get_untracked(),
            token_url: token_url.get_untracked(),
            scopes: String::new(),
        };
        leptos::task::spawn_local(async move {
            match rpc::call::<ClientSet>(params).await {
                Ok(_) => {
                    done.set(true);
                    client_secret.set(String::new());
                    reload.now();
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let field_error = move |f: &'static str| move || error.get().and_then(|e| e.field_error(f));
    let text = move |label: &'static str, value: RwSignal<String>, testid: &'static str, field: &'static str| {
        view! { <TextField label value testid error=Signal::derive(field_error(field))/> }
    };

    view! {
        <form class="card narrow" on:submit=submit data-testid="oauth-apps">
            <h3>"OAuth apps"</h3>
            <p class="muted small">
                "For “Login to Provider”, register an OAuth app with the provider whose redirect URL is "
                <code>{move || format!("{}/oauth/callback", window().location().origin().unwrap_or_default())}</code>
                ", and save its id and secret here. Empty URLs use the provider's usual ones."
            </p>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    saved.await.ok().filter(|l| !l.is_empty()).map(|list| view! {
                        <ul class="small" data-testid="oauth-apps-saved">
                            {list.into_iter().map(|c: OAuthClient| view! {
                                <li>{format!("{}: client id {}{}", c.provider, if c.client_id.is_empty() { "(none)" } else { &c.client_id }, if c.client_secret.is_some() { ", secret set" } else { "" })}</li>
                            }).collect_view()}
                        </ul>
                    })
                })}
            </Transition>
            <label>
                "Provider"
                <select data-testid="oauth-app-provider" prop:value=move || provider.get() on:change=move |ev| provider.set(event_target_value(&ev))>
                    <option value="">"Choose…"</option>
                    <Transition fallback=|| ()>
                        {move || Suspend::new(async move {
                            providers.await.unwrap_or_default().into_iter().filter(|p| p.oauth).map(|p| view! {
                                <option value=p.name.clone()>{p.name.clone()}</option>
                            }).collect_view()
                        })}
                    </Transition>
                </select>
                <span class="field-error">{field_error("provider")}</span>
            </label>
            {text("Client id", client_id, "oauth-app-client-id", "client_id")}
            <label>
                "Client secret"
                <input type="password" autocomplete="off" data-testid="oauth-app-client-secret" placeholder="unchanged if empty"
                    prop:value=move || client_secret.get() on:input=move |ev| client_secret.set(event_target_value(&ev))/>
            </label>
            {text("Authorisation URL (optional)", auth_url, "oauth-app-auth-url", "auth_url")}
            {text("Token URL (optional)", token_url, "oauth-app-token-url", "token_url")}
            <Show when=move || done.get()>
                <p class="ok" data-testid="oauth-app-saved">"Saved."</p>
            </Show>
            <button type="submit" class="primary">"Save OAuth app"</button>
        </form>
    }
}
