//! Field-level validation shared by the server (which enforces it) and the app (which
//! shows the same message next to the input before a round trip).

use serde::{Deserialize, Serialize};

/// One offending field of a request, carried in `error.data.fields` of an
/// `INVALID_PARAMS` error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Checks a password a user wants to set.
pub fn check_new_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(format!("must be at least {MIN_PASSWORD_CHARS} characters (got {n})"));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(format!("must be at most {MAX_PASSWORD_CHARS} characters"));
    }
    if password.trim().is_empty() {
        return Err("must not be only white space".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_short_passwords_and_says_how_long_they_were() {
        assert_eq!(check_new_password("abc").unwrap_err(), "must be at least 8 characters (got 3)");
    }

    #[test]
    fn rejects_blank_and_oversized_passwords() {
        assert!(check_new_password("          ").is_err());
        assert!(check_new_password(&"x".repeat(1025)).is_err());
    }

    #[test]
    fn accepts_a_reasonable_password() {
        assert!(check_new_password("correct horse").is_ok());
    }
}
