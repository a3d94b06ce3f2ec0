//! Reading what TrueNAS hands over into one shape, whatever it came as: `midclt` output
//! (TrueNAS 25.04 and later nest a credential's settings in `provider: {"type", …}`;
//! 24.10 and earlier say `provider: "S3"` with `attributes: {…}`), or a configuration
//! backup (a `.tar` with `freenas-v1.db` and maybe `pwenc_secret`, or the bare database,
//! either possibly gzipped), whose tables `system_cloudcredentials` and
//! `tasks_cloudsync` hold secrets under pwenc. Everything here is hostile input: each
//! refusal names the parameter it came in.

use std::collections::HashMap;
use std::io::Read;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{Map, Value};

use super::pwenc::PwencSecret;

/// A backup bigger than this (after gunzip) is refused: TrueNAS's are a few MiB.
const MAX_CONFIG_BYTES: u64 = 64 << 20;

/// A TrueNAS credential: its provider type (`S3`, `SFTP`, …) and settings by TrueNAS's
/// names, or `None` when they could not be decrypted.
#[derive(Clone, Debug)]
pub struct Credential {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub settings: Option<Map<String, Value>>,
}

/// A TrueNAS cloud sync task, by TrueNAS's names. `None` secrets could not be
/// decrypted.
#[derive(Clone, Debug, Default)]
pub struct Task {
    pub id: i64,
    pub description: String,
    pub path: String,
    pub credential: i64,
    pub attributes: Map<String, Value>,
    /// minute, hour, day of month, month, day of week.
    pub schedule: [String; 5],
    pub direction: String,
    pub transfer_mode: String,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub bwlimit: Vec<(String, Option<u64>)>,
    pub transfers: Option<u32>,
    pub encryption: bool,
    pub filename_encryption: bool,
    pub encryption_password: Option<String>,
    pub encryption_salt: Option<String>,
    pub create_empty_src_dirs: bool,
    pub follow_symlinks: bool,
    pub pre_script: String,
    pub post_script: String,
    pub snapshot: bool,
    pub args: String,
}

impl Task {
    /// Its description, or one made of its id when it has none.
    pub fn name(&self) -> String {
        match self.description.trim() {
            "" => format!("TrueNAS task {}", self.id),
            d => d.to_string(),
        }
    }
}

/// What was found, and SSH private keys from TrueNAS's keychain by id (backups only).
#[derive(Debug, Default)]
pub struct Found {
    pub credentials: Vec<Credential>,
    pub tasks: Vec<Task>,
    pub ssh_keys: HashMap<i64, String>,
    /// True for a backup without `pwenc_secret`.
    pub without_secret: bool,
}

type Refusal = (&'static str, String);

/// The columns of `tasks_cloudsync` read, in this order (TrueNAS's CloudTaskModelMixin
/// and CloudSyncModel).
const TASK_COLUMNS: [&str; 26] = [
    "id",
    "description",
    "path",
    "credential_id",
    "attributes",
    "minute",
    "hour",
    "daymonth",
    "month",
    "dayweek",
    "pre_script",
    "post_script",
    "snapshot",
    "bwlimit",
    "include",
    "exclude",
    "transfers",
    "args",
    "direction",
    "transfer_mode",
    "encryption",
    "filename_encryption",
    "encryption_password",
    "encryption_salt",
    "create_empty_src_dirs",
    "follow_symlinks",
];

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn flag(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(true))) || matches!(v, Some(Value::Number(n)) if n.as_i64() == Some(1))
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// A stored `{}` (or anything not a list) is no limit.
fn bwlimit(v: Option<&Value>) -> Vec<(String, Option<u64>)> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|b| Some((b.get("time")?.as_str()?.to_string(), b.get("bandwidth").and_then(Value::as_u64))))
            .collect(),
        _ => Vec::new(),
    }
}

/// `midclt`'s credential in either shape.
fn credential_from_json(v: &Value, at: &str) -> Result<Credential, String> {
    let o = v.as_object().ok_or_else(|| format!("{at} is not an object"))?;
    let id = o.get("id").and_then(Value::as_i64).ok_or_else(|| format!("{at}.id is missing"))?;
    let name = o.get("name").and_then(Value::as_str).ok_or_else(|| format!("{at}.name is missing"))?.to_string();
    let (kind, settings) = match o.get("provider") {
        // 25.04 and later.
        Some(Value::Object(p)) => {
            let mut settings = p.clone();
            let kind = settings.remove("type").and_then(|t| t.as_str().map(str::to_string));
            (kind.ok_or_else(|| format!("{at}.provider.type is missing"))?, settings)
        }
        // 24.10 and earlier.
        Some(Value::String(kind)) => {
            let settings = o.get("attributes").and_then(Value::as_object).cloned().unwrap_or_default();
            (kind.clone(), settings)
        }
        _ => return Err(format!("{at}.provider is missing")),
    };
    Ok(Credential { id, name, kind, settings: Some(settings) })
}

fn task_from_json(v: &Value, at: &str) -> Result<(Task, Option<Credential>), String> {
    let o = v.as_object().ok_or_else(|| format!("{at} is not an object"))?;
    let id = o.get("id").and_then(Value::as_i64).ok_or_else(|| format!("{at}.id is missing"))?;
    let (credential, nested) = match o.get("credentials") {
        Some(Value::Number(n)) => (n.as_i64().unwrap_or_default(), None),
        Some(c @ Value::Object(_)) => {
            let c = credential_from_json(c, &format!("{at}.credentials"))?;
            (c.id, Some(c))
        }
        _ => return Err(format!("{at}.credentials is missing")),
    };
    let s = o.get("schedule").and_then(Value::as_object).cloned().unwrap_or_default();
    let field = |k: &str, default: &str| s.get(k).and_then(Value::as_str).unwrap_or(default).to_string();
    let secret = |k: &str| o.get(k).map(|v| text(Some(v)));
    let task = Task {
        id,
        description: text(o.get("description")),
        path: text(o.get("path")),
        credential,
        attributes: o.get("attributes").and_then(Value::as_object).cloned().unwrap_or_default(),
        schedule: [
            field("minute", "00"),
            field("hour", "*"),
            field("dom", "*"),
            field("month", "*"),
            field("dow", "*"),
        ],
        direction: text(o.get("direction")),
        transfer_mode: text(o.get("transfer_mode")),
        include: strings(o.get("include")),
        exclude: strings(o.get("exclude")),
        bwlimit: bwlimit(o.get("bwlimit")),
        transfers: o.get("transfers").and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()),
        encryption: flag(o.get("encryption")),
        filename_encryption: flag(o.get("filename_encryption")),
        encryption_password: secret("encryption_password"),
        encryption_salt: secret("encryption_salt"),
        create_empty_src_dirs: flag(o.get("create_empty_src_dirs")),
        follow_symlinks: flag(o.get("follow_symlinks")),
        pre_script: text(o.get("pre_script")),
        post_script: text(o.get("post_script")),
        snapshot: flag(o.get("snapshot")),
        args: text(o.get("args")),
    };
    Ok((task, nested))
}

/// `credentials` and/or `tasks` as `midclt` prints them.
pub fn from_midclt(credentials: Option<&Value>, tasks: Option<&Value>) -> Result<Found, Refusal> {
    let mut found = Found::default();
    if let Some(list) = credentials {
        let items = list.as_array().ok_or(("credentials", "must be the JSON array midclt prints".to_string()))?;
        for (i, v) in items.iter().enumerate() {
            let c = credential_from_json(v, &format!("credentials[{i}]")).map_err(|m| ("credentials", m))?;
            found.credentials.push(c);
        }
    }
    if let Some(list) = tasks {
        let items = list.as_array().ok_or(("tasks", "must be the JSON array midclt prints".to_string()))?;
        for (i, v) in items.iter().enumerate() {
            let (t, nested) = task_from_json(v, &format!("tasks[{i}]")).map_err(|m| ("tasks", m))?;
            if let Some(c) = nested.filter(|c| !found.credentials.iter().any(|k| k.id == c.id)) {
                found.credentials.push(c);
            }
            found.tasks.push(t);
        }
    }
    Ok(found)
}

fn bad(message: impl Into<String>) -> Refusal {
    ("config", message.into())
}

/// Gunzips when gzipped, at most [`MAX_CONFIG_BYTES`].
fn gunzipped(bytes: Vec<u8>) -> Result<Vec<u8>, Refusal> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| bad(format!("is gzipped but does not unpack: {e}")))?;
    if out.len() as u64 > MAX_CONFIG_BYTES {
        return Err(bad(format!("unpacks to more than {} MiB", MAX_CONFIG_BYTES >> 20)));
    }
    Ok(out)
}

const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

/// The database and the secret from a backup: a tar, or the bare database.
fn unpack(config: &str) -> Result<(Vec<u8>, Option<Vec<u8>>), Refusal> {
    let raw = B64.decode(config.trim()).map_err(|_| bad("is not base64"))?;
    let raw = gunzipped(raw)?;
    if raw.starts_with(SQLITE_MAGIC) {
        return Ok((raw, None));
    }
    // A tar has "ustar" at byte 257 of its first header.
    if raw.len() < 512 || &raw[257..262] != b"ustar" {
        return Err(bad("is not a TrueNAS configuration backup (neither a .tar from Save Config nor freenas-v1.db)"));
    }
    let mut archive = tar::Archive::new(&raw[..]);
    let (mut db, mut secret) = (None, None);
    let entries = archive.entries().map_err(|e| bad(format!("is not a readable tar: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("is not a readable tar: {e}")))?;
        let name = entry.path().map(|p| p.to_string_lossy().trim_start_matches("./").to_string()).unwrap_or_default();
        let target = match name.as_str() {
            "freenas-v1.db" => &mut db,
            "pwenc_secret" => &mut secret,
            _ => continue,
        };
        let mut bytes = Vec::new();
        (&mut entry).take(MAX_CONFIG_BYTES).read_to_end(&mut bytes).map_err(|e| bad(format!("{name}: {e}")))?;
        *target = Some(bytes);
    }
    let db = db.ok_or_else(|| bad("is a tar without freenas-v1.db; use System → General → Save Config on TrueNAS"))?;
    Ok((db, secret))
}

/// A configuration backup, base64.
pub fn from_config(config: &str) -> Result<Found, Refusal> {
    let (db, secret) = unpack(config)?;
    if !db.starts_with(SQLITE_MAGIC) {
        return Err(bad("holds a freenas-v1.db that is not an SQLite database"));
    }
    let secret = secret.map(|s| PwencSecret::from_bytes(&s)).transpose().map_err(bad)?;
    let dir = tempfile::Builder::new().prefix("cloudsync-truenas-").tempdir().map_err(|e| bad(e.to_string()))?;
    let path = dir.path().join("freenas-v1.db");
    std::fs::write(&path, &db).map_err(|e| bad(format!("cannot be unpacked: {e}")))?;
    let conn = rusqlite::Connection::open_with_flags(
        &path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| bad(format!("holds a database that cannot be opened: {e}")))?;
    read_database(&conn, secret.as_ref())
        .map_err(|e| bad(format!("holds a database TrueNAS's tables cannot be read from: {e}")))
        .and_then(|r| r)
}

fn read_database(
    conn: &rusqlite::Connection,
    secret: Option<&PwencSecret>,
) -> rusqlite::Result<Result<Found, Refusal>> {
    let mut found = Found { without_secret: secret.is_none(), ..Found::default() };
    if let Some(secret) = secret {
        let check: String = conn.query_row("SELECT stg_pwenc_check FROM system_settings LIMIT 1", [], |r| r.get(0))?;
        if !secret.opens(&check) {
            return Ok(Err(bad(
                "has a pwenc_secret that does not open this database (stg_pwenc_check); is it from the same TrueNAS?",
            )));
        }
    }
    let open = |v: &str| secret.and_then(|s| s.decrypt(v));
    let json = |v: &str| serde_json::from_str::<Value>(v).unwrap_or(Value::Null);

    let mut q = conn.prepare("SELECT id, name, provider, attributes FROM system_cloudcredentials ORDER BY id")?;
    let rows = q.query_map([], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?))
    })?;
    for row in rows {
        let (id, name, kind, sealed) = row?;
        let settings = open(sealed.as_deref().unwrap_or_default()).and_then(|t| json(&t).as_object().cloned());
        found.credentials.push(Credential { id, name, kind, settings });
    }

    // The keychain holds SFTP keys; the table is older than cloud sync, but be lenient.
    if let Ok(mut q) = conn.prepare("SELECT id, type, attributes FROM system_keychaincredential") {
        let rows =
            q.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?)))?;
        for row in rows {
            let (id, kind, sealed) = row?;
            let key = open(sealed.as_deref().unwrap_or_default())
                .and_then(|t| json(&t).get("private_key").and_then(Value::as_str).map(str::to_string));
            if let (true, Some(key)) = (kind == "SSH_KEY_PAIR", key) {
                found.ssh_keys.insert(id, key);
            }
        }
    }

    // Older releases lack some columns (e.g. follow_symlinks): those read as NULL.
    let present: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('tasks_cloudsync')")?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<_>>()?;
    if present.is_empty() {
        return Ok(Err(bad("holds a database without TrueNAS's tasks_cloudsync table")));
    }
    let select: Vec<String> = TASK_COLUMNS
        .iter()
        .map(|c| if present.iter().any(|p| p == c) { c.to_string() } else { format!("NULL AS {c}") })
        .collect();
    let mut q = conn.prepare(&format!("SELECT {} FROM tasks_cloudsync ORDER BY id", select.join(", ")))?;
    let rows = q.query_map([], |r| {
        let s = |i: usize| r.get::<_, Option<String>>(i).map(Option::unwrap_or_default);
        let b = |i: usize| r.get::<_, Option<bool>>(i).map(Option::unwrap_or_default);
        Ok((
            (r.get::<_, i64>(0)?, s(1)?, s(2)?, r.get::<_, Option<i64>>(3)?.unwrap_or_default(), s(4)?),
            [s(5)?, s(6)?, s(7)?, s(8)?, s(9)?],
            (s(10)?, s(11)?, b(12)?, s(13)?, s(14)?, s(15)?, r.get::<_, Option<i64>>(16)?, s(17)?),
            (s(18)?, s(19)?, b(20)?, b(21)?, s(22)?, s(23)?, b(24)?, b(25)?),
        ))
    })?;
    for row in rows {
        let ((id, description, path, credential, attributes), schedule, rest, crypt) = row?;
        let (pre_script, post_script, snapshot, bw, include, exclude, transfers, args) = rest;
        let (direction, transfer_mode, encryption, filename_encryption, password, salt, empty_dirs, follow) = crypt;
        found.tasks.push(Task {
            id,
            description,
            path,
            credential,
            attributes: json(&attributes).as_object().cloned().unwrap_or_default(),
            schedule,
            direction,
            transfer_mode,
            include: strings(Some(&json(&include))),
            exclude: strings(Some(&json(&exclude))),
            bwlimit: bwlimit(Some(&json(&bw))),
            transfers: transfers.and_then(|n| u32::try_from(n).ok()),
            encryption,
            filename_encryption,
            encryption_password: if password.is_empty() { Some(String::new()) } else { open(&password) },
            encryption_salt: if salt.is_empty() { Some(String::new()) } else { open(&salt) },
            create_empty_src_dirs: empty_dirs,
            follow_symlinks: follow,
            pre_script,
            post_script,
            snapshot,
            args,
        });
    }
    Ok(Ok(found))
}
