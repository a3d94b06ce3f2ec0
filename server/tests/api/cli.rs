//! The `cloudsync` client commands: the real binary as a subprocess against a real
//! server, with its own config folder. Exit codes, `--json` output, following a run to
//! its end (also across a dropped connection), API tokens.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::helpers::{spawn_app, ADMIN_PASSWORD};
use crate::storage::StorageServer;

/// Runs `cloudsync ARGS` with `home` as its config folder and `stdin` as its input.
pub async fn cloudsync(home: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cloudsync"))
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env_remove("CLOUDSYNC_URL")
        .env_remove("CLOUDSYNC_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the cloudsync binary starts");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    tokio::time::timeout(Duration::from_secs(120), child.wait_with_output()).await.expect("cloudsync ends").unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
pub fn ok(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "stdout: {}\nstderr: {}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

fn json_of(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)))
}

/// A WebDAV credential and a push task of `local` (holding one file), made over the
/// API, with `extra` settings on top; returns the task.
async fn dav_task(
    c: &mut crate::helpers::RpcClient,
    dav: &StorageServer,
    local: &Path,
    (name, bytes): (&str, &[u8]),
    extra: Value,
) -> Value {
    std::fs::create_dir_all(local).unwrap();
    std::fs::write(local.join(name), bytes).unwrap();
    let cred = crate::fixtures::credential(c, dav, "dav").await;
    let mut task = json!({"description": "dav push", "credentials": cred, "direction": "PUSH",
                          "transfer_mode": "COPY", "path": local, "attributes": {"folder": "pushed"}});
    for (k, v) in extra.as_object().unwrap() {
        task[k] = v.clone();
    }
    c.call("task.create", task).await.unwrap()
}

#[tokio::test]
async fn an_administrator_drives_the_server_from_the_command_line() {
    let app = spawn_app().await;
    let url = format!("http://{}", app.addr);
    let home = tempfile::tempdir().unwrap();
    let h = home.path();

    // Not logged in yet; a wrong password; then the right one.
    let out = cloudsync(h, &["--url", &url, "system", "info"], "").await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("not logged in"), "{}", text(&out.stderr));
    let out = cloudsync(h, &["login", "--url", &url, "--password-stdin"], "wrong password\n").await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    ok(&cloudsync(h, &["login", "--url", &url, "--password-stdin"], &format!("{ADMIN_PASSWORD}\n")).await);
    let stored = h.join("config/cloudsync/cli.json");
    assert_eq!(std::fs::metadata(&stored).unwrap().permissions().mode() & 0o777, 0o600);
    let profile = std::fs::read_to_string(&stored).unwrap();
    assert!(!profile.contains(ADMIN_PASSWORD), "the password is never stored");
    assert_eq!(json_of(&cloudsync(h, &["system", "info", "--json"], "").await)["timezone"].as_str().is_some(), true);

    // A credential from stdin, a task from a file.
    let dav = StorageServer::webdav();
    let (provider, attrs) = dav.credential();
    let cred = json!({"name": "nas dav", "provider": provider, "attributes": attrs}).to_string();
    let created = json_of(&cloudsync(h, &["credential", "create", "--from", "-", "--json"], &cred).await);
    let cred_id = created["id"].as_i64().unwrap();
    assert_eq!(created["attributes"]["pass"], json!({"secret": true, "set": true}), "secrets stay masked");
    let listed = ok(&cloudsync(h, &["credential", "list"], "").await);
    assert!(listed.contains("nas dav") && listed.contains("webdav"), "{listed}");

    let local = app.data_dir.path().join("photos");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join("a.jpg"), b"jpeg bytes from the cli").unwrap();
    let task_file = h.join("task.json");
    std::fs::write(
        &task_file,
        json!({"description": "cli photos", "credentials": cred_id, "direction": "PUSH", "transfer_mode": "COPY",
               "path": local, "attributes": {"folder": "cli"}})
        .to_string(),
    )
    .unwrap();
    let task = json_of(&cloudsync(h, &["task", "create", "--from", task_file.to_str().unwrap(), "--json"], "").await);
    let task_id = task["id"].as_i64().unwrap().to_string();

    // Bad input: the server's field error, exit 5, nothing stored.
    let out = cloudsync(h, &["task", "update", &task_id, "--schedule", "0 3 32 * *"], "").await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("schedule.dom: 32 is out of range 1-31"), "{}", text(&out.stderr));
    assert_eq!(json_of(&cloudsync(h, &["task", "show", &task_id, "--json"], "").await)["schedule"], Value::Null);
    ok(&cloudsync(h, &["task", "update", &task_id, "--schedule", "0 3 * * mon"], "").await);
    let shown = json_of(&cloudsync(h, &["task", "show", &task_id, "--json"], "").await);
    assert_eq!(shown["schedule"]["dow"], "mon");
    assert!(shown["next_run"].as_str().is_some());
    let out = cloudsync(h, &["task", "create", "--from", "/nonexistent/task.json"], "").await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));

    // Run it and follow to the end: the log, the bytes, exit 0.
    let out = cloudsync(h, &["task", "run", &task_id, "--follow"], "").await;
    let printed = ok(&out);
    assert!(printed.contains("a.jpg: Copied (new)"), "{printed}");
    assert!(printed.contains("run ended: SUCCESS"), "{printed}");
    assert_eq!(std::fs::read(dav.root().join("cli/a.jpg")).unwrap(), b"jpeg bytes from the cli");
    let runs = json_of(&cloudsync(h, &["run", "list", "--task", &task_id, "--json"], "").await);
    assert_eq!(runs[0]["state"], "SUCCESS");
    let logs = ok(&cloudsync(h, &["run", "logs", &runs[0]["id"].to_string()], "").await);
    assert!(logs.contains("a.jpg: Copied (new)"), "{logs}");
    // Searched on the server; `--json` streams an array of lines.
    let run_id = runs[0]["id"].to_string();
    let found = json_of(&cloudsync(h, &["run", "logs", &run_id, "--query", "COPIED (NEW)", "--json"], "").await);
    let messages: Vec<&str> = found.as_array().unwrap().iter().map(|l| l["message"].as_str().unwrap()).collect();
    assert_eq!(messages, vec!["a.jpg: Copied (new)"]);
    let all = json_of(&cloudsync(h, &["run", "logs", &run_id, "--json"], "").await);
    assert_eq!(all.as_array().unwrap().len(), logs.lines().count(), "the same lines as the table");

    // A run that fails makes `task run --follow` fail.
    ok(&cloudsync(h, &["task", "update", &task_id, "--from", "-"], r#"{"pre_script": "echo nope; exit 3"}"#).await);
    let out = cloudsync(h, &["task", "run", &task_id, "--follow"], "").await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("FAILED"), "{}", text(&out.stderr));

    // API tokens: one works with --token and no stored login; revoked, it is refused.
    // Creating one asks for the password again: a wrong one is refused (exit 4).
    let out = cloudsync(h, &["token", "create", "ci job", "--password-stdin"], "wrong\n").await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let with_password = format!("{}\n", crate::helpers::ADMIN_PASSWORD);
    let token =
        json_of(&cloudsync(h, &["token", "create", "ci job", "--password-stdin", "--json"], &with_password).await);
    let secret = token["token"].as_str().unwrap().to_string();
    assert!(secret.starts_with("cst_"));
    let elsewhere = tempfile::tempdir().unwrap();
    let e = elsewhere.path();
    let info = json_of(&cloudsync(e, &["--url", &url, "--token", &secret, "system", "info", "--json"], "").await);
    assert!(info["version"].as_str().is_some());
    let tokens = ok(&cloudsync(h, &["token", "list"], "").await);
    assert!(tokens.contains("ci job") && !tokens.contains(&secret), "{tokens}");
    ok(&cloudsync(h, &["token", "revoke", &token["id"].to_string()], "").await);
    let out = cloudsync(e, &["--url", &url, "--token", &secret, "system", "info"], "").await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));

    // No server there: exit 3. Logged out: the stored token is gone and refused.
    let out = cloudsync(e, &["--url", "http://127.0.0.1:9", "--token", "x", "system", "info"], "").await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let old = serde_json::from_str::<Value>(&profile).unwrap()["token"].as_str().unwrap().to_string();
    ok(&cloudsync(h, &["logout"], "").await);
    assert!(!stored.exists());
    let out = cloudsync(e, &["--url", &url, "--token", &old, "system", "info"], "").await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
}

/// A TCP proxy that cuts every connection once, `after` from the first one, then
/// relays normally.
async fn flaky_proxy(listener: TcpListener, upstream: std::net::SocketAddr, after: Duration) -> std::net::SocketAddr {
    let addr = listener.local_addr().unwrap();
    let cut = std::sync::Arc::new(tokio::sync::Notify::new());
    let cut_at = cut.clone();
    let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    tokio::spawn(async move {
        let mut first = true;
        loop {
            let (mut inbound, _) = listener.accept().await.unwrap();
            if first {
                first = false;
                let cut_at = cut_at.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    cut_at.notify_waiters();
                });
            }
            let cut = cut.clone();
            let armed = armed.clone();
            tokio::spawn(async move {
                let mut outbound = tokio::net::TcpStream::connect(upstream).await.unwrap();
                let live = armed.load(std::sync::atomic::Ordering::SeqCst);
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = cut.notified(), if live => {
                        armed.store(false, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn following_survives_a_dropped_connection_and_prints_every_line_once() {
    // The proxy forwards the Host it was reached at: the server is told it is a public URL.
    let proxy_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!("http://{}", proxy_listener.local_addr().unwrap());
    let app = crate::helpers::spawn_app_with(|s| {
        s.public_urls = vec![cloudsync::public_urls::PublicUrl::parse(&public).unwrap()]
    })
    .await;
    let mut c = app.logged_in_client().await;
    let dav = StorageServer::webdav();
    // The pre-script writes numbered lines for four seconds; the proxy cuts after two.
    let script = "for i in 1 2 3 4 5 6 7 8; do echo line-$i; sleep 0.5; done";
    let local = app.data_dir.path().join("slow");
    let task = dav_task(&mut c, &dav, &local, ("b.bin", &[7u8; 64 * 1024]), json!({"pre_script": script})).await;
    let token = c
        .call("auth.token.create", json!({"name": "follow test", "password": crate::helpers::ADMIN_PASSWORD}))
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let proxy = flaky_proxy(proxy_listener, app.addr, Duration::from_secs(2)).await;
    let home = tempfile::tempdir().unwrap();
    let url = format!("http://{proxy}");
    let out = cloudsync(
        home.path(),
        &["--url", &url, "--token", &token, "task", "run", &task["id"].to_string(), "--follow"],
        "",
    )
    .await;
    let printed = ok(&out);
    assert!(
        printed.contains("connection lost") || printed.contains("closed the connection"),
        "the proxy cut it: {printed}"
    );
    for i in 1..=8 {
        let needle = format!(": line-{i}\n");
        assert_eq!(printed.matches(&needle).count(), 1, "line-{i} exactly once in:\n{printed}");
    }
    assert_eq!(printed.matches("run ended: SUCCESS").count(), 1, "{printed}");
}

/// The command that covers each API method, or why none does. A method added to the
/// protocol without a command here (and in `cloudsync --help`) fails this test.
const COMMANDS: &[(&str, &str)] = &[
    ("auth.login", "login"),
    ("auth.resume", "(every command, with the stored or given token)"),
    ("auth.logout", "logout"),
    ("auth.me", "(login prints who and until when)"),
    ("auth.change_password", "(web app: System page)"),
    ("auth.token.create", "token create"),
    ("auth.token.list", "token list"),
    ("auth.token.revoke", "token revoke"),
    ("system.info", "system info"),
    ("provider.list", "provider list"),
    ("credential.list", "credential list"),
    ("credential.get", "credential show"),
    ("credential.create", "credential create"),
    ("credential.update", "credential update"),
    ("credential.delete", "credential delete"),
    ("credential.verify", "credential verify"),
    ("credential.browse", "credential browse"),
    ("config.export", "config export"),
    ("config.import", "config import"),
    ("config.import_truenas", "config import-truenas"),
    ("oauth.start", "(web app: needs a browser for the provider's login page)"),
    ("oauth.finish", "(web app: needs a browser for the provider's login page)"),
    ("oauth.client.list", "(web app: System page)"),
    ("oauth.client.set", "(web app: System page)"),
    ("task.list", "task list"),
    ("task.get", "task show"),
    ("task.create", "task create"),
    ("task.update", "task update"),
    ("task.delete", "task delete"),
    ("task.restore", "task restore"),
    ("task.plan", "task plan"),
    ("schedule.preview", "schedule preview"),
    ("schedule.zone", "(web app: its preview computes in the server's zone; the CLI asks schedule.preview)"),
    ("task.run", "task run"),
    ("task.abort", "task abort"),
    ("run.list", "run list"),
    ("run.daily", "(web app: the dashboard's charts)"),
    ("run.recent", "(web app: the Tasks page's sparklines; run list --task shows the same runs)"),
    ("run.get", "run show"),
    ("run.log", "run logs"),
    ("run.follow", "run logs"),
    ("run.download", "run logs"),
    ("run.unfollow", "(ending --follow closes the socket)"),
    ("events.subscribe", "(web app: live task list)"),
    ("events.unsubscribe", "(web app: live task list)"),
    ("notify.target.list", "notify list"),
    ("notify.target.create", "notify add"),
    ("notify.target.update", "notify update"),
    ("notify.target.delete", "notify delete"),
    ("notify.target.test", "notify test"),
    ("notify.deliveries", "notify deliveries"),
    ("notify.default.get", "notify default"),
    ("notify.default.set", "notify default"),
];

#[tokio::test]
async fn every_method_has_a_command_listed_in_help_or_a_reason() {
    let home = tempfile::tempdir().unwrap();
    for method in protocol::METHODS {
        let (_, command) = COMMANDS
            .iter()
            .find(|(m, _)| m == method)
            .unwrap_or_else(|| panic!("{method} has no command in the CLI table (cli.rs COMMANDS)"));
        if command.starts_with('(') {
            continue;
        }
        let words: Vec<&str> = command.split(' ').collect();
        let (parent, leaf) = words.split_at(words.len() - 1);
        let mut args: Vec<&str> = parent.to_vec();
        args.push("--help");
        let help = ok(&cloudsync(home.path(), &args, "").await);
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(&format!("{} ", leaf[0]))),
            "`cloudsync {}` does not list `{}` ({method}):\n{help}",
            parent.join(" "),
            leaf[0]
        );
    }
    let completions = ok(&cloudsync(home.path(), &["completions", "bash"], "").await);
    assert!(completions.contains("cloudsync") && completions.contains("credential"));
}

#[tokio::test]
async fn ctrl_c_stops_following_but_not_the_run() {
    use tokio::io::AsyncBufReadExt;
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    let dav = StorageServer::webdav();
    let local = app.data_dir.path().join("src");
    let extra = json!({"pre_script": "sleep 3", "attributes": {"folder": "ctrl-c"}});
    let task = dav_task(&mut c, &dav, &local, ("c.txt", b"still copied"), extra).await;
    let token = c
        .call("auth.token.create", json!({"name": "ctrl-c", "password": crate::helpers::ADMIN_PASSWORD}))
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let home = tempfile::tempdir().unwrap();
    // The URL and token come from the environment this time.
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cloudsync"))
        .args(["task", "run", &task["id"].to_string(), "--follow"])
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("CLOUDSYNC_URL", format!("http://{}", app.addr))
        .env("CLOUDSYNC_TOKEN", &token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    // Wait until it is following (the runner's first line arrives), then press Ctrl-C.
    let first = tokio::time::timeout(Duration::from_secs(30), stdout.next_line()).await.unwrap().unwrap().unwrap();
    assert!(first.contains("running the pre-script") || first.contains("started"), "{first}");
    // SAFETY: kill has no memory preconditions; the pid is our child's.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGINT) };
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.unwrap().unwrap();
    assert_eq!(status.code(), Some(130));
    // The run went on to the end.
    let runs = c.call("run.list", json!({"task_id": task["id"]})).await.unwrap();
    let run_id = runs[0]["id"].as_i64().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let run = c.call("run.get", json!({"id": run_id})).await.unwrap();
        if run["state"] == "SUCCESS" {
            break;
        }
        assert!(run["state"] == "RUNNING" || run["state"] == "QUEUED", "{run}");
        assert!(std::time::Instant::now() < deadline, "the run did not end: {run}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(std::fs::read(dav.root().join("ctrl-c/c.txt")).unwrap(), b"still copied");
}

/// A TLS-terminating proxy (as an HTTPS reverse proxy in front of cloudsync would be)
/// with a certificate for 127.0.0.1 from a test CA; returns its port and the CA.
async fn tls_proxy(listener: TcpListener, upstream: std::net::SocketAddr, dir: &Path) -> (u16, std::path::PathBuf) {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    // A test CA, and a certificate for 127.0.0.1 it signs.
    let (ca, cert, key) = (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").unwrap();
    for args in [
        "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=cloudsync-test-ca -keyout ca.key -out ca.pem",
        "req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout key.pem -out leaf.csr",
        "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile ext.cnf -out cert.pem",
    ] {
        let made = std::process::Command::new("openssl")
            .args(args.split(' '))
            .current_dir(dir)
            .output()
            .expect("openssl runs");
        assert!(made.status.success(), "openssl {args}: {}", text(&made.stderr));
    }
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(&cert).unwrap().collect::<Result<_, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_file(&key).unwrap();
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut plain = tokio::net::TcpStream::connect(upstream).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (port, ca)
}

#[tokio::test]
async fn the_client_speaks_wss_to_a_server_behind_https_and_checks_its_certificate() {
    let proxy_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!("https://{}", proxy_listener.local_addr().unwrap());
    let app = crate::helpers::spawn_app_with(|s| {
        s.public_urls = vec![cloudsync::public_urls::PublicUrl::parse(&public).unwrap()]
    })
    .await;
    let mut c = app.logged_in_client().await;
    let token =
        c.call("auth.token.create", json!({"name": "tls", "password": crate::helpers::ADMIN_PASSWORD})).await.unwrap()
            ["token"]
            .as_str()
            .unwrap()
            .to_string();
    let home = tempfile::tempdir().unwrap();
    let (port, cert) = tls_proxy(proxy_listener, app.addr, home.path()).await;
    let url = format!("https://127.0.0.1:{port}");
    let run = |trust: Option<&Path>| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_cloudsync"));
        cmd.args(["--url", &url, "system", "info", "--json"])
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("CLOUDSYNC_TOKEN", &token)
            .env_remove("SSL_CERT_DIR")
            .kill_on_drop(true);
        match trust {
            Some(c) => cmd.env("SSL_CERT_FILE", c),
            None => cmd.env("SSL_CERT_FILE", "/dev/null"),
        };
        cmd.output()
    };
    // An unknown certificate is refused: connection failure.
    let out = run(None).await.unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    // Trusted (as a CA in SSL_CERT_FILE), the same call works over wss://.
    let out = run(Some(&cert)).await.unwrap();
    assert_eq!(json_of(&out)["timezone"].as_str().is_some(), true);
}
