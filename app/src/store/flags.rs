//! Queries for tier-downgrade flags: the facts the rules read, the flags
//! themselves, exemptions and partners' end-of-support declarations.
//!
//! Every change to a flag is written with its audit record and its alerts in
//! one transaction, and guarded by the state it was computed from, so an
//! evaluator working from stale rows (another instance, a reviewer deciding
//! at the same moment) changes nothing instead of overwriting.

use super::alerts::{enqueue, NewAlert};
use super::audit::record;
use super::Db;
use crate::domain::audit::Entry;
use crate::on_pool;
use chrono::{DateTime, Utc};

/// Official and verified integrations: the only ones a flag can concern.
const SUBJECT: &str = "i.tier IN ('official', 'verified')";

/// An integration the rules look at.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Subject {
    pub integration_id: i64,
    pub partner_id: i64,
    pub partner_name: String,
    pub integration_name: String,
    pub kind: String,
    pub tier: String,
    pub end_of_support_at: Option<DateTime<Utc>>,
}

pub async fn subjects(db: &Db) -> Result<Vec<Subject>, sqlx::Error> {
    let sql = format!(
        "SELECT i.id AS integration_id, i.partner_id, p.name AS partner_name, i.name AS integration_name, i.kind, i.tier,
            i.end_of_support_at
         FROM integrations i JOIN partners p ON p.id = i.partner_id WHERE {SUBJECT} ORDER BY i.id"
    );
    on_pool!(db, |pool| sqlx::query_as::<_, Subject>(&sql).fetch_all(pool).await)
}

/// A critical issue past its deadline and still open.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OpenBreach {
    pub integration_id: i64,
    pub id: i64,
    pub number: Option<i64>,
    pub title: String,
    pub due_at: DateTime<Utc>,
}

pub async fn open_critical_breaches(db: &Db) -> Result<Vec<OpenBreach>, sqlx::Error> {
    let sql = format!(
        "SELECT s.integration_id, s.id, s.number, s.title, s.due_at
         FROM support_issues s JOIN integrations i ON i.id = s.integration_id
         WHERE {SUBJECT} AND s.resolved_at IS NULL AND s.clock_state = 'breached'
           AND COALESCE(s.severity_override, s.label_severity) = 'critical'
         ORDER BY s.integration_id, s.due_at"
    );
    on_pool!(db, |pool| sqlx::query_as::<_, OpenBreach>(&sql).fetch_all(pool).await)
}

/// What the poller knows of a provider on its own registry (mirrors do not
/// speak for its tier or its existence).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RegistryFacts {
    pub integration_id: i64,
    pub registry_tier: Option<String>,
    pub registry_warning: Option<String>,
    pub found_at: Option<DateTime<Utc>>,
    pub gone_at: Option<DateTime<Utc>>,
    pub last_release_at: Option<DateTime<Utc>>,
}

pub async fn registry_facts(db: &Db) -> Result<Vec<RegistryFacts>, sqlx::Error> {
    let sql = format!(
        "SELECT i.id AS integration_id, rp.registry_tier, rp.registry_warning, rp.found_at,
            (SELECT MAX(e.occurred_at) FROM registry_events e
              WHERE e.integration_id = i.id AND e.registry_host = i.source_host AND e.kind = 'provider_gone') AS gone_at,
            (SELECT MAX(COALESCE(v.published_at, v.first_seen_at)) FROM provider_versions v WHERE v.integration_id = i.id) AS last_release_at
         FROM integrations i LEFT JOIN registry_polls rp ON rp.integration_id = i.id AND rp.registry_host = i.source_host
         WHERE {SUBJECT} AND i.kind = 'provider'"
    );
    on_pool!(db, |pool| sqlx::query_as::<_, RegistryFacts>(&sql).fetch_all(pool).await)
}

/// A flag as stored, with the names pages show.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FlagRow {
    pub id: i64,
    pub integration_id: i64,
    pub integration_name: String,
    pub partner_id: i64,
    pub partner_name: String,
    pub tier: String,
    pub rule: String,
    pub state: String,
    pub reason: String,
    pub evidence: String,
    pub clears_when: String,
    pub held_since: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub evaluated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub close_note: Option<String>,
    pub decided_by_name: Option<String>,
    pub tier_before: Option<String>,
    pub tier_after: Option<String>,
    pub created_at: DateTime<Utc>,
    /// For a kept flag: when its condition was first found cleared since.
    pub lapsed_at: Option<DateTime<Utc>>,
}

/// A flag belongs to its integration's partner as it is now, not as it was
/// when the flag was raised (`f.partner_id`): staff may have moved the
/// integration since, and the old partner must not see it any more.
const SELECT: &str = "SELECT f.id, f.integration_id, i.name AS integration_name, i.partner_id, p.name AS partner_name, i.tier,
        f.rule, f.state, f.reason, f.evidence, f.clears_when, f.held_since, f.due_at, f.evaluated_at, f.closed_at, f.close_note,
        f.decided_by_name, f.tier_before, f.tier_after, f.created_at, f.lapsed_at
    FROM tier_flags f JOIN integrations i ON i.id = f.integration_id JOIN partners p ON p.id = i.partner_id";

/// Open flags, and the latest decided one of each integration and rule (a
/// "keep" holds back the same flag for a while).
pub async fn standing(db: &Db) -> Result<Vec<FlagRow>, sqlx::Error> {
    let sql = format!(
        "{SELECT} WHERE f.closed_at IS NULL
            OR f.id = (SELECT MAX(x.id) FROM tier_flags x
                       WHERE x.integration_id = f.integration_id AND x.rule = f.rule AND x.state IN ('kept', 'downgraded'))
         ORDER BY f.id"
    );
    on_pool!(db, |pool| sqlx::query_as::<_, FlagRow>(&sql).fetch_all(pool).await)
}

pub async fn get(db: &Db, id: i64) -> Result<Option<FlagRow>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE f.id = $1");
    on_pool!(db, |pool| sqlx::query_as::<_, FlagRow>(&sql).bind(id).fetch_optional(pool).await)
}

/// Which flags a list shows. `states` empty means all; the integration
/// filters are the dashboard's.
#[derive(Debug, Clone, Default)]
pub struct FlagFilter {
    /// A partner member's own partner, or a staff filter.
    pub partner_id: Option<i64>,
    pub integration_id: Option<i64>,
    pub states: Vec<String>,
    pub rule: Option<String>,
    /// Only partners this alliance manager looks after.
    pub manager_email: Option<String>,
    /// Closed since: "decided recently".
    pub closed_since: Option<DateTime<Utc>>,
    pub kind: Option<String>,
    pub stage: Option<String>,
    pub tier: Option<String>,
    pub category: Option<String>,
}

impl FlagFilter {
    /// The WHERE clause over `f`, `i` and `p`; parameters `$1`–`$10` as [`bind_filter!`] binds them.
    fn clause(&self) -> String {
        let states = if self.states.is_empty() {
            "1 = 1".to_string()
        } else {
            let quoted: Vec<String> =
                self.states.iter().filter_map(|s| crate::domain::flag::FlagState::parse(s)).map(|s| format!("'{}'", s.key())).collect();
            format!("f.state IN ({})", if quoted.is_empty() { "''".into() } else { quoted.join(", ") })
        };
        format!(
            "($1 = 0 OR i.partner_id = $1) AND ($2 = 0 OR f.integration_id = $2) AND ($3 = '' OR f.rule = $3)
             AND ($4 = '' OR LOWER(p.alliance_manager_email) = $4) AND ($5 = 0 OR f.closed_at >= $6)
             AND ($7 = '' OR i.kind = $7) AND ($8 = '' OR i.stage = $8) AND ($9 = '' OR i.tier = $9)
             AND ($10 = '' OR EXISTS (SELECT 1 FROM integration_categories c WHERE c.integration_id = i.id AND c.category = $10))
             AND {states}"
        )
    }
}

/// Binds a [`FlagFilter`]'s parameters `$1`–`$10` to a query.
macro_rules! bind_filter {
    ($query:expr, $f:expr) => {{
        let f: &FlagFilter = $f;
        $query
            .bind(f.partner_id.unwrap_or(0))
            .bind(f.integration_id.unwrap_or(0))
            .bind(f.rule.clone().unwrap_or_default())
            .bind(f.manager_email.clone().unwrap_or_default().to_lowercase())
            .bind(i64::from(f.closed_since.is_some()))
            .bind(f.closed_since.unwrap_or_default())
            .bind(f.kind.clone().unwrap_or_default())
            .bind(f.stage.clone().unwrap_or_default())
            .bind(f.tier.clone().unwrap_or_default())
            .bind(f.category.clone().unwrap_or_default())
    }};
}

/// A page of flags: open before closed, due before grace, soonest first, then newest.
pub async fn list(db: &Db, f: &FlagFilter, page: i64, per_page: i64) -> Result<(Vec<FlagRow>, i64), sqlx::Error> {
    let clause = f.clause();
    let sql = format!(
        "{SELECT} WHERE {clause}
         ORDER BY CASE WHEN f.closed_at IS NULL THEN 0 ELSE 1 END, CASE f.state WHEN 'due' THEN 0 WHEN 'grace' THEN 1 ELSE 2 END,
            f.due_at, f.closed_at DESC, f.id DESC
         LIMIT $11 OFFSET $12"
    );
    let count = format!(
        "SELECT COUNT(*) FROM tier_flags f JOIN integrations i ON i.id = f.integration_id JOIN partners p ON p.id = i.partner_id
         WHERE {clause}"
    );
    on_pool!(db, |pool| {
        let rows = bind_filter!(sqlx::query_as::<_, FlagRow>(&sql), f).bind(per_page).bind((page - 1) * per_page).fetch_all(pool).await?;
        let total: i64 = bind_filter!(sqlx::query_scalar(&count), f).fetch_one(pool).await?;
        Ok((rows, total))
    })
}

/// Flags with an id above `after`, for streamed exports.
pub async fn export_chunk(db: &Db, f: &FlagFilter, after: i64, limit: i64) -> Result<Vec<FlagRow>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE {} AND f.id > $11 ORDER BY f.id LIMIT $12", f.clause());
    on_pool!(db, |pool| bind_filter!(sqlx::query_as::<_, FlagRow>(&sql), f).bind(after).bind(limit).fetch_all(pool).await)
}

/// How many flags the filter matches, per state.
pub async fn counts(db: &Db, f: &FlagFilter) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let sql = format!(
        "SELECT f.state, COUNT(*) FROM tier_flags f JOIN integrations i ON i.id = f.integration_id JOIN partners p ON p.id = i.partner_id
         WHERE {} GROUP BY f.state",
        f.clause()
    );
    on_pool!(db, |pool| bind_filter!(sqlx::query_as::<_, (String, i64)>(&sql), f).fetch_all(pool).await)
}

/// A reviewer's exemption, still running.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExemptionRow {
    pub integration_id: i64,
    pub rule: String,
    pub until_at: DateTime<Utc>,
    pub reason: String,
    pub created_by_name: String,
    pub created_at: DateTime<Utc>,
}

/// Exemptions running at `now`, of one integration or all.
pub async fn exemptions(db: &Db, integration_id: Option<i64>, now: DateTime<Utc>) -> Result<Vec<ExemptionRow>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_as::<_, ExemptionRow>(
        "SELECT integration_id, rule, until_at, reason, created_by_name, created_at FROM flag_exemptions
         WHERE until_at > $1 AND ($2 = 0 OR integration_id = $2) ORDER BY integration_id, rule"
    )
    .bind(now)
    .bind(integration_id.unwrap_or(0))
    .fetch_all(pool)
    .await)
}

/// Sets (or replaces) an exemption.
#[allow(clippy::too_many_arguments)]
pub async fn exempt(
    db: &Db,
    integration_id: i64,
    rule: &str,
    until: DateTime<Utc>,
    reason: &str,
    by: (Option<i64>, &str),
    audit: &Entry,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        sqlx::query(
            "INSERT INTO flag_exemptions (integration_id, rule, until_at, reason, created_by, created_by_name, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (integration_id, rule) DO UPDATE SET until_at = excluded.until_at, reason = excluded.reason,
                created_by = excluded.created_by, created_by_name = excluded.created_by_name, created_at = excluded.created_at",
        )
        .bind(integration_id)
        .bind(rule)
        .bind(until)
        .bind(reason)
        .bind(by.0)
        .bind(by.1)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        record!(&mut *tx, audit, now)?;
        tx.commit().await
    })
}

/// Ends an exemption; false when there was none.
pub async fn end_exemption(db: &Db, integration_id: i64, rule: &str, audit: &Entry, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let gone = sqlx::query("DELETE FROM flag_exemptions WHERE integration_id = $1 AND rule = $2 AND until_at > $3")
            .bind(integration_id)
            .bind(rule)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if gone > 0 {
            record!(&mut *tx, audit, now)?;
        }
        tx.commit().await?;
        Ok(gone > 0)
    })
}

/// Records (or withdraws, with `None`) a partner's end-of-support declaration.
pub async fn declare_end_of_support(
    db: &Db,
    integration_id: i64,
    at: Option<DateTime<Utc>>,
    note: Option<&str>,
    audit: &Entry,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        sqlx::query("UPDATE integrations SET end_of_support_at = $1, end_of_support_note = $2, updated_at = $3 WHERE id = $4")
            .bind(at)
            .bind(note)
            .bind(now)
            .bind(integration_id)
            .execute(&mut *tx)
            .await?;
        record!(&mut *tx, audit, now)?;
        tx.commit().await
    })
}

pub async fn end_of_support(db: &Db, integration_id: i64) -> Result<Option<(DateTime<Utc>, Option<String>)>, sqlx::Error> {
    let row: Option<(Option<DateTime<Utc>>, Option<String>)> =
        on_pool!(db, |pool| sqlx::query_as("SELECT end_of_support_at, end_of_support_note FROM integrations WHERE id = $1")
            .bind(integration_id)
            .fetch_optional(pool)
            .await)?;
    Ok(row.and_then(|(at, note)| at.map(|at| (at, note))))
}

/// What an evaluation found for one flag, with the record and alert it brings.
#[derive(Debug, Clone)]
pub enum Change {
    /// A new flag.
    Raise {
        integration_id: i64,
        partner_id: i64,
        rule: &'static str,
        state: &'static str,
        reason: String,
        evidence: String,
        clears_when: String,
        due_at: Option<DateTime<Utc>>,
        audit: Entry,
        /// Sent once the flag exists; its link and subject name the flag.
        alert: Option<NewAlert>,
    },
    /// An open flag changes state (and its findings are refreshed).
    Move {
        id: i64,
        from: String,
        to: &'static str,
        due_at: Option<DateTime<Utc>>,
        reason: String,
        evidence: String,
        clears_when: String,
        audit: Entry,
        alert: Option<NewAlert>,
    },
    /// An open flag's findings changed (new evidence), state unchanged.
    Refresh { id: i64, state: String, reason: String, evidence: String, clears_when: String },
    /// The condition cleared: the flag closes itself.
    Clear { id: i64, from: String, note: String, audit: Entry },
    /// The condition of a kept flag cleared: the keep no longer holds it back.
    Lapse { id: i64, audit: Entry },
}

/// Points an alert at the flag it is about.
fn about_flag(alert: &NewAlert, id: i64) -> NewAlert {
    let mut alert = alert.clone();
    alert.subject_ref = format!("flag:{id}");
    if let Some(o) = alert.content.as_object_mut() {
        o.insert("link".into(), serde_json::Value::String(format!("/flags/{id}")));
    }
    alert
}

/// Applies changes, one transaction each; returns how many took (a change
/// whose flag moved on meanwhile is skipped).
pub async fn apply(db: &Db, changes: &[Change], now: DateTime<Utc>) -> Result<usize, sqlx::Error> {
    let mut done = 0;
    for change in changes {
        let took = on_pool!(db, |pool| {
            let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
            let took = match change {
                Change::Raise { integration_id, partner_id, rule, state, reason, evidence, clears_when, due_at, audit, alert } => {
                    let id: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO tier_flags (integration_id, partner_id, rule, state, reason, evidence, clears_when, held_since, due_at,
                            evaluated_at, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8, $8, $8)
                         ON CONFLICT (integration_id, rule) WHERE closed_at IS NULL DO NOTHING
                         RETURNING id",
                    )
                    .bind(integration_id)
                    .bind(partner_id)
                    .bind(rule)
                    .bind(state)
                    .bind(reason)
                    .bind(evidence)
                    .bind(clears_when)
                    .bind(now)
                    .bind(due_at)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some(id) = id {
                        let audit = Entry { target_id: Some(id), ..audit.clone() };
                        record!(&mut *tx, &audit, now)?;
                        if let Some(alert) = alert {
                            enqueue!(&mut *tx, &about_flag(alert, id), now)?;
                        }
                    }
                    id.is_some()
                }
                Change::Move { id, from, to, due_at, reason, evidence, clears_when, audit, alert } => {
                    let n = sqlx::query(
                        "UPDATE tier_flags SET state = $1, due_at = $2, reason = $3, evidence = $4, clears_when = $5, evaluated_at = $6,
                            updated_at = $6
                         WHERE id = $7 AND state = $8 AND closed_at IS NULL",
                    )
                    .bind(to)
                    .bind(due_at)
                    .bind(reason)
                    .bind(evidence)
                    .bind(clears_when)
                    .bind(now)
                    .bind(id)
                    .bind(from)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if n > 0 {
                        record!(&mut *tx, audit, now)?;
                        if let Some(alert) = alert {
                            enqueue!(&mut *tx, &about_flag(alert, *id), now)?;
                        }
                    }
                    n > 0
                }
                Change::Refresh { id, state, reason, evidence, clears_when } => {
                    sqlx::query(
                        "UPDATE tier_flags SET reason = $1, evidence = $2, clears_when = $3, evaluated_at = $4, updated_at = $4
                         WHERE id = $5 AND state = $6 AND closed_at IS NULL",
                    )
                    .bind(reason)
                    .bind(evidence)
                    .bind(clears_when)
                    .bind(now)
                    .bind(id)
                    .bind(state)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        > 0
                }
                Change::Clear { id, from, note, audit } => {
                    let n = sqlx::query(
                        "UPDATE tier_flags SET state = 'cleared', close_note = $1, closed_at = $2, evaluated_at = $2, updated_at = $2
                         WHERE id = $3 AND state = $4 AND closed_at IS NULL",
                    )
                    .bind(note)
                    .bind(now)
                    .bind(id)
                    .bind(from)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if n > 0 {
                        record!(&mut *tx, audit, now)?;
                    }
                    n > 0
                }
                Change::Lapse { id, audit } => {
                    let n = sqlx::query("UPDATE tier_flags SET lapsed_at = $1 WHERE id = $2 AND state = 'kept' AND lapsed_at IS NULL")
                        .bind(now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if n > 0 {
                        record!(&mut *tx, audit, now)?;
                    }
                    n > 0
                }
            };
            tx.commit().await?;
            Ok::<bool, sqlx::Error>(took)
        })?;
        done += usize::from(took);
    }
    Ok(done)
}

/// A reviewer's decision, as the store writes it.
#[derive(Debug, Clone)]
pub struct Decided<'a> {
    pub flag_id: i64,
    /// The state the decision was made on: a flag that moved meanwhile is not decided.
    pub from: &'a str,
    /// kept | downgraded
    pub state: &'static str,
    pub note: &'a str,
    pub decided_by: (Option<i64>, &'a str),
    pub tier_before: &'a str,
    /// For a downgrade: the integration's new tier.
    pub tier_after: Option<&'static str>,
    pub integration_id: i64,
    /// For a downgrade: the integration's other open flags, which it closes.
    pub closes: Vec<i64>,
    pub audit: Vec<Entry>,
    pub alert: NewAlert,
}

/// The open flags of an integration: (id, rule, state).
pub async fn open_of(db: &Db, integration_id: i64) -> Result<Vec<(i64, String, String)>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_as(
        "SELECT id, rule, state FROM tier_flags WHERE integration_id = $1 AND closed_at IS NULL ORDER BY id"
    )
    .bind(integration_id)
    .fetch_all(pool)
    .await)
}

/// Writes a decision, the tier change, the records and the partner's alert
/// together. A downgrade closes the integration's other open flags too
/// (`closes`, each in the trail: it is no longer subject to them; one
/// raised meanwhile is closed by the next evaluation). False when the flag was no longer in `from`.
pub async fn decide(db: &Db, d: &Decided<'_>, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let n = sqlx::query(
            "UPDATE tier_flags SET state = $1, close_note = $2, closed_at = $3, decided_by = $4, decided_by_name = $5,
                tier_before = $6, tier_after = $7, updated_at = $3
             WHERE id = $8 AND state = $9 AND closed_at IS NULL",
        )
        .bind(d.state)
        .bind(d.note)
        .bind(now)
        .bind(d.decided_by.0)
        .bind(d.decided_by.1)
        .bind(d.tier_before)
        .bind(d.tier_after.unwrap_or(d.tier_before))
        .bind(d.flag_id)
        .bind(d.from)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        if let Some(tier) = d.tier_after {
            sqlx::query("UPDATE integrations SET tier = $1, updated_at = $2 WHERE id = $3")
                .bind(tier)
                .bind(now)
                .bind(d.integration_id)
                .execute(&mut *tx)
                .await?;
            for other in &d.closes {
                sqlx::query(
                    "UPDATE tier_flags SET state = 'cleared', close_note = $1, closed_at = $2, updated_at = $2
                     WHERE id = $3 AND integration_id = $4 AND closed_at IS NULL",
                )
                .bind(format!("closed by the downgrade of flag {}", d.flag_id))
                .bind(now)
                .bind(other)
                .bind(d.integration_id)
                .execute(&mut *tx)
                .await?;
            }
        }
        for entry in &d.audit {
            record!(&mut *tx, entry, now)?;
        }
        enqueue!(&mut *tx, &about_flag(&d.alert, d.flag_id), now)?;
        tx.commit().await?;
        Ok(true)
    })
}

/// The stored `flags.*` and `stage_target.*` settings, as key/value pairs.
pub async fn settings(db: &Db) -> Result<Vec<(String, String)>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_as(
        "SELECT key, value FROM program_settings WHERE key LIKE 'flags.%' OR key LIKE 'stage_target.%' ORDER BY key"
    )
    .fetch_all(pool)
    .await)
}

/// Saves settings pairs with their audit record.
pub async fn save_settings(db: &Db, pairs: &[(String, String)], audit: &Entry, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        for (key, value) in pairs {
            sqlx::query(
                "INSERT INTO program_settings (key, value, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(key)
            .bind(value)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        record!(&mut *tx, audit, now)?;
        tx.commit().await
    })
}
