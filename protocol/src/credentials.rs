//! `credential.*`: cloud credentials, stored encrypted and write-only for secrets.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{method, Empty};

method!(
    /// Every credential, secrets masked.
    List = "credential.list", Empty => Vec<CloudCredential>
);
method!(
    /// One credential, secrets masked.
    Get = "credential.get", IdParams => CloudCredential
);
method!(
    /// Validates against the provider's schema, encrypts and stores a new credential.
    Create = "credential.create", CreateParams => CloudCredential
);
method!(
    /// Renames a credential and/or replaces its attributes; secrets left out or sent back
    /// masked keep their stored value.
    Update = "credential.update", UpdateParams => CloudCredential
);
method!(
    /// Deletes a credential no task uses.
    Delete = "credential.delete", IdParams => Empty
);
method!(
    /// Lists the remote's root with rclone to check the settings work.
    Verify = "credential.verify", VerifyParams => VerifyResult
);
method!(
    /// The folders (buckets at the root) under a path of the remote, for folder pickers.
    Browse = "credential.browse", BrowseParams => Vec<RemoteEntry>
);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CloudCredential {
    pub id: i64,
    pub name: String,
    pub provider: String,
    /// Empty when the credential cannot be decrypted.
    pub attributes: BTreeMap<String, AttributeValue>,
    /// `ok`; `cannot_decrypt` or `needs_reconnect` (the provider refused its OAuth
    /// login) with `problem` saying what to do.
    pub state: CredentialState,
    pub problem: Option<String>,
    /// The last `credential.verify` of the saved settings; cleared by an update.
    pub last_verification: Option<Verification>,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    pub ok: bool,
    pub reason: Option<String>,
    /// RFC 3339, UTC.
    pub at: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialState {
    Ok,
    CannotDecrypt,
    NeedsReconnect,
}

/// An attribute as the API returns it: plain text, or a mask for a secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttributeValue {
    Secret(SecretMask),
    Plain(String),
}

/// What a secret attribute looks like going out: `{"secret": true, "set": true}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretMask {
    pub secret: bool,
    pub set: bool,
}

impl SecretMask {
    pub const SET: SecretMask = SecretMask { secret: true, set: true };

    /// Whether a value sent in is a mask returned by the API (meaning "keep").
    pub fn is_mask(v: &Value) -> bool {
        v.get("secret") == Some(&Value::Bool(true))
    }
}

/// A secret field as a form sends it back: the mask the API showed (keep what is
/// stored) or a new value (empty clears it). On the wire: the mask object, or a string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretInput {
    Keep,
    Set(String),
}

impl Serialize for SecretInput {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SecretInput::Keep => SecretMask::SET.serialize(s),
            SecretInput::Set(v) => s.serialize_str(v),
        }
    }
}

impl<'de> Deserialize<'de> for SecretInput {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Mask(SecretMask),
        }
        match Raw::deserialize(d) {
            Ok(Raw::Text(t)) => Ok(SecretInput::Set(t)),
            Ok(Raw::Mask(m)) if m.secret => Ok(SecretInput::Keep),
            _ => Err(serde::de::Error::custom("must be a string, or the mask the API returned")),
        }
    }
}

impl SecretInput {
    /// For `#[serde(deserialize_with)]` on an optional secret: left out is `None`
    /// (keep), `null` clears it.
    pub fn nullable<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SecretInput>, D::Error> {
        Ok(Some(Option::<SecretInput>::deserialize(d)?.unwrap_or(SecretInput::Set(String::new()))))
    }

    /// The value to store: the new one, or `stored` when kept.
    pub fn resolve(input: Option<&SecretInput>, stored: Option<&str>) -> String {
        match input {
            None | Some(SecretInput::Keep) => stored.unwrap_or_default().to_string(),
            Some(SecretInput::Set(v)) => v.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdParams {
    pub id: i64,
}

/// Attribute values may be strings, booleans or numbers; they are stored as rclone
/// reads them, as strings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateParams {
    pub name: String,
    pub provider: String,
    #[serde(default)]
    pub attributes: BTreeMap<String, Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateParams {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    /// The new attribute set. Secrets left out or sent back masked keep their stored
    /// value; send `""` to clear one.
    #[serde(default)]
    pub attributes: Option<BTreeMap<String, Value>>,
}

/// Either a saved credential (`id`), a saved one with edits from a form (`id` and
/// `attributes`, merged as `update` would), or an unsaved form (`provider` and
/// `attributes`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyParams {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub attributes: Option<BTreeMap<String, Value>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerifyResult {
    pub ok: bool,
    /// One readable line from rclone's error, without timestamps or secrets.
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowseParams {
    pub id: i64,
    /// A path on the remote, `""` for the root (where bucket-based backends list
    /// buckets).
    #[serde(default)]
    pub path: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RemoteEntry {
    pub name: String,
    /// The full path on the remote, to pass back as `path`.
    pub path: String,
}

/// Checks a credential name: 1 to 120 characters, no control characters, not only
/// white space.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if name.chars().count() > 120 {
        return Err("must be at most 120 characters".into());
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

/// Checks a remote path for `browse`: relative, no `..` segments, no control characters.
pub fn check_remote_path(path: &str) -> Result<(), String> {
    if path.starts_with('/') {
        return Err("must be relative to the remote's root (no leading /)".into());
    }
    if path.split('/').any(|seg| seg == "..") {
        return Err("must not contain `..`".into());
    }
    if path.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_inputs_read_the_mask_as_keep_and_strings_as_values() {
        let keep: SecretInput = serde_json::from_value(serde_json::json!({"secret": true, "set": true})).unwrap();
        assert_eq!(keep, SecretInput::Keep);
        assert_eq!(serde_json::to_value(&keep).unwrap(), serde_json::json!({"secret": true, "set": true}));
        let set: SecretInput = serde_json::from_value(serde_json::json!("p4ss")).unwrap();
        assert_eq!(set, SecretInput::Set("p4ss".into()));
        assert!(serde_json::from_value::<SecretInput>(serde_json::json!(5)).is_err());
        assert_eq!(SecretInput::resolve(None, Some("old")), "old");
        assert_eq!(SecretInput::resolve(Some(&SecretInput::Set(String::new())), Some("old")), "");
    }

    #[test]
    fn masks_and_plain_values_serialise_as_documented() {
        let mut attrs = BTreeMap::new();
        attrs.insert("user".to_string(), AttributeValue::Plain("u".into()));
        attrs.insert("pass".to_string(), AttributeValue::Secret(SecretMask::SET));
        assert_eq!(serde_json::to_value(&attrs).unwrap(), json!({"pass": {"secret": true, "set": true}, "user": "u"}));
        assert!(SecretMask::is_mask(&json!({"secret": true, "set": true})));
        assert!(!SecretMask::is_mask(&json!("hunter2")));
    }

    #[test]
    fn names_and_paths_are_checked() {
        assert!(check_name("Backblaze (office)").is_ok());
        assert_eq!(check_name("  ").unwrap_err(), "must not be empty");
        assert!(check_name("a\nb").is_err());
        assert!(check_remote_path("bucket/folder").is_ok());
        assert!(check_remote_path("").is_ok());
        assert!(check_remote_path("/etc").is_err());
        assert!(check_remote_path("a/../b").is_err());
    }
}
