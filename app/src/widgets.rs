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
