//! Dashboard snapshots: the staff dashboard's figures for one set of
//! filters, stored so every instance shows the same "as of" and the
//! aggregates run once per refresh instead of once per page view.

use super::Db;
use crate::on_pool;
use chrono::{DateTime, Utc};

/// The newest audit record: every change the dashboard shows writes one,
/// so a snapshot taken at this mark is out of date once the mark moves.
/// (On PostgreSQL a transaction may commit a lower id after a higher one
/// is visible; a change missed that way waits for the max age.)
const LATEST_AUDIT: &str = "(SELECT COALESCE(MAX(id), 0) FROM audit_records)";

/// A stored snapshot: its JSON body, when it was computed and at which
/// audit mark, and the audit trail's mark now.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Snapshot {
    pub body: String,
    pub generated_at: DateTime<Utc>,
    pub audit_mark: i64,
    pub latest_audit: i64,
}

impl Snapshot {
    /// Something has changed since it was computed.
    pub fn changed(&self) -> bool {
        self.latest_audit > self.audit_mark
    }
}

pub async fn get(db: &Db, key: &str) -> Result<Option<Snapshot>, sqlx::Error> {
    let sql =
        format!("SELECT body, generated_at, audit_mark, {LATEST_AUDIT} AS latest_audit FROM dashboard_snapshots WHERE filter_key = $1");
    on_pool!(db, |pool| sqlx::query_as::<_, Snapshot>(&sql).bind(key).fetch_optional(pool).await)
}

/// When the snapshot for `key` was computed, if nothing has changed since:
/// what the page cache needs to know before it keeps a rendered page,
/// without reading the body.
pub async fn unchanged_since(db: &Db, key: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let sql = format!("SELECT generated_at FROM dashboard_snapshots WHERE filter_key = $1 AND audit_mark >= {LATEST_AUDIT}");
    on_pool!(db, |pool| sqlx::query_scalar::<_, DateTime<Utc>>(&sql).bind(key).fetch_optional(pool).await)
}

/// The audit trail's mark now; read before computing a snapshot, so a
/// change made while it is computed makes it out of date.
pub async fn latest_audit(db: &Db) -> Result<i64, sqlx::Error> {
    let sql = format!("SELECT {LATEST_AUDIT}");
    on_pool!(db, |pool| sqlx::query_scalar::<_, i64>(&sql).fetch_one(pool).await)
}

/// Gives up a refresh claim (the refresh failed), so the next view may try.
pub async fn release(db: &Db, key: &str) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| sqlx::query("UPDATE dashboard_snapshots SET refreshing_until = NULL WHERE filter_key = $1")
        .bind(key)
        .execute(pool)
        .await
        .map(|_| ()))
}

/// Claims the refresh of the snapshot computed at `seen`: true for exactly
/// one caller (across instances) until `until`, so an out-of-date snapshot
/// is recomputed once, not by every request that finds it so.
pub async fn claim_refresh(db: &Db, key: &str, seen: DateTime<Utc>, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    let done = on_pool!(db, |pool| sqlx::query(
        "UPDATE dashboard_snapshots SET refreshing_until = $1
         WHERE filter_key = $2 AND generated_at = $3 AND (refreshing_until IS NULL OR refreshing_until < $4)"
    )
    .bind(until)
    .bind(key)
    .bind(seen)
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Stores a snapshot (the last one stored wins: instances' clocks may
/// disagree, and a newer snapshot makes kept pages stale through the change
/// feed whatever its time, so nothing needs them in order), and drops
/// snapshots nobody has refreshed since `forget_before` (filters no one uses
/// any more).
pub async fn put(
    db: &Db,
    key: &str,
    body: &str,
    generated_at: DateTime<Utc>,
    audit_mark: i64,
    forget_before: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO dashboard_snapshots (filter_key, body, generated_at, audit_mark, refreshing_until) VALUES ($1, $2, $3, $4, NULL)
             ON CONFLICT (filter_key) DO UPDATE SET body = excluded.body, generated_at = excluded.generated_at,
                 audit_mark = excluded.audit_mark, refreshing_until = NULL",
        )
        .bind(key)
        .bind(body)
        .bind(generated_at)
        .bind(audit_mark)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM dashboard_snapshots WHERE generated_at < $1").bind(forget_before).execute(&mut *tx).await?;
        tx.commit().await
    })
}
