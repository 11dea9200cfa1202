//! Queries for partners, their categories and support contacts.

use crate::domain::audit::Entry;
use crate::domain::catalog::PartnerKind;
use crate::domain::partner::{Contact, Partner, ValidPartner};
use crate::on_pool;
use crate::store::audit::record;
use crate::store::{decode_error, like_pattern, placeholders, program_order, Db};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// What the partners list can be narrowed by; empty strings mean "any".
#[derive(Debug, Clone, Default)]
pub struct PartnerFilter {
    pub search: String,
    pub kind: String,
    pub category: String,
    /// Only this partner; 0 for all (a partner member's view).
    pub scope: i64,
    pub page: i64,
    pub per_page: i64,
}

#[derive(sqlx::FromRow)]
struct PartnerRow {
    id: i64,
    slug: String,
    name: String,
    kind: String,
    github_org: Option<String>,
    github_auto_join: bool,
    github_org_id: Option<i64>,
    registry_namespace: Option<String>,
    alliance_manager_name: Option<String>,
    alliance_manager_email: Option<String>,
    integration_count: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT p.id, p.slug, p.name, p.kind, p.github_org, p.github_auto_join, p.github_org_id, p.registry_namespace,
    p.alliance_manager_name, p.alliance_manager_email,
    (SELECT COUNT(*) FROM integrations i WHERE i.partner_id = p.id) AS integration_count,
    p.created_at, p.updated_at
  FROM partners p";

/// The list's filter, shared by the page query and the count; `$1` search
/// pattern, `$2` kind, `$3` category (each '' for any).
const WHERE: &str = " WHERE ($1 = '%%' OR LOWER(p.name) LIKE $1 ESCAPE '\\' OR p.slug LIKE $1 ESCAPE '\\')
    AND ($2 = '' OR p.kind = $2)
    AND ($3 = '' OR EXISTS (SELECT 1 FROM partner_categories c WHERE c.partner_id = p.id AND c.category = $3))
    AND ($4 = 0 OR p.id = $4)";

impl PartnerRow {
    fn into_partner(self, categories: Vec<String>, support_contacts: Vec<Contact>) -> Result<Partner, sqlx::Error> {
        Ok(Partner {
            id: self.id,
            kind: PartnerKind::parse(&self.kind).ok_or_else(|| decode_error("partner kind", &self.kind))?,
            slug: self.slug,
            name: self.name,
            categories,
            support_contacts,
            github_org: self.github_org,
            github_auto_join: self.github_auto_join,
            github_org_id: self.github_org_id,
            registry_namespace: self.registry_namespace,
            alliance_manager_name: self.alliance_manager_name,
            alliance_manager_email: self.alliance_manager_email,
            integration_count: self.integration_count,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

async fn attach(db: &Db, rows: Vec<PartnerRow>) -> Result<Vec<Partner>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let cat_sql = format!("SELECT partner_id, category FROM partner_categories WHERE partner_id IN ({})", placeholders(db, ids.len()));
    let contact_sql = format!(
        "SELECT partner_id, name, email FROM support_contacts WHERE partner_id IN ({}) ORDER BY partner_id, position",
        placeholders(db, ids.len())
    );
    let (cats, contacts) = on_pool!(db, |pool| {
        let mut q = sqlx::query_as::<_, (i64, String)>(&cat_sql);
        for id in &ids {
            q = q.bind(id);
        }
        let cats = q.fetch_all(pool).await?;
        let mut q = sqlx::query_as::<_, (i64, String, String)>(&contact_sql);
        for id in &ids {
            q = q.bind(id);
        }
        (cats, q.fetch_all(pool).await?)
    });
    let mut cat_map: HashMap<i64, Vec<String>> = HashMap::new();
    for (id, c) in cats {
        cat_map.entry(id).or_default().push(c);
    }
    let mut contact_map: HashMap<i64, Vec<Contact>> = HashMap::new();
    for (id, name, email) in contacts {
        contact_map.entry(id).or_default().push(Contact { name, email });
    }
    rows.into_iter()
        .map(|r| {
            let cats = program_order(cat_map.remove(&r.id).unwrap_or_default());
            let contacts = contact_map.remove(&r.id).unwrap_or_default();
            r.into_partner(cats, contacts)
        })
        .collect()
}

/// One page of partners, sorted by name, and the total that match.
pub async fn list(db: &Db, f: &PartnerFilter) -> Result<(Vec<Partner>, i64), sqlx::Error> {
    let pattern = like_pattern(f.search.trim());
    let list_sql = format!("{SELECT}{WHERE} ORDER BY LOWER(p.name), p.id LIMIT $5 OFFSET $6");
    let count_sql = format!("SELECT COUNT(*) FROM partners p{WHERE}");
    let offset = (f.page - 1) * f.per_page;
    let (rows, total) = on_pool!(db, |pool| {
        let rows = sqlx::query_as::<_, PartnerRow>(&list_sql)
            .bind(&pattern)
            .bind(&f.kind)
            .bind(&f.category)
            .bind(f.scope)
            .bind(f.per_page)
            .bind(offset)
            .fetch_all(pool)
            .await?;
        let total: i64 =
            sqlx::query_scalar(&count_sql).bind(&pattern).bind(&f.kind).bind(&f.category).bind(f.scope).fetch_one(pool).await?;
        (rows, total)
    });
    Ok((attach(db, rows).await?, total))
}

pub async fn get_by_slug(db: &Db, slug: &str) -> Result<Option<Partner>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE p.slug = $1");
    let row = on_pool!(db, |pool| sqlx::query_as::<_, PartnerRow>(&sql).bind(slug).fetch_optional(pool).await?);
    match row {
        None => Ok(None),
        Some(r) => Ok(attach(db, vec![r]).await?.pop()),
    }
}

/// The id and kind of the partner with this slug, for checks that need
/// no more than that.
pub async fn kind_by_slug(db: &Db, slug: &str) -> Result<Option<(i64, PartnerKind)>, sqlx::Error> {
    let row: Option<(i64, String)> =
        on_pool!(db, |pool| { sqlx::query_as("SELECT id, kind FROM partners WHERE slug = $1").bind(slug).fetch_optional(pool).await? });
    row.map(|(id, kind)| PartnerKind::parse(&kind).map(|k| (id, k)).ok_or_else(|| decode_error("partner kind", &kind))).transpose()
}

/// All partner slugs and names, for pickers.
pub async fn names(db: &Db) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    Ok(on_pool!(db, |pool| { sqlx::query_as("SELECT slug, name, kind FROM partners ORDER BY LOWER(name), id").fetch_all(pool).await? }))
}

/// A partner's name, for alerts and trails.
pub async fn name_of(db: &Db, id: i64) -> Result<Option<String>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_scalar("SELECT name FROM partners WHERE id = $1").bind(id).fetch_optional(pool).await)
}

/// The GitHub organisation of the partner owning an integration, which
/// staff set: the GitHub sync copies private repositories only from it.
pub async fn github_org_of_integration(db: &Db, integration_id: i64) -> Result<Option<String>, sqlx::Error> {
    let org: Option<Option<String>> = on_pool!(db, |pool| sqlx::query_scalar(
        "SELECT p.github_org FROM partners p JOIN integrations i ON i.partner_id = p.id WHERE i.id = $1"
    )
    .bind(integration_id)
    .fetch_optional(pool)
    .await)?;
    Ok(org.flatten())
}

/// All partners' ids, slugs and names, by name (roll-ups per partner).
pub async fn ids_and_names(db: &Db) -> Result<Vec<(i64, String, String)>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_as("SELECT id, slug, name FROM partners ORDER BY LOWER(name), id").fetch_all(pool).await)
}

/// Writes a partner's categories and contacts inside an open transaction
/// (a macro, so the same code serves both backends' transaction types).
macro_rules! insert_children {
    ($tx:ident, $id:expr, $p:expr) => {
        for c in &$p.categories {
            sqlx::query("INSERT INTO partner_categories (partner_id, category) VALUES ($1, $2)")
                .bind($id)
                .bind(c)
                .execute(&mut *$tx)
                .await?;
        }
        for (i, c) in $p.support_contacts.iter().enumerate() {
            sqlx::query("INSERT INTO support_contacts (partner_id, position, name, email) VALUES ($1, $2, $3, $4)")
                .bind($id)
                .bind(i as i64)
                .bind(&c.name)
                .bind(&c.email)
                .execute(&mut *$tx)
                .await?;
        }
    };
}

/// Inserts a partner with its categories, contacts and audit record in one
/// transaction (the record gets the new id).
pub async fn insert(db: &Db, p: &ValidPartner, now: DateTime<Utc>, audit: &Entry) -> Result<i64, sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO partners (slug, name, kind, github_org, registry_namespace,
                alliance_manager_name, alliance_manager_email, created_at, updated_at, github_auto_join, github_org_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10) RETURNING id",
        )
        .bind(&p.slug)
        .bind(&p.name)
        .bind(p.kind.key())
        .bind(&p.github_org)
        .bind(&p.registry_namespace)
        .bind(&p.alliance_manager_name)
        .bind(&p.alliance_manager_email)
        .bind(now)
        .bind(p.github_auto_join)
        .bind(p.github_org_id)
        .fetch_one(&mut *tx)
        .await?;
        insert_children!(tx, id, p);
        let audit = Entry { target_id: Some(id), partner_id: Some(id), ..audit.clone() };
        record!(&mut *tx, &audit, now)?;
        tx.commit().await?;
        Ok(id)
    })
}

/// Replaces a partner's fields, categories and contacts, and records the
/// change, in one transaction.
pub async fn update(db: &Db, id: i64, p: &ValidPartner, now: DateTime<Utc>, audit: &Entry) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        sqlx::query(
            "UPDATE partners SET slug = $1, name = $2, kind = $3, github_org = $4, registry_namespace = $5,
                alliance_manager_name = $6, alliance_manager_email = $7, updated_at = $8,
                github_auto_join = $10, github_org_id = $11
             WHERE id = $9",
        )
        .bind(&p.slug)
        .bind(&p.name)
        .bind(p.kind.key())
        .bind(&p.github_org)
        .bind(&p.registry_namespace)
        .bind(&p.alliance_manager_name)
        .bind(&p.alliance_manager_email)
        .bind(now)
        .bind(id)
        .bind(p.github_auto_join)
        .bind(p.github_org_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM partner_categories WHERE partner_id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM support_contacts WHERE partner_id = $1").bind(id).execute(&mut *tx).await?;
        insert_children!(tx, id, p);
        record!(&mut *tx, audit, now)?;
        tx.commit().await?;
        Ok(())
    })
}

/// Partners with an id above `after`, in id order, for streamed exports.
pub async fn export_chunk(db: &Db, f: &PartnerFilter, after: i64, limit: i64) -> Result<Vec<Partner>, sqlx::Error> {
    let pattern = like_pattern(f.search.trim());
    let sql = format!("{SELECT}{WHERE} AND p.id > $5 ORDER BY p.id LIMIT $6");
    let rows = on_pool!(db, |pool| sqlx::query_as::<_, PartnerRow>(&sql)
        .bind(&pattern)
        .bind(&f.kind)
        .bind(&f.category)
        .bind(f.scope)
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await?);
    attach(db, rows).await
}
