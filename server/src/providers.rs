//! The catalog of backends a credential can use, read from the installed rclone's own
//! schema (`rclone config providers`) and cached per rclone binary, so every backend of
//! every rclone version is offered without hand-written forms.
//!
//! It is also the one place that knows which options reach into the server's own
//! machine (`local_access`): they run commands, dial local sockets, read local files or
//! use the machine's own credentials, all as the server's user (root on a NAS). They
//! are left out of forms and refused unless the server runs with
//! `--allow-local-options`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use protocol::providers::{OptionExample, Provider, ProviderOption, NOT_CREDENTIALS};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::runner::rclone;

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
        let out = rclone::run(path, &["config".into(), "providers".into()], None, Duration::from_secs(30)).await?;
        anyhow::ensure!(
            out.code == Some(0),
            "`rclone config providers` failed: {}",
            rclone::error_line(&out.stderr, None)
        );
        let mut list = parse(&out.stdout)?;
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
const MACHINE_CREDENTIALS: &[&str] =
    &["env_auth", "use_msi", "msi_object_id", "msi_client_id", "msi_mi_res_id", "use_kerberos", "service_principal_name"];

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

/// Names that say "secret" even where rclone's schema does not flag the option
/// (`s3 ibm_api_key`, `oracleobjectstorage sse_customer_key`, `shade token`). Applied to
/// text options only: a flag or a number named `…_key` is no secret, and redacting its
/// value ("true", "100") from logs would garble them.
pub fn secret_by_name(name: &str) -> bool {
    const WORDS: &[&str] = &["key", "secret", "token", "credential", "credentials", "sas", "apikey", "private"];
    const NOT: &[&str] = &["access_key_id", "key_file", "token_url", "key_use_agent"];
    let n = name.to_ascii_lowercase();
    !NOT.contains(&n.as_str())
        && n.split(|c: char| !c.is_ascii_alphanumeric()).any(|part| WORDS.contains(&part) || part.starts_with("pass"))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawBackend {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    options: Vec<RawOption>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawOption {
    name: String,
    #[serde(default)]
    help: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    default_str: String,
    #[serde(default)]
    examples: Option<Vec<RawExample>>,
    #[serde(default)]
    hide: u8,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    is_password: bool,
    #[serde(default)]
    sensitive: bool,
    #[serde(default)]
    advanced: bool,
    #[serde(default)]
    exclusive: bool,
    #[serde(default, rename = "Type")]
    kind: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawExample {
    value: String,
    #[serde(default)]
    help: String,
    #[serde(default)]
    provider: String,
}

/// rclone's `Hide` flag for options not shown when configuring a remote.
const HIDE_FROM_CONFIG: u8 = 1;

pub fn parse(json: &[u8]) -> anyhow::Result<Vec<Provider>> {
    let raw: Vec<RawBackend> = serde_json::from_slice(json)?;
    let mut providers: Vec<Provider> = raw
        .into_iter()
        .filter(|b| !NOT_CREDENTIALS.contains(&b.name.as_str()))
        .map(|b| {
            let oauth = b.options.iter().any(|o| o.name == "token") && b.options.iter().any(|o| o.name == "client_id");
            let options = b
                .options
                .into_iter()
                .filter(|o| o.hide & HIDE_FROM_CONFIG == 0)
                .map(|o| (o.is_password || o.sensitive || (o.kind == "string" && secret_by_name(&o.name)), o))
                .map(|(secret, o)| ProviderOption {
                    name: o.name,
                    help: o.help,
                    kind: o.kind,
                    default: o.default_str,
                    examples: o
                        .examples
                        .unwrap_or_default()
                        .into_iter()
                        .map(|e| OptionExample {
                            value: e.value,
                            help: e.help,
                            provider: Some(e.provider).filter(|p| !p.is_empty()),
                        })
                        .collect(),
                    required: o.required,
                    secret,
                    obscured: o.is_password,
                    advanced: o.advanced,
                    exclusive: o.exclusive,
                    provider: Some(o.provider).filter(|p| !p.is_empty()),
                })
                .collect();
            Provider { name: b.name, description: b.description, options, oauth }
        })
        .collect();
    providers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(providers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_recognised_by_name() {
        for n in ["ibm_api_key", "sse_customer_key", "token", "password", "pass", "client_secret", "sas_url", "account_key", "passphrase", "key_file_pass", "private_key", "credentials", "service_account_credentials", "api_key", "apikey"] {
            assert!(secret_by_name(n), "{n}");
        }
        for n in ["host", "user", "region", "endpoint", "key_use_agent", "token_url", "auth_url", "access_key_id", "keyboard", "bucket", "provider"] {
            assert!(!secret_by_name(n), "{n}");
        }
    }

    const SAMPLE: &str = r#"[
      {"Name": "crypt", "Description": "Encrypt/Decrypt a remote", "Options": []},
      {"Name": "webdav", "Description": "WebDAV", "Options": [
        {"Name": "url", "Help": "URL of http host", "Default": "", "DefaultStr": "", "Required": true, "IsPassword": false, "Sensitive": false, "Advanced": false, "Exclusive": false, "Hide": 0, "Type": "string"},
        {"Name": "pass", "Help": "Password", "DefaultStr": "", "Required": false, "IsPassword": true, "Advanced": false, "Hide": 0, "Type": "string"},
        {"Name": "bearer_token", "Help": "Bearer token", "DefaultStr": "", "Sensitive": true, "Hide": 0, "Type": "string"},
        {"Name": "description", "Help": "Description", "DefaultStr": "", "Hide": 3, "Type": "string"}
      ]},
      {"Name": "dropbox", "Description": "Dropbox", "Options": [
        {"Name": "client_id", "DefaultStr": "", "Type": "string", "Sensitive": true},
        {"Name": "token", "DefaultStr": "", "Type": "string", "Sensitive": true, "Advanced": true}
      ]}
    ]"#;

    #[test]
    fn keeps_storage_backends_with_their_secret_flags() {
        let p = parse(SAMPLE.as_bytes()).unwrap();
        let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["dropbox", "webdav"], "wrappers are not credentials");
        let webdav = &p[1];
        assert!(!webdav.oauth);
        let opt = |n: &str| webdav.options.iter().find(|o| o.name == n);
        assert!(opt("url").unwrap().required);
        assert!(opt("pass").unwrap().secret && opt("pass").unwrap().obscured);
        assert!(opt("bearer_token").unwrap().secret && !opt("bearer_token").unwrap().obscured);
        assert!(opt("description").is_none(), "options hidden from configuration are left out");
        assert!(p[0].oauth);
    }
}
