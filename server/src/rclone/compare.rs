//! Comparing a source with its destination by content (`rclone check` / `cryptcheck`
//! with `--combined -`), read file by file from rclone's stdout: only the counts and the
//! first [`NAMED`] differing paths are kept, however many files there are.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;

use super::env::RemoteEnv;
use super::process::{error_line, spawn, within};

/// How many differing paths a comparison names.
pub const NAMED: usize = 100;

#[derive(Debug, Default, PartialEq)]
pub struct Comparison {
    /// Files with the same content on both sides.
    pub same: u64,
    /// Files that differ, are missing at the destination or could not be read.
    pub differences: u64,
    /// The first [`NAMED`] of them, each with why: "differs: a/b.txt".
    pub named: Vec<String>,
    /// rclone found no hash both sides support and compared sizes only: the caller
    /// should compare again with `--download`.
    pub sizes_only: bool,
}

/// Runs `args` (a `check … --combined -`) to the end or the deadline. rclone exits 1
/// when it found differences; any other failure without a verdict is its error line.
pub async fn compare(
    rclone: &Path,
    args: &[OsString],
    remote: Option<&RemoteEnv>,
    deadline: Duration,
) -> Result<Comparison, String> {
    let mut child = spawn(rclone, args, remote).map_err(|e| format!("cannot start rclone: {e}"))?;
    let pid = child.id();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().expect("piped"));
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().expect("piped"));
    let work = async {
        let read_stderr = async {
            let (mut sizes_only, mut errors, mut line) = (false, String::new(), String::new());
            while stderr.read_line(&mut line).await.unwrap_or(0) > 0 {
                if line.contains("No common hash found") || line.contains("not using a hash") {
                    sizes_only = true;
                } else if line.contains("\"level\":\"error\"") && errors.len() < 64 * 1024 {
                    errors.push_str(&line);
                }
                line.clear();
            }
            (sizes_only, errors)
        };
        let read_stdout = async {
            let (mut c, mut line) = (Comparison::default(), String::new());
            while stdout.read_line(&mut line).await.map_err(|e| e.to_string())? > 0 {
                let verdict = match line.as_bytes().first() {
                    Some(b'=') => None,
                    Some(b'*') => Some("differs"),
                    Some(b'+') => Some("missing at the destination"),
                    Some(b'!') => Some("could not be compared"),
                    _ => {
                        line.clear();
                        continue;
                    }
                };
                match verdict {
                    None => c.same += 1,
                    Some(why) => {
                        c.differences += 1;
                        if c.named.len() < NAMED {
                            let path = line.get(2..).unwrap_or("").trim_end_matches(['\n', '\r']);
                            c.named.push(format!("{why}: {}", remote.map_or_else(|| path.to_string(), |r| r.redact(path))));
                        }
                    }
                }
                line.clear();
            }
            Ok::<_, String>(c)
        };
        let ((sizes_only, errors), c) = tokio::join!(read_stderr, read_stdout);
        let mut c = c?;
        c.sizes_only = sizes_only;
        let status = child.wait().await.map_err(|e| e.to_string())?;
        match status.code() {
            Some(0) => Ok(c),
            Some(1) if c.differences > 0 => Ok(c),
            _ => Err(error_line(&errors, remote)),
        }
    };
    within(deadline, pid, work)
        .await
        .unwrap_or_else(|| Err(format!("the comparison took longer than {} s", deadline.as_secs())))
}
