//! Guards that keep a sync from destroying what it protects (issue: data safety).

use std::path::Path;

use serde_json::json;

use crate::fixtures::{credential, make_task, run_to_end};
use crate::helpers::spawn_app;
use crate::storage::StorageServer;

/// The files in `dir` with their bytes (none when the server removed the emptied folder).
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_sync_from_an_empty_or_missing_source_deletes_nothing_unless_allowed() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    let backup = s3.mkdir("guard/photos");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let parent = tempfile::tempdir().unwrap();
    let local = parent.path().join("disk");
    std::fs::create_dir(&local).unwrap();
    for i in 0..10 {
        std::fs::write(local.join(format!("f{i}.jpg")), format!("photo {i} ").repeat(100 + i)).unwrap();
    }
    let task = make_task(&mut c, cred, "PUSH", "SYNC", &local, "guard", "photos", json!({})).await;
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "SUCCESS", "{run}");
    let before = files(&backup);
    assert_eq!(before.len(), 10);

    // The disk "is not mounted": an empty folder, then no folder at all.
    for f in std::fs::read_dir(&local).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "FAILED", "{run}");
    assert_eq!(run["error"], "source is empty (is the disk mounted?); nothing was deleted");
    assert_eq!(files(&backup), before, "all 10 files still there, byte for byte");
    std::fs::remove_dir(&local).unwrap();
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "FAILED", "{run}");
    assert_eq!(run["error"], "source is empty (is the disk mounted?); nothing was deleted");
    assert_eq!(files(&backup), before);

    // A PULL SYNC from an empty remote folder into a full local one: the same guard.
    let restore = parent.path().join("restore");
    std::fs::create_dir(&restore).unwrap();
    std::fs::write(restore.join("keep.txt"), "mine").unwrap();
    s3.mkdir("guard/empty");
    let pull = make_task(&mut c, cred, "PULL", "SYNC", &restore, "guard", "empty", json!({})).await;
    let run = run_to_end(&mut c, pull, false).await;
    assert_eq!(run["error"], "source is empty (is the disk mounted?); nothing was deleted", "{run}");
    assert_eq!(std::fs::read_to_string(restore.join("keep.txt")).unwrap(), "mine");

    // Allowed (and no deletion limit): the sync mirrors the empty folder, as asked.
    std::fs::create_dir(&local).unwrap();
    let mut settings = c.call("task.get", json!({"id": task})).await.unwrap();
    for k in ["id", "last_run", "next_run", "created_at", "updated_at"] {
        settings.as_object_mut().unwrap().remove(k);
    }
    settings["id"] = json!(task);
    settings["allow_empty_source"] = json!(true);
    settings["max_delete_percent"] = json!(null); // else the deletion guard stops it
    let saved = c.call("task.update", settings).await.unwrap();
    assert_eq!(saved["allow_empty_source"], true);
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "SUCCESS", "{run}");
    assert!(files(&backup).is_empty(), "allowed, the sync deleted what the source no longer has");
}

#[tokio::test]
async fn a_sync_that_would_delete_most_of_the_destination_stops_until_allowed_once() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    let backup = s3.mkdir("share/docs");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let local = tempfile::tempdir().unwrap();
    for i in 0..10 {
        std::fs::write(local.path().join(format!("d{i}.txt")), format!("document {i}")).unwrap();
    }
    let task = make_task(&mut c, cred, "PUSH", "SYNC", local.path(), "share", "docs", json!({})).await;
    assert_eq!(c.call("task.get", json!({"id": task})).await.unwrap()["max_delete_percent"], 50, "the default");
    assert_eq!(run_to_end(&mut c, task, false).await["state"], "SUCCESS");
    let before = files(&backup);

    // 8 of 10 gone from the source: the sync would delete 80% of the destination.
    for i in 0..8 {
        std::fs::remove_file(local.path().join(format!("d{i}.txt"))).unwrap();
    }
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "FAILED", "{run}");
    let error = run["error"].as_str().unwrap();
    assert!(error.starts_with("this sync would delete 8 of the 10 files at the destination, more than 50%"), "{error}");
    assert_eq!(files(&backup), before, "nothing was deleted");

    // Allowed once: exactly those 8 go.
    let run_id =
        c.call("task.run", json!({"id": task, "allow_deletes": true})).await.unwrap()["run_id"].as_i64().unwrap();
    let run = crate::fixtures::finished(&mut c, run_id).await;
    assert_eq!(run["state"], "SUCCESS", "{run}");
    let left: Vec<String> = files(&backup).into_iter().map(|(n, _)| n).collect();
    assert_eq!(left, vec!["d8.txt", "d9.txt"]);

    // The share is checked like any field, and null turns the guard off.
    let e = c
        .call(
            "task.create",
            json!({"description": "x", "credentials": cred, "direction": "PUSH", "transfer_mode": "SYNC",
            "path": local.path(), "attributes": {"bucket": "share"}, "max_delete_percent": 0}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.field_errors().into_iter().map(|f| f.field).collect::<Vec<_>>(), vec!["max_delete_percent"]);
    let none =
        make_task(&mut c, cred, "PUSH", "SYNC", local.path(), "share", "docs", json!({"max_delete_percent": null}))
            .await;
    assert_eq!(c.call("task.get", json!({"id": none})).await.unwrap()["max_delete_percent"], json!(null));
}

/// With include/exclude rules, both guards count only the files the rules select: those
/// are the files a sync deletes. (Counting every file let a sync that deletes most of
/// the selected ones through, and one whose source kept only unselected files.)
#[tokio::test]
async fn the_guards_count_only_the_files_the_task_selects() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    let backup = s3.mkdir("mixed/photos");
    for i in 0..20 {
        std::fs::write(backup.join(format!("note{i:02}.txt")), "not selected").unwrap();
    }
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let local = tempfile::tempdir().unwrap();
    for i in 0..10 {
        std::fs::write(local.path().join(format!("p{i}.jpg")), format!("photo {i}")).unwrap();
    }
    let task =
        make_task(&mut c, cred, "PUSH", "SYNC", local.path(), "mixed", "photos", json!({"include": ["*.jpg"]})).await;
    assert_eq!(run_to_end(&mut c, task, false).await["state"], "SUCCESS");
    let before = files(&backup);
    assert_eq!(before.len(), 30);

    // 6 of the 10 photos gone: 60% of what the task selects, though 20% of all 30 files.
    for i in 0..6 {
        std::fs::remove_file(local.path().join(format!("p{i}.jpg"))).unwrap();
    }
    let run = run_to_end(&mut c, task, false).await;
    let error = run["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("this sync would delete 6 of the 10 files at the destination, more than 50%"), "{run}");
    assert_eq!(files(&backup), before, "nothing was deleted");

    // Only a file the rules leave out is left: no photo to keep, the backup's photos stay.
    for i in 6..10 {
        std::fs::remove_file(local.path().join(format!("p{i}.jpg"))).unwrap();
    }
    std::fs::write(local.path().join("readme.txt"), "not a photo").unwrap();
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(
        run["error"],
        "the source holds no file the task's include/exclude rules select (is the disk mounted?); nothing was deleted",
        "{run}"
    );
    assert_eq!(files(&backup), before);
}

#[tokio::test]
async fn task_plan_lists_what_a_sync_would_copy_update_and_delete_and_changes_nothing() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    let backup = s3.mkdir("plan/site");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let local = tempfile::tempdir().unwrap();
    let put = |dir: &Path, name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    put(local.path(), "new.html", "a new page");
    put(local.path(), "changed.html", "the page, edited and longer");
    put(local.path(), "same.html", "unchanged");
    put(&backup, "changed.html", "the page");
    put(&backup, "same.html", "unchanged");
    let mtime = std::fs::metadata(local.path().join("same.html")).unwrap().modified().unwrap();
    std::fs::File::options().write(true).open(backup.join("same.html")).unwrap().set_modified(mtime).unwrap();
    put(&backup, "old-1.html", "gone from the source");
    put(&backup, "old-2.html", "also gone");
    let task = make_task(&mut c, cred, "PUSH", "SYNC", local.path(), "plan", "site", json!({})).await;
    let before = files(&backup);

    let plan = c.call_typed::<protocol::tasks::Plan>(protocol::credentials::IdParams { id: task }).await.unwrap();
    assert_eq!((plan.copy.count, plan.copy.bytes, plan.copy.paths.clone()), (1, 10, vec!["new.html".to_string()]));
    assert_eq!((plan.update.count, plan.update.paths.clone()), (1, vec!["changed.html".to_string()]));
    let mut deleted = plan.delete.paths.clone();
    deleted.sort();
    assert_eq!((plan.delete.count, plan.delete.bytes), (2, 29));
    assert_eq!(deleted, vec!["old-1.html", "old-2.html"]);
    assert_eq!(files(&backup), before, "a plan changes nothing");

    let e = c.call("task.plan", json!({"id": 999_999})).await.unwrap_err();
    assert_eq!(e.code, protocol::ErrorCode::NOT_FOUND, "{e:?}");
}

#[tokio::test]
async fn a_failed_run_is_retried_after_doubling_delays_as_linked_runs_and_a_guard_stop_is_not() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    s3.mkdir("retry/files");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("f.txt"), "f").unwrap();
    let counter = tempfile::tempdir().unwrap();
    let count = counter.path().join("attempts");
    // Fails the first two times, then succeeds.
    let script =
        format!("n=$(cat '{0}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{0}'; [ $n -ge 3 ]", count.display());
    let extra = json!({"pre_script": script, "retry": {"attempts": 3, "delay_seconds": 1}});
    let task = make_task(&mut c, cred, "PUSH", "COPY", local.path(), "retry", "files", extra).await;
    assert_eq!(
        c.call("task.get", json!({"id": task})).await.unwrap()["retry"],
        json!({"attempts": 3, "delay_seconds": 1})
    );
    let first = run_to_end(&mut c, task, false).await;
    assert_eq!(first["state"], "FAILED", "{first}");
    let runs = loop {
        let runs = c.call("run.list", json!({"task_id": task})).await.unwrap();
        let runs = runs.as_array().unwrap().clone();
        if runs.len() == 3 && runs[0]["state"] == "SUCCESS" {
            break runs;
        }
        assert!(runs.len() <= 3, "{runs:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let states: Vec<&str> = runs.iter().rev().map(|r| r["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["FAILED", "FAILED", "SUCCESS"]);
    let retry_of: Vec<serde_json::Value> = runs.iter().rev().map(|r| r["retry_of"].clone()).collect();
    assert_eq!(retry_of, [json!(null), first["id"].clone(), first["id"].clone()]);
    // Delays of 1 s, then 2 s, between a run's end and its retry's start.
    let at = |r: &serde_json::Value, k: &str| {
        time::OffsetDateTime::parse(r[k].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap()
    };
    let (r1, r2, r3) = (&runs[2], &runs[1], &runs[0]);
    assert!(at(r2, "queued_at") - at(r1, "finished_at") >= time::Duration::milliseconds(950), "{r1} {r2}");
    assert!(at(r3, "queued_at") - at(r2, "finished_at") >= time::Duration::milliseconds(1950), "{r2} {r3}");
    let log = c.call("run.log", json!({"id": r1["id"], "limit": 100})).await.unwrap().to_string();
    assert!(log.contains("retrying in 1 s (retry 1 of 3)"), "{log}");

    // A run the empty-source guard stopped is not retried: it would stop again.
    std::fs::remove_file(local.path().join("f.txt")).unwrap();
    std::fs::remove_file(&count).unwrap();
    let mut settings = c.call("task.get", json!({"id": task})).await.unwrap();
    for k in ["last_run", "next_run", "created_at", "updated_at"] {
        settings.as_object_mut().unwrap().remove(k);
    }
    settings["transfer_mode"] = json!("SYNC");
    settings["pre_script"] = json!("");
    c.call("task.update", settings).await.unwrap();
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["error"], "source is empty (is the disk mounted?); nothing was deleted", "{run}");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let newest = c.call("run.list", json!({"task_id": task, "limit": 1})).await.unwrap();
    assert_eq!(newest[0]["id"], run["id"], "no retry after a guard stopped the run");
}
