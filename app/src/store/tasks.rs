//! Queries for checklists: each integration's tasks and their events.
//! A task's change, its event and the integration's current stage are
//! written in one transaction, and a change only applies if the task is
//! still in the state it was read in (two reviewers acting at once: the
//! second gets a conflict, not a silent overwrite).

use crate::domain::audit::Entry;
use crate::domain::catalog::{Stage, Tier};
use crate::domain::evidence::EvidenceFile;
use crate::domain::task::{TaskAction, TaskEvent, TaskState};
use crate::on_pool;
use crate::store::audit::record;
use crate::store::{decode_error, Db};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TaskRow {
    pub id: i64,
    pub integration_id: i64,
    pub key: String,
    pub stage: String,
    pub position: i64,
    pub title: String,
    pub help: String,
    pub required: bool,
    pub fact: Option<String>,
    pub state: String,
    pub updated_at: DateTime<Utc>,
}

impl TaskRow {
    pub fn stage(&self) -> Result<Stage, sqlx::Error> {
        Stage::parse(&self.stage).ok_or_else(|| decode_error("stage", &self.stage))
    }
    pub fn state(&self) -> Result<TaskState, sqlx::Error> {
        TaskState::parse(&self.state).ok_or_else(|| decode_error("task state", &self.state))
    }
}

/// A new task of a checklist.
pub struct NewTask<'a> {
    pub key: &'a str,
    pub stage: Stage,
    pub title: &'a str,
    pub help: &'a str,
    pub required: bool,
    pub fact: Option<&'a str>,
    pub state: TaskState,
}

/// A change to record: the task's new state and the event saying why.
pub struct Change<'a> {
    pub task_id: i64,
    pub from: TaskState,
    pub to: TaskState,
    pub action: TaskAction,
    pub actor_id: Option<i64>,
    pub actor_name: &'a str,
    pub evidence_url: Option<&'a str>,
    pub note: Option<&'a str>,
    pub comment: Option<&'a str>,
    pub file: Option<NewFile<'a>>,
}

/// A file already on disk (see `store::blobs`) to attach to a change's event.
pub struct NewFile<'a> {
    pub name: &'a str,
    pub content_type: &'a str,
    pub size: i64,
    pub sha256: &'a str,
    pub storage_key: &'a str,
}

const SELECT: &str = "SELECT id, integration_id, key, stage, position, title, help, required, fact, state, updated_at FROM tasks";

pub async fn for_integration(db: &Db, integration_id: i64) -> Result<Vec<TaskRow>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE integration_id = $1 ORDER BY position, id");
    on_pool!(db, |pool| sqlx::query_as::<_, TaskRow>(&sql).bind(integration_id).fetch_all(pool).await)
}

pub async fn get(db: &Db, task_id: i64) -> Result<Option<TaskRow>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE id = $1");
    on_pool!(db, |pool| sqlx::query_as::<_, TaskRow>(&sql).bind(task_id).fetch_optional(pool).await)
}

#[derive(sqlx::FromRow)]
struct EventRow {
    task_id: i64,
    action: String,
    actor_name: String,
    from_state: String,
    to_state: String,
    evidence_url: Option<String>,
    note: Option<String>,
    comment: Option<String>,
    created_at: DateTime<Utc>,
    file_id: Option<i64>,
    file_name: Option<String>,
    file_size: Option<i64>,
    file_type: Option<String>,
}

/// The events of an integration's tasks, oldest first, as (task id, event).
pub async fn events_for(db: &Db, integration_id: i64) -> Result<Vec<(i64, TaskEvent)>, sqlx::Error> {
    let rows = on_pool!(db, |pool| {
        sqlx::query_as::<_, EventRow>(
            "SELECT e.task_id, e.action, e.actor_name, e.from_state, e.to_state, e.evidence_url, e.note, e.comment, e.created_at,
                f.id AS file_id, f.name AS file_name, f.size AS file_size, f.content_type AS file_type
         FROM task_events e JOIN tasks t ON t.id = e.task_id LEFT JOIN evidence_files f ON f.id = e.evidence_file_id
         WHERE t.integration_id = $1 ORDER BY e.id",
        )
        .bind(integration_id)
        .fetch_all(pool)
        .await?
    });
    rows.into_iter()
        .map(|r| {
            Ok((
                r.task_id,
                TaskEvent {
                    action: TaskAction::parse(&r.action).ok_or_else(|| decode_error("task action", &r.action))?,
                    from: TaskState::parse(&r.from_state).ok_or_else(|| decode_error("task state", &r.from_state))?,
                    to: TaskState::parse(&r.to_state).ok_or_else(|| decode_error("task state", &r.to_state))?,
                    actor: r.actor_name,
                    evidence_url: r.evidence_url,
                    note: r.note,
                    comment: r.comment,
                    // Rendering is the service's business.
                    note_html: None,
                    comment_html: None,
                    at: r.created_at,
                    file: match (r.file_id, r.file_name, r.file_size, r.file_type) {
                        (Some(id), Some(name), Some(size), Some(content_type)) => Some(EvidenceFile { id, name, size, content_type }),
                        _ => None,
                    },
                },
            ))
        })
        .collect()
}

/// Gives an integration its checklist, unless it already has one; returns
/// whether it was created.
pub async fn create_checklist(
    db: &Db,
    integration_id: i64,
    tasks: &[NewTask<'_>],
    version: i64,
    now: DateTime<Utc>,
    audit: &Entry,
) -> Result<bool, sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let existing: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM tasks WHERE integration_id = $1").bind(integration_id).fetch_one(&mut *tx).await?;
        if existing > 0 {
            return Ok(false);
        }
        for (i, t) in tasks.iter().enumerate() {
            sqlx::query(
                "INSERT INTO tasks (integration_id, key, stage, position, title, help, required, fact, state, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (integration_id, key) DO NOTHING",
            )
            .bind(integration_id)
            .bind(t.key)
            .bind(t.stage.key())
            .bind(i as i64)
            .bind(t.title)
            .bind(t.help)
            .bind(t.required)
            .bind(t.fact)
            .bind(t.state.key())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE integrations SET checklist_version = $1 WHERE id = $2")
            .bind(version)
            .bind(integration_id)
            .execute(&mut *tx)
            .await?;
        record!(&mut *tx, audit, now)?;
        tx.commit().await?;
        Ok(true)
    })
}

/// Where the integration stands after a change: its current stage, and a
/// new tier when the change earned one.
pub struct Standing {
    pub stage: Stage,
    pub tier: Option<Tier>,
    /// Grant the Terraform Cloud badge (kept if already granted).
    pub badge: bool,
}

/// Applies changes, sets the integration's current stage (and tier) and
/// writes the audit records, in one transaction; false (and nothing
/// written) when a task was no longer in the state the change started from.
pub async fn apply(
    db: &Db,
    integration_id: i64,
    changes: &[Change<'_>],
    standing: Standing,
    now: DateTime<Utc>,
    audit: &[Entry],
    alerts: &[crate::store::alerts::NewAlert],
) -> Result<bool, sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        for c in changes {
            let updated = sqlx::query("UPDATE tasks SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4")
                .bind(c.to.key())
                .bind(now)
                .bind(c.task_id)
                .bind(c.from.key())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if updated != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            let file_id: Option<i64> = match &c.file {
                None => None,
                Some(f) => Some(
                    sqlx::query_scalar(
                        "INSERT INTO evidence_files (task_id, integration_id, name, content_type, size, sha256, storage_key, uploaded_by, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                    )
                    .bind(c.task_id)
                    .bind(integration_id)
                    .bind(f.name)
                    .bind(f.content_type)
                    .bind(f.size)
                    .bind(f.sha256)
                    .bind(f.storage_key)
                    .bind(c.actor_id)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?,
                ),
            };
            sqlx::query(
                "INSERT INTO task_events (task_id, action, actor_id, actor_name, from_state, to_state, evidence_url, note, comment, created_at, evidence_file_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(c.task_id)
            .bind(c.action.key())
            .bind(c.actor_id)
            .bind(c.actor_name)
            .bind(c.from.key())
            .bind(c.to.key())
            .bind(c.evidence_url)
            .bind(c.note)
            .bind(c.comment)
            .bind(now)
            .bind(file_id)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE integrations SET stage_since = CASE WHEN stage = $1 THEN stage_since ELSE $2 END, stage = $1, updated_at = $2 WHERE id = $3")
            .bind(standing.stage.key())
            .bind(now)
            .bind(integration_id)
            .execute(&mut *tx)
            .await?;
        if standing.badge {
            sqlx::query("UPDATE integrations SET badge_granted_at = $1 WHERE id = $2 AND badge_granted_at IS NULL")
                .bind(now)
                .bind(integration_id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(tier) = standing.tier {
            sqlx::query("UPDATE integrations SET tier = $1 WHERE id = $2").bind(tier.key()).bind(integration_id).execute(&mut *tx).await?;
        }
        for alert in alerts {
            crate::store::alerts::enqueue!(tx, alert, now)?;
        }
        for entry in audit {
            record!(&mut *tx, entry, now)?;
        }
        tx.commit().await?;
        Ok(true)
    })
}

/// Which tasks a queue lists.
pub struct QueueFilter {
    pub states: Vec<TaskState>,
    /// 0: every partner.
    pub partner_id: i64,
    /// Lower-case; empty: any alliance manager.
    pub manager_email: String,
    /// Only tasks of their integration's current stage.
    pub current_stage_only: bool,
    pub page: i64,
    pub per_page: i64,
}

#[derive(sqlx::FromRow)]
pub struct QueueRow {
    pub task_id: i64,
    pub title: String,
    pub stage: String,
    pub state: String,
    pub since: DateTime<Utc>,
    pub integration_id: i64,
    pub integration_name: String,
    pub partner_slug: String,
    pub partner_name: String,
    pub last_actor: Option<String>,
    pub evidence_url: Option<String>,
    pub note: Option<String>,
    pub comment: Option<String>,
}

/// Tasks in the given states, oldest first (the longest wait on top), with
/// their latest event, and how many match in all.
pub async fn queue(db: &Db, f: &QueueFilter) -> Result<(Vec<QueueRow>, i64), sqlx::Error> {
    // The fixed parameters come first: $1–$3; the states follow them.
    let states: String = (0..f.states.len()).map(|i| format!("${}", i + 4)).collect::<Vec<_>>().join(", ");
    let from = format!(
        " FROM tasks t JOIN integrations i ON i.id = t.integration_id JOIN partners p ON p.id = i.partner_id
          WHERE ($1 = 0 OR p.id = $1) AND ($2 = '' OR LOWER(p.alliance_manager_email) = $2)
            AND ($3 = 0 OR t.stage = i.stage) AND t.state IN ({states})"
    );
    let n = f.states.len();
    let list_sql = format!(
        "SELECT t.id AS task_id, t.title, t.stage, t.state, t.updated_at AS since, i.id AS integration_id,
                i.name AS integration_name, p.slug AS partner_slug, p.name AS partner_name,
                e.actor_name AS last_actor, e.evidence_url, e.note, e.comment
         {from_rest}
         ORDER BY t.updated_at, t.id LIMIT ${} OFFSET ${}",
        n + 4,
        n + 5,
        from_rest = from.replacen(
            "JOIN partners p ON p.id = i.partner_id",
            "JOIN partners p ON p.id = i.partner_id
             LEFT JOIN task_events e ON e.id = (SELECT MAX(x.id) FROM task_events x WHERE x.task_id = t.id)",
            1
        )
    );
    let count_sql = format!("SELECT COUNT(*){from}");
    let current = i64::from(f.current_stage_only);
    on_pool!(db, |pool| {
        let mut list = sqlx::query_as::<_, QueueRow>(&list_sql).bind(f.partner_id).bind(&f.manager_email).bind(current);
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql).bind(f.partner_id).bind(&f.manager_email).bind(current);
        for s in &f.states {
            list = list.bind(s.key());
            count = count.bind(s.key());
        }
        let rows = list.bind(f.per_page).bind((f.page - 1) * f.per_page).fetch_all(pool).await?;
        let total = count.fetch_one(pool).await?;
        Ok((rows, total))
    })
}

/// A stored evidence file, its key on disk and its integration (for the
/// access check before serving it).
pub async fn evidence_file(db: &Db, id: i64) -> Result<Option<(EvidenceFile, String, i64)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        name: String,
        size: i64,
        content_type: String,
        storage_key: String,
        integration_id: i64,
    }
    let row = on_pool!(db, |pool| sqlx::query_as::<_, Row>(
        "SELECT id, name, size, content_type, storage_key, integration_id FROM evidence_files WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(pool)
    .await?);
    Ok(row.map(|r| (EvidenceFile { id: r.id, name: r.name, size: r.size, content_type: r.content_type }, r.storage_key, r.integration_id)))
}
