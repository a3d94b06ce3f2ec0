//! One option of a credential form: the input that fits its kind in rclone's schema
//! (a choice for booleans and exclusive lists, a text area for a PEM key, a masked input
//! with a show toggle for other secrets, a text input with suggestions otherwise), its
//! help line, and its error: the schema's own check as the user types, or the server's.

use std::collections::BTreeMap;

use leptos::prelude::*;
use protocol::providers::{self, ProviderOption};

use crate::widgets::FieldError;

/// One option of the provider's schema as an input. `sub` is the chosen sub-provider,
/// which decides the examples offered.
#[component]
pub(super) fn OptionField(
    option: ProviderOption,
    values: RwSignal<BTreeMap<String, String>>,
    saved_secret: bool,
    sub: Option<String>,
    error: Signal<Option<String>>,
) -> impl IntoView {
    let mut option = option;
    option.examples.retain(|e| providers::filter_matches(e.provider.as_deref(), sub.as_deref()));
    let name = option.name.clone();
    let key = StoredValue::new(option.name.clone());
    let value = move || values.with(|v| v.get(&key.get_value()).cloned().unwrap_or_default());
    let set = move |v: String| {
        values.update(|m| {
            m.insert(key.get_value(), v);
        })
    };
    let help = option.help.lines().next().unwrap_or_default().to_string();
    let show = RwSignal::new(false);
    let local_error = {
        let option = option.clone();
        move || {
            let v = value();
            if v.is_empty() {
                None
            } else {
                option.check_value(&v).err()
            }
        }
    };
    let shown_error = Signal::derive(move || local_error().or_else(|| error.get()));
    let label = if option.required { format!("{} *", option.name) } else { option.name.clone() };
    let placeholder = if saved_secret {
        "saved; type to replace".to_string()
    } else if option.default.is_empty() {
        String::new()
    } else {
        format!("default: {}", option.default)
    };
    let testid = format!("opt-{}", option.name);

    let input = if option.kind == "bool" {
        let default = option.default.clone();
        view! {
            <select data-testid=testid prop:value=value on:change=move |ev| set(event_target_value(&ev))>
                <option value="">{format!("default ({default})")}</option>
                <option value="true">"true"</option>
                <option value="false">"false"</option>
            </select>
        }
        .into_any()
    } else if (option.exclusive || option.name == "provider") && !option.examples.is_empty() {
        let examples = option.examples.clone();
        view! {
            <select data-testid=testid prop:value=value on:change=move |ev| set(event_target_value(&ev))>
                <option value="">"Choose…"</option>
                {examples.into_iter().map(|e| {
                    let text = if e.help.is_empty() { e.value.clone() } else { format!("{} — {}", e.value, e.help) };
                    view! { <option value=e.value>{text}</option> }
                }).collect_view()}
            </select>
        }
        .into_any()
    } else if option.name.ends_with("_pem") {
        // A key pasted as it is in its file: a one-line input would drop its line ends.
        // Not masked (it is on the user's screen in its file anyway), never shown back.
        view! {
            <textarea data-testid=testid autocomplete="off" spellcheck="false" rows="4" placeholder=placeholder
                prop:value=value on:input=move |ev| set(event_target_value(&ev))></textarea>
        }
        .into_any()
    } else if option.secret {
        view! {
            <span class="secret">
                <input data-testid=testid autocomplete="off" placeholder=placeholder
                    type=move || if show.get() { "text" } else { "password" }
                    prop:value=value on:input=move |ev| set(event_target_value(&ev))/>
                <button type="button" class="link" on:click=move |_| show.update(|s| *s = !*s)>
                    {move || if show.get() { "Hide" } else { "Show" }}
                </button>
            </span>
        }
        .into_any()
    } else {
        let list_id = format!("examples-{name}");
        let examples = option.examples.clone();
        let has_examples = !examples.is_empty();
        view! {
            <input data-testid=testid placeholder=placeholder list=has_examples.then(|| list_id.clone())
                prop:value=value on:input=move |ev| set(event_target_value(&ev))/>
            {has_examples.then(|| view! {
                <datalist id=list_id>
                    {examples.into_iter().map(|e| view! { <option value=e.value>{e.help}</option> }).collect_view()}
                </datalist>
            })}
        }
        .into_any()
    };

    view! {
        <label class="option">
            <span>{label}</span>
            {input}
            <span class="help small muted">{help}</span>
            <FieldError error=shown_error/>
        </label>
    }
}
