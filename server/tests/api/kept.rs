//! keep_deleted and verify: a sync keeps what it deletes or overwrites, and can prove
//! the destination holds the source's bytes (issue: data safety).

use std::path::Path;

use serde_json::json;

use crate::fixtures::{credential, make_task, run_to_end};
use crate::helpers::spawn_app;
use crate::storage::StorageServer;

/// Every file under `dir`, as (path relative to `dir`, bytes), sorted.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

async fn log_text(c: &mut crate::helpers::RpcClient, run: &serde_json::Value) -> String {
    let lines = c.call("run.log", json!({"id": run["id"], "limit": 1000})).await.unwrap();
    lines.as_array().unwrap().iter().map(|l| l["message"].as_str().unwrap_or("").to_string() + "\n").collect()
}

#[tokio::test]
async fn a_sync_with_keep_deleted_moves_deleted_and_overwritten_files_into_a_dated_folder_and_prunes_old_ones() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    let backup = s3.mkdir("keep/photos");
    let kept = s3.root().join("keep/photos.cloudsync-deleted");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let local = tempfile::tempdir().unwrap();
    for (name, text) in [("a.jpg", "photo a"), ("b.jpg", "photo b, first version"), ("c.jpg", "photo c")] {
        std::fs::write(local.path().join(name), text).unwrap();
    }
    let extra = json!({"keep_deleted": true, "max_delete_percent": null});
    let task = make_task(&mut c, cred, "PUSH", "SYNC", local.path(), "keep", "photos", extra).await;
    let saved = c.call("task.get", json!({"id": task})).await.unwrap();
    assert_eq!((saved["keep_deleted"].clone(), saved["keep_deleted_days"].clone()), (json!(true), json!(null)));
    assert_eq!(run_to_end(&mut c, task, false).await["state"], "SUCCESS");
    assert_eq!(tree(&backup).len(), 3);
    assert!(tree(&kept).is_empty(), "nothing deleted yet, nothing kept");

    // a.jpg removed at the source, b.jpg changed: both old copies are kept.
    std::fs::remove_file(local.path().join("a.jpg")).unwrap();
    std::fs::write(local.path().join("b.jpg"), "photo b, the second and longer version").unwrap();
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "SUCCESS", "{run}");
    let names: Vec<String> = tree(&backup).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, vec!["b.jpg", "c.jpg"]);
    assert_eq!(std::fs::read_to_string(backup.join("b.jpg")).unwrap(), "photo b, the second and longer version");
    let kept_files = tree(&kept);
    assert_eq!(kept_files.len(), 2, "{kept_files:?}");
    let stamp = kept_files[0].0.split('/').next().unwrap().to_string();
    assert!(stamp.len() == 18 && stamp.ends_with('Z'), "a dated folder like 2026-12-01T030000Z: {stamp}");
    assert_eq!(kept_files[0], (format!("{stamp}/a.jpg"), b"photo a".to_vec()));
    assert_eq!(kept_files[1], (format!("{stamp}/b.jpg"), b"photo b, first version".to_vec()));
    assert!(log_text(&mut c, &run).await.contains("photos.cloudsync-deleted/"), "the log says where they went");

    // With keep_deleted_days, folders older than that go after a successful run; the
    // recent one, and a folder that is not one of ours, stay.
    std::fs::create_dir_all(kept.join("2020-01-01T000000Z")).unwrap();
    std::fs::write(kept.join("2020-01-01T000000Z/old.jpg"), "old").unwrap();
    std::fs::create_dir_all(kept.join("notes")).unwrap();
    std::fs::write(kept.join("notes/readme.txt"), "mine").unwrap();
    let mut settings = saved.clone();
    for k in ["last_run", "next_run", "created_at", "updated_at"] {
        settings.as_object_mut().unwrap().remove(k);
    }
    settings["keep_deleted_days"] = json!(30);
    c.call("task.update", settings.clone()).await.unwrap();
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "SUCCESS", "{run}");
    let left: Vec<String> = tree(&kept).into_iter().map(|(n, _)| n).collect();
    assert_eq!(left, vec![format!("{stamp}/a.jpg"), format!("{stamp}/b.jpg"), "notes/readme.txt".to_string()]);
    assert!(log_text(&mut c, &run).await.contains("removed the files kept at 2020-01-01T000000Z (older than 30 days)"));

    // Turning keep_deleted off never touches what was kept (the name is reserved), and
    // days without keep_deleted is refused, naming the field.
    settings["keep_deleted"] = json!(false);
    let e = c.call("task.update", settings.clone()).await.unwrap_err();
    assert_eq!(e.field_errors().into_iter().map(|f| f.field).collect::<Vec<_>>(), vec!["keep_deleted_days"]);
    settings["keep_deleted_days"] = json!(0);
    settings["keep_deleted"] = json!(true);
    let e = c.call("task.update", settings).await.unwrap_err();
    assert_eq!(e.field_errors().into_iter().map(|f| f.field).collect::<Vec<_>>(), vec!["keep_deleted_days"]);
}

#[tokio::test]
async fn a_sync_to_a_bucket_root_keeps_deleted_files_inside_it_and_leaves_them_alone() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    let bucket = s3.mkdir("rootkeep");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("x.txt"), "x").unwrap();
    std::fs::write(local.path().join("y.txt"), "y").unwrap();
    let extra = json!({"keep_deleted": true, "max_delete_percent": null});
    let task = make_task(&mut c, cred, "PUSH", "SYNC", local.path(), "rootkeep", "", extra).await;
    assert_eq!(run_to_end(&mut c, task, false).await["state"], "SUCCESS");
    std::fs::remove_file(local.path().join("x.txt")).unwrap();
    assert_eq!(run_to_end(&mut c, task, false).await["state"], "SUCCESS");
    // A third run must not sync (delete) the kept folder it finds at the destination.
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "SUCCESS", "{run}");
    let files = tree(&bucket);
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files[0].0.starts_with(".cloudsync-deleted/") && files[0].0.ends_with("/x.txt"), "{files:?}");
    assert_eq!(files[1], ("y.txt".to_string(), b"y".to_vec()));
}

#[tokio::test]
async fn verify_finds_a_destination_file_whose_bytes_changed_behind_the_same_size_and_time() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    let backup = s3.mkdir("verify/files");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let local = tempfile::tempdir().unwrap();
    for i in 0..3 {
        std::fs::write(local.path().join(format!("f{i}.bin")), format!("original content {i}")).unwrap();
    }
    let task = make_task(&mut c, cred, "PUSH", "SYNC", local.path(), "verify", "files", json!({"verify": true})).await;
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "SUCCESS", "{run}");
    assert_eq!((run["stats"]["verified"].clone(), run["stats"]["differences"].clone()), (json!(3), json!(0)), "{run}");

    // Same size, same modification time, other bytes: a sync sees nothing to do.
    let victim = backup.join("f1.bin");
    let mtime = std::fs::metadata(&victim).unwrap().modified().unwrap();
    std::fs::write(&victim, "ORIGINAL CONTENT 1").unwrap();
    std::fs::File::options().write(true).open(&victim).unwrap().set_modified(mtime).unwrap();
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "FAILED", "{run}");
    assert_eq!(run["stats"]["transfers"], 0, "the sync itself skipped it: {run}");
    assert_eq!(run["error"], "verification found 1 difference(s) at the destination: differs: f1.bin", "{run}");
    assert_eq!((run["stats"]["verified"].clone(), run["stats"]["differences"].clone()), (json!(2), json!(1)));
    assert!(log_text(&mut c, &run).await.contains("verification: differs: f1.bin"));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "ORIGINAL CONTENT 1", "verification changes nothing");
}

#[tokio::test]
async fn verify_of_an_encrypted_push_uses_cryptcheck_and_finds_an_altered_file() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    let backup = s3.mkdir("vcrypt/sealed");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &s3, "s3").await;
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("diary.txt"), "dear diary, ".repeat(50)).unwrap();
    std::fs::write(local.path().join("notes.txt"), "some notes").unwrap();
    let extra = json!({"verify": true, "encryption": true, "filename_encryption": true,
                       "encryption_password": "correct horse battery staple"});
    let task = make_task(&mut c, cred, "PUSH", "SYNC", local.path(), "vcrypt", "sealed", extra).await;
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "SUCCESS", "{run}");
    assert_eq!(run["stats"]["verified"], 2, "{run}");
    assert!(log_text(&mut c, &run).await.contains("rclone cryptcheck"));

    // The bigger encrypted file is the diary: flip its last byte, keep size and time.
    let mut sealed: Vec<_> = std::fs::read_dir(&backup).unwrap().map(|e| e.unwrap().path()).collect();
    sealed.sort_by_key(|p| std::fs::metadata(p).unwrap().len());
    let victim = sealed.last().unwrap();
    assert!(!victim.file_name().unwrap().to_string_lossy().contains("diary"), "names are encrypted");
    let mtime = std::fs::metadata(victim).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(victim).unwrap();
    *bytes.last_mut().unwrap() ^= 0xff;
    std::fs::write(victim, &bytes).unwrap();
    std::fs::File::options().write(true).open(victim).unwrap().set_modified(mtime).unwrap();
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "FAILED", "{run}");
    assert_eq!(run["error"], "verification found 1 difference(s) at the destination: differs: diary.txt", "{run}");
}

#[tokio::test]
async fn verify_reads_both_sides_when_they_share_no_hash() {
    let app = spawn_app().await;
    let ftp = StorageServer::ftp();
    let backup = ftp.mkdir("plain");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &ftp, "ftp").await;
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("a.txt"), "alpha").unwrap();
    std::fs::write(local.path().join("b.txt"), "bravo").unwrap();
    let task = make_task(&mut c, cred, "PUSH", "SYNC", local.path(), "", "plain", json!({"verify": true})).await;
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "SUCCESS", "{run}");
    assert_eq!(run["stats"]["verified"], 2, "{run}");
    assert!(log_text(&mut c, &run).await.contains("share no hash: comparing again by reading both (--download)"));

    // Same size, other bytes: only reading both sides can tell.
    let victim = backup.join("b.txt");
    let mtime = std::fs::metadata(&victim).unwrap().modified().unwrap();
    std::fs::write(&victim, "BRAVO").unwrap();
    std::fs::File::options().write(true).open(&victim).unwrap().set_modified(mtime).unwrap();
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "FAILED", "{run}");
    assert_eq!(run["error"], "verification found 1 difference(s) at the destination: differs: b.txt", "{run}");
}

#[tokio::test]
async fn keep_deleted_and_verify_work_on_sftp_too() {
    let app = spawn_app().await;
    let sftp = StorageServer::sftp();
    let backup = sftp.mkdir("home/docs");
    let mut c = app.logged_in_client().await;
    let cred = credential(&mut c, &sftp, "sftp").await;
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("keep.txt"), "kept").unwrap();
    std::fs::write(local.path().join("drop.txt"), "dropped later").unwrap();
    let extra = json!({"keep_deleted": true, "verify": true, "max_delete_percent": null});
    let task = make_task(&mut c, cred, "PUSH", "SYNC", local.path(), "", "home/docs", extra).await;
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "SUCCESS", "{run}");
    assert_eq!(run["stats"]["verified"], 2, "{run}");
    std::fs::remove_file(local.path().join("drop.txt")).unwrap();
    let run = run_to_end(&mut c, task, false).await;
    assert_eq!(run["state"], "SUCCESS", "{run}");
    assert_eq!(tree(&backup), vec![("keep.txt".to_string(), b"kept".to_vec())]);
    let kept = tree(&sftp.root().join("home/docs.cloudsync-deleted"));
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].0.ends_with("/drop.txt") && kept[0].1 == b"dropped later", "{kept:?}");
}
