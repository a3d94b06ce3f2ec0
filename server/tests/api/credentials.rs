//! Cloud credentials against real storage servers: schema validation, masking,
//! encryption at rest, verify and browse.

use protocol::ErrorCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, RpcClient, TestApp};
use crate::storage::{StorageServer, ACCESS_KEY, PASSWORD, SECRET_KEY, USER};

async fn create(c: &mut RpcClient, name: &str, (provider, attributes): (&str, Value)) -> Value {
    c.call("credential.create", json!({"name": name, "provider": provider, "attributes": attributes}))
        .await
        .expect("credential created")
}

async fn count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM cloud_credentials").fetch_one(&app.pool).await.unwrap()
}

#[tokio::test]
async fn providers_come_from_rclones_schema_without_wrappers() {
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    let list = c.call("provider.list", json!({})).await.unwrap();
    let list = list.as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|p| p["name"].as_str().unwrap()).collect();
    for wanted in ["s3", "sftp", "webdav", "ftp", "azureblob", "b2", "drive", "dropbox"] {
        assert!(names.contains(&wanted), "{wanted} offered");
    }
    for wrapper in ["crypt", "alias", "union", "local", "memory", "chunker"] {
        assert!(!names.contains(&wrapper), "{wrapper} not offered");
    }
    assert!(list.len() > 50, "every backend of rclone 1.75 ({} offered)", list.len());
    let by_name = |n: &str| list.iter().find(|p| p["name"] == n).unwrap();
    let option = |p: &Value, n: &str| p["options"].as_array().unwrap().iter().find(|o| o["name"] == n).unwrap().clone();
    let s3 = by_name("s3");
    assert_eq!(option(s3, "secret_access_key")["secret"], true);
    assert_eq!(option(s3, "secret_access_key")["obscured"], false);
    assert!(option(s3, "provider")["examples"].as_array().unwrap().iter().any(|e| e["value"] == "AWS"));
    assert_eq!(option(by_name("webdav"), "pass")["obscured"], true);
    assert_eq!(by_name("dropbox")["oauth"], true);
    assert_eq!(by_name("sftp")["oauth"], false);
}

#[tokio::test]
async fn bad_attributes_name_each_field_and_store_nothing() {
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    let e =
        c.call("credential.create", json!({"name": "x", "provider": "nosuch", "attributes": {}})).await.unwrap_err();
    assert_eq!(e.field_error("provider").as_deref(), Some("unknown provider `nosuch`; provider.list has the choices"));

    let e =
        c.call("credential.create", json!({"name": " ", "provider": "webdav", "attributes": {}})).await.unwrap_err();
    assert_eq!(e.field_error("name").as_deref(), Some("must not be empty"));

    let e = c
        .call(
            "credential.create",
            json!({"name": "dav", "provider": "webdav", "attributes": {"colour": "blue", "pacer_min_sleep": "soon", "user": ["a"]}}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
    assert_eq!(e.field_error("attributes.colour").as_deref(), Some("is not an option of webdav"));
    assert!(e.field_error("attributes.pacer_min_sleep").unwrap().contains("is not a duration"));
    assert_eq!(e.field_error("attributes.user").as_deref(), Some("must be a string, a number or a boolean"));
    assert_eq!(e.field_error("attributes.url").as_deref(), Some("is required"));

    let e = c
        .call(
            "credential.create",
            json!({"name": "s3", "provider": "s3", "attributes": {"provider": "Ceph", "requester_pays": "true"}}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.field_error("attributes.requester_pays").as_deref(), Some("does not apply to provider Ceph"));
    assert_eq!(count(&app).await, 0, "nothing stored on error");
}

#[tokio::test]
async fn secrets_are_write_only_and_never_stored_in_clear() {
    let app = spawn_app().await;
    let dav = StorageServer::webdav();
    let s3 = StorageServer::s3();
    let mut c = app.logged_in_client().await;
    let created = create(&mut c, "office dav", dav.credential()).await;
    assert_eq!(created["attributes"]["pass"], json!({"secret": true, "set": true}));
    assert_eq!(created["attributes"]["user"], json!({"secret": true, "set": true}), "rclone marks user as sensitive");
    assert_eq!(created["attributes"]["url"], format!("http://127.0.0.1:{}/", dav.port));
    assert_eq!(created["state"], "ok");
    create(&mut c, "bucket store", s3.credential()).await;

    let listed = c.call("credential.list", json!({})).await.unwrap().to_string();
    for secret in [PASSWORD, SECRET_KEY, ACCESS_KEY, USER] {
        assert!(!listed.contains(secret), "{secret} must not be in credential.list");
    }

    // A dump of the whole database holds none of the secrets in any form.
    let dump = pg_dump(&app.database_url);
    assert!(dump.contains("office dav"), "the dump has the credential rows");
    for secret in [PASSWORD, SECRET_KEY, ACCESS_KEY, USER] {
        assert!(!dump.contains(secret), "{secret} found in pg_dump output");
    }
    let obscured_prefix_free = !dump.contains("RCLONE_CONFIG");
    assert!(obscured_prefix_free);
}

fn pg_dump(database_url: &str) -> String {
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .flatten()
        .map(|e| e.path().join("bin/pg_dump"))
        .find(|p| p.exists())
        .expect("pg_dump installed with PostgreSQL");
    let out = std::process::Command::new(bin).arg("--dbname").arg(database_url).output().unwrap();
    assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn an_sftp_key_pasted_as_it_is_in_its_file_logs_in_to_a_key_only_server() {
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("id_ed25519");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "cloudsync-test", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen runs (openssh-client; scripts/setup installs it)");
    assert!(made.success());
    let server = StorageServer::sftp_key_only(&key.with_extension("pub"));
    server.mkdir("photos");
    let pem = std::fs::read_to_string(&key).unwrap();
    assert!(pem.lines().count() > 3, "a multi-line key: {}", pem.lines().count());
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    let attrs = |pem: &str| json!({"host": "127.0.0.1", "port": server.port, "user": "backup", "key_pem": pem});

    // As pasted from the file (Windows line ends too), and in rclone's own one-line form.
    let windows = pem.replace('\n', "\r\n");
    let one_line = pem.trim_end().replace('\n', "\\n");
    for (how, pem) in [("as in the file", pem.as_str()), ("with CRLF", &windows), ("on one line", &one_line)] {
        let ok = c.call("credential.verify", json!({"provider": "sftp", "attributes": attrs(pem)})).await.unwrap();
        assert_eq!(ok, json!({"ok": true, "reason": null}), "{how}");
    }
    let saved = create(&mut c, "key only", ("sftp", attrs(&pem))).await;
    let listed = c.call("credential.browse", json!({"id": saved["id"], "path": ""})).await.unwrap();
    assert_eq!(listed[0]["name"], "photos", "{listed}");
    // Without the key, the server lets no one in (so the key is what logged in).
    let none = json!({"host": "127.0.0.1", "port": server.port, "user": "backup", "pass": "not-a-key"});
    let refused = c.call("credential.verify", json!({"provider": "sftp", "attributes": none})).await.unwrap();
    assert_eq!(refused["ok"], false, "{refused}");
}

#[tokio::test]
async fn verify_succeeds_with_good_settings_and_explains_bad_ones() {
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    let servers = [
        StorageServer::webdav(),
        StorageServer::sftp(),
        StorageServer::ftp(),
        StorageServer::s3(),
        StorageServer::azurite(),
    ];
    for server in servers {
        let (provider, attrs) = server.credential();
        let ok = c.call("credential.verify", json!({"provider": provider, "attributes": attrs})).await.unwrap();
        assert_eq!(ok, json!({"ok": true, "reason": null}), "{provider}");

        let (provider, attrs) = server.wrong_credential();
        let bad = c.call("credential.verify", json!({"provider": provider, "attributes": attrs})).await.unwrap();
        assert_eq!(bad["ok"], false, "{provider}");
        let reason = bad["reason"].as_str().unwrap();
        eprintln!("verify {provider} with a wrong secret: {reason}");
        assert!(!reason.is_empty() && !reason.contains('\n'), "{provider}: {reason}");
        for secret in ["wrong-password-123", "wrong-secret-key-123", "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktMTIzNA=="]
        {
            assert!(!reason.contains(secret), "{provider}: {reason}");
        }
        assert!(!reason.starts_with("20"), "no timestamp: {reason}");
    }
    assert_eq!(count(&app).await, 0, "verifying an unsaved form stores nothing");
}

#[tokio::test]
async fn verify_of_a_saved_credential_is_recorded_and_cleared_by_an_update() {
    let app = spawn_app().await;
    let dav = StorageServer::webdav();
    let mut c = app.logged_in_client().await;
    let id = create(&mut c, "dav", dav.credential()).await["id"].clone();
    assert_eq!(c.call("credential.verify", json!({"id": id})).await.unwrap()["ok"], true);
    let got = c.call("credential.get", json!({"id": id})).await.unwrap();
    assert_eq!(got["last_verification"]["ok"], true);

    // An edit that sends the masks back keeps the secrets: verify still works.
    let mut attrs = got["attributes"].clone();
    attrs["vendor"] = json!("other");
    let updated =
        c.call("credential.update", json!({"id": id, "name": "dav renamed", "attributes": attrs})).await.unwrap();
    assert_eq!(updated["name"], "dav renamed");
    assert_eq!(updated["attributes"]["vendor"], "other");
    assert_eq!(updated["last_verification"], Value::Null, "settings changed, verification cleared");
    assert_eq!(c.call("credential.verify", json!({"id": id})).await.unwrap()["ok"], true);

    // Editing with a new wrong password, verified before saving, fails without saving.
    let mut attrs = updated["attributes"].clone();
    attrs["pass"] = json!("not-it-at-all");
    let r = c.call("credential.verify", json!({"id": id, "attributes": attrs})).await.unwrap();
    assert_eq!(r["ok"], false);
    assert_eq!(
        c.call("credential.verify", json!({"id": id})).await.unwrap()["ok"],
        true,
        "the stored password is unchanged"
    );
}

#[tokio::test]
async fn browse_lists_buckets_and_folders() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    s3.mkdir("photos/2024");
    s3.mkdir("photos/2025");
    s3.mkdir("backups");
    std::fs::write(s3.root().join("photos/readme.txt"), b"not a folder").unwrap();
    let sftp = StorageServer::sftp();
    sftp.mkdir("srv/data");
    let mut c = app.logged_in_client().await;

    let id = create(&mut c, "s3", s3.credential()).await["id"].clone();
    let root = c.call("credential.browse", json!({"id": id, "path": ""})).await.unwrap();
    assert_eq!(root, json!([{"name": "backups", "path": "backups"}, {"name": "photos", "path": "photos"}]));
    let photos = c.call("credential.browse", json!({"id": id, "path": "photos"})).await.unwrap();
    assert_eq!(photos, json!([{"name": "2024", "path": "photos/2024"}, {"name": "2025", "path": "photos/2025"}]));
    let e = c.call("credential.browse", json!({"id": id, "path": "photos/../.."})).await.unwrap_err();
    assert_eq!(e.field_error("path").as_deref(), Some("must not contain `..`"));

    let id = create(&mut c, "sftp", sftp.credential()).await["id"].clone();
    let srv = c.call("credential.browse", json!({"id": id, "path": "srv"})).await.unwrap();
    assert_eq!(srv, json!([{"name": "data", "path": "srv/data"}]));
    let e = c.call("credential.browse", json!({"id": id, "path": "nowhere"})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NOT_FOUND, "{e:?}");
}

#[tokio::test]
async fn a_tampered_ciphertext_shows_cannot_decrypt_and_nothing_else_breaks() {
    let app = spawn_app().await;
    let dav = StorageServer::webdav();
    let mut c = app.logged_in_client().await;
    let bad = create(&mut c, "tampered", dav.credential()).await["id"].as_i64().unwrap();
    let good = create(&mut c, "intact", dav.credential()).await["id"].as_i64().unwrap();
    sqlx::query("UPDATE cloud_credentials SET attributes_sealed = overlay(attributes_sealed placing decode(lpad(to_hex(get_byte(attributes_sealed, 20) # 1), 2, '0'), 'hex') from 21 for 1) WHERE id = $1")
        .bind(bad)
        .execute(&app.pool)
        .await
        .unwrap();

    let list = c.call("credential.list", json!({})).await.unwrap();
    let entry = |id: i64| list.as_array().unwrap().iter().find(|x| x["id"] == id).unwrap().clone();
    assert_eq!(entry(bad)["state"], "cannot_decrypt");
    assert!(entry(bad)["problem"].as_str().unwrap().contains("cannot decrypt"));
    assert_eq!(entry(bad)["attributes"], json!({}));
    assert_eq!(entry(good)["state"], "ok");
    let e = c.call("credential.verify", json!({"id": bad})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::CONFLICT);
    assert!(e.message.contains("cannot be decrypted"), "{}", e.message);
    assert_eq!(c.call("credential.verify", json!({"id": good})).await.unwrap()["ok"], true);

    // Entering the settings again repairs it.
    let (_, attrs) = dav.credential();
    let fixed = c.call("credential.update", json!({"id": bad, "attributes": attrs})).await.unwrap();
    assert_eq!(fixed["state"], "ok");
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_row_does_not_open() {
    let app = spawn_app().await;
    let dav = StorageServer::webdav();
    let mut c = app.logged_in_client().await;
    let a = create(&mut c, "a", dav.credential()).await["id"].as_i64().unwrap();
    let b = create(&mut c, "b", dav.credential()).await["id"].as_i64().unwrap();
    sqlx::query("UPDATE cloud_credentials SET attributes_sealed = (SELECT attributes_sealed FROM cloud_credentials WHERE id = $1) WHERE id = $2")
        .bind(a)
        .bind(b)
        .execute(&app.pool)
        .await
        .unwrap();
    let got = c.call("credential.get", json!({"id": b})).await.unwrap();
    assert_eq!(got["state"], "cannot_decrypt");
}

#[tokio::test]
async fn names_are_unique_and_delete_removes() {
    let app = spawn_app().await;
    let dav = StorageServer::webdav();
    let mut c = app.logged_in_client().await;
    let id = create(&mut c, "same", dav.credential()).await["id"].clone();
    let (provider, attrs) = dav.credential();
    let e = c
        .call("credential.create", json!({"name": "same", "provider": provider, "attributes": attrs}))
        .await
        .unwrap_err();
    assert_eq!(e.field_error("name").as_deref(), Some("is already used by another credential"));
    c.call("credential.delete", json!({"id": id})).await.unwrap();
    assert_eq!(c.call("credential.get", json!({"id": id})).await.unwrap_err().code, ErrorCode::NOT_FOUND);
    assert_eq!(c.call("credential.delete", json!({"id": id})).await.unwrap_err().code, ErrorCode::NOT_FOUND);
    assert_eq!(count(&app).await, 0);
}

#[test]
fn rclone_reveals_what_cloudsync_obscures() {
    let obscured = cloudsync::rclone::obscure::obscure("p@ss wörd 42");
    let out = std::process::Command::new(crate::helpers::rclone_path()).args(["reveal", &obscured]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "p@ss wörd 42");
}
