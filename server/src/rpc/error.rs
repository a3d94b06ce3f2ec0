//! API errors and the one place they become JSON-RPC errors. Internal details (SQL
//! errors, I/O errors) are logged here and never sent to the client.

use protocol::{ErrorCode, FieldError, RpcError};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Bad params: one entry per offending field. Nothing was changed.
    #[error("invalid params")]
    InvalidParams(Vec<FieldError>),
    #[error("method not found: {0}")]
    MethodNotFound(String),
    #[error("not authenticated: log in with auth.login or auth.resume first")]
    NotAuthenticated,
    #[error("wrong username or password")]
    LoginFailed,
    /// The current password, asked again to confirm an action, was wrong.
    #[error("wrong password")]
    WrongPassword,
    #[error("too many failed logins from {client}; try again in {retry_after_secs} s")]
    RateLimited { client: String, retry_after_secs: u64 },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    RcloneFailed(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Unexpected(e.into())
    }
}

impl ApiError {
    /// "`kind` `id` does not exist".
    pub fn not_found(kind: &str, id: impl std::fmt::Display) -> Self {
        ApiError::NotFound(format!("{kind} {id} does not exist"))
    }

    /// A single-field validation error.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::InvalidParams(vec![FieldError::new(field, message)])
    }

    pub fn into_rpc(self, method: &str) -> RpcError {
        let code = match &self {
            ApiError::InvalidParams(_) => ErrorCode::INVALID_PARAMS,
            ApiError::MethodNotFound(_) => ErrorCode::METHOD_NOT_FOUND,
            ApiError::NotAuthenticated => ErrorCode::NOT_AUTHENTICATED,
            ApiError::LoginFailed | ApiError::WrongPassword => ErrorCode::LOGIN_FAILED,
            ApiError::RateLimited { .. } => ErrorCode::RATE_LIMITED,
            ApiError::NotFound(_) => ErrorCode::NOT_FOUND,
            ApiError::Conflict(_) => ErrorCode::CONFLICT,
            ApiError::RcloneFailed(_) => ErrorCode::RCLONE_FAILED,
            ApiError::Unexpected(_) => ErrorCode::INTERNAL_ERROR,
        };
        match self {
            ApiError::InvalidParams(fields) => RpcError::invalid_params(fields),
            ApiError::RateLimited { retry_after_secs, .. } => {
                let message = self.to_string();
                RpcError { code, message, data: Some(json!({ "retry_after_secs": retry_after_secs })) }
            }
            ApiError::Unexpected(e) => {
                tracing::error!(method, error = format!("{e:#}"), "request failed");
                RpcError::new(code, "internal error; the server log has the details")
            }
            other => RpcError::new(code, other.to_string()),
        }
    }
}

impl From<crate::runner::RunError> for ApiError {
    fn from(e: crate::runner::RunError) -> Self {
        match e {
            crate::runner::RunError::NoSuchTask(id) => ApiError::not_found("task", id),
            crate::runner::RunError::Sql(e) => e.into(),
        }
    }
}

impl From<crate::credentials::store::StoreError> for ApiError {
    fn from(e: crate::credentials::store::StoreError) -> Self {
        match e {
            crate::credentials::store::StoreError::DuplicateName(_) => {
                ApiError::field("name", "is already used by another credential")
            }
            crate::credentials::store::StoreError::Sql(e) => e.into(),
        }
    }
}

/// Turns a serde failure on params into a field error: `missing field `x`` becomes
/// `x: is required`, a type mismatch names the path of the value.
pub fn params_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let inner = e.into_inner().to_string();
    let quoted = |prefix: &str| {
        inner
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('`'))
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string)
    };
    let (field, message) = if let Some(f) = quoted("missing field ") {
        (join(&path, &f), "is required".to_string())
    } else if let Some(f) = quoted("unknown field ") {
        let field = join(&path, &f);
        (if field.is_empty() { "params".to_string() } else { field }, "is not a known field".to_string())
    } else {
        (if path == "." { "params".to_string() } else { path }, inner)
    };
    ApiError::field(&field, message)
}

fn join(path: &str, field: &str) -> String {
    if path == "." || path.is_empty() {
        field.to_string()
    } else if path == field || path.ends_with(&format!(".{field}")) {
        // For an unknown field the path already ends at the field itself.
        path.to_string()
    } else {
        format!("{path}.{field}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::auth::LoginParams;

    fn decode(v: serde_json::Value) -> RpcError {
        let e = serde_path_to_error::deserialize::<_, LoginParams>(v).unwrap_err();
        params_error(e).into_rpc("auth.login")
    }

    #[test]
    fn a_missing_field_is_named() {
        let e = decode(json!({"username": "admin"}));
        assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
        assert_eq!(e.field_error("password").as_deref(), Some("is required"));
    }

    #[test]
    fn a_wrong_type_is_named_with_what_was_expected() {
        let e = decode(json!({"username": 5, "password": "x"}));
        let msg = e.field_error("username").unwrap();
        assert!(msg.contains("expected a string"), "{msg}");
    }

    #[test]
    fn an_unknown_field_is_named() {
        let e = decode(json!({"username": "a", "password": "b", "pasword": "c"}));
        assert_eq!(e.field_error("pasword").as_deref(), Some("is not a known field"));
    }

    #[test]
    fn unexpected_errors_hide_their_details() {
        let e = ApiError::Unexpected(anyhow::anyhow!("connection to 10.0.0.5 refused")).into_rpc("m");
        assert_eq!(e.code, ErrorCode::INTERNAL_ERROR);
        assert!(!e.message.contains("10.0.0.5"));
    }
}
