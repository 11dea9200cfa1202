//! Reading the audit trail: a partner's or an integration's timeline for
//! whoever may see it, and the whole trail for admins (search and export).
//! Writing happens in the store, inside each change's own transaction.

use crate::domain::access::{Action, Caller};
use crate::domain::audit::{AuditFilter, AuditQuery, Record};
use crate::domain::{paging, Page};
use crate::error::AppError;
use crate::store::{audit as store, Db};

/// Newest first, one page at a time.
pub async fn for_integration(db: &Db, caller: &Caller, integration_id: i64, page: Option<i64>) -> Result<Page<Record>, AppError> {
    // Reading the integration checks access (404 for other partners' members).
    let integration = super::integrations::get(db, caller, integration_id).await?;
    let filter = AuditFilter { integration_id: Some(integration.id), ..Default::default() };
    list(db, &filter, page, Some(20)).await
}

/// The partner's own records and those of its integrations, newest first.
pub async fn for_partner(db: &Db, caller: &Caller, slug: &str, page: Option<i64>) -> Result<Page<Record>, AppError> {
    let partner = super::partners::get(db, caller, slug).await?;
    let filter = AuditFilter { partner_id: Some(partner.id), ..Default::default() };
    list(db, &filter, page, Some(20)).await
}

/// The admin search over everything.
pub async fn search(db: &Db, caller: &Caller, query: &AuditQuery) -> Result<Page<Record>, AppError> {
    let filter = checked(caller, query)?;
    list(db, &filter, query.page, query.per_page).await
}

/// Checks the caller and the query of a search or export.
pub fn checked(caller: &Caller, query: &AuditQuery) -> Result<AuditFilter, AppError> {
    caller.check(Action::SearchAudit, || "audit trail".into())?;
    query.validate().map_err(AppError::invalid)
}

/// One chunk of an export (see [`store::chunk`]); `filter` comes from
/// [`checked`], so access was decided before the first chunk.
pub async fn export_chunk(db: &Db, filter: &AuditFilter, before: i64, limit: i64) -> Result<Vec<Record>, AppError> {
    Ok(store::chunk(db, filter, before, limit).await?)
}

async fn list(db: &Db, filter: &AuditFilter, page: Option<i64>, per_page: Option<i64>) -> Result<Page<Record>, AppError> {
    let (page, per_page) = paging(page, per_page);
    let (items, total) = store::list(db, filter, page, per_page).await?;
    Ok(Page { items, total, page, per_page })
}
