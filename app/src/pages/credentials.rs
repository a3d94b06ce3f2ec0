//! The Credentials page: the list with each credential's state, verify and delete; the
//! add/edit form is `credential_form`.

use leptos::prelude::*;
use protocol::credentials::{
    CloudCredential, CredentialState, Delete, IdParams, List, Verify, VerifyParams, VerifyResult,
};
use protocol::providers;
use protocol::Empty;

use super::credential_form::CredentialForm;
use crate::rpc;
use crate::widgets::{call_then, ListView, Reload};

/// What the form is open for.
#[derive(Clone, PartialEq)]
pub enum Editing {
    New,
    Existing(CloudCredential),
}

#[component]
pub fn CredentialsPage() -> impl IntoView {
    let reload = Reload::new();
    let credentials = reload.call::<List>(|| Empty {});
    let providers = crate::widgets::load::<providers::List>(Empty {});
    let editing = RwSignal::new(None::<Editing>);
    let notice = RwSignal::new(None::<String>);

    let done = move |message: Option<String>| {
        editing.set(None);
        notice.set(message);
        reload.now();
    };

    view! {
        <section data-testid="page-credentials">
            <div class="heading">
                <h2>"Cloud credentials"</h2>
                <button class="primary inline" data-testid="add-credential"
                    on:click=move |_| { notice.set(None); editing.set(Some(Editing::New)); }>
                    "Add credential"
                </button>
            </div>
            <Show when=move || notice.get().is_some()>
                <p class="ok" data-testid="credentials-notice">{move || notice.get().unwrap_or_default()}</p>
            </Show>
            {move || editing.get().map(|e| view! {
                <Transition fallback=|| view! { <p class="muted">"Loading providers…"</p> }>
                    {move || {
                        let e = e.clone();
                        Suspend::new(async move {
                            match providers.await {
                                Ok(list) => view! {
                                    <CredentialForm providers=list editing=e
                                        on_done=Callback::new(move |m: Option<String>| done(m))/>
                                }.into_any(),
                                Err(err) => view! { <p class="error">{err.to_string()}</p> }.into_any(),
                            }
                        })
                    }}
                </Transition>
            })}
            <ListView items=move || async move { credentials.await }
                empty=|| view! { <p class="muted" data-testid="no-credentials">"No credentials yet. Add one to start syncing."</p> }
                list=move |list| view! {
                    <CredentialTable list=list
                        on_edit=Callback::new(move |c| { notice.set(None); editing.set(Some(Editing::Existing(c))); })
                        on_changed=Callback::new(move |m| done(m))/>
                }/>
        </section>
    }
}

#[component]
fn CredentialTable(
    list: Vec<CloudCredential>,
    on_edit: Callback<CloudCredential>,
    on_changed: Callback<Option<String>>,
) -> impl IntoView {
    view! {
        <table class="list" data-testid="credential-list">
            <thead><tr><th>"Name"</th><th>"Provider"</th><th>"State"</th><th></th></tr></thead>
            <tbody>
                {list.into_iter().map(|c| view! { <CredentialRow credential=c on_edit=on_edit on_changed=on_changed/> }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn CredentialRow(
    credential: CloudCredential,
    on_edit: Callback<CloudCredential>,
    on_changed: Callback<Option<String>>,
) -> impl IntoView {
    let id = credential.id;
    let name = credential.name.clone();
    let checking = RwSignal::new(false);
    let result = RwSignal::new(None::<VerifyResult>);
    let error = RwSignal::new(None::<String>);
    let badge = RwSignal::new(match (&credential.state, &credential.last_verification) {
        (CredentialState::CannotDecrypt, _) => ("badge bad", "cannot decrypt"),
        (CredentialState::NeedsReconnect, _) => ("badge bad", "needs reconnect"),
        (_, Some(v)) if v.ok => ("badge ok", "verified"),
        (_, Some(_)) => ("badge bad", "verification failed"),
        (_, None) => ("badge", "not verified"),
    });
    let problem =
        credential.problem.clone().or_else(|| credential.last_verification.as_ref().and_then(|v| v.reason.clone()));
    let verify = move |_| {
        checking.set(true);
        result.set(None);
        leptos::task::spawn_local(async move {
            match rpc::call::<Verify>(VerifyParams { id: Some(id), ..Default::default() }).await {
                Ok(r) => {
                    badge.set(if r.ok { ("badge ok", "verified") } else { ("badge bad", "verification failed") });
                    result.set(Some(r));
                }
                Err(e) => error.set(Some(e.message)),
            }
            checking.set(false);
        });
    };
    let delete_name = name.clone();
    let delete = move |_| {
        let question = format!("Delete the credential “{delete_name}”? Tasks cannot use it afterwards.");
        if !window().confirm_with_message(&question).unwrap_or(false) {
            return;
        }
        let deleted = delete_name.clone();
        call_then::<Delete>(IdParams { id }, error, move |_| {
            on_changed.try_run(Some(format!("Deleted “{deleted}”.")));
        });
    };
    let edit_target = credential.clone();
    view! {
        <tr data-testid="credential-row" data-name=name.clone()>
            <td data-label="Name"><strong>{name.clone()}</strong></td>
            <td data-label="Provider">{credential.provider.clone()}</td>
            <td data-label="State">
                <span class=move || badge.get().0 data-testid="credential-state">{move || badge.get().1}</span>
                {problem.map(|p| view! { <div class="small muted">{p}</div> })}
                {move || result.get().map(|r| view! { <VerifyOutcome result=r/> })}
                {move || error.get().map(|e| view! { <div class="error small">{e}</div> })}
            </td>
            <td class="actions">
                <button on:click=verify disabled=move || checking.get() data-testid="row-verify">
                    {move || if checking.get() { "Checking…" } else { "Verify" }}
                </button>
                <button on:click=move |_| on_edit.run(edit_target.clone()) data-testid="row-edit">"Edit"</button>
                <button class="danger" on:click=delete data-testid="row-delete">"Delete"</button>
            </td>
        </tr>
    }
}

#[component]
pub(super) fn VerifyOutcome(result: VerifyResult) -> impl IntoView {
    if result.ok {
        view! { <p class="ok" data-testid="verify-result">"Connection works."</p> }.into_any()
    } else {
        let reason = result.reason.unwrap_or_default();
        view! { <p class="error" data-testid="verify-result">"Connection failed: " {reason}</p> }.into_any()
    }
}
