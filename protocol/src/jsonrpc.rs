//! JSON-RPC 2.0 envelopes as cloudsync speaks them over its WebSocket.
//!
//! A request with an `id` gets exactly one response; a message without one is a
//! notification and gets none. The server pushes notifications (no `id`) for live data.
//! Parsing is done in two steps, text to `serde_json::Value` and value to [`Request`], so
//! the server can tell malformed JSON (`-32700`) from a well-formed non-request
//! (`-32600`) and still echo the request's `id` where it has one.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The protocol version every envelope carries.
pub const VERSION: &str = "2.0";

/// The largest message the server processes. Larger ones get an error response and the
/// connection stays open.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// Error codes. The standard ones come from the JSON-RPC 2.0 specification; the
/// `-320xx` ones are cloudsync's own, listed in docs/api.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorCode;

impl ErrorCode {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    /// The socket has not logged in (or its session expired).
    pub const NOT_AUTHENTICATED: i64 = -32001;
    /// Wrong username or password.
    pub const LOGIN_FAILED: i64 = -32002;
    /// Too many failed logins from this client address.
    pub const RATE_LIMITED: i64 = -32003;
    /// The object named in the params does not exist.
    pub const NOT_FOUND: i64 = -32004;
    /// The request conflicts with the current state (a duplicate name, an object in use).
    pub const CONFLICT: i64 = -32005;
    /// rclone is missing, or it or the remote failed; the message has the reason.
    pub const RCLONE_FAILED: i64 = -32006;
}

/// The `error` member of a response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), data: None }
    }

    /// An `INVALID_PARAMS` error naming each field: what the server sends for refused
    /// params, and what a form makes for the problems it finds before sending.
    pub fn invalid_params(fields: Vec<crate::FieldError>) -> Self {
        let summary: Vec<String> = fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect();
        RpcError {
            code: ErrorCode::INVALID_PARAMS,
            message: format!("invalid params: {}", summary.join("; ")),
            data: Some(serde_json::json!({ "fields": fields })),
        }
    }

    /// The per-field errors of an `INVALID_PARAMS` error, if it carries any.
    pub fn field_errors(&self) -> Vec<crate::FieldError> {
        self.data
            .as_ref()
            .and_then(|d| d.get("fields"))
            .and_then(|f| serde_json::from_value(f.clone()).ok())
            .unwrap_or_default()
    }

    /// The message for one field, for forms that show errors next to their inputs.
    pub fn field_error(&self, field: &str) -> Option<String> {
        self.field_errors().into_iter().find(|e| e.field == field).map(|e| e.message)
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fields = self.field_errors();
        if fields.is_empty() {
            write!(f, "{}", self.message)
        } else {
            let parts: Vec<String> = fields.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
            write!(f, "{}: {}", self.message, parts.join("; "))
        }
    }
}

impl std::error::Error for RpcError {}

/// A request or client notification, after its envelope has been checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// `None` for a notification (no `id` member): it gets no response.
    pub id: Option<Value>,
    pub method: String,
    /// The params, `{}` when absent or null.
    pub params: Value,
}

impl Request {
    /// Checks a parsed JSON value against the JSON-RPC 2.0 request rules. On failure it
    /// returns the error together with the id to answer with (`null` when unknown).
    pub fn from_value(value: Value) -> Result<Request, (Value, RpcError)> {
        let invalid = |id: Value, why: &str| (id, RpcError::new(ErrorCode::INVALID_REQUEST, why));
        let mut obj: Map<String, Value> = match value {
            Value::Object(obj) => obj,
            Value::Array(_) => {
                return Err(invalid(Value::Null, "batch requests are not supported; send one request per message"))
            }
            _ => return Err(invalid(Value::Null, "a request must be a JSON object")),
        };
        let id = obj.remove("id");
        let echo = match &id {
            Some(v @ (Value::Number(_) | Value::String(_) | Value::Null)) => v.clone(),
            Some(_) => return Err(invalid(Value::Null, "id must be a number, a string or null")),
            None => Value::Null,
        };
        if obj.get("jsonrpc") != Some(&Value::String(VERSION.into())) {
            return Err(invalid(echo, "jsonrpc must be \"2.0\""));
        }
        let method = match obj.remove("method") {
            Some(Value::String(m)) if !m.is_empty() => m,
            _ => return Err(invalid(echo, "method must be a non-empty string")),
        };
        let params = match obj.remove("params") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(p @ (Value::Object(_) | Value::Array(_))) => p,
            Some(_) => return Err(invalid(echo, "params must be an object or an array")),
        };
        Ok(Request { id, method, params })
    }

    /// The request as it goes on the wire.
    pub fn to_json(id: u64, method: &str, params: &impl Serialize) -> String {
        #[derive(Serialize)]
        struct Outgoing<'a, P> {
            jsonrpc: &'static str,
            id: u64,
            method: &'a str,
            params: &'a P,
        }
        serde_json::to_string(&Outgoing { jsonrpc: VERSION, id, method, params }).expect("params always serialise")
    }
}

/// A response: exactly one of `result` and `error`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub jsonrpc: String,
    pub id: Value,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    #[serde(rename = "result")]
    Result(Value),
    #[serde(rename = "error")]
    Error(RpcError),
}

impl Response {
    pub fn result(id: Value, result: Value) -> Self {
        Self { jsonrpc: VERSION.into(), id, outcome: Outcome::Result(result) }
    }

    pub fn error(id: Value, error: RpcError) -> Self {
        Self { jsonrpc: VERSION.into(), id, outcome: Outcome::Error(error) }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a response always serialises")
    }
}

/// A server-to-client notification: no `id`, never answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub jsonrpc: String,
    pub method: String,
    #[serde(default)]
    pub params: Value,
}

impl Notification {
    pub fn new(method: &str, params: Value) -> Self {
        Self { jsonrpc: VERSION.into(), method: method.into(), params }
    }
}

/// What a client receives: a response to one of its requests or a notification.
///
/// It is read without building a `Value` tree: a result and a notification's params
/// stay JSON text, for the caller to parse straight into its own type. (A `Value` step
/// compiles a second deserializer for every type the web app receives.)
#[derive(Clone, Debug, PartialEq)]
pub enum ServerMessage<'a> {
    /// `id` is `None` for a response to a request the server could not read.
    Response {
        id: Option<u64>,
        outcome: Result<&'a str, RpcError>,
    },
    Notification {
        method: String,
        params: &'a str,
    },
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default, borrow)]
    id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    result: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<RpcError>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default, borrow)]
    params: Option<&'a RawValue>,
}

impl<'a> ServerMessage<'a> {
    pub fn parse(text: &'a str) -> Result<ServerMessage<'a>, String> {
        let e: Envelope<'a> = serde_json::from_str(text).map_err(|e| format!("malformed message from server: {e}"))?;
        if let (Some(method), None) = (&e.method, e.id) {
            let params = e.params.map_or("null", RawValue::get);
            return Ok(ServerMessage::Notification { method: method.clone(), params });
        }
        // `Option<&RawValue>` reads `null` as `None`: a `null` result is a response with
        // an id and neither member.
        let id = e.id.and_then(|id| id.get().parse().ok());
        let outcome = match (e.result, e.error) {
            (_, Some(error)) => Err(error),
            (Some(result), None) => Ok(result.get()),
            (None, None) if id.is_some() => Ok("null"),
            (None, None) => return Err("malformed message from server: neither a result, an error nor a method".into()),
        };
        Ok(ServerMessage::Response { id, outcome })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_a_request_and_defaults_missing_params_to_an_empty_object() {
        let r = Request::from_value(json!({"jsonrpc": "2.0", "id": 7, "method": "auth.me"})).unwrap();
        assert_eq!(r.id, Some(json!(7)));
        assert_eq!(r.method, "auth.me");
        assert_eq!(r.params, json!({}));
    }

    #[test]
    fn a_message_without_id_is_a_notification() {
        let r = Request::from_value(json!({"jsonrpc": "2.0", "method": "x", "params": [1]})).unwrap();
        assert_eq!(r.id, None);
        assert_eq!(r.params, json!([1]));
    }

    #[test]
    fn rejects_non_objects_and_batches() {
        for v in [json!(5), json!("x"), json!([{"jsonrpc": "2.0", "id": 1, "method": "a"}])] {
            let (id, e) = Request::from_value(v).unwrap_err();
            assert_eq!(id, Value::Null);
            assert_eq!(e.code, ErrorCode::INVALID_REQUEST);
        }
    }

    #[test]
    fn rejects_wrong_version_but_echoes_the_id() {
        let (id, e) = Request::from_value(json!({"jsonrpc": "1.0", "id": "a", "method": "m"})).unwrap_err();
        assert_eq!(id, json!("a"));
        assert_eq!(e.code, ErrorCode::INVALID_REQUEST);
        assert!(e.message.contains("2.0"));
    }

    #[test]
    fn rejects_missing_method_and_scalar_params() {
        let (_, e) = Request::from_value(json!({"jsonrpc": "2.0", "id": 1})).unwrap_err();
        assert!(e.message.contains("method"));
        let (_, e) = Request::from_value(json!({"jsonrpc": "2.0", "id": 1, "method": "m", "params": 3})).unwrap_err();
        assert!(e.message.contains("params"));
    }

    #[test]
    fn rejects_an_object_as_id() {
        let (_, e) = Request::from_value(json!({"jsonrpc": "2.0", "id": {}, "method": "m"})).unwrap_err();
        assert!(e.message.contains("id"));
    }

    #[test]
    fn responses_carry_exactly_one_of_result_and_error() {
        let ok = serde_json::to_value(Response::result(json!(1), json!({"a": 1}))).unwrap();
        assert_eq!(ok, json!({"jsonrpc": "2.0", "id": 1, "result": {"a": 1}}));
        let err = serde_json::to_value(Response::error(json!(2), RpcError::new(-1, "no"))).unwrap();
        assert_eq!(err, json!({"jsonrpc": "2.0", "id": 2, "error": {"code": -1, "message": "no"}}));
    }

    #[test]
    fn client_tells_responses_from_notifications() {
        let m = ServerMessage::parse(r#"{"jsonrpc":"2.0","id":3,"result":{"a": [1, 2]}}"#).unwrap();
        assert_eq!(m, ServerMessage::Response { id: Some(3), outcome: Ok(r#"{"a": [1, 2]}"#) });
        let m = ServerMessage::parse(r#"{"jsonrpc":"2.0","id":4,"result":null}"#).unwrap();
        assert_eq!(m, ServerMessage::Response { id: Some(4), outcome: Ok("null") });
        let m = ServerMessage::parse(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}"#).unwrap();
        assert_eq!(m, ServerMessage::Response { id: None, outcome: Err(RpcError::new(-32700, "x")) });
        let m = ServerMessage::parse(r#"{"jsonrpc":"2.0","method":"run.progress","params":{"x":1}}"#).unwrap();
        assert_eq!(m, ServerMessage::Notification { method: "run.progress".into(), params: r#"{"x":1}"# });
        assert!(ServerMessage::parse("{").is_err());
        assert!(ServerMessage::parse("{}").is_err());
    }

    #[test]
    fn a_request_goes_out_as_one_json_object() {
        let text = Request::to_json(5, "task.get", &json!({"id": 9}));
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"jsonrpc": "2.0", "id": 5, "method": "task.get", "params": {"id": 9}})
        );
    }

    #[test]
    fn error_display_lists_field_errors() {
        let mut e = RpcError::new(ErrorCode::INVALID_PARAMS, "invalid params");
        e.data = Some(json!({"fields": [{"field": "new", "message": "must be at least 8 characters"}]}));
        assert_eq!(e.to_string(), "invalid params: new: must be at least 8 characters");
        assert_eq!(e.field_error("new").as_deref(), Some("must be at least 8 characters"));
        assert_eq!(e.field_error("old"), None);
    }
}
