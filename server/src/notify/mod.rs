//! Notifications: targets (`store`), one delivery attempt by kind (`send`), and
//! `Notifier`, which the runner tells when runs start and end. Every send runs in the
//! background with a timeout and up to three attempts, each recorded, so delivery never
//! delays or fails a run and a broken setting shows in `notify.deliveries`.

pub mod send;
pub mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::notify::{MessageTask, NotifyOn, RunMessage, TargetSettings, TaskNotify, TestResult};
use protocol::runs::{Run, RunState};
use sqlx::PgPool;
use tokio::sync::watch;

use crate::crypto::SecretBox;
use send::Ping;

/// Attempts per message, and the pause before each retry.
const ATTEMPTS: usize = 3;
const PAUSE: Duration = Duration::from_secs(1);
/// Log lines a failure message carries.
const LAST_LINES: i64 = 20;

#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    secrets: Arc<SecretBox>,
    http: reqwest::Client,
    /// `--public-url`, for links to a run's page.
    public_url: Option<String>,
    counters: crate::metrics::Counters,
    /// Runs whose start pings are still being sent, each with a receiver that closes
    /// when they are: a run's end ping waits for it, so a healthchecks check never hears
    /// `/fail` before the `/start` of the same run (a run that fails at once would
    /// otherwise race its own start).
    starting: Mutex<HashMap<i64, watch::Receiver<()>>>,
}

/// How a run ended, as the runner reports it.
pub struct Ended {
    pub task_id: i64,
    pub run: Run,
    /// The state of the task's previous finished run (not a dry run), for "recovered".
    pub previous: Option<RunState>,
    /// The run failed because the provider refused the credential's login:
    /// `Some(true)` the first time (told as `credential.needs_reconnect`), `Some(false)`
    /// when it already was (told to no one but healthchecks).
    pub login_refused: Option<bool>,
}

impl Notifier {
    pub fn new(
        pool: PgPool,
        secrets: Arc<SecretBox>,
        http: reqwest::Client,
        public_url: Option<String>,
        counters: crate::metrics::Counters,
    ) -> Self {
        let starting = Mutex::new(HashMap::new());
        Notifier { inner: Arc::new(Inner { pool, secrets, http, public_url, counters, starting }) }
    }

    /// A run started: the task's healthchecks targets hear it.
    pub fn run_started(&self, task_id: i64, run_id: i64) {
        let (sending, receiver) = watch::channel(());
        self.starting().insert(run_id, receiver);
        let me = self.clone();
        tokio::spawn(async move {
            if let Some((_, notify)) = me.task(task_id).await {
                let mut sends = Vec::new();
                for (id, settings) in me.targets(&notify.targets).await {
                    if matches!(settings, TargetSettings::Healthchecks(_)) {
                        sends.push(me.deliver(id, Some(run_id), settings, Ping::Start, None));
                    }
                }
                for send in sends {
                    let _ = send.await;
                }
            }
            me.starting().remove(&run_id);
            drop(sending);
        });
    }

    fn starting(&self) -> std::sync::MutexGuard<'_, HashMap<i64, watch::Receiver<()>>> {
        self.inner.starting.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A run ended: each target of the task that `on` lets hear it gets the message
    /// (healthchecks targets always do).
    pub fn run_ended(&self, ended: Ended) {
        let start = self.starting().get(&ended.run.id).cloned();
        let me = self.clone();
        tokio::spawn(async move {
            let Some((task, notify)) = me.task(ended.task_id).await else { return };
            let run = ended.run;
            let failed = matches!(run.state, RunState::Failed | RunState::Interrupted);
            let recovered = run.state == RunState::Success
                && matches!(ended.previous, Some(RunState::Failed | RunState::Interrupted));
            let event = match run.state {
                _ if ended.login_refused.is_some() => "credential.needs_reconnect",
                _ if failed => "run.failed",
                RunState::Success if recovered => "run.recovered",
                RunState::Success => "run.succeeded",
                _ => "run.aborted",
            };
            let wanted = match notify.on {
                NotifyOn::Never => false,
                NotifyOn::Always => true,
                NotifyOn::Failure => failed || recovered,
            } && ended.login_refused != Some(false);
            let targets = me.targets(&notify.targets).await;
            if targets.is_empty() {
                return;
            }
            let last_lines = if failed { me.last_lines(run.id).await } else { Vec::new() };
            let message = me.message(event, task, run, last_lines);
            for (id, settings) in targets {
                let heartbeat = matches!(settings, TargetSettings::Healthchecks(_));
                if heartbeat || wanted {
                    let run_id = Some(message.run.id);
                    let after = start.clone().filter(|_| heartbeat);
                    me.deliver(id, run_id, settings, Ping::Message(Box::new(message.clone())), after);
                }
            }
        });
    }

    /// A scheduled start at `due` was skipped because `active` (the task's previous run)
    /// was still going: a failure for every target but healthchecks (whose pings come
    /// from the run that is going).
    pub fn start_skipped(&self, task_id: i64, active: Run, due: String) {
        let me = self.clone();
        tokio::spawn(async move {
            let Some((task, notify)) = me.task(task_id).await else { return };
            if notify.on == NotifyOn::Never {
                return;
            }
            let mut message = me.message("run.skipped", task, active, Vec::new());
            message.last_lines = vec![format!("the scheduled start of {due} was skipped: this run was still going")];
            for (id, settings) in me.targets(&notify.targets).await {
                if !matches!(settings, TargetSettings::Healthchecks(_)) {
                    me.deliver(id, Some(message.run.id), settings, Ping::Message(Box::new(message.clone())), None);
                }
            }
        });
    }

    /// Sends a sample message to target `id` now, once, and records it.
    pub async fn test(&self, id: i64) -> sqlx::Result<Option<TestResult>> {
        let Some(target) = store::get(&self.inner.pool, &self.inner.secrets, id).await? else { return Ok(None) };
        let Ok(settings) = target.settings else {
            let message = "its settings cannot be decrypted with this server's secret seed; enter them again";
            return Ok(Some(TestResult { ok: false, message: message.into() }));
        };
        let sample = Run {
            id: 0,
            task_id: 0,
            state: RunState::Success,
            dry_run: false,
            queued_at: crate::time_format::rfc3339(time::OffsetDateTime::now_utc()),
            started_at: None,
            finished_at: None,
            exit_code: Some(0),
            error: None,
            stats: None,
            retry_of: None,
        };
        let task = MessageTask { id: 0, description: "cloudsync test message".into() };
        let message = self.message("test", task, sample, Vec::new());
        let sent = send::send(&self.inner.http, &settings, &Ping::Message(Box::new(message))).await;
        store::record_delivery(&self.inner.pool, id, None, &sent).await?;
        let protocol = if matches!(settings, TargetSettings::Email(_)) { "SMTP" } else { "HTTP" };
        Ok(Some(match sent {
            Ok(Some(status)) => TestResult { ok: true, message: format!("delivered ({protocol} {status})") },
            Ok(None) => TestResult { ok: true, message: "delivered".into() },
            Err((_, why)) => TestResult { ok: false, message: why },
        }))
    }

    /// The task's description and whom to tell: its own targets, or the server-wide
    /// default when it lists none (and does not say `never`).
    async fn task(&self, task_id: i64) -> Option<(MessageTask, TaskNotify)> {
        let (description, mut notify) =
            crate::tasks::store::notify_settings(&self.inner.pool, task_id).await.ok()??;
        if notify.targets.is_empty() && notify.on != NotifyOn::Never {
            notify = store::default_notify(&self.inner.pool).await.ok()?;
        }
        Some((MessageTask { id: task_id, description }, notify))
    }

    /// The targets among `ids` whose settings open: (id and name, settings).
    async fn targets(&self, ids: &[i64]) -> Vec<((i64, String), store::Settings)> {
        if ids.is_empty() {
            return Vec::new();
        }
        match store::many(&self.inner.pool, &self.inner.secrets, ids).await {
            Ok(list) => list.into_iter().filter_map(|t| Some(((t.id, t.name), t.settings.ok()?))).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the notification targets");
                Vec::new()
            }
        }
    }

    async fn last_lines(&self, run_id: i64) -> Vec<String> {
        let page = crate::logstore::Page { after: 0, before: Some(i64::MAX), query: None, limit: LAST_LINES };
        match crate::logstore::read_page(&self.inner.pool, run_id, page).await {
            Ok(lines) => lines.into_iter().map(|l| l.message).collect(),
            Err(_) => Vec::new(),
        }
    }

    fn message(&self, event: &str, task: MessageTask, run: Run, last_lines: Vec<String>) -> RunMessage {
        let duration_seconds = run.duration_seconds();
        let url = self.inner.public_url.as_ref().filter(|_| run.id > 0).map(|u| format!("{u}/runs?run={}", run.id));
        RunMessage { event: event.into(), task, run, duration_seconds, last_lines, url }
    }

    /// Up to [`ATTEMPTS`] tries in the background, each recorded; with `after`, once that
    /// channel has closed (the run's start pings are done).
    fn deliver(
        &self,
        (target_id, name): (i64, String),
        run_id: Option<i64>,
        settings: store::Settings,
        ping: Ping,
        after: Option<watch::Receiver<()>>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            if let Some(mut start) = after {
                // Nothing is ever sent on it: this returns when the sender is dropped.
                let _ = start.changed().await;
            }
            for attempt in 1..=ATTEMPTS {
                let sent = send::send(&me.inner.http, &settings, &ping).await;
                let ok = sent.is_ok();
                if let Err(e) = store::record_delivery(&me.inner.pool, target_id, run_id, &sent).await {
                    tracing::warn!(target_id, error = %e, "cannot record a delivery");
                }
                if ok {
                    return;
                }
                me.inner.counters.delivery_failed(&name);
                tracing::warn!(target_id, attempt, "a notification was not delivered");
                if attempt < ATTEMPTS {
                    tokio::time::sleep(PAUSE * attempt as u32).await;
                }
            }
        })
    }
}
