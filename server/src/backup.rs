//! Configuration backup and restore. Credentials and tasks' encryption secrets travel
//! as they are stored (sealed); the secret seed travels only when the user asks for it.
//! Restoring re-seals each for its new row and this server's seed, opening it with the
//! backup's seed when included, else with this server's own (a backup of this same
//! install). Tasks are restored disabled, pointing at the restored credentials.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use std::collections::HashMap;

use protocol::config::{
    BackupCredential, BackupTask, ConfigBackup, ImportReport, SkippedItem, BACKUP_FORMAT, BACKUP_VERSION,
};
use protocol::FieldError;
use sqlx::PgPool;

use std::collections::BTreeMap;

use protocol::providers::Provider;
use serde_json::Value;

use crate::credentials::{store, ValidAttributes};
use crate::crypto::{self, SecretBox, CREDENTIALS_PURPOSE};
use crate::secret_seed::{SecretSeed, SEED_BYTES};

pub async fn export(pool: &PgPool, seed: &SecretSeed, include_seed: bool) -> sqlx::Result<ConfigBackup> {
    let credentials = store::list_sealed(pool)
        .await?
        .into_iter()
        .map(|(id, name, provider, sealed)| BackupCredential { id, name, provider, sealed: B64.encode(sealed) })
        .collect();
    let tasks = crate::tasks::store::list_for_backup(pool)
        .await?
        .into_iter()
        .map(|(id, settings, sealed)| BackupTask { id, settings, encryption_sealed: sealed.map(|s| B64.encode(s)) })
        .collect();
    Ok(ConfigBackup {
        format: BACKUP_FORMAT.into(),
        version: BACKUP_VERSION,
        created_at: crate::time_format::rfc3339(time::OffsetDateTime::now_utc()),
        cloudsync_version: crate::system_facts::VERSION.into(),
        secret_seed: include_seed.then(|| B64.encode(seed.bytes())),
        credentials,
        tasks,
    })
}

/// A backup whose every field has been checked: nothing is written before this passes.
pub struct CheckedBackup {
    seed: Option<SecretSeed>,
    credentials: Vec<(BackupCredential, Vec<u8>)>,
    tasks: Vec<(BackupTask, Option<Vec<u8>>)>,
}

/// A backup whose credentials were also opened and validated like `credential.create`:
/// provider in the catalog, known and allowed options only (never `type`), values of
/// the options' types. Credentials no key here opens are kept sealed as they came:
/// they cannot run until re-entered, which validates them then.
pub struct VettedBackup {
    checked: CheckedBackup,
    /// Per credential of `checked`, its attributes when they could be opened.
    opened: Vec<Option<ValidAttributes>>,
}

/// Opens and validates every credential of `backup`; errors name
/// `backup.credentials[i].…`.
pub fn vet(
    backup: CheckedBackup,
    own: &SecretBox,
    providers: &[Provider],
    refusal: &dyn Fn(&str, &str, &str) -> Option<String>,
) -> Result<VettedBackup, Vec<FieldError>> {
    let theirs = backup.seed.as_ref().map(|s| SecretBox::new(s, crate::crypto::CREDENTIALS_PURPOSE));
    let openers: Vec<&SecretBox> = theirs.iter().chain([own]).collect();
    let mut errors = Vec::new();
    let mut opened = Vec::new();
    for (i, (c, sealed)) in backup.credentials.iter().enumerate() {
        let field = |f: &str| format!("backup.credentials[{i}].{f}");
        let Some(provider) = providers.iter().find(|p| p.name == c.provider) else {
            errors.push(FieldError::new(
                field("provider"),
                format!("`{}` is not a provider of the installed rclone", c.provider.escape_debug()),
            ));
            opened.push(None);
            continue;
        };
        let Some(plain) = openers.iter().find_map(|b| b.open(&store::label(c.id), sealed).ok()) else {
            opened.push(None);
            continue;
        };
        let Ok(map) = serde_json::from_slice::<BTreeMap<String, Value>>(&plain) else {
            errors.push(FieldError::new(field("sealed"), "does not hold a credential's attributes"));
            opened.push(None);
            continue;
        };
        let check = |option: &str, value: &str| refusal(&provider.name, option, value);
        match crate::credentials::validate(provider, &map, None, &check) {
            Ok(valid) => opened.push(Some(valid)),
            Err(bad) => {
                errors.extend(bad.into_iter().map(|e| FieldError::new(field(&e.field), e.message)));
                opened.push(None);
            }
        }
    }
    if errors.is_empty() {
        Ok(VettedBackup { checked: backup, opened })
    } else {
        Err(errors)
    }
}

pub fn check(backup: ConfigBackup) -> Result<CheckedBackup, Vec<FieldError>> {
    let mut errors = Vec::new();
    if backup.format != BACKUP_FORMAT {
        errors.push(FieldError::new(
            "backup.format",
            format!("`{}` is not a cloudsync backup (expected `{BACKUP_FORMAT}`)", backup.format),
        ));
    }
    if backup.version != BACKUP_VERSION {
        errors.push(FieldError::new(
            "backup.version",
            format!("version {} is not supported; this server reads version {BACKUP_VERSION}", backup.version),
        ));
    }
    let seed = match backup.secret_seed.as_deref().map(|s| B64.decode(s)) {
        None => None,
        Some(Ok(bytes)) => match <[u8; SEED_BYTES]>::try_from(bytes) {
            Ok(b) => Some(SecretSeed::from_bytes(b)),
            Err(b) => {
                errors.push(FieldError::new(
                    "backup.secret_seed",
                    format!("has {} bytes, expected {SEED_BYTES}", b.len()),
                ));
                None
            }
        },
        Some(Err(_)) => {
            errors.push(FieldError::new("backup.secret_seed", "is not valid base64"));
            None
        }
    };
    let mut credentials = Vec::new();
    for (i, c) in backup.credentials.into_iter().enumerate() {
        if let Err(why) = protocol::credentials::check_name(&c.name) {
            errors.push(FieldError::new(format!("backup.credentials[{i}].name"), why));
        }
        match B64.decode(&c.sealed) {
            Ok(sealed) => credentials.push((c, sealed)),
            Err(_) => errors.push(FieldError::new(format!("backup.credentials[{i}].sealed"), "is not valid base64")),
        }
    }
    let mut tasks = Vec::new();
    for (i, t) in backup.tasks.into_iter().enumerate() {
        let field = |f: &str| format!("backup.tasks[{i}].{f}");
        errors.extend(
            protocol::tasks::check_task(&t.settings)
                .into_iter()
                .map(|e| FieldError::new(field(&format!("settings.{}", e.field)), e.message)),
        );
        match t.encryption_sealed.as_deref().map(|s| B64.decode(s)) {
            None => tasks.push((t, None)),
            Some(Ok(sealed)) => tasks.push((t, Some(sealed))),
            Some(Err(_)) => errors.push(FieldError::new(field("encryption_sealed"), "is not valid base64")),
        }
    }
    if errors.is_empty() {
        Ok(CheckedBackup { seed, credentials, tasks })
    } else {
        Err(errors)
    }
}

pub async fn import(pool: &PgPool, own: &SecretBox, backup: VettedBackup) -> Result<ImportReport, store::StoreError> {
    let VettedBackup { checked: backup, opened } = backup;
    let theirs = backup.seed.as_ref().map(|s| SecretBox::new(s, CREDENTIALS_PURPOSE));
    // The backup's seed first, then this server's own (a backup of this same install).
    let openers: Vec<&SecretBox> = theirs.iter().chain([own]).collect();
    let mut report = ImportReport::default();
    let mut tx = pool.begin().await?;
    // The backup's credential ids → this server's, for the tasks.
    let mut credential_ids = HashMap::new();
    for ((c, sealed), valid) in backup.credentials.into_iter().zip(opened) {
        let name = c.name.trim().to_string();
        let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM cloud_credentials WHERE name = $1")
            .bind(&name)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(id) = existing {
            // Tasks of the backup that used it use the credential of that name here.
            credential_ids.insert(c.id, id);
            report.skipped.push(SkippedItem {
                name,
                reason: "a credential with this name already exists; rename or delete it and import again".into(),
            });
            continue;
        }
        let readable = valid.is_some();
        let new_id = store::insert_sealed(&mut tx, &name, &c.provider, |new_id| match &valid {
            // What validation kept, sealed for the new row.
            Some(valid) => store::seal(own, new_id, valid),
            // Kept as it came: it shows as "cannot decrypt" until re-entered.
            None => sealed.clone(),
        })
        .await?;
        credential_ids.insert(c.id, new_id);
        if readable {
            report.imported.push(name)
        } else {
            report.cannot_decrypt.push(name)
        }
    }
    for (t, sealed) in backup.tasks {
        let description = t.settings.description.trim().to_string();
        let taken: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sync_tasks WHERE description = $1)")
            .bind(&description)
            .fetch_one(&mut *tx)
            .await?;
        let skip = |reason: &str| SkippedItem { name: description.clone(), reason: reason.into() };
        if taken {
            report.tasks_skipped.push(skip("a task with this description already exists"));
            continue;
        }
        let Some(&credential) = credential_ids.get(&t.settings.credentials) else {
            report.tasks_skipped.push(skip("its credential is not in the backup"));
            continue;
        };
        // `check` ran check_task on these settings already; this cannot refuse them.
        let Ok(task) = crate::tasks::ValidTask::restored(t.settings, credential) else {
            report.tasks_skipped.push(skip("its settings are not valid"));
            continue;
        };
        crate::tasks::store::insert_restored(&mut tx, own, &task, |new_id| {
            sealed.map(|sealed| {
                let label = crate::tasks::store::label;
                // Undecryptable secrets stay as they came: runs then say so.
                crypto::reseal(&openers, &label(t.id), &sealed, own, &label(new_id)).unwrap_or(sealed)
            })
        })
        .await?;
        report.tasks_imported.push(description);
    }
    tx.commit().await?;
    Ok(report)
}
