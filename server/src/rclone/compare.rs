//! Comparing a source with its destination: by content (`compare`: `rclone check` /
//! `cryptcheck` with `--combined -`) and by what a run would do (`plan`: a dry run),
//! each read line by line: only counts and the first paths are kept, however many
//! files there are.

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
                            c.named.push(format!(
                                "{why}: {}",
                                remote.map_or_else(|| path.to_string(), |r| r.redact(path))
                            ));
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

/// What `args` (a sync, copy or move) would do: the same command with `--dry-run -vv`,
/// its JSON log read line by line. rclone notes every skipped action ("Skipped copy as
/// --dry-run is set", with `skipped`, `size` and `object` fields); a copy is an update
/// unless rclone said the file was not found at the destination.
pub async fn plan(
    rclone: &Path,
    args: &[OsString],
    remote: Option<&RemoteEnv>,
    deadline: Duration,
) -> Result<protocol::tasks::RunPlan, String> {
    use protocol::tasks::{PlanPart, RunPlan, PLAN_PATHS};
    let mut args = args.to_vec();
    if !args.iter().any(|a| a == "--dry-run") {
        args.push("--dry-run".into());
    }
    args.push("-vv".into());
    let mut child = spawn(rclone, &args, remote).map_err(|e| format!("cannot start rclone: {e}"))?;
    let pid = child.id();
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().expect("piped"));
    let work = async {
        let drain = tokio::spawn(async move { tokio::io::copy(&mut stdout, &mut tokio::io::sink()).await });
        let mut plan = RunPlan::default();
        // Files rclone found missing at the destination whose copy it has not noted yet:
        // only as many as it checks at once.
        let mut new_files = std::collections::HashSet::new();
        // The first few errors (what went wrong) and the last (what rclone concluded).
        let (mut first_errors, mut last_error, mut line) = (Vec::new(), None, String::new());
        let add = |part: &mut PlanPart, path: &str, size: u64| {
            part.count += 1;
            part.bytes += size;
            if part.paths.len() < PLAN_PATHS {
                part.paths.push(remote.map_or_else(|| path.to_string(), |r| r.redact(path)));
            }
        };
        while stderr.read_line(&mut line).await.map_err(|e| e.to_string())? > 0 {
            if line.contains("\"level\":\"error\"") {
                let text = error_line(&line, remote);
                if first_errors.len() < 3 {
                    first_errors.push(text);
                } else {
                    last_error = Some(text);
                }
            }
            let interesting = line.contains("\"skipped\":") || line.contains("File not found at Destination");
            if let Some(v) = interesting.then(|| serde_json::from_str::<serde_json::Value>(&line).ok()).flatten() {
                let object = v.get("object").and_then(|o| o.as_str()).unwrap_or("").to_string();
                let size = v.get("size").and_then(|s| s.as_u64()).unwrap_or(0);
                match v.get("skipped").and_then(|s| s.as_str()) {
                    None => {
                        new_files.insert(object);
                    }
                    // A MOVE's files are noted as "move".
                    Some("copy" | "move") if new_files.remove(&object) => add(&mut plan.copy, &object, size),
                    Some("copy" | "move") => add(&mut plan.update, &object, size),
                    Some("delete") => add(&mut plan.delete, &object, size),
                    Some(_) => {}
                }
            }
            line.clear();
        }
        let _ = drain.await;
        let status = child.wait().await.map_err(|e| e.to_string())?;
        match status.code() {
            Some(0) => Ok(plan),
            code => {
                first_errors.extend(last_error);
                if first_errors.is_empty() {
                    first_errors.push(format!("the dry run ended with code {code:?}"));
                }
                Err(first_errors.join("; "))
            }
        }
    };
    within(deadline, pid, work)
        .await
        .unwrap_or_else(|| Err(format!("the dry run took longer than {} s", deadline.as_secs())))
}
