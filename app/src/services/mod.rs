//! Use cases, one module per concept. Each function validates input, reads
//! or writes the store, and maps store failures to `AppError`; the page's
//! server functions and the REST API both call these, so the rules exist
//! once. Each takes the caller and checks access first (`domain::access`).

pub mod alerts;
pub mod audit;
pub mod dashboard;
pub mod flags;
pub mod integrations;
pub mod markdown;
pub mod partners;
pub mod pipeline;
pub mod registry;
pub mod run_task_checks;
pub mod run_tasks;
pub mod secret;
pub mod sign_in;
pub mod support;
pub mod templates;
pub mod tokens;
pub mod users;

use crate::domain::catalog::{IntegrationKind, PartnerKind, Stage, Tier};
use crate::domain::FieldErrors;
use crate::error::AppError;

/// Checks a list filter value against a vocabulary; '' means "any".
fn filter_value(field: &str, value: &str, valid: impl Fn(&str) -> bool, expected: String) -> Result<String, AppError> {
    let v = value.trim();
    if v.is_empty() || valid(v) {
        Ok(v.to_string())
    } else {
        let mut fields = FieldErrors::new();
        fields.insert(field.to_string(), vec![format!("expected {expected}")]);
        Err(AppError::Validation { message: format!("unknown {field} \"{v}\""), fields })
    }
}

pub(crate) fn partner_kind_filter(v: &str) -> Result<String, AppError> {
    filter_value("kind", v, |s| PartnerKind::parse(s).is_some(), PartnerKind::expected())
}
pub(crate) fn integration_kind_filter(v: &str) -> Result<String, AppError> {
    filter_value("kind", v, |s| IntegrationKind::parse(s).is_some(), IntegrationKind::expected())
}
pub(crate) fn tier_filter(v: &str) -> Result<String, AppError> {
    filter_value("tier", v, |s| Tier::parse(s).is_some(), Tier::expected())
}
pub(crate) fn stage_filter(v: &str) -> Result<String, AppError> {
    filter_value("stage", v, |s| Stage::parse(s).is_some(), Stage::expected())
}
pub(crate) fn category_filter(v: &str) -> Result<String, AppError> {
    let all = crate::domain::catalog::all_categories();
    filter_value("category", v, |s| all.contains(&s), "a category from the program's lists".into())
}
