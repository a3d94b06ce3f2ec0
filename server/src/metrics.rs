//! Prometheus metrics (`GET /metrics`): counters kept since the server started
//! (`Counters`, bumped by the runner and the notifier) and the gauges read at each
//! scrape (`Snapshot`, gathered by the HTTP handler), written in Prometheus' text format
//! by the `prometheus` crate. Task series carry the labels `task` (the id) and
//! `description`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prometheus::{Encoder, GaugeVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};
use protocol::runs::{Run, RunState};

/// What only counting can tell: runs ended by task and state, failed deliveries by
/// target. In memory: they start again from zero with the server, as counters may.
#[derive(Clone, Default)]
pub struct Counters {
    runs: Arc<Mutex<HashMap<(i64, RunState), u64>>>,
    failed_deliveries: Arc<Mutex<HashMap<String, u64>>>,
}

impl Counters {
    pub fn run_ended(&self, task_id: i64, state: RunState) {
        *self.runs.lock().expect("counters").entry((task_id, state)).or_default() += 1;
    }

    pub fn delivery_failed(&self, target: &str) {
        *self.failed_deliveries.lock().expect("counters").entry(target.to_string()).or_default() += 1;
    }
}

/// One task as a scrape sees it.
pub struct TaskFacts {
    pub id: i64,
    pub description: String,
    pub last_run: Option<Run>,
    /// Unix seconds of the end of its newest successful run.
    pub last_success: Option<i64>,
    /// Unix seconds of its next scheduled start.
    pub next_run: Option<i64>,
}

pub struct Snapshot {
    pub tasks: Vec<TaskFacts>,
    pub queued: usize,
    pub running: usize,
    pub version: String,
    pub rclone: String,
}

fn unix(rfc3339: &str) -> Option<f64> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).ok()?;
    Some(t.unix_timestamp_nanos() as f64 / 1e9)
}

/// The metrics in Prometheus' text format (version 0.0.4).
pub fn render(counters: &Counters, s: &Snapshot) -> Result<String, prometheus::Error> {
    let r = Registry::new();
    let task = ["task", "description"];
    let gauge = |name: &str, help: &str, labels: &[&str]| -> Result<GaugeVec, prometheus::Error> {
        let g = GaugeVec::new(Opts::new(name, help), labels)?;
        r.register(Box::new(g.clone()))?;
        Ok(g)
    };
    let last_run = gauge(
        "cloudsync_task_last_run_timestamp_seconds",
        "When the task's newest finished run ended, by its state.",
        &["task", "description", "state"],
    )?;
    let last_success =
        gauge("cloudsync_task_last_success_timestamp_seconds", "When the task's newest successful run ended.", &task)?;
    let duration =
        gauge("cloudsync_task_last_run_duration_seconds", "How long the task's newest finished run took.", &task)?;
    let bytes = gauge("cloudsync_task_last_run_bytes", "Bytes the task's newest finished run transferred.", &task)?;
    let files = gauge("cloudsync_task_last_run_files", "Files the task's newest finished run transferred.", &task)?;
    let next = gauge("cloudsync_task_next_run_timestamp_seconds", "When the scheduler starts the task next.", &task)?;
    let runs = IntCounterVec::new(
        Opts::new("cloudsync_runs_total", "Runs ended since the server started, by task and state."),
        &["task", "description", "state"],
    )?;
    r.register(Box::new(runs.clone()))?;
    let failures = IntCounterVec::new(
        Opts::new(
            "cloudsync_notification_failures_total",
            "Notification delivery attempts that failed since the server started, by target.",
        ),
        &["target"],
    )?;
    r.register(Box::new(failures.clone()))?;
    let queued = IntGauge::new("cloudsync_runs_queued", "Runs waiting to start.")?;
    let running = IntGauge::new("cloudsync_runs_running", "Runs going now.")?;
    r.register(Box::new(queued.clone()))?;
    r.register(Box::new(running.clone()))?;
    let info = IntGaugeVec::new(
        Opts::new("cloudsync_build_info", "The server's version and rclone's."),
        &["version", "rclone"],
    )?;
    r.register(Box::new(info.clone()))?;

    let names: HashMap<i64, &str> = s.tasks.iter().map(|t| (t.id, t.description.as_str())).collect();
    for t in &s.tasks {
        let id = t.id.to_string();
        let labels = [id.as_str(), t.description.as_str()];
        if let Some(run) = t.last_run.as_ref().filter(|r| !r.state.is_active()) {
            if let Some(end) = run.finished_at.as_deref().and_then(unix) {
                last_run.with_label_values(&[labels[0], labels[1], run.state.as_str()]).set(end);
                if let Some(start) = run.started_at.as_deref().and_then(unix) {
                    duration.with_label_values(&labels).set(end - start);
                }
            }
            let stats = run.stats.clone().unwrap_or_default();
            bytes.with_label_values(&labels).set(stats.bytes as f64);
            files.with_label_values(&labels).set(stats.transfers as f64);
        }
        if let Some(at) = t.last_success {
            last_success.with_label_values(&labels).set(at as f64);
        }
        if let Some(at) = t.next_run {
            next.with_label_values(&labels).set(at as f64);
        }
    }
    for ((task_id, state), n) in counters.runs.lock().expect("counters").iter() {
        let Some(description) = names.get(task_id) else { continue };
        runs.with_label_values(&[task_id.to_string().as_str(), description, state.as_str()]).inc_by(*n);
    }
    for (target, n) in counters.failed_deliveries.lock().expect("counters").iter() {
        failures.with_label_values(&[target.as_str()]).inc_by(*n);
    }
    queued.set(s.queued as i64);
    running.set(s.running as i64);
    info.with_label_values(&[s.version.as_str(), s.rclone.as_str()]).set(1);

    let mut out = Vec::new();
    TextEncoder::new().encode(&r.gather(), &mut out)?;
    Ok(String::from_utf8(out).expect("the encoder writes UTF-8"))
}
