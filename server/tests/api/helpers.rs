//! Test harness: one real PostgreSQL cluster per test-binary run (the server's own
//! embedded-cluster code, in a temp folder), a fresh database per test, the real server
//! on port 0, and a real WebSocket client (tokio-tungstenite).

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use cloudsync::{Application, Settings};
use futures_util::{SinkExt, StreamExt};
use protocol::RpcError;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const ADMIN_PASSWORD: &str = "first-admin-password";

/// The shared cluster's socket folder.
fn cluster_socket() -> &'static PathBuf {
    static SOCKET: OnceLock<PathBuf> = OnceLock::new();
    SOCKET.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        // The postmaster's parent-death signal is tied to the thread that spawns it, so
        // it gets a thread that lives as long as the test binary.
        std::thread::spawn(move || {
            let root = traversable_tempdir().keep();
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let pg =
                rt.block_on(cloudsync::db::EmbeddedPostgres::start(&root.join("pg"))).expect("test PostgreSQL starts");
            tx.send(pg.socket_dir().to_path_buf()).unwrap();
            let _keep = pg;
            loop {
                std::thread::park();
            }
        });
        rx.recv_timeout(Duration::from_secs(120)).expect("test PostgreSQL is ready")
    })
}

/// A temp folder the unprivileged postgres user can traverse (tempdir makes 0700 ones).
pub fn traversable_tempdir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("cloudsync-test-").tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// A fresh, empty database in the shared cluster; returns its URL.
pub async fn fresh_database() -> String {
    use sqlx::Connection;
    let socket = cluster_socket();
    let name = format!("test_{:016x}", rand_u64());
    let admin_url = format!("postgres://cloudsync@localhost/postgres?host={}", socket.display());
    let mut conn = sqlx::PgConnection::connect(&admin_url).await.expect("connect to test cluster");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
    format!("postgres://cloudsync@localhost/{name}?host={}", socket.display())
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    h.finish()
}

/// The rclone the tests use: $CLOUDSYNC_TEST_RCLONE (scripts/env.sh sets it).
pub fn rclone_path() -> PathBuf {
    if let Some(p) = std::env::var_os("CLOUDSYNC_TEST_RCLONE") {
        return p.into();
    }
    panic!("CLOUDSYNC_TEST_RCLONE is not set: run the tests through scripts/test, or `. scripts/env.sh` first")
}

/// Where scripts/setup installs its tools.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("CLOUDSYNC_TOOLS")
        .map(PathBuf::from)
        .expect("CLOUDSYNC_TOOLS is not set: run the tests through scripts/test, or `. scripts/env.sh` first")
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub database_url: String,
    pub data_dir: tempfile::TempDir,
    pub pool: sqlx::PgPool,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with_site(site: &Path) -> TestApp {
    let site = site.to_path_buf();
    spawn_app_with(move |s| s.site_dir = site).await
}

/// A server on a fresh database whose settings `configure` may change first.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let database_url = fresh_database().await;
    start(database_url, traversable_tempdir(), configure).await
}

async fn start(database_url: String, data_dir: tempfile::TempDir, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = Settings::for_data_dir(data_dir.path().join("data"));
    settings.database_url = Some(database_url.clone());
    settings.admin_password = Some(ADMIN_PASSWORD.into());
    settings.rclone = rclone_path();
    settings.site_dir = data_dir.path().join("no-site");
    configure(&mut settings);
    let app = Application::build(settings).await.expect("server builds");
    let addr = app.local_addr();
    let pool = app.pool().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    TestApp { addr, database_url, data_dir, pool, stop: Some(stop), handle: Some(handle) }
}

impl TestApp {
    /// Stops the server (as SIGTERM would) and starts a new one on the same database
    /// and data folder.
    pub async fn restart(self) -> TestApp {
        self.restart_with(|_| {}).await
    }

    /// Like `restart`, with settings `configure` may change first.
    pub async fn restart_with(mut self, configure: impl FnOnce(&mut Settings)) -> TestApp {
        self.stop().await;
        let TestApp { database_url, data_dir, .. } = self;
        start(database_url, data_dir, configure).await
    }

    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(20), handle).await.expect("server stops").unwrap().unwrap();
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/api/ws", self.addr)
    }

    pub async fn client(&self) -> RpcClient {
        RpcClient::connect(&self.ws_url()).await
    }

    /// A client that has logged in as admin.
    pub async fn logged_in_client(&self) -> RpcClient {
        let mut c = self.client().await;
        c.login("admin", ADMIN_PASSWORD).await.expect("admin logs in");
        c
    }
}

/// A minimal JSON-RPC client over a real WebSocket.
pub struct RpcClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Notifications that arrived while waiting for a response.
    notifications: std::collections::VecDeque<Value>,
}

impl RpcClient {
    pub async fn connect(url: &str) -> RpcClient {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("WebSocket connects");
        RpcClient::from_stream(ws)
    }

    pub fn from_stream(ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> RpcClient {
        RpcClient { ws, next_id: 1, notifications: Default::default() }
    }

    /// Whether the server closes the socket within `limit` (messages before are skipped).
    pub async fn closed_within(&mut self, limit: Duration) -> bool {
        tokio::time::timeout(limit, async {
            loop {
                match self.ws.next().await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(_)) => {}
                }
            }
        })
        .await
        .is_ok()
    }

    /// Closes the socket and waits (5 s at most) until the server has closed its end, so
    /// its slot is free again.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        self.closed_within(Duration::from_secs(5)).await;
    }

    /// Calls `M` with typed params and decodes its typed result: a protocol change
    /// breaks the tests that use it at compile time.
    pub async fn call_typed<M: protocol::Method>(&mut self, params: M::Params) -> Result<M::Output, RpcError> {
        let value = self.call(M::NAME, serde_json::to_value(params).expect("params serialise")).await?;
        Ok(serde_json::from_value(value).unwrap_or_else(|e| panic!("{} answered something else: {e}", M::NAME)))
    }

    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, RpcError> {
        let id = self.next_id;
        self.next_id += 1;
        self.send_text(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()).await;
        loop {
            let msg = self.recv().await;
            if msg.get("id") == Some(&json!(id)) {
                return response_outcome(msg);
            }
            if msg.get("id").is_none() {
                self.notifications.push_back(msg);
            }
        }
    }

    /// The next notification (`method`, `params`), waiting 10 s at most.
    pub async fn notification(&mut self) -> (String, Value) {
        let msg = match self.notifications.pop_front() {
            Some(m) => m,
            None => loop {
                let m = self.recv().await;
                if m.get("id").is_none() {
                    break m;
                }
            },
        };
        (msg["method"].as_str().unwrap().to_string(), msg["params"].clone())
    }

    pub async fn login(&mut self, username: &str, password: &str) -> Result<Value, RpcError> {
        self.call("auth.login", json!({"username": username, "password": password})).await
    }

    pub async fn send_text(&mut self, text: String) {
        self.ws.send(Message::Text(text.into())).await.expect("send");
    }

    /// The next JSON message from the server (10 s at most).
    pub async fn recv(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("a message within 10 s")
                .expect("socket open")
                .expect("no socket error");
            if let Message::Text(t) = frame {
                return serde_json::from_str(t.as_str()).expect("server sends JSON");
            }
        }
    }
}

pub fn response_outcome(msg: Value) -> Result<Value, RpcError> {
    assert_eq!(msg["jsonrpc"], "2.0");
    match (msg.get("result"), msg.get("error")) {
        (Some(r), None) => Ok(r.clone()),
        (None, Some(e)) => Err(serde_json::from_value(e.clone()).expect("error object")),
        _ => panic!("a response has exactly one of result and error: {msg}"),
    }
}

/// A plain HTTP/1.1 GET; returns status, lower-cased headers and body.
pub async fn http_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("connection")) {
        req.push_str("Connection: close\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    // Read the head first: a 101 Switching Protocols keeps the connection open.
    let split = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed before the end of the headers");
        raw.extend_from_slice(&buf[..n]);
    };
    // With a Content-Length, read exactly that: an upgrade request keeps the
    // connection alive even when it is refused.
    let head_text = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let length: Option<usize> =
        head_text.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok());
    let switching = raw.starts_with(b"HTTP/1.1 101");
    match length {
        _ if switching => {}
        Some(length) => {
            while raw.len() < split + 4 + length {
                let n = stream.read(&mut buf).await.unwrap();
                assert!(n > 0, "connection closed before the end of the body");
                raw.extend_from_slice(&buf[..n]);
            }
        }
        None => {
            stream.read_to_end(&mut raw).await.unwrap();
        }
    }
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status: u16 = lines.next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v == "chunked") {
        body = dechunk(&body);
    }
    (status, headers, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[line_end + 2 + size + 2..];
    }
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}
