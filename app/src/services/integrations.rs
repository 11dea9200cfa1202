//! Integrations: list, read, create, update. Partner members see and
//! change only their own partner's; viewers only read.

use super::{integration_kind_filter, stage_filter, tier_filter};
use crate::domain::access::{Action, Caller};
use crate::domain::audit::{changes, created, field_names, Entry, TargetKind};
use crate::domain::integration::{staff_decisions, Integration, IntegrationInput, IntegrationQuery, ValidIntegration};
use crate::domain::{paging, Page};
use crate::error::AppError;
use crate::store::integrations::{self as store, IntegrationFilter};
use crate::store::{is_unique_violation, partners as partner_store, Db};
use chrono::Utc;

#[tracing::instrument(skip_all)]
pub async fn list(db: &Db, caller: &Caller, query: &IntegrationQuery) -> Result<Page<Integration>, AppError> {
    let (page, per_page) = paging(query.page, query.per_page);
    let filter = IntegrationFilter {
        search: query.q.clone(),
        partner: query.partner.trim().to_string(),
        scope: caller.partner_scope().unwrap_or(0),
        kind: integration_kind_filter(&query.kind)?,
        tier: tier_filter(&query.tier)?,
        stage: stage_filter(&query.stage)?,
        page,
        per_page,
    };
    let (items, total) = store::list(db, &filter).await?;
    Ok(Page { items, total, page, per_page })
}

/// The filter of an export, checked (and kept to the caller's partner) before the first row.
pub fn export_filter(caller: &Caller, query: &IntegrationQuery) -> Result<IntegrationFilter, AppError> {
    Ok(IntegrationFilter {
        search: query.q.clone(),
        partner: query.partner.trim().to_string(),
        scope: caller.partner_scope().unwrap_or(0),
        kind: integration_kind_filter(&query.kind)?,
        tier: tier_filter(&query.tier)?,
        stage: stage_filter(&query.stage)?,
        page: 1,
        per_page: 1,
    })
}

pub async fn export_chunk(db: &Db, filter: &IntegrationFilter, after: i64, limit: i64) -> Result<Vec<Integration>, AppError> {
    Ok(store::export_chunk(db, filter, after, limit).await?)
}

#[tracing::instrument(skip(db, caller))]
pub async fn get(db: &Db, caller: &Caller, id: i64) -> Result<Integration, AppError> {
    let missing = || format!("integration {id}");
    let integration = store::get(db, id).await?.ok_or_else(|| AppError::NotFound(missing()))?;
    caller.check(Action::Read { partner: integration.partner_id }, missing)?;
    Ok(integration)
}

/// Validates against the owning partner as stored; returns its id too.
/// A partner the caller may not see is reported like one that does not exist.
async fn validate(db: &Db, caller: &Caller, input: &IntegrationInput) -> Result<(i64, ValidIntegration), AppError> {
    caller.check(Action::Write, || "integrations".into())?;
    let partner = partner_store::kind_by_slug(db, input.partner.trim()).await?.filter(|(id, _)| caller.may(Action::Read { partner: *id }));
    let valid = input.validate(partner.map(|(_, kind)| kind)).map_err(AppError::invalid)?;
    // validate() reports a missing partner, so it is there from here on.
    let partner_id = partner.map(|(id, _)| id).ok_or(AppError::Internal)?;
    caller.check(Action::EditIntegration { partner: partner_id }, || format!("partner \"{}\"", input.partner.trim()))?;
    Ok((partner_id, valid))
}

/// Refuses what only staff decide (the tier, a starting stage past the
/// first) when the caller is not staff who review `partner_id`.
fn check_staff_decisions(
    caller: &Caller,
    partner_id: i64,
    current: Option<&Integration>,
    valid: &ValidIntegration,
) -> Result<(), AppError> {
    if caller.may(Action::Review { partner: partner_id }) {
        return Ok(());
    }
    let refused = staff_decisions(current.map(|c| (c.tier, c.stage)), valid);
    if refused.is_empty() {
        Ok(())
    } else {
        Err(AppError::invalid(refused))
    }
}

async fn address_taken(db: &Db, caller: &Caller, valid: &ValidIntegration) -> AppError {
    let address = valid.source_address.as_ref().map(|a| a.fully_qualified()).unwrap_or_default();
    // Which integration holds it is said only to staff: it may be another partner's.
    let owner = match caller.partner_scope() {
        Some(_) => None,
        None => store::id_by_source_address(db, &address).await.ok().flatten(),
    };
    let which = owner.map(|id| format!(" (integration {id})")).unwrap_or_default();
    AppError::conflict("source_address", format!("{address} is already tracked{which}"))
}

#[tracing::instrument(skip_all)]
pub async fn create(db: &Db, caller: &Caller, input: &IntegrationInput) -> Result<Integration, AppError> {
    let (partner_id, valid) = validate(db, caller, input).await?;
    check_staff_decisions(caller, partner_id, None, &valid)?;
    let audit = Entry::by(caller, "integration.create", TargetKind::Integration, None, &valid.name)
        .partner(partner_id)
        .summary(format!("Added {} {}", valid.kind.label().to_lowercase(), valid.name))
        .changes(created(&valid.audit_fields()));
    match store::insert(db, partner_id, &valid, Utc::now(), &audit).await {
        Ok(id) => {
            super::pipeline::start(db, id, Utc::now()).await?;
            super::pipeline::observe(db, id, Utc::now()).await?;
            get(db, caller, id).await
        }
        Err(e) if is_unique_violation(&e) => Err(address_taken(db, caller, &valid).await),
        Err(e) => Err(e.into()),
    }
}

#[tracing::instrument(skip(db, caller, input))]
pub async fn update(db: &Db, caller: &Caller, id: i64, input: &IntegrationInput) -> Result<Integration, AppError> {
    let current = get(db, caller, id).await?;
    caller.check(Action::EditIntegration { partner: current.partner_id }, || format!("integration {id}"))?;
    // An empty stage keeps the current one (the pipeline moves it).
    let input =
        if input.stage.trim().is_empty() { &IntegrationInput { stage: current.stage.key().into(), ..input.clone() } } else { input };
    let (partner_id, valid) = validate(db, caller, input).await?;
    if valid.kind != current.kind {
        let mut fields = crate::domain::FieldErrors::new();
        fields.insert("kind".into(), vec!["the kind cannot change once an integration is tracked (its checklist follows the kind's track); add a new integration instead".into()]);
        return Err(AppError::invalid(fields));
    }
    if valid.stage != current.stage {
        let mut fields = crate::domain::FieldErrors::new();
        fields.insert(
            "stage".into(),
            vec![format!(
                "the stage follows the pipeline (now {}): report and review its tasks, or reopen a stage, to move it",
                current.stage.label()
            )],
        );
        return Err(AppError::invalid(fields));
    }
    check_staff_decisions(caller, partner_id, Some(&current), &valid)?;
    let changed = changes(&current.audit_fields(), &valid.audit_fields());
    if changed.is_empty() {
        return Ok(current);
    }
    // Tier changes are the ones people look for; name them in the summary.
    let summary = match changed.iter().find(|c| c.field == "tier") {
        Some(t) => format!(
            "Changed {} of {} (tier {} → {})",
            field_names(&changed),
            valid.name,
            t.before.as_deref().unwrap_or("none"),
            t.after.as_deref().unwrap_or("none")
        ),
        None => format!("Changed {} of {}", field_names(&changed), valid.name),
    };
    let audit = Entry::by(caller, "integration.update", TargetKind::Integration, Some(id), &valid.name)
        .partner(partner_id)
        .integration(id)
        .summary(summary)
        .changes(changed);
    match store::update(db, id, partner_id, &valid, Utc::now(), &audit).await {
        Ok(()) => {
            super::pipeline::observe(db, id, Utc::now()).await?;
            get(db, caller, id).await
        }
        Err(e) if is_unique_violation(&e) => Err(address_taken(db, caller, &valid).await),
        Err(e) => Err(e.into()),
    }
}
