//! Random and malformed input thrown at the decoders and validators: JSON-RPC messages
//! at a real server (every method, params built from random JSON), cron fields,
//! bandwidth timetables, filters and backup documents. Nothing may panic, the server
//! must keep answering, and every refusal of params must name a field.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

use crate::helpers::spawn_app;

const ALPHABET: &[&str] = &[
    "",
    "*",
    "/",
    "-",
    ",",
    "0",
    "1",
    "59",
    "60",
    "61",
    "4294967295",
    "99999999999999999999",
    "*/0",
    "*/4294967295",
    "a",
    "mon",
    "jan",
    "\u{0}",
    "\n",
    "../",
    "{",
    "[",
    "]",
    "}",
    "é",
    "💾",
    " ",
    "\\",
    "\"",
    "-1",
    "08:00",
    "24:00",
];

fn random_text(rng: &mut StdRng) -> String {
    let n = rng.gen_range(0..5);
    (0..n).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())]).collect()
}

fn random_value(rng: &mut StdRng, depth: u32) -> Value {
    match rng.gen_range(0..if depth > 2 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => json!(rng.gen::<bool>()),
        2 => json!(rng.gen_range(-3i64..100_000)),
        3 => json!(random_text(rng)),
        4 => json!(rng.gen::<f64>() * 1e12),
        5 => Value::Array((0..rng.gen_range(0..4)).map(|_| random_value(rng, depth + 1)).collect()),
        _ => Value::Object(random_object(rng, depth + 1, &[])),
    }
}

/// An object with some of `keys` (and random other keys) set to random values.
fn random_object(rng: &mut StdRng, depth: u32, keys: &[&str]) -> Map<String, Value> {
    let mut m = Map::new();
    for k in keys {
        if rng.gen_bool(0.7) {
            m.insert(k.to_string(), random_value(rng, depth));
        }
    }
    if rng.gen_bool(0.2) {
        m.insert(random_text(rng), random_value(rng, depth));
    }
    m
}

const PARAM_KEYS: &[&str] = &[
    "id",
    "name",
    "provider",
    "attributes",
    "description",
    "credentials",
    "direction",
    "transfer_mode",
    "path",
    "include",
    "exclude",
    "bwlimit",
    "schedule",
    "transfers",
    "pre_script",
    "post_script",
    "task",
    "token",
    "username",
    "password",
    "backup",
    "include_secret_seed",
    "origin",
    "count",
    "from",
    "after_seq",
    "limit",
    "dry_run",
    "expires_at",
    "old",
    "new",
    "run_id",
    "state",
];

#[tokio::test]
async fn random_requests_never_break_the_server_and_every_params_error_names_a_field() {
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    let mut rng = StdRng::seed_from_u64(0x5eed_c10d);
    // Methods that would end this socket's session or start long work are left out.
    let skip = [
        "auth.logout",
        "auth.change_password",
        "auth.login",
        "auth.resume",
        "task.run",
        "run.follow",
        "events.subscribe",
    ];
    let methods: Vec<&str> = protocol::method::METHODS.iter().copied().filter(|m| !skip.contains(m)).collect();
    let mut refused = 0;
    for i in 0..600 {
        let method = methods[rng.gen_range(0..methods.len())];
        let mut params = Value::Object(random_object(&mut rng, 0, PARAM_KEYS));
        if method == "config.import" && rng.gen_bool(0.5) {
            params = json!({"backup": {"format": "cloudsync-config", "version": 1, "created_at": "x", "cloudsync_version": "x",
                "secret_seed": random_value(&mut rng, 2), "credentials": [random_object(&mut rng, 1, &["id", "name", "provider", "sealed"])],
                "tasks": [random_object(&mut rng, 1, &["id", "settings", "encryption_sealed"])]}});
        }
        if method.starts_with("task.") && rng.gen_bool(0.5) {
            let schedule = json!({"minute": random_text(&mut rng), "hour": random_text(&mut rng), "dom": random_text(&mut rng),
                                  "month": random_text(&mut rng), "dow": random_text(&mut rng), "begin": random_text(&mut rng)});
            params = json!({"description": random_text(&mut rng), "credentials": 1, "direction": "PUSH", "transfer_mode": "COPY",
                "path": format!("/{}", random_text(&mut rng)), "include": [random_text(&mut rng)],
                "bwlimit": [{"time": random_text(&mut rng), "bandwidth": rng.gen_range(0u64..u64::MAX)}], "schedule": schedule});
        }
        match c.call(method, params.clone()).await {
            Ok(_) => {}
            Err(e) => {
                refused += 1;
                assert_ne!(e.code, protocol::ErrorCode::INTERNAL_ERROR, "#{i} {method} {params}: {e:?}");
                if e.code == protocol::ErrorCode::INVALID_PARAMS {
                    let fields = e.field_errors();
                    assert!(!fields.is_empty(), "#{i} {method} {params}: no field named: {e:?}");
                    assert!(
                        fields.iter().all(|f| !f.field.is_empty() && !f.message.is_empty()),
                        "#{i} {method}: {e:?}"
                    );
                }
            }
        }
    }
    println!("{refused} of 600 random requests refused");
    // Malformed messages too.
    for _ in 0..200 {
        let text: String = (0..rng.gen_range(0..40)).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())]).collect();
        c.send_text(text).await;
    }
    c.send_text(json!({"jsonrpc": "2.0", "id": "still-there", "method": "auth.me"}).to_string()).await;
    loop {
        let msg = c.recv().await;
        if msg["id"] == "still-there" {
            assert_eq!(msg["result"]["username"], "admin");
            break;
        }
    }
}

#[test]
fn random_schedules_filters_and_timetables_are_refused_with_a_field_never_a_panic() {
    let mut rng = StdRng::seed_from_u64(42);
    for _ in 0..20_000 {
        let schedule = protocol::tasks::Schedule {
            minute: random_text(&mut rng),
            hour: random_text(&mut rng),
            dom: random_text(&mut rng),
            month: random_text(&mut rng),
            dow: random_text(&mut rng),
            begin: random_text(&mut rng),
            end: random_text(&mut rng),
        };
        if let Err(errors) = protocol::schedule::CronSpec::parse(&schedule) {
            let known = ["minute", "hour", "dom", "month", "dow", "begin", "end"];
            assert!(errors.iter().all(|e| known.contains(&e.field.as_str()) && !e.message.is_empty()), "{errors:?}");
        } else if let Ok(spec) = protocol::schedule::CronSpec::parse(&schedule) {
            let _ = spec.describe();
        }
        let task: Result<protocol::tasks::TaskParams, _> = serde_json::from_value(json!({
            "description": random_text(&mut rng), "credentials": 1, "direction": "PULL", "transfer_mode": "SYNC",
            "path": random_text(&mut rng), "include": [random_text(&mut rng)], "exclude": [random_text(&mut rng)],
            "bwlimit": [{"time": random_text(&mut rng), "bandwidth": null}, {"time": random_text(&mut rng), "bandwidth": 5}],
            "attributes": {"bucket": random_text(&mut rng), "folder": random_text(&mut rng)},
            "pre_script": random_text(&mut rng),
        }));
        let task = task.expect("well-typed JSON decodes");
        for e in protocol::tasks::check_task(&task) {
            assert!(!e.field.is_empty() && !e.message.is_empty(), "{e:?}");
        }
    }
}

#[test]
fn random_backup_documents_are_refused_with_a_field_never_a_panic() {
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..5_000 {
        let doc = json!({"format": if rng.gen_bool(0.8) { "cloudsync-config".to_string() } else { random_text(&mut rng) },
            "version": rng.gen_range(0u32..3), "created_at": random_text(&mut rng), "cloudsync_version": "x",
            "secret_seed": if rng.gen_bool(0.5) { Value::Null } else { json!(random_text(&mut rng)) },
            "credentials": [{"id": rng.gen_range(-5i64..5), "name": random_text(&mut rng), "provider": random_text(&mut rng), "sealed": random_text(&mut rng)}],
            "tasks": []});
        let Ok(backup) = serde_json::from_value::<protocol::config::ConfigBackup>(doc) else { continue };
        if let Err(errors) = cloudsync::backup::check(backup) {
            assert!(errors.iter().all(|e| e.field.starts_with("backup.") && !e.message.is_empty()), "{errors:?}");
        }
    }
}

#[test]
fn random_frames_never_panic_the_message_parser() {
    let mut rng = StdRng::seed_from_u64(99);
    let valid = json!({"jsonrpc": "2.0", "id": 1, "method": "task.get", "params": {"id": 1}}).to_string();
    for _ in 0..20_000 {
        let mut bytes = valid.clone().into_bytes();
        for _ in 0..rng.gen_range(1..6) {
            let at = rng.gen_range(0..bytes.len());
            match rng.gen_range(0..3) {
                0 => bytes[at] = rng.gen_range(0x20..0x7f),
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, b"{}[]\",:0"[rng.gen_range(0..8)]),
            }
            if bytes.is_empty() {
                break;
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = cloudsync::rpc::parse(&text);
    }
}
