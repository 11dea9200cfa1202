//! What the registries say about a provider, for whoever may see it; "poll
//! now" for staff; the poller's status for admins. The polling itself is a
//! background job in the server (`server/src/jobs/registry_poll.rs`).

use crate::domain::access::{Action, Caller};
use crate::domain::catalog::IntegrationKind;
use crate::domain::registry::{PollerStatus, ProviderRegistry};
use crate::domain::source_address::SourceAddress;
use crate::error::AppError;
use crate::store::{registry as store, Db};
use chrono::{DateTime, Utc};

/// The job's name in `job_runs`.
pub const JOB: &str = "registry_poll";

/// How many registry events the provider page shows.
const EVENTS_SHOWN: i64 = 20;

fn own_host(integration: &crate::domain::integration::Integration) -> Result<String, AppError> {
    if integration.kind != IntegrationKind::Provider {
        return Err(AppError::BadRequest("only providers are published on registries".into()));
    }
    let address = integration.source_address.as_deref().and_then(|a| SourceAddress::parse(a).ok());
    Ok(address.map(|a| a.host().to_string()).unwrap_or_default())
}

/// Versions, polls and events of a provider.
pub async fn provider(db: &Db, caller: &Caller, integration_id: i64) -> Result<ProviderRegistry, AppError> {
    let integration = super::integrations::get(db, caller, integration_id).await?;
    let host = own_host(&integration)?;
    Ok(store::provider(db, integration.id, &host, EVENTS_SHOWN).await?)
}

/// Makes the provider's polls due now; the poller picks them up on its next
/// tick (whichever instance claims them first). Returns how many were queued.
pub async fn poll_now(db: &Db, caller: &Caller, integration_id: i64, now: DateTime<Utc>) -> Result<u64, AppError> {
    let integration = super::integrations::get(db, caller, integration_id).await?;
    caller.check(Action::Review { partner: integration.partner_id }, || format!("integration {integration_id}"))?;
    let host = own_host(&integration)?;
    if host.is_empty() {
        return Err(AppError::BadRequest("this provider has no source address to look up".into()));
    }
    Ok(store::poll_now(db, integration.id, now).await?)
}

pub async fn status(db: &Db, caller: &Caller) -> Result<PollerStatus, AppError> {
    caller.check(Action::Operate, || "poller status".into())?;
    let (sweep, providers, hosts, outcomes) = store::status(db, JOB).await?;
    let next_run = store::next_due(db).await?;
    Ok(PollerStatus { sweep, next_run, providers, hosts, outcomes })
}

/// After the GitHub sync read a provider's latest release: a release that
/// no registry lists `after` its publication is registry lag, recorded once
/// per version (timeline and dashboard). Returns the lagging version.
pub async fn observe_release(
    db: &Db,
    integration_id: i64,
    github_host: &str,
    release: &crate::domain::github::Release,
    after: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<Option<String>, AppError> {
    let Some(published) = release.published_at else { return Ok(None) };
    let listed = store::listed_versions(db, integration_id).await?;
    let listed: Vec<&str> = listed.iter().map(String::as_str).collect();
    let Some(version) = crate::domain::registry::registry_lag(&release.tag, published, &listed, now, after) else { return Ok(None) };
    let Some(integration) = crate::store::integrations::get(db, integration_id).await? else { return Ok(None) };
    if integration.kind != IntegrationKind::Provider {
        return Ok(None);
    }
    let hours = (now - published).num_hours();
    let detail = format!("GitHub release {} was published {hours} hours ago; no registry lists {version}", release.tag);
    let audit = crate::domain::audit::Entry::system(
        "registry.registry_lag",
        crate::domain::audit::TargetKind::Integration,
        Some(integration.id),
        &integration.name,
    )
    .partner(integration.partner_id)
    .integration(integration.id)
    .summary(format!("Registry lag behind GitHub: {detail}"));
    store::record_lag(db, integration.id, github_host, &version, &detail, now, &audit).await?;
    Ok(Some(version))
}
