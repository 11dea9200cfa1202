//! Queries behind the dashboards. Each is one aggregate over the whole
//! program (or one partner), filtered by the dashboard's filters, so the
//! page costs a handful of queries however many partners there are.

use super::Db;
use crate::domain::dashboard::DashboardFilter;
use crate::on_pool;
use chrono::{DateTime, Utc};

/// The filter clause over `integrations i JOIN partners p`, parameters `$1`–`$5`.
const FILTER: &str = "($1 = '' OR i.kind = $1) AND ($2 = '' OR i.stage = $2) AND ($3 = '' OR i.tier = $3)
    AND ($4 = '' OR EXISTS (SELECT 1 FROM integration_categories c WHERE c.integration_id = i.id AND c.category = $4))
    AND ($5 = '' OR LOWER(p.alliance_manager_email) = $5)";

macro_rules! bind_filter {
    ($query:expr, $f:expr) => {{
        let f: &DashboardFilter = $f;
        $query
            .bind(f.kind.map(|k| k.key()).unwrap_or_default())
            .bind(f.stage.map(|s| s.key()).unwrap_or_default())
            .bind(f.tier.map(|t| t.key()).unwrap_or_default())
            .bind(f.category.clone().unwrap_or_default())
            .bind(f.manager_email.clone().unwrap_or_default())
    }};
}

/// Where an integration stands in its track.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StageRow {
    pub id: i64,
    pub name: String,
    pub partner_name: String,
    pub kind: String,
    pub stage: String,
    pub since: DateTime<Utc>,
}

pub async fn stages(db: &Db, f: &DashboardFilter) -> Result<Vec<StageRow>, sqlx::Error> {
    let sql = format!(
        "SELECT i.id, i.name, p.name AS partner_name, i.kind, i.stage, COALESCE(i.stage_since, i.updated_at) AS since
         FROM integrations i JOIN partners p ON p.id = i.partner_id WHERE {FILTER}"
    );
    on_pool!(db, |pool| bind_filter!(sqlx::query_as::<_, StageRow>(&sql), f).fetch_all(pool).await)
}

/// One partner's support counts over the window.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SupportRow {
    pub partner_id: i64,
    pub slug: String,
    pub name: String,
    pub resolved: i64,
    pub within_sla: i64,
    pub open_breaches: i64,
    pub due_24h: i64,
}

/// Per partner: issues resolved since `since` and how many within the SLA,
/// open breaches, and open issues due before `soon`.
pub async fn support(
    db: &Db,
    f: &DashboardFilter,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    soon: DateTime<Utc>,
) -> Result<Vec<SupportRow>, sqlx::Error> {
    let sql = format!(
        "SELECT p.id AS partner_id, p.slug, p.name,
            SUM(CASE WHEN s.resolved_at IS NOT NULL THEN 1 ELSE 0 END) AS resolved,
            SUM(CASE WHEN s.resolved_at IS NOT NULL AND s.clock_state = 'met' THEN 1 ELSE 0 END) AS within_sla,
            SUM(CASE WHEN s.resolved_at IS NULL AND s.clock_state = 'breached' THEN 1 ELSE 0 END) AS open_breaches,
            SUM(CASE WHEN s.resolved_at IS NULL AND s.due_at > $7 AND s.due_at <= $8 THEN 1 ELSE 0 END) AS due_24h
         FROM support_issues s JOIN integrations i ON i.id = s.integration_id JOIN partners p ON p.id = i.partner_id
         WHERE {FILTER} AND (s.resolved_at IS NULL OR s.resolved_at >= $6)
         GROUP BY p.id, p.slug, p.name"
    );
    on_pool!(db, |pool| bind_filter!(sqlx::query_as::<_, SupportRow>(&sql), f).bind(since).bind(now).bind(soon).fetch_all(pool).await)
}

/// Versions published on providers' own registries per period: `bounds`
/// are ascending instants, and the answer holds the count in each
/// `[bounds[k], bounds[k+1])`. One scan, whatever the number of periods.
pub async fn versions_per_period(db: &Db, f: &DashboardFilter, bounds: &[DateTime<Utc>]) -> Result<Vec<i64>, sqlx::Error> {
    if bounds.len() < 2 {
        return Ok(Vec::new());
    }
    let n = bounds.len() - 1;
    let t = "COALESCE(v.published_at, v.first_seen_at)";
    let buckets: Vec<String> = (0..n).map(|k| format!("SUM(CASE WHEN {t} >= ${} AND {t} < ${} THEN 1 ELSE 0 END)", 6 + k, 7 + k)).collect();
    let sql = format!(
        "SELECT {} FROM provider_versions v JOIN integrations i ON i.id = v.integration_id AND v.registry_host = i.source_host
         JOIN partners p ON p.id = i.partner_id
         WHERE {FILTER} AND {t} >= $6 AND {t} < ${}",
        buckets.join(", "),
        6 + n
    );
    on_pool!(db, |pool| {
        let mut q = bind_filter!(sqlx::query(&sql), f);
        for b in bounds {
            q = q.bind(*b);
        }
        let row = q.fetch_one(pool).await?;
        use sqlx::Row;
        (0..n).map(|k| row.try_get::<Option<i64>, _>(k).map(Option::unwrap_or_default)).collect::<Result<Vec<_>, _>>()
    })
}

/// A mirror missing versions the provider's own registry lists.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LagRow {
    pub integration_id: i64,
    pub integration: String,
    pub registry_host: String,
    pub missing: i64,
}

pub async fn lagging(db: &Db, f: &DashboardFilter, limit: i64) -> Result<Vec<LagRow>, sqlx::Error> {
    let sql = format!(
        "SELECT i.id AS integration_id, i.name AS integration, m.registry_host, COUNT(*) AS missing
         FROM registry_polls m
         JOIN integrations i ON i.id = m.integration_id AND m.registry_host <> i.source_host
         JOIN partners p ON p.id = i.partner_id
         JOIN provider_versions v ON v.integration_id = i.id AND v.registry_host = i.source_host
         WHERE {FILTER} AND m.found_at IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM provider_versions w
                           WHERE w.integration_id = i.id AND w.registry_host = m.registry_host AND w.version = v.version)
         GROUP BY i.id, i.name, m.registry_host
         ORDER BY COUNT(*) DESC, i.name
         LIMIT $6"
    );
    on_pool!(db, |pool| bind_filter!(sqlx::query_as::<_, LagRow>(&sql), f).bind(limit).fetch_all(pool).await)
}

/// A provider whose latest GitHub release no registry lists yet, after the
/// lag threshold (a `registry_lag` event was recorded for that version).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BehindRow {
    pub integration_id: i64,
    pub integration: String,
    pub tag: String,
    pub published_at: Option<DateTime<Utc>>,
}

pub async fn behind_github(db: &Db, f: &DashboardFilter, limit: i64) -> Result<Vec<BehindRow>, sqlx::Error> {
    let sql = format!(
        "SELECT i.id AS integration_id, i.name AS integration, g.release_tag AS tag, g.release_published_at AS published_at
         FROM github_syncs g
         JOIN integrations i ON i.id = g.integration_id
         JOIN partners p ON p.id = i.partner_id
         WHERE {FILTER} AND g.release_version IS NOT NULL
           AND EXISTS (SELECT 1 FROM registry_events e
                       WHERE e.integration_id = i.id AND e.kind = 'registry_lag' AND e.version = g.release_version)
           AND NOT EXISTS (SELECT 1 FROM provider_versions v WHERE v.integration_id = i.id AND v.version = g.release_version)
         ORDER BY g.release_published_at, i.name
         LIMIT $6"
    );
    on_pool!(db, |pool| bind_filter!(sqlx::query_as::<_, BehindRow>(&sql), f).bind(limit).fetch_all(pool).await)
}

/// The oldest task waiting for a reviewer.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WaitingRow {
    pub task_id: i64,
    pub task: String,
    pub integration_id: i64,
    pub integration: String,
    pub partner: String,
    pub since: DateTime<Utc>,
}

/// How many tasks wait for review, and the oldest of them.
pub async fn review_queue(db: &Db, f: &DashboardFilter) -> Result<(i64, Option<WaitingRow>), sqlx::Error> {
    let from = format!(
        "FROM tasks t JOIN integrations i ON i.id = t.integration_id JOIN partners p ON p.id = i.partner_id
         WHERE {FILTER} AND t.state = 'reported'"
    );
    let count = format!("SELECT COUNT(*) {from}");
    let oldest = format!(
        "SELECT t.id AS task_id, t.title AS task, i.id AS integration_id, i.name AS integration, p.name AS partner, t.updated_at AS since
         {from} ORDER BY t.updated_at, t.id LIMIT 1"
    );
    on_pool!(db, |pool| {
        let n: i64 = bind_filter!(sqlx::query_scalar(&count), f).fetch_one(pool).await?;
        let row = bind_filter!(sqlx::query_as::<_, WaitingRow>(&oldest), f).fetch_optional(pool).await?;
        Ok((n, row))
    })
}

/// One of a partner's integrations with its task counts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProgressRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub tier: String,
    pub stage: String,
    pub accepted: i64,
    pub required: i64,
    pub waiting_on_review: i64,
}

pub async fn progress(db: &Db, partner_id: i64) -> Result<Vec<ProgressRow>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_as::<_, ProgressRow>(
        "SELECT i.id, i.name, i.kind, i.tier, i.stage,
            COALESCE(SUM(CASE WHEN t.required AND t.state IN ('accepted', 'waived') THEN 1 ELSE 0 END), 0) AS accepted,
            COALESCE(SUM(CASE WHEN t.required THEN 1 ELSE 0 END), 0) AS required,
            COALESCE(SUM(CASE WHEN t.state = 'reported' THEN 1 ELSE 0 END), 0) AS waiting_on_review
         FROM integrations i LEFT JOIN tasks t ON t.integration_id = i.id
         WHERE i.partner_id = $1
         GROUP BY i.id, i.name, i.kind, i.tier, i.stage
         ORDER BY LOWER(i.name), i.id"
    )
    .bind(partner_id)
    .fetch_all(pool)
    .await)
}

/// Tasks of their current stage that wait on the partner: (integration, title).
pub async fn waiting_on_partner(db: &Db, partner_id: i64) -> Result<Vec<(i64, String)>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_as(
        "SELECT t.integration_id, t.title FROM tasks t JOIN integrations i ON i.id = t.integration_id
         WHERE i.partner_id = $1 AND t.stage = i.stage AND t.state IN ('open', 'changes_requested') AND t.fact IS NULL
         ORDER BY t.integration_id, t.position"
    )
    .bind(partner_id)
    .fetch_all(pool)
    .await)
}
