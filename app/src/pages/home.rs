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
    /// For partner members: their open work.
    pub work: Option<crate::domain::task::PartnerWork>,
    /// For staff: reported tasks waiting, and the oldest one's wait in days.
    pub review: Option<(i64, i64)>,
}

#[server(endpoint = "dashboard/overview")]
pub async fn load_dashboard() -> Result<DashboardData, AppError> {
    use crate::domain::integration::IntegrationQuery;
    use crate::domain::partner::PartnerQuery;
    use crate::services::{integrations, partners, pipeline};
    let (db, caller) = crate::context::signed_in()?;
    // Only the totals are wanted: ask for pages of one.
    let (page, per_page) = (Some(1), Some(1));
    let p = partners::list(&db, &caller, &PartnerQuery { page, per_page, ..Default::default() }).await?;
    let i = integrations::list(&db, &caller, &IntegrationQuery { page, per_page, ..Default::default() }).await?;
    let now = chrono::Utc::now();
    let work = pipeline::partner_work(&db, &caller, now).await?;
    let review = if caller.role.is_staff() {
        let queue = pipeline::review_queue(&db, &caller, false, Some(1), now).await?;
        Some((queue.total, queue.items.first().map(|t| t.waiting_days).unwrap_or(0)))
    } else {
        None
    };
    Ok(DashboardData { caller, partners: p.total, integrations: i.total, work, review })
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
                            {o.review.map(|(total, oldest)| view! {
                                <p class="review-tile"><a href="/review">{match total {
                                    0 => "Nothing waits for review.".to_string(),
                                    1 => format!("1 task waits for review ({}).", crate::pages::review::waited(oldest)),
                                    n => format!("{n} tasks wait for review; the oldest for {}.", crate::pages::review::waited(oldest)),
                                }}</a></p>
                            })}
                            {o.work.map(|w| view! { <PartnerWorkLists work=w/> })}
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
