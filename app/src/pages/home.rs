//! The page people land on after signing in: the program dashboard for
//! staff, their own standing and open work for partner members.

use crate::domain::access::{Caller, Role};
use crate::error::AppError;
use crate::pages::dashboard::{PartnerView, StaffView};
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DashboardData {
    pub caller: Caller,
    /// For partner members: their open work.
    pub work: Option<crate::domain::task::PartnerWork>,
}

#[server(endpoint = "dashboard/overview")]
pub async fn load_dashboard() -> Result<DashboardData, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let work = crate::services::pipeline::partner_work(&db, &caller, chrono::Utc::now()).await?;
    Ok(DashboardData { caller, work })
}

/// `/`: staff get the program dashboard, partner members their own.
#[component]
pub fn DashboardPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| load_dashboard());
    let staff = crate::pages::dashboard::home_dashboard();
    let own = crate::pages::dashboard::home_partner_dashboard();
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
                        let body = if o.caller.role.is_staff() {
                            view! { <StaffView data=staff/> }.into_any()
                        } else {
                            view! {
                                <PartnerView data=own/>
                                {o.work.map(|w| view! { <PartnerWorkLists work=w/> })}
                            }
                            .into_any()
                        };
                        view! {
                            <p class="welcome">{format!("Signed in as {} ({}). ", o.caller.name, o.caller.role.label())}{scope}</p>
                            {body}
                            <p><a href="/settings/tokens">"Personal API tokens"</a>" for scripts and CI."</p>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// A partner member's home: what is theirs to do, and what waits for review.
#[component]
fn PartnerWorkLists(work: crate::domain::task::PartnerWork) -> impl IntoView {
    use crate::pages::review::QueueEntry;
    view! {
        <section aria-labelledby="yours-heading">
            <h2 id="yours-heading">"Waiting on you"</h2>
            {if work.waiting_on_you.is_empty() {
                view! { <p class="empty">"Nothing: every task of your integrations' current stages is reported or done."</p> }.into_any()
            } else {
                view! { <ol class="queue">{work.waiting_on_you.into_iter().map(|item| view! { <QueueEntry item act=None/> }).collect_view()}</ol> }.into_any()
            }}
        </section>
        <section aria-labelledby="review-heading">
            <h2 id="review-heading">"Waiting on review"</h2>
            {if work.waiting_on_review.is_empty() {
                view! { <p class="empty">"Nothing is waiting for a reviewer."</p> }.into_any()
            } else {
                view! { <ol class="queue">{work.waiting_on_review.into_iter().map(|item| view! { <QueueEntry item act=None/> }).collect_view()}</ol> }.into_any()
            }}
        </section>
    }
}
