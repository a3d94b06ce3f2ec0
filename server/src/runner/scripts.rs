//! Pre- and post-scripts of a task. The script is written to a private 0700 file and
//! executed directly (its shebang is honoured; without one, `/bin/sh` runs it), in its
//! own process group, with a scrubbed environment that describes the task and holds no
//! secret. Its output goes into the run's log, marked `pre_script` or `post_script`.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use protocol::runs::{LogLevel, LogSource};
use tokio::sync::oneshot;

use crate::logstore::LogWriter;

pub enum ScriptOutcome {
    Exited(Option<i32>),
    Aborted,
    CouldNotStart(String),
}

/// Runs `body` to completion, or until `stop` fires.
pub async fn run(
    source: LogSource,
    body: &str,
    env: &[(String, String)],
    log: &mut LogWriter,
    stop: &mut oneshot::Receiver<()>,
) -> ScriptOutcome {
    let dir = match tempfile::Builder::new().prefix("cloudsync-script-").tempdir() {
        Ok(d) => d,
        Err(e) => return ScriptOutcome::CouldNotStart(format!("cannot create a folder for the {source}: {e}")),
    };
    let path = dir.path().join("script");
    let written = std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(body.as_bytes()))
        .and_then(|_| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)));
    if let Err(e) = written {
        return ScriptOutcome::CouldNotStart(format!("cannot write the {source}: {e}"));
    }
    let mut cmd = if body.starts_with("#!") {
        tokio::process::Command::new(&path)
    } else {
        let mut c = tokio::process::Command::new("/bin/sh");
        c.arg(&path);
        c
    };
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()))
        .envs(["HOME", "LANG", "TZ"].iter().filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v))))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // SAFETY: prctl is async-signal-safe; the script dies with the server.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return ScriptOutcome::CouldNotStart(format!("cannot start the {source}: {e}")),
    };
    let pid = child.id();
    let mut out = super::lines::Lines::new(child.stdout.take().expect("piped"));
    let mut err = super::lines::Lines::new(child.stderr.take().expect("piped"));
    let (mut out_open, mut err_open) = (true, true);
    let mut tick = tokio::time::interval(crate::logstore::BATCH_AGE);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while out_open || err_open {
        tokio::select! {
            line = out.next_line(), if out_open => match line {
                Ok(Some(l)) => log.push(LogLevel::Info, source, &l).await,
                _ => out_open = false,
            },
            line = err.next_line(), if err_open => match line {
                Ok(Some(l)) => log.push(LogLevel::Warning, source, &l).await,
                _ => err_open = false,
            },
            _ = &mut *stop => {
                if let Some(pid) = pid {
                    crate::rclone::process::signal_group(pid, libc::SIGKILL);
                }
                let _ = child.wait().await;
                return ScriptOutcome::Aborted;
            }
            _ = tick.tick() => {
                log.flush_if_due().await;
            }
        }
    }
    ScriptOutcome::Exited(child.wait().await.ok().and_then(|s| s.code()))
}
