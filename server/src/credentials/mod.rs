//! Cloud credentials: checking attributes against the provider's schema
//! (`validate`), keeping them encrypted in the database (`store`), and handing them to
//! rclone (`remote_env`).

pub mod store;

use std::collections::BTreeMap;

use protocol::credentials::SecretMask;
use protocol::providers::Provider;
use protocol::FieldError;
use serde_json::Value;

use crate::runner::rclone::{RemoteEnv, REMOTE};

/// Attribute values that passed `validate`: every key is an option of the provider,
/// every value has the option's type, required options are present.
#[derive(Clone, PartialEq)]
pub struct ValidAttributes(BTreeMap<String, String>);

impl std::fmt::Debug for ValidAttributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ValidAttributes").field(&self.0.keys().collect::<Vec<_>>()).finish()
    }
}

impl ValidAttributes {
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// Trusted because it was validated before it was encrypted and stored.
    pub(crate) fn from_stored(map: BTreeMap<String, String>) -> Self {
        ValidAttributes(map)
    }

    pub fn sub_provider(&self) -> Option<&str> {
        self.0.get("provider").map(String::as_str)
    }
}

/// Checks `input` against `provider`'s schema. With `stored` (an update), secrets that
/// are left out or sent back masked keep their stored values. Errors name fields as
/// `attributes.<option>`.
pub fn validate(
    provider: &Provider,
    input: &BTreeMap<String, Value>,
    stored: Option<&ValidAttributes>,
) -> Result<ValidAttributes, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut out = BTreeMap::new();
    let field = |k: &str| format!("attributes.{k}");

    let sub_provider: Option<String> = match input.get("provider") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => stored.and_then(|s| s.sub_provider().map(str::to_string)),
    };
    let sub = sub_provider.as_deref();

    for (key, value) in input {
        let text = if SecretMask::is_mask(value) {
            match stored.and_then(|s| s.0.get(key)) {
                Some(v) => v.clone(),
                None => continue,
            }
        } else {
            match value {
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                Value::Null => continue,
                _ => {
                    errors.push(FieldError::new(field(key), "must be a string, a number or a boolean"));
                    continue;
                }
            }
        };
        let Some(option) = provider.option(key, sub) else {
            let why = if provider.options.iter().any(|o| o.name == *key) {
                format!("does not apply to provider {}", sub.unwrap_or("(none chosen)"))
            } else {
                format!("is not an option of {}", provider.name)
            };
            errors.push(FieldError::new(field(key), why));
            continue;
        };
        if text.is_empty() {
            continue;
        }
        if let Err(why) = option.check_value(&text) {
            errors.push(FieldError::new(field(key), why));
            continue;
        }
        out.insert(key.clone(), text);
    }
    // Secrets the form did not send back stay as they were.
    if let Some(stored) = stored {
        for (key, value) in &stored.0 {
            let is_secret = provider.option(key, sub).is_some_and(|o| o.secret);
            if is_secret && !input.contains_key(key) {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    for option in provider.options_for(sub) {
        if option.required
            && option.default.is_empty()
            && !out.contains_key(&option.name)
            && !errors.iter().any(|e| e.field == field(&option.name))
        {
            errors.push(FieldError::new(field(&option.name), "is required"));
        }
    }
    if errors.is_empty() {
        Ok(ValidAttributes(out))
    } else {
        Err(errors)
    }
}

/// The attributes as the API shows them: secrets masked.
pub fn masked(
    provider: Option<&Provider>,
    attrs: &ValidAttributes,
) -> BTreeMap<String, protocol::credentials::AttributeValue> {
    use protocol::credentials::AttributeValue;
    let sub = attrs.sub_provider();
    attrs
        .0
        .iter()
        .map(|(k, v)| {
            // An option the installed rclone no longer knows is masked to be safe.
            let secret = provider.and_then(|p| p.option(k, sub)).map(|o| o.secret).unwrap_or(true);
            let shown = if secret { AttributeValue::Secret(SecretMask::SET) } else { AttributeValue::Plain(v.clone()) };
            (k.clone(), shown)
        })
        .collect()
}

/// The remote `cloudsync:` configured for rclone from a credential. OAuth remotes with
/// a token get a private config file, so a token rclone refreshes can be saved back
/// (`refreshed_attributes`).
pub fn remote_env(provider: &Provider, attrs: &ValidAttributes) -> RemoteEnv {
    let sub = attrs.sub_provider();
    let obscured = |k: &str| provider.option(k, sub).is_some_and(|o| o.obscured);
    let secret = |k: &str| provider.option(k, sub).is_none_or(|o| o.secret);
    let env = RemoteEnv::new(REMOTE, &provider.name, &attrs.0, &obscured, &secret);
    if provider.oauth && attrs.0.get("token").is_some_and(|t| !t.is_empty()) {
        return env.with_config_file();
    }
    env
}

/// The credential's attributes with the token rclone refreshed during a command, if it
/// did.
pub fn refreshed_attributes(remote: &RemoteEnv, attrs: &ValidAttributes) -> Option<ValidAttributes> {
    let token = remote.refreshed_token()?;
    let mut map = attrs.0.clone();
    map.insert("token".into(), token);
    Some(ValidAttributes(map))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn webdav() -> Provider {
        crate::providers::parse(
            br#"[{"Name": "webdav", "Options": [
            {"Name": "url", "DefaultStr": "", "Required": true, "Type": "string"},
            {"Name": "user", "DefaultStr": "", "Type": "string", "Sensitive": true},
            {"Name": "pass", "DefaultStr": "", "IsPassword": true, "Type": "string"},
            {"Name": "pacer_min_sleep", "DefaultStr": "10ms", "Type": "Duration", "Advanced": true}
        ]}]"#,
        )
        .unwrap()
        .remove(0)
    }

    fn input(v: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn accepts_good_attributes_and_converts_values_to_strings() {
        let a = validate(&webdav(), &input(json!({"url": "http://x", "pass": "p", "pacer_min_sleep": "20ms"})), None)
            .unwrap();
        assert_eq!(a.as_map().get("url").map(String::as_str), Some("http://x"));
    }

    #[test]
    fn names_every_bad_field() {
        let errs =
            validate(&webdav(), &input(json!({"pass": ["x"], "colour": "blue", "pacer_min_sleep": "soon"})), None)
                .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["attributes.colour", "attributes.pacer_min_sleep", "attributes.pass", "attributes.url"]);
        assert_eq!(errs[0].message, "is not an option of webdav");
        assert_eq!(errs[3].message, "is required");
    }

    #[test]
    fn an_update_keeps_secrets_that_are_masked_or_left_out() {
        let p = webdav();
        let stored = validate(&p, &input(json!({"url": "http://x", "user": "u", "pass": "old"})), None).unwrap();
        let updated =
            validate(&p, &input(json!({"url": "http://y", "user": {"secret": true, "set": true}})), Some(&stored))
                .unwrap();
        assert_eq!(updated.as_map()["url"], "http://y");
        assert_eq!(updated.as_map()["user"], "u");
        assert_eq!(updated.as_map()["pass"], "old");
        let cleared = validate(&p, &input(json!({"url": "http://y", "pass": ""})), Some(&stored)).unwrap();
        assert!(!cleared.as_map().contains_key("pass"), "an explicit empty value clears a secret");
    }

    #[test]
    fn masks_secrets_going_out() {
        let p = webdav();
        let a = validate(&p, &input(json!({"url": "http://x", "user": "u", "pass": "p"})), None).unwrap();
        let shown = serde_json::to_value(masked(Some(&p), &a)).unwrap();
        assert_eq!(
            shown,
            json!({"pass": {"secret": true, "set": true}, "url": "http://x", "user": {"secret": true, "set": true}})
        );
    }
}
