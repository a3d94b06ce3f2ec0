//! TrueNAS's settings in cloudsync's words, following TrueNAS's own rclone remotes
//! (`plugins/cloud/rclone/remote/*.py`): each provider type becomes an rclone backend
//! with TrueNAS's renames and extras, and a task's TrueNAS-only settings become safe
//! rclone flags, warnings or review notes. Nothing is dropped without saying so.

use std::collections::{BTreeMap, HashMap};

use protocol::config::PathMapping;
use protocol::tasks::{BwLimit, Direction, RemoteLocation, Schedule, TaskParams, TransferMode};
use serde_json::{Map, Value};

use super::read::{Credential, Task};

/// What TrueNAS's API shows instead of a secret it will not print.
const HIDDEN: &str = "********";

/// The rclone backend a TrueNAS provider type becomes, or why it does not.
pub fn backend(kind: &str) -> Result<&'static str, String> {
    Ok(match kind {
        "S3" | "STORJ_IX" => "s3",
        "AZUREBLOB" => "azureblob",
        "B2" => "b2",
        "BOX" => "box",
        "DROPBOX" => "dropbox",
        "FTP" => "ftp",
        "GOOGLE_CLOUD_STORAGE" => "google cloud storage",
        "GOOGLE_DRIVE" => "drive",
        "GOOGLE_PHOTOS" => "google photos",
        "HTTP" => "http",
        "HUBIC" => "hubic",
        "ONEDRIVE" => "onedrive",
        "PCLOUD" => "pcloud",
        "SFTP" => "sftp",
        "OPENSTACK_SWIFT" => "swift",
        "WEBDAV" => "webdav",
        "YANDEX" => "yandex",
        "MEGA" => {
            return Err(
                "TrueNAS removed MEGA in 25.04.2 (MEGA changed its login); create a mega credential here by hand"
                    .into(),
            )
        }
        other => {
            return Err(format!("`{}` is not a TrueNAS cloud provider type cloudsync knows", other.escape_debug()))
        }
    })
}

/// Whether TrueNAS's API hid any of these settings (`midclt` output of newer releases).
pub fn hidden(settings: &Map<String, Value>) -> bool {
    settings.values().any(|v| v.as_str() == Some(HIDDEN))
}

fn plain(v: &Value) -> Option<Value> {
    match v {
        Value::String(s) if !s.is_empty() => Some(Value::String(s.clone())),
        Value::Number(n) => Some(Value::String(n.to_string())),
        Value::Bool(true) => Some(Value::String("true".into())),
        _ => None,
    }
}

/// A credential's rclone options, with warnings. `task_region` is the region a task of
/// it names (TrueNAS keeps S3 regions per task, cloudsync per credential).
pub fn credential(
    c: &Credential,
    settings: &Map<String, Value>,
    ssh_keys: &HashMap<i64, String>,
    task_region: Option<&str>,
) -> (BTreeMap<String, Value>, Vec<String>) {
    let mut out = BTreeMap::new();
    let mut warnings = Vec::new();
    let get = |k: &str| settings.get(k).and_then(plain);
    let copy = |out: &mut BTreeMap<String, Value>, from: &str, to: &str| {
        if let Some(v) = get(from) {
            out.insert(to.to_string(), v);
        }
    };
    let s = |v: &str| Value::String(v.to_string());
    match c.kind.as_str() {
        "S3" => {
            for k in ["access_key_id", "secret_access_key", "endpoint"] {
                copy(&mut out, k, k);
            }
            let provider = settings.get("provider").and_then(Value::as_str).filter(|p| !p.is_empty());
            out.insert("provider".into(), s(provider.unwrap_or("Other")));
            let yes = |k: &str| settings.get(k).and_then(Value::as_bool).unwrap_or(false);
            let region = settings.get("region").and_then(Value::as_str).map(str::trim).filter(|r| !r.is_empty());
            if yes("signatures_v2") {
                out.insert("v2_auth".into(), s("true"));
            }
            // TrueNAS's region rules (s3.py get_task_extra).
            match (yes("skip_region"), region) {
                (true, _) if yes("signatures_v2") => {
                    out.insert("region".into(), s("other-v2-signature"));
                }
                (true, _) => {}
                (false, Some(r)) => {
                    out.insert("region".into(), s(r));
                }
                (false, None) => {
                    let r = task_region.filter(|r| !r.is_empty()).unwrap_or("us-east-1");
                    out.insert("region".into(), s(r));
                    if task_region.is_none() {
                        warnings.push(
                            "TrueNAS looked each bucket's region up; cloudsync uses us-east-1 until you set the region"
                                .into(),
                        );
                    }
                }
            }
            let endpoint = settings.get("endpoint").and_then(Value::as_str).unwrap_or_default();
            match settings.get("max_upload_parts").and_then(Value::as_u64) {
                Some(10000) if endpoint.trim_end_matches('/').ends_with(".scw.cloud") => {
                    out.insert("max_upload_parts".into(), s("1000"));
                }
                Some(n) if n != 10000 => {
                    out.insert("max_upload_parts".into(), s(&n.to_string()));
                }
                _ => {}
            }
        }
        "STORJ_IX" => {
            for k in ["access_key_id", "secret_access_key"] {
                copy(&mut out, k, k);
            }
            let endpoint = settings.get("endpoint").and_then(Value::as_str).unwrap_or("https://gateway.storjshare.io/");
            out.insert("endpoint".into(), s(endpoint));
            out.insert("provider".into(), s("Other"));
            // What Storj recommends, as TrueNAS sets it.
            out.insert("chunk_size".into(), s("64M"));
            out.insert("upload_cutoff".into(), s("64M"));
            out.insert("disable_http2".into(), s("true"));
        }
        "AZUREBLOB" => {
            for k in ["account", "key", "endpoint"] {
                copy(&mut out, k, k);
            }
        }
        "B2" => {
            copy(&mut out, "account", "account");
            copy(&mut out, "key", "key");
        }
        "FTP" => {
            for k in ["host", "port", "user", "pass"] {
                copy(&mut out, k, k);
            }
        }
        "SFTP" => {
            for k in ["host", "port", "user", "pass"] {
                copy(&mut out, k, k);
            }
            if let Some(id) = settings.get("private_key").and_then(Value::as_i64) {
                match ssh_keys.get(&id) {
                    // rclone reads key_pem on one line with `\n` for each line end.
                    Some(pem) => {
                        out.insert("key_pem".into(), s(&crate::credentials::one_line_pem(pem)));
                    }
                    None => warnings.push(format!(
                        "its SSH key (TrueNAS keychain credential {id}) is not in what was imported; paste it into key_pem"
                    )),
                }
            }
        }
        "WEBDAV" => {
            for k in ["url", "user", "pass"] {
                copy(&mut out, k, k);
            }
            if let Some(v) = settings.get("vendor").and_then(Value::as_str) {
                out.insert("vendor".into(), s(&v.to_lowercase()));
            }
        }
        "HTTP" => copy(&mut out, "url", "url"),
        "GOOGLE_CLOUD_STORAGE" => copy(&mut out, "service_account_credentials", "service_account_credentials"),
        "GOOGLE_DRIVE" => {
            for k in ["client_id", "client_secret", "token", "team_drive"] {
                copy(&mut out, k, k);
            }
            if get("team_drive").is_none() {
                out.insert("root_folder_id".into(), s("root"));
            }
        }
        "ONEDRIVE" => {
            for k in ["client_id", "client_secret", "token", "drive_id"] {
                copy(&mut out, k, k);
            }
            let kind = match settings.get("drive_type").and_then(Value::as_str) {
                Some("PERSONAL") => "personal",
                Some("BUSINESS") => "business",
                Some("DOCUMENT_LIBRARY") => "documentLibrary",
                _ => "",
            };
            if !kind.is_empty() {
                out.insert("drive_type".into(), s(kind));
            }
        }
        "PCLOUD" => {
            for k in ["client_id", "client_secret", "token", "hostname"] {
                copy(&mut out, k, k);
            }
        }
        "OPENSTACK_SWIFT" => {
            for k in [
                "user",
                "key",
                "auth",
                "user_id",
                "domain",
                "tenant",
                "tenant_id",
                "tenant_domain",
                "region",
                "storage_url",
                "auth_token",
                "application_credential_id",
                "application_credential_name",
                "application_credential_secret",
                "auth_version",
                "endpoint_type",
            ] {
                copy(&mut out, k, k);
            }
        }
        // BOX, DROPBOX, GOOGLE_PHOTOS, HUBIC, YANDEX: an OAuth app and its token.
        _ => {
            for k in ["client_id", "client_secret", "token"] {
                copy(&mut out, k, k);
            }
        }
    }
    (out, warnings)
}

/// `path` under this machine's folders: the longest matching `from` wins.
pub fn local_path(path: &str, map: &[PathMapping]) -> String {
    let under = |from: &str| {
        let from = from.trim_end_matches('/');
        path == from || path.starts_with(&format!("{from}/"))
    };
    match map.iter().filter(|m| under(&m.from)).max_by_key(|m| m.from.trim_end_matches('/').len()) {
        Some(m) => format!("{}{}", m.to.trim_end_matches('/'), &path[m.from.trim_end_matches('/').len()..]),
        None => path.to_string(),
    }
}

/// TrueNAS `args` as safe flags, and the ones left out.
fn args_to_flags(args: &str) -> (Vec<String>, Vec<String>) {
    let Some(words) = shlex::split(args) else {
        return (Vec::new(), vec![args.to_string()]);
    };
    let (mut kept, mut left) = (Vec::new(), Vec::new());
    let mut words = words.into_iter().peekable();
    while let Some(w) = words.next() {
        // `--name value` for a valued flag is `--name=value` here.
        let flag = if protocol::tasks::SAFE_VALUED_FLAGS.contains(&w.as_str()) {
            match words.next_if(|v| !v.starts_with('-')) {
                Some(v) => format!("{w}={v}"),
                None => w,
            }
        } else {
            w
        };
        match protocol::tasks::check_flag(&flag) {
            Ok(()) if !kept.contains(&flag) => kept.push(flag),
            Ok(()) => {}
            Err(_) => left.push(flag),
        }
    }
    (kept, left)
}

/// A TrueNAS task as cloudsync settings (disabled, pointing at `credential`), its
/// warnings, and the crypt secrets it carries (`None` when they could not be read).
pub struct MappedTask {
    pub settings: TaskParams,
    pub warnings: Vec<String>,
    pub crypt: Option<(String, String)>,
}

pub fn task(t: &Task, kind: &str, credential: i64, path_map: &[PathMapping]) -> Result<MappedTask, String> {
    let mut warnings = Vec::new();
    let mut review = vec![format!(
        "Imported from TrueNAS (cloud sync task {}), disabled: check the local folder, the schedule and the options, then enable it.",
        t.id
    )];
    let direction = match t.direction.as_str() {
        "PUSH" => Direction::Push,
        "PULL" => Direction::Pull,
        other => return Err(format!("direction `{}` is neither PUSH nor PULL", other.escape_debug())),
    };
    let transfer_mode = match t.transfer_mode.as_str() {
        "SYNC" => TransferMode::Sync,
        "COPY" => TransferMode::Copy,
        "MOVE" => TransferMode::Move,
        other => return Err(format!("transfer_mode `{}` is not SYNC, COPY or MOVE", other.escape_debug())),
    };
    let path = local_path(&t.path, path_map);
    if !std::path::Path::new(&path).is_dir() {
        let why = format!(
            "the local folder {path} does not exist here (TrueNAS had {}); map it with path_map or edit the task",
            t.path
        );
        warnings.push(why.clone());
        review.push(why);
    }
    let attr = |k: &str| t.attributes.get(k);
    let mut flags = Vec::new();
    if attr("fast_list").and_then(Value::as_bool) == Some(true) {
        flags.push("--fast-list".to_string());
    }
    let mut valued = |name: &str, value: String| flags.push(format!("{name}={value}"));
    if let Some(class) = attr("storage_class").and_then(Value::as_str).filter(|c| !c.is_empty()) {
        valued("--s3-storage-class", class.to_string());
    }
    if attr("encryption").and_then(Value::as_str) == Some("AES256") {
        valued("--s3-server-side-encryption", "AES256".into());
    }
    if let Some(n) = attr("b2_chunk_size").and_then(Value::as_u64).filter(|_| kind == "B2") {
        valued("--b2-chunk-size", format!("{n}M"));
        if n > 200 {
            valued("--b2-upload-cutoff", format!("{n}M"));
        }
        if n > 128 {
            valued("--multi-thread-cutoff", format!("{}M", n * 2 + 1));
        }
    }
    if let Some(n) = attr("dropbox_chunk_size").and_then(Value::as_u64).filter(|_| kind == "DROPBOX") {
        valued("--dropbox-chunk-size", format!("{n}M"));
    }
    if kind == "ONEDRIVE" {
        // TrueNAS's OneDrive rate limits (onedrive.py).
        valued("--checkers", "1".into());
        valued("--tpslimit", "10".into());
    }
    if attr("acknowledge_abuse").and_then(Value::as_bool) == Some(true) {
        warnings.push("acknowledge_abuse (download files Google flags) is not carried over".into());
    }
    let (from_args, left) = args_to_flags(&t.args);
    for f in from_args {
        if !flags.contains(&f) {
            flags.push(f);
        }
    }
    if !left.is_empty() {
        warnings
            .push(format!("these rclone arguments are left out (not on cloudsync's safe list): {}", left.join(" ")));
    }
    if t.snapshot {
        let why = "TrueNAS took a ZFS snapshot before each push; cloudsync copies the live folder (snapshot it in a pre-script if you need that)";
        warnings.push(why.into());
        review.push(why.into());
    }
    for (name, script) in [("pre-script", &t.pre_script), ("post-script", &t.post_script)] {
        if !script.trim().is_empty() {
            let why = format!("its {name} gets the CLOUD_SYNC_* variables of the task's own fields, but not the credential's secrets or the encryption password, which TrueNAS passed too");
            warnings.push(why.clone());
            review.push(why);
        }
    }
    let crypt = match (t.encryption, &t.encryption_password, &t.encryption_salt) {
        (false, _, _) => None,
        (true, Some(p), Some(s)) if !p.is_empty() => Some((p.clone(), s.clone())),
        (true, _, _) => {
            let why = "its encryption password could not be read (a backup without pwenc_secret, or hidden by midclt): enter it in the task";
            warnings.push(why.into());
            review.push(why.into());
            None
        }
    };
    let [minute, hour, dom, month, dow] = t.schedule.clone();
    let settings = TaskParams {
        description: t.name(),
        credentials: credential,
        direction,
        transfer_mode,
        path,
        attributes: RemoteLocation {
            bucket: attr("bucket").and_then(Value::as_str).unwrap_or_default().to_string(),
            folder: attr("folder").and_then(Value::as_str).unwrap_or_default().trim_matches('/').to_string(),
        },
        include: t.include.clone(),
        exclude: t.exclude.clone(),
        pre_script: t.pre_script.clone(),
        post_script: t.post_script.clone(),
        bwlimit: t
            .bwlimit
            .iter()
            .map(|(time, bandwidth)| BwLimit { time: time.clone(), bandwidth: *bandwidth })
            .collect(),
        transfers: t.transfers.unwrap_or(4).clamp(1, protocol::tasks::MAX_TRANSFERS),
        follow_symlinks: t.follow_symlinks,
        create_empty_src_dirs: t.create_empty_src_dirs,
        encryption: t.encryption,
        filename_encryption: t.filename_encryption,
        encryption_password: None,
        encryption_salt: None,
        // TrueNAS has no start window: the whole day.
        schedule: Some(Schedule::new(&minute, &hour, &dom, &month, &dow)),
        enabled: false,
        max_delete: None,
        // TrueNAS has none of cloudsync's guards; keep its behaviour.
        allow_empty_source: true,
        max_delete_percent: None,
        keep_deleted: false,
        keep_deleted_days: None,
        verify: false,
        retry: Default::default(),
        catch_up: false,
        notify: Default::default(),
        extra_flags: flags,
        review,
    };
    Ok(MappedTask { settings, warnings, crypt })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_matching_prefix_maps_a_path() {
        let m = |from: &str, to: &str| PathMapping { from: from.into(), to: to.into() };
        let map = [m("/mnt/tank", "/srv/tank"), m("/mnt/tank/media", "/data/media"), m("/mnt/t", "/wrong")];
        assert_eq!(local_path("/mnt/tank/docs/a", &map), "/srv/tank/docs/a");
        assert_eq!(local_path("/mnt/tank/media/x", &map), "/data/media/x");
        assert_eq!(local_path("/mnt/tank", &map), "/srv/tank");
        assert_eq!(local_path("/mnt/tanker", &map), "/mnt/tanker");
    }

    #[test]
    fn args_keep_safe_flags_and_name_the_rest() {
        let (kept, left) =
            args_to_flags("--checksum --s3-storage-class GLACIER --delete-before --exclude '*.tmp' --fast-list");
        assert_eq!(kept, ["--checksum", "--s3-storage-class=GLACIER", "--fast-list"]);
        assert_eq!(left, ["--delete-before", "--exclude", "*.tmp"]);
    }
}
