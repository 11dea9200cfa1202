//! Queries for run-task conformance checks. A check is claimed by one
//! runner with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so two
//! instances never send the same check's requests; callbacks are rows of
//! their own, inserted by whichever instance receives them; the verdict is
//! written once, guarded by the state it was computed from.

use crate::domain::audit::Entry;
use crate::domain::conformance::{CheckState, Received, ResultStatus, Sent, StageFacts};
use crate::on_pool;
use crate::store::audit::record;
use crate::store::Db;
use chrono::{DateTime, Duration, Utc};

/// A check row with its integration's name and partner.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CheckRow {
    pub id: i64,
    pub integration_id: i64,
    pub integration_name: String,
    pub partner_id: i64,
    pub started_by: Option<i64>,
    pub started_by_name: Option<String>,
    pub state: String,
    pub endpoint_url: String,
    pub stages: String,
    pub has_key: bool,
    pub sent: String,
    pub summary: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub deadline_at: Option<DateTime<Utc>>,
    pub evidence_attached_at: Option<DateTime<Utc>>,
}

impl CheckRow {
    pub fn state(&self) -> CheckState {
        CheckState::parse(&self.state).unwrap_or(CheckState::Failed)
    }

    pub fn stage_list(&self) -> Vec<String> {
        self.stages.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()
    }

    /// The runner's results so far; a row it could not parse counts as none.
    pub fn sent(&self) -> Vec<Sent> {
        serde_json::from_str(&self.sent).unwrap_or_default()
    }
}

const COLUMNS: &str = "c.id, c.integration_id, i.name AS integration_name, i.partner_id, c.started_by, c.started_by_name, c.state,
    c.endpoint_url, c.stages, c.has_key, c.sent, c.summary, c.created_at, c.started_at, c.finished_at, c.deadline_at,
    c.evidence_attached_at";

pub async fn get(db: &Db, id: i64) -> Result<Option<CheckRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM run_task_checks c JOIN integrations i ON i.id = c.integration_id WHERE c.id = $1");
    on_pool!(db, |pool| sqlx::query_as::<_, CheckRow>(&sql).bind(id).fetch_optional(pool).await)
}

/// An integration's checks, newest first.
pub async fn list(db: &Db, integration_id: i64, limit: i64, offset: i64) -> Result<Vec<CheckRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM run_task_checks c JOIN integrations i ON i.id = c.integration_id
         WHERE c.integration_id = $1 ORDER BY c.created_at DESC, c.id DESC LIMIT $2 OFFSET $3"
    );
    on_pool!(db, |pool| sqlx::query_as::<_, CheckRow>(&sql).bind(integration_id).bind(limit).bind(offset).fetch_all(pool).await)
}

/// Whether a check is running, and how many started since `since`.
pub async fn recent(db: &Db, integration_id: i64, since: DateTime<Utc>) -> Result<(bool, i64), sqlx::Error> {
    let (running, recent): (i64, i64) = on_pool!(db, |pool| sqlx::query_as(
        "SELECT COALESCE(SUM(CASE WHEN state IN ('queued', 'sending', 'awaiting') THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN created_at >= $2 THEN 1 ELSE 0 END), 0)
         FROM run_task_checks WHERE integration_id = $1"
    )
    .bind(integration_id)
    .bind(since)
    .fetch_one(pool)
    .await)?;
    Ok((running > 0, recent))
}

/// What a new check needs from the registration, key included (only the
/// runner reads the key, to sign its requests).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Target {
    pub endpoint_url: Option<String>,
    pub hmac_key: Option<String>,
    pub stages: String,
}

pub async fn target(db: &Db, integration_id: i64) -> Result<Option<Target>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_as::<_, Target>(
        "SELECT endpoint_url, hmac_key, stages FROM run_task_registrations WHERE integration_id = $1"
    )
    .bind(integration_id)
    .fetch_optional(pool)
    .await)
}

/// Queues a check with its audit record; the runner picks it up.
pub async fn queue(
    db: &Db,
    integration_id: i64,
    started_by: (i64, &str),
    target: (&str, &str, bool),
    now: DateTime<Utc>,
    audit: &Entry,
) -> Result<i64, sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO run_task_checks (integration_id, started_by, started_by_name, state, endpoint_url, stages, has_key, created_at)
             VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7) RETURNING id",
        )
        .bind(integration_id)
        .bind((started_by.0 > 0).then_some(started_by.0))
        .bind(started_by.1)
        .bind(target.0)
        .bind(target.1)
        .bind(target.2)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        record!(&mut *tx, audit, now)?;
        tx.commit().await?;
        Ok(id)
    })
}

/// Claims one check to send: a queued one, or one whose runner's lease ran
/// out mid-sending (which the caller then fails: its requests were half sent).
pub async fn claim(db: &Db, instance: &str, now: DateTime<Utc>, lease: Duration) -> Result<Option<(i64, String)>, sqlx::Error> {
    let lock = match db {
        Db::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        Db::Sqlite(_) => "",
    };
    let sql = format!(
        "UPDATE run_task_checks SET claimed_by = $1, claimed_until = $2
         WHERE id = (
            SELECT id FROM run_task_checks
            WHERE state IN ('queued', 'sending') AND (claimed_until IS NULL OR claimed_until < $3)
            ORDER BY created_at, id LIMIT 1{lock})
         RETURNING id, state"
    );
    on_pool!(db, |pool| sqlx::query_as::<_, (i64, String)>(&sql).bind(instance).bind(now + lease).bind(now).fetch_optional(pool).await)
}

/// Marks a claimed check as sending; false when the claim is no longer ours.
pub async fn start_sending(db: &Db, id: i64, instance: &str, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    let done = on_pool!(db, |pool| sqlx::query(
        "UPDATE run_task_checks SET state = 'sending', started_at = $3 WHERE id = $1 AND claimed_by = $2 AND state = 'queued'"
    )
    .bind(id)
    .bind(instance)
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Saves the runner's results so far (the page shows them as they come).
pub async fn save_sent(db: &Db, id: i64, instance: &str, sent: &[Sent]) -> Result<(), sqlx::Error> {
    let json = serde_json::to_string(sent).unwrap_or_else(|_| "[]".into());
    on_pool!(db, |pool| sqlx::query("UPDATE run_task_checks SET sent = $3 WHERE id = $1 AND claimed_by = $2")
        .bind(id)
        .bind(instance)
        .bind(json)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A stage's request about to be sent: its callback's id and token hash.
pub async fn add_stage(
    db: &Db,
    check_id: i64,
    stage: &str,
    task_result_id: &str,
    token_hash: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| sqlx::query(
        "INSERT INTO run_task_check_stages (task_result_id, check_id, stage, token_hash, expires_at, requested_at, plan_offered)
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(task_result_id)
    .bind(check_id)
    .bind(stage)
    .bind(token_hash)
    .bind(expires_at)
    .bind(now)
    .bind(crate::domain::conformance::offers_plan(stage))
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Requests sent: wait for callbacks until `deadline`, and let go of the claim.
pub async fn await_callbacks(db: &Db, id: i64, instance: &str, deadline: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    let done = on_pool!(db, |pool| sqlx::query(
        "UPDATE run_task_checks SET state = 'awaiting', deadline_at = $3, claimed_by = NULL, claimed_until = NULL
         WHERE id = $1 AND claimed_by = $2 AND state = 'sending'"
    )
    .bind(id)
    .bind(instance)
    .bind(deadline)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Checks waiting for callbacks whose time limit has passed.
pub async fn overdue(db: &Db, now: DateTime<Utc>) -> Result<Vec<i64>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_scalar::<_, i64>(
        "SELECT id FROM run_task_checks WHERE state = 'awaiting' AND deadline_at <= $1 ORDER BY id LIMIT 100"
    )
    .bind(now)
    .fetch_all(pool)
    .await)
}

#[derive(sqlx::FromRow)]
struct StageRow {
    task_result_id: String,
    stage: String,
    requested_at: Option<DateTime<Utc>>,
    plan_offered: bool,
    plan_fetched_at: Option<DateTime<Utc>>,
    configuration_fetched_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct CallbackRow {
    task_result_id: String,
    received_at: DateTime<Utc>,
    status: Option<String>,
    message: Option<String>,
    outcomes: i64,
    problem: Option<String>,
    late: bool,
}

/// The stages' requests and callbacks of a check, in the check's stage order.
pub async fn stage_facts(db: &Db, check_id: i64, order: &[String]) -> Result<Vec<StageFacts>, sqlx::Error> {
    let stages = on_pool!(db, |pool| sqlx::query_as::<_, StageRow>(
        "SELECT task_result_id, stage, requested_at, plan_offered, plan_fetched_at, configuration_fetched_at
         FROM run_task_check_stages WHERE check_id = $1"
    )
    .bind(check_id)
    .fetch_all(pool)
    .await)?;
    let callbacks = on_pool!(db, |pool| sqlx::query_as::<_, CallbackRow>(
        "SELECT b.task_result_id, b.received_at, b.status, b.message, b.outcomes, b.problem, b.late
         FROM run_task_check_callbacks b JOIN run_task_check_stages s ON s.task_result_id = b.task_result_id
         WHERE s.check_id = $1 ORDER BY b.id"
    )
    .bind(check_id)
    .fetch_all(pool)
    .await)?;
    let mut out: Vec<StageFacts> = order
        .iter()
        .map(|stage| StageFacts {
            stage: stage.clone(),
            requested_at: None,
            received: Vec::new(),
            plan_offered: crate::domain::conformance::offers_plan(stage),
            plan_fetched_at: None,
            configuration_fetched_at: None,
        })
        .collect();
    for s in stages {
        let Some(facts) = out.iter_mut().find(|f| f.stage == s.stage) else { continue };
        facts.requested_at = s.requested_at;
        facts.plan_offered = s.plan_offered;
        facts.plan_fetched_at = s.plan_fetched_at;
        facts.configuration_fetched_at = s.configuration_fetched_at;
        facts.received = callbacks
            .iter()
            .filter(|c| c.task_result_id == s.task_result_id)
            .map(|c| Received {
                at: c.received_at,
                status: c.status.as_deref().and_then(ResultStatus::parse),
                message: c.message.clone(),
                outcomes: c.outcomes,
                problem: c.problem.clone(),
                late: c.late,
            })
            .collect();
    }
    Ok(out)
}

/// A stage request as the callback and document routes find it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StageTicket {
    pub task_result_id: String,
    pub check_id: i64,
    pub stage: String,
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
    pub state: String,
}

pub async fn ticket(db: &Db, task_result_id: &str) -> Result<Option<StageTicket>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_as::<_, StageTicket>(
        "SELECT s.task_result_id, s.check_id, s.stage, s.token_hash, s.expires_at, c.state
         FROM run_task_check_stages s JOIN run_task_checks c ON c.id = s.check_id WHERE s.task_result_id = $1"
    )
    .bind(task_result_id)
    .fetch_optional(pool)
    .await)
}

/// Records one callback, valid or not. At most 50 per stage are kept: an
/// endpoint stuck in a loop cannot fill the database.
pub async fn add_callback(db: &Db, task_result_id: &str, r: &Received) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| sqlx::query(
        "INSERT INTO run_task_check_callbacks (task_result_id, received_at, status, message, outcomes, problem, late)
         SELECT $1, $2, $3, $4, $5, $6, $7
         WHERE (SELECT COUNT(*) FROM run_task_check_callbacks WHERE task_result_id = $1) < 50"
    )
    .bind(task_result_id)
    .bind(r.at)
    .bind(r.status.map(ResultStatus::as_str))
    .bind(r.message.as_ref().map(|m| m.chars().take(1000).collect::<String>()))
    .bind(r.outcomes)
    .bind(&r.problem)
    .bind(r.late)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Which document the endpoint fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    Plan,
    Configuration,
}

pub async fn fetched(db: &Db, task_result_id: &str, document: Document, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    let sql = match document {
        Document::Plan => "UPDATE run_task_check_stages SET plan_fetched_at = COALESCE(plan_fetched_at, $2) WHERE task_result_id = $1",
        Document::Configuration => {
            "UPDATE run_task_check_stages SET configuration_fetched_at = COALESCE(configuration_fetched_at, $2) WHERE task_result_id = $1"
        }
    };
    on_pool!(db, |pool| sqlx::query(sql).bind(task_result_id).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Writes the verdict once: only while the check is in `from` (so two
/// instances settling together write it once), with its audit record.
pub async fn finish(
    db: &Db,
    id: i64,
    from: CheckState,
    to: CheckState,
    summary: &str,
    now: DateTime<Utc>,
    audit: &Entry,
) -> Result<bool, sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let done = sqlx::query(
            "UPDATE run_task_checks SET state = $3, summary = $4, finished_at = $5, claimed_by = NULL, claimed_until = NULL
             WHERE id = $1 AND state = $2",
        )
        .bind(id)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(summary)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        record!(&mut *tx, audit, now)?;
        tx.commit().await?;
        Ok(true)
    })
}

pub async fn mark_attached(db: &Db, id: i64, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| sqlx::query("UPDATE run_task_checks SET evidence_attached_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}
