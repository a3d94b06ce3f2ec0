//! Notification targets against a real HTTP receiver on 127.0.0.1 (in the test): the
//! webhook's JSON and signature, ntfy's publish, healthchecks' start and outcome pings,
//! a broken target that changes nothing about the run, and secrets that never come back.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use hmac::Mac;
use serde_json::{json, Value};

use crate::fixtures::{credential, make_task, run_to_end};
use crate::helpers::{spawn_app, RpcClient};
use crate::storage::StorageServer;

#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

pub type Inbox = Arc<Mutex<Vec<Received>>>;

/// Answers 500 under `/broken`, an OAuth `invalid_grant` under `/revoked`, nothing for a
/// minute under `/hang`, 200 after 1.5 s to a `/start` under `/slow` (kept when
/// answered), 200 everywhere else, and keeps every request.
pub async fn receiver() -> (String, Inbox) {
    async fn take(
        State(inbox): State<Inbox>,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> (StatusCode, HeaderMap, String) {
        let path = uri.path().to_string();
        if path.starts_with("/hang") {
            inbox.lock().unwrap().push(Received { path: path.clone(), headers: headers.clone(), body: body.to_vec() });
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        if path.starts_with("/slow") && path.ends_with("/start") {
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        let answer = if path.starts_with("/broken") {
            (StatusCode::INTERNAL_SERVER_ERROR, HeaderMap::new(), String::new())
        } else if path.starts_with("/revoked") {
            let mut h = HeaderMap::new();
            h.insert("content-type", "application/json".parse().unwrap());
            let body = json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."});
            (StatusCode::BAD_REQUEST, h, body.to_string())
        } else {
            (StatusCode::OK, HeaderMap::new(), String::new())
        };
        inbox.lock().unwrap().push(Received { path, headers, body: body.to_vec() });
        answer
    }
    let inbox: Inbox = Arc::default();
    let app = axum::Router::new().fallback(take).with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, inbox)
}

async fn target(c: &mut RpcClient, name: &str, kind: &str, settings: Value) -> i64 {
    let made = c.call("notify.target.create", json!({"name": name, "kind": kind, "settings": settings})).await.unwrap();
    made["id"].as_i64().unwrap()
}

/// A PUSH COPY task of a folder holding one file to `folder`, with `extra` (its
/// notification settings, a pre-script); the folder lives as long as the answer.
async fn copy_one_file(c: &mut RpcClient, cred: i64, folder: &str, extra: Value) -> (i64, tempfile::TempDir) {
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("f.txt"), "f").unwrap();
    (make_task(c, cred, "PUSH", "COPY", local.path(), folder, "", extra).await, local)
}

fn paths(inbox: &Inbox) -> Vec<String> {
    inbox.lock().unwrap().iter().map(|r| r.path.clone()).collect()
}

/// Waits until `want` holds for the inbox (10 s at most).
async fn until(inbox: &Inbox, want: impl Fn(&[Received]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !want(&inbox.lock().unwrap()) {
        assert!(Instant::now() < deadline, "not received: {:?}", paths(inbox));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A run that fails at once ends while its start ping is still on its way; the check
/// must still hear `/start` before `/fail` (the other way round it would show the run as
/// still going, and later as late).
#[tokio::test]
async fn a_healthchecks_check_hears_a_runs_start_before_its_end_even_when_the_start_is_slow() {
    let app = spawn_app().await;
    let (url, inbox) = receiver().await;
    let s3 = StorageServer::s3();
    s3.mkdir("slowhc");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let hc = target(&mut c, "slow check", "healthchecks", json!({"url": format!("{url}/slow/hc/77")})).await;
    let extra = json!({"pre_script": "exit 3", "notify": {"targets": [hc], "on": "failure"}});
    let (task, _local) = copy_one_file(&mut c, cred, "slowhc", extra).await;
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "FAILED", "{run}");
    until(&inbox, |r| r.len() == 2).await;
    assert_eq!(paths(&inbox), ["/slow/hc/77/start", "/slow/hc/77/fail"]);
}

#[tokio::test]
async fn a_failing_run_reaches_webhook_ntfy_and_healthchecks_and_a_broken_target_changes_nothing() {
    let app = spawn_app().await;
    let (url, inbox) = receiver().await;
    let s3 = StorageServer::s3();
    s3.mkdir("alerts");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let hook = target(
        &mut c,
        "ops webhook",
        "webhook",
        json!({"url": format!("{url}/hook?key=hook-key-1"), "headers": {"X-Team": "storage-team-token"}, "secret": "sign-me"}),
    )
    .await;
    let ntfy =
        target(&mut c, "phone", "ntfy", json!({"server": url, "topic": "backups", "token": "tk_ntfy_secret"})).await;
    let hc = target(&mut c, "dead man", "healthchecks", json!({"url": format!("{url}/hc/5f1c")})).await;
    let broken = target(&mut c, "broken", "webhook", json!({"url": format!("{url}/broken")})).await;

    // Secrets go in and never come out, and are not in the database in clear.
    let listed = c.call("notify.target.list", json!({})).await.unwrap().to_string();
    for secret in ["hook-key-1", "storage-team-token", "sign-me", "tk_ntfy_secret", "5f1c"] {
        assert!(!listed.contains(secret), "{secret} in {listed}");
        let rows: Vec<(Vec<u8>,)> =
            sqlx::query_as("SELECT settings_sealed FROM notify_targets").fetch_all(&app.pool).await.unwrap();
        assert!(rows.iter().all(|(b,)| !String::from_utf8_lossy(b).contains(secret)));
    }

    let extra = json!({"pre_script": "echo the disk is gone >&2; exit 3",
                       "notify": {"targets": [hook, ntfy, hc, broken], "on": "failure"}});
    let (task, local) = copy_one_file(&mut c, cred, "alerts", extra).await;
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "FAILED", "{run}");
    // The run ended without waiting for its deliveries: the broken target is still being retried.
    let broken_so_far = c.call("notify.deliveries", json!({"target_id": broken})).await.unwrap();
    assert!(broken_so_far.as_array().unwrap().len() < 3, "{broken_so_far}");

    until(&inbox, |r| {
        r.iter().any(|x| x.path == "/hook")
            && r.iter().any(|x| x.path == "/backups")
            && r.iter().any(|x| x.path == "/hc/5f1c/fail")
    })
    .await;
    let got = inbox.lock().unwrap().clone();
    let hook_req = got.iter().find(|x| x.path == "/hook").unwrap();
    let body: Value = serde_json::from_slice(&hook_req.body).unwrap();
    assert_eq!(body["event"], "run.failed");
    assert_eq!(body["task"], json!({"id": task, "description": format!("PUSH COPY {}", local.path().display())}));
    assert_eq!(body["run"]["id"], run["id"]);
    assert_eq!(body["run"]["state"], "FAILED");
    assert!(body["last_lines"].to_string().contains("the disk is gone"), "{body}");
    assert_eq!(hook_req.headers["x-team"], "storage-team-token");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"sign-me").unwrap();
    mac.update(&hook_req.body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hook_req.headers["x-cloudsync-signature"], format!("sha256={expected}").as_str());

    let ntfy_req = got.iter().find(|x| x.path == "/backups").unwrap();
    assert_eq!(ntfy_req.headers["priority"], "high");
    assert_eq!(ntfy_req.headers["authorization"], "Bearer tk_ntfy_secret");
    assert!(ntfy_req.headers["title"].to_str().unwrap().contains("failed"));
    assert!(String::from_utf8_lossy(&ntfy_req.body).contains(&format!("Run {} of", run["id"])));
    let hc_paths: Vec<&str> = got.iter().filter(|x| x.path.starts_with("/hc/")).map(|x| x.path.as_str()).collect();
    assert_eq!(hc_paths, ["/hc/5f1c/start", "/hc/5f1c/fail"]);

    // The broken target: three attempts, each recorded with its status; the run is untouched.
    let deadline = Instant::now() + Duration::from_secs(15);
    let failed = loop {
        let d = c.call("notify.deliveries", json!({"target_id": broken})).await.unwrap();
        if d.as_array().unwrap().len() == 3 || Instant::now() > deadline {
            break d;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let failed = failed.as_array().unwrap();
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert!(failed.iter().all(|d| d["ok"] == false && d["status"] == 500 && d["run_id"] == run["id"]), "{failed:?}");
    assert_eq!(c.call("run.get", json!({"id": run["id"]})).await.unwrap()["state"], "FAILED");

    // Fixed: the success after a failure is a recovery; the next success says nothing
    // (on: failure), while healthchecks hears every start and outcome.
    let mut settings = c.call("task.get", json!({"id": task})).await.unwrap();
    for k in ["last_run", "next_run", "created_at", "updated_at"] {
        settings.as_object_mut().unwrap().remove(k);
    }
    settings["pre_script"] = json!("");
    c.call("task.update", settings).await.unwrap();
    assert_eq!(run_to_end(&mut c, task, false).await["state"], "SUCCESS");
    until(&inbox, |r| r.iter().filter(|x| x.path == "/hook").count() == 2 && r.iter().any(|x| x.path == "/hc/5f1c"))
        .await;
    let recovered: Value =
        serde_json::from_slice(&inbox.lock().unwrap().iter().rfind(|x| x.path == "/hook").unwrap().body).unwrap();
    assert_eq!(recovered["event"], "run.recovered");
    assert_eq!(run_to_end(&mut c, task, false).await["state"], "SUCCESS");
    until(&inbox, |r| r.iter().filter(|x| x.path == "/hc/5f1c").count() == 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(paths(&inbox).iter().filter(|p| *p == "/hook").count(), 2, "no message for a plain success");

    // The test button.
    let ok = c.call("notify.target.test", json!({"id": hook})).await.unwrap();
    assert_eq!(ok, json!({"ok": true, "message": "delivered (HTTP 200)"}));
    let bad = c.call("notify.target.test", json!({"id": broken})).await.unwrap();
    assert_eq!(bad["ok"], false);
    assert_eq!(bad["message"], "the target answered 500 Internal Server Error");
}

#[tokio::test]
async fn targets_are_checked_field_by_field_and_a_kept_secret_stays() {
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    let e = c
        .call("notify.target.create", json!({"name": "x", "kind": "webhook", "settings": {"url": "ftp://nope"}}))
        .await
        .unwrap_err();
    assert_eq!(e.field_errors().into_iter().map(|f| f.field).collect::<Vec<_>>(), ["settings.url"]);
    let e = c.call("notify.target.create", json!({"name": "x", "kind": "pager", "settings": {}})).await.unwrap_err();
    assert_eq!(e.code, protocol::ErrorCode::INVALID_PARAMS);
    assert!(c.call("notify.target.list", json!({})).await.unwrap().as_array().unwrap().is_empty(), "nothing stored");

    let (url, inbox) = receiver().await;
    let id = target(&mut c, "hook", "webhook", json!({"url": format!("{url}/first"), "secret": "one"})).await;
    let mut shown = c.call("notify.target.list", json!({})).await.unwrap()[0].clone();
    assert_eq!(shown["settings"]["url"], json!({"secret": true, "set": true}));
    // Renamed, with the masks sent back: the URL and secret stay as stored.
    shown["name"] = json!("renamed hook");
    for k in ["created_at", "updated_at"] {
        shown.as_object_mut().unwrap().remove(k);
    }
    let saved = c.call("notify.target.update", shown).await.unwrap();
    assert_eq!(saved["name"], "renamed hook");
    assert_eq!(c.call("notify.target.test", json!({"id": id})).await.unwrap()["ok"], true);
    assert_eq!(paths(&inbox), ["/first"]);
    // A task naming a target that does not exist is refused, naming the entry.
    let s3 = StorageServer::s3();
    s3.mkdir("n");
    let cred = credential(&mut c, &s3, "s3").await;
    let local = tempfile::tempdir().unwrap();
    let e = c
        .call(
            "task.create",
            json!({"description": "t", "credentials": cred, "direction": "PUSH", "transfer_mode": "COPY",
                   "path": local.path(), "attributes": {"bucket": "n"}, "notify": {"targets": [id, 999], "on": "always"}}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.field_errors().into_iter().map(|f| f.field).collect::<Vec<_>>(), ["notify.targets[1]"]);
}

/// aiosmtpd (installed by scripts/setup beside rclone) printing each message it gets.
struct SmtpServer {
    port: u16,
    output: Arc<Mutex<String>>,
    _child: tokio::process::Child,
}

async fn smtp_server() -> SmtpServer {
    use tokio::io::AsyncReadExt;
    let python = crate::helpers::tools_dir().join("venv/bin/python");
    let port = crate::storage::free_port();
    let mut child = tokio::process::Command::new(python)
        .args(["-u", "-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("aiosmtpd: run scripts/setup");
    let output: Arc<Mutex<String>> = Arc::default();
    let mut stdout = child.stdout.take().unwrap();
    let sink = output.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf).await {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "aiosmtpd did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    SmtpServer { port, output, _child: child }
}

#[tokio::test]
async fn an_email_target_sends_the_failure_through_a_real_smtp_server() {
    let app = spawn_app().await;
    let smtp = smtp_server().await;
    let s3 = StorageServer::s3();
    s3.mkdir("mail");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let settings = json!({"host": "127.0.0.1", "port": smtp.port, "security": "none",
                          "from": "cloudsync@nas.example", "to": ["ops@example.org", "me@example.org"]});
    let mail = target(&mut c, "ops mail", "email", settings).await;
    let tested = c.call("notify.target.test", json!({"id": mail})).await.unwrap();
    assert_eq!(tested, json!({"ok": true, "message": "delivered (SMTP 250)"}));
    let extra = json!({"pre_script": "echo tape jammed >&2; exit 4", "notify": {"targets": [mail]}});
    let local = tempfile::tempdir().unwrap();
    let task = make_task(&mut c, cred, "PUSH", "COPY", local.path(), "mail", "", extra).await;
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "FAILED");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !smtp.output.lock().unwrap().contains(&format!("Run {} of", run["id"])) {
        assert!(Instant::now() < deadline, "no e-mail: {}", smtp.output.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = smtp.output.lock().unwrap().clone();
    let failure = out.rsplit("MESSAGE FOLLOWS").next().unwrap();
    assert!(failure.contains("From: cloudsync@nas.example"), "{failure}");
    assert!(failure.contains("To: ops@example.org, me@example.org"), "{failure}");
    assert!(failure.contains(&format!("Subject: cloudsync: PUSH COPY {} failed", local.path().display())), "{failure}");
    assert!(failure.contains("tape jammed"), "the last log lines: {failure}");

    // Field errors name the e-mail settings.
    let e = c
        .call(
            "notify.target.create",
            json!({"name": "bad mail", "kind": "email", "settings": {"host": "", "port": 0, "security": "starttls", "from": "nobody", "to": []}}),
        )
        .await
        .unwrap_err();
    let fields: Vec<String> = e.field_errors().into_iter().map(|f| f.field).collect();
    assert_eq!(fields, ["settings.host", "settings.port", "settings.from", "settings.to"]);
}

/// A Box login with an expired token whose refresh the provider (here the receiver at
/// `url`) refuses with `invalid_grant`.
async fn refused_box(c: &mut RpcClient, name: &str, url: &str) -> i64 {
    let expired = json!({"access_token": "old", "token_type": "Bearer", "refresh_token": "revoked-1", "expiry": "2020-01-01T00:00:00Z"});
    let attributes = json!({"client_id": "cid", "client_secret": "csecret", "token": expired.to_string(),
        "token_url": format!("{url}/revoked/token"), "auth_url": format!("{url}/authorize")});
    let made = c.call("credential.create", json!({"name": name, "provider": "box", "attributes": attributes})).await;
    made.unwrap()["id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_refused_login_marks_the_credential_and_is_told_once_to_the_default_targets() {
    let app = spawn_app().await;
    let (url, inbox) = receiver().await;
    let mut c = app.logged_in_client().await;
    let hook = target(&mut c, "default hook", "webhook", json!({"url": format!("{url}/default")})).await;
    let e = c.call("notify.default.set", json!({"targets": [hook, 999], "on": "failure"})).await.unwrap_err();
    assert!(e.field_error("targets[1]").is_some(), "{e:?}");
    assert_eq!(c.call("notify.default.get", json!({})).await.unwrap(), json!({"targets": [], "on": "failure"}));
    let set = c.call("notify.default.set", json!({"targets": [hook], "on": "failure"})).await.unwrap();
    assert_eq!(set, json!({"targets": [hook], "on": "failure"}));

    let cred = refused_box(&mut c, "box", &url).await;
    assert_eq!(c.call("credential.get", json!({"id": cred})).await.unwrap()["state"], "ok");
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("f.txt"), "f").unwrap();
    let extra = json!({"retry": {"attempts": 2, "delay_seconds": 1}});
    let task = make_task(&mut c, cred, "PUSH", "COPY", local.path(), "", "backup", extra).await;

    let first = run_to_end(&mut c, task, false).await;
    assert_eq!(first["state"], "FAILED", "{first}");
    let shown = c.call("credential.get", json!({"id": cred})).await.unwrap();
    assert_eq!(shown["state"], "needs_reconnect", "{shown}");
    assert!(shown["problem"].as_str().unwrap().contains("invalid_grant"), "{shown}");
    assert!(!shown.to_string().contains("revoked-1"), "{shown}");
    until(&inbox, |r| r.iter().any(|x| x.path == "/default")).await;
    let told: Value =
        serde_json::from_slice(&inbox.lock().unwrap().iter().find(|x| x.path == "/default").unwrap().body).unwrap();
    assert_eq!(told["event"], "credential.needs_reconnect");
    assert_eq!(told["run"]["id"], first["id"]);
    let log = c.call("run.log", json!({"id": first["id"]})).await.unwrap().to_string();
    assert!(log.contains("needs reconnect") && !log.contains("retrying in"), "{log}");

    // The same failure again is told to no one, and not retried either.
    let second = run_to_end(&mut c, task, false).await;
    assert_eq!(second["state"], "FAILED");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(paths(&inbox).iter().filter(|p| *p == "/default").count(), 1, "{:?}", paths(&inbox));
    let runs = c.call("run.list", json!({"task_id": task})).await.unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 2, "no retries: {runs}");

    // A verification the provider refuses the same way marks a credential too, and tells
    // no one (the user is looking at it).
    let other = refused_box(&mut c, "box 2", &url).await;
    let verified = c.call("credential.verify", json!({"id": other})).await.unwrap();
    assert_eq!(verified["ok"], false, "{verified}");
    let shown = c.call("credential.get", json!({"id": other})).await.unwrap();
    assert_eq!(shown["state"], "needs_reconnect", "{shown}");
    assert!(shown["problem"].as_str().unwrap().contains("couldn't fetch token"), "{shown}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(paths(&inbox).iter().filter(|p| *p == "/default").count(), 1, "{:?}", paths(&inbox));
}

#[tokio::test]
async fn a_target_that_never_answers_changes_neither_the_runs_state_nor_its_timing() {
    let app = spawn_app().await;
    let (url, inbox) = receiver().await;
    let s3 = StorageServer::s3();
    s3.mkdir("hang");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let hang = target(&mut c, "hanging", "webhook", json!({"url": format!("{url}/hang")})).await;
    let extra = json!({"notify": {"targets": [hang], "on": "always"}});
    let (task, _local) = copy_one_file(&mut c, cred, "hang", extra).await;
    let started = Instant::now();
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "SUCCESS", "{run}");
    assert!(started.elapsed() < Duration::from_secs(8), "the run waited for the target: {:?}", started.elapsed());
    // The next run starts at once too, while the first message still hangs.
    until(&inbox, |r| r.iter().any(|x| x.path == "/hang")).await;
    assert_eq!(run_to_end(&mut c, task, false).await["state"], "SUCCESS");
    assert_eq!(std::fs::read(s3.root().join("hang/f.txt")).unwrap(), b"f");
    // After the 10 s timeout the attempt is recorded as failed, with why.
    let deadline = Instant::now() + Duration::from_secs(20);
    let failed = loop {
        let d = c.call("notify.deliveries", json!({"target_id": hang})).await.unwrap();
        if let Some(f) = d.as_array().unwrap().iter().find(|d| d["ok"] == false) {
            break f.clone();
        }
        assert!(Instant::now() < deadline, "no failed delivery recorded: {d}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(failed["status"], Value::Null);
    assert_eq!(failed["error"], "no answer within 10 s", "{failed}");
}
