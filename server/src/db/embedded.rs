//! The embedded PostgreSQL cluster: with no `--database-url`, cloudsync initialises a
//! private cluster in `<data-dir>/postgres` on first start and supervises its postmaster.
//!
//! The cluster listens on a Unix socket in its own 0700 directory only (no TCP port), so
//! `trust` authentication is safe: only the postgres user and root can reach it.
//! PostgreSQL refuses to run as root, so when cloudsync is root the postmaster runs as
//! the unprivileged `postgres` system user (Debian's package creates it).
//!
//! The postmaster is a child of the server in its own process group, with a parent-death
//! signal so that a server killed hard takes it down too (SIGINT: fast, clean shutdown).
//! The next start still copes with what a hard kill can leave behind: a stale
//! `postmaster.pid`, or a postmaster that is still shutting down or still running.

use std::fs;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// The database role and database cloudsync uses inside its cluster.
pub const ROLE: &str = "cloudsync";
pub const DATABASE: &str = "cloudsync";

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("PostgreSQL server binaries not found (looked in $CLOUDSYNC_PG_BIN and /usr/lib/postgresql/*/bin): install them (`apt-get install postgresql`) or pass --database-url")]
    BinariesMissing,
    #[error("running as root, and PostgreSQL refuses to run as root: no system user `{0}` to run it as (Debian's postgresql package creates `postgres`; set CLOUDSYNC_PG_USER to use another)")]
    NoUnprivilegedUser(String),
    #[error("the postgres user cannot reach {dir}: directory {blocker} is not traversable by others (mode {mode:04o}); choose a --data-dir elsewhere or run `chmod o+x {blocker}`")]
    NotTraversable { dir: PathBuf, blocker: PathBuf, mode: u32 },
    #[error("socket path {0} is too long for a Unix socket (at most 107 bytes); choose a shorter --data-dir")]
    SocketPathTooLong(PathBuf),
    #[error("initdb failed for {dir}: {output}")]
    InitdbFailed { dir: PathBuf, output: String },
    #[error("PostgreSQL did not start (see {log}): {tail}")]
    StartFailed { log: PathBuf, tail: String },
    #[error("a PostgreSQL server (pid {pid}) is still running on {dir} and did not stop within 30 s")]
    StillRunning { pid: i32, dir: PathBuf },
    #[error("embedded PostgreSQL in {dir}: {source}")]
    Io { dir: PathBuf, source: std::io::Error },
    #[error("embedded PostgreSQL: {0}")]
    Sql(#[from] sqlx::Error),
}

/// A running private cluster. Stop it with [`EmbeddedPostgres::stop`]; dropping it sends
/// the postmaster a fast-shutdown signal as a last resort.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    pgdata: PathBuf,
    socket_dir: PathBuf,
    log_file: PathBuf,
    child: Option<Child>,
}

impl EmbeddedPostgres {
    /// Initialises (first time) and starts the cluster under `root`, waits until it
    /// accepts connections and makes sure the `cloudsync` database exists.
    ///
    /// The postmaster gets a parent-death signal tied to the calling thread: call this
    /// from a thread that lives as long as the cluster should (the main thread).
    pub async fn start(root: &Path) -> Result<Self, EmbeddedError> {
        let root = absolute(root)?;
        let pgdata = root.join("data");
        let socket_dir = root.join("socket");
        let log_dir = root.join("log");
        let log_file = log_dir.join("postgres.log");
        if socket_dir.join(".s.PGSQL.5432").as_os_str().len() > 107 {
            return Err(EmbeddedError::SocketPathTooLong(socket_dir));
        }
        let io = |source| EmbeddedError::Io { dir: root.clone(), source };

        let owner = unprivileged_owner()?;
        for d in [&root, &pgdata, &socket_dir, &log_dir] {
            fs::create_dir_all(d).map_err(io)?;
        }
        // The log quotes statements and their data (task settings): only its owner reads it.
        for d in [&pgdata, &socket_dir, &log_dir] {
            fs::set_permissions(d, fs::Permissions::from_mode(0o700)).map_err(io)?;
        }
        if let Some((uid, gid)) = owner {
            // The postgres user must be able to walk down to its folders.
            fs::set_permissions(&root, fs::Permissions::from_mode(0o711)).map_err(io)?;
            check_traversable(&root)?;
            for d in [&pgdata, &socket_dir, &log_dir] {
                std::os::unix::fs::chown(d, Some(uid), Some(gid)).map_err(io)?;
            }
        }

        let bin = find_binaries(&pgdata)?;
        if !pgdata.join("PG_VERSION").exists() {
            initdb(&bin, &pgdata, owner)?;
        }
        clear_leftovers(&pgdata).await?;

        let log = fs::OpenOptions::new().create(true).append(true).mode(0o600).open(&log_file).map_err(io)?;
        fs::set_permissions(&log_file, fs::Permissions::from_mode(0o600)).map_err(io)?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&log_file, Some(uid), Some(gid)).map_err(io)?;
        }
        let mut cmd = Command::new(bin.join("postgres"));
        cmd.arg("-D")
            .arg(&pgdata)
            .arg("-k")
            .arg(&socket_dir)
            .args(["-c", "listen_addresses=", "-c", "unix_socket_permissions=0700"])
            .env_clear()
            .envs(clean_env())
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io)?)
            .stderr(log)
            .process_group(0);
        if let Some((uid, gid)) = owner {
            cmd.uid(uid).gid(gid);
        }
        // SAFETY: the closure only calls async-signal-safe libc functions. It runs after
        // the uid change, which would otherwise clear the parent-death signal.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(io)?;
        let mut pg = EmbeddedPostgres { pgdata, socket_dir, log_file, child: Some(child) };
        pg.wait_until_ready().await?;
        pg.ensure_database().await?;
        Ok(pg)
    }

    /// Connection options for the `cloudsync` database over the private socket.
    pub fn connect_options(&self) -> PgConnectOptions {
        PgConnectOptions::new().socket(&self.socket_dir).username(ROLE).database(DATABASE)
    }

    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    async fn wait_until_ready(&mut self) -> Result<(), EmbeddedError> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let opts = self.connect_options().database("postgres");
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(self.start_failed(&format!("postmaster exited with {status}")));
                }
            }
            if self.socket_dir.join(".s.PGSQL.5432").exists() {
                if let Ok(conn) = opts.connect().await {
                    let _ = conn.close().await;
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(self.start_failed("not accepting connections after 60 s"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn start_failed(&self, why: &str) -> EmbeddedError {
        let log = fs::read_to_string(&self.log_file).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        EmbeddedError::StartFailed { log: self.log_file.clone(), tail: format!("{why}; {}", tail.join(" | ")) }
    }

    async fn ensure_database(&self) -> Result<(), EmbeddedError> {
        let mut conn = self.connect_options().database("postgres").connect().await?;
        let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(DATABASE)
            .fetch_optional(&mut conn)
            .await?;
        if exists.is_none() {
            sqlx::query(&format!("CREATE DATABASE {DATABASE}")).execute(&mut conn).await?;
        }
        conn.close().await?;
        Ok(())
    }

    /// Fast shutdown (SIGINT): ends sessions, writes a checkpoint, exits. Falls back to
    /// an immediate shutdown after 30 s.
    pub async fn stop(mut self) {
        if let Some(child) = self.child.take() {
            stop_postmaster(child.id() as i32, &self.pgdata).await;
            let mut child = child;
            let _ = child.wait();
        }
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            // SAFETY: signalling a child we spawned and have not reaped.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        }
    }
}

fn absolute(p: &Path) -> Result<PathBuf, EmbeddedError> {
    std::path::absolute(p).map_err(|source| EmbeddedError::Io { dir: p.into(), source })
}

/// The uid/gid to run PostgreSQL as: `None` when cloudsync itself is unprivileged.
fn unprivileged_owner() -> Result<Option<(u32, u32)>, EmbeddedError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = std::env::var("CLOUDSYNC_PG_USER").unwrap_or_else(|_| "postgres".into());
    let cname = std::ffi::CString::new(name.clone()).map_err(|_| EmbeddedError::NoUnprivilegedUser(name.clone()))?;
    // SAFETY: getpwnam returns a pointer into static storage or null; we copy the two
    // integers out before any other call can overwrite it.
    let pw = unsafe { libc::getpwnam(cname.as_ptr()) };
    if pw.is_null() {
        return Err(EmbeddedError::NoUnprivilegedUser(name));
    }
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    if uid == 0 {
        return Err(EmbeddedError::NoUnprivilegedUser(name));
    }
    Ok(Some((uid, gid)))
}

fn check_traversable(dir: &Path) -> Result<(), EmbeddedError> {
    for ancestor in dir.ancestors().skip(1) {
        if let Ok(meta) = fs::metadata(ancestor) {
            let mode = meta.mode() & 0o7777;
            if mode & 0o001 == 0 {
                return Err(EmbeddedError::NotTraversable { dir: dir.into(), blocker: ancestor.into(), mode });
            }
        }
    }
    Ok(())
}

/// The bin directory of the PostgreSQL that matches the cluster's version when it
/// exists, else the newest installed one.
fn find_binaries(pgdata: &Path) -> Result<PathBuf, EmbeddedError> {
    let usable = |d: &Path| d.join("postgres").is_file() && d.join("initdb").is_file();
    if let Some(dir) = std::env::var_os("CLOUDSYNC_PG_BIN").map(PathBuf::from) {
        return if usable(&dir) { Ok(dir) } else { Err(EmbeddedError::BinariesMissing) };
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            usable(&bin).then_some((v, bin))
        })
        .collect();
    versions.sort();
    let wanted: Option<u32> = fs::read_to_string(pgdata.join("PG_VERSION")).ok().and_then(|s| s.trim().parse().ok());
    if let Some(w) = wanted {
        if let Some((_, bin)) = versions.iter().find(|(v, _)| *v == w) {
            return Ok(bin.clone());
        }
    }
    versions.pop().map(|(_, bin)| bin).ok_or(EmbeddedError::BinariesMissing)
}

/// What PostgreSQL's processes get of the server's environment: a search path and the
/// C locale, nothing else (no `CLOUDSYNC_*`, no `DATABASE_URL`, no proxy credentials).
fn clean_env() -> [(&'static str, &'static str); 3] {
    [("PATH", "/usr/local/bin:/usr/bin:/bin"), ("LANG", "C"), ("LC_ALL", "C")]
}

fn initdb(bin: &Path, pgdata: &Path, owner: Option<(u32, u32)>) -> Result<(), EmbeddedError> {
    let mut cmd = Command::new(bin.join("initdb"));
    cmd.arg("-D")
        .arg(pgdata)
        .args(["-U", ROLE, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-instructions"])
        .env_clear()
        .envs(clean_env())
        .stdin(Stdio::null());
    if let Some((uid, gid)) = owner {
        cmd.uid(uid).gid(gid);
    }
    let out = cmd.output().map_err(|source| EmbeddedError::Io { dir: pgdata.into(), source })?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(EmbeddedError::InitdbFailed { dir: pgdata.into(), output: text });
    }
    Ok(())
}

/// Deals with what a hard kill of an earlier server can leave: a postmaster that is
/// still running on this data directory is stopped; a `postmaster.pid` whose process is
/// gone (or is not this directory's postmaster) is removed, and that process left alone.
async fn clear_leftovers(pgdata: &Path) -> Result<(), EmbeddedError> {
    let pid_file = pgdata.join("postmaster.pid");
    let Ok(text) = fs::read_to_string(&pid_file) else { return Ok(()) };
    let pid: i32 = text.lines().next().and_then(|l| l.trim().parse().ok()).unwrap_or(0);
    if pid > 0 && is_our_postmaster(pid, pgdata) {
        tracing::warn!(
            pid,
            "a PostgreSQL server from an earlier start is still running on this data directory; stopping it"
        );
        if !stop_postmaster(pid, pgdata).await {
            return Err(EmbeddedError::StillRunning { pid, dir: pgdata.into() });
        }
    }
    if pid_file.exists() {
        tracing::warn!(file = %pid_file.display(), "removing stale PostgreSQL pid file");
        fs::remove_file(&pid_file).map_err(|source| EmbeddedError::Io { dir: pgdata.into(), source })?;
    }
    Ok(())
}

/// Whether `pid` is a postmaster of this very data directory: a process called postgres
/// working in `pgdata` (a postmaster runs in its data directory). The pid comes from a
/// file the database's own user can write; a pid of any other process (another cluster's
/// postgres, or a program merely named so) is never signalled.
fn is_our_postmaster(pid: i32, pgdata: &Path) -> bool {
    let called_postgres =
        fs::read_to_string(format!("/proc/{pid}/comm")).map(|c| c.trim() == "postgres").unwrap_or(false);
    let works_here = match (fs::read_link(format!("/proc/{pid}/cwd")), fs::canonicalize(pgdata)) {
        (Ok(cwd), Ok(dir)) => cwd == dir,
        _ => false,
    };
    called_postgres && works_here
}

/// Signals a postmaster to shut down fast and waits for it to be gone: true when it is.
async fn stop_postmaster(pid: i32, pgdata: &Path) -> bool {
    let gone = || !is_our_postmaster(pid, pgdata) || !pgdata.join("postmaster.pid").exists();
    for (signal, wait) in [(libc::SIGINT, 30), (libc::SIGQUIT, 10)] {
        // SAFETY: plain kill(2) on a pid we checked is this data directory's postmaster.
        unsafe { libc::kill(pid, signal) };
        let deadline = Instant::now() + Duration::from_secs(wait);
        while Instant::now() < deadline {
            // Reap it if it is our child, so it does not linger as a zombie.
            // SAFETY: waitpid with WNOHANG on a specific pid.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
            if gone() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    gone()
}
