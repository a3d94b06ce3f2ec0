//! The task form: credential picker, a folder picker that browses the remote, local
//! path, filters, bandwidth timetable, encryption, scripts, and the schedule from
//! `task_schedule`; the fields themselves are `task_fields`.

use leptos::prelude::*;
use protocol::credentials::{Browse, BrowseParams, CloudCredential, CredentialState, RemoteEntry};
use protocol::tasks::{Create, Direction, SyncTask, TransferMode, Update as UpdateTask, UpdateParams};
use protocol::RpcError;

use super::task_fields::TaskFields;
use super::task_schedule::ScheduleEditor;
use crate::rpc;
use crate::widgets::{CheckBox, FieldError, TextField};

/// The form, the schedule editor and the cron code behind its preview are a module of
/// their own (`#[lazy]`, split off by `scripts/build-app`): the task list opens without
/// them, and they are fetched in the background (`shell::preload_pages`) or when "Add
/// task" or "Edit" is clicked before that.
#[lazy]
pub fn task_editor(
    credentials: Vec<CloudCredential>,
    existing: Option<SyncTask>,
    on_done: Callback<Option<String>>,
) -> AnyView {
    view! { <TaskForm credentials existing on_done/> }.into_any()
}

#[component]
pub fn TaskForm(
    credentials: Vec<CloudCredential>,
    existing: Option<SyncTask>,
    on_done: Callback<Option<String>>,
) -> impl IntoView {
    let usable: Vec<CloudCredential> = credentials.into_iter().filter(|c| c.state == CredentialState::Ok).collect();
    let fields = TaskFields::new(existing.as_ref(), usable.first().map(|c| c.id));
    let TaskFields {
        description,
        credential,
        direction,
        mode,
        path,
        bucket,
        folder,
        include,
        exclude,
        transfers,
        follow_symlinks,
        empty_dirs,
        max_delete,
        allow_empty_source,
        max_delete_percent,
        keep_deleted,
        keep_deleted_days,
        verify,
        retry_attempts,
        retry_delay,
        catch_up,
        extra_flags,
        notify_targets,
        notify_on,
        enabled,
        encryption,
        filename_encryption,
        password,
        salt,
        password_saved,
        salt_saved,
        pre_script,
        post_script,
        schedule,
        bw_rows,
        ..
    } = fields;
    let error = RwSignal::new(None::<RpcError>);
    let local_error = RwSignal::new(None::<(String, String)>);
    let busy = RwSignal::new(false);
    let existing_id = existing.as_ref().map(|t| t.id);

    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        local_error.set(None);
        let p = match fields.to_params() {
            Ok(p) => p,
            Err(e) => return local_error.set(Some(e)),
        };
        let problems = protocol::tasks::check_task(&p);
        if let Some(first) = problems.first() {
            local_error.set(Some((first.field.clone(), first.message.clone())));
            error.set(Some(RpcError::invalid_params(problems)));
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            let outcome = match existing_id {
                Some(id) => rpc::call::<UpdateTask>(UpdateParams { id, task: p }).await,
                None => rpc::call::<Create>(p).await,
            };
            busy.set(false);
            match outcome {
                Ok(t) => {
                    // The row may be gone (a state event reloaded the list first).
                    on_done.try_run(Some(format!("Saved “{}”.", t.description)));
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };

    let err = move |field: &'static str| {
        Signal::derive(move || {
            local_error
                .get()
                .filter(|(f, _)| f == field)
                .map(|(_, m)| m)
                .or_else(|| error.get().and_then(|e| e.field_error(field)))
        })
    };
    // For list fields (`include[2]`, `bwlimit[1].time`): the first error of any entry.
    let first_err = move |prefix: &'static str| {
        Signal::derive(move || {
            local_error.get().filter(|(f, _)| f.starts_with(prefix)).map(|(_, m)| m).or_else(|| {
                error
                    .get()
                    .and_then(|e| e.field_errors().into_iter().find(|f| f.field.starts_with(prefix)).map(|f| f.message))
            })
        })
    };
    let general = move || error.get().filter(|e| e.field_errors().is_empty()).map(|e| e.message);
    let text_input = move |label: &'static str,
                           value: RwSignal<String>,
                           testid: &'static str,
                           field: &'static str,
                           placeholder: &'static str| {
        view! { <TextField label value testid placeholder error=err(field)/> }
    };
    let check = move |label: &'static str, value: RwSignal<bool>, testid: &'static str| {
        view! { <CheckBox label value testid/> }
    };
    let title = if existing_id.is_some() { "Edit task" } else { "Add task" };
    let cred_options = usable.clone();
    // Notes on the chosen credential's provider, as the settings stand.
    let warnings = move || {
        let chosen = credential.get();
        let cred = usable.iter().find(|c| c.id.to_string() == chosen)?;
        let class = match cred.attributes.get("storage_class") {
            Some(protocol::credentials::AttributeValue::Plain(c)) => Some(c.clone()),
            _ => None,
        };
        let list = protocol::tasks::provider_warnings(
            &cred.provider,
            class.as_deref(),
            direction.get(),
            mode.get(),
            encryption.get(),
            filename_encryption.get(),
        );
        (!list.is_empty()).then(|| {
            view! {
                <div class="card warning small" data-testid="task-warnings">
                    {list.into_iter().map(|w| view! { <p>{w}</p> }).collect_view()}
                </div>
            }
        })
    };

    view! {
        <form class="card form" on:submit=save data-testid="task-form">
            <h3>{title}</h3>
            {text_input("Description", description, "task-description", "description", "")}
            <label>
                "Credential"
                <select data-testid="task-credential" prop:value=move || credential.get() on:change=move |ev| credential.set(event_target_value(&ev))>
                    {cred_options.into_iter().map(|c| view! { <option value=c.id.to_string()>{format!("{} ({})", c.name, c.provider)}</option> }).collect_view()}
                </select>
                <FieldError error=err("credentials")/>
            </label>
            <div class="row">
                <label>
                    "Direction"
                    <select data-testid="task-direction"
                        prop:value=move || if direction.get() == Direction::Push { "PUSH" } else { "PULL" }
                        on:change=move |ev| direction.set(if event_target_value(&ev) == "PULL" { Direction::Pull } else { Direction::Push })>
                        <option value="PUSH">"Push: local → cloud"</option>
                        <option value="PULL">"Pull: cloud → local"</option>
                    </select>
                </label>
                <label>
                    "Transfer mode"
                    <select data-testid="task-mode"
                        prop:value=move || match mode.get() { TransferMode::Sync => "SYNC", TransferMode::Copy => "COPY", TransferMode::Move => "MOVE" }
                        on:change=move |ev| mode.set(match event_target_value(&ev).as_str() { "SYNC" => TransferMode::Sync, "MOVE" => TransferMode::Move, _ => TransferMode::Copy })>
                        <option value="COPY">"Copy: new and changed files"</option>
                        <option value="SYNC">"Sync: make the destination identical"</option>
                        <option value="MOVE">"Move: copy, then delete from the source"</option>
                    </select>
                </label>
            </div>
            <Show when=move || mode.get() == TransferMode::Sync>
                <p class="warning small">"Sync deletes files at the destination that are not in the source."</p>
            </Show>
            {text_input("Local folder", path, "task-path", "path", "/srv/data")}
            <div class="row">
                {text_input("Bucket", bucket, "task-bucket", "attributes.bucket", "for S3, B2, Azure, GCS…")}
                {text_input("Folder", folder, "task-folder", "attributes.folder", "")}
            </div>
            <FolderPicker credential=credential bucket=bucket folder=folder/>
            <div class="row">
                <label>
                    "Include (one pattern per line)"
                    <textarea data-testid="task-include" prop:value=move || include.get() on:input=move |ev| include.set(event_target_value(&ev))></textarea>
                    <FieldError error=first_err("include[")/>
                </label>
                <label>
                    "Exclude (one pattern per line)"
                    <textarea data-testid="task-exclude" prop:value=move || exclude.get() on:input=move |ev| exclude.set(event_target_value(&ev))></textarea>
                    <FieldError error=first_err("exclude[")/>
                </label>
            </div>
            <fieldset>
                <legend>"Bandwidth limit"</legend>
                <p class="muted small">"From each time on, at most this many MiB/s; empty means unlimited."</p>
                <For each=move || bw_rows.get() key=|r| r.key let:r>
                    <div class="row bw" data-testid="bw-row">
                        <input placeholder="HH:MM" data-testid="bw-time" prop:value=move || r.time.get() on:input=move |ev| r.time.set(event_target_value(&ev))/>
                        <input placeholder="MiB/s" data-testid="bw-rate" prop:value=move || r.mibps.get() on:input=move |ev| r.mibps.set(event_target_value(&ev))/>
                        <button type="button" on:click=move |_| bw_rows.update(|rows| rows.retain(|x| x.key != r.key))>"Remove"</button>
                    </div>
                </For>
                <FieldError error=first_err("bwlimit[")/>
                <button type="button" data-testid="bw-add" on:click=move |_| fields.add_bw_row(String::new(), String::new())>"Add a time"</button>
            </fieldset>
            <fieldset>
                <legend>"Encryption (rclone crypt)"</legend>
                {check("Encrypt files on the remote", encryption, "task-encryption")}
                <Show when=move || encryption.get()>
                    {check("Encrypt file names too", filename_encryption, "task-filename-encryption")}
                    <label>
                        "Password"
                        <input type="password" autocomplete="new-password" data-testid="task-crypt-password"
                            placeholder=if password_saved { "saved; type to replace" } else { "" }
                            prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
                        <FieldError error=err("encryption_password")/>
                    </label>
                    <label>
                        "Salt (optional, a second password)"
                        <input type="password" autocomplete="off" data-testid="task-crypt-salt"
                            placeholder=if salt_saved { "saved; type to replace" } else { "" }
                            prop:value=move || salt.get() on:input=move |ev| salt.set(event_target_value(&ev))/>
                    </label>
                    <p class="muted small">"Keep the password safe: without it, the encrypted files cannot be restored."</p>
                </Show>
            </fieldset>
            <fieldset>
                <legend>"Keeping data safe"</legend>
                {check("Verify after each run: compare the destination with the source by content (reads every file; catches what size and time miss)", verify, "task-verify")}
                {check("Keep deleted and overwritten files instead of losing them", keep_deleted, "task-keep-deleted")}
                <Show when=move || keep_deleted.get()>
                    <p class="muted small" data-testid="task-kept-where">{move || kept_where(direction.get(), encryption.get(), &bucket.get(), &folder.get(), &path.get())}</p>
                    {text_input("Remove kept files after (days)", keep_deleted_days, "task-keep-deleted-days", "keep_deleted_days", "keep forever")}
                </Show>
                <div class="row">
                    {text_input("Retry a failed run (times, 0 to 10)", retry_attempts, "task-retry-attempts", "retry.attempts", "0")}
                    {text_input("First retry after (seconds; each next one waits twice as long)", retry_delay, "task-retry-delay", "retry.delay_seconds", "60")}
                </div>
            </fieldset>
            {warnings}
            <ScheduleEditor fields=schedule/>
            {check("Catch up: when the server was down at a scheduled start, run once when it is back", catch_up, "task-catch-up")}
            <NotifyFields targets=notify_targets on=notify_on/>
            <details class="advanced">
                <summary>"Advanced"</summary>
                <div class="row">
                    {text_input("Parallel transfers", transfers, "task-transfers", "transfers", "4")}
                    {text_input("Delete at most (files per run)", max_delete, "task-max-delete", "max_delete", "no limit")}
                    {text_input("Stop a sync that would delete more than (% of the destination's files)", max_delete_percent, "task-max-delete-percent", "max_delete_percent", "no limit")}
                </div>
                <Show when=move || mode.get() != TransferMode::Copy>
                    {check("Allow an empty source (else a sync or move from a folder with no files stops before deleting anything: an unmounted disk looks empty)", allow_empty_source, "task-allow-empty-source")}
                </Show>
                {text_input("Extra rclone flags (from a safe list: --checksum, --fast-list, --s3-storage-class=…)", extra_flags, "task-extra-flags", "extra_flags", "none")}
                {check("Follow symbolic links", follow_symlinks, "task-follow-symlinks")}
                {check("Create empty folders", empty_dirs, "task-empty-dirs")}
                <label>
                    "Pre-script (runs before the transfer; a failure stops the run)"
                    <textarea data-testid="task-pre-script" prop:value=move || pre_script.get() on:input=move |ev| pre_script.set(event_target_value(&ev))></textarea>
                </label>
                <label>
                    "Post-script (runs after a successful transfer)"
                    <textarea data-testid="task-post-script" prop:value=move || post_script.get() on:input=move |ev| post_script.set(event_target_value(&ev))></textarea>
                </label>
            </details>
            {check("Enabled", enabled, "task-enabled")}
            <Show when=move || general().is_some()>
                <p class="error" data-testid="task-form-error">{move || general().unwrap_or_default()}</p>
            </Show>
            <div class="buttons">
                <button type="submit" class="primary inline" data-testid="task-save" disabled=move || busy.get()>"Save"</button>
                <button type="button" on:click=move |_| on_done.run(None)>"Cancel"</button>
            </div>
        </form>
    }
}

/// Which notification targets hear about the task's runs, and when.
#[component]
pub fn NotifyFields(
    targets: RwSignal<Vec<i64>>,
    on: RwSignal<protocol::notify::NotifyOn>,
    #[prop(default = "Notifications")] legend: &'static str,
) -> impl IntoView {
    use protocol::notify::NotifyOn;
    let known = crate::widgets::load::<protocol::notify::TargetList>(protocol::Empty {});
    let on_value = move || match on.get() {
        NotifyOn::Failure => "failure",
        NotifyOn::Always => "always",
        NotifyOn::Never => "never",
    };
    view! {
        <fieldset data-testid="task-notify">
            <legend>{legend}</legend>
            <Suspense fallback=|| view! { <p class="muted small">"Loading targets…"</p> }>
                {move || known.get().map(|list| match list {
                    Ok(list) if list.is_empty() => view! {
                        <p class="muted small">"No notification targets yet: add them on the System page."</p>
                    }.into_any(),
                    Ok(list) => list.into_iter().map(|t| {
                        let id = t.id;
                        view! {
                            <label class="check">
                                <input type="checkbox" data-testid="task-notify-target" data-name=t.name.clone()
                                    prop:checked=move || targets.get().contains(&id)
                                    on:change=move |ev| {
                                        let checked = event_target_checked(&ev);
                                        targets.update(|ts| {
                                            ts.retain(|x| *x != id);
                                            if checked { ts.push(id); }
                                        });
                                    }/>
                                {format!("{} ({})", t.name, t.target.kind())}
                            </label>
                        }
                    }).collect_view().into_any(),
                    Err(e) => view! { <p class="error small">{e.message}</p> }.into_any(),
                })}
            </Suspense>
            <label>
                "Tell them"
                <select data-testid="task-notify-on" prop:value=on_value on:change=move |ev| on.set(match event_target_value(&ev).as_str() {
                    "always" => NotifyOn::Always,
                    "never" => NotifyOn::Never,
                    _ => NotifyOn::Failure,
                })>
                    <option value="failure">"when a run fails (and when it works again)"</option>
                    <option value="always">"after every run"</option>
                    <option value="never">"never (healthchecks targets still get their pings)"</option>
                </select>
            </label>
        </fieldset>
    }
}

/// Where a run's kept files go, as the server puts them (`protocol::tasks::kept_beside`).
fn kept_where(direction: Direction, encryption: bool, bucket: &str, folder: &str, path: &str) -> String {
    let remote = [bucket.trim(), folder.trim().trim_matches('/')]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("/");
    let place = if protocol::tasks::kept_beside(direction, encryption, folder) {
        format!("{remote}{}/", protocol::tasks::KEPT_SUFFIX)
    } else {
        let dst = if direction == Direction::Push { remote } else { path.trim().trim_end_matches('/').to_string() };
        format!("{dst}/{}/ (left alone by every sync)", protocol::tasks::KEPT_FOLDER)
    };
    format!("Each run that deletes or overwrites files moves them to {place} in a folder named after the run's start (UTC), e.g. 2026-12-01T030000Z. Point a PULL task at one to bring files back.")
}

/// Browses the chosen credential's remote: buckets at the root, then folders; a click
/// goes down and sets the bucket and folder fields.
#[component]
fn FolderPicker(credential: RwSignal<String>, bucket: RwSignal<String>, folder: RwSignal<String>) -> impl IntoView {
    let entries = RwSignal::new(None::<Result<Vec<RemoteEntry>, String>>);
    let at = RwSignal::new(String::new());
    let load = move |path: String| {
        let Ok(id) = credential.get_untracked().parse::<i64>() else { return };
        at.set(path.clone());
        entries.set(None);
        leptos::task::spawn_local(async move {
            entries.set(Some(rpc::call::<Browse>(BrowseParams { id, path }).await.map_err(|e| e.message)));
        });
    };
    let choose = move |p: String| {
        let (b, f) = match p.split_once('/') {
            Some((b, f)) => (b.to_string(), f.to_string()),
            None => (p.clone(), String::new()),
        };
        bucket.set(b);
        folder.set(f);
        load(p);
    };
    let open = RwSignal::new(false);
    view! {
        <div class="picker">
            <button type="button" data-testid="browse-remote" on:click=move |_| { open.set(true); load(String::new()); }>"Browse the remote…"</button>
            <Show when=move || open.get()>
                <div class="card picker-list" data-testid="folder-picker">
                    <p class="small">"In: " <code>{move || if at.get().is_empty() { "/".to_string() } else { at.get() }}</code></p>
                    {move || match entries.get() {
                        None => view! { <p class="muted small">"Listing…"</p> }.into_any(),
                        Some(Err(e)) => view! { <p class="error small">{e}</p> }.into_any(),
                        Some(Ok(list)) if list.is_empty() => view! { <p class="muted small">"No folders here."</p> }.into_any(),
                        Some(Ok(list)) => view! {
                            <ul>
                                {list.into_iter().map(|e| {
                                    let p = e.path.clone();
                                    view! { <li><button type="button" class="link" data-testid="picker-entry" on:click=move |_| choose(p.clone())>{e.name}</button></li> }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                    }}
                    <button type="button" class="link" on:click=move |_| open.set(false)>"Done"</button>
                </div>
            </Show>
        </div>
    }
}
