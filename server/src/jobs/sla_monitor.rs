//! The SLA monitor: every tick, issues whose warning time or deadline has
//! passed get their new clock state and their "due soon"/"breached" events.
//!
//! One instance works at a time (a lease in `job_leases`); the events'
//! unique keys make a second run, on another instance or after a restart,
//! change nothing anyway.

use app::services::support::{monitor_step, MONITOR_JOB};
use app::store::{support as store, Db};
use chrono::{DateTime, Utc};
use std::sync::Arc;

pub struct Monitor {
    db: Db,
    instance: String,
    tick: std::time::Duration,
}

impl Monitor {
    pub fn new(db: Db, instance: String, tick: std::time::Duration) -> Self {
        Monitor { db, instance, tick }
    }

    /// One step at `now`: `None` when another instance holds the lease,
    /// else how many events were new.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<Option<usize>, app::error::AppError> {
        // Longer than a step takes, shorter than a tick or two: a crashed holder is replaced quickly.
        let lease = chrono::Duration::from_std(self.tick * 3).unwrap_or(chrono::Duration::minutes(3));
        if !store::take_lease(&self.db, MONITOR_JOB, &self.instance, now, lease).await? {
            return Ok(None);
        }
        monitor_step(&self.db, now).await.map(Some)
    }

    pub async fn run(self: Arc<Self>) {
        tracing::info!(instance = %self.instance, "SLA monitor started");
        let mut tick = tokio::time::interval(self.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.step(Utc::now()).await {
                Ok(Some(n)) if n > 0 => tracing::info!(events = n, "SLA monitor: clock events recorded"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "SLA monitor step failed; trying again next tick"),
            }
        }
    }
}
