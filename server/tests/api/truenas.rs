//! `config.import_truenas` against backups built the way TrueNAS writes them (the
//! fixture script encrypts with PyCryptodome exactly as TrueNAS's pwenc does) and
//! `midclt` output of both API shapes; imported credentials verify against local
//! servers, imported tasks move real bytes once enabled, and bad input changes nothing.

use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine;
use serde_json::{json, Value};

use crate::fixtures::run_to_end;
use crate::helpers::{spawn_app, tools_dir, RpcClient};
use crate::storage::{StorageServer, ACCESS_KEY, PASSWORD, SECRET_KEY, USER};

const SECRET: &str = "8d1c3b0e9f7a6d5c4b3a29181706f5e4d3c2b1a09f8e7d6c5b4a392817060504";
const OTHER_SECRET: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// A backup (tar, or the bare database) from the fixture script, base64.
fn backup(mut spec: Value) -> String {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("backup");
    spec["out"] = json!(file);
    spec["secret"] = json!(spec.get("secret").cloned().unwrap_or(json!(SECRET)));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/truenas/make_backup.py");
    let python = tools_dir().join("venv/bin/python");
    let mut child =
        Command::new(&python).arg(&script).stdin(Stdio::piped()).spawn().unwrap_or_else(|e| {
            panic!("{} runs (scripts/setup installs it with pycryptodomex): {e}", python.display())
        });
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), spec.to_string().as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "the fixture script failed");
    base64::engine::general_purpose::STANDARD.encode(std::fs::read(&file).unwrap())
}

/// Four credentials pointing at the local servers (and MEGA, which is skipped), five
/// tasks under /mnt/tank, as TrueNAS stores them.
fn nas(s3: &StorageServer, sftp: &StorageServer, webdav: &StorageServer) -> Value {
    let port = |s: &StorageServer| s.credential().1["url"].as_str().map(str::to_string);
    let sftp_port = sftp.credential().1["port"].clone();
    let s3_endpoint = s3.credential().1["endpoint"].clone();
    json!({
        "credentials": [
            {"id": 1, "name": "tn s3", "provider": "S3", "attributes": {
                "access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY, "endpoint": s3_endpoint,
                "region": "", "skip_region": false, "signatures_v2": false, "max_upload_parts": 10000}},
            {"id": 2, "name": "tn sftp", "provider": "SFTP", "attributes": {
                "host": "127.0.0.1", "port": sftp_port, "user": USER, "pass": PASSWORD, "private_key": null}},
            {"id": 3, "name": "tn webdav", "provider": "WEBDAV", "attributes": {
                "url": port(webdav), "vendor": "OTHER", "user": USER, "pass": PASSWORD}},
            {"id": 4, "name": "tn b2", "provider": "B2", "attributes": {"account": "0012abcd", "key": "K001b2-secret-key"}},
            {"id": 5, "name": "tn mega", "provider": "MEGA", "attributes": {"user": "me@example.com", "pass": "mega-pass"}}
        ],
        "tasks": [
            {"id": 11, "description": "photos to s3", "path": "/mnt/tank/photos", "credential_id": 1,
             "attributes": {"bucket": "tnbucket", "folder": "/photos", "fast_list": true},
             "minute": "00", "hour": "3", "dayweek": "7", "direction": "PUSH", "transfer_mode": "SYNC",
             "bwlimit": [{"time": "08:00", "bandwidth": 1048576}, {"time": "18:00", "bandwidth": null}],
             "exclude": ["*.tmp"], "args": "--checksum --delete-before", "snapshot": true, "transfers": 2,
             "pre_script": "echo \"pre: $CLOUD_SYNC_DESCRIPTION $CLOUD_SYNC_DIRECTION $CLOUD_SYNC_TRANSFER_MODE\""},
            {"id": 12, "description": "docs from sftp", "path": "/mnt/tank/restore", "credential_id": 2,
             "attributes": {"folder": "/docs"}, "direction": "PULL", "transfer_mode": "COPY", "bwlimit": {}},
            {"id": 13, "description": "secret to webdav", "path": "/mnt/tank/secret", "credential_id": 3,
             "attributes": {"folder": "vault"}, "direction": "PUSH", "transfer_mode": "COPY",
             "encryption": true, "filename_encryption": true,
             "encryption_password": "tn-crypt-pass", "encryption_salt": "tn-crypt-salt"},
            {"id": 14, "description": "b2 archive", "path": "/mnt/tank/missing", "credential_id": 4,
             "attributes": {"bucket": "b2b", "folder": "", "b2_chunk_size": 96}, "direction": "PUSH", "transfer_mode": "SYNC"},
            {"id": 15, "description": "mega task", "path": "/mnt/tank/photos", "credential_id": 5,
             "attributes": {"folder": "x"}, "direction": "PUSH", "transfer_mode": "COPY"}
        ]
    })
}

async fn task_named(c: &mut RpcClient, description: &str) -> Value {
    let list = c.call("task.list", json!({})).await.unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .find(|t| t["description"] == description)
        .cloned()
        .unwrap_or_else(|| panic!("{description} in {list}"))
}

async fn credential_named(c: &mut RpcClient, name: &str) -> Value {
    let list = c.call("credential.list", json!({})).await.unwrap();
    list.as_array().unwrap().iter().find(|t| t["name"] == name).cloned().unwrap_or_else(|| panic!("{name} in {list}"))
}

/// Saves the task as it is, enabled: what a user does after the review.
async fn enable(c: &mut RpcClient, mut task: Value) -> i64 {
    for k in ["last_run", "next_run", "created_at", "updated_at"] {
        task.as_object_mut().unwrap().remove(k);
    }
    task["enabled"] = json!(true);
    task["review"] = json!([]);
    c.call("task.update", task.clone()).await.unwrap_or_else(|e| panic!("{task}: {e:?}"))["id"].as_i64().unwrap()
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap_or_else(|| x["name"].as_str().unwrap()).to_string())
        .collect()
}

async fn counts(app: &crate::helpers::TestApp) -> (i64, i64) {
    let c: i64 = sqlx::query_scalar("SELECT count(*) FROM cloud_credentials").fetch_one(&app.pool).await.unwrap();
    let t: i64 = sqlx::query_scalar("SELECT count(*) FROM sync_tasks").fetch_one(&app.pool).await.unwrap();
    (c, t)
}

#[tokio::test]
async fn a_backup_with_its_seed_brings_credentials_and_tasks_that_move_the_bytes_once_enabled() {
    let app = spawn_app().await;
    let (s3, sftp, webdav) = (StorageServer::s3(), StorageServer::sftp(), StorageServer::webdav());
    s3.mkdir("tnbucket");
    let tank = tempfile::tempdir().unwrap();
    for d in ["photos", "restore", "secret"] {
        std::fs::create_dir_all(tank.path().join(d)).unwrap();
    }
    std::fs::write(tank.path().join("photos/a.jpg"), b"jpeg bytes 1").unwrap();
    std::fs::write(tank.path().join("photos/skip.tmp"), b"temp").unwrap();
    std::fs::write(tank.path().join("secret/plan.txt"), b"the secret plan").unwrap();
    std::fs::write(sftp.mkdir("docs").join("d.txt"), b"from the sftp server").unwrap();
    let mut c = app.logged_in_client().await;
    let mut spec = nas(&s3, &sftp, &webdav);
    // An SFTP login by key: the key pair is in TrueNAS's keychain table.
    let pem =
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-test-key\n-----END OPENSSH PRIVATE KEY-----\n";
    spec["credentials"].as_array_mut().unwrap().push(json!({"id": 6, "name": "tn sftp key", "provider": "SFTP",
        "attributes": {"host": "127.0.0.1", "port": 22, "user": "backup", "pass": null, "private_key": 21}}));
    spec["keychain"] = json!([{"id": 21, "name": "nas key", "type": "SSH_KEY_PAIR",
        "attributes": {"private_key": pem, "public_key": "ssh-ed25519 AAAA test"}}]);
    let config = backup(spec);
    let path_map = json!([{"from": "/mnt/tank", "to": tank.path()}]);

    // A dry run says everything and writes nothing.
    let dry = c
        .call("config.import_truenas", json!({"config": config, "path_map": path_map, "dry_run": true}))
        .await
        .unwrap();
    assert_eq!(names(&dry["credentials_imported"]), ["tn s3", "tn sftp", "tn webdav", "tn b2", "tn sftp key"]);
    assert_eq!(counts(&app).await, (0, 0));

    let report = c.call("config.import_truenas", json!({"config": config, "path_map": path_map})).await.unwrap();
    assert_eq!(report["credentials_imported"], dry["credentials_imported"], "{report}");
    assert_eq!(names(&report["tasks_imported"]), ["photos to s3", "docs from sftp", "secret to webdav", "b2 archive"]);
    assert_eq!(report["cannot_decrypt"], json!([]));
    let skipped = report["skipped"].to_string();
    assert!(skipped.contains("tn mega") && skipped.contains("MEGA") && skipped.contains("mega task"), "{skipped}");
    let warnings = report["warnings"].to_string();
    for expected in ["ZFS snapshot", "--delete-before", "CLOUD_SYNC_", "missing does not exist"] {
        assert!(warnings.contains(expected), "{expected} in {warnings}");
    }

    // The credentials work against the servers.
    for name in ["tn s3", "tn sftp", "tn webdav"] {
        let id = credential_named(&mut c, name).await["id"].clone();
        let v = c.call("credential.verify", json!({"id": id})).await.unwrap();
        assert_eq!(v["ok"], true, "{name}: {v}");
    }
    assert_eq!(credential_named(&mut c, "tn webdav").await["attributes"]["vendor"], "other");
    let keyed = credential_named(&mut c, "tn sftp key").await;
    assert_eq!(keyed["attributes"]["key_pem"], json!({"secret": true, "set": true}), "{keyed}");
    let seed = cloudsync::secret_seed::load_or_create(&app.data_dir.path().join("data/secret-seed")).unwrap();
    let secrets = cloudsync::crypto::SecretBox::new(&seed, cloudsync::crypto::CREDENTIALS_PURPOSE);
    let id = keyed["id"].as_i64().unwrap();
    let stored = cloudsync::credentials::store::get(&app.pool, &secrets, id).await.unwrap().unwrap();
    let expected = pem.trim_end().replace('\n', "\\n");
    assert_eq!(stored.attributes.unwrap().as_map()["key_pem"], expected, "one line, as rclone reads key_pem");

    // Secrets are sealed like any other.
    let rows: Vec<(Vec<u8>,)> =
        sqlx::query_as("SELECT attributes_sealed FROM cloud_credentials").fetch_all(&app.pool).await.unwrap();
    let tasks: Vec<(String, Option<Vec<u8>>)> =
        sqlx::query_as("SELECT settings::text, encryption_sealed FROM sync_tasks").fetch_all(&app.pool).await.unwrap();
    for secret in [SECRET_KEY, PASSWORD, "K001b2-secret-key", "tn-crypt-pass", "tn-crypt-salt"] {
        assert!(rows.iter().all(|(b,)| !String::from_utf8_lossy(b).contains(secret)), "{secret} in clear");
        assert!(
            tasks.iter().all(|(s, b)| !s.contains(secret)
                && !b.as_ref().is_some_and(|b| String::from_utf8_lossy(b).contains(secret))),
            "{secret} in a task row"
        );
    }

    // Tasks: disabled, with what to review, settings mapped.
    let photos = task_named(&mut c, "photos to s3").await;
    assert_eq!(photos["enabled"], false);
    assert!(photos["review"].to_string().contains("TrueNAS"), "{photos}");
    assert_eq!(photos["path"], json!(tank.path().join("photos")));
    assert_eq!(photos["attributes"], json!({"bucket": "tnbucket", "folder": "photos"}));
    assert_eq!(photos["extra_flags"], json!(["--fast-list", "--checksum"]));
    assert_eq!(
        photos["bwlimit"],
        json!([{"time": "08:00", "bandwidth": 1048576}, {"time": "18:00", "bandwidth": null}])
    );
    assert_eq!(photos["exclude"], json!(["*.tmp"]));
    assert_eq!(photos["transfers"], 2);
    assert_eq!(
        photos["schedule"],
        json!({"minute": "00", "hour": "3", "dom": "*", "month": "*", "dow": "7", "begin": "00:00", "end": "23:59"})
    );
    let preview = c.call("schedule.preview", json!({"schedule": photos["schedule"], "count": 1})).await.unwrap();
    assert!(preview.to_string().contains("Sunday"), "dow 7 is Sunday: {preview}");
    let b2 = task_named(&mut c, "b2 archive").await;
    assert_eq!(b2["extra_flags"], json!(["--b2-chunk-size=96M"]));
    assert!(b2["review"].to_string().contains("does not exist"), "{b2}");

    // Enabled, the PUSH SYNC moves the bytes (the excluded file stays home) and its
    // pre-script reads TrueNAS's variable names.
    let id = enable(&mut c, photos).await;
    let run = run_to_end(&mut c, id, false).await;
    assert_eq!(run["state"], "SUCCESS", "{run}");
    assert_eq!(std::fs::read(s3.root().join("tnbucket/photos/a.jpg")).unwrap(), b"jpeg bytes 1");
    assert!(!s3.root().join("tnbucket/photos/skip.tmp").exists());
    let log = c.call("run.log", json!({"id": run["id"]})).await.unwrap().to_string();
    assert!(log.contains("pre: photos to s3 PUSH SYNC"), "{log}");
    assert_eq!(task_named(&mut c, "photos to s3").await["review"], json!([]), "saving is the review");

    // The PULL COPY brings the SFTP server's file home.
    let docs = task_named(&mut c, "docs from sftp").await;
    let id = enable(&mut c, docs).await;
    assert_eq!(run_to_end(&mut c, id, false).await["state"], "SUCCESS");
    assert_eq!(std::fs::read(tank.path().join("restore/d.txt")).unwrap(), b"from the sftp server");

    // The encrypted task's files decrypt with rclone and TrueNAS's password and salt.
    let vault_task = task_named(&mut c, "secret to webdav").await;
    let id = enable(&mut c, vault_task).await;
    assert_eq!(run_to_end(&mut c, id, false).await["state"], "SUCCESS");
    let vault = webdav.root().join("vault");
    let stored: Vec<String> =
        std::fs::read_dir(&vault).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], "plan.txt", "names are encrypted");
    let obscure = |p: &str| {
        let out = Command::new(crate::helpers::rclone_path()).args(["obscure", p]).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let out = Command::new(crate::helpers::rclone_path())
        .args(["cat", "tncrypt:plan.txt"])
        .env("RCLONE_CONFIG", "/dev/null")
        .env("RCLONE_CONFIG_TNCRYPT_TYPE", "crypt")
        .env("RCLONE_CONFIG_TNCRYPT_REMOTE", &vault)
        .env("RCLONE_CONFIG_TNCRYPT_PASSWORD", obscure("tn-crypt-pass"))
        .env("RCLONE_CONFIG_TNCRYPT_PASSWORD2", obscure("tn-crypt-salt"))
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"the secret plan", "{}", String::from_utf8_lossy(&out.stderr));

    // A second import duplicates nothing and says why.
    let before = counts(&app).await;
    let again = c.call("config.import_truenas", json!({"config": config, "path_map": path_map})).await.unwrap();
    assert_eq!(again["credentials_imported"], json!([]));
    assert_eq!(again["tasks_imported"], json!([]));
    assert!(again["skipped"].to_string().contains("exists already"), "{again}");
    assert_eq!(counts(&app).await, before);
}

#[tokio::test]
async fn a_database_without_its_seed_gives_cannot_decrypt_credentials_and_still_the_tasks() {
    let app = spawn_app().await;
    let (s3, sftp, webdav) = (StorageServer::s3(), StorageServer::sftp(), StorageServer::webdav());
    let mut c = app.logged_in_client().await;
    let mut spec = nas(&s3, &sftp, &webdav);
    spec["tar"] = json!(false);
    let report = c.call("config.import_truenas", json!({"config": backup(spec)})).await.unwrap();
    assert_eq!(report["credentials_imported"], json!([]));
    assert_eq!(names(&report["cannot_decrypt"]), ["tn s3", "tn sftp", "tn webdav", "tn b2"]);
    assert_eq!(report["tasks_imported"].as_array().unwrap().len(), 4, "{report}");
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("pwenc_secret") && warnings.contains("encryption password could not be read"),
        "{warnings}"
    );
    let s3cred = credential_named(&mut c, "tn s3").await;
    assert_eq!(s3cred["state"], "cannot_decrypt");
    assert_eq!(s3cred["provider"], "s3");
    let vault = task_named(&mut c, "secret to webdav").await;
    assert_eq!((vault["encryption"].clone(), vault["encryption_password"].clone()), (json!(true), Value::Null));
}

#[tokio::test]
async fn bad_input_is_refused_naming_its_parameter_and_nothing_is_imported() {
    let app = spawn_app().await;
    let (s3, sftp, webdav) = (StorageServer::s3(), StorageServer::sftp(), StorageServer::webdav());
    let mut c = app.logged_in_client().await;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let tar_without_db = {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(5);
        header.set_cksum();
        builder.append_data(&mut header, "notes.txt", &b"hello"[..]).unwrap();
        builder.into_inner().unwrap()
    };
    let mut corrupt = b"SQLite format 3\0".to_vec();
    corrupt.extend(std::iter::repeat_n(0xa5u8, 4096));
    let mut wrong_seed = nas(&s3, &sftp, &webdav);
    wrong_seed["tar_secret"] = json!(OTHER_SECRET);
    let cases = [
        (json!({"config": "%%% not base64"}), "config", "base64"),
        (
            json!({"config": b64(b"just some text, not a backup at all")}),
            "config",
            "not a TrueNAS configuration backup",
        ),
        (json!({"config": b64(&tar_without_db)}), "config", "without freenas-v1.db"),
        (json!({"config": b64(&corrupt)}), "config", "database"),
        (json!({"config": backup(wrong_seed)}), "config", "does not open"),
        (json!({"credentials": "[not json"}), "credentials", "JSON array"),
        (json!({"tasks": {"id": 1}}), "tasks", "JSON array"),
        (json!({"tasks": [{"id": 1, "description": "no credential"}]}), "tasks", "credentials is missing"),
        (json!({}), "config", "give"),
        (json!({"config": "x", "credentials": []}), "config", "not both"),
        (json!({"credentials": [], "path_map": [{"from": "mnt", "to": "/srv"}]}), "path_map[0].from", "absolute"),
    ];
    for (params, field, says) in cases {
        let e = c.call("config.import_truenas", params.clone()).await.unwrap_err();
        assert_eq!(e.code, -32602, "{params}: {e:?}");
        let message = e.field_error(field).unwrap_or_else(|| panic!("{params}: no error on {field}: {e:?}"));
        assert!(message.contains(says), "{params}: {message}");
    }
    assert_eq!(counts(&app).await, (0, 0));
}

#[tokio::test]
async fn midclt_output_of_both_shapes_imports_and_hidden_secrets_are_said() {
    let app = spawn_app().await;
    let s3 = StorageServer::s3();
    s3.mkdir("mid");
    let mut c = app.logged_in_client().await;
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("m.txt"), b"midclt").unwrap();
    let (_, s3attrs) = s3.credential();
    // 25.04 and later: cloudsync.query with the credential nested, provider {"type": …}.
    let tasks = json!([{"id": 7, "description": "from midclt", "path": local.path(), "enabled": true,
        "credentials": {"id": 3, "name": "mid s3", "provider": {"type": "S3", "access_key_id": ACCESS_KEY,
            "secret_access_key": SECRET_KEY, "endpoint": s3attrs["endpoint"], "region": "us-east-1",
            "skip_region": false, "signatures_v2": false, "max_upload_parts": 10000}},
        "attributes": {"bucket": "mid", "folder": ""}, "schedule": {"minute": "30", "hour": "2", "dom": "*", "month": "*", "dow": "*"},
        "direction": "PUSH", "transfer_mode": "COPY", "encryption": false, "filename_encryption": false,
        "encryption_password": "", "encryption_salt": "", "include": [], "exclude": [], "bwlimit": [], "transfers": null,
        "args": "", "snapshot": false, "pre_script": "", "post_script": "", "create_empty_src_dirs": false, "follow_symlinks": false}]);
    // 24.10 and earlier: provider "WEBDAV" with attributes; and one whose secrets the API hid.
    let credentials = json!([
        {"id": 9, "name": "old webdav", "provider": "WEBDAV", "attributes": {"url": "http://127.0.0.1:9/dav", "vendor": "NEXTCLOUD", "user": "u", "pass": "p"}},
        {"id": 10, "name": "hidden b2", "provider": {"type": "B2", "account": "********", "key": "********"}}
    ]);
    let report = c.call("config.import_truenas", json!({"credentials": credentials, "tasks": tasks})).await.unwrap();
    assert_eq!(names(&report["credentials_imported"]), ["old webdav", "mid s3"], "{report}");
    assert_eq!(names(&report["cannot_decrypt"]), ["hidden b2"]);
    assert!(report["warnings"].to_string().contains("hid its secrets"), "{report}");
    assert_eq!(credential_named(&mut c, "old webdav").await["attributes"]["vendor"], "nextcloud");
    let t = task_named(&mut c, "from midclt").await;
    assert_eq!(t["enabled"], false, "every import comes in disabled");
    let id = enable(&mut c, t).await;
    assert_eq!(run_to_end(&mut c, id, false).await["state"], "SUCCESS");
    assert_eq!(std::fs::read(s3.root().join("mid/m.txt")).unwrap(), b"midclt");
}

#[tokio::test]
async fn the_command_line_imports_a_backup_bigger_than_a_message_by_gzipping_it() {
    use crate::cli::{cloudsync, ok};
    let app = spawn_app().await;
    let (s3, sftp, webdav) = (StorageServer::s3(), StorageServer::sftp(), StorageServer::webdav());
    let mut spec = nas(&s3, &sftp, &webdav);
    spec["padding_kib"] = json!(3072);
    let bytes = base64::engine::general_purpose::STANDARD.decode(backup(spec)).unwrap();
    assert!(bytes.len() > 3 << 20, "the backup is bigger than the 1 MiB message limit");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("truenas.tar");
    std::fs::write(&file, &bytes).unwrap();
    let tank = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let url = format!("http://{}", app.addr);
    ok(&cloudsync(h, &["login", "--url", &url, "--password-stdin"], &format!("{}\n", crate::helpers::ADMIN_PASSWORD))
        .await);
    let map = format!("/mnt/tank={}", tank.path().display());
    let file = file.to_str().unwrap();
    let dry = ok(&cloudsync(h, &["config", "import-truenas", "--config", file, "--map", &map, "--dry-run"], "").await);
    assert!(dry.contains("Would import credentials: tn s3, tn sftp, tn webdav, tn b2"), "{dry}");
    assert_eq!(counts(&app).await, (0, 0));
    let done = ok(&cloudsync(h, &["config", "import-truenas", "--config", file, "--map", &map], "").await);
    assert!(
        done.contains("Imported tasks (disabled): photos to s3, docs from sftp, secret to webdav, b2 archive"),
        "{done}"
    );
    assert!(done.contains("Skipped tn mega: TrueNAS removed MEGA"), "{done}");
    assert_eq!(counts(&app).await, (4, 4));
    let bad = cloudsync(h, &["config", "import-truenas", "--credentials", file], "").await;
    assert_eq!(bad.status.code(), Some(2), "not JSON is a usage error");
}
