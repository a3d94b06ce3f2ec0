//! The catalog of backends a credential can use, read from the installed rclone's own
//! schema (`rclone config providers`) and cached per rclone binary, so every backend of
//! every rclone version is offered without hand-written forms.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use protocol::providers::{OptionExample, Provider, ProviderOption, NOT_CREDENTIALS};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::runner::rclone;

#[derive(Default)]
pub struct ProviderCatalog {
    cached: Mutex<Option<(PathBuf, Option<SystemTime>, Arc<Vec<Provider>>)>>,
}

impl ProviderCatalog {
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
        let list = Arc::new(parse(&out.stdout)?);
        *cached = Some((path.to_path_buf(), mtime, list.clone()));
        Ok(list)
    }

    pub async fn find(&self, path: &Path, name: &str) -> anyhow::Result<Option<Provider>> {
        Ok(self.get(path).await?.iter().find(|p| p.name == name).cloned())
    }
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
                .map(|o| ProviderOption {
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
                    secret: o.is_password || o.sensitive,
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
