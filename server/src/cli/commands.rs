//! One function per client command: build the params, call, print a table or (with
//! `--json`) the raw result. It stays one file the way ripgrep's flag definitions do:
//! each function is independent and short, and a reader looks for one command, not a
//! stage. Every call is typed (`call::<M>`); the commands that take a JSON document
//! from `--from` or a backup file send it as written (`call_document::<M>`), so the
//! server judges it and names the field at fault.

use std::io::{BufRead, IsTerminal, Read, Write};

use protocol::auth::{Login, LoginParams, Logout, TokenCreate, TokenCreateParams, TokenList, TokenRevoke};
use protocol::config;
use protocol::credentials::{self as creds, IdParams};
use protocol::runs::{self, RunParams, RunState, RunTask};
use protocol::schedule::{Preview, PreviewParams};
use protocol::tasks;
use protocol::Empty;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::follow::{follow, Followed};
use super::profile::{self, Profile};
use super::{
    table, CliError, ClientCommand, ConfigCommand, CredentialCommand, FromFile, Global, ProviderCommand, RunCommand,
    ScheduleCommand, Session, SystemCommand, TaskCommand, TaskFields, TokenCommand,
};

pub async fn run(command: ClientCommand, global: Global) -> Result<(), CliError> {
    match command {
        ClientCommand::Login { username, password_stdin } => login(&global, username, password_stdin).await,
        ClientCommand::Logout => logout(&global).await,
        ClientCommand::Provider(c) => provider(&global, c).await,
        ClientCommand::Credential(c) => credential(&global, c).await,
        ClientCommand::Task(c) => task(&global, c).await,
        ClientCommand::Run(c) => run_command(&global, c).await,
        ClientCommand::Schedule(c) => schedule(&global, c).await,
        ClientCommand::Config(c) => config(&global, c).await,
        ClientCommand::System(SystemCommand::Info) => system_info(&global).await,
        ClientCommand::Token(c) => token(&global, c).await,
        ClientCommand::Notify(c) => super::notify::run(&global, c).await,
    }
}

/// Prints `value` as JSON, or calls `human` to print it for people.
pub(super) fn show<T: Serialize>(global: &Global, value: &T, human: impl FnOnce(&T)) {
    if global.json {
        println!("{}", serde_json::to_string_pretty(value).expect("JSON serialises"));
    } else {
        human(value);
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// "2026-11-28T03:00:00Z" → "2026-11-28 03:00".
fn when(t: Option<&str>) -> String {
    t.map(|t| t.chars().take(16).collect::<String>().replace('T', " ")).unwrap_or_else(|| "-".into())
}

/// Every member as `key: value`, one per line.
fn print_object<T: Serialize>(value: &T) {
    if let Value::Object(o) = serde_json::to_value(value).expect("serialises") {
        let width = o.keys().map(|k| k.len()).max().unwrap_or(0);
        for (k, v) in &o {
            let text = match v {
                Value::Object(_) | Value::Array(_) => v.to_string(),
                other => s(other),
            };
            println!("{k:<width$}  {text}");
        }
    }
}

/// The first line of `text`, cut to `max` characters with an ellipsis.
fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max - 1).collect::<String>())
    } else {
        line.to_string()
    }
}

fn read_password(prompt: &str, from_stdin: bool) -> Result<String, CliError> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::Usage(format!("reading the password: {e}")))?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    rpassword::prompt_password(prompt).map_err(|e| CliError::Usage(format!("reading the password: {e}")))
}

async fn login(global: &Global, username: String, password_stdin: bool) -> Result<(), CliError> {
    let url = match global.url.clone().or_else(|| profile::load().ok().flatten().map(|p| p.url)) {
        Some(u) => u,
        None => return Err(CliError::Usage("--url is required the first time, e.g. --url http://nas:8080".into())),
    };
    let password = read_password(&format!("Password for {username} at {url}: "), password_stdin)?;
    let mut client = super::client::Client::connect(&url).await?;
    let session = match client.call::<Login>(LoginParams { username: username.clone(), password }).await {
        Ok(s) => s,
        Err(CliError::Auth(m)) => return Err(CliError::Auth(m)),
        Err(CliError::Server(e)) => return Err(CliError::Auth(e.message)),
        Err(e) => return Err(e),
    };
    let path = profile::save(&Profile { url: url.clone(), username: username.clone(), token: session.token })?;
    client.close().await;
    eprintln!("Logged in to {url} as {username} (session until {}); saved in {}", session.expires_at, path.display());
    Ok(())
}

async fn logout(global: &Global) -> Result<(), CliError> {
    if let Ok(session) = Session::resolve(global) {
        // Ending the session on the server is best effort: the local copy goes anyway.
        if let Ok(mut c) = session.connect().await {
            let _ = c.call::<Logout>(Empty {}).await;
            c.close().await;
        }
    }
    if profile::remove()? {
        eprintln!("Logged out.");
    } else {
        eprintln!("Not logged in.");
    }
    Ok(())
}

/// The JSON object from `--from` (a file, or stdin with `-`), or an empty object.
pub(super) fn read_from(from: &FromFile) -> Result<Map<String, Value>, CliError> {
    let Some(path) = &from.from else { return Ok(Map::new()) };
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text).map_err(|e| CliError::Usage(format!("--from -: {e}")))?;
    } else {
        text = std::fs::read_to_string(path).map_err(|e| CliError::Usage(format!("--from {}: {e}", path.display())))?;
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(CliError::Usage(format!("--from {}: expected a JSON object", path.display()))),
        Err(e) => Err(CliError::Usage(format!("--from {}: not valid JSON: {e}", path.display()))),
    }
}

fn attrs(pairs: &[String]) -> Result<Map<String, Value>, CliError> {
    let mut out = Map::new();
    for p in pairs {
        let (k, v) = p.split_once('=').ok_or_else(|| CliError::Usage(format!("--attr {p}: expected KEY=VALUE")))?;
        out.insert(k.trim().to_string(), Value::String(v.to_string()));
    }
    Ok(out)
}

async fn provider(global: &Global, command: ProviderCommand) -> Result<(), CliError> {
    let mut c = Session::resolve(global)?.connect().await?;
    let list = c.call::<protocol::providers::List>(Empty {}).await?;
    c.close().await;
    match command {
        ProviderCommand::List => {
            show(global, &list, |list| {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|p| {
                        vec![p.name.clone(), first_line(&p.description, 70), if p.oauth { "yes" } else { "" }.into()]
                    })
                    .collect();
                table::print(&["NAME", "DESCRIPTION", "OAUTH"], &rows);
            });
        }
        ProviderCommand::Show { name, all } => {
            let p = list
                .into_iter()
                .find(|p| p.name == name)
                .ok_or_else(|| CliError::Usage(format!("no backend `{name}`; see `cloudsync provider list`")))?;
            show(global, &p, |p| {
                let rows: Vec<Vec<String>> = p
                    .options
                    .iter()
                    .filter(|o| all || !o.advanced || o.required)
                    .map(|o| {
                        let mut flags = Vec::new();
                        if o.required {
                            flags.push("required");
                        }
                        if o.secret {
                            flags.push("secret");
                        }
                        if o.advanced {
                            flags.push("advanced");
                        }
                        let help = first_line(&o.help, 90);
                        vec![o.name.clone(), flags.join(","), help]
                    })
                    .collect();
                table::print(&["OPTION", "", "HELP"], &rows);
            });
        }
    }
    Ok(())
}

async fn credential(global: &Global, command: CredentialCommand) -> Result<(), CliError> {
    let mut c = Session::resolve(global)?.connect().await?;
    match command {
        CredentialCommand::List => {
            let list = c.call::<creds::List>(Empty {}).await?;
            show(global, &list, |list| {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|c| {
                        let verified = match &c.last_verification {
                            Some(v) if v.ok => "ok",
                            Some(_) => "failed",
                            None => "-",
                        };
                        let state = serde_json::to_value(c.state).expect("serialises");
                        vec![c.id.to_string(), c.name.clone(), c.provider.clone(), s(&state), verified.into()]
                    })
                    .collect();
                table::print(&["ID", "NAME", "PROVIDER", "STATE", "VERIFIED"], &rows);
            });
        }
        CredentialCommand::Show { id } => {
            let credential = c.call::<creds::Get>(IdParams { id }).await?;
            show(global, &credential, print_object);
        }
        CredentialCommand::Create { from, name, provider, attrs: pairs } => {
            let mut p = read_from(&from)?;
            if let Some(n) = name {
                p.insert("name".into(), n.into());
            }
            if let Some(pr) = provider {
                p.insert("provider".into(), pr.into());
            }
            merge_attributes(&mut p, attrs(&pairs)?);
            let made = c.call_document::<creds::Create>(p).await?;
            show(global, &made, |m| println!("Created credential {} ({}).", m.id, m.name));
        }
        CredentialCommand::Update { id, from, name, attrs: pairs } => {
            let mut p = read_from(&from)?;
            p.insert("id".into(), id.into());
            if let Some(n) = name {
                p.insert("name".into(), n.into());
            }
            merge_attributes(&mut p, attrs(&pairs)?);
            let changed = c.call_document::<creds::Update>(p).await?;
            show(global, &changed, |m| println!("Updated credential {} ({}).", m.id, m.name));
        }
        CredentialCommand::Delete { id } => {
            let done = c.call::<creds::Delete>(IdParams { id }).await?;
            show(global, &done, |_| println!("Deleted credential {id}."));
        }
        CredentialCommand::Verify { id } => {
            let verdict = c.call::<creds::Verify>(creds::VerifyParams { id: Some(id), ..Default::default() }).await?;
            let reason = verdict.reason.clone().unwrap_or_else(|| "-".into());
            show(global, &verdict, |v| {
                if v.ok {
                    println!("Credential {id} works.")
                } else {
                    println!("Credential {id} does not work: {reason}")
                }
            });
            if !verdict.ok {
                return Err(CliError::Server(protocol::RpcError::new(
                    protocol::ErrorCode::RCLONE_FAILED,
                    format!("verification failed: {reason}"),
                )));
            }
        }
        CredentialCommand::Browse { id, path } => {
            let entries = c.call::<creds::Browse>(creds::BrowseParams { id, path }).await?;
            show(global, &entries, |entries| {
                for e in entries {
                    println!("{}", e.path);
                }
            });
        }
    }
    c.close().await;
    Ok(())
}

fn merge_attributes(p: &mut Map<String, Value>, extra: Map<String, Value>) {
    if extra.is_empty() {
        return;
    }
    let entry = p.entry("attributes").or_insert_with(|| json!({}));
    if let Some(o) = entry.as_object_mut() {
        o.extend(extra);
    }
}

/// "0 3 * * mon" → a schedule; "none" → `None`.
fn parse_cron(text: &str, begin: &str, end: &str) -> Result<Option<tasks::Schedule>, CliError> {
    if text.trim().eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let mut s = tasks::Schedule::from_cron(text).map_err(|why| CliError::Usage(format!("schedule: {why}")))?;
    (s.begin, s.end) = (begin.to_string(), end.to_string());
    Ok(Some(s))
}

/// Puts the flags over `p`, the task document from `--from` (and, for an update, the
/// current settings). It stays a JSON document rather than `TaskParams` so that the
/// server, not this client, judges what the user wrote and names the field at fault.
fn apply_task_fields(p: &mut Map<String, Value>, f: TaskFields) -> Result<(), CliError> {
    let mut set = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            p.insert(k.to_string(), v);
        }
    };
    set("description", f.description.map(Value::from));
    set("credentials", f.credential.map(Value::from));
    set("direction", f.direction.map(Value::from));
    set("transfer_mode", f.mode.map(Value::from));
    set("path", f.path.map(Value::from));
    if f.enable {
        set("enabled", Some(true.into()));
    }
    if f.disable {
        set("enabled", Some(false.into()));
    }
    if f.bucket.is_some() || f.folder.is_some() {
        let a = p.entry("attributes").or_insert_with(|| json!({}));
        if let Some(b) = f.bucket {
            a["bucket"] = b.into();
        }
        if let Some(folder) = f.folder {
            a["folder"] = folder.into();
        }
    }
    if let Some(cron) = f.schedule {
        let (begin, end) = match p.get("schedule") {
            Some(Value::Object(o)) => (s(&o["begin"]), s(&o["end"])),
            _ => ("00:00".into(), "23:59".into()),
        };
        let schedule = parse_cron(&cron, &begin, &end)?;
        p.insert("schedule".into(), serde_json::to_value(schedule).expect("serialises"));
    }
    Ok(())
}

fn task_rows(list: &[tasks::SyncTask]) -> Vec<Vec<String>> {
    list.iter()
        .map(|t| {
            let last = match &t.last_run {
                None => "never".to_string(),
                Some(r) => format!("{} {}", r.state.as_str(), when(r.finished_at.as_deref())),
            };
            let next = match (&t.next_run, &t.schedule) {
                (Some(next), _) => when(Some(next)),
                (None, None) => "manual".into(),
                _ if !t.enabled => "disabled".into(),
                _ => "-".into(),
            };
            let what = serde_json::to_value((t.direction, t.transfer_mode)).expect("serialises");
            vec![
                t.id.to_string(),
                t.description.clone(),
                format!("{} {}", s(&what[0]), s(&what[1])),
                t.path.clone(),
                last,
                next,
            ]
        })
        .collect()
}

/// A task as returned, reduced to the params `task.update` takes.
fn as_params(task: &tasks::SyncTask) -> Map<String, Value> {
    let Value::Object(o) = serde_json::to_value(task).expect("serialises") else { unreachable!("a struct") };
    o.into_iter()
        .filter(|(k, _)| !matches!(k.as_str(), "id" | "last_run" | "next_run" | "created_at" | "updated_at"))
        .collect()
}

async fn task(global: &Global, command: TaskCommand) -> Result<(), CliError> {
    let session = Session::resolve(global)?;
    let mut c = session.connect().await?;
    match command {
        TaskCommand::List => {
            let list = c.call::<tasks::List>(Empty {}).await?;
            show(global, &list, |list| {
                table::print(&["ID", "DESCRIPTION", "WHAT", "LOCAL", "LAST RUN", "NEXT RUN"], &task_rows(list))
            });
        }
        TaskCommand::Show { id } => {
            let task = c.call::<tasks::Get>(IdParams { id }).await?;
            show(global, &task, print_object);
        }
        TaskCommand::Create { from, fields } => {
            let mut p = read_from(&from)?;
            apply_task_fields(&mut p, fields)?;
            let made = c.call_document::<tasks::Create>(p).await?;
            show(global, &made, |t| println!("Created task {} ({}).", t.id, t.description));
        }
        TaskCommand::Update { id, from, fields } => {
            let mut p = as_params(&c.call::<tasks::Get>(IdParams { id }).await?);
            p.extend(read_from(&from)?);
            apply_task_fields(&mut p, fields)?;
            p.insert("id".into(), id.into());
            let changed = c.call_document::<tasks::Update>(p).await?;
            show(global, &changed, |t| println!("Updated task {} ({}).", t.id, t.description));
        }
        TaskCommand::Delete { id } => {
            let done = c.call::<tasks::Delete>(IdParams { id }).await?;
            show(global, &done, |_| println!("Deleted task {id}."));
        }
        TaskCommand::Abort { id } => {
            let done = c.call::<runs::Abort>(IdParams { id }).await?;
            show(global, &done, |_| println!("Stopping task {id}'s run."));
        }
        TaskCommand::Plan { id } => {
            let plan = c.call::<tasks::Plan>(IdParams { id }).await?;
            show(global, &plan, |p| {
                for (what, part) in [("copy", &p.copy), ("update", &p.update), ("delete", &p.delete)] {
                    let size = protocol::units::human_bytes(part.bytes as f64);
                    println!("{what}: {} file(s), {size}", part.count);
                    for path in &part.paths {
                        println!("  {path}");
                    }
                    if part.count > part.paths.len() as u64 {
                        println!("  … and {} more", part.count - part.paths.len() as u64);
                    }
                }
            });
        }
        TaskCommand::Restore { id, path, mode } => {
            let transfer_mode = serde_json::from_value(Value::String(mode)).expect("clap allows only the three modes");
            let made = c.call::<tasks::Restore>(tasks::RestoreParams { id, transfer_mode, path }).await?;
            show(global, &made, |t| {
                println!("Created task {} ({}), disabled: check it, then run it.", t.id, t.description)
            });
        }
        TaskCommand::Run { id, dry_run, allow_deletes, follow: follow_it } => {
            let started = c.call::<RunTask>(RunParams { id, dry_run, allow_deletes }).await?;
            c.close().await;
            if !follow_it {
                show(global, &started, |_| println!("Run {} queued.", started.run_id));
                return Ok(());
            }
            eprintln!("Run {} of task {id}:", started.run_id);
            return finish_follow(&session, started.run_id).await;
        }
    }
    c.close().await;
    Ok(())
}

/// Follows a run to its end; the outcome becomes the exit status.
async fn finish_follow(session: &Session, run_id: i64) -> Result<(), CliError> {
    match follow(session, run_id).await? {
        Followed::Ended(RunState::Success, _) => {
            eprintln!("Run {run_id}: SUCCESS");
            Ok(())
        }
        Followed::Ended(state, error) => Err(CliError::RunFailed(format!(
            "run {run_id}: {}{}",
            state.as_str(),
            error.map(|e| format!(": {e}")).unwrap_or_default()
        ))),
        Followed::Interrupted => Err(CliError::Interrupted),
    }
}

async fn run_command(global: &Global, command: RunCommand) -> Result<(), CliError> {
    let session = Session::resolve(global)?;
    let mut c = session.connect().await?;
    match command {
        RunCommand::List { task, state, limit } => {
            let state = state.and_then(|s| runs::RunState::parse(&s.to_ascii_uppercase()));
            let params = runs::ListParams { task_id: task, state, limit: Some(limit), before: None };
            let list = c.call::<runs::List>(params).await?;
            show(global, &list, |list| {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|r| {
                        let state = r.state.as_str();
                        let state = if r.dry_run { format!("{state} (dry run)") } else { state.to_string() };
                        let bytes =
                            r.stats.as_ref().map_or("-".into(), |p| protocol::units::human_bytes(p.bytes as f64));
                        vec![
                            r.id.to_string(),
                            r.task_id.to_string(),
                            state,
                            when(Some(&r.queued_at)),
                            when(r.finished_at.as_deref()),
                            r.duration_seconds().map_or("-".into(), protocol::units::human_duration),
                            bytes,
                            r.average_speed().map_or("-".into(), |v| format!("{}/s", protocol::units::human_bytes(v))),
                        ]
                    })
                    .collect();
                let head = ["ID", "TASK", "STATE", "QUEUED (UTC)", "ENDED (UTC)", "DURATION", "BYTES", "SPEED"];
                table::print(&head, &rows);
            });
        }
        RunCommand::Show { id } => {
            let run = c.call::<runs::Get>(IdParams { id }).await?;
            show(global, &run, print_object);
        }
        RunCommand::Logs { id, follow: true, .. } => {
            c.close().await;
            return match finish_follow(&session, id).await {
                // Following a log succeeds when the run has ended, whatever its result.
                Err(CliError::RunFailed(m)) => {
                    eprintln!("{m}");
                    Ok(())
                }
                other => other,
            };
        }
        RunCommand::Logs { id, follow: false, query } => {
            // Page by page, printed as it comes: a million-line log is never held whole.
            let mut out = std::io::stdout().lock();
            let mut after_seq = 0i64;
            let mut first = true;
            let write = |out: &mut std::io::StdoutLock, text: String| {
                out.write_all(text.as_bytes()).map_err(|e| CliError::Usage(format!("writing the log: {e}")))
            };
            if global.json {
                write(&mut out, "[".into())?;
            }
            loop {
                let params =
                    runs::LogParams { id, after_seq, before_seq: None, query: query.clone(), limit: Some(5000) };
                let page = c.call::<runs::Log>(params).await?;
                let Some(last) = page.last() else { break };
                after_seq = last.seq;
                for l in &page {
                    let text = if global.json {
                        let sep = if first { "\n  " } else { ",\n  " };
                        format!("{sep}{}", serde_json::to_string(l).expect("serialises"))
                    } else {
                        let time = l.at.get(11..19).unwrap_or("");
                        format!("{time} {:<7} {}: {}\n", l.level.as_str().to_uppercase(), l.source.as_str(), l.message)
                    };
                    first = false;
                    write(&mut out, text)?;
                }
            }
            if global.json {
                write(&mut out, if first { "]\n".into() } else { "\n]\n".into() })?;
            }
        }
    }
    c.close().await;
    Ok(())
}

async fn schedule(global: &Global, command: ScheduleCommand) -> Result<(), CliError> {
    let ScheduleCommand::Preview { cron, begin, end, count, from } = command;
    let Some(schedule) = parse_cron(&cron, &begin, &end)? else {
        return Err(CliError::Usage("a preview needs a schedule, not `none`".into()));
    };
    let mut c = Session::resolve(global)?.connect().await?;
    let preview = c.call::<Preview>(PreviewParams { schedule, count, from }).await?;
    show(global, &preview, |p| {
        println!("{} ({})", p.description, p.timezone);
        if p.days_combine_with_or {
            println!("Day of month and day of week are both set: a day matches if either matches.");
        }
        for r in &p.runs {
            println!("  {r}");
        }
    });
    c.close().await;
    Ok(())
}

async fn config(global: &Global, command: ConfigCommand) -> Result<(), CliError> {
    let mut c = Session::resolve(global)?.connect().await?;
    match command {
        ConfigCommand::Export { include_secret_seed, output, password_stdin } => {
            let password = include_secret_seed
                .then(|| {
                    read_password("Your current password (the backup will hold the secret seed): ", password_stdin)
                })
                .transpose()?;
            let backup = c.call::<config::Export>(config::ExportParams { include_secret_seed, password }).await?;
            let text = serde_json::to_string_pretty(&backup).expect("JSON serialises") + "\n";
            match output {
                Some(path) => {
                    let fail = |e: std::io::Error| CliError::Usage(format!("--output {}: {e}", path.display()));
                    write_private(&path, text.as_bytes()).map_err(fail)?;
                    eprintln!(
                        "Wrote {}{}",
                        path.display(),
                        if include_secret_seed { " (with the secret seed: keep it safe)" } else { "" }
                    );
                }
                None => print!("{text}"),
            }
        }
        ConfigCommand::Import { file } => {
            let text =
                std::fs::read_to_string(&file).map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?;
            let backup: Value = serde_json::from_str(&text)
                .map_err(|e| CliError::Usage(format!("{}: not valid JSON: {e}", file.display())))?;
            // The file goes as written: the server checks it and names what is wrong.
            let report = c.call_document::<config::Import>(Map::from_iter([("backup".into(), backup)])).await?;
            show(global, &report, |r| {
                let imported = if r.imported.is_empty() { "none".into() } else { r.imported.join(", ") };
                println!("Imported: {imported}");
                if !r.cannot_decrypt.is_empty() {
                    println!("Cannot decrypt (enter their settings again): {}", r.cannot_decrypt.join(", "));
                }
                for sk in &r.skipped {
                    println!("Skipped {}: {}", sk.name, sk.reason);
                }
            });
        }
        ConfigCommand::ImportTruenas { config: backup, credentials, tasks, path_map, dry_run } => {
            let params = truenas_params(backup, credentials, tasks, path_map, dry_run)?;
            let report = c.call::<config::ImportTruenas>(params).await?;
            show(global, &report, |r| {
                let list = |v: &[String]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
                let verb = if dry_run { "Would import" } else { "Imported" };
                println!("{verb} credentials: {}", list(&r.credentials_imported));
                println!("{verb} tasks (disabled): {}", list(&r.tasks_imported));
                if !r.cannot_decrypt.is_empty() {
                    println!("Without their secrets (enter them again): {}", r.cannot_decrypt.join(", "));
                }
                for sk in &r.skipped {
                    println!("Skipped {}: {}", sk.name, sk.reason);
                }
                for w in &r.warnings {
                    println!("Warning, {}: {}", w.name, w.message);
                }
            });
        }
    }
    c.close().await;
    Ok(())
}

/// Writes `bytes` to a new 0600 file beside `path`, then renames it over `path`: an
/// existing file's mode, or a symlink there, never decides who can read the result.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let name = path.file_name().ok_or_else(|| std::io::Error::other("is not a file name"))?;
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

async fn system_info(global: &Global) -> Result<(), CliError> {
    let mut c = Session::resolve(global)?.connect().await?;
    let info = c.call::<protocol::system::Info>(Empty {}).await?;
    show(global, &info, print_object);
    c.close().await;
    Ok(())
}

async fn token(global: &Global, command: TokenCommand) -> Result<(), CliError> {
    let mut c = Session::resolve(global)?.connect().await?;
    match command {
        TokenCommand::Create { name, expires_at, password_stdin } => {
            let password = Some(read_password("Your current password (to confirm): ", password_stdin)?);
            let t = c.call::<TokenCreate>(TokenCreateParams { name, expires_at, password }).await?;
            show(global, &t, |t| {
                eprintln!("Created API token {} ({}). It is shown only now:", t.info.id, t.info.name);
                println!("{}", t.token);
            });
        }
        TokenCommand::List => {
            let list = c.call::<TokenList>(Empty {}).await?;
            show(global, &list, |list| {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.to_string(),
                            t.name.clone(),
                            when(Some(&t.created_at)),
                            t.expires_at.as_ref().map_or("never".into(), |e| when(Some(e))),
                            when(Some(&t.last_used_at)),
                        ]
                    })
                    .collect();
                table::print(&["ID", "NAME", "CREATED (UTC)", "EXPIRES (UTC)", "LAST USED (UTC)"], &rows);
            });
        }
        TokenCommand::Revoke { id } => {
            let done = c.call::<TokenRevoke>(IdParams { id }).await?;
            show(global, &done, |_| println!("Revoked API token {id}."));
        }
    }
    c.close().await;
    Ok(())
}

/// The import's parameters from files: a backup goes gzipped (a TrueNAS database is
/// mostly empty pages, and a message to the server is at most 1 MiB).
fn truenas_params(
    backup: Option<std::path::PathBuf>,
    credentials: Option<std::path::PathBuf>,
    tasks: Option<std::path::PathBuf>,
    path_map: Vec<String>,
    dry_run: bool,
) -> Result<config::TruenasImportParams, CliError> {
    use base64::Engine;
    use std::io::Write;
    let read = |p: &std::path::PathBuf| std::fs::read(p).map_err(|e| CliError::Usage(format!("{}: {e}", p.display())));
    let json = |p: &std::path::PathBuf| -> Result<Value, CliError> {
        serde_json::from_slice(&read(p)?).map_err(|e| CliError::Usage(format!("{}: not valid JSON: {e}", p.display())))
    };
    let config = match &backup {
        None => None,
        Some(p) => {
            let bytes = read(p)?;
            let packed = if bytes.starts_with(&[0x1f, 0x8b]) {
                bytes
            } else {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                gz.write_all(&bytes).and_then(|_| gz.finish()).map_err(|e| CliError::Usage(e.to_string()))?
            };
            Some(base64::engine::general_purpose::STANDARD.encode(packed))
        }
    };
    let path_map = path_map
        .iter()
        .map(|m| {
            m.split_once('=')
                .map(|(from, to)| config::PathMapping { from: from.into(), to: to.into() })
                .ok_or_else(|| CliError::Usage(format!("--map {m}: expected FROM=TO")))
        })
        .collect::<Result<_, _>>()?;
    Ok(config::TruenasImportParams {
        credentials: credentials.as_ref().map(json).transpose()?,
        tasks: tasks.as_ref().map(json).transpose()?,
        config,
        path_map,
        dry_run,
    })
}
