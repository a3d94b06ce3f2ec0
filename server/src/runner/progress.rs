//! Reading rclone's JSON log (`--use-json-log`): stats lines become progress, the rest
//! become log lines with their level.

use protocol::runs::{LogLevel, Progress};
use serde_json::Value;

pub enum RcloneLine {
    Stats(Progress),
    Log { level: LogLevel, message: String },
}

/// One stderr line. Stats are recognised by their `stats` object, not the level (rclone
/// 1.60 logs them as warning, 1.75 as notice).
pub fn parse(line: &str) -> RcloneLine {
    let Ok(v) = serde_json::from_str::<Value>(line) else {
        return RcloneLine::Log { level: LogLevel::Notice, message: line.trim().to_string() };
    };
    if let Some(s) = v.get("stats") {
        let n = |k: &str| s.get(k).and_then(Value::as_u64).unwrap_or(0);
        let bytes = n("bytes");
        let total_bytes = n("totalBytes");
        let percent = if total_bytes > 0 { (bytes as f64 / total_bytes as f64 * 100.0).min(100.0) } else { 0.0 };
        return RcloneLine::Stats(Progress {
            bytes,
            total_bytes,
            percent,
            speed: s.get("speed").and_then(Value::as_f64).unwrap_or(0.0),
            eta: s.get("eta").and_then(Value::as_u64),
            transfers: n("transfers"),
            total_transfers: n("totalTransfers"),
            checks: n("checks"),
            deletes: n("deletes"),
            errors: n("errors"),
            verified: None,
            differences: None,
        });
    }
    let level = LogLevel::parse(v.get("level").and_then(Value::as_str).unwrap_or("notice"));
    let msg = v.get("msg").and_then(Value::as_str).unwrap_or("").trim();
    let message = match v.get("object").and_then(Value::as_str) {
        Some(obj) if !obj.is_empty() && !msg.contains(obj) => format!("{obj}: {msg}"),
        _ => msg.to_string(),
    };
    RcloneLine::Log { level, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_lines_become_progress() {
        let line = r#"{"level":"notice","msg":"...","stats":{"bytes":50,"totalBytes":200,"speed":12.5,"eta":3,"transfers":1,"totalTransfers":4,"checks":2,"deletes":0,"errors":0}}"#;
        let RcloneLine::Stats(p) = parse(line) else { panic!("stats") };
        assert_eq!((p.bytes, p.total_bytes, p.percent, p.eta, p.total_transfers), (50, 200, 25.0, Some(3), 4));
    }

    #[test]
    fn other_lines_keep_level_and_object() {
        let RcloneLine::Log { level, message } = parse(r#"{"level":"info","msg":"Copied (new)","object":"a/b.txt"}"#)
        else {
            panic!()
        };
        assert_eq!((level.as_str(), message.as_str()), ("info", "a/b.txt: Copied (new)"));
        let RcloneLine::Log { level, .. } = parse("not json") else { panic!() };
        assert_eq!(level, LogLevel::Notice);
    }
}
