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
