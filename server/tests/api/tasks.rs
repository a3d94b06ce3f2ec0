//! Sync task settings: validation against the server's state, secrets sealed and
//! masked, restore, and credentials that tasks use.

use protocol::ErrorCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, RpcClient};
use crate::storage::StorageServer;

async fn s3_credential(c: &mut RpcClient, s3: &StorageServer) -> i64 {
    crate::fixtures::credential(c, s3, "s3").await
}

fn task(credential: i64, path: &str) -> Value {
    json!({"description": "photos to s3", "credentials": credential, "direction": "PUSH", "transfer_mode": "SYNC",
           "path": path, "attributes": {"bucket": "photos", "folder": "2026"}, "include": ["**/*.jpg"],
           "bwlimit": [{"time": "08:00", "bandwidth": 1048576}, {"time": "18:00", "bandwidth": null}],
           "encryption": true, "filename_encryption": true, "encryption_password": "crypt-pass-5521", "encryption_salt": "crypt-salt-8812"})
}

#[tokio::test]
async fn a_task_is_stored_with_its_crypt_secrets_sealed_and_masked() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    let local = tempfile::tempdir().unwrap();
    let mut c = app.logged_in_client().await;
    let cred = s3_credential(&mut c, &s3).await;
    let created = c.call("task.create", task(cred, local.path().to_str().unwrap())).await.unwrap();
    assert_eq!(created["direction"], "PUSH");
    assert_eq!(created["transfers"], 4, "TrueNAS's default");
    assert_eq!(created["enabled"], true);
    assert_eq!(created["encryption_password"], json!({"secret": true, "set": true}));
    assert_eq!(created["bwlimit"][1]["bandwidth"], Value::Null);
    assert_eq!(created["path"], std::fs::canonicalize(local.path()).unwrap().to_str().unwrap());

    let text = c.call("task.list", json!({})).await.unwrap().to_string();
    assert!(!text.contains("crypt-pass-5521") && !text.contains("crypt-salt-8812"));
    let rows: Vec<(String, Option<Vec<u8>>)> =
        sqlx::query_as("SELECT settings, encryption_sealed FROM sync_tasks").fetch_all(&app.pool).await.unwrap();
    assert!(!rows[0].0.contains("crypt-pass-5521"), "settings JSON holds no secret");
    let sealed = rows[0].1.as_ref().expect("sealed crypt secrets");
    assert!(!sealed.windows(8).any(|w| w == b"crypt-pa"));

    // An update that sends the mask back keeps the password; restore reverses.
    let id = created["id"].as_i64().unwrap();
    let mut edit = task(cred, local.path().to_str().unwrap());
    edit["id"] = json!(id);
    edit["encryption_password"] = json!({"secret": true, "set": true});
    edit["encryption_salt"] = json!({"secret": true, "set": true});
    edit["description"] = json!("renamed");
    let updated = c.call("task.update", edit).await.unwrap();
    assert_eq!(updated["description"], "renamed");
    assert_eq!(updated["encryption_password"], json!({"secret": true, "set": true}));

    let target = tempfile::tempdir().unwrap();
    let restore =
        c.call("task.restore", json!({"id": id, "transfer_mode": "COPY", "path": target.path()})).await.unwrap();
    assert_eq!(restore["direction"], "PULL");
    assert_eq!(restore["transfer_mode"], "COPY");
    assert_eq!(restore["enabled"], false);
    assert_eq!(restore["description"], "Restore of renamed");
    assert_eq!(restore["attributes"], json!({"bucket": "photos", "folder": "2026"}));
    assert_eq!(restore["encryption_password"], json!({"secret": true, "set": true}), "the crypt password comes along");
}

#[tokio::test]
async fn bad_task_settings_name_each_field_and_store_nothing() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    let local = tempfile::tempdir().unwrap();
    let file = local.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let mut c = app.logged_in_client().await;
    let cred = s3_credential(&mut c, &s3).await;

    let mut bad = task(cred, file.to_str().unwrap());
    bad["attributes"]["bucket"] = json!("");
    bad["include"] = json!(["{unclosed"]);
    bad["bwlimit"] = json!([{"time": "18:00", "bandwidth": 1}, {"time": "08:00", "bandwidth": 2}]);
    bad["transfers"] = json!(0);
    bad["encryption_password"] = json!("");
    bad["extra_flags"] = json!(["--fast-list", "--config=/etc/shadow", "--s3-storage-class", "--s3-storage-class=a b"]);
    let e = c.call("task.create", bad).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
    let expect = [
        ("path", "is not a directory"),
        ("attributes.bucket", "is required for s3"),
        ("include[0]", "`{unclosed` has an unclosed { or ["),
        ("bwlimit[1].time", "must be later than the entry before it"),
        ("transfers", "must be between 1 and 64"),
        ("encryption_password", "is required when encryption is on"),
        ("extra_flags[1]", "`--config` is not a flag cloudsync allows (see SAFE_FLAGS in docs/api.md)"),
        ("extra_flags[2]", "`--s3-storage-class` needs a value: --s3-storage-class=VALUE"),
        ("extra_flags[3]", "the value of --s3-storage-class must be 1 to 64 letters, digits or ._:-"),
    ];
    for (field, message) in expect {
        assert_eq!(e.field_error(field).as_deref(), Some(message), "{field}: {e}");
    }
    assert!(e.field_error("extra_flags[0]").is_none(), "--fast-list is allowed: {e}");

    let e = c.call("task.create", task(cred, "/nonexistent/folder")).await.unwrap_err();
    assert_eq!(e.field_error("path").as_deref(), Some("does not exist"));
    let e = c.call("task.create", task(cred, "/")).await.unwrap_err();
    assert!(e.field_error("path").unwrap().starts_with("must not be / itself"));
    let e = c.call("task.create", task(999, local.path().to_str().unwrap())).await.unwrap_err();
    assert_eq!(e.field_error("credentials").as_deref(), Some("credential 999 does not exist"));
    let mut wrong_enum = task(cred, local.path().to_str().unwrap());
    wrong_enum["direction"] = json!("SIDEWAYS");
    let e = c.call("task.create", wrong_enum).await.unwrap_err();
    assert!(e.field_error("direction").unwrap().contains("unknown variant"), "{e}");

    assert_eq!(c.call("task.list", json!({})).await.unwrap(), json!([]));
}

#[tokio::test]
async fn a_credential_in_use_cannot_be_deleted_and_the_error_names_the_tasks() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    let local = tempfile::tempdir().unwrap();
    let mut c = app.logged_in_client().await;
    let cred = s3_credential(&mut c, &s3).await;
    let id = c.call("task.create", task(cred, local.path().to_str().unwrap())).await.unwrap()["id"].clone();

    let e = c.call("credential.delete", json!({"id": cred})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::CONFLICT);
    assert!(e.message.contains(&format!("“photos to s3” (task {id})")), "{}", e.message);
    assert_eq!(c.call("credential.get", json!({"id": cred})).await.unwrap()["id"], cred, "still there");

    c.call("task.delete", json!({"id": id})).await.unwrap();
    assert_eq!(c.call("task.get", json!({"id": id})).await.unwrap_err().code, ErrorCode::NOT_FOUND);
    c.call("credential.delete", json!({"id": cred})).await.unwrap();
}

#[tokio::test]
async fn allowed_roots_are_checked_again_when_a_run_starts() {
    let roots = crate::helpers::traversable_tempdir();
    let (inside, elsewhere) = (roots.path().join("inside"), roots.path().join("elsewhere"));
    std::fs::create_dir_all(inside.join("data")).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    let allow = inside.clone();
    let app = crate::helpers::spawn_app_with(move |s| s.allowed_roots = vec![allow]).await;
    let mut c = app.logged_in_client().await;
    let dav = crate::storage::StorageServer::webdav();
    let cred = json!({"id": crate::fixtures::credential(&mut c, &dav, "dav").await});
    let outside = c
        .call(
            "task.create",
            json!({"description": "outside", "credentials": cred["id"], "direction": "PUSH", "transfer_mode": "COPY",
                   "path": elsewhere}),
        )
        .await
        .unwrap_err();
    assert!(outside.field_error("path").unwrap().starts_with("must be under one of the allowed roots"), "{outside}");
    let task = c
        .call(
            "task.create",
            json!({"description": "inside", "credentials": cred["id"], "direction": "PUSH", "transfer_mode": "COPY",
                   "path": inside.join("data")}),
        )
        .await
        .unwrap();
    drop(c);
    // Restarted with other roots, the saved task no longer runs.
    let allow = elsewhere.clone();
    let app = app.restart_with(move |s| s.allowed_roots = vec![allow]).await;
    let mut c = app.logged_in_client().await;
    let run_id = c.call("task.run", json!({"id": task["id"]})).await.unwrap()["run_id"].clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let run = loop {
        let run = c.call("run.get", json!({"id": run_id})).await.unwrap();
        if !matches!(run["state"].as_str(), Some("QUEUED" | "RUNNING")) {
            break run;
        }
        assert!(std::time::Instant::now() < deadline, "{run}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(run["state"], "FAILED");
    assert!(run["error"].as_str().unwrap().contains("must be under one of the allowed roots"), "{run}");
}
