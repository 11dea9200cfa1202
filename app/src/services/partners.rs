//! Partners: list, read, create, update.

use super::{category_filter, partner_kind_filter};
use crate::domain::partner::{Partner, PartnerInput, PartnerQuery};
use crate::domain::{paging, FieldErrors, Page};
use crate::error::AppError;
use crate::store::partners::{self as store, PartnerFilter};
use crate::store::{integrations as integration_store, is_unique_violation, Db};
use chrono::Utc;


#[tracing::instrument(skip_all)]
pub async fn list(db: &Db, query: &PartnerQuery) -> Result<Page<Partner>, AppError> {
    let (page, per_page) = paging(query.page, query.per_page);
    let filter = PartnerFilter {
        search: query.q.clone(),
        kind: partner_kind_filter(&query.kind)?,
        category: category_filter(&query.category)?,
        page,
        per_page,
    };
    let (items, total) = store::list(db, &filter).await?;
    Ok(Page { items, total, page, per_page })
}

#[tracing::instrument(skip(db))]
pub async fn get(db: &Db, slug: &str) -> Result<Partner, AppError> {
    store::get_by_slug(db, slug)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("partner \"{slug}\"")))
}

fn slug_taken(slug: &str) -> AppError {
    AppError::conflict("slug", format!("the slug \"{slug}\" is already taken by another partner"))
}

#[tracing::instrument(skip_all)]
pub async fn create(db: &Db, input: &PartnerInput) -> Result<Partner, AppError> {
    let valid = input.validate().map_err(AppError::invalid)?;
    match store::insert(db, &valid, Utc::now()).await {
        Ok(_) => get(db, &valid.slug).await,
        Err(e) if is_unique_violation(&e) => Err(slug_taken(&valid.slug)),
        Err(e) => Err(e.into()),
    }
}

#[tracing::instrument(skip(db, input))]
pub async fn update(db: &Db, slug: &str, input: &PartnerInput) -> Result<Partner, AppError> {
    let current = get(db, slug).await?;
    let valid = input.validate().map_err(AppError::invalid)?;
    if valid.kind != current.kind {
        // A partner must stay allowed to own the integrations it has.
        let owned = integration_store::kinds_of_partner(db, current.id).await?;
        if let Some(k) = owned.into_iter().find(|k| !valid.kind.allows(*k)) {
            let mut fields = FieldErrors::new();
            fields.insert(
                "kind".into(),
                vec![format!(
                    "this partner owns {} integrations, which a {} partner cannot",
                    k.label().to_lowercase(),
                    valid.kind.key()
                )],
            );
            return Err(AppError::invalid(fields));
        }
    }
    match store::update(db, current.id, &valid, Utc::now()).await {
        Ok(()) => get(db, &valid.slug).await,
        Err(e) if is_unique_violation(&e) => Err(slug_taken(&valid.slug)),
        Err(e) => Err(e.into()),
    }
}
