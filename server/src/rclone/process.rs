//! Starting rclone, the only place that does: an argv vector (never a shell string), the
//! remote from `env::RemoteEnv` (secrets never reach argv, where `ps` would show them), a
//! scrubbed environment, its own process group, a parent-death signal, stdout and
//! stderr read concurrently (a child blocks on a full pipe otherwise), and a deadline
//! after which the whole group is killed; and turning its stderr into one safe line.

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::env::RemoteEnv;

/// Variables passed through from the server's environment; everything else is dropped,
/// so a stray `RCLONE_*` of the server's cannot change what a task does.
const PASSED_THROUGH: &[&str] = &[
    "PATH",
    "HOME",
    "TMPDIR",
    "LANG",
    "LC_ALL",
    "TZ",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

#[derive(Debug)]
pub struct Output {
    /// `None` when killed by a signal (including the deadline).
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub timed_out: bool,
}

/// Starts rclone with stdout and stderr piped; the caller must read both.
pub fn spawn(rclone: &Path, args: &[OsString], remote: Option<&RemoteEnv>) -> std::io::Result<tokio::process::Child> {
    let config_path = match remote {
        Some(r) => r.config_path()?,
        None => None,
    };
    let mut cmd = tokio::process::Command::new(rclone);
    cmd.args(args)
        .env_clear()
        .envs(PASSED_THROUGH.iter().filter_map(|k| std::env::var_os(k).map(|v| (k, v))))
        // Never the server user's config file: remotes come from the environment, or
        // from our own private file.
        .env(
            "RCLONE_CONFIG",
            config_path.as_ref().map(|p| p.as_os_str().to_owned()).unwrap_or_else(|| "/dev/null".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(remote) = remote.filter(|r| r.config_file.is_none()) {
        cmd.envs(remote.vars.iter().map(|(k, v)| (k, v)));
    }
    // SAFETY: prctl is async-signal-safe; rclone dies with the server.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd.spawn()
}

/// Signals rclone's whole process group (rclone and anything it started).
pub fn signal_group(pid: u32, signal: i32) {
    // SAFETY: the child was started as the leader of its own process group.
    unsafe { libc::killpg(pid as i32, signal) };
}

/// Runs rclone to completion (or the deadline) and collects its output.
pub async fn run(
    rclone: &Path,
    args: &[OsString],
    remote: Option<&RemoteEnv>,
    deadline: Duration,
) -> std::io::Result<Output> {
    let mut child = spawn(rclone, args, remote)?;
    let pid = child.id();
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let work = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let (a, b) = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        a?;
        b?;
        let status = child.wait().await?;
        Ok::<_, std::io::Error>((status, out, err))
    };
    match within(deadline, pid, work).await {
        Some(result) => {
            let (status, out, err) = result?;
            Ok(Output {
                code: status.code(),
                stdout: out,
                stderr: String::from_utf8_lossy(&err).into_owned(),
                timed_out: false,
            })
        }
        None => Ok(Output { code: None, stdout: Vec::new(), stderr: String::new(), timed_out: true }),
    }
}

/// `work` (on the child `pid`) if it ends within `deadline`; past it, the child's
/// process group is killed and the answer is `None`.
pub(super) async fn within<T>(
    deadline: Duration,
    pid: Option<u32>,
    work: impl std::future::Future<Output = T>,
) -> Option<T> {
    let done = tokio::time::timeout(deadline, work).await.ok();
    if let (None, Some(pid)) = (&done, pid) {
        signal_group(pid, libc::SIGKILL);
    }
    done
}

/// Whether `path` (local or on the remote) holds at least one file that `selection`
/// (filter flags) lets through, by `rclone lsf -R --files-only`, stopped at the first
/// file it names. A path that does not exist holds none (rclone's exit code 3); any
/// other failure is rclone's error line.
pub async fn holds_a_file(
    rclone: &Path,
    path: &std::ffi::OsStr,
    selection: &[OsString],
    remote: Option<&RemoteEnv>,
    deadline: Duration,
) -> Result<bool, String> {
    use tokio::io::AsyncBufReadExt;
    let mut args: Vec<OsString> = vec!["lsf".into(), "-R".into(), "--files-only".into(), path.into()];
    args.extend(selection.iter().cloned());
    let mut child = spawn(rclone, &args, remote).map_err(|e| format!("cannot start rclone: {e}"))?;
    let pid = child.id();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().expect("piped"));
    let mut stderr = child.stderr.take().expect("piped");
    let work = async {
        let mut first = String::new();
        let found = stdout.read_line(&mut first).await.map_err(|e| e.to_string())? > 0;
        if found {
            if let Some(pid) = pid {
                signal_group(pid, libc::SIGKILL);
            }
            let _ = child.wait().await;
            return Ok(true);
        }
        let mut err = Vec::new();
        let _ = stderr.read_to_end(&mut err).await;
        let status = child.wait().await.map_err(|e| e.to_string())?;
        match status.code() {
            Some(0) | Some(3) => Ok(false),
            _ => Err(error_line(&String::from_utf8_lossy(&err), remote)),
        }
    };
    within(deadline, pid, work)
        .await
        .unwrap_or_else(|| Err(format!("listing took longer than {} s", deadline.as_secs())))
}

/// How many files under `path` `selection` (filter flags) lets through (`rclone size
/// --json`); none when it does not exist.
pub async fn count_files(
    rclone: &Path,
    path: &std::ffi::OsStr,
    selection: &[OsString],
    remote: Option<&RemoteEnv>,
    deadline: Duration,
) -> Result<u64, String> {
    let mut args: Vec<OsString> = vec!["size".into(), "--json".into(), path.into()];
    args.extend(selection.iter().cloned());
    let out = run(rclone, &args, remote, deadline).await.map_err(|e| format!("cannot start rclone: {e}"))?;
    match out.code {
        Some(0) => serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|v| v["count"].as_u64())
            .ok_or_else(|| "rclone size printed no count".to_string()),
        Some(3) => Ok(0),
        _ if out.timed_out => Err(format!("counting took longer than {} s", deadline.as_secs())),
        _ => Err(error_line(&out.stderr, remote)),
    }
}

/// The folders directly under `path` (`rclone lsf --dirs-only`), names without the
/// trailing slash; none when `path` does not exist.
pub async fn folders(
    rclone: &Path,
    path: &str,
    remote: Option<&RemoteEnv>,
    deadline: Duration,
) -> Result<Vec<String>, String> {
    let args: Vec<OsString> = vec!["lsf".into(), "--dirs-only".into(), path.into()];
    let out = run(rclone, &args, remote, deadline).await.map_err(|e| format!("cannot start rclone: {e}"))?;
    match out.code {
        Some(0) => {
            Ok(String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim_end_matches('/').to_string()).collect())
        }
        Some(3) => Ok(Vec::new()),
        _ if out.timed_out => Err(format!("listing took longer than {} s", deadline.as_secs())),
        _ => Err(error_line(&out.stderr, remote)),
    }
}

/// Removes `path` and everything under it (`rclone purge`).
pub async fn purge(rclone: &Path, path: &str, remote: Option<&RemoteEnv>, deadline: Duration) -> Result<(), String> {
    let args: Vec<OsString> = vec!["purge".into(), path.into()];
    let out = run(rclone, &args, remote, deadline).await.map_err(|e| format!("cannot start rclone: {e}"))?;
    match out.code {
        Some(0) => Ok(()),
        _ if out.timed_out => Err(format!("removing took longer than {} s", deadline.as_secs())),
        _ => Err(error_line(&out.stderr, remote)),
    }
}

/// The most useful single line of rclone's stderr: the last error-level message of its
/// JSON log (or the last non-empty line), without timestamp, with secrets redacted,
/// shortened to 300 characters.
pub fn error_line(stderr: &str, remote: Option<&RemoteEnv>) -> String {
    let mut best: Option<String> = None;
    let mut last_line: Option<String> = None;
    for line in stderr.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
            let level = v.get("level").and_then(|l| l.as_str()).unwrap_or("");
            if let Some(msg) = v.get("msg").and_then(|m| m.as_str()) {
                if matches!(level, "error" | "critical" | "fatal") {
                    best = Some(msg.to_string());
                }
                last_line = Some(msg.to_string());
            }
        } else {
            last_line = Some(strip_timestamp(line).to_string());
        }
    }
    let line = best.or(last_line).unwrap_or_else(|| "rclone failed without saying why".into());
    // One line: white space folded, ruler lines (Azure's "-----") dropped.
    let line = line
        .split_whitespace()
        .filter(|w| !(w.len() >= 4 && w.chars().all(|c| c == '-' || c == '=')))
        .collect::<Vec<_>>()
        .join(" ");
    let line = remote.map(|r| r.redact(&line)).unwrap_or(line);
    shorten(&line, 300)
}

/// rclone's plain log prefix: `2026/11/27 21:00:00 ERROR : `.
fn strip_timestamp(line: &str) -> &str {
    let bytes = line.as_bytes();
    if bytes.len() > 20 && bytes[4] == b'/' && bytes[7] == b'/' && bytes[13] == b':' {
        // Not `&line[20..]`: byte 20 may fall inside a multi-byte character.
        let Some(rest) = line.get(20..) else { return line };
        for level in ["ERROR : ", "NOTICE: ", "CRITICAL: ", "INFO  : ", "DEBUG : "] {
            if let Some(r) = rest.strip_prefix(level) {
                return r;
            }
        }
        return rest;
    }
    line
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote() -> RemoteEnv {
        let mut attrs = std::collections::BTreeMap::new();
        attrs.insert("pass".to_string(), "hunter22".to_string());
        attrs.insert("secret_access_key".to_string(), "AKIASECRETVALUE".to_string());
        RemoteEnv::new("cloudsync", "webdav", &attrs, &|k| k == "pass", &|k| k == "secret_access_key").unwrap()
    }

    #[test]
    fn a_timestamp_cut_inside_a_character_does_not_panic() {
        assert_eq!(strip_timestamp("2026/11/27 21:00:00éx"), "2026/11/27 21:00:00éx");
    }

    #[test]
    fn error_lines_are_one_line_without_timestamps_or_secrets() {
        let r = remote();
        let stderr = "{\"level\":\"notice\",\"msg\":\"Config file not found\"}\n{\"level\":\"error\",\"msg\":\"Failed to lsjson: 401 for hunter22\\nand AKIASECRETVALUE\"}\n";
        assert_eq!(error_line(stderr, Some(&r)), "Failed to lsjson: 401 for *** and ***");
        assert_eq!(
            error_line("2026/11/27 21:00:00 ERROR : Failed to create file system: boom\n", None),
            "Failed to create file system: boom"
        );
        assert_eq!(error_line("", None), "rclone failed without saying why");
        assert_eq!(
            error_line("{\"level\":\"error\",\"msg\":\"GET x\\n-----------\\nRESPONSE 403\"}", None),
            "GET x RESPONSE 403"
        );
    }
}
