//! Running tasks with the real rclone against real servers: every direction and mode,
//! dry runs, the one-at-a-time queue, abort, encryption, and the stored logs.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::fixtures::{credential, finished, make_task, run_to_end};
use crate::helpers::{spawn_app, RpcClient, TestApp};
use crate::storage::StorageServer;

fn write(p: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

fn names(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(base, &p, out);
                } else {
                    out.push(p.strip_prefix(base).unwrap().display().to_string());
                }
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Push and pull × sync, copy and move, checking names and bytes on the other side.
async fn every_direction_and_mode(app: &TestApp, server: &StorageServer, bucket: &str) {
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, server, "store").await;
    let remote = |folder: &str| {
        if bucket.is_empty() {
            server.root().join(folder)
        } else {
            server.root().join(bucket).join(folder)
        }
    };
    if !bucket.is_empty() {
        server.mkdir(bucket);
    }
    let big = pattern(300_000);
    // Each SYNC here deletes one stale file of few: the deletion guard (tests in
    // safety.rs) is off so the modes themselves are what is checked.
    let unguarded = json!({"max_delete_percent": null});

    for mode in ["COPY", "SYNC", "MOVE"] {
        // Push.
        let local = tempfile::tempdir().unwrap();
        write(&local.path().join("a.txt"), b"alpha");
        write(&local.path().join("sub/b.bin"), &big);
        let folder = format!("push-{}", mode.to_lowercase());
        write(&remote(&folder).join("stale.txt"), b"old");
        let task = make_task(&mut c, cred, "PUSH", mode, local.path(), bucket, &folder, unguarded.clone()).await;
        let run = run_to_end(&mut c, task, false).await;
        assert_eq!(run["state"], "SUCCESS", "PUSH {mode}: {run}");
        assert_eq!(std::fs::read(remote(&folder).join("a.txt")).unwrap(), b"alpha", "PUSH {mode}");
        assert_eq!(std::fs::read(remote(&folder).join("sub/b.bin")).unwrap(), big, "PUSH {mode}");
        assert_eq!(
            remote(&folder).join("stale.txt").exists(),
            mode != "SYNC",
            "PUSH {mode}: only sync deletes extra files"
        );
        assert_eq!(names(local.path()).is_empty(), mode == "MOVE", "PUSH {mode}: only move empties the source");

        // Pull.
        let folder = format!("pull-{}", mode.to_lowercase());
        write(&remote(&folder).join("c.txt"), b"gamma");
        write(&remote(&folder).join("deep/d.bin"), &big);
        let local = tempfile::tempdir().unwrap();
        write(&local.path().join("extra.txt"), b"mine");
        let task = make_task(&mut c, cred, "PULL", mode, local.path(), bucket, &folder, unguarded.clone()).await;
        let run = run_to_end(&mut c, task, false).await;
        assert_eq!(run["state"], "SUCCESS", "PULL {mode}: {run}");
        assert_eq!(std::fs::read(local.path().join("c.txt")).unwrap(), b"gamma", "PULL {mode}");
        assert_eq!(std::fs::read(local.path().join("deep/d.bin")).unwrap(), big, "PULL {mode}");
        assert_eq!(local.path().join("extra.txt").exists(), mode != "SYNC", "PULL {mode}");
        assert_eq!(remote(&folder).join("c.txt").exists(), mode != "MOVE", "PULL {mode}");
    }
}

#[tokio::test]
async fn every_direction_and_mode_against_s3() {
    let app = spawn_app().await;
    every_direction_and_mode(&app, &StorageServer::s3(), "bucket1").await;
}

#[tokio::test]
async fn every_direction_and_mode_against_sftp() {
    let app = spawn_app().await;
    every_direction_and_mode(&app, &StorageServer::sftp(), "").await;
}

#[tokio::test]
async fn a_dry_run_changes_nothing_and_logs_what_it_would_do() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    s3.mkdir("dry");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let local = tempfile::tempdir().unwrap();
    write(&local.path().join("would-copy.txt"), b"x");
    let task = make_task(&mut c, cred, "PUSH", "SYNC", local.path(), "dry", "", json!({})).await;
    let run = run_to_end(&mut c, task, true).await;
    assert_eq!(run["state"], "SUCCESS", "{run}");
    assert_eq!(run["dry_run"], true);
    assert!(names(&s3.root().join("dry")).is_empty(), "nothing was copied");
    let log = c.call("run.log", json!({"id": run["id"], "after_seq": 0})).await.unwrap();
    let lines = log.as_array().unwrap();
    let text: Vec<String> = lines.iter().map(|l| l["message"].as_str().unwrap().to_string()).collect();
    assert!(text.iter().any(|m| m.contains("would-copy.txt") && m.contains("dry-run")), "{text:#?}");
    let seqs: Vec<i64> = lines.iter().map(|l| l["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "sequence numbers 1, 2, 3…");
    let tail = c.call("run.log", json!({"id": run["id"], "after_seq": seqs.len() as i64 - 1})).await.unwrap();
    assert_eq!(tail.as_array().unwrap().len(), 1, "after_seq returns only later lines");
}

#[tokio::test]
async fn ten_concurrent_requests_for_five_tasks_make_five_runs_one_at_a_time() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    s3.mkdir("queue");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let mut tasks = Vec::new();
    let mut dirs = Vec::new();
    for i in 0..5 {
        let local = tempfile::tempdir().unwrap();
        write(&local.path().join("f.bin"), &pattern(600_000));
        // 2 MiB/s: each run takes a moment, so the queue is really used.
        let bw = json!({"bwlimit": [{"time": "00:00", "bandwidth": 2_097_152}]});
        tasks.push(make_task(&mut c, cred, "PUSH", "COPY", local.path(), "queue", &format!("t{i}"), bw).await);
        dirs.push(local);
    }
    let mut clients = Vec::new();
    for _ in 0..10 {
        clients.push(app.logged_in_client().await);
    }
    let requests = clients.iter_mut().enumerate().map(|(i, client)| {
        let task = tasks[i % 5];
        async move { (task, client.call("task.run", json!({"id": task})).await.unwrap()["run_id"].as_i64().unwrap()) }
    });
    let answers = futures::future::join_all(requests).await;
    let mut runs: Vec<i64> = answers.iter().map(|(_, r)| *r).collect();
    runs.sort();
    runs.dedup();
    assert_eq!(runs.len(), 5, "one run per task: {answers:?}");
    for t in &tasks {
        let ids: Vec<i64> = answers.iter().filter(|(task, _)| task == t).map(|(_, r)| *r).collect();
        assert_eq!(ids[0], ids[1], "asking again returns the active run");
    }
    let mut spans = Vec::new();
    for r in &runs {
        let run = finished(&mut c, *r).await;
        assert_eq!(run["state"], "SUCCESS", "{run}");
        spans.push((time_of(run["started_at"].as_str().unwrap()), time_of(run["finished_at"].as_str().unwrap())));
    }
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "runs overlapped: {spans:?}");
    }
    let listed = c.call("task.list", json!({})).await.unwrap();
    for t in listed.as_array().unwrap() {
        assert_eq!(t["last_run"]["state"], "SUCCESS", "task.list carries the last run: {t}");
        assert_eq!(t["last_run"]["stats"]["total_bytes"], 600_000);
    }
}

#[tokio::test]
async fn a_sync_whose_source_cannot_be_read_deletes_nothing_at_the_destination() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    s3.mkdir("keep");
    write(&s3.root().join("keep/precious.txt"), b"do not delete me");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let local = tempfile::tempdir().unwrap();
    write(&local.path().join("fine.txt"), b"fine");
    // Tests run as root, so permissions cannot make a read fail; a symlink loop followed
    // with --copy-links does.
    std::os::unix::fs::symlink(local.path().join("loop-b"), local.path().join("loop-a")).unwrap();
    std::os::unix::fs::symlink(local.path().join("loop-a"), local.path().join("loop-b")).unwrap();
    let task =
        make_task(&mut c, cred, "PUSH", "SYNC", local.path(), "keep", "", json!({"follow_symlinks": true})).await;
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "FAILED", "{run}");
    assert_eq!(std::fs::read(s3.root().join("keep/precious.txt")).unwrap(), b"do not delete me", "nothing deleted");
    let log = c.call("run.log", json!({"id": run["id"]})).await.unwrap().to_string();
    assert!(log.contains("too many levels of symbolic links"), "the read error is the reason: {log}");
    assert!(log.contains("not deleting"), "rclone held back deletions: {log}");
}

fn rclone_processes_mentioning(marker: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|cmd| {
            let text = String::from_utf8_lossy(cmd);
            text.contains("rclone") && text.contains(marker)
        })
        .count()
}

#[tokio::test]
async fn abort_stops_a_running_sync_and_removes_a_queued_one() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    s3.mkdir("abort");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let slow_dir = tempfile::tempdir().unwrap();
    write(&slow_dir.path().join("big.bin"), &pattern(20_000_000));
    let slow = make_task(
        &mut c,
        cred,
        "PUSH",
        "COPY",
        slow_dir.path(),
        "abort",
        "slow",
        json!({"bwlimit": [{"time": "00:00", "bandwidth": 1_048_576}]}),
    )
    .await;
    let other_dir = tempfile::tempdir().unwrap();
    let other = make_task(&mut c, cred, "PUSH", "COPY", other_dir.path(), "abort", "other", json!({})).await;

    let running = c.call("task.run", json!({"id": slow})).await.unwrap()["run_id"].as_i64().unwrap();
    let queued = c.call("task.run", json!({"id": other})).await.unwrap()["run_id"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.call("run.get", json!({"id": running})).await.unwrap()["state"] != "RUNNING" {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(c.call("run.get", json!({"id": queued})).await.unwrap()["state"], "QUEUED", "one at a time");
    c.call("task.abort", json!({"id": other})).await.unwrap();
    assert_eq!(c.call("run.get", json!({"id": queued})).await.unwrap()["state"], "ABORTED");

    tokio::time::sleep(Duration::from_millis(500)).await;
    let marker = slow_dir.path().to_str().unwrap();
    assert_eq!(rclone_processes_mentioning(marker), 1, "rclone is running");
    let asked = Instant::now();
    c.call("task.abort", json!({"id": slow})).await.unwrap();
    let run = finished(&mut c, running).await;
    assert!(asked.elapsed() < Duration::from_secs(2), "aborted within 2 s ({:?})", asked.elapsed());
    assert_eq!(run["state"], "ABORTED");
    assert_eq!(rclone_processes_mentioning(marker), 0, "no rclone process is left");
    let log = c.call("run.log", json!({"id": running})).await.unwrap();
    assert!(log.to_string().contains("stopping rclone"), "the log is kept: {log}");
}

#[tokio::test]
async fn encrypted_push_then_pull_restores_identical_bytes_and_a_wrong_password_fails() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    s3.mkdir("vault");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let source = tempfile::tempdir().unwrap();
    write(&source.path().join("secret-plans.txt"), b"the plans");
    write(&source.path().join("photos/holiday.jpg"), &pattern(123_456));
    let crypt = json!({"encryption": true, "filename_encryption": true, "encryption_password": "vault-pass-1", "encryption_salt": "vault-salt-2"});
    let push = make_task(&mut c, cred, "PUSH", "SYNC", source.path(), "vault", "enc", crypt.clone()).await;
    assert_eq!(run_to_end(&mut c, push, false).await["state"], "SUCCESS");
    let stored = names(&s3.root().join("vault/enc"));
    assert_eq!(stored.len(), 2);
    for n in &stored {
        assert!(
            !n.contains("secret-plans") && !n.contains("holiday") && !n.contains("photos"),
            "plaintext name on the remote: {n}"
        );
    }
    for n in &stored {
        let bytes = std::fs::read(s3.root().join("vault/enc").join(n)).unwrap();
        assert!(!bytes.windows(9).any(|w| w == b"the plans"), "plaintext content on the remote");
    }

    let restored = tempfile::tempdir().unwrap();
    let pull = make_task(&mut c, cred, "PULL", "COPY", restored.path(), "vault", "enc", crypt).await;
    assert_eq!(run_to_end(&mut c, pull, false).await["state"], "SUCCESS");
    assert_eq!(std::fs::read(restored.path().join("secret-plans.txt")).unwrap(), b"the plans");
    assert_eq!(std::fs::read(restored.path().join("photos/holiday.jpg")).unwrap(), pattern(123_456));

    let wrong = tempfile::tempdir().unwrap();
    let bad = json!({"encryption": true, "filename_encryption": true, "encryption_password": "not-the-password", "encryption_salt": "vault-salt-2"});
    let pull = make_task(&mut c, cred, "PULL", "COPY", wrong.path(), "vault", "enc", bad).await;
    let run = run_to_end(&mut c, pull, false).await;
    assert_eq!(run["state"], "FAILED", "a wrong crypt password fails loudly: {run}");
    assert!(run["error"].as_str().is_some_and(|e| !e.is_empty()));
    assert!(names(wrong.path()).is_empty());
}

#[tokio::test]
async fn scripts_run_around_the_transfer_without_secrets_and_a_failing_pre_script_stops_it() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    s3.mkdir("scripts");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let local = tempfile::tempdir().unwrap();
    write(&local.path().join("data.txt"), b"payload");
    let env_dump = tempfile::tempdir().unwrap();
    let pre = format!("#!/bin/sh\necho pre-script says hello\nenv > {}/pre.env\n", env_dump.path().display());
    let post = format!("env > {}/post.env\necho done >&2\n", env_dump.path().display());
    let crypt =
        json!({"pre_script": pre, "post_script": post, "encryption": true, "encryption_password": "script-crypt-pw"});
    let task = make_task(&mut c, cred, "PUSH", "COPY", local.path(), "scripts", "ok", crypt).await;
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "SUCCESS", "{run}");

    let pre_env = std::fs::read_to_string(env_dump.path().join("pre.env")).unwrap();
    assert!(
        pre_env.contains(&format!("CLOUDSYNC_TASK_ID={task}")) && pre_env.contains("CLOUDSYNC_DIRECTION=PUSH"),
        "{pre_env}"
    );
    assert!(pre_env.contains("CLOUDSYNC_REMOTE=cloudsync:scripts/ok"));
    let post_env = std::fs::read_to_string(env_dump.path().join("post.env")).unwrap();
    assert!(post_env.contains("CLOUDSYNC_RESULT=SUCCESS"));
    for env in [&pre_env, &post_env] {
        for secret in [crate::storage::SECRET_KEY, crate::storage::ACCESS_KEY, "script-crypt-pw", "RCLONE_CONFIG"] {
            assert!(!env.contains(secret), "{secret} leaked into a script's environment");
        }
    }
    let log = c.call("run.log", json!({"id": run["id"]})).await.unwrap();
    let lines = log.as_array().unwrap();
    assert!(lines.iter().any(|l| l["source"] == "pre_script" && l["message"] == "pre-script says hello"), "{log}");
    assert!(lines.iter().any(|l| l["source"] == "post_script" && l["message"] == "done"), "{log}");

    // A failing pre-script fails the run before rclone starts.
    let fresh = tempfile::tempdir().unwrap();
    write(&fresh.path().join("never.txt"), b"never copied");
    let task =
        make_task(&mut c, cred, "PUSH", "COPY", fresh.path(), "scripts", "blocked", json!({"pre_script": "exit 3"}))
            .await;
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "FAILED");
    assert_eq!(run["error"], "the pre-script failed (exit code 3); rclone was not started");
    assert!(!s3.root().join("scripts/blocked/never.txt").exists());
}

#[tokio::test]
async fn a_bandwidth_limit_slows_the_transfer_to_the_limit() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    s3.mkdir("bw");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let local = tempfile::tempdir().unwrap();
    write(&local.path().join("twenty.bin"), &pattern(20 * 1024 * 1024));
    let limit = json!({"bwlimit": [{"time": "00:00", "bandwidth": 4 * 1024 * 1024}]});
    let task = make_task(&mut c, cred, "PUSH", "COPY", local.path(), "bw", "", limit).await;
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "SUCCESS");
    let parse = |k: &str| time_of(run[k].as_str().unwrap());
    let seconds = parse("finished_at") - parse("started_at");
    assert!((4.0..=6.0).contains(&seconds), "20 MiB at 4 MiB/s took {seconds:.2} s, expected 5 s ± 20%");
    assert_eq!(std::fs::read(s3.root().join("bw/twenty.bin")).unwrap().len(), 20 * 1024 * 1024);
}

/// Seconds since the epoch of an RFC 3339 UTC timestamp.
fn time_of(s: &str) -> f64 {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap();
    t.unix_timestamp_nanos() as f64 / 1e9
}

#[tokio::test]
async fn old_runs_and_their_logs_are_pruned_to_the_newest_ones() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    s3.mkdir("prune");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let local = tempfile::tempdir().unwrap();
    let task = make_task(&mut c, cred, "PUSH", "COPY", local.path(), "prune", "", json!({})).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(run_to_end(&mut c, task, false).await["id"].as_i64().unwrap());
    }
    let removed = cloudsync::runner::records::prune(&app.pool, task, 2).await.unwrap();
    assert_eq!(removed, 1);
    let left: Vec<i64> = c
        .call("run.list", json!({"task_id": task}))
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(left, vec![ids[2], ids[1]]);
    let orphan_logs: i64 = sqlx::query_scalar("SELECT count(*) FROM run_logs WHERE run_id = $1")
        .bind(ids[0])
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(orphan_logs, 0, "its log went with it");
}

/// Collects `run.log` lines and the final state from a follower until the run ends or
/// `stop_after` lines have arrived.
async fn collect(c: &mut RpcClient, seqs: &mut Vec<i64>, stop_after: Option<usize>) -> Option<String> {
    loop {
        let (method, params) = c.notification().await;
        match method.as_str() {
            "run.log" => {
                for l in params["lines"].as_array().unwrap() {
                    seqs.push(l["seq"].as_i64().unwrap());
                }
                if stop_after.is_some_and(|n| seqs.len() >= n) {
                    return None;
                }
            }
            "run.state" if !matches!(params["state"].as_str(), Some("QUEUED" | "RUNNING")) => {
                return Some(params["state"].as_str().unwrap().to_string())
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_follower_that_reconnects_with_its_last_seq_gets_every_line_exactly_once() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    s3.mkdir("follow");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let local = tempfile::tempdir().unwrap();
    for i in 0..12 {
        write(&local.path().join(format!("f{i:02}.bin")), &pattern(200_000));
    }
    let bw = json!({"bwlimit": [{"time": "00:00", "bandwidth": 1_048_576}], "transfers": 1});
    let task = make_task(&mut c, cred, "PUSH", "COPY", local.path(), "follow", "", bw).await;
    let mut events = app.logged_in_client().await;
    events.call("events.subscribe", json!({})).await.unwrap();

    let run_id = c.call("task.run", json!({"id": task})).await.unwrap()["run_id"].as_i64().unwrap();
    let mut first = app.logged_in_client().await;
    let mut seqs = Vec::new();
    first.call("run.follow", json!({"id": run_id, "after_seq": 0})).await.unwrap();
    assert_eq!(collect(&mut first, &mut seqs, Some(4)).await, None, "the run is still going");
    drop(first);

    let mut second = app.logged_in_client().await;
    let resume = *seqs.last().unwrap();
    second.call("run.follow", json!({"id": run_id, "after_seq": resume})).await.unwrap();
    let end = collect(&mut second, &mut seqs, None).await;
    assert_eq!(end.as_deref(), Some("SUCCESS"));

    let stored: Vec<i64> = c
        .call("run.log", json!({"id": run_id, "limit": 10000}))
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["seq"].as_i64().unwrap())
        .collect();
    assert!(stored.len() > 12, "a line per file and more: {}", stored.len());
    assert_eq!(seqs, stored, "every line exactly once, in order");

    // The events subscriber saw the task's run go through its states.
    let mut states = Vec::new();
    let mut progress = 0;
    while states.last().map(String::as_str) != Some("SUCCESS") {
        let (method, params) = events.notification().await;
        if method == "run.state" && params["run_id"] == run_id {
            states.push(params["state"].as_str().unwrap().to_string());
        }
        if method == "run.progress" && params["run_id"] == run_id {
            assert!(params["progress"]["total_bytes"].as_u64().unwrap() > 0);
            progress += 1;
        }
    }
    assert_eq!(states, ["QUEUED", "RUNNING", "SUCCESS"]);
    assert!(progress >= 1, "progress was pushed while the run went on");
}
