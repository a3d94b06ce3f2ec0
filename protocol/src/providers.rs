//! `provider.*`: the storage backends cloudsync can hold credentials for, described by
//! rclone's own schema (`rclone config providers`), and the value rules for their
//! options, so the app validates a form field exactly as the server will.

use serde::{Deserialize, Serialize};

use crate::{method, Empty};

method!(
    /// Every backend of the installed rclone that can be a credential.
    List = "provider.list", Empty => Vec<Provider>
);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provider {
    /// rclone's backend name: `s3`, `sftp`, `google cloud storage`, …
    pub name: String,
    pub description: String,
    pub options: Vec<ProviderOption>,
    /// Whether the backend authorises with an OAuth token ("Login to Provider").
    pub oauth: bool,
}

impl Provider {
    /// The options that apply when the backend's `provider` option (S3's sub-provider)
    /// is `sub_provider`. Options without a filter always apply.
    pub fn options_for<'a>(&'a self, sub_provider: Option<&'a str>) -> impl Iterator<Item = &'a ProviderOption> + 'a {
        self.options.iter().filter(move |o| o.applies_to(sub_provider))
    }

    /// The option named `name` that applies to `sub_provider`, if any.
    pub fn option(&self, name: &str, sub_provider: Option<&str>) -> Option<&ProviderOption> {
        self.options.iter().find(|o| o.name == name && o.applies_to(sub_provider))
    }

    /// Whether the backend has a `provider` option (a sub-provider choice, as S3 does).
    pub fn has_sub_providers(&self) -> bool {
        self.options.iter().any(|o| o.name == "provider" && !o.examples.is_empty())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderOption {
    pub name: String,
    pub help: String,
    /// rclone's type name: `string`, `bool`, `int`, `SizeSuffix`, `Duration`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The default as rclone prints it (`DefaultStr`).
    pub default: String,
    pub examples: Vec<OptionExample>,
    pub required: bool,
    /// Write-only over the API and masked in the UI (rclone's `IsPassword` or
    /// `Sensitive`).
    pub secret: bool,
    /// rclone expects the value obscured (`IsPassword`).
    pub obscured: bool,
    pub advanced: bool,
    /// When the value must be one of the examples.
    pub exclusive: bool,
    /// The sub-providers this option applies to, in rclone's filter syntax: `AWS,Ceph`
    /// (only these) or `!AWS,Ceph` (all but these); `None` for all.
    pub provider: Option<String>,
}

impl ProviderOption {
    pub fn applies_to(&self, sub_provider: Option<&str>) -> bool {
        filter_matches(self.provider.as_deref(), sub_provider)
    }

    /// Checks a value against the option's type; `Err` says what is expected.
    pub fn check_value(&self, value: &str) -> Result<(), String> {
        check_value(&self.kind, value)?;
        if self.exclusive && !self.examples.is_empty() && !self.examples.iter().any(|e| e.value == value) {
            let allowed: Vec<&str> = self.examples.iter().map(|e| e.value.as_str()).collect();
            return Err(format!("must be one of: {}", allowed.join(", ")));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptionExample {
    pub value: String,
    pub help: String,
    pub provider: Option<String>,
}

/// rclone's provider filter: empty matches everything; `A,B` matches A or B; `!A,B`
/// matches everything but A and B. A filtered option does not apply when no
/// sub-provider is chosen.
pub fn filter_matches(filter: Option<&str>, sub_provider: Option<&str>) -> bool {
    let Some(filter) = filter.filter(|f| !f.is_empty()) else { return true };
    let Some(sub) = sub_provider else { return false };
    let (negate, list) = match filter.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, filter),
    };
    let listed = list.split(',').any(|p| p.trim().eq_ignore_ascii_case(sub));
    listed != negate
}

/// Backends that only wrap other remotes, or are not storage a credential opens.
pub const NOT_CREDENTIALS: &[&str] =
    &["alias", "archive", "cache", "chunker", "combine", "compress", "crypt", "hasher", "local", "memory", "union"];

/// Checks a value against an rclone option type.
pub fn check_value(kind: &str, value: &str) -> Result<(), String> {
    let v = value.trim();
    match kind {
        "bool" => match v.to_ascii_lowercase().as_str() {
            "true" | "false" => Ok(()),
            _ => Err(format!("`{value}` is not a boolean; expected true or false")),
        },
        "Tristate" => match v.to_ascii_lowercase().as_str() {
            "true" | "false" | "unset" | "" => Ok(()),
            _ => Err(format!("`{value}` is not true, false or unset")),
        },
        "int" => v.parse::<i64>().map(|_| ()).map_err(|_| format!("`{value}` is not a whole number")),
        "float64" => v.parse::<f64>().map(|_| ()).map_err(|_| format!("`{value}` is not a number")),
        "SizeSuffix" => check_size(v).map_err(|()| format!("`{value}` is not a size; expected a number with an optional suffix B, K, M, G, T or P (e.g. 64M), or off")),
        "Duration" => check_duration(v).map_err(|()| format!("`{value}` is not a duration; expected e.g. 30s, 5m, 1h30m, 2d, or off")),
        _ => Ok(()),
    }
}

fn check_size(v: &str) -> Result<(), ()> {
    if v.eq_ignore_ascii_case("off") {
        return Ok(());
    }
    let digits_end = v.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(v.len());
    let (num, suffix) = v.split_at(digits_end);
    num.parse::<f64>().map_err(|_| ())?;
    let suffix = suffix.strip_suffix(['b', 'B']).unwrap_or(suffix);
    let suffix = suffix.strip_suffix(['i', 'I']).unwrap_or(suffix);
    match suffix.to_ascii_uppercase().as_str() {
        "" | "B" | "K" | "M" | "G" | "T" | "P" | "E" => Ok(()),
        _ => Err(()),
    }
}

fn check_duration(v: &str) -> Result<(), ()> {
    if v.eq_ignore_ascii_case("off") || v == "0" {
        return Ok(());
    }
    let mut rest = v;
    if rest.is_empty() {
        return Err(());
    }
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or(())?;
        if num_end == 0 {
            return Err(());
        }
        rest[..num_end].parse::<f64>().map_err(|_| ())?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        match &rest[..unit_end] {
            "ns" | "us" | "µs" | "ms" | "s" | "m" | "h" | "d" | "w" | "M" | "y" => {}
            _ => return Err(()),
        }
        rest = &rest[unit_end..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_filters_follow_rclone_syntax() {
        assert!(filter_matches(None, None));
        assert!(filter_matches(Some(""), Some("AWS")));
        assert!(filter_matches(Some("AWS,Ceph"), Some("ceph")));
        assert!(!filter_matches(Some("AWS,Ceph"), Some("Minio")));
        assert!(filter_matches(Some("!AWS,Ceph"), Some("Minio")));
        assert!(!filter_matches(Some("!AWS,Ceph"), Some("AWS")));
        assert!(!filter_matches(Some("AWS"), None));
    }

    #[test]
    fn checks_values_by_type() {
        assert!(check_value("bool", "true").is_ok());
        assert_eq!(check_value("bool", "yes").unwrap_err(), "`yes` is not a boolean; expected true or false");
        assert!(check_value("int", "-4").is_ok());
        assert!(check_value("int", "4.5").is_err());
        for ok in ["64M", "1G", "10", "1.5Gi", "100k", "off", "5MiB"] {
            assert!(check_value("SizeSuffix", ok).is_ok(), "{ok}");
        }
        for bad in ["lots", "M", "10X", ""] {
            assert!(check_value("SizeSuffix", bad).is_err(), "{bad}");
        }
        for ok in ["30s", "1h30m", "2d", "off", "500ms", "0"] {
            assert!(check_value("Duration", ok).is_ok(), "{ok}");
        }
        for bad in ["soon", "30", "1x", ""] {
            assert!(check_value("Duration", bad).is_err(), "{bad}");
        }
        assert!(check_value("string", "anything at all").is_ok());
    }

    #[test]
    fn exclusive_options_take_only_their_examples() {
        let opt = ProviderOption {
            name: "vendor".into(),
            help: String::new(),
            kind: "string".into(),
            default: String::new(),
            examples: vec![OptionExample { value: "rclone".into(), help: String::new(), provider: None }],
            required: false,
            secret: false,
            obscured: false,
            advanced: false,
            exclusive: true,
            provider: None,
        };
        assert!(opt.check_value("rclone").is_ok());
        assert_eq!(opt.check_value("other").unwrap_err(), "must be one of: rclone");
    }
}
