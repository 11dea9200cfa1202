//! The dashboard people land on after signing in: where they stand and
//! where to go next. (Health charts and flags arrive with the dashboards issue.)

use crate::domain::access::{Caller, Role};
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DashboardData {
    pub caller: Caller,
    pub partners: i64,
    pub integrations: i64,
}

#[server(endpoint = "dashboard/overview")]
pub async fn load_dashboard() -> Result<DashboardData, AppError> {
    use crate::domain::integration::IntegrationQuery;
    use crate::domain::partner::PartnerQuery;
    use crate::services::{integrations, partners};
    let (db, caller) = crate::context::signed_in()?;
    // Only the totals are wanted: ask for pages of one.
    let (page, per_page) = (Some(1), Some(1));
    let p = partners::list(&db, &caller, &PartnerQuery { page, per_page, ..Default::default() }).await?;
    let i = integrations::list(&db, &caller, &IntegrationQuery { page, per_page, ..Default::default() }).await?;
    Ok(DashboardData { caller, partners: p.total, integrations: i.total })
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| load_dashboard());
    view! {
        <Title text="Dashboard · Integration Tracker"/>
        <h1>"Dashboard"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <crate::components::ErrorNotice error=e/> }.into_any(),
                    Ok(o) => {
                        let scope = match &o.caller.partner {
                            Some(p) if o.caller.role == Role::Partner => format!("You see {}'s integrations.", p.name),
                            _ => "You see every partner.".to_string(),
                        };
                        view! {
                            <p class="welcome">{format!("Signed in as {} ({}). ", o.caller.name, o.caller.role.label())}{scope}</p>
                            <ul class="tiles">
                                <li><a href="/partners"><strong>{o.partners}</strong>" "{if o.partners == 1 { "partner" } else { "partners" }}</a></li>
                                <li><a href="/integrations"><strong>{o.integrations}</strong>" "{if o.integrations == 1 { "integration" } else { "integrations" }}</a></li>
                            </ul>
                            {(o.caller.role == Role::Admin).then(|| view! {
                                <p><a href="/admin/users">"Manage users and invitations"</a></p>
                            })}
                            <p><a href="/settings/tokens">"Personal API tokens"</a>" for scripts and CI."</p>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}
