//! `config.*`: backing up and restoring the configuration: credentials and tasks.
//! Secrets stay encrypted in the backup; the secret seed that opens them is included
//! only when asked for.

use serde::{Deserialize, Serialize};

use crate::method;

method!(
    /// One JSON document with every credential (still encrypted), every task (its
    /// encryption secrets still encrypted), and the secret seed when
    /// `include_secret_seed` is true.
    Export = "config.export", ExportParams => ConfigBackup
);
method!(
    /// Restores a backup into this server; name clashes are reported, never overwritten.
    /// Tasks come back disabled: their folders may not exist here.
    Import = "config.import", ImportParams => ImportReport
);

/// The `format` every backup carries.
pub const BACKUP_FORMAT: &str = "cloudsync-config";
/// The `version` this build writes and reads.
pub const BACKUP_VERSION: u32 = 1;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    #[serde(default)]
    pub include_secret_seed: bool,
    /// The current password again; required with `include_secret_seed`.
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigBackup {
    pub format: String,
    pub version: u32,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub cloudsync_version: String,
    /// Base64 of the 32-byte seed; anyone holding a backup with it can read every
    /// credential in it, so protect such a file like a password.
    #[serde(default)]
    pub secret_seed: Option<String>,
    pub credentials: Vec<BackupCredential>,
    /// Absent in backups made before tasks were included.
    #[serde(default)]
    pub tasks: Vec<BackupTask>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackupTask {
    /// The id on the server that made the backup (the sealed secrets are bound to it).
    pub id: i64,
    /// The settings; `credentials` is a credential id of that server, and the
    /// encryption password and salt are left out (they are in `encryption_sealed`).
    pub settings: crate::tasks::TaskParams,
    /// Base64 of the AES-256-GCM ciphertext of the encryption password and salt.
    #[serde(default)]
    pub encryption_sealed: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackupCredential {
    /// The id on the server that made the backup (the ciphertext is bound to it).
    pub id: i64,
    pub name: String,
    pub provider: String,
    /// Base64 of the AES-256-GCM ciphertext of the attributes.
    pub sealed: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    pub backup: ConfigBackup,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Names restored and readable.
    pub imported: Vec<String>,
    /// Names restored whose settings this server cannot decrypt (a backup without its
    /// seed from another server): enter their settings again.
    pub cannot_decrypt: Vec<String>,
    /// Not restored, with why (a credential of that name exists already).
    pub skipped: Vec<SkippedItem>,
    /// Tasks restored, disabled (descriptions).
    #[serde(default)]
    pub tasks_imported: Vec<String>,
    /// Tasks not restored, with why.
    #[serde(default)]
    pub tasks_skipped: Vec<SkippedItem>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SkippedItem {
    pub name: String,
    pub reason: String,
}

method!(
    /// Moves cloud sync credentials and tasks over from TrueNAS: `midclt` output
    /// (`credentials`, `tasks`) or a configuration backup (`config`). All or nothing;
    /// tasks come in disabled with what to review; `dry_run` changes nothing.
    ImportTruenas = "config.import_truenas", TruenasImportParams => TruenasImportReport
);

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TruenasImportParams {
    /// What `midclt call cloudsync.credentials.query` prints (a JSON array, either
    /// TrueNAS shape).
    #[serde(default)]
    pub credentials: Option<serde_json::Value>,
    /// What `midclt call cloudsync.query` prints; its nested `credentials` are enough.
    #[serde(default)]
    pub tasks: Option<serde_json::Value>,
    /// A configuration backup, base64: the `.tar` of System → General → Save Config
    /// (`freenas-v1.db`, and `pwenc_secret` when the seed was exported), or a bare
    /// `freenas-v1.db`.
    #[serde(default)]
    pub config: Option<String>,
    /// TrueNAS paths to this machine's, longest `from` first.
    #[serde(default)]
    pub path_map: Vec<PathMapping>,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathMapping {
    pub from: String,
    pub to: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TruenasImportReport {
    pub credentials_imported: Vec<String>,
    /// Task descriptions.
    pub tasks_imported: Vec<String>,
    /// Credentials that came over without their secrets (a backup without
    /// `pwenc_secret`, or `midclt` output with hidden values): enter them again.
    pub cannot_decrypt: Vec<String>,
    pub skipped: Vec<SkippedItem>,
    pub warnings: Vec<ImportWarning>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImportWarning {
    pub name: String,
    pub message: String,
}
