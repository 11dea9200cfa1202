//! Queries for checklist templates and for bringing an integration's
//! checklist to a newer version (all of one integration's changes, its
//! version and its audit records in one transaction).

use crate::domain::audit::Entry;
use crate::domain::catalog::{IntegrationKind, Stage};
use crate::domain::revision::{Follower, Template, TemplateTask, Upgrade};
use crate::domain::task::TaskState;
use crate::on_pool;
use crate::store::audit::record;
use crate::store::Db;
use chrono::{DateTime, Utc};

/// The newest stored version of a track's template (none: the built-in).
pub async fn latest(db: &Db, kind: IntegrationKind) -> Result<Option<Template>, sqlx::Error> {
    let row: Option<(i64, String)> =
        on_pool!(db, |pool| sqlx::query_as("SELECT version, tasks FROM templates WHERE kind = $1 ORDER BY version DESC LIMIT 1")
            .bind(kind.key())
            .fetch_optional(pool)
            .await?);
    row.map(|(version, tasks)| {
        let tasks: Vec<TemplateTask> = serde_json::from_str(&tasks).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        Ok(Template { kind, version, tasks })
    })
    .transpose()
}

/// Stores a new version; a unique violation means someone saved the same
/// version first.
pub async fn insert(db: &Db, t: &Template, by: Option<i64>, now: DateTime<Utc>, audit: &Entry) -> Result<(), sqlx::Error> {
    let tasks = serde_json::to_string(&t.tasks).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        sqlx::query("INSERT INTO templates (kind, version, tasks, created_by, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(t.kind.key())
            .bind(t.version)
            .bind(&tasks)
            .bind(by)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        record!(&mut *tx, audit, now)?;
        tx.commit().await
    })
}

/// Every integration of a kind with the version its checklist follows.
pub async fn followers(db: &Db, kind: IntegrationKind) -> Result<Vec<Follower>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_as::<_, Follower>(
        "SELECT i.id, i.name, p.name AS partner_name, i.checklist_version, i.stage
         FROM integrations i JOIN partners p ON p.id = i.partner_id
         WHERE i.kind = $1 ORDER BY i.checklist_version, LOWER(p.name), LOWER(i.name), i.id"
    )
    .bind(kind.key())
    .fetch_all(pool)
    .await)
}

pub async fn checklist_version(db: &Db, integration_id: i64) -> Result<i64, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_scalar("SELECT checklist_version FROM integrations WHERE id = $1")
        .bind(integration_id)
        .fetch_one(pool)
        .await)
}

/// Writes an upgrade: rewordings, flags and positions, new tasks, the
/// integration's version and stage, and the audit records. `expected` is
/// the version the plan was made from: if it changed meanwhile nothing is
/// written and the answer is false.
#[allow(clippy::too_many_arguments)]
pub async fn upgrade(
    db: &Db,
    integration_id: i64,
    expected: i64,
    plan: &Upgrade,
    version: i64,
    stage: Stage,
    now: DateTime<Utc>,
    audit: &[Entry],
) -> Result<bool, sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let moved = sqlx::query(
            "UPDATE integrations SET checklist_version = $1, stage_since = CASE WHEN stage = $2 THEN stage_since ELSE $3 END, stage = $2, updated_at = $3
             WHERE id = $4 AND checklist_version = $5",
        )
        .bind(version)
        .bind(stage.key())
        .bind(now)
        .bind(integration_id)
        .bind(expected)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        for (_, new) in &plan.updates {
            sqlx::query("UPDATE tasks SET title = $1, help = $2, required = $3, position = $4 WHERE integration_id = $5 AND key = $6")
                .bind(&new.title)
                .bind(&new.help)
                .bind(new.required)
                .bind(new.position)
                .bind(integration_id)
                .bind(&new.key)
                .execute(&mut *tx)
                .await?;
        }
        for (t, position, behind) in &plan.additions {
            let state = if *behind { TaskState::Accepted } else { TaskState::Open };
            sqlx::query(
                "INSERT INTO tasks (integration_id, key, stage, position, title, help, required, fact, state, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(integration_id)
            .bind(&t.key)
            .bind(t.stage.key())
            .bind(position)
            .bind(&t.title)
            .bind(&t.help)
            .bind(t.required)
            .bind(&t.fact)
            .bind(state.key())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        for entry in audit {
            record!(&mut *tx, entry, now)?;
        }
        tx.commit().await?;
        Ok(true)
    })
}
