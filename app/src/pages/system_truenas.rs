//! "Import from TrueNAS" on the System page: a configuration backup file (the `.tar` of
//! Save Config, or `freenas-v1.db`; gzipped here by the browser, since a message to the
//! server is at most 1 MiB) or pasted `midclt` output, TrueNAS paths mapped to this
//! machine's, a preview (dry run) and the import, with the server's report.

use leptos::prelude::*;
use protocol::config::{ImportTruenas, PathMapping, TruenasImportParams, TruenasImportReport};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::rpc;

#[wasm_bindgen]
extern "C" {
    /// The browser's `CompressionStream` (web-sys has it only as an unstable API).
    #[wasm_bindgen(js_name = CompressionStream)]
    type Gzip;
    #[wasm_bindgen(constructor, js_class = "CompressionStream")]
    fn new(format: &str) -> Gzip;
}

/// The file's bytes gzipped by the browser, base64.
async fn gzipped_base64(file: web_sys::File) -> Result<String, String> {
    let pair: web_sys::ReadableWritablePair = Gzip::new("gzip").unchecked_into();
    let stream = file.stream().pipe_through(&pair);
    let response =
        web_sys::Response::new_with_opt_readable_stream(Some(&stream)).map_err(|_| "cannot read the file")?;
    let buffer = response.array_buffer().map_err(|_| "cannot read the file")?;
    let buffer = wasm_bindgen_futures::JsFuture::from(buffer).await.map_err(|_| "cannot compress the file")?;
    // btoa takes a "binary string": one character per byte.
    let binary: String = js_sys::Uint8Array::new(&buffer).to_vec().into_iter().map(char::from).collect();
    window().btoa(&binary).map_err(|_| "cannot encode the file".to_string())
}

/// "FROM=TO" lines; the line of a bad one is named.
fn path_map(text: &str) -> Result<Vec<PathMapping>, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.split_once('=')
                .map(|(from, to)| PathMapping { from: from.trim().into(), to: to.trim().into() })
                .ok_or_else(|| format!("“{l}” is not FROM=TO"))
        })
        .collect()
}

fn pasted(text: &str, what: &str) -> Result<Option<serde_json::Value>, String> {
    match text.trim() {
        "" => Ok(None),
        t => serde_json::from_str(t).map(Some).map_err(|e| format!("the {what} are not JSON: {e}")),
    }
}

#[component]
pub fn TruenasSection() -> impl IntoView {
    let file = RwSignal::new_local(None::<web_sys::File>);
    let credentials = RwSignal::new(String::new());
    let tasks = RwSignal::new(String::new());
    let map = RwSignal::new("/mnt=/mnt".to_string());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let report = RwSignal::new(None::<(bool, TruenasImportReport)>);
    let run = move |dry_run: bool| {
        error.set(None);
        report.set(None);
        let (chosen, credentials, tasks, map) =
            (file.get_untracked(), credentials.get_untracked(), tasks.get_untracked(), map.get_untracked());
        busy.set(true);
        leptos::task::spawn_local(async move {
            let params = async {
                let path_map = path_map(&map)?;
                let config = match chosen {
                    Some(f) => Some(gzipped_base64(f).await?),
                    None => None,
                };
                Ok::<_, String>(TruenasImportParams {
                    credentials: pasted(&credentials, "credentials")?,
                    tasks: pasted(&tasks, "tasks")?,
                    config,
                    path_map,
                    dry_run,
                })
            };
            match params.await {
                Err(e) => error.set(Some(e)),
                Ok(p) => match rpc::call::<ImportTruenas>(p).await {
                    Ok(r) => report.set(Some((dry_run, r))),
                    Err(e) => error.set(Some(e.to_string())),
                },
            }
            busy.set(false);
        });
    };
    view! {
        <section class="card narrow" data-testid="truenas">
            <h3>"Import from TrueNAS"</h3>
            <p class="muted small">
                "Brings TrueNAS's cloud credentials and cloud sync tasks over. Upload the file of System → General → Save Config "
                "(tick “Export Password Secret Seed” so the credentials' secrets come too), or paste what "
                <code>"midclt call cloudsync.credentials.query"</code> " and " <code>"midclt call cloudsync.query"</code>
                " print. Tasks come in disabled, each saying what to review; nothing runs until you enable it."
            </p>
            <label class="file">
                "TrueNAS configuration backup (.tar or freenas-v1.db)"
                <input type="file" data-testid="truenas-file" on:change=move |ev| {
                    let input: web_sys::HtmlInputElement = event_target(&ev);
                    file.set(input.files().and_then(|f| f.get(0)));
                }/>
            </label>
            <details>
                <summary>"Or paste midclt output"</summary>
                <label>"cloudsync.credentials.query"
                    <textarea rows="4" data-testid="truenas-credentials" prop:value=move || credentials.get()
                        on:input=move |ev| credentials.set(event_target_value(&ev))></textarea>
                </label>
                <label>"cloudsync.query"
                    <textarea rows="4" data-testid="truenas-tasks" prop:value=move || tasks.get()
                        on:input=move |ev| tasks.set(event_target_value(&ev))></textarea>
                </label>
            </details>
            <label>"TrueNAS paths here (FROM=TO, one per line; the longest FROM wins)"
                <textarea rows="2" data-testid="truenas-path-map" prop:value=move || map.get()
                    on:input=move |ev| map.set(event_target_value(&ev))></textarea>
            </label>
            <div class="row">
                <button type="button" data-testid="truenas-preview" prop:disabled=move || busy.get() on:click=move |_| run(true)>"Preview"</button>
                <button type="button" class="primary" data-testid="truenas-import" prop:disabled=move || busy.get() on:click=move |_| run(false)>"Import"</button>
            </div>
            {move || busy.get().then(|| view! { <p class="muted small">"Reading…"</p> })}
            {move || error.get().map(|e| view! { <p class="error" data-testid="truenas-error">{e}</p> })}
            {move || report.get().map(|(dry_run, r)| view! { <TruenasReport report=r dry_run/> })}
        </section>
    }
}

#[component]
fn TruenasReport(report: TruenasImportReport, dry_run: bool) -> impl IntoView {
    let list = |names: &[String]| if names.is_empty() { "none".to_string() } else { names.join(", ") };
    let verb = if dry_run { "Would import" } else { "Imported" };
    view! {
        <div class="report" data-testid="truenas-report" data-dry-run=dry_run.to_string()>
            <p class="ok" data-testid="truenas-report-credentials">{format!("{verb} credentials: {}", list(&report.credentials_imported))}</p>
            <p class="ok" data-testid="truenas-report-tasks">{format!("{verb} tasks, disabled: {}", list(&report.tasks_imported))}</p>
            {(!report.cannot_decrypt.is_empty()).then(|| view! {
                <p class="warning">{format!("Without their secrets (enter them again): {}", list(&report.cannot_decrypt))}</p>
            })}
            <ul class="small">
                {report.skipped.into_iter().map(|s| view! { <li class="warning" data-testid="truenas-skipped">{format!("Skipped “{}”: {}", s.name, s.reason)}</li> }).collect_view()}
                {report.warnings.into_iter().map(|w| view! { <li data-testid="truenas-warning">{format!("{}: {}", w.name, w.message)}</li> }).collect_view()}
            </ul>
        </div>
    }
}
