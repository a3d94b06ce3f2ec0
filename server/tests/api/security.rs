//! The findings of the security review, each reproduced against the real server and
//! now refused: login hammering, unbounded sockets, DNS rebinding, command-running
//! rclone options, crafted backups, NUL bytes in runs and settings, streams outliving
//! their session, the embedded database's environment and files, security headers.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use protocol::ErrorCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::fixtures::{credential, finished, make_task, run_to_end};
use crate::helpers::{
    fresh_database, header, http_get, rclone_path, spawn_app, spawn_app_with, traversable_tempdir, RpcClient,
    ADMIN_PASSWORD,
};
use crate::storage::StorageServer;

/// The real binary serving on its own port, for what must be measured from outside:
/// its memory, its children's environment.
struct ServerProcess {
    child: tokio::process::Child,
    url: String,
    _data: tempfile::TempDir,
    data_dir: std::path::PathBuf,
}

impl ServerProcess {
    async fn start(embedded: bool) -> ServerProcess {
        use tokio::io::AsyncBufReadExt;
        let data = traversable_tempdir();
        let data_dir = data.path().join("data");
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_cloudsync"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            .arg("--rclone")
            .arg(rclone_path())
            .env("CLOUDSYNC_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("CLOUDSYNC_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        if embedded {
            cmd.env_remove("DATABASE_URL");
        } else {
            cmd.env("DATABASE_URL", fresh_database().await);
        }
        let mut child = cmd.spawn().unwrap();
        let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let url = tokio::time::timeout(Duration::from_secs(120), async {
            while let Some(line) = out.next_line().await.unwrap() {
                if let Some(u) = line.strip_prefix("cloudsync listening on ") {
                    return u.to_string();
                }
            }
            panic!("the server exited before listening");
        })
        .await
        .expect("the server starts within 120 s");
        tokio::spawn(async move { while let Ok(Some(_)) = out.next_line().await {} });
        ServerProcess { child, url, _data: data, data_dir }
    }

    fn ws_url(&self) -> String {
        format!("{}/api/ws", self.url.replace("http://", "ws://"))
    }

    /// VmRSS and VmHWM (peak), in MiB.
    fn memory(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id().unwrap())).unwrap();
        let field = |name: &str| -> u64 {
            let line = status.lines().find(|l| l.starts_with(name)).unwrap();
            line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

#[tokio::test]
async fn concurrent_wrong_logins_reach_the_password_check_at_most_five_times_and_memory_stays_bounded() {
    let server = ServerProcess::start(false).await;
    let mut sockets = Vec::new();
    for _ in 0..30 {
        sockets.push(RpcClient::connect(&server.ws_url()).await);
    }
    let (_, peak_before) = server.memory();
    let outcomes = futures::future::join_all(
        sockets
            .iter_mut()
            .enumerate()
            .map(|(i, c)| async move { c.login("admin", &format!("guess-{i}")).await.unwrap_err().code }),
    )
    .await;
    let checked = outcomes.iter().filter(|c| **c == ErrorCode::LOGIN_FAILED).count();
    let limited = outcomes.iter().filter(|c| **c == ErrorCode::RATE_LIMITED).count();
    let (_, peak_after) = server.memory();
    println!("30 concurrent wrong logins: {checked} checked, {limited} rate limited; peak RSS {peak_before} -> {peak_after} MiB");
    assert!(checked <= 5, "{checked} attempts reached argon2: {outcomes:?}");
    assert_eq!(checked + limited, 30);
    assert!(peak_after - peak_before < 150, "peak RSS grew by {} MiB", peak_after - peak_before);
}

#[tokio::test]
async fn an_unauthenticated_flood_that_never_reads_is_not_buffered() {
    let server = ServerProcess::start(false).await;
    let (rss_before, _) = server.memory();
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url()).await.unwrap();
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "system.info"}).to_string();
    let mut sent = 0u32;
    // Send without reading; once the server stops reading, the socket's buffers fill and
    // sending blocks.
    while sent < 300_000 {
        match tokio::time::timeout(Duration::from_secs(2), ws.send(Message::Text(request.clone().into()))).await {
            Ok(Ok(())) => sent += 1,
            _ => break,
        }
    }
    let (rss_after, _) = server.memory();
    println!("sent {sent} requests without reading; RSS {rss_before} -> {rss_after} MiB");
    assert!(sent < 300_000, "the server kept reading everything");
    assert!(rss_after.saturating_sub(rss_before) < 100, "RSS grew by {} MiB", rss_after - rss_before);
    let mut fresh = RpcClient::connect(&server.ws_url()).await;
    fresh.login("admin", ADMIN_PASSWORD).await.expect("the server still serves others");
}

#[tokio::test]
async fn frames_above_the_limit_are_refused_before_login_and_the_server_stays_up() {
    let server = ServerProcess::start(false).await;
    let (rss_before, _) = server.memory();
    for _ in 0..5 {
        let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url()).await.unwrap();
        let big = "x".repeat(16 * 1024 * 1024);
        let _ = ws.send(Message::Text(big.into())).await;
        // The server closes the socket (message too big) instead of answering.
        let next = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("closed within 10 s");
        assert!(!matches!(next, Some(Ok(Message::Text(_)))), "a 16 MiB frame was read: {next:?}");
    }
    let (rss_after, _) = server.memory();
    println!("five 16 MiB frames: RSS {rss_before} -> {rss_after} MiB");
    assert!(rss_after.saturating_sub(rss_before) < 60, "RSS grew by {} MiB", rss_after - rss_before);
    RpcClient::connect(&server.ws_url()).await.login("admin", ADMIN_PASSWORD).await.unwrap();
}

#[tokio::test]
async fn a_socket_that_does_not_log_in_is_closed_after_ten_seconds() {
    let app = spawn_app().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(app.ws_url()).await.unwrap();
    let started = Instant::now();
    let end = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the idle socket stayed open");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(9) && waited < Duration::from_secs(15), "{waited:?}");
    // A logged-in socket stays.
    let mut c = app.logged_in_client().await;
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(c.call("auth.me", json!({})).await.unwrap()["username"], "admin");
}

#[tokio::test]
async fn a_foreign_host_gets_421_and_a_rebinding_page_cannot_open_a_socket() {
    let app = spawn_app().await;
    let port = app.addr.port();
    let evil = format!("rebind.attacker.example:{port}");
    for path in ["/", "/healthz", "/api/ws", "/oauth/callback"] {
        let (status, _, _) = http_get(app.addr, path, &[("Host", &evil)]).await;
        assert_eq!(status, 421, "{path}");
    }
    let upgrade = |host: String, origin: String| async move {
        let headers = [
            ("Host", host.as_str()),
            ("Origin", origin.as_str()),
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        http_get(app.addr, "/api/ws", &headers).await.0
    };
    // The review's reproduction: matching foreign Host and Origin.
    assert_eq!(upgrade(evil.clone(), format!("http://{evil}")).await, 421);
    // The right Host with a foreign Origin.
    assert_eq!(upgrade(format!("127.0.0.1:{port}"), "http://evil.example".into()).await, 403);
    assert_eq!(upgrade(format!("localhost:{port}"), format!("http://localhost:{port}")).await, 101);
    assert_eq!(http_get(app.addr, "/healthz", &[]).await.0, 200, "the real host works");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), "<!doctype html><title>app</title>").unwrap();
    let app = crate::helpers::spawn_app_with_site(site.path()).await;
    for path in ["/", "/tasks", "/healthz"] {
        let (status, headers, _) = http_get(app.addr, path, &[]).await;
        assert_eq!(status, 200, "{path}");
        let csp = header(&headers, "content-security-policy").unwrap_or_default();
        assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(header(&headers, "x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(header(&headers, "referrer-policy"), Some("no-referrer"), "{path}");
        assert_eq!(header(&headers, "x-frame-options"), Some("DENY"), "{path}");
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_client_is_the_forwarded_address() {
    let app = spawn_app_with(|s| {
        s.trusted_proxies = vec![cloudsync::http::client_addr::Cidr::parse("127.0.0.1").unwrap()];
    })
    .await;
    let via = |client: &'static str| {
        let url = app.ws_url();
        async move {
            use tokio_tungstenite::tungstenite::client::IntoClientRequest;
            let mut request = url.into_client_request().unwrap();
            request.headers_mut().insert("x-forwarded-for", client.parse().unwrap());
            let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
            RpcClient::from_stream(ws)
        }
    };
    let mut stranger = via("203.0.113.9").await;
    for _ in 0..5 {
        assert_eq!(stranger.login("admin", "guess").await.unwrap_err().code, ErrorCode::LOGIN_FAILED);
    }
    let e = stranger.login("admin", ADMIN_PASSWORD).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::RATE_LIMITED);
    assert!(e.message.contains("203.0.113.9"), "{}", e.message);
    // The admin, elsewhere, is not slowed by the stranger.
    via("198.51.100.7").await.login("admin", ADMIN_PASSWORD).await.expect("the admin logs in from elsewhere");
}

#[tokio::test]
async fn options_that_run_commands_or_read_local_files_are_refused_and_not_offered() {
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    let providers = c.call("provider.list", json!({})).await.unwrap();
    let options = |name: &str| -> Vec<String> {
        let p = providers.as_array().unwrap().iter().find(|p| p["name"] == name).unwrap();
        p["options"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap().to_string()).collect()
    };
    for (backend, option) in [
        ("sftp", "ssh"),
        ("sftp", "key_file"),
        ("sftp", "known_hosts_file"),
        ("webdav", "bearer_token_command"),
        ("webdav", "unix_socket"),
        ("s3", "env_auth"),
        ("s3", "shared_credentials_file"),
        ("drive", "service_account_file"),
        ("azureblob", "client_certificate_path"),
    ] {
        assert!(!options(backend).contains(&option.to_string()), "{backend} offers {option}");
    }
    assert!(options("sftp").contains(&"key_pem".to_string()), "pasted keys are still offered");

    let pwned = traversable_tempdir();
    let marker = pwned.path().join("pwned");
    let ssh = format!("sh -c 'id > {}'", marker.display());
    let attempts = [
        (
            "credential.verify",
            json!({"provider": "sftp", "attributes": {"host": "127.0.0.1", "ssh": ssh}}),
            "attributes.ssh",
        ),
        (
            "credential.create",
            json!({"name": "x", "provider": "sftp", "attributes": {"host": "127.0.0.1", "ssh": ssh}}),
            "attributes.ssh",
        ),
        (
            "credential.verify",
            json!({"provider": "webdav", "attributes": {"url": "http://localhost/", "bearer_token_command": format!("touch {}", marker.display())}}),
            "attributes.bearer_token_command",
        ),
        (
            "credential.create",
            json!({"name": "y", "provider": "webdav", "attributes": {"url": "http://localhost/", "unix_socket": "/var/run/docker.sock"}}),
            "attributes.unix_socket",
        ),
    ];
    for (method, params, field) in attempts {
        let e = c.call(method, params).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::INVALID_PARAMS, "{method}");
        let why = e.field_error(field).unwrap_or_else(|| panic!("{method}: {e:?}"));
        assert!(why.contains("--allow-local-options"), "{why}");
    }
    assert!(!marker.exists(), "a command ran");
    assert_eq!(c.call("credential.list", json!({})).await.unwrap(), json!([]));
}

#[tokio::test]
async fn the_operator_can_allow_local_options_explicitly() {
    let app = spawn_app_with(|s| s.allow_local_options = true).await;
    let mut c = app.logged_in_client().await;
    let providers = c.call("provider.list", json!({})).await.unwrap();
    let sftp = providers.as_array().unwrap().iter().find(|p| p["name"] == "sftp").unwrap();
    assert!(sftp["options"].as_array().unwrap().iter().any(|o| o["name"] == "key_file"));
}

/// Every option of the installed rclone whose name or help suggests it touches the
/// server's machine is withheld, or is on this reviewed list with the reason it does
/// not. A new rclone adding such an option fails here until someone looks at it.
#[tokio::test]
async fn the_withheld_options_cover_every_local_option_of_rclone() {
    const REVIEWED: &[(&str, &str, &str)] = &[
        ("sftp", "server_command", "runs on the remote host"),
        ("sftp", "path_override", "a path on the remote host"),
        ("sftp", "disable_hashcheck", "turns remote commands off"),
        ("sftp", "set_env", "variables for the remote sftp server"),
        ("sftp", "key_pem", "the key's contents, pasted"),
        ("sftp", "key_file_pass", "a passphrase, not a path"),
        ("sftp", "key_use_agent", "rclone gets no SSH_AUTH_SOCK: the environment is scrubbed"),
        ("sftp", "pubkey", "the public key's contents, pasted"),
        ("sftp", "pass", "a password"),
        ("sftp", "skip_links", "remote links"),
        ("sftp", "copy_is_hardlink", "remote hard links"),
        ("drive", "service_account_credentials", "the JSON's contents, pasted"),
        ("google cloud storage", "service_account_credentials", "the JSON's contents, pasted"),
        ("box", "box_sub_type", "a choice of account kind"),
        ("smb", "spn", "a name sent to the server"),
        ("webdav", "headers", "HTTP headers to send"),
        ("http", "headers", "HTTP headers to send"),
        ("azureblob", "client_certificate_password", "a password"),
        ("azurefiles", "client_certificate_password", "a password"),
        ("azureblob", "disable_instance_discovery", "turns a network lookup off"),
        ("azurefiles", "disable_instance_discovery", "turns a network lookup off"),
        ("oracleobjectstorage", "sse_customer_key", "the key's contents"),
        ("oracleobjectstorage", "sse_kms_key_id", "a key id at the provider"),
        ("oracleobjectstorage", "sse_customer_key_sha256", "a hash"),
        ("s3", "profile", "only read with env_auth or shared_credentials_file, both withheld"),
        ("oracleobjectstorage", "config_profile", "only read through config_file, withheld"),
        ("oracleobjectstorage", "provider", "its local values (all but no_auth) are refused by value"),
        ("sia", "user_agent", "an HTTP header"),
        ("pikpak", "user_agent", "an HTTP header"),
        ("mailru", "speedup_max_memory", "a size; rclone's own temporary files"),
        ("pikpak", "hash_memory_limit", "a size; rclone's own temporary files"),
        ("jottacloud", "md5_memory_limit", "a size; rclone's own temporary files"),
    ];
    let name_looks_local = |n: &str| {
        ["_file", "_path", "_command", "_ccache", "_agent"].iter().any(|e| n.ends_with(e))
            || ["socket", "ssh", "kerberos", "msi", "env_", "_env", "config_file", "use_az"]
                .iter()
                .any(|w| n.contains(w))
            || n == "env_auth"
    };
    let help_looks_local = regex_lite(&[
        "path to",
        "file path",
        "command to",
        "command used",
        "unix",
        "environment variable",
        "runtime",
        "credential cache",
        " location",
        "local file",
        "on disk",
    ]);
    let out = std::process::Command::new(rclone_path()).args(["config", "providers"]).output().unwrap();
    let raw: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let catalog = cloudsync::rclone::schema::parse(&out.stdout).unwrap();
    let mut unreviewed = Vec::new();
    for backend in &raw {
        let name = backend["Name"].as_str().unwrap();
        let Some(p) = catalog.iter().find(|p| p.name == name) else { continue };
        for o in p.options.iter() {
            let first_help = o.help.lines().next().unwrap_or("").to_ascii_lowercase();
            let suspicious = name_looks_local(&o.name.to_ascii_lowercase()) || help_looks_local(&first_help);
            let withheld = cloudsync::providers::local_access(o).is_some();
            let reviewed = REVIEWED.iter().any(|(b, n, _)| *b == name && *n == o.name);
            if suspicious && !withheld && !reviewed {
                unreviewed.push(format!("{name} {}: {first_help}", o.name));
            }
        }
    }
    assert!(
        unreviewed.is_empty(),
        "options that look local but are neither withheld nor reviewed:\n{}",
        unreviewed.join("\n")
    );
    // And the review's list is withheld.
    for (backend, option) in [
        ("sftp", "ssh"),
        ("sftp", "key_file"),
        ("sftp", "pubkey_file"),
        ("sftp", "known_hosts_file"),
        ("sftp", "md5sum_command"),
        ("webdav", "bearer_token_command"),
        ("webdav", "unix_socket"),
        ("drive", "service_account_file"),
        ("google cloud storage", "service_account_file"),
        ("box", "box_config_file"),
        ("s3", "shared_credentials_file"),
        ("s3", "env_auth"),
        ("oracleobjectstorage", "config_file"),
        ("azureblob", "client_certificate_path"),
        ("azureblob", "service_principal_file"),
        ("azureblob", "use_az"),
        ("smb", "kerberos_ccache"),
    ] {
        let p = catalog.iter().find(|p| p.name == backend).unwrap();
        let o = p.options.iter().find(|o| o.name == option).unwrap_or_else(|| panic!("{backend} {option}"));
        assert!(cloudsync::providers::local_access(o).is_some(), "{backend} {option} is not withheld");
    }
}

fn regex_lite(words: &'static [&'static str]) -> impl Fn(&str) -> bool {
    move |text: &str| words.iter().any(|w| text.contains(w))
}

/// A backup whose one credential (b2, with the backup's own seed) is sealed over extra
/// attributes that would switch it to sftp running a command.
fn crafted_backup(extra: Value) -> Value {
    use base64::Engine;
    let seed = [7u8; 32];
    let secrets = cloudsync::crypto::SecretBox::new(
        &cloudsync::secret_seed::SecretSeed::from_bytes(seed),
        cloudsync::crypto::CREDENTIALS_PURPOSE,
    );
    let mut attrs = json!({"account": "0012ab", "key": "K001secret"});
    for (k, v) in extra.as_object().unwrap() {
        attrs[k] = v.clone();
    }
    let sealed = secrets.seal("credential:1", attrs.to_string().as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD;
    json!({"format": "cloudsync-config", "version": 1, "created_at": "2026-12-01T00:00:00Z", "cloudsync_version": "0.1.0",
           "secret_seed": b64.encode(seed),
           "credentials": [{"id": 1, "name": "Backblaze B2 (office)", "provider": "b2", "sealed": b64.encode(sealed)}],
           "tasks": []})
}

#[tokio::test]
async fn a_crafted_backup_is_refused_with_the_field_named_and_nothing_changes() {
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    let bad = crafted_backup(json!({"type": "sftp", "host": "localhost", "ssh": "sh -c 'id > /tmp/pwned'"}));
    let e = c.call("config.import", json!({"backup": bad})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
    let fields: Vec<String> = e.field_errors().into_iter().map(|f| f.field).collect();
    assert!(fields.contains(&"backup.credentials[0].attributes.type".to_string()), "{fields:?}");
    assert!(fields.contains(&"backup.credentials[0].attributes.host".to_string()), "{fields:?}");
    assert_eq!(c.call("credential.list", json!({})).await.unwrap(), json!([]), "nothing was imported");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM cloud_credentials").fetch_one(&app.pool).await.unwrap();
    assert_eq!(rows, 0);

    let mut unknown = crafted_backup(json!({}));
    unknown["credentials"][0]["provider"] = json!("local");
    let e = c.call("config.import", json!({"backup": unknown})).await.unwrap_err();
    assert!(e.field_error("backup.credentials[0].provider").is_some(), "{e:?}");

    // The same backup without the extras imports, and its attributes are the validated ones.
    let good = crafted_backup(json!({}));
    let report = c.call("config.import", json!({"backup": good})).await.unwrap();
    assert_eq!(report["imported"], json!(["Backblaze B2 (office)"]));
    let list = c.call("credential.list", json!({})).await.unwrap();
    let keys: Vec<&String> = list[0]["attributes"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["account", "key"]);
}

#[tokio::test]
async fn a_nul_byte_in_script_output_neither_sticks_the_run_nor_the_task() {
    let app = spawn_app().await;
    let dav = StorageServer::webdav();
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("a.txt"), b"hello").unwrap();
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &dav, "dav").await;
    let script = "printf 'x\\000y\\n'; printf '\\377\\376 not utf-8\\n'";
    let task = make_task(&mut c, cred, "PUSH", "COPY", local.path(), "", "dest", json!({"pre_script": script})).await;
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "SUCCESS", "{run}");
    let log = c.call("run.log", json!({"id": run["id"]})).await.unwrap();
    let messages: Vec<&str> = log.as_array().unwrap().iter().map(|l| l["message"].as_str().unwrap()).collect();
    assert!(messages.contains(&"x\u{fffd}y"), "{messages:?}");
    assert!(messages.iter().any(|m| m.ends_with(" not utf-8")), "{messages:?}");
    assert_eq!(std::fs::read(dav.root().join("dest/a.txt")).unwrap(), b"hello");
    let again = run_to_end(&mut c, task, false).await;
    assert_eq!(again["state"], "SUCCESS", "the task runs again: {again}");
}

#[tokio::test]
async fn a_runs_log_is_capped_and_says_so() {
    let app = spawn_app_with(|s| s.max_log_lines = 20).await;
    let dav = StorageServer::webdav();
    let local = tempfile::tempdir().unwrap();
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &dav, "dav").await;
    let script = "i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done";
    let task = make_task(&mut c, cred, "PUSH", "COPY", local.path(), "", "d", json!({"pre_script": script})).await;
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "SUCCESS");
    let log = c.call("run.log", json!({"id": run["id"], "limit": 1000})).await.unwrap();
    let lines = log.as_array().unwrap();
    assert!(lines.len() < 30, "{} lines kept", lines.len());
    assert!(lines.iter().any(|l| l["message"].as_str().unwrap().starts_with("log truncated")), "{lines:?}");
    assert!(lines.iter().any(|l| l["message"] == "run ended: SUCCESS"), "the runner's own lines are kept");
}

#[tokio::test]
async fn nul_in_task_fields_is_a_field_error_and_other_tasks_keep_their_schedule() {
    let app = spawn_app().await;
    let dav = StorageServer::webdav();
    let local = tempfile::tempdir().unwrap();
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &dav, "dav").await;
    let schedule =
        json!({"minute": "0", "hour": "3", "dom": "*", "month": "*", "dow": "*", "begin": "00:00", "end": "23:59"});
    let good = make_task(&mut c, cred, "PUSH", "COPY", local.path(), "", "a", json!({"schedule": schedule})).await;
    let base = json!({"description": "bad", "credentials": cred, "direction": "PUSH", "transfer_mode": "COPY",
                      "path": local.path(), "schedule": schedule});
    for (field, value) in [
        ("pre_script", json!("echo hi \u{0}")),
        ("description", json!("a\u{0}b")),
        ("attributes", json!({"bucket": "", "folder": "x\u{0}y"})),
    ] {
        let mut t = base.clone();
        t[field] = value;
        let e = c.call("task.create", t).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::INVALID_PARAMS, "{field}");
        let named = e.field_errors().into_iter().any(|f| f.field.starts_with(field));
        assert!(named, "{field}: {e:?}");
    }
    // A row the database holds but that cannot be read (written behind cloudsync's back).
    sqlx::query(
        "INSERT INTO sync_tasks (description, credential_id, enabled, settings) VALUES ('broken', $1, true, '{\"schedule\": ')",
    )
    .bind(cred)
    .execute(&app.pool)
    .await
    .unwrap();
    let app = app.restart().await;
    let mut c = app.logged_in_client().await;
    let t = c.call("task.get", json!({"id": good})).await.unwrap();
    assert!(t["next_run"].is_string(), "the good task is still scheduled: {t}");
}

#[tokio::test]
async fn task_settings_edited_in_the_database_do_not_run() {
    let app = spawn_app().await;
    let dav = StorageServer::webdav();
    let local = tempfile::tempdir().unwrap();
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &dav, "dav").await;
    let task = make_task(&mut c, cred, "PUSH", "COPY", local.path(), "", "a", json!({})).await;
    let marker = traversable_tempdir();
    let planted = marker.path().join("planted");
    sqlx::query("UPDATE sync_tasks SET settings = jsonb_set(settings::jsonb, '{pre_script}', to_jsonb($2::text))::text WHERE id = $1")
        .bind(task)
        .bind(format!("touch {}", planted.display()))
        .execute(&app.pool)
        .await
        .unwrap();
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "FAILED");
    assert!(run["error"].as_str().unwrap().contains("changed outside cloudsync"), "{run}");
    assert!(!planted.exists(), "the planted script ran");
    // Saving the task through the API approves its settings again.
    let current = c.call("task.get", json!({"id": task})).await.unwrap();
    c.call(
        "task.update",
        json!({"id": task, "description": current["description"], "credentials": cred,
        "direction": "PUSH", "transfer_mode": "COPY", "path": current["path"], "attributes": current["attributes"],
        "pre_script": current["pre_script"]}),
    )
    .await
    .unwrap();
    assert_eq!(run_to_end(&mut c, task, false).await["state"], "SUCCESS");
}

#[tokio::test]
async fn folders_others_can_write_refuse_follow_symlinks_and_the_data_dir_is_never_a_task_folder() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    let dav = StorageServer::webdav();
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &dav, "dav").await;
    let shared = traversable_tempdir();
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let t = json!({"description": "shared", "credentials": cred, "direction": "PUSH", "transfer_mode": "COPY",
                   "path": shared.path(), "follow_symlinks": true});
    let e = c.call("task.create", t.clone()).await.unwrap_err();
    assert!(e.field_error("follow_symlinks").unwrap().contains("writable by other users"), "{e:?}");
    let mut without = t;
    without["follow_symlinks"] = json!(false);
    c.call("task.create", without).await.expect("without following links the folder is fine");

    let data = app.data_dir.path().join("data");
    let t =
        json!({"description": "seed", "credentials": cred, "direction": "PUSH", "transfer_mode": "COPY", "path": data});
    let e = c.call("task.create", t).await.unwrap_err();
    assert!(e.field_error("path").unwrap().contains("data directory"), "{e:?}");
}

#[tokio::test]
async fn a_revoked_tokens_socket_is_closed_and_its_stream_ends() {
    let app = spawn_app().await;
    let mut admin = app.logged_in_client().await;
    let token = admin.call("auth.token.create", json!({"name": "script", "password": ADMIN_PASSWORD})).await.unwrap();
    let mut script = app.client().await;
    script.call("auth.resume", json!({"token": token["token"]})).await.unwrap();
    script.call("events.subscribe", json!({})).await.unwrap();
    admin.call("auth.token.revoke", json!({"id": token["id"]})).await.unwrap();
    assert!(script.closed_within(Duration::from_secs(5)).await, "the revoked token's socket stayed open");

    // Logout ends the session's other sockets too.
    let session = admin.login("admin", ADMIN_PASSWORD).await.unwrap();
    let mut second = app.client().await;
    second.call("auth.resume", json!({"token": session["token"]})).await.unwrap();
    admin.call("auth.logout", json!({})).await.unwrap();
    assert!(second.closed_within(Duration::from_secs(5)).await, "a logged-out session's socket stayed open");
}

#[tokio::test]
async fn creating_a_token_or_exporting_the_seed_needs_the_current_password() {
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    let e = c.call("auth.token.create", json!({"name": "x"})).await.unwrap_err();
    assert_eq!(e.field_error("password").as_deref(), Some("is required: enter your current password to confirm"));
    let e = c.call("auth.token.create", json!({"name": "x", "password": "wrong"})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::LOGIN_FAILED);
    let e = c.call("config.export", json!({"include_secret_seed": true})).await.unwrap_err();
    assert!(e.field_error("password").is_some(), "{e:?}");
    let e = c.call("config.export", json!({"include_secret_seed": true, "password": "wrong"})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::LOGIN_FAILED);
    let backup =
        c.call("config.export", json!({"include_secret_seed": true, "password": ADMIN_PASSWORD})).await.unwrap();
    assert!(backup["secret_seed"].is_string());
    assert!(
        c.call("config.export", json!({})).await.unwrap()["secret_seed"].is_null(),
        "without the seed, no password"
    );
    let tokens = c.call("auth.token.list", json!({})).await.unwrap();
    assert_eq!(tokens, json!([]), "nothing was created by the refused calls");
}

#[tokio::test]
async fn the_embedded_database_gets_a_clean_environment_and_a_private_log() {
    use std::os::unix::fs::PermissionsExt;
    let server = ServerProcess::start(true).await;
    let pgdata = server.data_dir.join("postgres/data");
    let pid_file = std::fs::read_to_string(pgdata.join("postmaster.pid")).expect("a postmaster.pid");
    let pid: u32 = pid_file.lines().next().unwrap().trim().parse().unwrap();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let text = String::from_utf8_lossy(&environ);
    assert!(!text.contains("CLOUDSYNC_ADMIN_PASSWORD") && !text.contains(ADMIN_PASSWORD), "{text}");
    assert!(!text.contains("CLOUDSYNC_"), "{text}");
    let log_dir = server.data_dir.join("postgres/log");
    assert_eq!(std::fs::metadata(&log_dir).unwrap().permissions().mode() & 0o777, 0o700);
    // And the server still works with it.
    RpcClient::connect(&server.ws_url()).await.login("admin", ADMIN_PASSWORD).await.unwrap();
}

#[tokio::test]
async fn a_finished_run_is_recorded_even_when_its_log_lines_are_hostile() {
    // rclone logs remote file names; a name with control characters reaches the log as text.
    let app = spawn_app().await;
    let dav = StorageServer::webdav();
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("bell\u{7}name.txt"), b"x").unwrap();
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &dav, "dav").await;
    let task = make_task(&mut c, cred, "PUSH", "COPY", local.path(), "", "d", json!({})).await;
    let run_id = c.call("task.run", json!({"id": task})).await.unwrap()["run_id"].as_i64().unwrap();
    let run = finished(&mut c, run_id).await;
    assert_eq!(run["state"], "SUCCESS", "{run}");
}
