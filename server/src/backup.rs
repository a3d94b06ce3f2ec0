//! Configuration backup and restore. Credentials travel as they are stored (sealed);
//! the secret seed travels only when the user asks for it. Restoring re-seals each
//! credential for its new row and this server's seed, opening it with the backup's seed
//! when included, else with this server's own (a backup of this same install).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use protocol::config::{BackupCredential, ConfigBackup, ImportReport, SkippedItem, BACKUP_FORMAT, BACKUP_VERSION};
use protocol::FieldError;
use sqlx::PgPool;

use crate::credentials::store;
use crate::crypto::SecretBox;
use crate::secret_seed::{SecretSeed, SEED_BYTES};

/// The purpose credentials are sealed under (see `crypto::SecretBox::new`).
pub const CREDENTIALS_PURPOSE: &str = "credentials";

pub async fn export(pool: &PgPool, seed: &SecretSeed, include_seed: bool) -> sqlx::Result<ConfigBackup> {
    let credentials = store::list_sealed(pool)
        .await?
        .into_iter()
        .map(|(id, name, provider, sealed)| BackupCredential { id, name, provider, sealed: B64.encode(sealed) })
        .collect();
    Ok(ConfigBackup {
        format: BACKUP_FORMAT.into(),
        version: BACKUP_VERSION,
        created_at: crate::auth::sessions::rfc3339(time::OffsetDateTime::now_utc()),
        cloudsync_version: crate::system_facts::VERSION.into(),
        secret_seed: include_seed.then(|| B64.encode(seed.bytes())),
        credentials,
    })
}

/// A backup whose every field has been checked: nothing is written before this passes.
pub struct CheckedBackup {
    seed: Option<SecretSeed>,
    credentials: Vec<(BackupCredential, Vec<u8>)>,
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
    if errors.is_empty() {
        Ok(CheckedBackup { seed, credentials })
    } else {
        Err(errors)
    }
}

pub async fn import(pool: &PgPool, own: &SecretBox, backup: CheckedBackup) -> Result<ImportReport, store::StoreError> {
    let theirs = backup.seed.as_ref().map(|s| SecretBox::new(s, CREDENTIALS_PURPOSE));
    let mut report = ImportReport::default();
    let mut tx = pool.begin().await?;
    for (c, sealed) in backup.credentials {
        let name = c.name.trim().to_string();
        let taken: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM cloud_credentials WHERE name = $1)")
            .bind(&name)
            .fetch_one(&mut *tx)
            .await?;
        if taken {
            report.skipped.push(SkippedItem {
                name,
                reason: "a credential with this name already exists; rename or delete it and import again".into(),
            });
            continue;
        }
        let mut readable = false;
        store::insert_sealed(&mut tx, &name, &c.provider, |new_id| {
            let opened = theirs
                .as_ref()
                .and_then(|t| store::reseal(t, c.id, &sealed, own, new_id).ok())
                .or_else(|| store::reseal(own, c.id, &sealed, own, new_id).ok());
            readable = opened.is_some();
            // Kept as it came: it shows as "cannot decrypt" until re-entered.
            opened.unwrap_or(sealed.clone())
        })
        .await?;
        if readable {
            report.imported.push(name)
        } else {
            report.cannot_decrypt.push(name)
        }
    }
    tx.commit().await?;
    Ok(report)
}
