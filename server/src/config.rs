//! What the server is told at start: the `serve` flags and their environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything `Application::build` needs. Built by `main` from the command line; built
/// directly by tests.
#[derive(Clone, Debug)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Holds the secret seed and, without `database_url`, the embedded PostgreSQL cluster.
    pub data_dir: PathBuf,
    /// An external PostgreSQL; `None` runs the embedded cluster in `data_dir`.
    pub database_url: Option<String>,
    /// The rclone binary (a path or a name looked up in `PATH`).
    pub rclone: PathBuf,
    /// Defaults to `<data_dir>/secret-seed`.
    pub secret_seed_file: Option<PathBuf>,
    /// The built web app (`scripts/build-app` writes `target/site`).
    pub site_dir: PathBuf,
    /// The first admin password; generated and printed once when `None`.
    pub admin_password: Option<String>,
    /// IANA zone for schedules; the system's when `None`.
    pub timezone: Option<String>,
    /// Folders tasks' local paths must lie under; empty allows anything but `/`.
    pub allowed_roots: Vec<PathBuf>,
    /// How many sync runs may run at once.
    pub max_concurrent_runs: usize,
    /// How many finished runs (with their logs) to keep per task.
    pub keep_runs: usize,
    /// The scheduler's clock; the system's when `None` (tests inject a manual one).
    pub clock: Option<std::sync::Arc<dyn crate::scheduler::Clock>>,
    /// Every address the server is reached at; empty means the listen address and the
    /// loopback names (see `public_urls`).
    pub public_urls: Vec<crate::public_urls::PublicUrl>,
    /// Reverse proxies whose `X-Forwarded-For`/`Forwarded` name the client.
    pub trusted_proxies: Vec<crate::http::client_addr::Cidr>,
    /// Allows rclone options that run local commands or read local files.
    pub allow_local_options: bool,
    /// Serves `/metrics` without a token.
    pub metrics_public: bool,
    /// The most lines one run's log keeps; then one "log truncated" line.
    pub max_log_lines: u64,
    /// A private 0700 folder for rclone config files holding secrets while a command
    /// runs; `None` uses a fresh folder in `$TMPDIR` per command (tests).
    pub runtime_dir: Option<PathBuf>,
}

impl Settings {
    /// Settings for a server on `127.0.0.1:0` with everything under `data_dir`.
    pub fn for_data_dir(data_dir: PathBuf) -> Self {
        Settings {
            listen: "127.0.0.1:0".parse().expect("valid address"),
            data_dir,
            database_url: None,
            rclone: PathBuf::from("rclone"),
            secret_seed_file: None,
            site_dir: PathBuf::from("target/site"),
            admin_password: None,
            timezone: None,
            allowed_roots: Vec::new(),
            max_concurrent_runs: 1,
            keep_runs: 50,
            clock: None,
            public_urls: Vec::new(),
            trusted_proxies: Vec::new(),
            allow_local_options: false,
            metrics_public: false,
            max_log_lines: DEFAULT_MAX_LOG_LINES,
            runtime_dir: None,
        }
    }

    pub fn secret_seed_path(&self) -> PathBuf {
        self.secret_seed_file.clone().unwrap_or_else(|| self.data_dir.join("secret-seed"))
    }
}

pub use crate::logstore::DEFAULT_MAX_LINES as DEFAULT_MAX_LOG_LINES;

/// The runtime folder used when none is given: `/run/cloudsync` for root (a tmpfs:
/// secrets never reach a disk), else `$XDG_RUNTIME_DIR/cloudsync`, else `<data-dir>/run`.
pub fn default_runtime_dir(data_dir: &std::path::Path) -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/run/cloudsync");
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(x) => PathBuf::from(x).join("cloudsync"),
        None => data_dir.join("run"),
    }
}

/// The data directory used when none is given: `/var/lib/cloudsync` for root, else
/// `$XDG_DATA_HOME/cloudsync` (or `~/.local/share/cloudsync`).
pub fn default_data_dir() -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/var/lib/cloudsync");
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("cloudsync");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/cloudsync")
}
