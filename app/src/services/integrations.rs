//! Integrations: list, read, create, update.

use super::{integration_kind_filter, stage_filter, tier_filter};
use crate::domain::integration::{Integration, IntegrationInput, IntegrationQuery, ValidIntegration};
use crate::domain::{paging, Page};
use crate::error::AppError;
use crate::store::integrations::{self as store, IntegrationFilter};
use crate::store::{is_unique_violation, partners as partner_store, Db};
use chrono::Utc;


#[tracing::instrument(skip_all)]
pub async fn list(db: &Db, query: &IntegrationQuery) -> Result<Page<Integration>, AppError> {
    let (page, per_page) = paging(query.page, query.per_page);
    let filter = IntegrationFilter {
        search: query.q.clone(),
        partner: query.partner.trim().to_string(),
        kind: integration_kind_filter(&query.kind)?,
        tier: tier_filter(&query.tier)?,
        stage: stage_filter(&query.stage)?,
        page,
        per_page,
    };
    let (items, total) = store::list(db, &filter).await?;
    Ok(Page { items, total, page, per_page })
}

#[tracing::instrument(skip(db))]
pub async fn get(db: &Db, id: i64) -> Result<Integration, AppError> {
    store::get(db, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("integration {id}")))
}

/// Validates against the owning partner as stored; returns its id too.
async fn validate(db: &Db, input: &IntegrationInput) -> Result<(i64, ValidIntegration), AppError> {
    let partner = partner_store::kind_by_slug(db, input.partner.trim()).await?;
    let valid = input.validate(partner.map(|(_, kind)| kind)).map_err(AppError::invalid)?;
    // validate() reports a missing partner, so it is there from here on.
    let partner_id = partner.map(|(id, _)| id).ok_or(AppError::Internal)?;
    Ok((partner_id, valid))
}

async fn address_taken(db: &Db, valid: &ValidIntegration) -> AppError {
    let address = valid.source_address.as_ref().map(|a| a.fully_qualified()).unwrap_or_default();
    let owner = store::id_by_source_address(db, &address).await.ok().flatten();
    let which = owner.map(|id| format!(" (integration {id})")).unwrap_or_default();
    AppError::conflict("source_address", format!("{address} is already tracked{which}"))
}

#[tracing::instrument(skip_all)]
pub async fn create(db: &Db, input: &IntegrationInput) -> Result<Integration, AppError> {
    let (partner_id, valid) = validate(db, input).await?;
    match store::insert(db, partner_id, &valid, Utc::now()).await {
        Ok(id) => get(db, id).await,
        Err(e) if is_unique_violation(&e) => Err(address_taken(db, &valid).await),
        Err(e) => Err(e.into()),
    }
}

#[tracing::instrument(skip(db, input))]
pub async fn update(db: &Db, id: i64, input: &IntegrationInput) -> Result<Integration, AppError> {
    get(db, id).await?;
    let (partner_id, valid) = validate(db, input).await?;
    match store::update(db, id, partner_id, &valid, Utc::now()).await {
        Ok(()) => get(db, id).await,
        Err(e) if is_unique_violation(&e) => Err(address_taken(db, &valid).await),
        Err(e) => Err(e.into()),
    }
}
