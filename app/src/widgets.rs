//! Small pieces several pages use.

use leptos::prelude::*;

/// A field's error message, shown next to its input when there is one.
#[component]
pub fn FieldError(error: Signal<Option<String>>) -> impl IntoView {
    view! {
        <Show when=move || error.get().is_some()>
            <span class="field-error">{move || error.get().unwrap_or_default()}</span>
        </Show>
    }
}

/// A labelled one-line text input bound to `value`, with its field's error under it.
#[component]
pub fn TextField(
    label: &'static str,
    value: RwSignal<String>,
    testid: &'static str,
    #[prop(optional)] placeholder: &'static str,
    error: Signal<Option<String>>,
) -> impl IntoView {
    view! {
        <label>
            {label}
            <input data-testid=testid placeholder=placeholder prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
            <FieldError error=error/>
        </label>
    }
}
