//! Real storage servers on 127.0.0.1 for the tests, started from the rclone the tests
//! use (`rclone serve webdav|sftp|s3|ftp`), each with its own temp folder, stopped when
//! dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::rclone_path;

pub const USER: &str = "storage-user";
pub const PASSWORD: &str = "storage-pass-4f9c";
pub const ACCESS_KEY: &str = "AKIACLOUDSYNCTEST";
pub const SECRET_KEY: &str = "s3-secret-key-7d1e0b";
/// Azurite's published development account key.
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

pub struct StorageServer {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    kind: &'static str,
}

impl Drop for StorageServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early with {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on port {port} within 30 s");
}

impl StorageServer {
    fn start(kind: &'static str, extra: &[String]) -> StorageServer {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = Command::new(rclone_path());
        // No directory cache: tests write into the served folder directly.
        cmd.args(["serve", kind])
            .arg(dir.path())
            .args(["--addr", &format!("127.0.0.1:{port}"), "--dir-cache-time", "0s"])
            .args(extra);
        cmd.env("RCLONE_CONFIG", "/dev/null").stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = cmd.spawn().expect("rclone serve starts");
        wait_for_port(port, &mut child, &format!("rclone serve {kind}"));
        StorageServer { child, port, dir, kind }
    }

    pub fn webdav() -> Self {
        Self::start("webdav", &user_pass())
    }

    pub fn sftp() -> Self {
        Self::start("sftp", &user_pass())
    }

    /// An SFTP server that takes no password, only the key whose public half is in
    /// `authorized_keys`.
    pub fn sftp_key_only(authorized_keys: &Path) -> Self {
        Self::start("sftp", &["--authorized-keys".to_string(), authorized_keys.display().to_string()])
    }

    pub fn ftp() -> Self {
        let p = free_port();
        let mut args = user_pass();
        args.extend(["--passive-port".to_string(), format!("{p}-{}", p + 5)]);
        Self::start("ftp", &args)
    }

    /// Azurite's Blob service (Node), installed by scripts/setup.
    pub fn azurite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let tools = crate::helpers::tools_dir();
        let version = std::env::var("AZURITE_VERSION").unwrap_or_else(|_| "3.35.0".into());
        let bin = tools.join(format!("azurite-{version}/node_modules/.bin/azurite-blob"));
        let mut child = Command::new(&bin)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string(), "--location"])
            .arg(dir.path())
            .args(["--skipApiVersionCheck", "--disableTelemetry", "--loose", "--silent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts (scripts/setup installs it): {e}", bin.display()));
        wait_for_port(port, &mut child, "azurite-blob");
        StorageServer { child, port, dir, kind: "azureblob" }
    }

    pub fn s3() -> Self {
        Self::start("s3", &["--auth-key".to_string(), format!("{ACCESS_KEY},{SECRET_KEY}")])
    }

    /// Makes `rel` (folders) in the served folder; for S3 the first segment is a bucket.
    pub fn mkdir(&self, rel: &str) -> PathBuf {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `(provider, attributes)` for a credential that works against this server.
    pub fn credential(&self) -> (&'static str, Value) {
        let port = self.port;
        match self.kind {
            "webdav" => (
                "webdav",
                json!({"url": format!("http://127.0.0.1:{port}/"), "vendor": "rclone", "user": USER, "pass": PASSWORD}),
            ),
            "sftp" => ("sftp", json!({"host": "127.0.0.1", "port": port, "user": USER, "pass": PASSWORD})),
            "ftp" => ("ftp", json!({"host": "127.0.0.1", "port": port, "user": USER, "pass": PASSWORD})),
            "azureblob" => (
                "azureblob",
                json!({"account": "devstoreaccount1", "key": AZURITE_KEY, "endpoint": format!("http://127.0.0.1:{port}/devstoreaccount1")}),
            ),
            "s3" => (
                "s3",
                json!({"provider": "Rclone", "endpoint": format!("http://127.0.0.1:{port}"), "access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY}),
            ),
            _ => unreachable!(),
        }
    }

    /// The same with a wrong password or secret key.
    pub fn wrong_credential(&self) -> (&'static str, Value) {
        let (provider, mut attrs) = self.credential();
        if self.kind == "s3" {
            attrs["secret_access_key"] = json!("wrong-secret-key-123");
        } else if self.kind == "azureblob" {
            attrs["key"] = json!("d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktMTIzNA==");
        } else {
            attrs["pass"] = json!("wrong-password-123");
        }
        (provider, attrs)
    }
}

fn user_pass() -> Vec<String> {
    vec!["--user".into(), USER.into(), "--pass".into(), PASSWORD.into()]
}
