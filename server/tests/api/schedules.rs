//! The scheduler with an injected clock: starts at each scheduled minute inside the
//! window and never outside it, skips a start while the previous run is active (with a
//! line in that run's log), and `schedule.preview` answers in the server's zone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use cloudsync::scheduler::ManualClock;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, RpcClient, TestApp};
use crate::storage::StorageServer;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A server in Europe/Berlin whose scheduler reads `clock`.
async fn app_at(start: &str) -> (TestApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(utc(start)));
    let for_app = clock.clone();
    let app = spawn_app_with(move |s| {
        s.timezone = Some("Europe/Berlin".into());
        s.clock = Some(for_app);
    })
    .await;
    (app, clock)
}

/// A WebDAV push task that starts every minute from 12:00 to 12:02 Berlin time.
async fn every_minute_task(c: &mut RpcClient, server: &StorageServer, local: &std::path::Path, extra: Value) -> i64 {
    std::fs::create_dir_all(local).unwrap();
    std::fs::write(local.join("file.txt"), b"scheduled bytes").unwrap();
    let cred = crate::fixtures::credential(c, server, "dav").await;
    let mut task = json!({
        "description": "every minute", "credentials": cred, "direction": "PUSH", "transfer_mode": "COPY",
        "path": local, "attributes": {"folder": "scheduled"},
        "schedule": {"minute": "*", "hour": "*", "dom": "*", "month": "*", "dow": "*", "begin": "12:00", "end": "12:02"}
    });
    for (k, v) in extra.as_object().unwrap() {
        task[k] = v.clone();
    }
    c.call("task.create", task).await.unwrap()["id"].as_i64().unwrap()
}

async fn runs_of(c: &mut RpcClient, task: i64) -> Vec<Value> {
    let mut runs = c.call("run.list", json!({"task_id": task})).await.unwrap().as_array().unwrap().clone();
    runs.reverse();
    runs
}

/// Waits (real time) until the task has `n` runs, then until they have all ended.
async fn wait_for_runs(c: &mut RpcClient, task: i64, n: usize, within: Duration) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        let runs = runs_of(c, task).await;
        assert!(runs.len() <= n, "more runs than expected: {runs:?}");
        if runs.len() == n && runs.iter().all(|r| !matches!(r["state"].as_str(), Some("QUEUED" | "RUNNING"))) {
            return runs;
        }
        assert!(Instant::now() < deadline, "expected {n} finished runs within {within:?}: {runs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (real time) until the task has its `n`th run and says how long that took
/// (printed: typically tens of ms here). The bound only catches a start that never
/// comes; it is loose because the whole suite shares two cores (a 3 s bound failed
/// twice under load).
async fn queued(c: &mut RpcClient, task: i64, n: usize) -> Duration {
    let started = Instant::now();
    while runs_of(c, task).await.len() < n {
        assert!(started.elapsed() < Duration::from_secs(15), "run {n} not queued within 15 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

/// The run count stays at `n` for a while of real time.
async fn no_new_runs(c: &mut RpcClient, task: i64, n: usize) {
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(runs_of(c, task).await.len(), n);
}

#[tokio::test]
async fn a_task_starts_at_each_minute_inside_its_window_and_never_outside() {
    // 11:58:30 in Berlin (summer time, UTC+2).
    let (app, clock) = app_at("2026-06-01T09:58:30Z").await;
    let server = StorageServer::webdav();
    let mut c = app.logged_in_client().await;
    let local = app.data_dir.path().join("src");
    let task = every_minute_task(&mut c, &server, &local, json!({})).await;
    let t = c.call("task.get", json!({"id": task})).await.unwrap();
    assert_eq!(t["next_run"], "2026-06-01T12:00:00+02:00");

    clock.set(utc("2026-06-01T09:59:59Z"));
    no_new_runs(&mut c, task, 0).await;
    for (i, minute) in ["10:00", "10:01", "10:02"].iter().enumerate() {
        clock.set(utc(&format!("2026-06-01T{minute}:00Z")));
        // The start is quick; the transfer may take longer.
        let latency = queued(&mut c, task, i + 1).await;
        eprintln!("scheduled start at {minute}Z queued after {latency:?}");
        let runs = wait_for_runs(&mut c, task, i + 1, Duration::from_secs(30)).await;
        assert_eq!(runs[i]["state"], "SUCCESS", "{runs:?}");
    }
    assert_eq!(std::fs::read(server.root().join("scheduled/file.txt")).unwrap(), b"scheduled bytes");
    // 12:03 and later today are outside the window.
    for minute in ["10:03", "10:30", "21:59"] {
        clock.set(utc(&format!("2026-06-01T{minute}:00Z")));
        no_new_runs(&mut c, task, 3).await;
    }
    let t = c.call("task.get", json!({"id": task})).await.unwrap();
    assert_eq!(t["next_run"], "2026-06-02T12:00:00+02:00");
    // Disabled, it has no next run and does not start.
    let mut params = t.clone();
    for k in ["last_run", "next_run", "created_at", "updated_at"] {
        params.as_object_mut().unwrap().remove(k);
    }
    params["enabled"] = json!(false);
    let t = c.call("task.update", params).await.unwrap();
    assert_eq!(t["next_run"], Value::Null);
    clock.set(utc("2026-06-02T10:00:00Z"));
    no_new_runs(&mut c, task, 3).await;
}

#[tokio::test]
async fn a_start_while_the_previous_run_is_active_is_skipped_with_a_log_line() {
    let (app, clock) = app_at("2026-06-01T09:59:30Z").await;
    let server = StorageServer::webdav();
    let mut c = app.logged_in_client().await;
    let local = app.data_dir.path().join("src");
    let (url, inbox) = crate::notify::receiver().await;
    let hook = c
        .call(
            "notify.target.create",
            json!({"name": "hook", "kind": "webhook", "settings": {"url": format!("{url}/hook")}}),
        )
        .await
        .unwrap()["id"]
        .clone();
    // Long enough that the next minute surely comes while it runs, even on a loaded machine.
    let extra = json!({"pre_script": "sleep 6", "notify": {"targets": [hook], "on": "failure"}});
    let task = every_minute_task(&mut c, &server, &local, extra).await;

    clock.set(utc("2026-06-01T10:00:00Z"));
    queued(&mut c, task, 1).await;
    // 12:01 comes while the first run is still in its pre-script.
    clock.set(utc("2026-06-01T10:01:00Z"));
    let runs = wait_for_runs(&mut c, task, 1, Duration::from_secs(30)).await;
    assert_eq!(runs[0]["state"], "SUCCESS");
    let log = c.call("run.log", json!({"id": runs[0]["id"]})).await.unwrap();
    let lines: Vec<String> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["source"] == "scheduler")
        .map(|l| l["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        lines,
        [
            "started by the schedule (2026-06-01 12:00 CEST)",
            "scheduled start 2026-06-01 12:01 CEST: previous run still active, skipped"
        ]
    );
    // The skipped start is a failure the task's targets hear about (the run itself was fine).
    let skipped: Vec<Value> = inbox.lock().unwrap().iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0]["event"], "run.skipped");
    assert_eq!(skipped[0]["run"]["id"], runs[0]["id"]);
    // The next minute starts normally again.
    clock.set(utc("2026-06-01T10:02:00Z"));
    let runs = wait_for_runs(&mut c, task, 2, Duration::from_secs(30)).await;
    assert_eq!(runs[1]["state"], "SUCCESS");
}

#[tokio::test]
async fn runs_missed_while_the_server_was_down_are_not_caught_up() {
    let (app, _clock) = app_at("2026-06-01T09:58:30Z").await;
    let server = StorageServer::webdav();
    let mut c = app.logged_in_client().await;
    let local = app.data_dir.path().join("src");
    let task = every_minute_task(&mut c, &server, &local, json!({})).await;
    drop(c);
    // Down from 11:58:30 to 12:01:30 Berlin time: 12:00 and 12:01 are not made up for.
    let later = Arc::new(ManualClock::new(utc("2026-06-01T10:01:30Z")));
    let for_app = later.clone();
    let app = app
        .restart_with(move |s| {
            s.timezone = Some("Europe/Berlin".into());
            s.clock = Some(for_app);
        })
        .await;
    let mut c = app.logged_in_client().await;
    assert_eq!(c.call("task.get", json!({"id": task})).await.unwrap()["next_run"], "2026-06-01T12:02:00+02:00");
    no_new_runs(&mut c, task, 0).await;
    later.set(utc("2026-06-01T10:02:00Z"));
    wait_for_runs(&mut c, task, 1, Duration::from_secs(30)).await;
}

#[tokio::test]
async fn a_task_with_catch_up_gets_one_run_for_the_starts_missed_while_the_server_was_down() {
    let (app, _clock) = app_at("2026-06-01T09:58:30Z").await;
    let server = StorageServer::webdav();
    let mut c = app.logged_in_client().await;
    let local = app.data_dir.path().join("src");
    let task = every_minute_task(&mut c, &server, &local, json!({"catch_up": true})).await;
    let mut other = c.call("task.get", json!({"id": task})).await.unwrap();
    for k in ["id", "last_run", "next_run", "created_at", "updated_at", "encryption_password", "encryption_salt"] {
        other.as_object_mut().unwrap().remove(k);
    }
    (other["description"], other["catch_up"]) = (json!("no catch-up"), json!(false));
    other["attributes"]["folder"] = json!("elsewhere");
    let plain = c.call("task.create", other).await.unwrap()["id"].as_i64().unwrap();
    assert_eq!(c.call("task.get", json!({"id": task})).await.unwrap()["catch_up"], true);
    drop(c);
    // Down from 11:58:30 to 12:01:30 Berlin time: 12:00 and 12:01 were missed.
    let later = Arc::new(ManualClock::new(utc("2026-06-01T10:01:30Z")));
    let for_app = later.clone();
    let app = app
        .restart_with(move |s| {
            s.timezone = Some("Europe/Berlin".into());
            s.clock = Some(for_app);
        })
        .await;
    let mut c = app.logged_in_client().await;
    let runs = wait_for_runs(&mut c, task, 1, Duration::from_secs(30)).await;
    assert_eq!(runs[0]["state"], "SUCCESS", "{runs:?}");
    let log = c.call("run.log", json!({"id": runs[0]["id"], "limit": 100})).await.unwrap().to_string();
    assert!(
        log.contains("catching up: the scheduled start of 2026-06-01 12:01 CEST and 1 earlier was missed while the server was down"),
        "{log}"
    );
    assert_eq!(c.call("task.get", json!({"id": task})).await.unwrap()["next_run"], "2026-06-01T12:02:00+02:00");
    // Only one run, and none for the task without catch_up.
    no_new_runs(&mut c, task, 1).await;
    no_new_runs(&mut c, plain, 0).await;
}

#[tokio::test]
async fn schedule_preview_answers_in_the_server_zone_and_names_bad_fields() {
    let (app, _clock) = app_at("2026-06-01T09:59:30Z").await;
    let mut c = app.logged_in_client().await;
    let schedule =
        json!({"minute": "0", "hour": "3", "dom": "1", "month": "*", "dow": "mon", "begin": "00:00", "end": "23:59"});
    let p = c
        .call("schedule.preview", json!({"schedule": schedule, "count": 3, "from": "2026-11-27T12:00:00Z"}))
        .await
        .unwrap();
    assert_eq!(p["timezone"], "Europe/Berlin");
    // The zone's rules the browser computes with: Berlin's switch to summer time in 2026.
    let zone = c.call("schedule.zone", json!({})).await.unwrap();
    assert_eq!(zone["name"], "Europe/Berlin");
    let spring = zone["changes"].as_array().unwrap().iter().find(|ch| ch["at"] == 1_774_746_000).cloned();
    assert_eq!(spring, Some(json!({"at": 1_774_746_000, "offset": 7200, "abbreviation": "CEST"})));
    assert_eq!(p["description"], "At 03:00, on day 1 of the month and on Monday");
    assert_eq!(p["days_combine_with_or"], true);
    assert_eq!(
        p["runs"],
        json!(["2026-11-30T03:00:00+01:00", "2026-12-01T03:00:00+01:00", "2026-12-07T03:00:00+01:00"])
    );
    assert_eq!(
        c.call("schedule.preview", json!({"schedule": schedule})).await.unwrap()["runs"].as_array().unwrap().len(),
        25
    );

    let mut bad = schedule.clone();
    bad["dom"] = json!("32");
    let e = c.call("schedule.preview", json!({"schedule": bad})).await.unwrap_err();
    assert_eq!(e.code, -32602);
    assert_eq!(e.field_error("schedule.dom").as_deref(), Some("32 is out of range 1-31"));

    // task.create refuses the same schedule, naming the field, and stores nothing.
    let before = c.call("task.list", json!({})).await.unwrap();
    let e = c
        .call(
            "task.create",
            json!({"description": "x", "credentials": 1, "direction": "PUSH", "transfer_mode": "COPY", "path": "/tmp", "schedule": bad}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.field_error("schedule.dom").as_deref(), Some("32 is out of range 1-31"));
    assert_eq!(c.call("task.list", json!({})).await.unwrap(), before);
}
