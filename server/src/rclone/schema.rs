//! The backends rclone offers and their options, read from `rclone config providers`:
//! rclone's own schema, so every backend of every rclone version gets a form without
//! one being written by hand. Options rclone hides from configuration are left out;
//! an option is secret when rclone says so or its name does.

use std::path::Path;
use std::time::Duration;

use protocol::providers::{OptionExample, Provider, ProviderOption, NOT_CREDENTIALS};
use serde::Deserialize;

/// Runs `rclone config providers` and reads its answer.
pub async fn read(rclone: &Path) -> anyhow::Result<Vec<Provider>> {
    let out =
        super::process::run(rclone, &["config".into(), "providers".into()], None, Duration::from_secs(30)).await?;
    anyhow::ensure!(
        out.code == Some(0),
        "`rclone config providers` failed: {}",
        super::process::error_line(&out.stderr, None)
    );
    parse(&out.stdout)
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
        for n in [
            "ibm_api_key",
            "sse_customer_key",
            "token",
            "password",
            "pass",
            "client_secret",
            "sas_url",
            "account_key",
            "passphrase",
            "key_file_pass",
            "private_key",
            "credentials",
            "service_account_credentials",
            "api_key",
            "apikey",
        ] {
            assert!(secret_by_name(n), "{n}");
        }
        for n in [
            "host",
            "user",
            "region",
            "endpoint",
            "key_use_agent",
            "token_url",
            "auth_url",
            "access_key_id",
            "keyboard",
            "bucket",
            "provider",
        ] {
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
