//! Configuration export and import between servers with different secret seeds.

use protocol::ErrorCode;
use serde_json::{json, Value};

use crate::helpers::spawn_app;
use crate::storage::{StorageServer, PASSWORD, USER};

async fn app_with_one_credential(dav: &StorageServer) -> (crate::helpers::TestApp, crate::helpers::RpcClient) {
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    crate::fixtures::credential(&mut c, dav, "dav").await;
    (app, c)
}

fn names(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_backup_without_the_seed_holds_no_secret_and_cannot_be_read_elsewhere() {
    let dav = StorageServer::webdav();
    let (_source, mut c) = app_with_one_credential(&dav).await;
    let backup = c.call("config.export", json!({"include_secret_seed": false})).await.unwrap();
    assert_eq!(backup["format"], "cloudsync-config");
    assert_eq!(backup["secret_seed"], Value::Null);
    assert_eq!(backup["credentials"][0]["name"], "dav");
    let text = backup.to_string();
    assert!(!text.contains(PASSWORD) && !text.contains(USER));

    // A fresh install has another seed: the credential comes over, unreadable, and
    // says to re-enter it.
    let target = spawn_app().await;
    let mut t = target.logged_in_client().await;
    let report = t.call("config.import", json!({"backup": backup})).await.unwrap();
    assert_eq!(names(&report["cannot_decrypt"]), ["dav"]);
    assert_eq!(names(&report["imported"]), Vec::<String>::new());
    let got = t.call("credential.list", json!({})).await.unwrap();
    assert_eq!(got[0]["state"], "cannot_decrypt");
    assert!(got[0]["problem"].as_str().unwrap().contains("enter this credential's settings again"));
}

#[tokio::test]
async fn a_backup_with_the_seed_restores_working_credentials_into_a_fresh_install() {
    let dav = StorageServer::webdav();
    let (_source, mut c) = app_with_one_credential(&dav).await;
    let backup = c
        .call("config.export", json!({"include_secret_seed": true, "password": crate::helpers::ADMIN_PASSWORD}))
        .await
        .unwrap();
    assert!(backup["secret_seed"].as_str().unwrap().len() >= 43);

    let target = spawn_app().await;
    let mut t = target.logged_in_client().await;
    let report = t.call("config.import", json!({"backup": backup})).await.unwrap();
    assert_eq!(names(&report["imported"]), ["dav"]);
    let id = t.call("credential.list", json!({})).await.unwrap()[0]["id"].clone();
    assert_eq!(
        t.call("credential.verify", json!({"id": id})).await.unwrap()["ok"],
        true,
        "the restored password works"
    );

    // Importing again clashes on the name: reported, not overwritten.
    let report = t.call("config.import", json!({"backup": backup})).await.unwrap();
    assert_eq!(report["skipped"][0]["name"], "dav");
    assert!(report["skipped"][0]["reason"].as_str().unwrap().contains("already exists"));
    assert_eq!(t.call("credential.list", json!({})).await.unwrap().as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_backup_without_the_seed_restores_into_the_same_install() {
    let dav = StorageServer::webdav();
    let (app, mut c) = app_with_one_credential(&dav).await;
    let backup = c.call("config.export", json!({})).await.unwrap();
    let id = backup["credentials"][0]["id"].clone();
    c.call("credential.delete", json!({"id": id})).await.unwrap();
    let report = c.call("config.import", json!({"backup": backup})).await.unwrap();
    assert_eq!(names(&report["imported"]), ["dav"]);
    let new_id = c.call("credential.list", json!({})).await.unwrap()[0]["id"].clone();
    assert_ne!(new_id, id, "a new row, re-sealed for its new id");
    assert_eq!(c.call("credential.verify", json!({"id": new_id})).await.unwrap()["ok"], true);
    drop(app);
}

#[tokio::test]
async fn a_malformed_backup_names_the_bad_fields_and_changes_nothing() {
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    let backup = json!({
        "format": "something-else", "version": 9, "created_at": "x", "cloudsync_version": "0",
        "secret_seed": "not base64!!",
        "credentials": [{"id": 1, "name": "ok", "provider": "webdav", "sealed": "AAAA"},
                        {"id": 2, "name": "", "provider": "webdav", "sealed": "%%%"}]
    });
    let e = c.call("config.import", json!({"backup": backup})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
    for field in [
        "backup.format",
        "backup.version",
        "backup.secret_seed",
        "backup.credentials[1].name",
        "backup.credentials[1].sealed",
    ] {
        assert!(e.field_error(field).is_some(), "{field} named in {e:?}");
    }
    assert_eq!(c.call("credential.list", json!({})).await.unwrap(), json!([]));
}

/// Runs a task to its end on `c` and returns the run.
async fn run_to_end(c: &mut crate::helpers::RpcClient, task: &Value) -> Value {
    let run_id = c.call("task.run", json!({"id": task["id"]})).await.unwrap()["run_id"].clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let run = c.call("run.get", json!({"id": run_id})).await.unwrap();
        if !matches!(run["state"].as_str(), Some("QUEUED" | "RUNNING")) {
            return run;
        }
        assert!(std::time::Instant::now() < deadline, "run did not end: {run}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn tasks_travel_in_the_backup_disabled_with_their_encryption_password() {
    let dav = StorageServer::webdav();
    let (source, mut c) = app_with_one_credential(&dav).await;
    let cred = c.call("credential.list", json!({})).await.unwrap()[0]["id"].clone();
    let local = source.data_dir.path().join("secret-photos");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join("p.txt"), b"only readable with the password").unwrap();
    let task = c
        .call(
            "task.create",
            json!({"description": "encrypted photos", "credentials": cred, "direction": "PUSH", "transfer_mode": "COPY",
                   "path": local, "attributes": {"folder": "enc"}, "encryption": true, "filename_encryption": true,
                   "encryption_password": "crypt-pass-123", "schedule": {"minute": "0", "hour": "3", "dom": "*",
                   "month": "*", "dow": "*", "begin": "00:00", "end": "23:59"}}),
        )
        .await
        .unwrap();
    assert_eq!(run_to_end(&mut c, &task).await["state"], "SUCCESS");
    let backup = c
        .call("config.export", json!({"include_secret_seed": true, "password": crate::helpers::ADMIN_PASSWORD}))
        .await
        .unwrap();
    assert_eq!(backup["tasks"][0]["settings"]["description"], "encrypted photos");
    assert!(!backup.to_string().contains("crypt-pass-123"), "the password travels sealed");

    let target = spawn_app().await;
    let mut t = target.logged_in_client().await;
    let report = t.call("config.import", json!({"backup": backup})).await.unwrap();
    assert_eq!(names(&report["tasks_imported"]), ["encrypted photos"]);
    let restored = t.call("task.list", json!({})).await.unwrap()[0].clone();
    let target_cred = t.call("credential.list", json!({})).await.unwrap()[0]["id"].clone();
    assert_eq!(restored["enabled"], false);
    assert_eq!(restored["next_run"], Value::Null, "disabled: not scheduled");
    assert_eq!(restored["credentials"], target_cred);
    assert_eq!(restored["schedule"]["hour"], "3");
    assert_eq!(restored["encryption_password"], json!({"secret": true, "set": true}));

    // The restored password decrypts what the source server encrypted.
    let into = target.data_dir.path().join("back");
    std::fs::create_dir_all(&into).unwrap();
    let pull =
        t.call("task.restore", json!({"id": restored["id"], "transfer_mode": "COPY", "path": into})).await.unwrap();
    assert_eq!(run_to_end(&mut t, &pull).await["state"], "SUCCESS");
    assert_eq!(std::fs::read(into.join("p.txt")).unwrap(), b"only readable with the password");

    // Importing again skips what exists.
    let again = t
        .call(
            "config.import",
            json!({"backup": c.call("config.export", json!({"include_secret_seed": true, "password": crate::helpers::ADMIN_PASSWORD})).await.unwrap()}),
        )
        .await
        .unwrap();
    assert_eq!(again["tasks_skipped"][0]["name"], "encrypted photos");
    assert_eq!(again["tasks_skipped"][0]["reason"], "a task with this description already exists");
}
