//! "Login to Provider" end to end against a real OAuth2 server (oauth2-mock-server).

use std::process::{Child, Command, Stdio};

use protocol::ErrorCode;
use serde_json::{json, Value};

use crate::helpers::{http_get, spawn_app, tools_dir};

struct MockOAuth {
    child: Child,
    port: u16,
}

impl Drop for MockOAuth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_mock() -> MockOAuth {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let version = std::env::var("OAUTH_MOCK_VERSION").unwrap_or_else(|_| "8".into());
    let bin = tools_dir().join(format!("oauth2-mock-server-{version}/node_modules/.bin/oauth2-mock-server"));
    let child = Command::new(&bin)
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{} starts (scripts/setup installs it): {e}", bin.display()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "oauth2-mock-server did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    MockOAuth { child, port }
}

/// Splits `http://host:port/path?query` into the address and the path with query.
fn split(url: &str) -> (std::net::SocketAddr, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    (host.parse().unwrap(), format!("/{path}"))
}

fn location(headers: &[(String, String)]) -> String {
    crate::helpers::header(headers, "location").expect("a redirect").to_string()
}

#[tokio::test]
async fn login_to_provider_gets_a_token_through_the_servers_callback() {
    let mock = start_mock();
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    let saved = c
        .call(
            "oauth.client.set",
            json!({"provider": "dropbox", "client_id": "cloudsync-test", "client_secret": "client-secret-1",
                   "auth_url": format!("http://127.0.0.1:{}/authorize", mock.port), "token_url": format!("http://127.0.0.1:{}/token", mock.port)}),
        )
        .await
        .unwrap();
    assert_eq!(saved["client_secret"], json!({"secret": true, "set": true}));
    assert!(!c.call("oauth.client.list", json!({})).await.unwrap().to_string().contains("client-secret-1"));

    let origin = format!("http://{}", app.addr);
    let start = c.call("oauth.start", json!({"provider": "dropbox", "origin": origin})).await.unwrap();
    let url = start["authorize_url"].as_str().unwrap();
    assert!(url.contains("client_id=cloudsync-test"));
    assert_eq!(start["redirect_uri"], format!("{origin}/oauth/callback"));

    // The browser visits the provider, which sends it back to our callback.
    let (addr, path) = split(url);
    let (status, headers, _) = http_get(addr, &path, &[]).await;
    assert_eq!(status, 302);
    let back = location(&headers);
    assert!(back.starts_with(&format!("{origin}/oauth/callback?code=")), "{back}");
    assert_eq!(
        c.call("oauth.finish", json!({"state": start["state"]})).await.unwrap_err().code,
        ErrorCode::CONFLICT,
        "not completed yet"
    );

    let (addr, path) = split(&back);
    let (status, _, body) = http_get(addr, &path, &[]).await;
    let page = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Login complete") && page.contains("postMessage"));
    assert!(!page.contains("access_token"), "the token never goes through the popup");

    // Another session cannot collect it; this one can, once.
    let mut other = app.logged_in_client().await;
    let e = other.call("oauth.finish", json!({"state": start["state"]})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
    let token: Value = serde_json::from_str(
        c.call("oauth.finish", json!({"state": start["state"]})).await.unwrap()["token"].as_str().unwrap(),
    )
    .unwrap();
    assert!(token["access_token"].as_str().unwrap().len() > 20);
    assert_eq!(token["token_type"], "Bearer");
    assert!(token["expiry"].as_str().unwrap().contains('T'));
    assert!(c.call("oauth.finish", json!({"state": start["state"]})).await.is_err());

    // A replayed callback is refused.
    let (status, _, body) = http_get(addr, &path, &[]).await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("unknown, expired or already used"));

    // The token fills the credential's token option and is stored encrypted.
    let created = c
        .call(
            "credential.create",
            json!({"name": "my dropbox", "provider": "dropbox", "attributes": {"token": token.to_string()}}),
        )
        .await
        .unwrap();
    assert_eq!(created["attributes"]["token"], json!({"secret": true, "set": true}));
}

#[tokio::test]
async fn a_wrong_state_is_refused_and_a_failing_token_endpoint_is_reported() {
    let app = spawn_app().await;
    let (status, _, body) = http_get(app.addr, "/oauth/callback?state=made-up&code=x", &[]).await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("unknown, expired or already used"));

    let mut c = app.logged_in_client().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let start = c
        .call(
            "oauth.start",
            json!({"provider": "box", "origin": format!("http://{}", app.addr), "client_id": "id",
                   "auth_url": "http://127.0.0.1:9/authorize", "token_url": format!("http://127.0.0.1:{closed}/token")}),
        )
        .await
        .unwrap();
    let state = start["state"].as_str().unwrap();
    let (status, _, body) = http_get(app.addr, &format!("/oauth/callback?state={state}&code=abc"), &[]).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("Login failed"));
    let e = c.call("oauth.finish", json!({"state": state})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::CONFLICT);
    assert!(e.message.contains("cannot reach the token endpoint"), "{}", e.message);
}

#[tokio::test]
async fn start_explains_what_is_missing() {
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    let origin = format!("http://{}", app.addr);
    let e = c.call("oauth.start", json!({"provider": "dropbox", "origin": origin})).await.unwrap_err();
    let why = e.field_error("client_id").unwrap();
    assert!(why.contains(&format!("{origin}/oauth/callback")) && why.contains("rclone authorize"), "{why}");
    let e = c.call("oauth.start", json!({"provider": "sftp", "origin": origin})).await.unwrap_err();
    assert_eq!(e.field_error("provider").as_deref(), Some("sftp does not log in with OAuth"));
    let e = c.call("oauth.start", json!({"provider": "zoho", "origin": origin, "client_id": "x"})).await.unwrap_err();
    assert!(e.field_error("auth_url").is_some());
    let e = c
        .call("oauth.start", json!({"provider": "dropbox", "origin": "javascript:x", "client_id": "x"}))
        .await
        .unwrap_err();
    assert!(e.field_error("origin").is_some());
}

#[tokio::test]
async fn a_token_rclone_refreshes_is_saved_back_encrypted_even_when_the_command_fails() {
    let mock = start_mock();
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    let expired = json!({"access_token": "old-access-token", "token_type": "Bearer", "refresh_token": "refresh-1", "expiry": "2020-01-01T00:00:00Z"});
    let created = c
        .call(
            "credential.create",
            json!({"name": "box", "provider": "box", "attributes": {
                "client_id": "cid", "client_secret": "csecret", "token": expired.to_string(),
                "token_url": format!("http://127.0.0.1:{}/token", mock.port), "auth_url": format!("http://127.0.0.1:{}/authorize", mock.port)}}),
        )
        .await
        .unwrap();
    let id = created["id"].as_i64().unwrap();

    // rclone refreshes the expired token at the (local) token URL, then fails to reach
    // Box itself, which this machine cannot.
    let r = c.call("credential.verify", json!({"id": id})).await.unwrap();
    assert_eq!(r["ok"], false);

    let seed = cloudsync::secret_seed::load_or_create(&app.data_dir.path().join("data/secret-seed")).unwrap();
    let secrets = cloudsync::crypto::SecretBox::new(&seed, cloudsync::crypto::CREDENTIALS_PURPOSE);
    let stored = cloudsync::credentials::store::get(&app.pool, &secrets, id).await.unwrap().unwrap();
    let token: Value = serde_json::from_str(&stored.attributes.unwrap().as_map()["token"]).unwrap();
    assert_ne!(token["access_token"], "old-access-token", "the refreshed token was saved: {token}");
    assert!(token["access_token"].as_str().unwrap().len() > 20);
    let row: Vec<u8> = sqlx::query_scalar("SELECT attributes_sealed FROM cloud_credentials WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let new_access = token["access_token"].as_str().unwrap();
    assert!(!row.windows(16).any(|w| new_access.as_bytes().windows(16).any(|t| t == w)), "stored encrypted");
}
