//! The alert delivery worker. Each step claims due outbox rows with a lease
//! (and commits the claim), applies each recipient's preferences, folds the
//! rows of one recipient into as few emails as it can, sends them over a
//! pool of SMTP connections, and then marks the rows. No transaction stays
//! open while mail is sent.
//!
//! Delivery is at least once: a process that dies after the server's
//! `250 OK` and before the rows are marked sent leaves rows that are claimed
//! again when the lease ends, and sent again. The window is the time of one
//! `UPDATE` after a send.

use crate::outbound::mailer::{MailError, Mailer, Outgoing};
use app::domain::alert::{self, AlertContent, AlertKind, Backoff, Delivery, Preferences};
use app::services::alerts as service;
use app::store::alerts::{self as store, Audience, NewAlert, OutboxRow, Outcome};
use app::store::Db;
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub enabled: bool,
    /// How often to look for due rows.
    pub tick: std::time::Duration,
    /// Rows claimed per step.
    pub batch: i64,
    /// How long a claim lasts: a worker that dies loses its rows after this.
    pub lease: Duration,
    /// New rows wait this long so a burst of one kind folds into one email.
    pub fold: Duration,
    /// Emails sent at once (at most the SMTP pool's size is useful).
    pub concurrency: usize,
    pub backoff: Backoff,
    /// Links in emails start with this.
    pub base_url: String,
    /// A breach the partner has not acknowledged after this goes to the alliance manager.
    pub escalate_after: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            tick: std::time::Duration::from_secs(5),
            batch: 500,
            lease: Duration::minutes(5),
            fold: Duration::seconds(60),
            concurrency: 8,
            backoff: Backoff::default(),
            base_url: "http://127.0.0.1:3000".into(),
            escalate_after: Duration::hours(24),
        }
    }
}

/// What one step did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct StepReport {
    pub claimed: usize,
    pub emails: usize,
    pub sent: usize,
    pub deferred: usize,
    pub skipped: usize,
    pub retried: usize,
    pub failed: usize,
    /// Breaches escalated and failing syncs reported to admins.
    pub escalated: usize,
}

pub struct Deliverer {
    db: Db,
    mailer: Mailer,
    settings: Settings,
    instance: String,
}

/// Rows that go out together: one recipient, and one kind (or all of a digest).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Group {
    recipient: String,
    digest: bool,
    kind: Option<String>,
}

impl Deliverer {
    pub fn new(db: Db, mailer: Mailer, settings: Settings, instance: String) -> Self {
        Deliverer { db, mailer, settings, instance }
    }

    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    /// One round: escalate unacknowledged breaches and day-long sync failures, then deliver what is due.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<StepReport, sqlx::Error> {
        let escalated =
            service::escalate(&self.db, now, self.settings.escalate_after).await? + service::failing_syncs(&self.db, now).await?;
        let mut report = StepReport { escalated: escalated as usize, ..Default::default() };
        let rows = store::claim(&self.db, &self.instance, now, now - self.settings.fold, self.settings.lease, self.settings.batch).await?;
        report.claimed = rows.len();
        if rows.is_empty() {
            return Ok(report);
        }
        let mut recipients: Vec<String> = rows.iter().map(|r| r.recipient.clone()).collect();
        recipients.sort();
        recipients.dedup();
        let recipients = store::recipients(&self.db, &recipients).await?;
        let preferences: HashMap<String, Preferences> = recipients
            .iter()
            .filter_map(|(email, r)| r.preferences.as_ref().map(|p| (email.clone(), service::parse_preferences(p))))
            .collect();
        let default = Preferences::default();

        let mut groups: BTreeMap<Group, Vec<OutboxRow>> = BTreeMap::new();
        let mut skipped = Vec::new();
        let mut deferred: BTreeMap<DateTime<Utc>, Vec<i64>> = BTreeMap::new();
        for row in rows {
            if !alert::may_receive(recipients.get(&row.recipient).map(|r| r.user), row.partner_id) {
                tracing::info!(id = row.id, kind = %row.kind, "alert not sent: its recipient is deactivated or no longer with the partner");
                skipped.push(row.id);
                continue;
            }
            let p = preferences.get(&row.recipient).unwrap_or(&default);
            let kind = AlertKind::parse(&row.kind);
            let chosen = kind.map(|k| p.delivery(k, row.mandatory)).unwrap_or(Delivery::Immediate);
            let delivery = match row.delivery.as_deref() {
                // Held for a digest: unless the recipient has turned the kind off since.
                Some("digest") if chosen == Delivery::Off => Delivery::Off,
                Some("digest") => Delivery::Digest,
                Some(_) => Delivery::Immediate,
                None => chosen,
            };
            match (delivery, row.delivery.is_some()) {
                (Delivery::Off, _) => skipped.push(row.id),
                // First seen: held until the recipient's digest hour.
                (Delivery::Digest, false) => {
                    deferred.entry(alert::next_digest_at(now, p.time_zone, p.digest_hour)).or_default().push(row.id)
                }
                (Delivery::Digest, true) => {
                    groups.entry(Group { recipient: row.recipient.clone(), digest: true, kind: None }).or_default().push(row)
                }
                (Delivery::Immediate, _) => groups
                    .entry(Group { recipient: row.recipient.clone(), digest: false, kind: Some(row.kind.clone()) })
                    .or_default()
                    .push(row),
            }
        }
        report.skipped = store::settle(&self.db, &self.instance, &skipped, &Outcome::Skipped, &[], now).await? as usize;
        for (send_after, ids) in deferred {
            let outcome = Outcome::Deferred { delivery: "digest", send_after };
            report.deferred += store::settle(&self.db, &self.instance, &ids, &outcome, &[], now).await? as usize;
        }

        let results: Vec<Result<(usize, Outcome), sqlx::Error>> = futures::stream::iter(groups)
            .map(|(group, rows)| {
                let tz = preferences.get(&group.recipient).unwrap_or(&default).time_zone;
                async move { self.deliver(&group, &rows, tz, now).await }
            })
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await;
        for result in results {
            let (n, outcome) = result?;
            match outcome {
                Outcome::Sent { .. } => {
                    report.emails += 1;
                    report.sent += n;
                }
                Outcome::Retry { .. } => report.retried += n,
                Outcome::Failed { .. } => report.failed += n,
                _ => {}
            }
        }
        Ok(report)
    }

    /// Sends one group's email and marks its rows; returns how many rows it marked and how.
    async fn deliver(
        &self,
        group: &Group,
        rows: &[OutboxRow],
        tz: chrono_tz::Tz,
        now: DateTime<Utc>,
    ) -> Result<(usize, Outcome), sqlx::Error> {
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut contents = Vec::with_capacity(rows.len());
        for row in rows {
            match serde_json::from_str::<AlertContent>(&row.content) {
                Ok(c) => contents.push(c),
                Err(e) => {
                    // Stored by us, so this is a bug: fail the row rather than loop on it.
                    let outcome = Outcome::Failed { error: format!("unreadable alert content: {e}") };
                    let n = store::settle(&self.db, &self.instance, &[row.id], &outcome, &[], now).await?;
                    return Ok((n as usize, outcome));
                }
            }
        }
        let base = self.settings.base_url.trim_end_matches('/');
        let preferences_url = format!("{base}/alerts");
        let email = alert::render_at(&contents, tz, base, group.digest, &preferences_url, now);
        let host = url::Url::parse(base).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_else(|| "tracker.localhost".into());
        let outgoing = Outgoing {
            to: group.recipient.clone(),
            subject: email.subject,
            text: email.text,
            html: email.html,
            message_id: format!("<alert-{}-{:08x}@{host}>", ids[0], rand::random::<u32>()),
            unsubscribe: preferences_url,
            alert_ids: ids.clone(),
        };
        let outcome = match self.mailer.send(&outgoing).await {
            Ok(()) => Outcome::Sent { message_id: outgoing.message_id.clone() },
            Err(e) => self.after_failure(rows, &e, now),
        };
        let follow_up = match &outcome {
            Outcome::Failed { error } => failure_alerts(rows, error),
            _ => Vec::new(),
        };
        if let Outcome::Retry { error, .. } | Outcome::Failed { error } = &outcome {
            tracing::warn!(recipient = %group.recipient, alerts = ids.len(), error = %error, "alert email not delivered");
        }
        let n = store::settle(&self.db, &self.instance, &ids, &outcome, &follow_up, now).await?;
        Ok((n as usize, outcome))
    }

    fn after_failure(&self, rows: &[OutboxRow], error: &MailError, now: DateTime<Utc>) -> Outcome {
        let attempts = rows.iter().map(|r| r.attempts).max().unwrap_or(0) as u32 + 1;
        match (error.is_permanent(), self.settings.backoff.after_failure(attempts)) {
            (false, Some(delay)) => Outcome::Retry { error: error.to_string(), send_after: now + delay },
            _ => Outcome::Failed { error: format!("{error} (after {attempts} attempts)") },
        }
    }

    pub async fn run(self: Arc<Self>) {
        tracing::info!(instance = %self.instance, mail = %self.mailer.description(), "alert delivery started");
        let mut tick = tokio::time::interval(self.settings.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // A full batch means more is waiting: go on without waiting for the tick.
            loop {
                match self.step(Utc::now()).await {
                    Ok(r) if r.claimed > 0 || r.escalated > 0 => {
                        tracing::info!(
                            emails = r.emails,
                            sent = r.sent,
                            deferred = r.deferred,
                            skipped = r.skipped,
                            retried = r.retried,
                            failed = r.failed,
                            escalated = r.escalated,
                            "alert delivery step done"
                        );
                        if (r.claimed as i64) < self.settings.batch {
                            break;
                        }
                    }
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "alert delivery step failed; trying again next tick");
                        break;
                    }
                }
            }
        }
    }
}

/// Admins hear of alerts that could not be delivered (by email too, once mail works again).
fn failure_alerts(rows: &[OutboxRow], error: &str) -> Vec<NewAlert> {
    rows.iter()
        .filter(|r| r.kind != AlertKind::DeliveryFailed.key())
        .map(|r| {
            let content = AlertContent {
                kind: AlertKind::DeliveryFailed,
                subject: format!("alert {}", r.id),
                title: format!("to {}", r.recipient),
                partner: None,
                integration: None,
                link: format!("/admin/outbox?status=failed"),
                deadline: None,
                detail: format!("A {} alert to {} could not be delivered: {error}", r.kind, r.recipient),
                next_step: "Check the mail settings, then retry it from the outbox.".into(),
            };
            NewAlert {
                kind: AlertKind::DeliveryFailed.key(),
                subject_ref: format!("alert:{}", r.id),
                discriminator: format!("attempt{}", r.attempts + 1),
                partner_id: None,
                content: serde_json::to_value(&content).unwrap_or_default(),
                audience: vec![(Audience::Admins, false)],
            }
        })
        .collect()
}
