//! The configuration backup section of the System page: download a backup (optionally
//! with the secret seed, with a warning), and restore one from a file. The backup passes
//! through as JSON text (`rpc::call_json`): the server reads and checks it, not the page.

use leptos::prelude::*;
use protocol::config::{Export, ExportParams, Import, ImportReport};
use serde_json::value::RawValue;
use wasm_bindgen::{JsCast, JsValue};

use crate::rpc;
use crate::widgets::CheckBox;

#[component]
pub fn BackupSection() -> impl IntoView {
    let include_seed = RwSignal::new(false);
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let report = RwSignal::new(None::<ImportReport>);

    let download = move |_| {
        error.set(None);
        let include = include_seed.get_untracked();
        let password = include.then(|| password.get_untracked());
        leptos::task::spawn_local(async move {
            match rpc::call_json::<Export>(&ExportParams { include_secret_seed: include, password }).await {
                Ok(backup) => {
                    #[derive(serde::Deserialize)]
                    struct Stamp {
                        created_at: String,
                    }
                    let stamp = serde_json::from_str::<Stamp>(&backup).map(|s| s.created_at).unwrap_or_default();
                    let stamp = stamp.chars().take(19).collect::<String>().replace(':', "-");
                    let suffix = if include { "-with-seed" } else { "" };
                    if let Err(e) = save_file(&format!("cloudsync-backup-{stamp}{suffix}.json"), &indent_json(&backup))
                    {
                        error.set(Some(format!("cannot save the file: {e:?}")));
                    }
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };

    let restore = move |ev: leptos::ev::Event| {
        error.set(None);
        report.set(None);
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
        input.set_value("");
        leptos::task::spawn_local(async move {
            let text = match wasm_bindgen_futures::JsFuture::from(file.text()).await {
                Ok(t) => t.as_string().unwrap_or_default(),
                Err(_) => return error.set(Some("cannot read the file".into())),
            };
            let backup = match RawValue::from_string(text) {
                Ok(b) => b,
                Err(e) => return error.set(Some(format!("this file is not a cloudsync backup (not JSON: {e})"))),
            };
            // `config.import`'s params (`ImportParams`) with the file as its `backup`; the
            // e2e backup test fails should the two part.
            #[derive(serde::Serialize)]
            struct Params {
                backup: Box<RawValue>,
            }
            match rpc::call_json::<Import>(&Params { backup }).await.and_then(|r| rpc::decode::<Import>(&r)) {
                Ok(r) => report.set(Some(r)),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };

    view! {
        <section class="card narrow" data-testid="backup">
            <h3>"Configuration backup"</h3>
            <p class="muted small">"Credentials and tasks; their secrets stay encrypted in the backup. Without the secret seed, only this server can read them. Restored tasks come back disabled."</p>
            <CheckBox label="Include the secret seed" value=include_seed testid="backup-include-seed"/>
            <Show when=move || include_seed.get()>
                <p class="warning" data-testid="seed-warning">
                    "This file will contain the secret seed: anyone who has it can read every credential in it. Keep it as safe as a password."
                </p>
                <label>
                    "Your current password (to confirm)"
                    <input type="password" autocomplete="current-password" data-testid="backup-password"
                        prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
                </label>
            </Show>
            <button type="button" class="primary" data-testid="backup-download" on:click=download>"Download backup"</button>
            <label class="file">
                "Restore from a backup file"
                <input type="file" accept=".json,application/json" data-testid="backup-import-file" on:change=restore/>
            </label>
            <Show when=move || error.get().is_some()>
                <p class="error" data-testid="backup-error">{move || error.get().unwrap_or_default()}</p>
            </Show>
            {move || report.get().map(|r| view! { <Report report=r/> })}
        </section>
    }
}

#[component]
fn Report(report: ImportReport) -> impl IntoView {
    let list = |names: &[String]| names.join(", ");
    view! {
        <div class="report" data-testid="import-report">
            <p class="ok">{format!("Restored: {}", if report.imported.is_empty() { "none".to_string() } else { list(&report.imported) })}</p>
            {(!report.cannot_decrypt.is_empty()).then(|| view! {
                <p class="warning">{format!("Restored but unreadable without the backup's seed (enter their settings again): {}", list(&report.cannot_decrypt))}</p>
            })}
            {report.skipped.into_iter().map(|s| view! { <p class="warning">{format!("Skipped “{}”: {}", s.name, s.reason)}</p> }).collect_view()}
            {(!report.tasks_imported.is_empty()).then(|| view! {
                <p class="ok" data-testid="import-report-tasks">{format!("Tasks restored, disabled (check their folders, then enable them): {}", list(&report.tasks_imported))}</p>
            })}
            {report.tasks_skipped.into_iter().map(|s| view! { <p class="warning">{format!("Skipped task “{}”: {}", s.name, s.reason)}</p> }).collect_view()}
        </div>
    }
}

/// Compact JSON text indented by two spaces a level, byte for byte otherwise: the file
/// keeps the server's member order and numbers exactly.
fn indent_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n("  ", depth));
    };
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                // An empty object or array stays on its line.
                if matches!(chars.peek(), Some('}' | ']')) {
                    out.push(chars.next().unwrap_or(c));
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

/// Offers `text` to the browser as a file download.
pub fn save_file(name: &str, text: &str) -> Result<(), JsValue> {
    save_file_with_type(name, text, "application/json")
}

/// The same with a MIME type.
pub fn save_file_with_type(name: &str, text: &str, mime: &str) -> Result<(), JsValue> {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let a: web_sys::HtmlAnchorElement = document().create_element("a")?.unchecked_into();
    a.set_href(&url);
    a.set_download(name);
    a.click();
    web_sys::Url::revoke_object_url(&url)
}
