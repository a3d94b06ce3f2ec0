//! `notify.*`: where cloudsync sends word of runs (webhooks, ntfy, healthchecks-style
//! pings), the test button, and the log of every delivery attempt.
//!
//! A target's settings are generic over how a secret field looks: a [`SecretInput`]
//! coming in (a new value, or the mask meaning "keep"), a plain `String` at rest (sealed
//! whole) and a [`SecretMask`] going out, so a secret never leaves the server.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::credentials::{IdParams, SecretInput, SecretMask};
use crate::{method, Empty, FieldError};

method!(
    /// Every notification target, secrets masked.
    TargetList = "notify.target.list", Empty => Vec<NotifyTarget>
);
method!(
    TargetCreate = "notify.target.create", TargetParams => NotifyTarget
);
method!(
    /// Replaces a target's settings; a secret sent back masked keeps its stored value.
    TargetUpdate = "notify.target.update", TargetUpdateParams => NotifyTarget
);
method!(
    /// Deletes a target; tasks that named it stop sending to it.
    TargetDelete = "notify.target.delete", IdParams => Empty
);
method!(
    /// Sends a sample message now and says how it went (also recorded as a delivery).
    TargetTest = "notify.target.test", IdParams => TestResult
);
method!(
    /// The server-wide default: the targets and `on` of every task that lists no
    /// targets of its own (and whose `on` is not `never`).
    DefaultGet = "notify.default.get", Empty => TaskNotify
);
method!(
    /// Replaces the server-wide default; every target must exist.
    DefaultSet = "notify.default.set", TaskNotify => TaskNotify
);
method!(
    /// Delivery attempts, newest first.
    Deliveries = "notify.deliveries", DeliveriesParams => Vec<Delivery>
);

/// A target's kind and its settings: on the wire `"kind": "webhook", "settings": {…}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "settings", rename_all = "lowercase")]
pub enum TargetSettings<S> {
    /// A POST of the JSON [`RunMessage`]; with `secret`, the header
    /// `X-Cloudsync-Signature: sha256=<hex HMAC-SHA256 of the body>`.
    Webhook(Webhook<S>),
    /// A publish to `<server>/<topic>` with title, priority and tags.
    Ntfy(Ntfy<S>),
    /// healthchecks.io-style pings: `<url>/start` when a run starts, `<url>` on success,
    /// `<url>/fail` on failure, for every run of the tasks that name it.
    Healthchecks(Healthchecks<S>),
    /// An e-mail through an SMTP server.
    Email(Email<S>),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook<S> {
    /// A secret: webhook URLs often carry their key.
    pub url: S,
    /// Header values are secrets (an `Authorization` header, say).
    #[serde(default = "BTreeMap::new")]
    pub headers: BTreeMap<String, S>,
    #[serde(default = "none")]
    pub secret: Option<S>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ntfy<S> {
    /// e.g. `https://ntfy.sh`.
    pub server: String,
    pub topic: String,
    #[serde(default = "none")]
    pub token: Option<S>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default = "none")]
    pub password: Option<S>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Healthchecks<S> {
    /// A secret: the check's URL is its key, e.g. `https://hc-ping.com/<uuid>`.
    pub url: S,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Email<S> {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default = "none")]
    pub password: Option<S>,
    pub from: String,
    pub to: Vec<String>,
}

/// How the SMTP connection is protected: STARTTLS (required, usually port 587), TLS
/// from the first byte (465), or nothing (a trusted local relay only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    Starttls,
    Tls,
    None,
}

fn none<S>() -> Option<S> {
    None
}

impl<S> TargetSettings<S> {
    /// The same settings with each secret field turned by `f`, which gets the field's
    /// name as errors name it (`settings.url`, `settings.headers.Authorization`).
    pub fn map_secrets<T, E>(self, mut f: impl FnMut(&str, S) -> Result<T, E>) -> Result<TargetSettings<T>, E> {
        let mut opt = |name: &str, v: Option<S>| v.map(|v| f(name, v)).transpose();
        Ok(match self {
            TargetSettings::Webhook(w) => {
                let url = opt("settings.url", Some(w.url))?.expect("given");
                let mut headers = BTreeMap::new();
                for (k, v) in w.headers {
                    let value = opt(&format!("settings.headers.{k}"), Some(v))?.expect("given");
                    headers.insert(k, value);
                }
                let secret = opt("settings.secret", w.secret)?;
                TargetSettings::Webhook(Webhook { url, headers, secret })
            }
            TargetSettings::Ntfy(n) => TargetSettings::Ntfy(Ntfy {
                token: opt("settings.token", n.token)?,
                password: opt("settings.password", n.password)?,
                server: n.server,
                topic: n.topic,
                user: n.user,
            }),
            TargetSettings::Healthchecks(h) => {
                TargetSettings::Healthchecks(Healthchecks { url: opt("settings.url", Some(h.url))?.expect("given") })
            }
            TargetSettings::Email(e) => TargetSettings::Email(Email {
                password: opt("settings.password", e.password)?,
                host: e.host,
                port: e.port,
                security: e.security,
                user: e.user,
                from: e.from,
                to: e.to,
            }),
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            TargetSettings::Webhook(_) => "webhook",
            TargetSettings::Ntfy(_) => "ntfy",
            TargetSettings::Healthchecks(_) => "healthchecks",
            TargetSettings::Email(_) => "email",
        }
    }
}

/// A target as the API returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotifyTarget {
    pub id: i64,
    pub name: String,
    #[serde(flatten)]
    pub target: TargetSettings<SecretMask>,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetParams {
    pub name: String,
    #[serde(flatten)]
    pub target: TargetSettings<SecretInput>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetUpdateParams {
    pub id: i64,
    #[serde(flatten)]
    pub target: TargetParams,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    pub ok: bool,
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesParams {
    #[serde(default)]
    pub target_id: Option<i64>,
    /// Default 50, at most 500.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One attempt to deliver one message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub target_id: i64,
    /// `None` for a test message.
    pub run_id: Option<i64>,
    /// RFC 3339, UTC.
    pub at: String,
    pub ok: bool,
    /// The HTTP status the target answered, if it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// Per task: which targets hear about its runs, and when.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskNotify {
    #[serde(default)]
    pub targets: Vec<i64>,
    #[serde(default)]
    pub on: NotifyOn,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyOn {
    /// FAILED and INTERRUPTED runs (the default), and a recovery after failures.
    #[default]
    Failure,
    Always,
    Never,
}

/// What a webhook receives (and what the other kinds are written from).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunMessage {
    /// `run.failed`, `run.succeeded`, `run.recovered` (a success after failures) or
    /// `test`.
    pub event: String,
    pub task: MessageTask,
    pub run: crate::runs::Run,
    /// Seconds from start to end.
    pub duration_seconds: Option<f64>,
    /// The run's last log lines (20) when it failed.
    pub last_lines: Vec<String>,
    /// The run's page, when the server knows its public address.
    pub url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageTask {
    pub id: i64,
    pub description: String,
}

/// The checks that need no server state, named as the API names the fields.
pub fn check_target(p: &TargetParams) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut err = |f: &str, m: &str| errors.push(FieldError::new(f, m));
    let name = p.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        err("name", "must be 1 to 100 characters, without control characters");
    }
    let http_url = |v: &str| (v.starts_with("https://") || v.starts_with("http://")) && v.len() > 8 && v.len() <= 2048;
    let set_url = |s: &SecretInput| match s {
        SecretInput::Set(v) => http_url(v.trim()),
        SecretInput::Keep => true,
    };
    match &p.target {
        TargetSettings::Webhook(w) => {
            if !set_url(&w.url) {
                err("settings.url", "must be an http:// or https:// URL");
            }
            for (k, v) in &w.headers {
                let bad_value = matches!(v, SecretInput::Set(v) if v.contains(['\r', '\n']));
                if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') || bad_value {
                    err(
                        &format!("settings.headers.{k}"),
                        "a header name is letters, digits and '-'; a value is one line",
                    );
                }
            }
        }
        TargetSettings::Ntfy(n) => {
            if !http_url(n.server.trim()) {
                err("settings.server", "must be an http:// or https:// URL, e.g. https://ntfy.sh");
            }
            let topic = n.topic.trim();
            if topic.is_empty()
                || topic.len() > 64
                || !topic.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
            {
                err("settings.topic", "must be 1 to 64 letters, digits, '-' or '_'");
            }
            if n.password.is_some() && n.user.as_deref().unwrap_or("").is_empty() {
                err("settings.user", "is needed with a password");
            }
        }
        TargetSettings::Healthchecks(h) => {
            if !set_url(&h.url) {
                err("settings.url", "must be an http:// or https:// URL, e.g. https://hc-ping.com/<uuid>");
            }
        }
        TargetSettings::Email(e) => {
            let host = e.host.trim();
            if host.is_empty() || host.len() > 253 || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
                err("settings.host", "must be the mail server's name or address");
            }
            if e.port == 0 {
                err("settings.port", "must be between 1 and 65535");
            }
            let address = |a: &str| {
                let a = a.trim();
                a.len() <= 254
                    && a.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') || d == "localhost")
                    && !a.chars().any(|c| c.is_whitespace() || c.is_control())
            };
            if !address(&e.from) {
                err("settings.from", "must be an e-mail address");
            }
            if e.to.is_empty() || e.to.len() > 20 {
                err("settings.to", "must list 1 to 20 addresses");
            }
            for (i, a) in e.to.iter().enumerate() {
                if !address(a) {
                    err(&format!("settings.to[{i}]"), "must be an e-mail address");
                }
            }
            if e.password.is_some() && e.user.as_deref().unwrap_or("").is_empty() {
                err("settings.user", "is needed with a password");
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_read_their_kind_and_settings_and_mask_secrets_going_out() {
        let p: TargetParams = serde_json::from_value(serde_json::json!({
            "name": "ops hook", "kind": "webhook",
            "settings": {"url": "https://example.com/hook?key=abc", "headers": {"Authorization": "Bearer x"}, "secret": "s3cret"}
        }))
        .unwrap();
        assert!(check_target(&p).is_empty());
        let stored = p.target.map_secrets(|_, s| match s {
            SecretInput::Set(v) => Ok::<_, ()>(v),
            SecretInput::Keep => Err(()),
        });
        let out = stored.unwrap().map_secrets(|_, _| Ok::<_, ()>(SecretMask::SET)).unwrap();
        let text = serde_json::to_string(&out).unwrap();
        assert!(!text.contains("abc") && !text.contains("Bearer") && !text.contains("s3cret"), "{text}");
        assert_eq!(
            serde_json::to_value(&out).unwrap()["settings"]["headers"]["Authorization"],
            serde_json::json!({"secret": true, "set": true})
        );
    }

    #[test]
    fn bad_settings_name_their_fields() {
        let p: TargetParams = serde_json::from_value(serde_json::json!({
            "name": "", "kind": "ntfy", "settings": {"server": "ntfy.sh", "topic": "a b", "password": "x"}
        }))
        .unwrap();
        let fields: Vec<String> = check_target(&p).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["name", "settings.server", "settings.topic", "settings.user"]);
        let unknown =
            serde_json::from_value::<TargetParams>(serde_json::json!({"name": "x", "kind": "pager", "settings": {}}));
        assert!(unknown.is_err());
    }
}
