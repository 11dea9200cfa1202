//! The alert outbox: rows written in the transaction of the change that
//! caused them, then claimed, sent and marked by the delivery worker; and
//! each user's alert preferences.

use super::audit::record;
use super::Db;
use crate::domain::access::Role;
use crate::domain::alert::RecipientUser;
use crate::domain::audit::Entry;
use crate::on_pool;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;

/// Who an alert goes to, looked up inside the transaction that emits it.
#[derive(Debug, Clone, PartialEq)]
pub enum Audience {
    /// The partner's support contacts.
    SupportContacts(i64),
    /// The partner's alliance manager, when it has one.
    AllianceManager(i64),
    /// Active administrators.
    Admins,
    /// One address.
    Email(String),
}

/// An alert to enqueue: one outbox row per recipient.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    /// A key of `domain::alert::AlertKind`.
    pub kind: &'static str,
    /// What it is about, e.g. `issue:12`.
    pub subject_ref: String,
    /// What makes this event of the subject unique: a cycle, a version, a time.
    pub discriminator: String,
    pub partner_id: Option<i64>,
    /// `domain::alert::AlertContent` as JSON (a value, so the store can fill
    /// in what is known only once a row is written, like an issue's link).
    pub content: serde_json::Value,
    /// Each audience and whether the alert is mandatory for it.
    pub audience: Vec<(Audience, bool)>,
}

/// Writes `$alert`'s outbox rows on an open transaction; a row whose key
/// exists already is left alone. Evaluates to `Result<u64, sqlx::Error>`:
/// how many rows are new.
macro_rules! enqueue {
    ($tx:expr, $alert:expr, $now:expr) => {{
        let alert: &$crate::store::alerts::NewAlert = $alert;
        let mut added: u64 = 0;
        let mut result: Result<(), sqlx::Error> = Ok(());
        for (audience, mandatory) in &alert.audience {
            use $crate::store::alerts::Audience;
            let emails: Result<Vec<String>, sqlx::Error> = match audience {
                Audience::SupportContacts(p) => {
                    sqlx::query_scalar("SELECT email FROM support_contacts WHERE partner_id = $1 ORDER BY position")
                        .bind(*p)
                        .fetch_all(&mut *$tx)
                        .await
                }
                Audience::AllianceManager(p) => {
                    sqlx::query_scalar::<_, Option<String>>("SELECT alliance_manager_email FROM partners WHERE id = $1")
                        .bind(*p)
                        .fetch_all(&mut *$tx)
                        .await
                        .map(|v| v.into_iter().flatten().collect())
                }
                Audience::Admins => {
                    sqlx::query_scalar("SELECT email FROM users WHERE role = 'admin' AND status = 'active' ORDER BY id")
                        .fetch_all(&mut *$tx)
                        .await
                }
                Audience::Email(e) => Ok(vec![e.clone()]),
            };
            let emails = match emails {
                Ok(e) => e,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            for email in emails {
                let recipient = email.trim().to_lowercase();
                if recipient.is_empty() {
                    continue;
                }
                let key = format!("{}:{}:{}:{}", alert.kind, alert.subject_ref, alert.discriminator, recipient);
                match sqlx::query(
                    "INSERT INTO alert_outbox (dedupe_key, kind, recipient, partner_id, subject_ref, content, mandatory, status,
                        send_after, attempts, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, 0, $8, $8)
                     ON CONFLICT (dedupe_key) DO NOTHING",
                )
                .bind(&key)
                .bind(alert.kind)
                .bind(&recipient)
                .bind(alert.partner_id)
                .bind(&alert.subject_ref)
                .bind(alert.content.to_string())
                .bind(*mandatory)
                .bind($now)
                .execute(&mut *$tx)
                .await
                {
                    Ok(r) => added += r.rows_affected(),
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            if result.is_err() {
                break;
            }
        }
        result.map(|()| added)
    }};
}
pub(crate) use enqueue;

/// Enqueues alerts in a transaction of their own (for events that change nothing else).
pub async fn enqueue_all(db: &Db, alerts: &[NewAlert], now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let mut added = 0;
        for alert in alerts {
            added += enqueue!(tx, alert, now)?;
        }
        tx.commit().await?;
        Ok(added)
    })
}

/// One outbox row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub dedupe_key: String,
    pub kind: String,
    pub recipient: String,
    pub partner_id: Option<i64>,
    pub subject_ref: String,
    pub content: String,
    pub mandatory: bool,
    pub status: String,
    pub delivery: Option<String>,
    pub send_after: DateTime<Utc>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub message_id: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, dedupe_key, kind, recipient, partner_id, subject_ref, content, mandatory, status, delivery, send_after,
    attempts, last_error, message_id, sent_at, created_at";

/// Claims up to `limit` pending rows that are due and were written before
/// `settled_before` (so a burst can gather first), for `lease`; rows of a
/// worker that died are claimed again once its lease ends. The claim
/// commits at once: no transaction stays open while mail is sent.
pub async fn claim(
    db: &Db,
    worker: &str,
    now: DateTime<Utc>,
    settled_before: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> Result<Vec<OutboxRow>, sqlx::Error> {
    let lock = match db {
        Db::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        Db::Sqlite(_) => "",
    };
    let sql = format!(
        "UPDATE alert_outbox SET leased_by = $1, lease_until = $2, updated_at = $3
         WHERE id IN (
            SELECT id FROM alert_outbox
            WHERE status = 'pending' AND send_after <= $3 AND created_at <= $4 AND (lease_until IS NULL OR lease_until < $3)
            ORDER BY send_after, id LIMIT $5{lock})
         RETURNING {COLUMNS}"
    );
    let mut rows = on_pool!(db, |pool| sqlx::query_as::<_, OutboxRow>(&sql)
        .bind(worker)
        .bind(now + lease)
        .bind(now)
        .bind(settled_before)
        .bind(limit)
        .fetch_all(pool)
        .await)?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// A recipient who is a user: their preferences, if saved.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RecipientPreferences {
    pub email: String,
    pub time_zone: String,
    pub digest_hour: i64,
    pub choices: String,
}

/// A recipient address that belongs to a user: who they are now, and their
/// preferences if saved.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipient {
    pub user: RecipientUser,
    pub preferences: Option<RecipientPreferences>,
}

/// The users among `emails` (matched case-insensitively), keyed by
/// lower-cased address, in one query per 200 addresses.
pub async fn recipients(db: &Db, emails: &[String]) -> Result<HashMap<String, Recipient>, sqlx::Error> {
    type Row = (String, String, Option<i64>, String, Option<String>, Option<i64>, Option<String>);
    let mut out = HashMap::new();
    for chunk in emails.chunks(200) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT lower(u.email), u.role, u.partner_id, u.status, p.time_zone, p.digest_hour, p.choices
             FROM users u LEFT JOIN alert_preferences p ON p.user_id = u.id WHERE lower(u.email) IN ({})",
            marks.join(", ")
        );
        let rows: Vec<Row> = on_pool!(db, |pool| {
            let mut q = sqlx::query_as(&sql);
            for e in chunk {
                q = q.bind(e);
            }
            q.fetch_all(pool).await
        })?;
        for (email, role, partner_id, status, time_zone, digest_hour, choices) in rows {
            let role = Role::parse(&role).ok_or_else(|| crate::store::decode_error("role", &role))?;
            let preferences = match (time_zone, digest_hour, choices) {
                (Some(time_zone), Some(digest_hour), Some(choices)) => {
                    Some(RecipientPreferences { email: email.clone(), time_zone, digest_hour, choices })
                }
                _ => None,
            };
            let user = RecipientUser { role, partner_id, deactivated: status == "deactivated" };
            out.insert(email, Recipient { user, preferences });
        }
    }
    Ok(out)
}

/// What the worker decided for a claimed row.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Sent in the email `message_id`.
    Sent { message_id: String },
    /// Held for the recipient's digest.
    Deferred { delivery: &'static str, send_after: DateTime<Utc> },
    /// The recipient turned this kind off.
    Skipped,
    /// Sending failed; try again after `send_after`.
    Retry { error: String, send_after: DateTime<Utc> },
    /// Sending failed for good.
    Failed { error: String },
}

/// Records `outcome` for rows `ids`, only those this worker still holds
/// (a row whose lease ran out and was claimed again is the new holder's).
/// `and_then` (alerts about a failure) is written in the same transaction.
/// Returns how many rows changed.
pub async fn settle(
    db: &Db,
    worker: &str,
    ids: &[i64],
    outcome: &Outcome,
    and_then: &[NewAlert],
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    if ids.is_empty() {
        return Ok(0);
    }
    let marks: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 9)).collect();
    let sql = format!(
        "UPDATE alert_outbox SET status = $1, delivery = COALESCE($2, delivery), send_after = COALESCE($3, send_after),
            attempts = attempts + $4, last_error = $5, message_id = COALESCE($6, message_id),
            sent_at = CASE WHEN $1 = 'sent' THEN $7 ELSE sent_at END,
            leased_by = NULL, lease_until = NULL, updated_at = $7
         WHERE leased_by = $8 AND id IN ({})",
        marks.join(", ")
    );
    let (status, delivery, send_after, attempt, error, message_id): (
        &str,
        Option<&str>,
        Option<DateTime<Utc>>,
        i64,
        Option<&str>,
        Option<&str>,
    ) = match outcome {
        Outcome::Sent { message_id } => ("sent", None, None, 1, None, Some(message_id)),
        Outcome::Deferred { delivery, send_after } => ("pending", Some(delivery), Some(*send_after), 0, None, None),
        Outcome::Skipped => ("skipped", None, None, 0, None, None),
        Outcome::Retry { error, send_after } => ("pending", None, Some(*send_after), 1, Some(error), None),
        Outcome::Failed { error } => ("failed", None, None, 1, Some(error), None),
    };
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let mut q = sqlx::query(&sql)
            .bind(status)
            .bind(delivery)
            .bind(send_after)
            .bind(attempt)
            .bind(error)
            .bind(message_id)
            .bind(now)
            .bind(worker);
        for id in ids {
            q = q.bind(*id);
        }
        let changed = q.execute(&mut *tx).await?.rows_affected();
        for alert in and_then {
            enqueue!(tx, alert, now)?;
        }
        tx.commit().await?;
        Ok(changed)
    })
}

/// Which rows a listing shows.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxFilter {
    pub recipient: Option<String>,
    pub status: Option<String>,
    pub kind: Option<String>,
    pub page: i64,
    pub per_page: i64,
}

impl Default for OutboxFilter {
    /// Everything, first page of 50.
    fn default() -> Self {
        OutboxFilter { recipient: None, status: None, kind: None, page: 1, per_page: 50 }
    }
}

/// A page of outbox rows, newest first, and how many match.
pub async fn list(db: &Db, f: &OutboxFilter) -> Result<(Vec<OutboxRow>, i64), sqlx::Error> {
    let filter = "($1 = '' OR recipient = $1) AND ($2 = '' OR status = $2) AND ($3 = '' OR kind = $3)";
    let sql = format!("SELECT {COLUMNS} FROM alert_outbox WHERE {filter} ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5");
    let count = format!("SELECT COUNT(*) FROM alert_outbox WHERE {filter}");
    let (r, s, k) = (f.recipient.clone().unwrap_or_default(), f.status.clone().unwrap_or_default(), f.kind.clone().unwrap_or_default());
    on_pool!(db, |pool| {
        let rows = sqlx::query_as::<_, OutboxRow>(&sql)
            .bind(&r)
            .bind(&s)
            .bind(&k)
            .bind(f.per_page)
            .bind((f.page - 1).max(0) * f.per_page)
            .fetch_all(pool)
            .await?;
        let total: i64 = sqlx::query_scalar(&count).bind(&r).bind(&s).bind(&k).fetch_one(pool).await?;
        Ok((rows, total))
    })
}

/// Rows per status (pending, sent, failed, skipped).
pub async fn counts(db: &Db) -> Result<Vec<(String, i64)>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_as::<_, (String, i64)>("SELECT status, COUNT(*) FROM alert_outbox GROUP BY status ORDER BY status")
        .fetch_all(pool)
        .await)
}

pub async fn get(db: &Db, id: i64) -> Result<Option<OutboxRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM alert_outbox WHERE id = $1");
    on_pool!(db, |pool| sqlx::query_as::<_, OutboxRow>(&sql).bind(id).fetch_optional(pool).await)
}

/// Puts a failed row back in the queue with a fresh count of attempts;
/// false (and nothing written) when the row is not failed.
pub async fn retry(db: &Db, id: i64, audit: &Entry, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let changed = sqlx::query(
            "UPDATE alert_outbox SET status = 'pending', attempts = 0, send_after = $2, leased_by = NULL, lease_until = NULL, updated_at = $2
             WHERE id = $1 AND status = 'failed'",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Ok(false);
        }
        record!(&mut *tx, audit, now)?;
        tx.commit().await?;
        Ok(true)
    })
}

/// A breach nobody acknowledged, with what its escalation says.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Breach {
    pub event_id: i64,
    pub issue_id: i64,
    pub cycle: i64,
    pub deadline: DateTime<Utc>,
    pub title: String,
    pub number: Option<i64>,
    pub severity: String,
    pub integration_name: String,
    pub partner_id: i64,
    pub partner_name: String,
}

/// Breaches of still-open issues, older than `before`, neither acknowledged
/// nor escalated, whose issue is still breached (a reviewer may have ruled
/// it normal since, which put it back on track).
pub async fn unacknowledged_breaches(db: &Db, before: DateTime<Utc>, limit: i64) -> Result<Vec<Breach>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_as::<_, Breach>(
        "SELECT e.id AS event_id, e.issue_id, e.cycle, e.deadline, s.title, s.number,
            COALESCE(s.severity_override, s.label_severity) AS severity, i.name AS integration_name, p.id AS partner_id,
            p.name AS partner_name
         FROM sla_events e JOIN support_issues s ON s.id = e.issue_id JOIN integrations i ON i.id = e.integration_id
            JOIN partners p ON p.id = i.partner_id
         WHERE e.kind = 'breached' AND e.acknowledged_at IS NULL AND e.escalated_at IS NULL AND e.occurred_at <= $1
            AND s.resolved_at IS NULL AND s.cycle = e.cycle AND s.clock_state = 'breached'
         ORDER BY e.occurred_at LIMIT $2"
    )
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await)
}

/// Marks a breach escalated and enqueues its alert, together; false when
/// another instance did it first.
pub async fn escalate(db: &Db, event_id: i64, alert: &NewAlert, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let changed =
            sqlx::query("UPDATE sla_events SET escalated_at = $2 WHERE id = $1 AND escalated_at IS NULL AND acknowledged_at IS NULL")
                .bind(event_id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if changed != 1 {
            return Ok(false);
        }
        enqueue!(tx, alert, now)?;
        tx.commit().await?;
        Ok(true)
    })
}

/// Acknowledges the breach of an issue's `cycle`; false when there is none to acknowledge.
pub async fn acknowledge(db: &Db, issue_id: i64, cycle: i64, user_id: i64, audit: &Entry, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let changed = sqlx::query(
            "UPDATE sla_events SET acknowledged_at = $3, acknowledged_by = $4
             WHERE issue_id = $1 AND cycle = $2 AND kind = 'breached' AND acknowledged_at IS NULL",
        )
        .bind(issue_id)
        .bind(cycle)
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Ok(false);
        }
        record!(&mut *tx, audit, now)?;
        tx.commit().await?;
        Ok(true)
    })
}

/// A registry poll or GitHub sync that has failed for a while and nobody was told.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct FailingSync {
    pub integration_id: i64,
    pub integration_name: String,
    pub partner_id: i64,
    /// The registry host, or `owner/repo` on GitHub.
    pub target: String,
    pub failing_since: DateTime<Utc>,
    pub last_error: Option<String>,
}

/// Registry polls (first) and GitHub syncs failing since before `before`, not yet alerted.
pub async fn failing_syncs(db: &Db, before: DateTime<Utc>, limit: i64) -> Result<(Vec<FailingSync>, Vec<FailingSync>), sqlx::Error> {
    on_pool!(db, |pool| {
        let registry = sqlx::query_as::<_, FailingSync>(
            "SELECT p.integration_id, i.name AS integration_name, i.partner_id, p.registry_host AS target, p.failing_since, p.last_error
             FROM registry_polls p JOIN integrations i ON i.id = p.integration_id
             WHERE p.failing_since <= $1 AND p.failure_alerted_at IS NULL ORDER BY p.failing_since LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        let github = sqlx::query_as::<_, FailingSync>(
            "SELECT g.integration_id, i.name AS integration_name, i.partner_id, g.owner || '/' || g.repo AS target, g.failing_since,
                g.last_error
             FROM github_syncs g JOIN integrations i ON i.id = g.integration_id
             WHERE g.failing_since <= $1 AND g.failure_alerted_at IS NULL ORDER BY g.failing_since LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        Ok((registry, github))
    })
}

/// Marks a failing poll (`registry` true) or sync as alerted and enqueues its alert, together.
pub async fn alert_failing(db: &Db, registry: bool, f: &FailingSync, alert: &NewAlert, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    let sql = if registry {
        "UPDATE registry_polls SET failure_alerted_at = $3 WHERE integration_id = $1 AND registry_host = $2 AND failure_alerted_at IS NULL"
    } else {
        "UPDATE github_syncs SET failure_alerted_at = $3 WHERE integration_id = $1 AND owner || '/' || repo = $2 AND failure_alerted_at IS NULL"
    };
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let changed = sqlx::query(sql).bind(f.integration_id).bind(&f.target).bind(now).execute(&mut *tx).await?.rows_affected();
        if changed != 1 {
            return Ok(false);
        }
        enqueue!(tx, alert, now)?;
        tx.commit().await?;
        Ok(true)
    })
}

/// When an issue's current breach was acknowledged, if it was.
pub async fn acknowledged_at(db: &Db, issue_id: i64, cycle: i64) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_scalar::<_, Option<DateTime<Utc>>>(
        "SELECT acknowledged_at FROM sla_events WHERE issue_id = $1 AND cycle = $2 AND kind = 'breached'"
    )
    .bind(issue_id)
    .bind(cycle)
    .fetch_optional(pool)
    .await
    .map(Option::flatten))
}

/// A user's saved preferences: (time zone, digest hour, choices JSON).
pub async fn preferences(db: &Db, user_id: i64) -> Result<Option<(String, i64, String)>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_as::<_, (String, i64, String)>(
        "SELECT time_zone, digest_hour, choices FROM alert_preferences WHERE user_id = $1"
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await)
}

pub async fn save_preferences(
    db: &Db,
    user_id: i64,
    time_zone: &str,
    digest_hour: i64,
    choices: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| sqlx::query(
        "INSERT INTO alert_preferences (user_id, time_zone, digest_hour, choices, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id) DO UPDATE SET time_zone = excluded.time_zone, digest_hour = excluded.digest_hour,
            choices = excluded.choices, updated_at = excluded.updated_at"
    )
    .bind(user_id)
    .bind(time_zone)
    .bind(digest_hour)
    .bind(choices)
    .bind(now)
    .execute(pool)
    .await
    .map(|_| ()))
}
