//! What many tests need: a credential for a storage server, a task, a run to its end.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::RpcClient;
use crate::storage::StorageServer;

/// A credential for `server` named `name`; its id.
pub async fn credential(c: &mut RpcClient, server: &StorageServer, name: &str) -> i64 {
    let (provider, attrs) = server.credential();
    let params = protocol::credentials::CreateParams {
        name: name.into(),
        provider: provider.into(),
        attributes: serde_json::from_value(attrs).expect("an attribute map"),
    };
    c.call_typed::<protocol::credentials::Create>(params).await.expect("credential created").id
}

pub async fn make_task(
    c: &mut RpcClient,
    cred: i64,
    direction: &str,
    mode: &str,
    local: &Path,
    bucket: &str,
    folder: &str,
    extra: Value,
) -> i64 {
    let mut t = json!({"description": format!("{direction} {mode} {}", local.display()), "credentials": cred, "direction": direction,
                       "transfer_mode": mode, "path": local, "attributes": {"bucket": bucket, "folder": folder}});
    if let (Some(t), Some(extra)) = (t.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            t.insert(k.clone(), v.clone());
        }
    }
    c.call("task.create", t).await.unwrap()["id"].as_i64().unwrap()
}

/// Waits until the run has ended (60 s at most) and returns it.
pub async fn finished(c: &mut RpcClient, run_id: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let run = c.call("run.get", json!({"id": run_id})).await.unwrap();
        if !matches!(run["state"].as_str(), Some("QUEUED" | "RUNNING")) {
            return run;
        }
        assert!(Instant::now() < deadline, "run {run_id} did not end: {run}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn run_to_end(c: &mut RpcClient, task: i64, dry_run: bool) -> Value {
    let run_id = c.call("task.run", json!({"id": task, "dry_run": dry_run})).await.unwrap()["run_id"].as_i64().unwrap();
    finished(c, run_id).await
}
