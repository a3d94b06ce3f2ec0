//! The notifications section of the System page: targets (webhook, ntfy, healthchecks,
//! e-mail) with "Send test", "Edit" and their recent deliveries, the form that adds or
//! edits one, and the default for tasks without targets. Secrets are typed in and never
//! shown again; left empty when editing, they keep their stored values.

use std::collections::BTreeMap;

use leptos::prelude::*;
use protocol::credentials::{IdParams, SecretInput};
use protocol::notify::{
    DefaultGet, DefaultSet, Deliveries, DeliveriesParams, Delivery, Email, Healthchecks, NotifyOn, NotifyTarget, Ntfy,
    SmtpSecurity, TargetCreate, TargetDelete, TargetList, TargetParams, TargetSettings, TargetTest, TargetUpdate,
    TargetUpdateParams, TaskNotify, Webhook,
};
use protocol::{Empty, RpcError};

use super::task_form::NotifyFields;
use crate::widgets::{call_then, FieldError, ListView, Reload, TextField};

#[component]
pub fn NotificationsSection() -> impl IntoView {
    let reload = Reload::new();
    let targets = reload.call::<TargetList>(|| Empty {});
    let error = RwSignal::new(None::<String>);
    view! {
        <div class="card narrow" data-testid="notify-section">
            <h3>"Notifications"</h3>
            <p class="muted small">
                "Where word of runs goes. Name targets in a task's settings; a task tells them about failures unless it says otherwise. "
                "A healthchecks target hears every start and outcome, so a run that never happens is noticed too."
            </p>
            <ListView items=move || async move { targets.await }
                empty=|| view! { <p class="muted small" data-testid="no-targets">"No notification targets."</p> }
                list=move |list| view! {
                    <ul class="targets">
                        {list.into_iter().map(|t| view! { <TargetRow target=t on_change=Callback::new(move |_| reload.now())/> }).collect_view()}
                    </ul>
                }/>
            {move || error.get().map(|e| view! { <p class="error small">{e}</p> })}
            <TargetForm on_done=Callback::new(move |_| reload.now())/>
            {move || { reload.track(); view! { <DefaultNotify/> } }}
        </div>
    }
}

/// The server-wide default for tasks that list no targets of their own.
#[component]
fn DefaultNotify() -> impl IntoView {
    let targets = RwSignal::new(Vec::<i64>::new());
    let on = RwSignal::new(NotifyOn::Failure);
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(false);
    call_then::<DefaultGet>(Empty {}, error, move |d| {
        targets.try_set(d.targets);
        on.try_set(d.on);
    });
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        saved.set(false);
        let wanted = TaskNotify { targets: targets.get_untracked(), on: on.get_untracked() };
        call_then::<DefaultSet>(wanted, error, move |d| {
            targets.try_set(d.targets);
            saved.try_set(true);
        });
    };
    view! {
        <form data-testid="notify-default" on:submit=save>
            <p class="muted small">"Tasks that name no targets of their own report here."</p>
            <NotifyFields targets on legend="Default for tasks without targets"/>
            <button type="submit" data-testid="notify-default-save">"Save default"</button>
            {move || saved.get().then(|| view! { <span class="ok small" data-testid="notify-default-saved">" Saved."</span> })}
            {move || error.get().map(|e| view! { <p class="error small">{e}</p> })}
        </form>
    }
}

#[component]
fn TargetRow(target: NotifyTarget, on_change: Callback<()>) -> impl IntoView {
    let id = target.id;
    let result = RwSignal::new(None::<(bool, String)>);
    let error = RwSignal::new(None::<String>);
    let deliveries = RwSignal::new(Vec::<Delivery>::new());
    let load_deliveries = move || {
        call_then::<Deliveries>(DeliveriesParams { target_id: Some(id), limit: Some(5) }, error, move |d| {
            deliveries.try_set(d);
        })
    };
    load_deliveries();
    let test = move |_| {
        result.set(None);
        call_then::<TargetTest>(IdParams { id }, error, move |r| {
            result.try_set(Some((r.ok, r.message)));
            load_deliveries();
        })
    };
    let editing = RwSignal::new(false);
    let shown = target.clone();
    let name = target.name.clone();
    let delete = move |_| {
        if window().confirm_with_message(&format!("Delete the target “{name}”?")).unwrap_or(false) {
            call_then::<TargetDelete>(IdParams { id }, error, move |_| on_change.run(()));
        }
    };
    view! {
        <li data-testid="target-row" data-name=target.name.clone()>
            <strong>{target.name.clone()}</strong> " " <span class="badge">{target.target.kind()}</span>
            <button type="button" data-testid="target-test" on:click=test>"Send test"</button>
            <button type="button" data-testid="target-edit" on:click=move |_| editing.update(|e| *e = !*e)>"Edit"</button>
            <button type="button" class="danger" data-testid="target-delete" on:click=delete>"Delete"</button>
            {move || editing.get().then(|| view! {
                <TargetForm existing=shown.clone() on_done=Callback::new(move |_| { editing.set(false); on_change.run(()); })/>
            })}
            {move || result.get().map(|(ok, m)| view! {
                <p class=if ok { "ok small" } else { "error small" } data-testid="target-test-result">{m}</p>
            })}
            {move || error.get().map(|e| view! { <p class="error small">{e}</p> })}
            <ul class="small muted" data-testid="target-deliveries">
                {move || deliveries.get().into_iter().map(|d| view! {
                    <li>{format!("{} · {} · {}{}",
                        d.at.chars().take(19).collect::<String>().replace('T', " "),
                        d.run_id.map_or("test".to_string(), |r| format!("run #{r}")),
                        if d.ok { "delivered" } else { "failed" },
                        d.error.map(|e| format!(": {e}")).unwrap_or_default())}</li>
                }).collect_view()}
            </ul>
        </li>
    }
}

/// What an edited target already has, from its masked settings: the plain fields, and
/// which secrets are stored (left empty, they are kept).
#[derive(Clone, Default)]
struct Stored {
    id: i64,
    url_saved: bool,
    secret_saved: bool,
    headers: Vec<String>,
    ntfy_user: Option<String>,
    ntfy_password: bool,
}

/// Adds a target, or edits `existing` (secrets left empty keep their stored values).
#[component]
fn TargetForm(#[prop(optional)] existing: Option<NotifyTarget>, on_done: Callback<()>) -> impl IntoView {
    let editing = existing.is_some();
    let text = |v: &str| RwSignal::new(v.to_string());
    let name = text(existing.as_ref().map_or("", |t| t.name.as_str()));
    let kind = text(existing.as_ref().map_or("webhook", |t| t.target.kind()));
    // URL (webhook, healthchecks) or server (ntfy); secret (webhook) or token (ntfy).
    let url = RwSignal::new(String::new());
    let topic = RwSignal::new(String::new());
    let secret = RwSignal::new(String::new());
    // E-mail: host, port, security, user, from, recipients (comma-separated).
    let port = RwSignal::new("587".to_string());
    let security = RwSignal::new("starttls".to_string());
    let user = RwSignal::new(String::new());
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let mut stored = Stored { id: existing.as_ref().map_or(0, |t| t.id), ..Stored::default() };
    match existing.map(|t| t.target) {
        Some(TargetSettings::Webhook(w)) => {
            stored.url_saved = w.url.set;
            stored.secret_saved = w.secret.is_some_and(|m| m.set);
            stored.headers = w.headers.into_keys().collect();
        }
        Some(TargetSettings::Ntfy(n)) => {
            url.set(n.server);
            topic.set(n.topic);
            stored.secret_saved = n.token.is_some_and(|m| m.set);
            stored.ntfy_user = n.user;
            stored.ntfy_password = n.password.is_some_and(|m| m.set);
        }
        Some(TargetSettings::Healthchecks(h)) => stored.url_saved = h.url.set,
        Some(TargetSettings::Email(e)) => {
            url.set(e.host);
            port.set(e.port.to_string());
            security.set(
                serde_json::to_value(e.security).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
            );
            user.set(e.user.unwrap_or_default());
            from.set(e.from);
            to.set(e.to.join(", "));
            stored.secret_saved = e.password.is_some_and(|m| m.set);
        }
        None => {}
    }
    let stored = StoredValue::new(stored);
    let initial_kind = StoredValue::new(editing.then(|| kind.get_untracked()));
    let error = RwSignal::new(None::<RpcError>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        let had = stored.get_value();
        let same_kind = !editing || Some(kind.get_untracked()) == initial_kind.get_value();
        // An empty secret field keeps what is stored (when there is something to keep).
        let optional = |v: String, saved: bool| match v.trim() {
            "" if saved && same_kind => Some(SecretInput::Keep),
            "" => None,
            _ => Some(SecretInput::Set(v)),
        };
        let required = |v: String, saved: bool| match v.trim() {
            "" if saved && same_kind => SecretInput::Keep,
            _ => SecretInput::Set(v),
        };
        let target = match kind.get_untracked().as_str() {
            "ntfy" => TargetSettings::Ntfy(Ntfy {
                server: url.get_untracked().trim().to_string(),
                topic: topic.get_untracked().trim().to_string(),
                token: optional(secret.get_untracked(), had.secret_saved),
                user: had.ntfy_user.clone().filter(|_| same_kind),
                password: (had.ntfy_password && same_kind).then_some(SecretInput::Keep),
            }),
            "healthchecks" => {
                TargetSettings::Healthchecks(Healthchecks { url: required(url.get_untracked(), had.url_saved) })
            }
            "email" => TargetSettings::Email(Email {
                host: url.get_untracked().trim().to_string(),
                port: match port.get_untracked().trim().parse() {
                    Ok(p) => p,
                    Err(_) => {
                        let e = protocol::FieldError::new("settings.port", "must be a number from 1 to 65535");
                        return error.set(Some(RpcError::invalid_params(vec![e])));
                    }
                },
                security: match security.get_untracked().as_str() {
                    "tls" => SmtpSecurity::Tls,
                    "none" => SmtpSecurity::None,
                    _ => SmtpSecurity::Starttls,
                },
                user: Some(user.get_untracked().trim().to_string()).filter(|u| !u.is_empty()),
                password: optional(secret.get_untracked(), had.secret_saved),
                from: from.get_untracked().trim().to_string(),
                to: to.get_untracked().split(',').map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect(),
            }),
            _ => TargetSettings::Webhook(Webhook {
                url: required(url.get_untracked(), had.url_saved),
                // Headers (set over the API or CLI) are kept as they are.
                headers: if same_kind {
                    had.headers.iter().map(|h| (h.clone(), SecretInput::Keep)).collect()
                } else {
                    BTreeMap::new()
                },
                secret: optional(secret.get_untracked(), had.secret_saved),
            }),
        };
        let params = TargetParams { name: name.get_untracked(), target };
        let problems = protocol::notify::check_target(&params);
        if !problems.is_empty() {
            return error.set(Some(RpcError::invalid_params(problems)));
        }
        leptos::task::spawn_local(async move {
            let saved = match editing {
                true => crate::rpc::call::<TargetUpdate>(TargetUpdateParams { id: had.id, target: params })
                    .await
                    .map(|_| ()),
                false => crate::rpc::call::<TargetCreate>(params).await.map(|_| ()),
            };
            match saved {
                Ok(()) => {
                    if !editing {
                        for s in [name, url, topic, secret] {
                            s.set(String::new());
                        }
                    }
                    on_done.run(());
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let err = move |field: &'static str| Signal::derive(move || error.get().and_then(|e| e.field_error(field)));
    let general = move || error.get().filter(|e| e.field_errors().is_empty()).map(|e| e.message);
    view! {
        <form on:submit=submit data-testid=if editing { "target-edit-form" } else { "target-form" }>
            <h4>{if editing { "Edit the target" } else { "Add a target" }}</h4>
            <TextField label="Name" testid="target-name" placeholder="ops webhook" value=name error=err("name")/>
            <label>"Kind"
                <select data-testid="target-kind" prop:value=move || kind.get() on:change=move |ev| kind.set(event_target_value(&ev))>
                    <option value="webhook">"Webhook (POST of a JSON document)"</option>
                    <option value="ntfy">"ntfy"</option>
                    <option value="healthchecks">"healthchecks.io-style pings"</option>
                    <option value="email">"E-mail (SMTP)"</option>
                </select>
            </label>
            <label>{move || match kind.get().as_str() {
                    "ntfy" => "Server, e.g. https://ntfy.sh",
                    "email" => "Mail server (SMTP host)",
                    _ => "URL (kept secret)",
                }}
                <input data-testid="target-url" prop:value=move || url.get() on:input=move |ev| url.set(event_target_value(&ev))
                    placeholder=move || (stored.get_value().url_saved && matches!(kind.get().as_str(), "webhook" | "healthchecks")).then_some("saved; type to replace")/>
                <FieldError error=Signal::derive(move || {
                    err("settings.url").get().or_else(|| err("settings.server").get()).or_else(|| err("settings.host").get())
                })/>
            </label>
            <Show when=move || kind.get() == "email">
                <div class="row">
                    <TextField label="Port" testid="target-port" value=port error=err("settings.port")/>
                    <label>"Security"
                        <select data-testid="target-security" prop:value=move || security.get() on:change=move |ev| security.set(event_target_value(&ev))>
                            <option value="starttls">"STARTTLS (port 587)"</option>
                            <option value="tls">"TLS (port 465)"</option>
                            <option value="none">"None (a trusted local relay only)"</option>
                        </select>
                    </label>
                </div>
                <label>"User (optional)"
                    <input data-testid="target-user" autocomplete="off" prop:value=move || user.get() on:input=move |ev| user.set(event_target_value(&ev))/>
                    <FieldError error=err("settings.user")/>
                </label>
                <TextField label="From" testid="target-from" placeholder="cloudsync@nas.example" value=from error=err("settings.from")/>
                <TextField label="To (comma-separated)" testid="target-to" value=to error=err("settings.to")/>
            </Show>
            <Show when=move || kind.get() == "ntfy">
                <TextField label="Topic" testid="target-topic" value=topic error=err("settings.topic")/>
            </Show>
            <Show when=move || kind.get() != "healthchecks">
                <label>{move || match kind.get().as_str() {
                    "ntfy" => "Access token (optional)",
                    "email" => "Password (optional, with a user)",
                    _ => "Signing secret (optional: adds X-Cloudsync-Signature)",
                }}
                    <input type="password" autocomplete="off" data-testid="target-secret" prop:value=move || secret.get() on:input=move |ev| secret.set(event_target_value(&ev))
                        placeholder=move || stored.get_value().secret_saved.then_some("saved; type to replace")/>
                </label>
            </Show>
            {move || general().map(|m| view! { <p class="error small">{m}</p> })}
            <button type="submit" class="primary" data-testid="target-add">{if editing { "Save target" } else { "Add target" }}</button>
        </form>
    }
}
