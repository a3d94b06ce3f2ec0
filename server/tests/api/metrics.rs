//! `GET /metrics`: refused without an API token, accepted by `promtool check metrics`
//! (Debian's prometheus package, installed by scripts/setup), and scraped by a real
//! Prometheus server whose query API then returns the task's last success.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::fixtures::{credential, make_task, run_to_end};
use crate::helpers::{http_get, spawn_app, spawn_app_with, ADMIN_PASSWORD};
use crate::storage::free_port;
use crate::storage::StorageServer;

fn tool(name: &str) -> std::path::PathBuf {
    let path = std::path::PathBuf::from("/usr/bin").join(name);
    assert!(path.exists(), "{name} is missing: run scripts/setup (it installs Debian's prometheus package)");
    path
}

#[tokio::test]
async fn metrics_need_a_token_pass_promtool_and_are_scraped_by_prometheus() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    s3.mkdir("metrics");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("a.txt"), "twelve bytes").unwrap();
    let task = make_task(
        &mut c,
        cred,
        "PUSH",
        "COPY",
        local.path(),
        "metrics",
        "",
        json!({"description": "nightly \"photos\""}),
    )
    .await;
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "SUCCESS", "{run}");
    let token = c.call("auth.token.create", json!({"name": "prometheus", "password": ADMIN_PASSWORD})).await.unwrap()
        ["token"]
        .as_str()
        .unwrap()
        .to_string();

    // The dashboard's daily figures count the run on the (UTC) line of the day it finished:
    // today's, or yesterday's when the test runs across midnight.
    let days = c.call("run.daily", json!({"days": 3})).await.unwrap();
    let days = days.as_array().unwrap();
    assert_eq!(days.len(), 3);
    let finished = run["finished_at"].as_str().unwrap();
    let finished = time::OffsetDateTime::parse(finished, &time::format_description::well_known::Rfc3339).unwrap();
    let day = finished.to_offset(time::UtcOffset::UTC).date().to_string();
    let line = json!({"day": day, "bytes": 12, "succeeded": 1, "failed": 0, "aborted": 0});
    assert!(days[1..].contains(&line), "{line} in {days:?}");
    assert_eq!((days[0]["bytes"].clone(), days[0]["succeeded"].clone()), (json!(0), json!(0)));
    let e = c.call("run.daily", json!({"days": 0})).await.unwrap_err();
    assert_eq!(e.field_errors()[0].field, "days");

    // The Tasks page's sparkline points: one per finished run, with its bytes.
    let points = c.call("run.recent", json!({"per_task": 1})).await.unwrap();
    assert_eq!(points.as_array().unwrap().len(), 1, "{points}");
    assert_eq!((points[0]["task_id"].as_i64(), points[0]["run_id"].clone()), (Some(task), run["id"].clone()));
    assert_eq!((points[0]["state"].clone(), points[0]["bytes"].clone()), (json!("SUCCESS"), json!(12)));
    for per_task in [0, 51] {
        let e = c.call("run.recent", json!({"per_task": per_task})).await.unwrap_err();
        assert_eq!(e.field_error("per_task").as_deref(), Some("must be between 1 and 50"), "{per_task}: {e}");
    }

    let (status, _, _) = http_get(app.addr, "/metrics", &[]).await;
    assert_eq!(status, 401);
    let (status, _, _) = http_get(app.addr, "/metrics", &[("Authorization", "Bearer not-a-token")]).await;
    assert_eq!(status, 401);
    let bearer = format!("Bearer {token}");
    let (status, headers, body) = http_get(app.addr, "/metrics", &[("Authorization", bearer.as_str())]).await;
    assert_eq!(status, 200);
    assert!(crate::helpers::header(&headers, "content-type").unwrap().starts_with("text/plain"));
    let text = String::from_utf8(body).unwrap();
    let line = |name: &str| {
        text.lines().find(|l| l.starts_with(name) && l.contains(&format!("task=\"{task}\""))).map(str::to_string)
    };
    let success = line("cloudsync_task_last_success_timestamp_seconds{").expect(&text);
    assert!(success.contains(r#"description="nightly \"photos\"""#), "labels escaped: {success}");
    let at: f64 = success.rsplit(' ').next().unwrap().parse().unwrap();
    let finished = time::OffsetDateTime::parse(
        run["finished_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(at as i64, finished.unix_timestamp());
    assert!(line("cloudsync_task_last_run_bytes{").unwrap().ends_with(" 12"), "{text}");
    assert!(line("cloudsync_runs_total{").unwrap().contains("state=\"SUCCESS\""));
    assert!(line("cloudsync_runs_total{").unwrap().ends_with(" 1"));
    assert!(text.contains("cloudsync_runs_queued 0") && text.contains("cloudsync_runs_running 0"), "{text}");
    assert!(text.contains("cloudsync_build_info{rclone=\""), "{text}");

    // promtool accepts the format.
    let mut check = tokio::process::Command::new(tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check.stdin.take().unwrap().write_all(text.as_bytes()).await.unwrap();
    let out = check.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // A real Prometheus scrapes it with the token.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = format!(
        "global: {{scrape_interval: 1s, scrape_timeout: 1s}}\nscrape_configs:\n  - job_name: cloudsync\n    authorization: {{type: Bearer, credentials: \"{token}\"}}\n    static_configs: [{{targets: [\"{}\"]}}]\n",
        app.addr
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let _prometheus = tokio::process::Command::new(tool("prometheus"))
        .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .env_clear()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let query = format!("http://127.0.0.1:{port}/api/v1/query?query=cloudsync_task_last_success_timestamp_seconds");
    let deadline = Instant::now() + Duration::from_secs(60);
    let result = loop {
        if let Ok(r) = http.get(&query).send().await {
            if let Ok(v) = r.json::<Value>().await {
                if v["data"]["result"].as_array().is_some_and(|a| !a.is_empty()) {
                    break v;
                }
            }
        }
        assert!(Instant::now() < deadline, "Prometheus never had the series");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let series = &result["data"]["result"][0];
    assert_eq!(series["metric"]["task"], task.to_string());
    assert_eq!(series["metric"]["description"], "nightly \"photos\"");
    assert_eq!(series["value"][1].as_str().unwrap().parse::<f64>().unwrap() as i64, finished.unix_timestamp());
}

#[tokio::test]
async fn metrics_public_serves_them_without_a_token() {
    let app = spawn_app_with(|s| s.metrics_public = true).await;
    let (status, _, body) = http_get(app.addr, "/metrics", &[]).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8(body).unwrap().contains("cloudsync_runs_queued 0"));
}
