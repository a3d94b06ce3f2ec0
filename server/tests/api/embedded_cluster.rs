//! The real binary as a subprocess, with its own embedded cluster.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use protocol::ErrorCode;
use serde_json::json;

use crate::helpers::{rclone_path, traversable_tempdir, RpcClient};

struct Server {
    child: Child,
    addr: SocketAddr,
    first_lines: Vec<String>,
}

fn start_server(data_dir: &Path, admin_password: &str) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cloudsync"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--rclone")
        .arg(rclone_path())
        .env("CLOUDSYNC_ADMIN_PASSWORD", admin_password)
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the cloudsync binary starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut first_lines = Vec::new();
    loop {
        let line = rx.recv_timeout(Duration::from_secs(120)).expect("the server prints its address");
        first_lines.push(line.clone());
        if let Some(url) = line.strip_prefix("cloudsync listening on http://") {
            let addr = url.trim().parse().unwrap();
            return Server { child, addr, first_lines };
        }
    }
}

impl Drop for Server {
    /// A failing test must not leave a server behind holding the test's output pipes.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn postmaster_pid(data_dir: &Path) -> Option<(i32, String)> {
    let text = std::fs::read_to_string(data_dir.join("postgres/data/postmaster.pid")).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    Some((lines[0].trim().parse().ok()?, lines.get(5).map(|s| s.trim().to_string()).unwrap_or_default()))
}

/// Running, not a zombie waiting for a parent (in a container PID 1 may never reap).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

#[tokio::test]
async fn the_embedded_cluster_keeps_data_across_a_hard_kill_and_stops_cleanly() {
    let root = traversable_tempdir();
    let data = root.path().join("data");

    let mut server = start_server(&data, "first-password");
    let (pg_pid, listen) = postmaster_pid(&data).expect("a postmaster runs in the data directory");
    assert_eq!(listen, "", "PostgreSQL listens on no TCP address");
    assert!(data.join("postgres/socket/.s.PGSQL.5432").exists(), "it listens on a socket in the data directory");
    let seed_mode = std::fs::metadata(data.join("secret-seed"))
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()))
        .unwrap();
    assert_eq!(seed_mode & 0o777, 0o600);

    let url = format!("ws://{}/api/ws", server.addr);
    let mut c = RpcClient::connect(&url).await;
    c.login("admin", "first-password").await.unwrap();
    c.call("auth.change_password", json!({"old": "first-password", "new": "second-password"})).await.unwrap();
    drop(c);

    // A hard kill: no chance to stop PostgreSQL itself.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);

    let mut server = start_server(&data, "ignored-now");
    assert!(server.first_lines.iter().all(|l| !l.contains("password:")), "no new admin on a second start");
    let (new_pid, _) = postmaster_pid(&data).unwrap();
    assert!(!alive(pg_pid) || new_pid == pg_pid);
    let url = format!("ws://{}/api/ws", server.addr);
    let mut c = RpcClient::connect(&url).await;
    assert_eq!(c.login("admin", "first-password").await.unwrap_err().code, ErrorCode::LOGIN_FAILED);
    c.login("admin", "second-password").await.expect("the changed password survived the kill");

    // SIGTERM: a clean stop takes PostgreSQL down with it.
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(postmaster_pid(&data).is_none(), "postmaster.pid is gone after a clean stop");
    assert!(!alive(new_pid));
}

#[tokio::test]
async fn a_pid_file_naming_another_process_called_postgres_leaves_that_process_alone() {
    let root = traversable_tempdir();
    let data = root.path().join("data");
    let pgdata = data.join("postgres/data");

    // What the start-up check relies on: a postmaster works in its data directory.
    let mut server = start_server(&data, "decoy-password");
    let (pg_pid, _) = postmaster_pid(&data).unwrap();
    let cwd = std::fs::read_link(format!("/proc/{pg_pid}/cwd")).unwrap();
    assert_eq!(cwd, std::fs::canonicalize(&pgdata).unwrap());
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    assert!(server.child.wait().unwrap().success());
    drop(server);

    // The pid file is the database user's to write: it may name any process, here one
    // merely called postgres. The server (root) must not signal it.
    let decoy_dir = tempfile::tempdir().unwrap();
    let decoy = decoy_dir.path().join("postgres");
    std::fs::copy("/bin/sleep", &decoy).unwrap();
    let mut decoy = Command::new(&decoy).arg("120").spawn().unwrap();
    let decoy_pid = decoy.id() as i32;
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(std::fs::read_to_string(format!("/proc/{decoy_pid}/comm")).unwrap().trim(), "postgres");
    std::fs::write(pgdata.join("postmaster.pid"), format!("{decoy_pid}\n{}\n", pgdata.display())).unwrap();

    let server = start_server(&data, "ignored-now");
    let mut c = RpcClient::connect(&format!("ws://{}/api/ws", server.addr)).await;
    c.login("admin", "decoy-password").await.expect("the server started on its own cluster");
    assert!(alive(decoy_pid), "the process the pid file named was signalled");
    let (new_pid, _) = postmaster_pid(&data).unwrap();
    assert_ne!(new_pid, decoy_pid);
    let _ = decoy.kill();
    let _ = decoy.wait();
}

#[tokio::test]
async fn the_first_start_prints_a_generated_admin_password_once() {
    let root = traversable_tempdir();
    let data = root.path().join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cloudsync"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .arg("--rclone")
        .arg(rclone_path())
        .env_remove("CLOUDSYNC_ADMIN_PASSWORD")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines().map_while(Result::ok);
    let listening = lines.next().unwrap();
    let addr = listening.strip_prefix("cloudsync listening on http://").unwrap().to_string();
    let password_line = lines.next().unwrap();
    let password = password_line.rsplit(' ').next().unwrap().to_string();
    assert_eq!(password.len(), 20, "{password_line}");
    let mut c = RpcClient::connect(&format!("ws://{addr}/api/ws")).await;
    c.login("admin", &password).await.expect("the printed password works");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_seed_readable_by_others_stops_the_start_with_a_clear_message() {
    let root = traversable_tempdir();
    let seed = root.path().join("seed");
    std::fs::write(&seed, [1u8; 32]).unwrap();
    std::fs::set_permissions(&seed, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cloudsync"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "postgres://nobody@localhost/none",
            "--secret-seed-file",
        ])
        .arg(&seed)
        .arg("--data-dir")
        .arg(root.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("secret seed file {}: permissions 0644 are wider than 0600", seed.display())),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_killed_mid_run_leaves_no_rclone_behind_and_the_run_becomes_interrupted() {
    let s3 = crate::storage::StorageServer::s3();
    s3.mkdir("killed");
    let root = traversable_tempdir();
    let data = root.path().join("data");
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("big.bin"), vec![7u8; 20_000_000]).unwrap();
    let marker = local.path().to_str().unwrap().to_string();
    let rclone_count = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .filter(|c| String::from_utf8_lossy(c).contains(&marker))
            .count()
    };

    let mut server = start_server(&data, "kill-test-password");
    let mut c = RpcClient::connect(&format!("ws://{}/api/ws", server.addr)).await;
    c.login("admin", "kill-test-password").await.unwrap();
    let (provider, attrs) = s3.credential();
    let cred =
        c.call("credential.create", json!({"name": "s3", "provider": provider, "attributes": attrs})).await.unwrap()
            ["id"]
            .clone();
    let task = c
        .call(
            "task.create",
            json!({"description": "slow", "credentials": cred, "direction": "PUSH", "transfer_mode": "COPY", "path": local.path(),
                   "attributes": {"bucket": "killed"}, "bwlimit": [{"time": "00:00", "bandwidth": 1048576}]}),
        )
        .await
        .unwrap()["id"]
        .clone();
    let run = c.call("task.run", json!({"id": task})).await.unwrap()["run_id"].clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while rclone_count() == 0 {
        assert!(std::time::Instant::now() < deadline, "rclone started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while rclone_count() > 0 {
        assert!(std::time::Instant::now() < deadline, "rclone outlived the server");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let server = start_server(&data, "kill-test-password");
    let mut c = RpcClient::connect(&format!("ws://{}/api/ws", server.addr)).await;
    c.login("admin", "kill-test-password").await.unwrap();
    let after = c.call("run.get", json!({"id": run})).await.unwrap();
    assert_eq!(after["state"], "INTERRUPTED", "{after}");
}
