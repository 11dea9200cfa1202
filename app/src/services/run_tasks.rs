//! A run task's registration: read by whoever may see the integration,
//! changed by whoever may edit it. Saving completes the Develop & Test
//! tasks the registration answers (endpoint, key, stages).

use crate::domain::access::{Action, Caller};
use crate::domain::audit::{changes, Entry, TargetKind};
use crate::domain::catalog::IntegrationKind;
use crate::domain::run_task::{Registration, RegistrationInput};
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::store::{run_tasks as store, Db};
use chrono::{DateTime, Utc};

/// The registration (empty when nothing is registered, or for providers).
pub async fn get(db: &Db, caller: &Caller, integration_id: i64) -> Result<Registration, AppError> {
    let integration = super::integrations::get(db, caller, integration_id).await?;
    Ok(store::registration(db, integration.id).await?.unwrap_or_default())
}

fn fields(r: &Registration) -> crate::domain::audit::Fields {
    vec![
        ("endpoint_url", r.endpoint_url.clone().unwrap_or_default()),
        ("stages", r.stages.join(", ")),
        ("hmac_key", r.hmac_fingerprint.as_ref().map(|f| format!("set (fingerprint {f})")).unwrap_or_default()),
    ]
}

pub async fn save(
    db: &Db,
    caller: &Caller,
    integration_id: i64,
    input: &RegistrationInput,
    plain_http: &[String],
    now: DateTime<Utc>,
) -> Result<Registration, AppError> {
    let integration = super::integrations::get(db, caller, integration_id).await?;
    caller.check(Action::EditIntegration { partner: integration.partner_id }, || format!("integration {integration_id}"))?;
    if integration.kind != IntegrationKind::RunTask {
        let mut fields = FieldErrors::new();
        fields.insert("kind".into(), vec!["only run-task integrations have an endpoint, a key and stages".into()]);
        return Err(AppError::invalid(fields));
    }
    let valid = input.validate(plain_http).map_err(AppError::invalid)?;
    let before = store::registration(db, integration.id).await?.unwrap_or_default();
    let fingerprint = valid.hmac_key.as_deref().map(|k| super::secret::hash(k)[..12].to_string());
    let after = Registration {
        endpoint_url: valid.endpoint_url.clone(),
        hmac_fingerprint: fingerprint.clone().or(before.hmac_fingerprint.clone()),
        hmac_set_at: None,
        stages: valid.stages.clone(),
    };
    let changed = changes(&fields(&before), &fields(&after));
    let audit = Entry::by(caller, "integration.run_task", TargetKind::Integration, Some(integration.id), &integration.name)
        .partner(integration.partner_id)
        .integration(integration.id)
        .summary(format!("Updated the run-task registration of {}", integration.name))
        .changes(changed);
    store::save(db, integration.id, &valid, fingerprint.as_deref(), now, &audit).await?;
    super::pipeline::observe(db, integration.id, now).await?;
    get(db, caller, integration.id).await
}
