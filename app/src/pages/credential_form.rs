//! The add/edit form of a credential, generated from rclone's schema for the chosen
//! provider (required options first, the rest under "Advanced", secrets masked with a
//! show toggle, examples offered as suggestions, S3-style sub-provider options shown for
//! the chosen sub-provider), with "Login to Provider" for OAuth backends.

use std::collections::BTreeMap;

use leptos::prelude::*;
use protocol::credentials::{
    AttributeValue, Create, CreateParams, Update as UpdateCredential, UpdateParams, Verify, VerifyParams, VerifyResult,
};
use protocol::providers::{Provider, ProviderOption};
use protocol::RpcError;
use serde_json::Value;

use super::credential_option::OptionField;
use super::credentials::{Editing, VerifyOutcome};
use crate::rpc;
use crate::widgets::FieldError;

/// The value a field starts with: plain values as saved, secrets empty (the saved value
/// is kept unless the user types a new one).
fn initial_values(editing: &Editing) -> BTreeMap<String, String> {
    match editing {
        Editing::New => BTreeMap::new(),
        Editing::Existing(c) => c
            .attributes
            .iter()
            .filter_map(|(k, v)| match v {
                AttributeValue::Plain(s) => Some((k.clone(), s.clone())),
                AttributeValue::Secret(_) => None,
            })
            .collect(),
    }
}

#[component]
pub(super) fn CredentialForm(
    providers: Vec<Provider>,
    editing: Editing,
    on_done: Callback<Option<String>>,
) -> impl IntoView {
    let existing = match &editing {
        Editing::Existing(c) => Some(c.clone()),
        Editing::New => None,
    };
    let saved_secrets: Vec<String> = existing
        .as_ref()
        .map(|c| {
            c.attributes
                .iter()
                .filter(|(_, v)| matches!(v, AttributeValue::Secret(_)))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    let saved_secrets = StoredValue::new(saved_secrets);
    let providers = StoredValue::new(providers);
    let name = RwSignal::new(existing.as_ref().map(|c| c.name.clone()).unwrap_or_default());
    let provider_name = RwSignal::new(existing.as_ref().map(|c| c.provider.clone()).unwrap_or_default());
    let values = RwSignal::new(initial_values(&editing));
    let server_error = RwSignal::new(None::<RpcError>);
    let verify_result = RwSignal::new(None::<VerifyResult>);
    let busy = RwSignal::new(false);
    let existing_id = existing.as_ref().map(|c| c.id);
    let title = if existing.is_some() { "Edit credential" } else { "Add credential" };

    let provider =
        Memo::new(move |_| providers.with_value(|list| list.iter().find(|p| p.name == provider_name.get()).cloned()));
    let sub_provider = Memo::new(move |_| values.with(|v| v.get("provider").cloned()).filter(|s| !s.is_empty()));
    let visible = Memo::new(move |_| {
        let Some(p) = provider.get() else { return (Vec::new(), Vec::new()) };
        let sub = sub_provider.get();
        let mut main: Vec<ProviderOption> = Vec::new();
        let mut advanced: Vec<ProviderOption> = Vec::new();
        for o in p.options_for(sub.as_deref()) {
            // The sub-provider choice is shown on its own, first.
            if o.name == "provider" && p.has_sub_providers() {
                continue;
            }
            if main.iter().chain(advanced.iter()).any(|seen| seen.name == o.name) {
                continue;
            }
            if o.advanced {
                advanced.push(o.clone())
            } else {
                main.push(o.clone())
            }
        }
        main.sort_by_key(|o| !o.required);
        (main, advanced)
    });

    // The attributes to send: typed values, and for saved secrets left empty the mask,
    // which tells the server to keep them.
    let attributes = move || -> BTreeMap<String, Value> {
        let p = provider.get_untracked();
        let sub = sub_provider.get_untracked();
        let mut out: BTreeMap<String, Value> = BTreeMap::new();
        values.with_untracked(|v| {
            for (k, val) in v {
                let applies = p.as_ref().is_some_and(|p| p.option(k, sub.as_deref()).is_some());
                if applies && !val.is_empty() {
                    out.insert(k.clone(), Value::String(val.clone()));
                }
            }
        });
        saved_secrets.with_value(|secrets| {
            for k in secrets {
                out.entry(k.clone()).or_insert_with(|| {
                    serde_json::to_value(protocol::credentials::SecretInput::Keep).unwrap_or_default()
                });
            }
        });
        out
    };

    let verify = move |_| {
        busy.set(true);
        verify_result.set(None);
        server_error.set(None);
        let params = match existing_id {
            Some(id) => VerifyParams { id: Some(id), provider: None, attributes: Some(attributes()) },
            None => {
                VerifyParams { id: None, provider: Some(provider_name.get_untracked()), attributes: Some(attributes()) }
            }
        };
        leptos::task::spawn_local(async move {
            match rpc::call::<Verify>(params).await {
                Ok(r) => verify_result.set(Some(r)),
                Err(e) => server_error.set(Some(e)),
            }
            busy.set(false);
        });
    };

    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        server_error.set(None);
        let attrs = attributes();
        let name_now = name.get_untracked();
        leptos::task::spawn_local(async move {
            let outcome = match existing_id {
                Some(id) => {
                    rpc::call::<UpdateCredential>(UpdateParams { id, name: Some(name_now), attributes: Some(attrs) })
                        .await
                }
                None => {
                    rpc::call::<Create>(CreateParams {
                        name: name_now,
                        provider: provider_name.get_untracked(),
                        attributes: attrs,
                    })
                    .await
                }
            };
            busy.set(false);
            match outcome {
                Ok(c) => {
                    // The row may be gone (a state event reloaded the list first).
                    on_done.try_run(Some(format!("Saved “{}”.", c.name)));
                }
                Err(e) => server_error.set(Some(e)),
            }
        });
    };

    let field_error =
        move |field: String| Signal::derive(move || server_error.get().and_then(|e| e.field_error(&field)));
    let general_error = move || server_error.get().filter(|e| e.field_errors().is_empty()).map(|e| e.message);

    view! {
        <form class="card form" on:submit=save data-testid="credential-form">
            <h3>{title}</h3>
            <label>
                "Name"
                <input data-testid="cred-name" required prop:value=move || name.get()
                    on:input=move |ev| name.set(event_target_value(&ev))/>
                <FieldError error=field_error("name".into())/>
            </label>
            <label>
                "Provider"
                <select data-testid="cred-provider" disabled=existing_id.is_some()
                    prop:value=move || provider_name.get()
                    on:change=move |ev| {
                        provider_name.set(event_target_value(&ev));
                        values.set(BTreeMap::new());
                        verify_result.set(None);
                    }>
                    <option value="">"Choose a provider…"</option>
                    {providers.with_value(|list| list.iter().map(|p| {
                        let label = format!("{} — {}", p.name, p.description);
                        view! { <option value=p.name.clone()>{label}</option> }
                    }).collect_view())}
                </select>
                <FieldError error=field_error("provider".into())/>
            </label>
            {move || provider.get().filter(|p| p.has_sub_providers()).and_then(|p| p.options.iter().find(|o| o.name == "provider").cloned()).map(|o| view! {
                <OptionField option=o values=values saved_secret=false sub=None error=field_error("attributes.provider".into())/>
            })}
            {move || provider.get().filter(|p| p.oauth).map(|p| view! {
                <LoginToProvider provider=p.name.clone() values=values server_error=server_error/>
            })}
            <For each=move || visible.get().0 key=move |o| (o.name.clone(), sub_provider.get_untracked()) let:o>
                <OptionField sub=sub_provider.get_untracked() saved_secret=saved_secrets.with_value(|s| s.contains(&o.name)) error=field_error(format!("attributes.{}", o.name)) option=o values=values/>
            </For>
            <Show when=move || !visible.get().1.is_empty()>
                <details class="advanced">
                    <summary>{move || format!("Advanced ({} options)", visible.get().1.len())}</summary>
                    <For each=move || visible.get().1 key=move |o| (o.name.clone(), sub_provider.get_untracked()) let:o>
                        <OptionField sub=sub_provider.get_untracked() saved_secret=saved_secrets.with_value(|s| s.contains(&o.name)) error=field_error(format!("attributes.{}", o.name)) option=o values=values/>
                    </For>
                </details>
            </Show>
            {move || verify_result.get().map(|r| view! { <VerifyOutcome result=r/> })}
            <Show when=move || general_error().is_some()>
                <p class="error" data-testid="form-error">{move || general_error().unwrap_or_default()}</p>
            </Show>
            <div class="buttons">
                <button type="button" data-testid="cred-verify" on:click=verify disabled=move || busy.get() || provider.get().is_none()>"Verify"</button>
                <button type="submit" class="primary inline" data-testid="cred-save" disabled=move || busy.get()>"Save"</button>
                <button type="button" on:click=move |_| on_done.run(None)>"Cancel"</button>
            </div>
        </form>
    }
}

/// "Login to Provider": opens the provider's consent page in a popup, waits for the
/// server's callback page to report back (same origin, `state` only), then collects the
/// token over the socket and puts it in the form's `token` field.
#[component]
fn LoginToProvider(
    provider: String,
    values: RwSignal<BTreeMap<String, String>>,
    server_error: RwSignal<Option<RpcError>>,
) -> impl IntoView {
    use protocol::oauth::{Finish, FinishParams, Start, StartParams};
    let status = RwSignal::new(None::<String>);
    let has_token = move || values.with(|v| v.get("token").is_some_and(|t| !t.is_empty()));
    let provider = StoredValue::new(provider);
    let login = move |_| {
        server_error.set(None);
        // Opened now, inside the click, so popup blockers allow it; pointed at the
        // provider once the server has made the URL.
        let popup = window()
            .open_with_url_and_target_and_features("", "cloudsync-oauth", "width=620,height=720")
            .ok()
            .flatten();
        let field = |k: &str| values.with_untracked(|v| v.get(k).cloned().filter(|s| !s.is_empty()));
        let params = StartParams {
            provider: provider.get_value(),
            origin: window().location().origin().unwrap_or_default(),
            client_id: field("client_id"),
            client_secret: field("client_secret"),
            auth_url: field("auth_url"),
            token_url: field("token_url"),
        };
        status.set(Some("Waiting for the provider…".into()));
        leptos::task::spawn_local(async move {
            let started = match rpc::call::<Start>(params).await {
                Ok(s) => s,
                Err(e) => {
                    if let Some(p) = &popup {
                        let _ = p.close();
                    }
                    status.set(None);
                    server_error.set(Some(e));
                    return;
                }
            };
            match &popup {
                Some(p) => {
                    let _ = p.location().set_href(&started.authorize_url);
                }
                None => {
                    status.set(Some(
                        "The browser blocked the login window; allow popups for this site and try again.".into(),
                    ));
                    return;
                }
            }
            let state = started.state.clone();
            let handle = StoredValue::new_local(None::<WindowListenerHandle>);
            let listener = window_event_listener(leptos::ev::message, move |e: web_sys::MessageEvent| {
                let same_origin = window().location().origin().ok().as_deref() == Some(e.origin().as_str());
                let data = e.data();
                let get = |k: &str| js_sys::Reflect::get(&data, &k.into()).ok().and_then(|v| v.as_string());
                if !same_origin
                    || get("type").as_deref() != Some("cloudsync-oauth")
                    || get("state").as_deref() != Some(state.as_str())
                {
                    return;
                }
                if let Some(h) = handle.try_update_value(|h| h.take()).flatten() {
                    h.remove();
                }
                let state = state.clone();
                leptos::task::spawn_local(async move {
                    match rpc::call::<Finish>(FinishParams { state }).await {
                        Ok(t) => {
                            values.update(|v| {
                                v.insert("token".into(), t.token);
                            });
                            status.set(Some("Logged in. The token is saved with the credential.".into()));
                        }
                        Err(e) => status.set(Some(format!("Login failed: {}", e.message))),
                    }
                });
            });
            handle.set_value(Some(listener));
        });
    };
    view! {
        <div class="oauth">
            <button type="button" class="inline" data-testid="oauth-login" on:click=login>"Login to Provider"</button>
            <span class="small" data-testid="oauth-status">
                {move || status.get().unwrap_or_else(|| if has_token() { "A token is set.".into() } else { String::new() })}
            </span>
            <p class="muted small">"Or run `rclone authorize` on any machine and paste the token it prints into the token field under Advanced."</p>
        </div>
    }
}
