//! `config.import_truenas`: TrueNAS's cloud sync credentials and tasks, from `midclt`
//! output or a configuration backup (`read`), decrypted with its `pwenc` secret when the
//! backup carries it (`pwenc`), put in cloudsync's words (`map`), validated like
//! `credential.create` and a restored task, and written in one transaction, or not at
//! all. Tasks come in disabled with review notes; names that exist are skipped.

pub mod map;
pub mod pwenc;
pub mod read;

use std::collections::{HashMap, HashSet};

use protocol::config::{ImportWarning, SkippedItem, TruenasImportParams, TruenasImportReport};
use protocol::providers::Provider;
use protocol::FieldError;
use sqlx::PgPool;

use crate::credentials::{store as credential_store, ValidAttributes};
use crate::crypto::SecretBox;
use crate::tasks::{CryptSecrets, ValidTask};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("invalid parameters")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn invalid(field: &str, message: impl Into<String>) -> ImportError {
    ImportError::Invalid(vec![FieldError::new(field, message)])
}

/// What this server offers an import: its database and seal, rclone's backends and
/// the options it refuses.
pub struct Context<'a> {
    pub pool: &'a PgPool,
    pub secrets: &'a SecretBox,
    pub providers: &'a [Provider],
    pub refusal: &'a (dyn Fn(&str, &str, &str) -> Option<String> + Sync),
}

/// A credential ready to write: its TrueNAS id, name, backend, and attributes (`None`:
/// it comes in as "cannot decrypt").
struct NewCredential {
    truenas_id: i64,
    name: String,
    backend: String,
    attributes: Option<ValidAttributes>,
}

struct NewTask {
    description: String,
    /// The TrueNAS credential id it used.
    truenas_credential: i64,
    task: ValidTask,
}

fn check_params(p: &TruenasImportParams) -> Result<(), ImportError> {
    if p.config.is_some() && (p.credentials.is_some() || p.tasks.is_some()) {
        return Err(invalid(
            "config",
            "give either a configuration backup or midclt output (credentials, tasks), not both",
        ));
    }
    if p.config.is_none() && p.credentials.is_none() && p.tasks.is_none() {
        return Err(invalid(
            "config",
            "give a configuration backup (config) or midclt output (credentials and/or tasks)",
        ));
    }
    let mut errors = Vec::new();
    for (i, m) in p.path_map.iter().enumerate() {
        for (name, v) in [("from", &m.from), ("to", &m.to)] {
            if !v.starts_with('/') || v.chars().any(char::is_control) {
                errors.push(FieldError::new(format!("path_map[{i}].{name}"), "must be an absolute path"));
            }
        }
    }
    match errors.is_empty() {
        true => Ok(()),
        false => Err(ImportError::Invalid(errors)),
    }
}

pub async fn import(ctx: &Context<'_>, p: TruenasImportParams) -> Result<TruenasImportReport, ImportError> {
    check_params(&p)?;
    let found = match p.config.clone() {
        // SQLite is blocking work.
        Some(config) => tokio::task::spawn_blocking(move || read::from_config(&config))
            .await
            .map_err(|e| invalid("config", format!("could not be read: {e}")))?,
        None => read::from_midclt(p.credentials.as_ref(), p.tasks.as_ref()),
    }
    .map_err(|(field, message)| invalid(field, message))?;

    let mut report = TruenasImportReport::default();
    let existing_names: HashMap<String, i64> =
        sqlx::query_as::<_, (String, i64)>("SELECT name, id FROM cloud_credentials")
            .fetch_all(ctx.pool)
            .await?
            .into_iter()
            .collect();
    let existing_tasks: HashSet<String> =
        sqlx::query_scalar("SELECT description FROM sync_tasks").fetch_all(ctx.pool).await?.into_iter().collect();
    let credentials = plan_credentials(ctx, &found, &existing_names, &mut report);
    let tasks = plan_tasks(&found, &credentials.kind_of, &existing_tasks, &p.path_map, &mut report);
    if found.without_secret && !found.credentials.is_empty() {
        warn(
            &mut report,
            "config",
            "the backup has no pwenc_secret (tick “Export Password Secret Seed” in Save Config): credentials come in without their secrets".into(),
        );
    }
    for c in &credentials.new {
        match c.attributes {
            Some(_) => report.credentials_imported.push(c.name.clone()),
            None => report.cannot_decrypt.push(c.name.clone()),
        }
    }
    report.tasks_imported = tasks.iter().map(|t| t.description.clone()).collect();
    if p.dry_run {
        return Ok(report);
    }
    write(ctx, credentials.new, tasks, credentials.existing_for).await?;
    Ok(report)
}

fn warn(report: &mut TruenasImportReport, name: &str, message: String) {
    report.warnings.push(ImportWarning { name: name.to_string(), message })
}

/// The credentials to write, and what the tasks need to know of every credential.
struct CredentialPlan {
    new: Vec<NewCredential>,
    /// TrueNAS credential id → the credential of the same name that exists here.
    existing_for: HashMap<i64, i64>,
    /// TrueNAS credential id → its TrueNAS type, for each credential tasks may use.
    kind_of: HashMap<i64, String>,
}

/// Each credential mapped and validated, or skipped into the report with why.
fn plan_credentials(
    ctx: &Context<'_>,
    found: &read::Found,
    existing_names: &HashMap<String, i64>,
    report: &mut TruenasImportReport,
) -> CredentialPlan {
    let mut existing_for: HashMap<i64, i64> = HashMap::new();
    let mut kind_of: HashMap<i64, String> = HashMap::new();
    let mut new_credentials = Vec::new();
    let mut seen = HashSet::new();
    for c in &found.credentials {
        let name = c.name.trim().to_string();
        let skip = |report: &mut TruenasImportReport, reason: String| {
            report.skipped.push(SkippedItem { name: name.clone(), reason })
        };
        if let Err(why) = protocol::credentials::check_name(&name) {
            skip(report, format!("its name {why}"));
            continue;
        }
        if let Some(&id) = existing_names.get(&name) {
            existing_for.insert(c.id, id);
            kind_of.insert(c.id, c.kind.clone());
            skip(report, "a credential with this name exists already (its tasks use that one)".into());
            continue;
        }
        if !seen.insert(name.clone()) {
            skip(report, "another credential in the import has this name".into());
            continue;
        }
        let backend = match map::backend(&c.kind) {
            Ok(b) => b,
            Err(why) => {
                skip(report, why);
                continue;
            }
        };
        let Some(provider) = ctx.providers.iter().find(|p| p.name == backend) else {
            skip(report, format!("the installed rclone has no `{backend}` backend (TrueNAS type {})", c.kind));
            continue;
        };
        let settings = c.settings.as_ref().filter(|s| !map::hidden(s));
        if c.settings.as_ref().is_some_and(map::hidden) {
            warn(
                report,
                &name,
                "midclt hid its secrets (********); it comes in as “cannot decrypt”: enter them again".into(),
            );
        }
        let attributes = match settings {
            None => None,
            Some(settings) => {
                let task_region = found
                    .tasks
                    .iter()
                    .filter(|t| t.credential == c.id)
                    .find_map(|t| t.attributes.get("region").and_then(|r| r.as_str()).map(str::to_string));
                let (options, warnings) = map::credential(c, settings, &found.ssh_keys, task_region.as_deref());
                for w in warnings {
                    warn(report, &name, w);
                }
                let check = |option: &str, value: &str| (ctx.refusal)(backend, option, value);
                match crate::credentials::validate(provider, &options, None, &check) {
                    Ok(valid) => Some(valid),
                    Err(bad) => {
                        let why: Vec<String> = bad.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
                        skip(report, format!("its settings are not valid here: {}", why.join("; ")));
                        continue;
                    }
                }
            }
        };
        kind_of.insert(c.id, c.kind.clone());
        new_credentials.push(NewCredential { truenas_id: c.id, name, backend: backend.to_string(), attributes });
    }

    CredentialPlan { new: new_credentials, existing_for, kind_of }
}

/// Each task mapped and checked (pointing at no credential yet), or skipped with why.
fn plan_tasks(
    found: &read::Found,
    kind_of: &HashMap<i64, String>,
    existing_tasks: &HashSet<String>,
    path_map: &[protocol::config::PathMapping],
    report: &mut TruenasImportReport,
) -> Vec<NewTask> {
    let mut new_tasks = Vec::new();
    let mut seen = HashSet::new();
    for t in &found.tasks {
        let description = t.name();
        let skip = |report: &mut TruenasImportReport, reason: String| {
            report.skipped.push(SkippedItem { name: description.clone(), reason })
        };
        if existing_tasks.contains(&description) {
            skip(report, "a task with this description exists already".into());
            continue;
        }
        if !seen.insert(description.clone()) {
            skip(report, "another task in the import has this description".into());
            continue;
        }
        let Some(kind) = kind_of.get(&t.credential) else {
            skip(report, format!("its credential (TrueNAS id {}) was not imported", t.credential));
            continue;
        };
        let mapped = match map::task(t, kind, 0, path_map) {
            Ok(m) => m,
            Err(why) => {
                skip(report, why);
                continue;
            }
        };
        let crypt = mapped.crypt.map(|(password, salt)| CryptSecrets { password, salt });
        match ValidTask::imported(mapped.settings, 0, crypt) {
            Ok(task) => {
                for w in mapped.warnings {
                    warn(report, &description, w);
                }
                new_tasks.push(NewTask { description, truenas_credential: t.credential, task });
            }
            Err(bad) => {
                let why: Vec<String> = bad.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
                skip(report, format!("its settings are not valid here: {}", why.join("; ")));
            }
        }
    }
    new_tasks
}

/// Everything in one transaction.
async fn write(
    ctx: &Context<'_>,
    credentials: Vec<NewCredential>,
    tasks: Vec<NewTask>,
    mut ids: HashMap<i64, i64>,
) -> Result<(), ImportError> {
    let mut tx = ctx.pool.begin().await?;
    for c in credentials {
        let id = credential_store::insert_sealed(&mut tx, &c.name, &c.backend, |id| match &c.attributes {
            Some(valid) => credential_store::seal(ctx.secrets, id, valid),
            // Nothing opens an empty seal: it shows as "cannot decrypt" until re-entered.
            None => Vec::new(),
        })
        .await
        .map_err(|e| match e {
            credential_store::StoreError::Sql(e) => ImportError::Database(e),
            other => invalid("credentials", other.to_string()),
        })?;
        ids.insert(c.truenas_id, id);
    }
    for t in tasks {
        let Some(&credential) = ids.get(&t.truenas_credential) else { continue };
        let task = t.task.pointing_at(credential);
        crate::tasks::store::insert_restored(&mut tx, ctx.secrets, &task, |id| {
            crate::tasks::store::seal(ctx.secrets, id, task.crypt())
        })
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
