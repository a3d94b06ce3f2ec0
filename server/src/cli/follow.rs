//! `--follow`: prints a run's log as it is written and, on a terminal, a one-line
//! progress display; survives a dropped connection by following again from the last
//! `seq` it printed; Ctrl-C stops following, never the run.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use protocol::runs::notify::{self, LogBatch, ProgressUpdate, StateChange};
use protocol::runs::{Follow, FollowParams, Progress, RunState};
use protocol::units::human_bytes;

use super::{CliError, Session};

/// How a follow ended.
pub enum Followed {
    Ended(RunState, Option<String>),
    Interrupted,
}

struct Screen {
    terminal: bool,
    progress_shown: bool,
}

impl Screen {
    fn clear_progress(&mut self) {
        if self.progress_shown {
            print!("\r\x1b[2K");
            self.progress_shown = false;
        }
    }

    fn line(&mut self, text: &str) {
        self.clear_progress();
        println!("{text}");
    }

    fn progress(&mut self, p: &Progress) {
        let eta = p.eta.map(|s| format!(", ETA {}", duration(s))).unwrap_or_default();
        let text = format!(
            "{:.0}% · {} of {} · {}/s{eta}",
            p.percent,
            human_bytes(p.bytes as f64),
            human_bytes(p.total_bytes as f64),
            human_bytes(p.speed)
        );
        if self.terminal {
            print!("\r\x1b[2K{text}");
            self.progress_shown = true;
        } else {
            println!("progress: {text}");
        }
        let _ = std::io::stdout().flush();
    }
}

fn duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `12:00:03 INFO  rclone: file.txt: Copied (new)`
fn log_line(l: &protocol::runs::LogLine) -> String {
    let time = l.at.get(11..19).unwrap_or(&l.at);
    format!("{time} {:<7} {}: {}", l.level.as_str().to_uppercase(), l.source, l.message)
}

/// Follows run `run_id` until it ends, reconnecting when the connection drops.
pub async fn follow(session: &Session, run_id: i64) -> Result<Followed, CliError> {
    let mut screen = Screen { terminal: std::io::stdout().is_terminal(), progress_shown: false };
    // Plain output (not a terminal) gets one progress line per 10 updates.
    let mut progress_count = 0u64;
    let mut last_seq = 0i64;
    let mut failures = 0u32;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let attempt = async {
            let mut client = session.connect().await?;
            let run = client.call::<Follow>(FollowParams { id: run_id, after_seq: last_seq }).await?;
            Ok::<_, CliError>((client, run))
        };
        let (mut client, _run) = tokio::select! {
            r = attempt => match r {
                Ok(c) => c,
                Err(CliError::Connection(why)) if failures < 10 => {
                    failures += 1;
                    screen.line(&format!("cloudsync: {why}; trying again ({failures}/10)"));
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(failures.min(6)))).await;
                    continue;
                }
                Err(e) => return Err(e),
            },
            _ = &mut ctrl_c => { screen.clear_progress(); return Ok(Followed::Interrupted) }
        };
        failures = 0;
        loop {
            let (method, params) = tokio::select! {
                n = client.notification() => match n {
                    Ok(n) => n,
                    Err(CliError::Connection(why)) => {
                        screen.line(&format!("cloudsync: {why}; resuming after line {last_seq}"));
                        break;
                    }
                    Err(e) => return Err(e),
                },
                _ = &mut ctrl_c => { screen.clear_progress(); return Ok(Followed::Interrupted) }
            };
            match method.as_str() {
                notify::LOG => {
                    let Ok(batch) = serde_json::from_value::<LogBatch>(params) else { continue };
                    for l in &batch.lines {
                        if l.seq > last_seq {
                            screen.line(&log_line(l));
                            last_seq = l.seq;
                        }
                    }
                }
                notify::PROGRESS => {
                    let Ok(p) = serde_json::from_value::<ProgressUpdate>(params) else { continue };
                    progress_count += 1;
                    if screen.terminal || progress_count % 10 == 1 {
                        screen.progress(&p.progress);
                    }
                }
                notify::STATE => {
                    let Ok(s) = serde_json::from_value::<StateChange>(params) else { continue };
                    if !s.state.is_active() {
                        screen.clear_progress();
                        client.close().await;
                        return Ok(Followed::Ended(s.state, s.error));
                    }
                }
                // Fell behind: follow again after the last line printed.
                notify::LAGGED => break,
                _ => {}
            }
        }
    }
}
