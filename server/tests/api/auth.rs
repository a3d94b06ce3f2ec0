use protocol::ErrorCode;
use serde_json::json;

use crate::helpers::{spawn_app, RpcClient, ADMIN_PASSWORD};

#[tokio::test]
async fn login_with_the_right_password_authenticates_the_socket() {
    let app = spawn_app().await;
    let mut c = app.client().await;
    let session = c.login("admin", ADMIN_PASSWORD).await.unwrap();
    let token = session["token"].as_str().unwrap();
    assert!(token.len() >= 40, "a long random token: {token}");
    assert!(session["expires_at"].as_str().unwrap().contains('T'));
    let me = c.call("auth.me", json!({})).await.unwrap();
    assert_eq!(me["username"], "admin");
}

#[tokio::test]
async fn the_database_holds_only_hashes_of_passwords_and_tokens() {
    let app = spawn_app().await;
    let mut c = app.client().await;
    let token = c.login("admin", ADMIN_PASSWORD).await.unwrap()["token"].as_str().unwrap().to_string();
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE username = 'admin'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(ADMIN_PASSWORD));
    let stored: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT token_hash FROM sessions").fetch_all(&app.pool).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].len(), 32, "a SHA-256");
    assert!(!stored[0].windows(8).any(|w| token.as_bytes().windows(8).any(|t| t == w)));
}

#[tokio::test]
async fn a_wrong_password_or_unknown_user_is_refused() {
    let app = spawn_app().await;
    let mut c = app.client().await;
    let e = c.login("admin", "not-the-password").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::LOGIN_FAILED);
    assert_eq!(e.message, "wrong username or password");
    let e = c.login("nobody", ADMIN_PASSWORD).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::LOGIN_FAILED);
    let e = c.call("system.info", json!({})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NOT_AUTHENTICATED, "a failed login leaves the socket unauthenticated");
}

#[tokio::test]
async fn repeated_failed_logins_are_rate_limited_even_with_the_right_password() {
    let app = spawn_app().await;
    let mut c = app.client().await;
    for _ in 0..5 {
        assert_eq!(c.login("admin", "guess").await.unwrap_err().code, ErrorCode::LOGIN_FAILED);
    }
    let e = c.login("admin", ADMIN_PASSWORD).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::RATE_LIMITED);
    assert!(e.message.contains("too many failed logins from 127.0.0.1"), "{}", e.message);
    assert!(e.data.as_ref().unwrap()["retry_after_secs"].as_u64().unwrap() > 0);
    // A new socket from the same address is limited too.
    let mut other = app.client().await;
    assert_eq!(other.login("admin", ADMIN_PASSWORD).await.unwrap_err().code, ErrorCode::RATE_LIMITED);
    // It is a delay, not a lockout: once it has passed, the right password works.
    let wait = e.data.unwrap()["retry_after_secs"].as_u64().unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    other.login("admin", ADMIN_PASSWORD).await.expect("the right password after the delay");
}

#[tokio::test]
async fn every_method_but_login_and_resume_needs_authentication() {
    let app = spawn_app().await;
    let mut c = app.client().await;
    for method in protocol::METHODS {
        if protocol::method::works_unauthenticated(method) {
            continue;
        }
        let e = c.call(method, json!({})).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::NOT_AUTHENTICATED, "{method}");
        assert_eq!(e.message, "not authenticated: log in with auth.login or auth.resume first");
    }
}

#[tokio::test]
async fn a_token_resumes_on_a_new_socket_and_dies_with_logout() {
    let app = spawn_app().await;
    let mut first = app.logged_in_client().await;
    let token = first.call("auth.login", json!({"username": "admin", "password": ADMIN_PASSWORD})).await.unwrap()
        ["token"]
        .clone();

    let mut second = app.client().await;
    let me = second.call("auth.resume", json!({"token": token})).await.unwrap();
    assert_eq!(me["username"], "admin");
    second.call("system.info", json!({})).await.unwrap();

    second.call("auth.logout", json!({})).await.unwrap();
    assert!(second.closed_within(std::time::Duration::from_secs(5)).await, "logging out closes the session's sockets");
    let mut third = app.client().await;
    let e = third.call("auth.resume", json!({"token": token})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NOT_AUTHENTICATED);
    let e = third.call("auth.resume", json!({"token": "made-up"})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NOT_AUTHENTICATED);
}

#[tokio::test]
async fn a_session_survives_a_server_restart() {
    let app = spawn_app().await;
    let mut c = app.client().await;
    let token = c.login("admin", ADMIN_PASSWORD).await.unwrap()["token"].clone();
    drop(c);
    let app = app.restart().await;
    let mut c = app.client().await;
    assert_eq!(c.call("auth.resume", json!({"token": token})).await.unwrap()["username"], "admin");
    c.call("system.info", json!({})).await.unwrap();
}

async fn new_token(c: &mut RpcClient, name: &str, password: &str) -> String {
    let made = c.call("auth.token.create", json!({"name": name, "password": password})).await.unwrap();
    made["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_password_change_keeps_api_tokens_unless_it_is_asked_to_revoke_them() {
    let app = spawn_app().await;
    let mut a = app.logged_in_client().await;
    let first = new_token(&mut a, "first", ADMIN_PASSWORD).await;
    let mut on_token = app.client().await;
    on_token.call("auth.resume", json!({"token": first})).await.unwrap();

    // A flag that is not a boolean is named, and changes nothing.
    let e = a
        .call("auth.change_password", json!({"old": ADMIN_PASSWORD, "new": "second-password", "revoke_tokens": "yes"}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
    assert!(e.field_error("revoke_tokens").is_some(), "{e:?}");
    app.client().await.login("admin", ADMIN_PASSWORD).await.expect("the password did not change");

    a.call("auth.change_password", json!({"old": ADMIN_PASSWORD, "new": "second-password"})).await.unwrap();
    on_token.call("system.info", json!({})).await.expect("a token survives a plain password change");
    let second = new_token(&mut a, "second", "second-password").await;

    a.call("auth.change_password", json!({"old": "second-password", "new": "third-password", "revoke_tokens": true}))
        .await
        .unwrap();
    a.call("auth.me", json!({})).await.expect("the changing session stays");
    assert!(on_token.closed_within(std::time::Duration::from_secs(5)).await, "a token's open socket is closed");
    for token in [first, second] {
        let e = app.client().await.call("auth.resume", json!({"token": token})).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::NOT_AUTHENTICATED);
    }
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sessions WHERE kind = 'api'").fetch_one(&app.pool).await.unwrap();
    assert_eq!(left, 0);
    assert_eq!(a.call("auth.token.list", json!({})).await.unwrap(), json!([]));
}

#[tokio::test]
async fn changing_the_password_checks_both_fields_and_ends_other_sessions() {
    let app = spawn_app().await;
    let mut a = app.logged_in_client().await;
    let mut b = app.logged_in_client().await;

    let e = a
        .call("auth.change_password", json!({"old": "wrong-old-password", "new": "a-new-password"}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
    assert_eq!(e.field_error("old").as_deref(), Some("is not the current password"));
    let e = a.call("auth.change_password", json!({"old": ADMIN_PASSWORD, "new": "short"})).await.unwrap_err();
    assert_eq!(e.field_error("new").as_deref(), Some("must be at least 8 characters (got 5)"));
    // Nothing changed: the old password still works.
    app.logged_in_client().await;

    a.call("auth.change_password", json!({"old": ADMIN_PASSWORD, "new": "a-new-password"})).await.unwrap();
    a.call("auth.me", json!({})).await.expect("the changing session stays");
    assert!(b.closed_within(std::time::Duration::from_secs(5)).await, "the other session's socket is closed");
    let mut c = app.client().await;
    assert_eq!(c.login("admin", ADMIN_PASSWORD).await.unwrap_err().code, ErrorCode::LOGIN_FAILED);
    c.login("admin", "a-new-password").await.unwrap();
}
