//! docs/api.md and the server stay in step with the protocol crate's method list.

use protocol::ErrorCode;
use serde_json::json;

use crate::helpers::spawn_app;

fn api_md() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md")).expect("docs/api.md exists")
}

#[test]
fn every_method_has_a_section_in_docs_api_md() {
    let doc = api_md();
    let missing: Vec<&str> =
        protocol::METHODS.iter().copied().filter(|m| !doc.contains(&format!("### `{m}`"))).collect();
    assert!(missing.is_empty(), "undocumented methods: {missing:?}");
}

#[test]
fn every_error_code_is_documented() {
    let doc = api_md();
    for code in [
        ErrorCode::PARSE_ERROR,
        ErrorCode::INVALID_REQUEST,
        ErrorCode::METHOD_NOT_FOUND,
        ErrorCode::INVALID_PARAMS,
        ErrorCode::INTERNAL_ERROR,
        ErrorCode::NOT_AUTHENTICATED,
        ErrorCode::LOGIN_FAILED,
        ErrorCode::RATE_LIMITED,
        ErrorCode::NOT_FOUND,
        ErrorCode::CONFLICT,
        ErrorCode::RCLONE_FAILED,
    ] {
        assert!(doc.contains(&format!("`{code}`")), "error code {code} is not in docs/api.md");
    }
}

#[tokio::test]
async fn the_server_answers_every_listed_method() {
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    for method in protocol::METHODS {
        if let Err(e) = c.call(method, json!({})).await {
            assert_ne!(e.code, ErrorCode::METHOD_NOT_FOUND, "{method} is listed but not routed");
        }
        // An `auth.*` method may end the session: the next one gets a new login (and the
        // socket is closed first: sockets per client are capped).
        if method.starts_with("auth.") {
            c.close().await;
            c = app.logged_in_client().await;
        }
    }
}
