//! The rclone command line of a task run: verb by transfer mode, source and destination
//! by direction, the crypt remote wrapping the cloud remote when encryption is on, and
//! the task's options as flags. Secrets go into the remote's environment, never argv.

use std::collections::BTreeMap;
use std::ffi::OsString;

use protocol::providers::Provider;
use protocol::tasks::{Direction, SyncTask, Timetable, TransferMode};

use crate::credentials::{self, ValidAttributes};
use crate::rclone::{RemoteEnv, REMOTE};
use crate::tasks::CryptSecrets;

/// The name of the crypt remote wrapping `cloudsync:` when a task encrypts.
pub const CRYPT_REMOTE: &str = "cloudsynccrypt";

pub struct SyncCommand {
    /// Verb, source, destination and flags: what the guards dry-run. Without the
    /// `--backup-dir` of `keep_deleted` (see [`SyncCommand::transfer_args`]), so a dry
    /// run counts deletions as deletions.
    pub args: Vec<OsString>,
    /// The flags that choose which files take part (`--filter`, `--copy-links`): a
    /// verification compares exactly what the transfer touched.
    pub selection: Vec<OsString>,
    /// With `keep_deleted`: where this run's deleted and overwritten files go.
    pub kept: Option<Kept>,
    pub remote: RemoteEnv,
}

/// The folders of `keep_deleted`: `root` holds one dated folder per run, `dir`.
#[derive(Clone, Debug, PartialEq)]
pub struct Kept {
    pub root: String,
    pub dir: String,
}

impl SyncCommand {
    /// The transfer itself: [`SyncCommand::args`] plus `--backup-dir` with keep_deleted.
    pub fn transfer_args(&self) -> Vec<OsString> {
        let mut args = self.args.clone();
        if let Some(k) = &self.kept {
            args.push("--backup-dir".into());
            args.push(k.dir.clone().into());
        }
        args
    }

    pub fn source(&self) -> &std::ffi::OsStr {
        &self.args[1]
    }

    pub fn destination(&self) -> &std::ffi::OsStr {
        &self.args[2]
    }

    /// The content comparison of `verify`: every file the transfer selected must be at
    /// the destination with the same bytes (`cryptcheck` through an encrypted remote,
    /// whose files have no hash of their own). `--combined -` lists each file on stdout
    /// with its verdict; `download` compares by reading both sides.
    pub fn verification_args(&self, encrypted_push: bool, download: bool) -> Vec<OsString> {
        let verb = if encrypted_push { "cryptcheck" } else { "check" };
        let mut args: Vec<OsString> = vec![verb.into(), self.source().into(), self.destination().into()];
        for f in ["--one-way", "--combined", "-", "--use-json-log"] {
            args.push(f.into());
        }
        if download && !encrypted_push {
            args.push("--download".into());
        }
        args.extend(self.selection.iter().cloned());
        args
    }
}

/// The remote side of a task: `cloudsync:bucket/folder`.
pub fn remote_path(task: &SyncTask) -> String {
    let parts: Vec<&str> = [task.attributes.bucket.as_str(), task.attributes.folder.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    format!("{REMOTE}:{}", parts.join("/"))
}

pub fn build(
    task: &SyncTask,
    bandwidth: &Timetable,
    provider: &Provider,
    attrs: &ValidAttributes,
    crypt: Option<&CryptSecrets>,
    dry_run: bool,
    refusal: credentials::Refusal,
    started: chrono::DateTime<chrono::Utc>,
) -> Result<SyncCommand, String> {
    let mut remote = credentials::remote_env(provider, attrs, refusal)?;
    let mut cloud = remote_path(task);
    if let (true, Some(c)) = (task.encryption, crypt) {
        let mut crypt_attrs = BTreeMap::new();
        crypt_attrs.insert("remote".to_string(), cloud.clone());
        crypt_attrs.insert("password".to_string(), c.password.clone());
        if !c.salt.is_empty() {
            crypt_attrs.insert("password2".to_string(), c.salt.clone());
        }
        crypt_attrs.insert(
            "filename_encryption".to_string(),
            if task.filename_encryption { "standard" } else { "off" }.to_string(),
        );
        crypt_attrs.insert("directory_name_encryption".to_string(), task.filename_encryption.to_string());
        let is_password = |k: &str| k == "password" || k == "password2";
        remote.extend(RemoteEnv::new(CRYPT_REMOTE, "crypt", &crypt_attrs, &is_password, &is_password)?);
        cloud = format!("{CRYPT_REMOTE}:");
    }
    let verb = match task.transfer_mode {
        TransferMode::Sync => "sync",
        TransferMode::Copy => "copy",
        TransferMode::Move => "move",
    };
    let (src, dst) = match task.direction {
        Direction::Push => (task.path.clone(), cloud),
        Direction::Pull => (cloud, task.path.clone()),
    };
    let kept = task.keep_deleted.then(|| kept_folders(task, &dst, started));
    let mut args: Vec<OsString> = vec![verb.into(), src.into(), dst.into()];
    let flag = |args: &mut Vec<OsString>, f: &str| args.push(f.into());
    for f in ["--use-json-log", "--stats", "1s", "--stats-log-level", "NOTICE", "-v", "--transfers"] {
        flag(&mut args, f);
    }
    args.push(task.transfers.to_string().into());
    if dry_run {
        flag(&mut args, "--dry-run");
    }
    if let Some(bw) = bandwidth.rclone_arg() {
        flag(&mut args, "--bwlimit");
        args.push(bw.into());
    }
    let selection = selection(task);
    args.extend(selection.iter().cloned());
    if task.create_empty_src_dirs {
        flag(&mut args, "--create-empty-src-dirs");
    }
    if let Some(n) = task.max_delete {
        flag(&mut args, "--max-delete");
        args.push(n.to_string().into());
    }
    // Checked against the safe lists when saved (protocol::tasks::check_flag).
    for f in &task.extra_flags {
        flag(&mut args, f);
    }
    Ok(SyncCommand { args, selection, kept, remote })
}

/// Which files take part: the kept-files folder never (its name is reserved, so turning
/// `keep_deleted` off or restoring never touches what was kept); excludes win over
/// includes; with includes, everything else is left out.
fn selection(task: &SyncTask) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::new();
    let mut filter = |rule: String| {
        out.push("--filter".into());
        out.push(rule.into());
    };
    filter(format!("- /{}/**", protocol::tasks::KEPT_FOLDER));
    for p in &task.exclude {
        filter(format!("- {p}"));
    }
    for p in &task.include {
        filter(format!("+ {p}"));
    }
    if !task.include.is_empty() {
        filter("- **".into());
    }
    if task.follow_symlinks {
        out.push("--copy-links".into());
    }
    out
}

/// Beside the destination when it is a folder of a cloud remote (`bucket/photos` →
/// `bucket/photos.cloudsync-deleted/<time>`); otherwise inside it, in the folder
/// [`selection`] always leaves out. The time is the run's start in UTC.
fn kept_folders(task: &SyncTask, dst: &str, started: chrono::DateTime<chrono::Utc>) -> Kept {
    let stamp = started.format("%Y-%m-%dT%H%M%SZ").to_string();
    let beside = protocol::tasks::kept_beside(task.direction, task.encryption, &task.attributes.folder);
    let root = if beside {
        format!("{}{}", dst.trim_end_matches('/'), protocol::tasks::KEPT_SUFFIX)
    } else if dst.ends_with(':') || dst.ends_with('/') {
        format!("{dst}{}", protocol::tasks::KEPT_FOLDER)
    } else {
        format!("{dst}/{}", protocol::tasks::KEPT_FOLDER)
    };
    Kept { dir: format!("{root}/{stamp}"), root }
}

/// The time a kept-files folder's name stands for, if it is one of ours.
pub fn kept_folder_time(name: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let name = name.trim_end_matches('/');
    chrono::NaiveDateTime::parse_from_str(name, "%Y-%m-%dT%H%M%SZ").ok().map(|t| t.and_utc())
}
