//! Queries for the audit trail. Writers call [`record!`] inside the
//! transaction of their change; readers page through records newest first.

use crate::domain::audit::{AuditFilter, FieldChange, Record, TargetKind};
use crate::on_pool;
use crate::store::{decode_error, like_pattern, Db};
use chrono::{DateTime, Utc};

/// The columns of an audit row, in the order [`bind_entry!`] binds them.
macro_rules! insert_into {
    () => {
        "INSERT INTO audit_records (at, actor_id, actor_name, action, target_kind, target_id, target_label,
            partner_id, integration_id, summary, changes)"
    };
}
pub(crate) use insert_into;

/// Binds one entry's 11 values to `$query`, in [`insert_into!`]'s order.
macro_rules! bind_entry {
    ($query:expr, $entry:expr, $now:expr) => {{
        let entry: &$crate::domain::audit::Entry = $entry;
        $query
            .bind($now)
            .bind(entry.actor_id)
            .bind(&entry.actor_name)
            .bind(&entry.action)
            .bind(entry.target_kind.key())
            .bind(entry.target_id)
            .bind(&entry.target_label)
            .bind(entry.partner_id)
            .bind(entry.integration_id)
            .bind(&entry.summary)
            .bind($crate::store::audit::changes_json(&entry.changes))
    }};
}
pub(crate) use bind_entry;

/// Inserts an [`Entry`](crate::domain::audit::Entry) on an open transaction
/// (a macro, so the same code serves both backends' transaction types).
/// Evaluates to `Result<(), sqlx::Error>`.
macro_rules! record {
    ($tx:expr, $entry:expr, $now:expr) => {{
        let entry: &$crate::domain::audit::Entry = $entry;
        let query = sqlx::query(concat!($crate::store::audit::insert_into!(), " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"));
        $crate::store::audit::bind_entry!(query, entry, $now).execute($tx).await.map(|_| ())
    }};
}
pub(crate) use record;

/// Audit rows per multi-row insert (11 values each; see `store::pieces`).
pub(crate) const ENTRIES_PER_INSERT: usize = 1024;

/// Inserts many entries with one statement per piece (`store::pieces`, up
/// to 1,024 rows): for jobs that record hundreds at once (a registry
/// sweep). Evaluates to `Result<(), sqlx::Error>`.
macro_rules! record_all {
    ($db:expr, $tx:expr, $entries:expr, $now:expr) => {{
        let entries: &[$crate::domain::audit::Entry] = $entries;
        let mut result: Result<(), sqlx::Error> = Ok(());
        for chunk in $crate::store::pieces(entries, $crate::store::audit::ENTRIES_PER_INSERT) {
            let sql = format!(concat!($crate::store::audit::insert_into!(), " VALUES {}"), $crate::store::tuples($db, chunk.len(), 11, 0));
            let mut q = sqlx::query(&sql);
            for entry in chunk {
                q = $crate::store::audit::bind_entry!(q, entry, $now);
            }
            if let Err(e) = q.execute(&mut *$tx).await {
                result = Err(e);
                break;
            }
        }
        result
    }};
}
pub(crate) use record_all;

pub(crate) fn changes_json(changes: &[FieldChange]) -> String {
    // A list of plain strings always serialises.
    serde_json::to_string(changes).unwrap_or_else(|_| "[]".into())
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    at: DateTime<Utc>,
    actor_name: String,
    action: String,
    target_kind: String,
    target_id: Option<i64>,
    target_label: String,
    partner_id: Option<i64>,
    integration_id: Option<i64>,
    summary: String,
    changes: String,
}

impl Row {
    fn into_record(self) -> Result<Record, sqlx::Error> {
        Ok(Record {
            target_kind: TargetKind::parse(&self.target_kind).ok_or_else(|| decode_error("audit target", &self.target_kind))?,
            changes: serde_json::from_str(&self.changes).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            id: self.id,
            at: self.at,
            actor_name: self.actor_name,
            action: self.action,
            target_id: self.target_id,
            target_label: self.target_label,
            partner_id: self.partner_id,
            integration_id: self.integration_id,
            summary: self.summary,
        })
    }
}

const SELECT: &str = "SELECT id, at, actor_name, action, target_kind, target_id, target_label, partner_id, integration_id, summary, changes FROM audit_records";

/// `$1`–`$8`: text, target kind, actor, from, until, partner, integration,
/// and a keyset bound (ids below it; 0 for none).
const WHERE: &str = " WHERE ($1 = '%%' OR LOWER(summary) LIKE $1 ESCAPE '\\' OR LOWER(target_label) LIKE $1 ESCAPE '\\' OR LOWER(actor_name) LIKE $1 ESCAPE '\\')
    AND ($2 = '' OR target_kind = $2)
    AND ($3 = '%%' OR LOWER(actor_name) LIKE $3 ESCAPE '\\')
    AND ($4 IS NULL OR at >= $4)
    AND ($5 IS NULL OR at < $5)
    AND ($6 = 0 OR partner_id = $6)
    AND ($7 = 0 OR integration_id = $7)
    AND ($8 = 0 OR id < $8)";

macro_rules! bind_filter {
    ($query:expr, $f:expr, $before:expr) => {
        $query
            .bind(like_pattern($f.q.as_deref().unwrap_or("").trim()))
            .bind($f.target.map(TargetKind::key).unwrap_or(""))
            .bind(like_pattern($f.actor.as_deref().unwrap_or("").trim()))
            .bind($f.from)
            .bind($f.until)
            .bind($f.partner_id.unwrap_or(0))
            .bind($f.integration_id.unwrap_or(0))
            .bind($before)
    };
}

/// One page of matching records, newest first, and how many match in all.
pub async fn list(db: &Db, f: &AuditFilter, page: i64, per_page: i64) -> Result<(Vec<Record>, i64), sqlx::Error> {
    let list_sql = format!("{SELECT}{WHERE} ORDER BY id DESC LIMIT $9 OFFSET $10");
    let count_sql = format!("SELECT COUNT(*) FROM audit_records{WHERE}");
    let (rows, total) = on_pool!(db, |pool| {
        let rows =
            bind_filter!(sqlx::query_as::<_, Row>(&list_sql), f, 0_i64).bind(per_page).bind((page - 1) * per_page).fetch_all(pool).await?;
        let total: i64 = bind_filter!(sqlx::query_scalar(&count_sql), f, 0_i64).fetch_one(pool).await?;
        (rows, total)
    });
    Ok((rows.into_iter().map(Row::into_record).collect::<Result<_, _>>()?, total))
}

/// Up to `limit` matching records with ids below `before` (0: from the
/// newest), newest first: exports walk the whole trail with this, a chunk
/// at a time, so memory stays flat however long it is.
pub async fn chunk(db: &Db, f: &AuditFilter, before: i64, limit: i64) -> Result<Vec<Record>, sqlx::Error> {
    let sql = format!("{SELECT}{WHERE} ORDER BY id DESC LIMIT $9");
    let rows = on_pool!(db, |pool| { bind_filter!(sqlx::query_as::<_, Row>(&sql), f, before).bind(limit).fetch_all(pool).await? });
    rows.into_iter().map(Row::into_record).collect()
}
