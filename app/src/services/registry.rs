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
