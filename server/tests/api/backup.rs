//! Configuration export and import between servers with different secret seeds.

use protocol::ErrorCode;
use serde_json::{json, Value};

use crate::helpers::spawn_app;
use crate::storage::{StorageServer, PASSWORD, USER};

async fn app_with_one_credential(dav: &StorageServer) -> (crate::helpers::TestApp, crate::helpers::RpcClient) {
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    let (provider, attrs) = dav.credential();
    c.call("credential.create", json!({"name": "dav", "provider": provider, "attributes": attrs})).await.unwrap();
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
    let backup = c.call("config.export", json!({"include_secret_seed": true})).await.unwrap();
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
