//! The scheduler: it knows when each enabled task with a schedule starts next, keeps
//! those times in order, sleeps until the earliest, and then asks the runner to start
//! the task. It computes times only (with `protocol::schedule`, the code the browser's
//! preview runs); the runner decides what happens when a task is still busy.
//!
//! - Recomputed on start and after an import ([`Scheduler::reload`]); a task handler
//!   plans its one task with the schedule validation already parsed
//!   ([`Scheduler::plan_task`]). Each planned start is also written to the task's row,
//!   so at start-up a planned start in the past was missed: a task with `catch_up`
//!   gets one run for them all ([`Scheduler::catch_up`]); the others wait for their
//!   next start.
//! - The clock is injectable ([`clock::ManualClock`] in tests).

pub mod clock;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use protocol::schedule::{CronSpec, Zone};
use sqlx::PgPool;
use tokio::sync::Notify;

use crate::runner::{Runner, ScheduledStart};
pub use clock::{Clock, ManualClock, SystemClock};

#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    runner: Runner,
    zone: Zone,
    clock: Arc<dyn Clock>,
    plan: Mutex<Plan>,
    changed: Notify,
}

/// Every scheduled task's next start, in order.
#[derive(Default)]
struct Plan {
    order: BTreeSet<(DateTime<Utc>, i64)>,
    tasks: HashMap<i64, (CronSpec, DateTime<Utc>)>,
}

impl Plan {
    fn insert(&mut self, task_id: i64, spec: CronSpec, next: Option<DateTime<Utc>>) {
        if let Some(next) = next {
            self.order.insert((next, task_id));
            self.tasks.insert(task_id, (spec, next));
        }
    }

    fn remove(&mut self, task_id: i64) {
        if let Some((_, at)) = self.tasks.remove(&task_id) {
            self.order.remove(&(at, task_id));
        }
    }

    /// Removes and returns the tasks due at `now`.
    fn take_due(&mut self, now: DateTime<Utc>) -> Vec<(i64, CronSpec, DateTime<Utc>)> {
        let mut due = Vec::new();
        while let Some(&(at, task_id)) = self.order.first().filter(|(at, _)| *at <= now) {
            self.order.pop_first();
            if let Some((spec, _)) = self.tasks.remove(&task_id) {
                due.push((task_id, spec, at));
            }
        }
        due
    }
}

impl Scheduler {
    pub fn new(pool: PgPool, runner: Runner, zone: Zone, clock: Arc<dyn Clock>) -> Self {
        Scheduler {
            inner: Arc::new(Inner {
                pool,
                runner,
                zone,
                clock,
                plan: Mutex::new(Plan::default()),
                changed: Notify::new(),
            }),
        }
    }

    /// Plans one task after it changed: `schedule` is what its validated settings parsed
    /// to (`None` when disabled, manual or deleted). No database read, no re-parsing.
    pub fn plan_task(&self, task_id: i64, schedule: Option<&CronSpec>) {
        let now = self.inner.clock.now();
        let mut plan = self.inner.plan.lock().expect("plan lock");
        plan.remove(task_id);
        let next = schedule.and_then(|spec| {
            let next = spec.next_after(&self.inner.zone, now).map(|t| t.with_timezone(&Utc));
            plan.insert(task_id, spec.clone(), next);
            next
        });
        drop(plan);
        self.remember(task_id, next);
        self.inner.changed.notify_one();
    }

    /// Writes a task's next planned start to its row, in the background.
    fn remember(&self, task_id: i64, next: Option<DateTime<Utc>>) {
        let pool = self.inner.pool.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::tasks::store::set_planned_start(&pool, task_id, next).await {
                tracing::warn!(task_id, error = %e, "cannot record the next planned start");
            }
        });
    }

    /// At start-up, before the plan is recomputed: every task with `catch_up` whose
    /// planned start passed while the server was down gets one run, whose log names the
    /// latest start it makes up for and how many were missed.
    pub async fn catch_up(&self) {
        let now = self.inner.clock.now();
        let missed = match crate::tasks::store::missed_starts(&self.inner.pool, now).await {
            Ok(m) => m,
            Err(e) => return tracing::error!(error = %e, "cannot read the missed scheduled starts"),
        };
        for (task_id, schedule, planned) in missed {
            let Ok(spec) = CronSpec::parse(&schedule) else { continue };
            let (mut latest, mut count) = (planned, 1u32);
            while count < 100_000 {
                match spec.next_after(&self.inner.zone, latest).map(|t| t.with_timezone(&Utc)) {
                    Some(next) if next <= now => (latest, count) = (next, count + 1),
                    _ => break,
                }
            }
            let due = latest.with_timezone(&self.inner.zone).format("%Y-%m-%d %H:%M %Z").to_string();
            match self.inner.runner.start_catch_up(task_id, &due, count).await {
                Ok(run_id) => tracing::info!(task_id, run_id, %due, count, "catching up on a missed scheduled start"),
                Err(e) => tracing::error!(task_id, error = %e, "cannot catch up on a missed start"),
            }
        }
    }

    /// Reads the tasks again and recomputes every next start from now.
    pub async fn reload(&self) -> sqlx::Result<()> {
        let tasks = crate::tasks::store::scheduled(&self.inner.pool).await?;
        let now = self.inner.clock.now();
        let mut plan = Plan::default();
        for (task_id, schedule) in tasks {
            match CronSpec::parse(&schedule) {
                Ok(spec) => {
                    let next = spec.next_after(&self.inner.zone, now).map(|t| t.with_timezone(&Utc));
                    plan.insert(task_id, spec, next);
                    crate::tasks::store::set_planned_start(&self.inner.pool, task_id, next).await?;
                }
                Err(e) => tracing::warn!(task_id, errors = ?e, "task has an invalid schedule; not scheduled"),
            }
        }
        *self.inner.plan.lock().expect("plan lock") = plan;
        self.inner.changed.notify_one();
        Ok(())
    }

    /// When the task starts next, in the server's zone.
    pub fn next_run(&self, task_id: i64) -> Option<DateTime<Zone>> {
        let plan = self.inner.plan.lock().expect("plan lock");
        plan.tasks.get(&task_id).map(|(_, at)| at.with_timezone(&self.inner.zone))
    }

    /// Fires tasks as they fall due, until the process ends.
    pub async fn run_forever(self) {
        self.catch_up().await;
        if let Err(e) = self.reload().await {
            tracing::error!(error = %e, "cannot read the tasks to schedule; retrying when they change");
        }
        loop {
            let now = self.inner.clock.now();
            let due = {
                let mut plan = self.inner.plan.lock().expect("plan lock");
                let due = plan.take_due(now);
                for (task_id, spec, _) in &due {
                    let next = spec.next_after(&self.inner.zone, now).map(|t| t.with_timezone(&Utc));
                    plan.insert(*task_id, spec.clone(), next);
                    self.remember(*task_id, next);
                }
                due
            };
            for (task_id, _, at) in due {
                self.fire(task_id, at).await;
            }
            let earliest = self.inner.plan.lock().expect("plan lock").order.first().map(|(at, _)| *at);
            match earliest {
                Some(at) => tokio::select! {
                    () = self.inner.clock.sleep_until(at) => {}
                    () = self.inner.changed.notified() => {}
                },
                None => self.inner.changed.notified().await,
            }
        }
    }

    async fn fire(&self, task_id: i64, at: DateTime<Utc>) {
        let due = at.with_timezone(&self.inner.zone).format("%Y-%m-%d %H:%M %Z").to_string();
        match self.inner.runner.start_scheduled(task_id, &due).await {
            Ok(ScheduledStart::Queued(run_id)) => tracing::info!(task_id, run_id, %due, "scheduled run queued"),
            Ok(ScheduledStart::StillActive(run_id)) => {
                tracing::info!(task_id, run_id, %due, "scheduled start skipped: previous run still active")
            }
            Err(e) => tracing::error!(task_id, error = %e, "cannot start a scheduled run"),
        }
    }
}
