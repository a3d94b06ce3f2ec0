//! Small pieces several pages use.

use leptos::prelude::*;
use protocol::RpcError;

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

/// A list loaded over the API, in its four states: "Loading…" while it loads, `empty`
/// when it has nothing, the error when it failed, `list` with the items otherwise.
#[component]
pub fn ListView<T, E, EV, L, LV>(items: LocalResource<Result<Vec<T>, RpcError>>, empty: E, list: L) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    E: Fn() -> EV + Copy + Send + Sync + 'static,
    EV: IntoView + 'static,
    L: Fn(Vec<T>) -> LV + Copy + Send + Sync + 'static,
    LV: IntoView + 'static,
{
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match items.await {
                    Ok(l) if l.is_empty() => empty().into_any(),
                    Ok(l) => list(l).into_any(),
                    Err(e) => view! { <p class="error" data-testid="list-error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}
