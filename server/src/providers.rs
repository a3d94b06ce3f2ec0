//! The catalog of backends a credential can use, read from the installed rclone's own
//! schema (`rclone::schema`) and cached per rclone binary, so every backend of every
//! rclone version is offered without hand-written forms.
//!
//! It is also the one place that knows which options reach into the server's own
//! machine (`local_access`): they run commands, dial local sockets, read local files or
//! use the machine's own credentials, all as the server's user (root on a NAS). They
//! are left out of forms and refused unless the server runs with
//! `--allow-local-options`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use protocol::providers::{Provider, ProviderOption};
use tokio::sync::Mutex;

use crate::rclone::schema;

#[derive(Default)]
pub struct ProviderCatalog {
    /// `--allow-local-options`: nothing is withheld.
    allow_local: bool,
    cached: Mutex<Option<(PathBuf, Option<SystemTime>, Arc<Vec<Provider>>)>>,
    /// (backend, option) → why it was left out of the catalog.
    withheld: std::sync::Mutex<std::collections::HashMap<(String, String), LocalAccess>>,
}

impl ProviderCatalog {
    pub fn new(allow_local: bool) -> Self {
        ProviderCatalog { allow_local, ..Default::default() }
    }

    /// Why `option` of `backend` with `value` may not be used, when it may not.
    pub fn refusal(&self, backend: &str, option: &str, value: &str) -> Option<String> {
        if self.allow_local {
            return None;
        }
        let access = self
            .withheld
            .lock()
            .expect("withheld lock")
            .get(&(backend.to_string(), option.to_string()))
            .copied()
            .or_else(|| local_value(backend, option, value))?;
        Some(format!(
            "{} as the server's user, so it is refused; paste contents instead of file paths (key_pem, service_account_credentials), or start the server with --allow-local-options",
            access.explain()
        ))
    }

    /// The providers of the rclone at `path`; reloaded when the binary changes.
    pub async fn get(&self, path: &Path) -> anyhow::Result<Arc<Vec<Provider>>> {
        let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let mut cached = self.cached.lock().await;
        if let Some((p, m, list)) = cached.as_ref() {
            if p == path && *m == mtime {
                return Ok(list.clone());
            }
        }
        let mut list = schema::read(path).await?;
        if !self.allow_local {
            let mut withheld = self.withheld.lock().expect("withheld lock");
            withheld.clear();
            for p in &mut list {
                p.options.retain(|o| match local_access(o) {
                    Some(access) => {
                        withheld.insert((p.name.clone(), o.name.clone()), access);
                        false
                    }
                    None => true,
                });
            }
        }
        let list = Arc::new(list);
        *cached = Some((path.to_path_buf(), mtime, list.clone()));
        Ok(list)
    }

    pub async fn find(&self, path: &Path, name: &str) -> anyhow::Result<Option<Provider>> {
        Ok(self.get(path).await?.iter().find(|p| p.name == name).cloned())
    }
}

/// How an option reaches into the server's machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalAccess {
    RunsCommand,
    DialsSocket,
    ReadsFile,
    UsesMachineCredentials,
}

impl LocalAccess {
    pub fn explain(self) -> &'static str {
        match self {
            LocalAccess::RunsCommand => "runs a command on the server",
            LocalAccess::DialsSocket => "connects to a socket on the server",
            LocalAccess::ReadsFile => "reads a file on the server",
            LocalAccess::UsesMachineCredentials => "uses the server machine's own credentials",
        }
    }
}

/// Options whose name alone says they use the machine's own identity.
const MACHINE_CREDENTIALS: &[&str] = &[
    "env_auth",
    "use_msi",
    "msi_object_id",
    "msi_client_id",
    "msi_mi_res_id",
    "use_kerberos",
    "service_principal_name",
];

/// Whether `option` reaches into the server's machine, read from its name and the
/// first line of its help in rclone's schema (so options added by a newer rclone that
/// follow rclone's naming are caught too; the provider tests check rclone 1.75 whole).
pub fn local_access(option: &ProviderOption) -> Option<LocalAccess> {
    let name = option.name.as_str();
    let help = option.help.lines().next().unwrap_or("").to_ascii_lowercase();
    if name == "ssh" || name.ends_with("_command") || name == "use_az" || help.starts_with("command to run") {
        return Some(LocalAccess::RunsCommand);
    }
    if name.ends_with("socket") && name != "socks_proxy" || help.contains("unix domain socket") {
        return Some(LocalAccess::DialsSocket);
    }
    if MACHINE_CREDENTIALS.contains(&name) {
        return Some(LocalAccess::UsesMachineCredentials);
    }
    let pathish = help.starts_with("path to")
        || help.starts_with("optional path to")
        || help.contains("file path")
        || help.ends_with(" location")
        || help.contains("credential cache");
    if name.ends_with("_file") || name.ends_with("_ccache") || (name.ends_with("_path") && pathish) || pathish {
        return Some(LocalAccess::ReadsFile);
    }
    None
}

/// Values of otherwise harmless options that make rclone read local files: Oracle's
/// authentication `provider`s other than `no_auth` read `~/.oci/config` or the
/// instance's identity.
pub fn local_value(backend: &str, option: &str, value: &str) -> Option<LocalAccess> {
    (backend == "oracleobjectstorage" && option == "provider" && !value.is_empty() && value != "no_auth")
        .then_some(LocalAccess::UsesMachineCredentials)
}
