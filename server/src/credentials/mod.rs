//! Cloud credentials: checking attributes against the provider's schema
//! (`validate`), keeping them encrypted in the database (`store`), and handing them to
//! rclone (`remote_env`).

pub mod store;

use std::collections::BTreeMap;

use protocol::credentials::SecretMask;
use protocol::providers::Provider;
use protocol::FieldError;
use serde_json::Value;

use crate::rclone::{RemoteEnv, REMOTE};

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

/// Why an option with a value may not be used (`ProviderCatalog::refusal`): options
/// that reach into the server's machine.
pub type Refusal<'a> = &'a dyn Fn(&str, &str) -> Option<String>;

/// Checks `input` against `provider`'s schema. With `stored` (an update), secrets that
/// are left out or sent back masked keep their stored values. Errors name fields as
/// `attributes.<option>`.
pub fn validate(
    provider: &Provider,
    input: &BTreeMap<String, Value>,
    stored: Option<&ValidAttributes>,
    refusal: Refusal,
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
        if text.contains('\0') {
            errors.push(FieldError::new(field(key), "must not contain a NUL character"));
            continue;
        }
        if let Some(why) = refusal(key, &text) {
            errors.push(FieldError::new(field(key), why));
            continue;
        }
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
///
/// Only options of the provider as the catalog offers it reach rclone: a stored
/// attribute that is not one (a row written before an option was withheld, or edited in
/// the database) stops the command instead of reaching rclone.
pub fn remote_env(provider: &Provider, attrs: &ValidAttributes, refusal: Refusal) -> Result<RemoteEnv, String> {
    let sub = attrs.sub_provider();
    for (key, value) in &attrs.0 {
        if let Some(why) = refusal(key, value) {
            return Err(format!("its option `{key}` {why}"));
        }
        if !provider.options.iter().any(|o| o.name == *key) {
            return Err(format!("`{}` is not an option of {}; edit the credential", key.escape_debug(), provider.name));
        }
    }
    let obscured = |k: &str| provider.option(k, sub).is_some_and(|o| o.obscured);
    let secret = |k: &str| provider.option(k, sub).is_none_or(|o| o.secret);
    let mut values = attrs.0.clone();
    if let Some(pem) = values.get_mut("key_pem") {
        *pem = one_line_pem(pem);
    }
    let env = RemoteEnv::new(REMOTE, &provider.name, &values, &obscured, &secret)?;
    if provider.oauth && attrs.0.get("token").is_some_and(|t| !t.is_empty()) {
        return Ok(env.with_config_file());
    }
    Ok(env)
}

/// rclone reads SFTP's `key_pem` as the inside of a Go string literal: one line with `\n`
/// for each line end. A key pasted as it is in its file (which rclone refuses: "pem key
/// not formatted properly") is turned into that; a one-line value is left as it is.
pub fn one_line_pem(pem: &str) -> String {
    if !pem.contains('\n') {
        return pem.to_string();
    }
    pem.trim_end().replace("\r\n", "\n").replace('\n', "\\n")
}

/// No refusals: for tests and for checks that already happened.
pub fn refuse_nothing(_: &str, _: &str) -> Option<String> {
    None
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
        crate::rclone::schema::parse(
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
        let a = validate(
            &webdav(),
            &input(json!({"url": "http://x", "pass": "p", "pacer_min_sleep": "20ms"})),
            None,
            &refuse_nothing,
        )
        .unwrap();
        assert_eq!(a.as_map().get("url").map(String::as_str), Some("http://x"));
    }

    #[test]
    fn names_every_bad_field() {
        let errs = validate(
            &webdav(),
            &input(json!({"pass": ["x"], "colour": "blue", "pacer_min_sleep": "soon"})),
            None,
            &refuse_nothing,
        )
        .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["attributes.colour", "attributes.pacer_min_sleep", "attributes.pass", "attributes.url"]);
        assert_eq!(errs[0].message, "is not an option of webdav");
        assert_eq!(errs[3].message, "is required");
    }

    #[test]
    fn an_update_keeps_secrets_that_are_masked_or_left_out() {
        let p = webdav();
        let stored =
            validate(&p, &input(json!({"url": "http://x", "user": "u", "pass": "old"})), None, &refuse_nothing)
                .unwrap();
        let updated = validate(
            &p,
            &input(json!({"url": "http://y", "user": {"secret": true, "set": true}})),
            Some(&stored),
            &refuse_nothing,
        )
        .unwrap();
        assert_eq!(updated.as_map()["url"], "http://y");
        assert_eq!(updated.as_map()["user"], "u");
        assert_eq!(updated.as_map()["pass"], "old");
        let cleared =
            validate(&p, &input(json!({"url": "http://y", "pass": ""})), Some(&stored), &refuse_nothing).unwrap();
        assert!(!cleared.as_map().contains_key("pass"), "an explicit empty value clears a secret");
    }

    #[test]
    fn refused_options_and_nul_bytes_are_field_errors() {
        let refuse = |k: &str, _: &str| (k == "url").then(|| "runs a command".to_string());
        let errs = validate(&webdav(), &input(json!({"url": "x", "user": "a\0b"})), None, &refuse).unwrap_err();
        let shown: Vec<(String, String)> = errs.into_iter().map(|e| (e.field, e.message)).collect();
        assert_eq!(
            shown,
            [
                ("attributes.url".to_string(), "runs a command".to_string()),
                ("attributes.user".to_string(), "must not contain a NUL character".to_string())
            ]
        );
    }

    #[test]
    fn the_remote_refuses_attributes_the_provider_does_not_offer() {
        let mut map = BTreeMap::new();
        map.insert("url".to_string(), "http://x".to_string());
        map.insert("type".to_string(), "sftp".to_string());
        let e = remote_env(&webdav(), &ValidAttributes(map.clone()), &refuse_nothing).unwrap_err();
        assert!(e.contains("`type` is not an option of webdav"), "{e}");
        map.remove("type");
        map.insert("bearer_token_command".to_string(), "id".to_string());
        let refuse = |k: &str, _: &str| k.ends_with("_command").then(|| "runs a command on the server".to_string());
        let e = remote_env(&webdav(), &ValidAttributes(map), &refuse).unwrap_err();
        assert!(e.contains("bearer_token_command"), "{e}");
    }

    #[test]
    fn masks_secrets_going_out() {
        let p = webdav();
        let a =
            validate(&p, &input(json!({"url": "http://x", "user": "u", "pass": "p"})), None, &refuse_nothing).unwrap();
        let shown = serde_json::to_value(masked(Some(&p), &a)).unwrap();
        assert_eq!(
            shown,
            json!({"pass": {"secret": true, "set": true}, "url": "http://x", "user": {"secret": true, "set": true}})
        );
    }
}
