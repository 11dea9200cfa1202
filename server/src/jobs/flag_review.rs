//! The tier-flag review: every tick, the flag rules run over all official
//! and verified integrations, raising flags, moving them out of their grace
//! period and closing those whose condition cleared.
//!
//! One instance evaluates at a time (a lease in `job_leases`); a second
//! evaluation changes nothing anyway, because every change is guarded by the
//! state it was computed from.

use app::services::flags::{evaluate, Evaluation, JOB};
use app::store::{support as leases, Db};
use chrono::{DateTime, Utc};
use std::sync::Arc;

pub struct FlagReview {
    db: Db,
    instance: String,
    tick: std::time::Duration,
}

impl FlagReview {
    pub fn new(db: Db, instance: String, tick: std::time::Duration) -> Self {
        FlagReview { db, instance, tick }
    }

    /// One evaluation at `now`: `None` when another instance holds the lease.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<Option<Evaluation>, app::error::AppError> {
        let lease = chrono::Duration::from_std(self.tick * 3).unwrap_or(chrono::Duration::minutes(15));
        if !leases::take_lease(&self.db, JOB, &self.instance, now, lease).await? {
            return Ok(None);
        }
        evaluate(&self.db, now).await.map(Some)
    }

    pub async fn run(self: Arc<Self>) {
        tracing::info!(instance = %self.instance, "tier flag review started");
        let mut tick = tokio::time::interval(self.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.step(Utc::now()).await {
                Ok(Some(e)) if e.raised + e.moved + e.cleared > 0 => {
                    tracing::info!(raised = e.raised, moved = e.moved, cleared = e.cleared, "tier flags changed")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "tier flag review failed; trying again next tick"),
            }
        }
    }
}
