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
    pub args: Vec<OsString>,
    pub remote: RemoteEnv,
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
    // Excludes win over includes; with includes, everything else is left out.
    for p in &task.exclude {
        flag(&mut args, "--filter");
        args.push(format!("- {p}").into());
    }
    for p in &task.include {
        flag(&mut args, "--filter");
        args.push(format!("+ {p}").into());
    }
    if !task.include.is_empty() {
        flag(&mut args, "--filter");
        flag(&mut args, "- **");
    }
    if task.follow_symlinks {
        flag(&mut args, "--copy-links");
    }
    if task.create_empty_src_dirs {
        flag(&mut args, "--create-empty-src-dirs");
    }
    if let Some(n) = task.max_delete {
        flag(&mut args, "--max-delete");
        args.push(n.to_string().into());
    }
    Ok(SyncCommand { args, remote })
}
