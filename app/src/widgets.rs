//! Small pieces several pages use.

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use leptos::prelude::*;
use protocol::{Method, RpcError};

use crate::rpc;

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

/// A checkbox bound to `value`, its label beside it.
#[component]
pub fn CheckBox(label: &'static str, value: RwSignal<bool>, testid: &'static str) -> impl IntoView {
    view! {
        <label class="check">
            <input type="checkbox" data-testid=testid
                prop:checked=move || value.get()
                on:change=move |ev| value.set(event_target_checked(&ev))/>
            {label}
        </label>
    }
}

/// A list loaded over the API, in its four states: "Loading…" while it loads, `empty`
/// when it has nothing, the error when it failed, `list` with the items otherwise.
/// `items` awaits the list's resource, and any other a row needs (names, say), so the
/// view waits for all of them: `items=move || async move { tasks.await }`.
#[component]
pub fn ListView<T, I, IF, E, EV, L, LV>(items: I, empty: E, list: L) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    I: Fn() -> IF + Copy + Send + Sync + 'static,
    IF: Future<Output = Result<Vec<T>, RpcError>> + Send + 'static,
    E: Fn() -> EV + Copy + Send + Sync + 'static,
    EV: IntoView + 'static,
    L: Fn(Vec<T>) -> LV + Copy + Send + Sync + 'static,
    LV: IntoView + 'static,
{
    loading(Arc::new(move || {
        Box::pin(async move {
            match items().await {
                Ok(l) if l.is_empty() => empty().into_any(),
                Ok(l) => list(l).into_any(),
                Err(e) => view! { <p class="error" data-testid="list-error">{e.to_string()}</p> }.into_any(),
            }
        })
    }))
}

/// A view loaded by `load`, "Loading…" until it is. Not generic: Leptos' transition
/// code is in the app once, not once per list.
fn loading(load: Arc<dyn Fn() -> Pin<Box<dyn Future<Output = AnyView> + Send>> + Send + Sync>) -> AnyView {
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(load())}
        </Transition>
    }
    .into_any()
}

/// Loads a page's lists again: resources made with [`Reload::call`] call their method
/// once more on every [`Reload::now`].
#[derive(Clone, Copy)]
pub struct Reload(RwSignal<u32>);

impl Reload {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Reload {
        Reload(RwSignal::new(0))
    }

    /// Loads again. Harmless once the page is gone (an answer can arrive late).
    pub fn now(self) {
        self.0.update(|n| *n += 1);
    }

    /// Makes the running effect (a view closure) run again on every reload.
    pub fn track(self) {
        self.0.track();
    }

    /// A resource with `M`'s answer to `params()`, called again on every reload.
    pub fn call<M>(self, params: impl Fn() -> M::Params + 'static) -> Answer<M>
    where
        M: Method + 'static,
    {
        Answer { text: text(Some(self), Box::new(move || rpc::call_json::<M>(&params()))), method: PhantomData }
    }
}

type Fetch = Box<dyn Fn() -> rpc::Pending>;

/// The one resource type behind every [`Answer`]: one copy of Leptos' resource code in
/// the app instead of one per method.
fn text(reload: Option<Reload>, fetch: Fetch) -> LocalResource<Result<String, RpcError>> {
    LocalResource::new(move || {
        if let Some(r) = reload {
            r.track();
        }
        fetch()
    })
}

/// `M`'s answer to `params`, loaded once (a page's lists that change use [`Reload::call`]).
pub fn load<M: Method + 'static>(params: M::Params) -> Answer<M> {
    Answer { text: text(None, Box::new(move || rpc::call_json::<M>(&params))), method: PhantomData }
}

/// `M`'s answer, loaded in the background by [`Reload::call`]: a page awaits it
/// (`tasks.await`) in as many views as need it. It is kept as the JSON text and decoded
/// where it is awaited.
pub struct Answer<M> {
    text: LocalResource<Result<String, RpcError>>,
    method: PhantomData<fn() -> M>,
}

impl<M: Method + 'static> Answer<M> {
    /// The answer once it is in (`None` before), tracked like a signal's value.
    pub fn get(&self) -> Option<Result<M::Output, RpcError>> {
        self.text.get().map(|text| text.and_then(|text| rpc::decode::<M>(&text)))
    }
}

impl<M> Clone for Answer<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M> Copy for Answer<M> {}

impl<M: Method + 'static> IntoFuture for Answer<M> {
    type Output = Result<M::Output, RpcError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.text.await.and_then(|text| rpc::decode::<M>(&text)) })
    }
}

/// Calls `M` in the background, then hands its answer to `ok`, or puts the error (with
/// its field errors) in `error`. By then the component may be gone (an event reloaded
/// the list it was in): `ok` must only set signals and `try_run` callbacks, never read
/// a signal with `get` or `run` a callback.
pub fn call_then<M>(params: M::Params, error: RwSignal<Option<String>>, ok: impl FnOnce(M::Output) + 'static)
where
    M: Method + 'static,
{
    error.set(None);
    let reply = rpc::call_json::<M>(&params);
    leptos::task::spawn_local(async move {
        match reply.await.and_then(|text| rpc::decode::<M>(&text)) {
            Ok(answer) => ok(answer),
            Err(e) => error.set(Some(e.to_string())),
        }
    });
}

/// A small line of `values` (oldest first) scaled to its own maximum, with `label`
/// and the newest value as its tooltip; nothing for fewer than two values.
#[component]
pub fn Sparkline(values: Vec<f64>, label: &'static str, newest: String) -> impl IntoView {
    const W: f64 = 80.0;
    const H: f64 = 16.0;
    (values.len() >= 2).then(|| {
        let max = values.iter().copied().fold(0.0_f64, f64::max).max(f64::MIN_POSITIVE);
        let step = W / (values.len() - 1) as f64;
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", i as f64 * step, H - 1.0 - v / max * (H - 2.0)))
            .collect();
        view! {
            <svg class="sparkline" data-testid="sparkline" data-label=label data-points=values.len()
                viewBox=format!("0 0 {W} {H}") width=W height=H role="img" aria-label=format!("{label}, last {} runs", values.len())>
                <title>{format!("{label} of the last {} runs; newest {newest}", values.len())}</title>
                <polyline points=points.join(" ")/>
            </svg>
        }
    })
}
