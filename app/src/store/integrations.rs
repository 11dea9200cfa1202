//! Queries for integrations and their categories.

use crate::domain::audit::Entry;
use crate::domain::catalog::{IntegrationKind, Stage, Tier};
use crate::domain::integration::{Integration, ValidIntegration};
use crate::domain::source_address::SourceAddress;
use crate::on_pool;
use crate::store::audit::record;
use crate::store::{decode_error, like_pattern, placeholders, program_order, Db};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// What the integrations list can be narrowed by; empty strings mean "any".
#[derive(Debug, Clone, Default)]
pub struct IntegrationFilter {
    pub search: String,
    pub partner: String,
    /// Only this partner's integrations; 0 for all (a partner member's view).
    pub scope: i64,
    pub kind: String,
    pub tier: String,
    pub stage: String,
    pub page: i64,
    pub per_page: i64,
}

#[derive(sqlx::FromRow)]
struct IntegrationRow {
    id: i64,
    kind: String,
    name: String,
    partner_id: i64,
    partner_slug: String,
    partner_name: String,
    repository_url: Option<String>,
    tier: String,
    stage: String,
    source_host: Option<String>,
    source_namespace: Option<String>,
    source_type: Option<String>,
    verified_version_range: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    badge_granted_at: Option<DateTime<Utc>>,
}

const SELECT: &str = "SELECT i.id, i.kind, i.name, i.partner_id, p.slug AS partner_slug, p.name AS partner_name,
    i.repository_url, i.tier, i.stage, i.source_host, i.source_namespace, i.source_type,
    i.verified_version_range, i.created_at, i.updated_at, i.badge_granted_at
  FROM integrations i JOIN partners p ON p.id = i.partner_id";

const WHERE: &str = " WHERE ($1 = '%%' OR LOWER(i.name) LIKE $1 ESCAPE '\\' OR i.source_address LIKE $1 ESCAPE '\\')
    AND ($2 = '' OR p.slug = $2)
    AND ($3 = '' OR i.kind = $3)
    AND ($4 = '' OR i.tier = $4)
    AND ($5 = '' OR i.stage = $5)
    AND ($6 = 0 OR i.partner_id = $6)";

impl IntegrationRow {
    fn into_integration(self, categories: Vec<String>) -> Result<Integration, sqlx::Error> {
        let address = match (&self.source_host, &self.source_namespace, &self.source_type) {
            (Some(h), Some(n), Some(t)) => Some(SourceAddress::from_stored(h, n, t)),
            _ => None,
        };
        Ok(Integration {
            id: self.id,
            kind: IntegrationKind::parse(&self.kind).ok_or_else(|| decode_error("integration kind", &self.kind))?,
            tier: Tier::parse(&self.tier).ok_or_else(|| decode_error("tier", &self.tier))?,
            stage: Stage::parse(&self.stage).ok_or_else(|| decode_error("stage", &self.stage))?,
            name: self.name,
            partner_id: self.partner_id,
            partner_slug: self.partner_slug,
            partner_name: self.partner_name,
            categories,
            repository_url: self.repository_url,
            source_address: address.as_ref().map(SourceAddress::fully_qualified),
            source_address_display: address.as_ref().map(ToString::to_string),
            registry_url: address.as_ref().and_then(SourceAddress::registry_page_url),
            verified_version_range: self.verified_version_range,
            created_at: self.created_at,
            updated_at: self.updated_at,
            badge_granted_at: self.badge_granted_at,
        })
    }
}

async fn attach(db: &Db, rows: Vec<IntegrationRow>) -> Result<Vec<Integration>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let sql =
        format!("SELECT integration_id, category FROM integration_categories WHERE integration_id IN ({})", placeholders(db, ids.len()));
    let cats: Vec<(i64, String)> = on_pool!(db, |pool| {
        let mut q = sqlx::query_as(&sql);
        for id in &ids {
            q = q.bind(id);
        }
        q.fetch_all(pool).await?
    });
    let mut map: HashMap<i64, Vec<String>> = HashMap::new();
    for (id, c) in cats {
        map.entry(id).or_default().push(c);
    }
    rows.into_iter()
        .map(|r| {
            let cats = program_order(map.remove(&r.id).unwrap_or_default());
            r.into_integration(cats)
        })
        .collect()
}

/// One page of integrations, sorted by partner then name, and the total.
pub async fn list(db: &Db, f: &IntegrationFilter) -> Result<(Vec<Integration>, i64), sqlx::Error> {
    let pattern = like_pattern(f.search.trim());
    let list_sql = format!("{SELECT}{WHERE} ORDER BY LOWER(p.name), LOWER(i.name), i.id LIMIT $7 OFFSET $8");
    let count_sql = format!("SELECT COUNT(*) FROM integrations i JOIN partners p ON p.id = i.partner_id{WHERE}");
    let offset = (f.page - 1) * f.per_page;
    let (rows, total) = on_pool!(db, |pool| {
        let rows = sqlx::query_as::<_, IntegrationRow>(&list_sql)
            .bind(&pattern)
            .bind(&f.partner)
            .bind(&f.kind)
            .bind(&f.tier)
            .bind(&f.stage)
            .bind(f.scope)
            .bind(f.per_page)
            .bind(offset)
            .fetch_all(pool)
            .await?;
        let total: i64 = sqlx::query_scalar(&count_sql)
            .bind(&pattern)
            .bind(&f.partner)
            .bind(&f.kind)
            .bind(&f.tier)
            .bind(&f.stage)
            .bind(f.scope)
            .fetch_one(pool)
            .await?;
        (rows, total)
    });
    Ok((attach(db, rows).await?, total))
}

pub async fn get(db: &Db, id: i64) -> Result<Option<Integration>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE i.id = $1");
    let row = on_pool!(db, |pool| sqlx::query_as::<_, IntegrationRow>(&sql).bind(id).fetch_optional(pool).await?);
    match row {
        None => Ok(None),
        Some(r) => Ok(attach(db, vec![r]).await?.pop()),
    }
}

/// Source address columns: the unique fully-qualified form and its parts.
fn address_columns(v: &ValidIntegration) -> [Option<String>; 4] {
    match &v.source_address {
        Some(a) => {
            [Some(a.fully_qualified()), Some(a.host().to_string()), Some(a.namespace().to_string()), Some(a.type_name().to_string())]
        }
        None => [None, None, None, None],
    }
}

macro_rules! insert_categories {
    ($tx:ident, $id:expr, $v:expr) => {
        for c in &$v.categories {
            sqlx::query("INSERT INTO integration_categories (integration_id, category) VALUES ($1, $2)")
                .bind($id)
                .bind(c)
                .execute(&mut *$tx)
                .await?;
        }
    };
}

/// Inserts an integration with its categories and audit record in one
/// transaction (the record gets the new id).
pub async fn insert(db: &Db, partner_id: i64, v: &ValidIntegration, now: DateTime<Utc>, audit: &Entry) -> Result<i64, sqlx::Error> {
    let [address, host, namespace, type_name] = address_columns(v);
    let range = v.verified_version_range.as_ref().map(ToString::to_string);
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO integrations (partner_id, kind, name, repository_url, tier, stage,
                source_address, source_host, source_namespace, source_type, verified_version_range,
                created_at, updated_at, stage_since)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $12) RETURNING id",
        )
        .bind(partner_id)
        .bind(v.kind.key())
        .bind(&v.name)
        .bind(&v.repository_url)
        .bind(v.tier.key())
        .bind(v.stage.key())
        .bind(&address)
        .bind(&host)
        .bind(&namespace)
        .bind(&type_name)
        .bind(&range)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        insert_categories!(tx, id, v);
        let audit = Entry { target_id: Some(id), integration_id: Some(id), ..audit.clone() };
        record!(&mut *tx, &audit, now)?;
        tx.commit().await?;
        Ok(id)
    })
}

/// Replaces an integration's fields and categories, and records the change,
/// in one transaction.
pub async fn update(db: &Db, id: i64, partner_id: i64, v: &ValidIntegration, now: DateTime<Utc>, audit: &Entry) -> Result<(), sqlx::Error> {
    let [address, host, namespace, type_name] = address_columns(v);
    let range = v.verified_version_range.as_ref().map(ToString::to_string);
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        sqlx::query(
            "UPDATE integrations SET partner_id = $1, kind = $2, name = $3, repository_url = $4, tier = $5,
                stage_since = CASE WHEN stage = $6 THEN stage_since ELSE $12 END, stage = $6, source_address = $7, source_host = $8, source_namespace = $9, source_type = $10,
                verified_version_range = $11, updated_at = $12
             WHERE id = $13",
        )
        .bind(partner_id)
        .bind(v.kind.key())
        .bind(&v.name)
        .bind(&v.repository_url)
        .bind(v.tier.key())
        .bind(v.stage.key())
        .bind(&address)
        .bind(&host)
        .bind(&namespace)
        .bind(&type_name)
        .bind(&range)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM integration_categories WHERE integration_id = $1").bind(id).execute(&mut *tx).await?;
        insert_categories!(tx, id, v);
        record!(&mut *tx, audit, now)?;
        tx.commit().await?;
        Ok(())
    })
}

/// The kinds of integration a partner owns, to keep its kind consistent.
pub async fn kinds_of_partner(db: &Db, partner_id: i64) -> Result<Vec<IntegrationKind>, sqlx::Error> {
    let kinds: Vec<String> = on_pool!(db, |pool| {
        sqlx::query_scalar("SELECT DISTINCT kind FROM integrations WHERE partner_id = $1").bind(partner_id).fetch_all(pool).await?
    });
    kinds.iter().map(|k| IntegrationKind::parse(k).ok_or_else(|| decode_error("integration kind", k))).collect()
}

pub async fn id_by_source_address(db: &Db, address: &str) -> Result<Option<i64>, sqlx::Error> {
    Ok(on_pool!(db, |pool| {
        sqlx::query_scalar("SELECT id FROM integrations WHERE source_address = $1").bind(address).fetch_optional(pool).await?
    }))
}

/// The ids of a partner's integrations.
pub async fn ids_of_partner(db: &Db, partner_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_scalar("SELECT id FROM integrations WHERE partner_id = $1 ORDER BY id")
        .bind(partner_id)
        .fetch_all(pool)
        .await)
}

/// Integrations with an id above `after`, in id order, for streamed exports.
pub async fn export_chunk(db: &Db, f: &IntegrationFilter, after: i64, limit: i64) -> Result<Vec<Integration>, sqlx::Error> {
    let pattern = like_pattern(f.search.trim());
    let sql = format!("{SELECT}{WHERE} AND i.id > $7 ORDER BY i.id LIMIT $8");
    let rows = on_pool!(db, |pool| sqlx::query_as::<_, IntegrationRow>(&sql)
        .bind(&pattern)
        .bind(&f.partner)
        .bind(&f.kind)
        .bind(&f.tier)
        .bind(&f.stage)
        .bind(f.scope)
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await?);
    attach(db, rows).await
}
