//! Queries for run-task registrations. The HMAC key is written here and
//! read only by the conformance check (a later issue); nothing else selects it.

use crate::domain::audit::Entry;
use crate::domain::run_task::{Registration, ValidRegistration};
use crate::on_pool;
use crate::store::audit::record;
use crate::store::Db;
use chrono::{DateTime, Utc};

#[derive(sqlx::FromRow)]
struct Row {
    endpoint_url: Option<String>,
    hmac_fingerprint: Option<String>,
    hmac_set_at: Option<DateTime<Utc>>,
    stages: String,
}

/// The registration without the key; `None` when nothing was registered.
pub async fn registration(db: &Db, integration_id: i64) -> Result<Option<Registration>, sqlx::Error> {
    let row = on_pool!(db, |pool| sqlx::query_as::<_, Row>(
        "SELECT endpoint_url, hmac_fingerprint, hmac_set_at, stages FROM run_task_registrations WHERE integration_id = $1"
    )
    .bind(integration_id)
    .fetch_optional(pool)
    .await?);
    Ok(row.map(|r| Registration {
        endpoint_url: r.endpoint_url,
        hmac_fingerprint: r.hmac_fingerprint,
        hmac_set_at: r.hmac_set_at,
        stages: r.stages.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
    }))
}

/// Saves a registration and its audit record in one transaction; a missing
/// key keeps the stored one.
pub async fn save(
    db: &Db,
    integration_id: i64,
    v: &ValidRegistration,
    fingerprint: Option<&str>,
    now: DateTime<Utc>,
    audit: &Entry,
) -> Result<(), sqlx::Error> {
    let key_set_at = v.hmac_key.as_ref().map(|_| now);
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        sqlx::query(
            "INSERT INTO run_task_registrations (integration_id, endpoint_url, hmac_key, hmac_fingerprint, hmac_set_at, stages, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (integration_id) DO UPDATE SET
                endpoint_url = excluded.endpoint_url,
                stages = excluded.stages,
                updated_at = excluded.updated_at,
                hmac_key = COALESCE(excluded.hmac_key, run_task_registrations.hmac_key),
                hmac_fingerprint = COALESCE(excluded.hmac_fingerprint, run_task_registrations.hmac_fingerprint),
                hmac_set_at = COALESCE(excluded.hmac_set_at, run_task_registrations.hmac_set_at)",
        )
        .bind(integration_id)
        .bind(&v.endpoint_url)
        .bind(&v.hmac_key)
        .bind(fingerprint)
        .bind(key_set_at)
        .bind(v.stages.join(","))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        record!(&mut *tx, audit, now)?;
        tx.commit().await
    })
}
