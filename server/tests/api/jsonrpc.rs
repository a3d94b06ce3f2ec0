use protocol::ErrorCode;
use serde_json::{json, Value};

use crate::helpers::{response_outcome, spawn_app};

#[tokio::test]
async fn malformed_json_gets_a_parse_error_and_the_socket_stays_usable() {
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    c.send_text("{\"jsonrpc\": \"2.0\", \"id\": 1,".into()).await;
    let reply = c.recv().await;
    assert_eq!(reply["id"], Value::Null);
    let e = response_outcome(reply).unwrap_err();
    assert_eq!(e.code, ErrorCode::PARSE_ERROR);
    assert!(e.message.starts_with("malformed JSON"), "{}", e.message);
    c.call("auth.me", json!({})).await.unwrap();
}

#[tokio::test]
async fn a_non_request_gets_invalid_request_with_its_id() {
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    c.send_text(json!({"jsonrpc": "2.0", "id": 42, "params": {}}).to_string()).await;
    let reply = c.recv().await;
    assert_eq!(reply["id"], 42);
    assert_eq!(response_outcome(reply).unwrap_err().code, ErrorCode::INVALID_REQUEST);
    c.send_text("[1, 2]".into()).await;
    assert_eq!(response_outcome(c.recv().await).unwrap_err().code, ErrorCode::INVALID_REQUEST);
}

#[tokio::test]
async fn an_unknown_method_is_named_in_the_error() {
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    let e = c.call("credential.frobnicate", json!({})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::METHOD_NOT_FOUND);
    assert_eq!(e.message, "method not found: credential.frobnicate");
}

#[tokio::test]
async fn bad_params_name_each_offending_field() {
    let app = spawn_app().await;
    let mut c = app.client().await;
    let e = c.call("auth.login", json!({"username": 7})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
    let fields = e.field_errors();
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].field, "username");
    assert!(fields[0].message.contains("expected a string"), "{}", fields[0].message);
    let e = c.call("auth.login", json!({"username": "admin"})).await.unwrap_err();
    assert_eq!(e.field_error("password").as_deref(), Some("is required"));
}

#[tokio::test]
async fn an_oversized_message_closes_its_socket_not_the_server() {
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    let big = "x".repeat(protocol::jsonrpc::MAX_MESSAGE_BYTES + 10);
    c.send_text(json!({"jsonrpc": "2.0", "id": 9, "method": "auth.me", "params": {"pad": big}}).to_string()).await;
    assert!(c.closed_within(std::time::Duration::from_secs(10)).await, "the WebSocket layer refuses the frame");
    let mut other = app.logged_in_client().await;
    assert_eq!(other.call("auth.me", json!({})).await.unwrap()["username"], "admin", "the server still works");
}

#[tokio::test]
async fn a_notification_gets_no_response() {
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    c.send_text(json!({"jsonrpc": "2.0", "method": "auth.me"}).to_string()).await;
    c.send_text(json!({"jsonrpc": "2.0", "id": "after", "method": "auth.me"}).to_string()).await;
    let reply = c.recv().await;
    assert_eq!(reply["id"], "after", "the first message back answers the request, not the notification");
}
