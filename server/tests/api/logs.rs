//! The log pipeline at volume: the writer's bound, and followers of a 200 000-line run
//! (one reading along, one that stops reading for a while) getting every line once.

use std::time::Duration;

use cloudsync::logstore::live::LiveHub;
use cloudsync::logstore::{LogWriter, BATCH_LINES};
use protocol::runs::{LogLevel, LogSource};
use serde_json::json;

use crate::fixtures::{credential, make_task};
use crate::helpers::{spawn_app, RpcClient};
use crate::storage::StorageServer;

#[tokio::test]
async fn the_log_writer_never_holds_more_than_its_batch_and_publishes_each_stored_batch_whole() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let local = tempfile::tempdir().unwrap();
    let task = make_task(&mut c, cred, "PUSH", "COPY", local.path(), "b", "", json!({})).await;
    let run_id: i64 = sqlx::query_scalar("INSERT INTO runs (task_id, state) VALUES ($1, 'SUCCESS') RETURNING id")
        .bind(task)
        .fetch_one(&app.pool)
        .await
        .unwrap();

    let hub = LiveHub::default();
    let mut live = hub.subscribe_logs();
    let mut log = LogWriter::new(app.pool.clone(), run_id).live(hub);
    let total = 5 * BATCH_LINES + 17;
    let mut most = 0;
    for i in 0..total {
        log.push(LogLevel::Info, LogSource::Rclone, &format!("line {i} {}", "x".repeat(i % 300))).await;
        most = most.max(log.buffered());
    }
    log.flush().await;
    assert!(most <= BATCH_LINES, "the writer held {most} lines (bound {BATCH_LINES})");

    let (count, min, max): (i64, i64, i64) =
        sqlx::query_as("SELECT count(*), min(seq), max(seq) FROM run_logs WHERE run_id = $1")
            .bind(run_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((count, min, max), (total as i64, 1, total as i64), "every line stored once");

    // Published only once stored, in whole batches of consecutive lines, in order.
    let mut next = 1;
    while next <= total as i64 {
        let batch = tokio::time::timeout(Duration::from_secs(5), live.recv()).await.unwrap().unwrap();
        assert!(batch.lines.len() <= BATCH_LINES);
        assert_eq!(batch.first_seq(), next, "batches follow each other without gaps");
        assert!(batch.lines.windows(2).all(|w| w[1].seq == w[0].seq + 1));
        next = batch.last_seq() + 1;
    }
    assert_eq!(next, total as i64 + 1);

    // The lines go with their run: deleting the task deletes its runs and their logs.
    c.call("task.delete", json!({"id": task})).await.unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM run_logs WHERE run_id = $1")
        .bind(run_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

/// Reads a follower's notifications until the run's final state: the seqs it got.
async fn follow_to_end(c: &mut RpcClient) -> (Vec<i64>, String) {
    let mut seqs = Vec::new();
    loop {
        let (method, params) = c.notification().await;
        match method.as_str() {
            "run.log" => seqs.extend(params["lines"].as_array().unwrap().iter().map(|l| l["seq"].as_i64().unwrap())),
            "run.state" if !matches!(params["state"].as_str(), Some("QUEUED" | "RUNNING")) => {
                return (seqs, params["state"].as_str().unwrap().to_string())
            }
            "run.lagged" => panic!("the server gave up on a slow follower: {params}"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn followers_of_a_200_000_line_run_get_every_line_once_even_one_that_stops_reading() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    s3.mkdir("burst");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let local = tempfile::tempdir().unwrap();
    let task =
        make_task(&mut c, cred, "PUSH", "SYNC", local.path(), "burst", "", json!({"pre_script": "seq 1 200000\n"}))
            .await;

    let run_id = c.call("task.run", json!({"id": task})).await.unwrap()["run_id"].as_i64().unwrap();
    let mut reader = app.logged_in_client().await;
    reader.call("run.follow", json!({"id": run_id, "after_seq": 0})).await.unwrap();
    let mut sleeper = app.logged_in_client().await;
    sleeper.call("run.follow", json!({"id": run_id, "after_seq": 0})).await.unwrap();

    let reading = tokio::spawn(async move { follow_to_end(&mut reader).await });
    // The sleeper reads nothing for a while: its socket fills, the server must neither
    // drop it nor keep the run's log in memory for it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (slept, slept_end) = follow_to_end(&mut sleeper).await;
    let (read, read_end) = reading.await.unwrap();

    let stored: Vec<i64> = sqlx::query_scalar("SELECT seq FROM run_logs WHERE run_id = $1 ORDER BY seq")
        .bind(run_id)
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(stored.len() > 200_000, "every script line and the runner's: {}", stored.len());
    assert_eq!((read_end.as_str(), slept_end.as_str()), ("SUCCESS", "SUCCESS"));
    assert!(read == stored, "the reading follower got every line once, in order ({} of {})", read.len(), stored.len());
    assert!(
        slept == stored,
        "the sleeping follower got every line once, in order ({} of {})",
        slept.len(),
        stored.len()
    );
}

#[tokio::test]
async fn a_log_pages_back_from_its_end_is_searched_in_the_database_and_downloads_once() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    s3.mkdir("pages");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let local = tempfile::tempdir().unwrap();
    let script = "for i in $(seq 1 3000); do echo \"line $i\"; done\necho 'only 50% done'\necho 'only 50x done'\n";
    let task = make_task(&mut c, cred, "PUSH", "COPY", local.path(), "pages", "", json!({"pre_script": script})).await;
    let run = crate::fixtures::run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "SUCCESS", "{run}");
    let run_id = run["id"].as_i64().unwrap();
    let all: Vec<(i64, String)> = sqlx::query_as("SELECT seq, message FROM run_logs WHERE run_id = $1 ORDER BY seq")
        .bind(run_id)
        .fetch_all(&app.pool)
        .await
        .unwrap();
    let seqs = |v: &serde_json::Value| -> Vec<i64> {
        v.as_array().unwrap().iter().map(|l| l["seq"].as_i64().unwrap()).collect()
    };

    // The tail, then the page before it, oldest first.
    let tail = c.call("run.log", json!({"id": run_id, "before_seq": i64::MAX, "limit": 3})).await.unwrap();
    let last = all.last().unwrap().0;
    assert_eq!(seqs(&tail), vec![last - 2, last - 1, last]);
    let before = c.call("run.log", json!({"id": run_id, "before_seq": last - 2, "limit": 2})).await.unwrap();
    assert_eq!(seqs(&before), vec![last - 4, last - 3]);

    // Search: in the database, ignoring case, `%` a plain character.
    let hits = c.call("run.log", json!({"id": run_id, "query": "50%"})).await.unwrap();
    let messages: Vec<&str> = hits.as_array().unwrap().iter().map(|l| l["message"].as_str().unwrap()).collect();
    assert_eq!(messages, vec!["only 50% done"]);
    let hits = c.call("run.log", json!({"id": run_id, "query": "LINE 299", "limit": 10000})).await.unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 11, "line 299 and 2990…2999: {hits}");
    let e = c.call("run.log", json!({"id": run_id, "query": "x".repeat(201)})).await.unwrap_err();
    assert_eq!(e.field_errors().into_iter().map(|f| f.field).collect::<Vec<_>>(), vec!["query"]);

    // The download: every stored line in order, streamed; the link works once.
    let d = c.call("run.download", json!({"id": run_id})).await.unwrap();
    let url = d["url"].as_str().unwrap();
    assert!(url.starts_with("/api/download/") && url.len() > 40, "{url}");
    let (status, headers, body) = crate::helpers::http_get(app.addr, url, &[]).await;
    assert_eq!(status, 200);
    let disposition = crate::helpers::header(&headers, "content-disposition").unwrap();
    assert_eq!(disposition, format!("attachment; filename=\"cloudsync-run-{run_id}.log\""));
    let text = String::from_utf8(body).unwrap();
    let got: Vec<&str> = text.lines().map(|l| l.split_once(": ").unwrap().1).collect();
    let want: Vec<&str> = all.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the download holds every line in order");
    let (again, _, _) = crate::helpers::http_get(app.addr, url, &[]).await;
    assert_eq!(again, 404, "a ticket works once");
    let e = c.call("run.download", json!({"id": run_id + 1000})).await.unwrap_err();
    assert_eq!(e.code, protocol::ErrorCode::NOT_FOUND);
}
