//! Queries for the support SLA: program settings and holidays, issues with
//! their stored clock, clock events, and the GitHub sync rows (which double
//! as leases, like the registry poller's).
//!
//! Clock events are inserted with `ON CONFLICT DO NOTHING` on their unique
//! key (issue, kind, cycle) in the same transaction as the issue change, and
//! audited only when the insert took: two monitors, or one restarted, emit
//! each event once.

use crate::domain::audit::Entry;
use crate::domain::support::{Holiday, SlaSettings};
use crate::on_pool;
use crate::store::audit::record;
use crate::store::{like_pattern, Db};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::collections::HashMap;

/// The program's SLA settings and holidays (a few rows: read per use, so
/// every instance sees an admin's change at once).
pub async fn settings(db: &Db) -> Result<(SlaSettings, Vec<Holiday>), sqlx::Error> {
    let (pairs, days): (Vec<(String, String)>, Vec<(NaiveDate, String)>) = on_pool!(db, |pool| {
        let pairs = sqlx::query_as("SELECT key, value FROM program_settings WHERE key LIKE 'sla.%'").fetch_all(pool).await?;
        let days = sqlx::query_as("SELECT day, name FROM holidays ORDER BY day").fetch_all(pool).await?;
        (pairs, days)
    });
    let settings = SlaSettings::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    Ok((settings, days.into_iter().map(|(day, name)| Holiday { day, name }).collect()))
}

pub async fn save_settings(db: &Db, settings: &SlaSettings, audit: &Entry, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        for (key, value) in settings.to_pairs() {
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

/// Adds holidays (a name given again replaces the old one). Returns how many days were new.
pub async fn add_holidays(db: &Db, days: &[Holiday], audit: &Entry, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let mut added = 0;
        for h in days {
            let existed: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM holidays WHERE day = $1").bind(h.day).fetch_optional(&mut *tx).await?;
            sqlx::query("INSERT INTO holidays (day, name) VALUES ($1, $2) ON CONFLICT (day) DO UPDATE SET name = excluded.name")
                .bind(h.day)
                .bind(&h.name)
                .execute(&mut *tx)
                .await?;
            added += u64::from(existed.is_none());
        }
        record!(&mut *tx, audit, now)?;
        tx.commit().await?;
        Ok(added)
    })
}

pub async fn remove_holiday(db: &Db, day: NaiveDate, audit: &Entry, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let n = sqlx::query("DELETE FROM holidays WHERE day = $1").bind(day).execute(&mut *tx).await?.rows_affected();
        if n > 0 {
            record!(&mut *tx, audit, now)?;
        }
        tx.commit().await?;
        Ok(n > 0)
    })
}

/// An integration's own critical label set (`None`: the program's default).
pub async fn critical_labels(db: &Db, integration_id: i64) -> Result<Option<String>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_scalar::<_, Option<String>>("SELECT critical_labels FROM integrations WHERE id = $1")
        .bind(integration_id)
        .fetch_optional(pool)
        .await)
    .map(Option::flatten)
}

pub async fn set_critical_labels(
    db: &Db,
    integration_id: i64,
    labels: Option<&str>,
    audit: &Entry,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        sqlx::query("UPDATE integrations SET critical_labels = $2, updated_at = $3 WHERE id = $1")
            .bind(integration_id)
            .bind(labels)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        record!(&mut *tx, audit, now)?;
        tx.commit().await
    })
}

/// An issue row with the names lists show.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IssueRow {
    pub id: i64,
    pub integration_id: i64,
    pub integration_name: String,
    pub partner_id: i64,
    pub partner_slug: String,
    pub partner_name: String,
    pub source: String,
    pub number: Option<i64>,
    pub title: String,
    pub url: Option<String>,
    pub author: Option<String>,
    pub labels: String,
    pub label_severity: String,
    pub severity_override: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub open_periods: String,
    pub pause_periods: String,
    pub resolved_at: Option<DateTime<Utc>>,
    pub due_at: DateTime<Utc>,
    pub warn_at: DateTime<Utc>,
    pub clock_state: String,
    pub used_seconds: i64,
    pub cycle: i64,
    pub gone_at: Option<DateTime<Utc>>,
    /// When the partner acknowledged the current cycle's breach.
    pub acknowledged_at: Option<DateTime<Utc>>,
}

const SELECT: &str = "SELECT s.id, s.integration_id, i.name AS integration_name, p.id AS partner_id, p.slug AS partner_slug,
        p.name AS partner_name, s.source, s.number, s.title, s.url, s.author, s.labels, s.label_severity, s.severity_override,
        s.opened_at, s.open_periods, s.pause_periods, s.resolved_at, s.due_at, s.warn_at, s.clock_state, s.used_seconds, s.cycle, s.gone_at,
        (SELECT e.acknowledged_at FROM sla_events e WHERE e.issue_id = s.id AND e.cycle = s.cycle AND e.kind = 'breached') AS acknowledged_at
    FROM support_issues s JOIN integrations i ON i.id = s.integration_id JOIN partners p ON p.id = i.partner_id";

/// An issue's recomputed clock, the events now due, and the severity its
/// labels give it when that changed (a critical label set was changed).
pub type ClockUpdate = (i64, i64, ClockColumns, Vec<ClockEvent>, Option<&'static str>);

/// The clock of an issue as stored: recomputed by the service.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockColumns {
    pub due_at: DateTime<Utc>,
    pub warn_at: DateTime<Utc>,
    pub state: &'static str,
    pub used_seconds: i64,
}

/// An issue's content, as GitHub or a person gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueData {
    pub integration_id: i64,
    pub source: &'static str,
    pub number: Option<i64>,
    pub title: String,
    pub url: Option<String>,
    pub author: Option<String>,
    pub labels: Vec<String>,
    pub label_severity: &'static str,
    pub opened_at: DateTime<Utc>,
    /// JSON of the periods (see the migration).
    pub open_periods: String,
    pub pause_periods: String,
    pub resolved_at: Option<DateTime<Utc>>,
    pub cycle: i64,
    pub gone_at: Option<DateTime<Utc>>,
}

/// A clock event to record once: `kind` of `domain::sla::EventKind`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockEvent {
    pub kind: &'static str,
    pub cycle: i64,
    pub deadline: DateTime<Utc>,
    /// Written to the trail when the event is new.
    pub audit: Entry,
    /// Enqueued, for the issue's id, when the event is new.
    pub alert: Option<crate::store::alerts::NewAlert>,
}

/// Records `events` of issue `$issue` once each, auditing those that are new.
macro_rules! emit {
    ($tx:expr, $issue:expr, $integration:expr, $events:expr, $now:expr) => {{
        let mut fired: Vec<&'static str> = Vec::new();
        for e in $events {
            let new = sqlx::query(
                "INSERT INTO sla_events (issue_id, integration_id, kind, cycle, deadline, occurred_at) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (issue_id, kind, cycle) DO NOTHING",
            )
            .bind($issue)
            .bind($integration)
            .bind(e.kind)
            .bind(e.cycle)
            .bind(e.deadline)
            .bind($now)
            .execute(&mut *$tx)
            .await?
            .rows_affected()
                == 1;
            if new {
                let audit = Entry { target_id: Some($issue), ..e.audit.clone() };
                record!(&mut *$tx, &audit, $now)?;
                if let Some(alert) = &e.alert {
                    let alert = crate::services::alerts::for_issue(alert, $issue);
                    crate::store::alerts::enqueue!($tx, &alert, $now)?;
                }
                fired.push(e.kind);
            }
        }
        Ok::<Vec<&'static str>, sqlx::Error>(fired)
    }};
}

macro_rules! save_one {
    ($tx:expr, $id:expr, $d:expr, $c:expr, $now:expr) => {{
        let d: &IssueData = $d;
        let c: &ClockColumns = $c;
        let labels = d.labels.join("\n");
        match $id {
            Some(id) => sqlx::query(
                "UPDATE support_issues SET title = $2, url = $3, author = $4, labels = $5, label_severity = $6, opened_at = $7,
                    open_periods = $8, pause_periods = $9, resolved_at = $10, due_at = $11, warn_at = $12, clock_state = $13,
                    used_seconds = $14, cycle = $15, gone_at = $16, updated_at = $17
                 WHERE id = $1",
            )
            .bind(id)
            .bind(&d.title)
            .bind(&d.url)
            .bind(&d.author)
            .bind(&labels)
            .bind(d.label_severity)
            .bind(d.opened_at)
            .bind(&d.open_periods)
            .bind(&d.pause_periods)
            .bind(d.resolved_at)
            .bind(c.due_at)
            .bind(c.warn_at)
            .bind(c.state)
            .bind(c.used_seconds)
            .bind(d.cycle)
            .bind(d.gone_at)
            .bind($now)
            .execute(&mut *$tx)
            .await
            .map(|_| id),
            None => sqlx::query_scalar::<_, i64>(
                "INSERT INTO support_issues (integration_id, source, number, title, url, author, labels, label_severity, opened_at,
                    open_periods, pause_periods, resolved_at, due_at, warn_at, clock_state, used_seconds, cycle, gone_at, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19)
                 RETURNING id",
            )
            .bind(d.integration_id)
            .bind(d.source)
            .bind(d.number)
            .bind(&d.title)
            .bind(&d.url)
            .bind(&d.author)
            .bind(&labels)
            .bind(d.label_severity)
            .bind(d.opened_at)
            .bind(&d.open_periods)
            .bind(&d.pause_periods)
            .bind(d.resolved_at)
            .bind(c.due_at)
            .bind(c.warn_at)
            .bind(c.state)
            .bind(c.used_seconds)
            .bind(d.cycle)
            .bind(d.gone_at)
            .bind($now)
            .fetch_one(&mut *$tx)
            .await,
        }
    }};
}

/// Inserts or updates (by id) an issue with its clock, records its events
/// and an optional audit entry, in one transaction. Returns the id and the
/// events that were new.
pub async fn save(
    db: &Db,
    id: Option<i64>,
    data: &IssueData,
    clock: &ClockColumns,
    events: &[ClockEvent],
    audit: Option<&Entry>,
    now: DateTime<Utc>,
) -> Result<(i64, Vec<&'static str>), sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let id = save_one!(&mut *tx, id, data, clock, now)?;
        let fired = emit!(&mut *tx, id, data.integration_id, events, now)?;
        if let Some(a) = audit {
            let a = Entry { target_id: Some(id), ..a.clone() };
            record!(&mut *tx, &a, now)?;
        }
        tx.commit().await?;
        Ok((id, fired))
    })
}

/// Updates only the stored clock of an issue and records its events (the
/// monitor, a calendar change).
pub async fn save_clocks(db: &Db, clocks: &[ClockUpdate], now: DateTime<Utc>) -> Result<usize, sqlx::Error> {
    if clocks.is_empty() {
        return Ok(0);
    }
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let mut fired = 0;
        for (id, integration_id, c, events, label_severity) in clocks {
            if let Some(severity) = label_severity {
                sqlx::query("UPDATE support_issues SET label_severity = $2 WHERE id = $1")
                    .bind(id)
                    .bind(*severity)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("UPDATE support_issues SET due_at = $2, warn_at = $3, clock_state = $4, used_seconds = $5 WHERE id = $1")
                .bind(id)
                .bind(c.due_at)
                .bind(c.warn_at)
                .bind(c.state)
                .bind(c.used_seconds)
                .execute(&mut *tx)
                .await?;
            fired += emit!(&mut *tx, *id, *integration_id, events, now)?.len();
        }
        tx.commit().await?;
        Ok(fired)
    })
}

/// Sets (or clears) a reviewer's severity override; the caller saves the new clock.
pub async fn set_override(db: &Db, id: i64, severity: Option<&str>, audit: &Entry, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        sqlx::query("UPDATE support_issues SET severity_override = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(severity)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        record!(&mut *tx, audit, now)?;
        tx.commit().await
    })
}

pub async fn get(db: &Db, id: i64) -> Result<Option<IssueRow>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE s.id = $1");
    on_pool!(db, |pool| sqlx::query_as::<_, IssueRow>(&sql).bind(id).fetch_optional(pool).await)
}

/// Issues of one integration by GitHub number.
pub async fn by_numbers(db: &Db, integration_id: i64, numbers: &[i64]) -> Result<Vec<IssueRow>, sqlx::Error> {
    if numbers.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = (2..numbers.len() + 2).map(|i| format!("${i}")).collect();
    let sql = format!("{SELECT} WHERE s.integration_id = $1 AND s.number IN ({})", list.join(", "));
    on_pool!(db, |pool| {
        let mut q = sqlx::query_as::<_, IssueRow>(&sql).bind(integration_id);
        for n in numbers {
            q = q.bind(n);
        }
        q.fetch_all(pool).await
    })
}

/// Open GitHub issues of an integration not written since `before`: the
/// sync checks these still exist (a deleted or transferred issue drops out
/// of GitHub's list, so the `since` listing never says it went).
pub async fn stale_open(db: &Db, integration_id: i64, before: DateTime<Utc>, limit: i64) -> Result<Vec<IssueRow>, sqlx::Error> {
    let sql = format!(
        "{SELECT} WHERE s.integration_id = $1 AND s.source = 'github' AND s.resolved_at IS NULL AND s.gone_at IS NULL AND s.updated_at < $2
         ORDER BY s.updated_at LIMIT $3"
    );
    on_pool!(db, |pool| sqlx::query_as::<_, IssueRow>(&sql).bind(integration_id).bind(before).bind(limit).fetch_all(pool).await)
}

/// Which issues a list shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IssueFilter {
    pub partner_id: Option<i64>,
    pub integration_id: Option<i64>,
    /// `open` (any open state), a clock state key, or `None` for all.
    pub state: Option<String>,
    pub severity: Option<String>,
    pub q: Option<String>,
    /// Open issues due in `(from, to]`: the dashboard's "due in the next 24 hours".
    pub due: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Order by urgency (open by deadline, then resolved newest first) or by opening, newest first.
    pub newest_first: bool,
}

const WHERE: &str = " WHERE ($1 = 0 OR i.partner_id = $1) AND ($2 = 0 OR s.integration_id = $2)
    AND ($3 = '' OR ($3 = 'open' AND s.resolved_at IS NULL) OR s.clock_state = $3)
    AND ($4 = '' OR COALESCE(s.severity_override, s.label_severity) = $4)
    AND ($5 = '%%' OR LOWER(s.title) LIKE $5 ESCAPE '\\' OR LOWER(i.name) LIKE $5 ESCAPE '\\' OR LOWER(p.name) LIKE $5 ESCAPE '\\')
    AND ($6 = 0 OR (s.resolved_at IS NULL AND s.due_at > $7 AND s.due_at <= $8))";

macro_rules! bind_filter {
    ($q:expr, $f:expr) => {
        $q.bind($f.partner_id.unwrap_or(0))
            .bind($f.integration_id.unwrap_or(0))
            .bind($f.state.as_deref().unwrap_or(""))
            .bind($f.severity.as_deref().unwrap_or(""))
            .bind(like_pattern($f.q.as_deref().unwrap_or("").trim()))
            .bind(i64::from($f.due.is_some()))
            .bind($f.due.map(|d| d.0).unwrap_or_default())
            .bind($f.due.map(|d| d.1).unwrap_or_default())
    };
}

/// A page of issues and the total count.
pub async fn list(db: &Db, f: &IssueFilter, page: i64, per_page: i64) -> Result<(Vec<IssueRow>, i64), sqlx::Error> {
    let order = if f.newest_first {
        " ORDER BY s.opened_at DESC, s.id DESC"
    } else {
        " ORDER BY CASE s.clock_state WHEN 'breached' THEN 0 WHEN 'due_soon' THEN 1 WHEN 'on_track' THEN 2 ELSE 3 END,
            CASE WHEN s.resolved_at IS NULL THEN s.due_at END, s.resolved_at DESC, s.id DESC"
    };
    let sql = format!("{SELECT}{WHERE}{order} LIMIT $9 OFFSET $10");
    let count = format!("SELECT COUNT(*) FROM support_issues s JOIN integrations i ON i.id = s.integration_id JOIN partners p ON p.id = i.partner_id{WHERE}");
    on_pool!(db, |pool| {
        let rows =
            bind_filter!(sqlx::query_as::<_, IssueRow>(&sql), f).bind(per_page).bind((page.max(1) - 1) * per_page).fetch_all(pool).await?;
        let total: i64 = bind_filter!(sqlx::query_scalar(&count), f).fetch_one(pool).await?;
        Ok((rows, total))
    })
}

/// Issues with an id above `after`, in id order, for streamed exports.
pub async fn export_chunk(db: &Db, f: &IssueFilter, after: i64, limit: i64) -> Result<Vec<IssueRow>, sqlx::Error> {
    let sql = format!("{SELECT}{WHERE} AND s.id > $9 ORDER BY s.id LIMIT $10");
    on_pool!(db, |pool| bind_filter!(sqlx::query_as::<_, IssueRow>(&sql), f).bind(after).bind(limit).fetch_all(pool).await)
}

/// Open issues whose stored clock has a threshold behind it: the monitor
/// recomputes these (the stored state is "on track" past warn_at, or not
/// yet "breached" past due_at).
pub async fn due_for_monitor(db: &Db, now: DateTime<Utc>, limit: i64) -> Result<Vec<IssueRow>, sqlx::Error> {
    let sql = format!(
        "{SELECT} WHERE s.resolved_at IS NULL AND (
            (s.clock_state = 'on_track' AND s.warn_at <= $1) OR (s.clock_state IN ('on_track', 'due_soon') AND s.due_at <= $1))
         ORDER BY s.due_at LIMIT $2"
    );
    on_pool!(db, |pool| sqlx::query_as::<_, IssueRow>(&sql).bind(now).bind(limit).fetch_all(pool).await)
}

/// Every issue (or every issue of one integration) in id order after
/// `after`, for recomputing after a calendar or label change.
pub async fn chunk(db: &Db, integration_id: Option<i64>, after: i64, limit: i64) -> Result<Vec<IssueRow>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE s.id > $1 AND ($3 = 0 OR s.integration_id = $3) ORDER BY s.id LIMIT $2");
    on_pool!(db, |pool| sqlx::query_as::<_, IssueRow>(&sql).bind(after).bind(limit).bind(integration_id.unwrap_or(0)).fetch_all(pool).await)
}

/// The own critical labels of every integration that has any (or of one).
pub async fn own_critical_labels(db: &Db, integration_id: Option<i64>) -> Result<HashMap<i64, String>, sqlx::Error> {
    let rows: Vec<(i64, String)> = on_pool!(db, |pool| sqlx::query_as(
        "SELECT id, critical_labels FROM integrations WHERE critical_labels IS NOT NULL AND ($1 = 0 OR id = $1)"
    )
    .bind(integration_id.unwrap_or(0))
    .fetch_all(pool)
    .await)?;
    Ok(rows.into_iter().collect())
}

/// What compliance figures need of an issue.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutcomeRow {
    pub partner_id: i64,
    pub integration_id: i64,
    pub severity: String,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub clock_state: String,
    pub used_seconds: i64,
}

/// Issues resolved since `since` or still open, for a partner, an
/// integration, or everyone: one query for a whole roll-up.
pub async fn outcomes(
    db: &Db,
    partner_id: Option<i64>,
    integration_id: Option<i64>,
    since: DateTime<Utc>,
) -> Result<Vec<OutcomeRow>, sqlx::Error> {
    let sql =
        "SELECT i.partner_id, s.integration_id, COALESCE(s.severity_override, s.label_severity) AS severity, s.opened_at, s.resolved_at,
            s.clock_state, s.used_seconds
        FROM support_issues s JOIN integrations i ON i.id = s.integration_id
        WHERE ($1 = 0 OR i.partner_id = $1) AND ($2 = 0 OR s.integration_id = $2) AND (s.resolved_at IS NULL OR s.resolved_at >= $3)";
    on_pool!(db, |pool| sqlx::query_as::<_, OutcomeRow>(sql)
        .bind(partner_id.unwrap_or(0))
        .bind(integration_id.unwrap_or(0))
        .bind(since)
        .fetch_all(pool)
        .await)
}

/// Takes or renews a singleton job's lease; false when another instance holds it.
pub async fn take_lease(db: &Db, job: &str, instance: &str, now: DateTime<Utc>, lease: Duration) -> Result<bool, sqlx::Error> {
    on_pool!(db, |pool| {
        let n = sqlx::query(
            "INSERT INTO job_leases (job, held_by, held_until) VALUES ($1, $2, $3)
             ON CONFLICT (job) DO UPDATE SET held_by = excluded.held_by, held_until = excluded.held_until
             WHERE job_leases.held_by = excluded.held_by OR job_leases.held_until < $4",
        )
        .bind(job)
        .bind(instance)
        .bind(now + lease)
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    })
}

pub async fn release_lease(db: &Db, job: &str, instance: &str) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| sqlx::query("DELETE FROM job_leases WHERE job = $1 AND held_by = $2")
        .bind(job)
        .bind(instance)
        .execute(pool)
        .await
        .map(|_| ()))
}

/// Recent clock events of an integration (for its timeline and tests).
pub async fn events(db: &Db, integration_id: i64) -> Result<Vec<(i64, String, i64, DateTime<Utc>)>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_as(
        "SELECT issue_id, kind, cycle, deadline FROM sla_events WHERE integration_id = $1 ORDER BY occurred_at, id"
    )
    .bind(integration_id)
    .fetch_all(pool)
    .await)
}

/// Repositories to sync: `(integration, owner, repo)` for every
/// integration whose repository is on the configured GitHub. Adds missing
/// rows, follows a changed repository (forgetting what was known of the
/// old one) and drops rows whose integration lost its repository.
pub async fn sync_repositories(db: &Db, repos: &[(i64, String, String)], now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let known: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT integration_id, owner, repo FROM github_syncs").fetch_all(&mut *tx).await?;
        let mut changed = 0;
        for (id, owner, repo) in repos {
            match known.iter().find(|(k, _, _)| k == id) {
                Some((_, o, r)) if o == owner && r == repo => {}
                Some(_) => {
                    changed += sqlx::query(
                        "UPDATE github_syncs SET owner = $2, repo = $3, etag = NULL, since = NULL, next_sync_at = $4, licence = NULL,
                            licence_checked_at = NULL, repo_private = NULL, failures = 0 WHERE integration_id = $1",
                    )
                    .bind(id)
                    .bind(owner)
                    .bind(repo)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
                None => {
                    changed += sqlx::query(
                        "INSERT INTO github_syncs (integration_id, owner, repo, next_sync_at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (integration_id) DO NOTHING",
                    )
                    .bind(id)
                    .bind(owner)
                    .bind(repo)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
            }
        }
        for (id, _, _) in known.iter().filter(|(k, _, _)| !repos.iter().any(|(r, _, _)| r == k)) {
            changed += sqlx::query("DELETE FROM github_syncs WHERE integration_id = $1").bind(id).execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(changed)
    })
}

/// Integrations with a repository URL: `(id, kind, url)`.
pub async fn repository_urls(db: &Db) -> Result<Vec<(i64, String, String)>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_as("SELECT id, kind, repository_url FROM integrations WHERE repository_url IS NOT NULL")
        .fetch_all(pool)
        .await)
}

/// A claimed sync: what to ask and what we knew last time.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SyncDue {
    pub integration_id: i64,
    pub owner: String,
    pub repo: String,
    pub etag: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub failures: i64,
    pub licence_checked_at: Option<DateTime<Utc>>,
    pub release_checked_at: Option<DateTime<Utc>>,
}

/// Claims up to `limit` due syncs for `lease` (`SKIP LOCKED` on PostgreSQL).
pub async fn claim_syncs(db: &Db, instance: &str, now: DateTime<Utc>, lease: Duration, limit: i64) -> Result<Vec<SyncDue>, sqlx::Error> {
    let lock = match db {
        Db::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        Db::Sqlite(_) => "",
    };
    let sql = format!(
        "UPDATE github_syncs SET claimed_until = $1, claimed_by = $2
         WHERE integration_id IN (
            SELECT integration_id FROM github_syncs
            WHERE next_sync_at <= $3 AND (claimed_until IS NULL OR claimed_until < $3)
            ORDER BY next_sync_at LIMIT $4{lock})
         RETURNING integration_id, owner, repo, etag, since, failures, licence_checked_at, release_checked_at"
    );
    on_pool!(db, |pool| sqlx::query_as::<_, SyncDue>(&sql).bind(now + lease).bind(instance).bind(now).bind(limit).fetch_all(pool).await)
}

/// Pushes the claims `instance` still holds to `until` (never earlier):
/// a step renews them while it works, so they outlast a long sync.
pub async fn renew_sync_claims(db: &Db, instance: &str, until: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query(
        "UPDATE github_syncs SET claimed_until = $1 WHERE claimed_by = $2 AND claimed_until IS NOT NULL AND claimed_until < $1"
    )
    .bind(until)
    .bind(instance)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))
}

/// How a sync ended, to store on its row.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncResult {
    pub integration_id: i64,
    pub outcome: &'static str,
    pub error: Option<String>,
    pub failures: i64,
    pub next_sync_at: DateTime<Utc>,
    /// New validators: `Some` replaces etag and since.
    pub listing: Option<(Option<String>, Option<DateTime<Utc>>)>,
    /// `Some` when the licence was checked (its SPDX id, or `None` for no licence file).
    pub licence: Option<Option<String>>,
    /// `Some` when the latest release was checked (`None` inside: there is none).
    pub release: Option<Option<crate::domain::github::Release>>,
    /// `Some` when this sync asked GitHub whether the repository is private.
    pub private: Option<bool>,
}

/// One issue to write with a sync: `id` of the stored row when known.
pub type SyncedIssue = (Option<i64>, IssueData, ClockColumns, Vec<ClockEvent>);

/// Writes a sync's issues and result in one transaction, only while this
/// instance still holds the claim (false otherwise, and nothing changed).
pub async fn record_sync(
    db: &Db,
    instance: &str,
    result: &SyncResult,
    issues: &[SyncedIssue],
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let (set_listing, etag, since) = match &result.listing {
        Some((e, s)) => (true, e.clone(), *s),
        None => (false, None, None),
    };
    let (set_licence, licence) = match &result.licence {
        Some(l) => (true, l.clone()),
        None => (false, None),
    };
    let (set_release, release) = match &result.release {
        Some(r) => (true, r.clone()),
        None => (false, None),
    };
    let release_version = release.as_ref().and_then(|r| crate::domain::registry::tag_version(&r.tag));
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let held = sqlx::query(
            "UPDATE github_syncs SET claimed_until = NULL, claimed_by = NULL, last_synced_at = $2, last_outcome = $3, last_error = $4,
                failures = $5, next_sync_at = $6,
                failing_since = CASE WHEN $5 > 0 THEN COALESCE(failing_since, $2) ELSE NULL END,
                failure_alerted_at = CASE WHEN $5 > 0 THEN failure_alerted_at ELSE NULL END,
                etag = CASE WHEN $7 THEN $8 ELSE etag END, since = CASE WHEN $7 THEN $9 ELSE since END,
                licence = CASE WHEN $10 THEN $11 ELSE licence END, licence_checked_at = CASE WHEN $10 THEN $2 ELSE licence_checked_at END,
                release_tag = CASE WHEN $13 THEN $14 ELSE release_tag END,
                release_version = CASE WHEN $13 THEN $15 ELSE release_version END,
                release_published_at = CASE WHEN $13 THEN $16 ELSE release_published_at END,
                release_checked_at = CASE WHEN $13 THEN $2 ELSE release_checked_at END,
                repo_private = COALESCE($17, repo_private)
             WHERE integration_id = $1 AND claimed_by = $12",
        )
        .bind(result.integration_id)
        .bind(now)
        .bind(result.outcome)
        .bind(&result.error)
        .bind(result.failures)
        .bind(result.next_sync_at)
        .bind(set_listing)
        .bind(etag)
        .bind(since)
        .bind(set_licence)
        .bind(licence)
        .bind(instance)
        .bind(set_release)
        .bind(release.as_ref().map(|r| r.tag.clone()))
        .bind(release_version)
        .bind(release.as_ref().and_then(|r| r.published_at))
        .bind(result.private)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !held {
            return Ok(false);
        }
        for (id, data, clock, events) in issues {
            let id = save_one!(&mut *tx, *id, data, clock, now)?;
            emit!(&mut *tx, id, data.integration_id, events, now)?;
        }
        tx.commit().await?;
        Ok(true)
    })
}

/// Makes an integration's sync due now. Returns how many rows were queued (0 or 1).
pub async fn sync_now(db: &Db, integration_id: i64, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query("UPDATE github_syncs SET next_sync_at = $2 WHERE integration_id = $1")
        .bind(integration_id)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
}

/// The GitHub API's shared pause: until when no instance may call it.
pub async fn api_blocked_until(db: &Db, base: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_scalar::<_, Option<DateTime<Utc>>>("SELECT blocked_until FROM github_api WHERE base = $1")
        .bind(base)
        .fetch_optional(pool)
        .await)
    .map(Option::flatten)
}

/// The latest pause of any GitHub API base (one is configured at a time).
pub async fn api_paused_until(db: &Db) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_scalar::<_, Option<DateTime<Utc>>>("SELECT MAX(blocked_until) FROM github_api").fetch_one(pool).await)
}

/// Remembers the API's budget, and a pause when it is limited. A pause
/// still ahead at `now` is never shortened: another instance may have been
/// told to wait (a 429's Retry-After) while this one saw a healthy budget.
#[allow(clippy::too_many_arguments)]
pub async fn api_state(
    db: &Db,
    base: &str,
    blocked_until: Option<DateTime<Utc>>,
    remaining: Option<i64>,
    reset_at: Option<DateTime<Utc>>,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| sqlx::query(
        "INSERT INTO github_api (base, blocked_until, remaining, reset_at, last_error) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (base) DO UPDATE SET
            blocked_until = CASE WHEN github_api.blocked_until > $6
                AND (excluded.blocked_until IS NULL OR excluded.blocked_until < github_api.blocked_until)
                THEN github_api.blocked_until ELSE excluded.blocked_until END,
            last_error = CASE WHEN github_api.blocked_until > $6
                AND (excluded.blocked_until IS NULL OR excluded.blocked_until < github_api.blocked_until)
                THEN github_api.last_error ELSE excluded.last_error END,
            remaining = excluded.remaining, reset_at = excluded.reset_at"
    )
    .bind(base)
    .bind(blocked_until)
    .bind(remaining)
    .bind(reset_at)
    .bind(error)
    .bind(now)
    .execute(pool)
    .await
    .map(|_| ()))
}

/// Counts a rate limit GitHub answered without saying how long to wait;
/// returns how many came in a row before it (every instance's), which the
/// back-off doubles with.
pub async fn api_silent_limit(db: &Db, base: &str) -> Result<u32, sqlx::Error> {
    let count: i64 = on_pool!(db, |pool| sqlx::query_scalar(
        "INSERT INTO github_api (base, silent_limits) VALUES ($1, 1)
         ON CONFLICT (base) DO UPDATE SET silent_limits = github_api.silent_limits + 1
         RETURNING silent_limits"
    )
    .bind(base)
    .fetch_one(pool)
    .await)?;
    Ok(u32::try_from(count - 1).unwrap_or(u32::MAX))
}

/// A sync got through: the next silent limit waits a minute again.
pub async fn api_got_through(db: &Db, base: &str) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| sqlx::query("UPDATE github_api SET silent_limits = 0 WHERE base = $1 AND silent_limits > 0")
        .bind(base)
        .execute(pool)
        .await
        .map(|_| ()))
}

/// A repository's sync state, for the integration page.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SyncRow {
    pub integration_id: i64,
    pub owner: String,
    pub repo: String,
    pub next_sync_at: DateTime<Utc>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub last_outcome: Option<String>,
    pub last_error: Option<String>,
    pub failures: i64,
    pub licence: Option<String>,
    pub licence_checked_at: Option<DateTime<Utc>>,
    /// What GitHub last said: private (or internal), or public; `None`
    /// until a sync has asked.
    pub repo_private: Option<bool>,
}

const SYNC_SELECT: &str = "SELECT integration_id, owner, repo, next_sync_at, last_synced_at, last_outcome, last_error, failures, licence,
    licence_checked_at, repo_private FROM github_syncs";

pub async fn sync_row(db: &Db, integration_id: i64) -> Result<Option<SyncRow>, sqlx::Error> {
    let sql = format!("{SYNC_SELECT} WHERE integration_id = $1");
    on_pool!(db, |pool| sqlx::query_as::<_, SyncRow>(&sql).bind(integration_id).fetch_optional(pool).await)
}

/// Repositories whose last sync failed, worst first (for the status line).
pub async fn failing_syncs(db: &Db, limit: i64) -> Result<Vec<SyncRow>, sqlx::Error> {
    let sql = format!("{SYNC_SELECT} WHERE failures > 0 ORDER BY failures DESC, integration_id LIMIT $1");
    on_pool!(db, |pool| sqlx::query_as::<_, SyncRow>(&sql).bind(limit).fetch_all(pool).await)
}

/// `(repositories, due now, next due)`.
pub async fn sync_counts(db: &Db, now: DateTime<Utc>) -> Result<(i64, i64, Option<DateTime<Utc>>), sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN next_sync_at <= $1 THEN 1 ELSE 0 END), 0), MIN(next_sync_at) FROM github_syncs"
    )
    .bind(now)
    .fetch_one(pool)
    .await)
}
