//! The dashboards: staff see the whole program at a glance on `/` (filters
//! in the query string, so a view can be bookmarked and shared); partner
//! members see their own standing there; staff open a partner's view at
//! `/partners/:slug/dashboard`. Charts are server-rendered SVG.

use crate::components::chart::{self, Bar, Chart, Frame, Group, Point};
use crate::components::{href_with, ErrorNotice};
use crate::domain::catalog::{all_categories, IntegrationKind, Stage, Tier};
use crate::domain::dashboard::{DashboardQuery, PartnerDashboard, StaffDashboard};
use crate::domain::flag::FlagView;
use crate::error::AppError;
use crate::pages::pipeline::when;
use crate::pages::support::{percent, HealthSummary, IssueTable};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[server(endpoint = "dashboard/staff")]
pub async fn get_staff_dashboard(query: DashboardQuery) -> Result<StaffDashboard, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let max_age = use_context::<crate::services::dashboard::MaxAge>().unwrap_or_default();
    crate::context::answer(crate::services::dashboard::staff_view(&db, &caller, &query, chrono::Utc::now(), max_age).await)
}

/// What `/` shows staff: the staff dashboard; `None` for partner members
/// (their page shows their own dashboard instead).
#[server(endpoint = "dashboard/home")]
pub async fn get_home_dashboard(query: DashboardQuery) -> Result<Option<StaffDashboard>, AppError> {
    let (_, caller) = crate::context::signed_in()?;
    if caller.partner_scope().is_some() {
        return Ok(None);
    }
    get_staff_dashboard(query).await.map(Some)
}

/// The staff dashboard of `/`, following the filters in the URL. Made once
/// at the top of the page: made inside the page's own suspense, it was made
/// (and its data fetched and embedded in the page) once per pass of the
/// server render.
pub fn home_dashboard() -> Resource<Result<Option<StaffDashboard>, AppError>> {
    let q = use_query_map();
    Resource::new(move || query_from(&q.read()), get_home_dashboard)
}

/// A partner's dashboard: a member's own (`slug` ignored), or the one staff ask for.
#[server(endpoint = "dashboard/partner")]
pub async fn get_partner_dashboard(slug: Option<String>) -> Result<PartnerDashboard, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let partner = match (caller.partner_scope(), slug.as_deref().map(str::trim).filter(|s| !s.is_empty())) {
        (None, Some(slug)) => Some(crate::context::answer(crate::services::partners::get(&db, &caller, slug).await)?.id),
        _ => None,
    };
    crate::context::answer(crate::services::dashboard::partner(&db, &caller, partner, chrono::Utc::now()).await)
}

/// What `/` shows a partner member: their partner's dashboard; `None` for
/// staff (their page shows the staff dashboard instead).
#[server(endpoint = "dashboard/home-partner")]
pub async fn get_home_partner_dashboard() -> Result<Option<PartnerDashboard>, AppError> {
    let (_, caller) = crate::context::signed_in()?;
    if caller.partner_scope().is_none() {
        return Ok(None);
    }
    get_partner_dashboard(None).await.map(Some)
}

/// A member's dashboard on `/`, made once at the top of the page (as
/// [`home_dashboard`], and for the same reason).
pub fn home_partner_dashboard() -> Resource<Result<Option<PartnerDashboard>, AppError>> {
    Resource::new(|| (), |_| get_home_partner_dashboard())
}

fn days(d: f64) -> String {
    if d < 1.0 {
        "under a day".into()
    } else {
        format!("{} d", d.round())
    }
}

fn plural(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn query_from(q: &leptos_router::params::ParamsMap) -> DashboardQuery {
    let get = |k: &str| q.get(k).unwrap_or_default();
    DashboardQuery {
        track: get("track"),
        stage: get("stage"),
        tier: get("tier"),
        category: get("category"),
        mine: get("mine") == "true",
        sort: get("sort"),
    }
}

/// The staff dashboard with its filters; `data` from [`home_dashboard`].
#[component]
pub fn StaffView(data: Resource<Result<Option<StaffDashboard>, AppError>>) -> impl IntoView {
    let q = use_query_map();
    let initial = query_from(&q.read_untracked());
    view! {
        <form method="get" action="/" class="filters" role="search" aria-label="Filter the dashboard">
            <div class="field">
                <label for="d-track">"Track"</label>
                <select id="d-track" name="track">
                    <option value="">"All tracks"</option>
                    {IntegrationKind::ALL.iter().map(|k| view! { <option value=k.key() selected=initial.track == k.key()>{k.label()}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="d-stage">"Stage"</label>
                <select id="d-stage" name="stage">
                    <option value="">"All stages"</option>
                    {Stage::ALL.iter().map(|s| view! { <option value=s.key() selected=initial.stage == s.key()>{s.label()}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="d-tier">"Tier"</label>
                <select id="d-tier" name="tier">
                    <option value="">"All tiers"</option>
                    {Tier::ALL.iter().map(|t| view! { <option value=t.key() selected=initial.tier == t.key()>{t.label()}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="d-category">"Category"</label>
                <select id="d-category" name="category">
                    <option value="">"All categories"</option>
                    {all_categories().into_iter().map(|c| view! { <option value=c selected=initial.category == c>{c}</option> }).collect_view()}
                </select>
            </div>
            <div class="field checkbox">
                <input id="d-mine" type="checkbox" name="mine" value="true" checked=initial.mine/>
                <label for="d-mine">"Only partners I manage"</label>
            </div>
            <div class="actions">
                <button type="submit">"Apply filters"</button>
                <a href="/">"Clear"</a>
            </div>
        </form>
        <Suspense fallback=|| view! { <p class="loading">"Loading the dashboard…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    Ok(Some(d)) => view! { <StaffSections d/> }.into_any(),
                    Ok(None) => view! { <p class="empty">"The staff dashboard is for alliances staff."</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn StaffSections(d: StaffDashboard) -> impl IntoView {
    let params = d.query.params();
    // The lists' own filter names: an integration's track is its `kind`.
    let q = &d.query;
    let integrations_export =
        href_with("/api/v1/integrations/export.csv", &[("kind", q.track.clone()), ("tier", q.tier.clone()), ("stage", q.stage.clone())]);
    let partners_export = href_with("/api/v1/partners/export.csv", &[("category", q.category.clone())]);
    let flags_export = href_with(
        "/api/v1/flags/export.csv",
        &[("state", "open".to_string()), ("mine", if d.query.mine { "true".into() } else { String::new() })],
    );
    let empty = d.integrations == 0;
    // The compliance table sorts by links (keyboard-usable, and kept in the URL with the filters).
    let sort = match d.query.sort.trim() {
        "" => "worst".to_string(),
        s => s.to_string(),
    };
    let sort_link = {
        let params = params.clone();
        move |key: &str| {
            let mut p: Vec<(&str, String)> = params.iter().filter(|(k, _)| *k != "sort").cloned().collect();
            p.push(("sort", key.to_string()));
            href_with("/", &p) + "#support-heading"
        }
    };
    let sorted = {
        let sort = sort.clone();
        move |key: &str| match (sort.as_str(), key) {
            ("worst", "worst") => Some("ascending"),
            ("best", "worst") => Some("descending"),
            ("name", "name") => Some("ascending"),
            (s, k) if s == k => Some("descending"),
            _ => None,
        }
    };
    view! {
        <p class="summary" data-testid="dashboard-summary">
            {if d.integrations == 1 { "1 integration matches these filters.".to_string() } else { format!("{} integrations match these filters.", d.integrations) }}
            " Download: "
            <a href=integrations_export download="">"integrations"</a>", "
            <a href=partners_export download="">"partners"</a>", "
            <a href=href_with("/api/v1/issues/export.csv", &[]) download="">"issues"</a>", "
            <a href=flags_export download="">"tier flags"</a>" (CSV)."
        </p>
        <div class="dashboard-grid">
            <section aria-labelledby="funnel-heading" class="panel wide">
                <h2 id="funnel-heading">"Pipeline"</h2>
                {if empty {
                    view! { <p class="empty">"No integration matches these filters."</p> }.into_any()
                } else {
                    d.funnels.iter().map(|f| {
                        let id = format!("funnel-{}", f.kind.key());
                        let title = format!("{} track: integrations per stage", f.kind.label());
                        let bars: Vec<Bar> = f.stages.iter().map(|s| {
                            let mut note = s.median_days.map(|m| format!("median {}", days(m))).unwrap_or_default();
                            if s.stalled > 0 {
                                note.push_str(&format!(", {} stalled", s.stalled));
                            }
                            let bar = Bar::new(s.stage.label(), s.count as f64);
                            if note.is_empty() { bar } else { bar.with_note(note) }
                        }).collect();
                        let svg = chart::funnel(&Frame { id: &id, title: &title, description: "How many integrations are in each stage, with the median time they have spent there.", unit: "" }, &bars);
                        let dist_id = format!("stage-time-{}", f.kind.key());
                        let dist_title = format!("{} track: days in the current stage", f.kind.label());
                        let groups: Vec<Group> = f.stages.iter().filter(|s| s.count > 0).map(|s| Group::summarised(s.stage.label(), s.spread.clone())).collect();
                        let dist = chart::distribution(&Frame { id: &dist_id, title: &dist_title, description: "Spread of the days integrations have spent in their current stage.", unit: " d" }, &groups);
                        view! {
                            <div class="chart-pair">
                                <Chart svg=svg/>
                                <Chart svg=dist/>
                            </div>
                        }
                    }).collect_view().into_any()
                }}
                <h3>"Stalled"</h3>
                {if d.stalled.is_empty() {
                    view! { <p class="empty">"Nothing is past its stage's target."</p> }.into_any()
                } else {
                    view! {
                        <table class="stalled">
                            <thead><tr><th scope="col">"Integration"</th><th scope="col">"Partner"</th><th scope="col">"Stage"</th><th scope="col">"In stage"</th><th scope="col">"Target"</th></tr></thead>
                            <tbody>
                                {d.stalled.iter().map(|s| view! {
                                    <tr>
                                        <th scope="row"><a href=format!("/integrations/{}", s.integration_id)>{s.integration.clone()}</a></th>
                                        <td>{s.partner.clone()}</td>
                                        <td>{s.stage.label()}</td>
                                        <td class="bad">{format!("{} d", s.days)}</td>
                                        <td>{format!("{} d", s.target_days)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
            </section>

            <section aria-labelledby="support-heading" class="panel">
                <h2 id="support-heading">"Support health"</h2>
                <ul class="tiles">
                    <li class=(d.support.open_breaches > 0).then_some("bad")><a href="/issues?state=breached"><strong>{d.support.open_breaches}</strong>" open breaches"</a></li>
                    <li><a href="/issues?due_within=24"><strong>{d.support.due_24h}</strong>" due in the next 24 hours"</a></li>
                </ul>
                {if d.support.partners.is_empty() {
                    view! { <p class="empty">"No support issues in the last "{d.support.window_days}" days."</p> }.into_any()
                } else {
                    view! {
                        <table class="compliance" data-testid="compliance-table">
                            <caption>{format!("Last {} days; select a column heading to sort", d.support.window_days)}</caption>
                            <thead><tr>
                                <th scope="col" aria-sort=sorted("name")><a href=sort_link("name")>"Partner"</a></th>
                                <th scope="col" aria-sort=sorted("worst")><a href=sort_link(if sort == "worst" { "best" } else { "worst" })>"Within SLA"</a></th>
                                <th scope="col" aria-sort=sorted("breaches")><a href=sort_link("breaches")>"Breaches"</a></th>
                                <th scope="col" aria-sort=sorted("due")><a href=sort_link("due")>"Due 24 h"</a></th>
                            </tr></thead>
                            <tbody>
                                {d.support.partners.iter().map(|p| view! {
                                    <tr>
                                        <th scope="row"><a href=format!("/partners/{}/dashboard", p.slug)>{p.name.clone()}</a></th>
                                        <td>{percent(p.percent)}<span class="muted">{format!(" ({} of {})", p.within_sla, p.resolved)}</span></td>
                                        <td class=(p.open_breaches > 0).then_some("bad")>{p.open_breaches}</td>
                                        <td>{if p.due_24h > 0 {
                                            view! { <a href=format!("/issues?partner={}&due_within=24", p.partner_id)>{p.due_24h}</a> }.into_any()
                                        } else {
                                            view! { "0" }.into_any()
                                        }}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        <p><a href="/sla">"All partners by compliance"</a></p>
                    }.into_any()
                }}
            </section>

            <section aria-labelledby="flags-heading" class="panel">
                <h2 id="flags-heading">"Tier flags"</h2>
                <ul class="tiles">
                    <li class=(d.flags.due > 0).then_some("bad")><a href="/flags?state=due"><strong>{d.flags.due}</strong>" due for decision"</a></li>
                    <li><a href="/flags?state=grace"><strong>{d.flags.grace}</strong>" in grace period"</a></li>
                    <li><a href="/flags?state=decided"><strong>{d.flags.decided_recently}</strong>" decided in 30 days"</a></li>
                </ul>
                {(d.flags.preview + d.flags.exempt > 0).then(|| view! {
                    <p class="muted">{format!("Also {} in preview and {} exempt.", d.flags.preview, d.flags.exempt)}</p>
                })}
                <FlagList flags=d.flags.open.clone() empty="No open flags: every official and verified integration meets the rules."/>
                {(!d.flags.decided.is_empty()).then(|| view! {
                    <h3>"Decided recently"</h3>
                    <FlagList flags=d.flags.decided.clone() empty=""/>
                })}
            </section>

            <section aria-labelledby="registry-heading" class="panel">
                <h2 id="registry-heading">"Registry"</h2>
                <p><strong>{d.registry.this_week}</strong>" versions published this week."</p>
                {
                    let points: Vec<Bar> = d.registry.per_month.iter().map(|m| Bar::new(m.month.format("%b %Y").to_string(), m.versions as f64)).collect();
                    let svg = chart::bars(&Frame { id: "versions-per-month", title: "Versions published per month", description: "Provider versions published on their own registries in each of the last twelve months.", unit: " versions" }, &points);
                    view! { <Chart svg=svg/> }
                }
                <h3>"Registries lagging behind GitHub"</h3>
                {if d.registry.behind_github.is_empty() {
                    view! { <p class="empty">"Every provider's latest GitHub release is on a registry (or still within the lag allowance)."</p> }.into_any()
                } else {
                    view! {
                        <ul class="lagging" data-testid="behind-github">
                            {d.registry.behind_github.iter().map(|b| view! {
                                <li><a href=format!("/integrations/{}", b.integration_id)>{b.integration.clone()}</a>
                                    {format!(": GitHub release {} ({}) is on no registry", b.tag, b.published_at.map(when).unwrap_or_else(|| "date unknown".into()))}</li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
                <h3>"Mirrors lagging behind"</h3>
                {if d.registry.lagging.is_empty() {
                    view! { <p class="empty">"Every mirror lists what the provider's own registry lists."</p> }.into_any()
                } else {
                    view! {
                        <ul class="lagging">
                            {d.registry.lagging.iter().map(|l| view! {
                                <li><a href=format!("/integrations/{}", l.integration_id)>{l.integration.clone()}</a>{format!(": {} lacks {}", l.registry_host, plural(l.missing, "version", "versions"))}</li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </section>

            <section aria-labelledby="review-heading" class="panel">
                <h2 id="review-heading">"Review queue"</h2>
                <p><a href="/review"><strong>{d.review.waiting}</strong>{if d.review.waiting == 1 { " task waits for review." } else { " tasks wait for review." }}</a></p>
                {d.review.oldest.clone().map(|o| view! {
                    <p>"Oldest: " <a href=format!("/integrations/{}#task-{}", o.integration_id, o.task_id)>{o.task.clone()}</a>
                        {format!(" of {} ({}), reported {}", o.integration, o.partner, when(o.since))}</p>
                })}
            </section>
        </div>
        <p class="muted">{format!("As of {}.", when(d.generated_at))}</p>
    }
}

/// Flags as a short list: what, where, and when it is due.
#[component]
pub fn FlagList(flags: Vec<FlagView>, empty: &'static str) -> impl IntoView {
    if flags.is_empty() {
        return (!empty.is_empty()).then(|| view! { <p class="empty">{empty}</p> }).into_any();
    }
    view! {
        <ul class="flags">
            {flags.into_iter().map(|f| {
                let status = match (f.state, f.due_at) {
                    (crate::domain::flag::FlagState::Grace, Some(due)) => format!("due for decision {}", when(due)),
                    (s, _) => s.label().to_string(),
                };
                view! {
                    <li class=format!("flag flag-{}", f.state.key())>
                        <a href=format!("/flags/{}", f.id)>{format!("{} — {}", f.integration, f.rule.label())}</a>
                        <span class=format!("badge flag-state-{}", f.state.key())>{status}</span>
                        <br/><span class="muted">{format!("{}: {}", f.partner, f.reason)}</span>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

/// A partner's standing: integrations, what waits on them, issues, compliance, flags.
#[component]
pub fn PartnerView(data: Resource<Result<Option<PartnerDashboard>, AppError>>) -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    Ok(Some(d)) => view! { <PartnerSections d/> }.into_any(),
                    Ok(None) => view! { <p class="empty">"No partner dashboard to show."</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn PartnerSections(d: PartnerDashboard) -> impl IntoView {
    let trend: Vec<Point> = d.trend.iter().map(|w| Point::new(w.week_start.format("%d %b").to_string(), w.percent)).collect();
    let trend_svg = chart::line(
        &Frame {
            id: "compliance-trend",
            title: "Support compliance per week",
            description: "Share of issues resolved within the SLA in each of the last 26 weeks; weeks without resolved issues are gaps.",
            unit: " %",
        },
        &trend,
        0.0,
        100.0,
        Some(90.0),
    );
    view! {
        <h2 class="partner-name">{d.partner.clone()}</h2>
        <section aria-labelledby="p-flags-heading">
            <h2 id="p-flags-heading">"Tier flags"</h2>
            {if d.flags.is_empty() {
                view! { <p class="empty">"No open tier flags."</p> }.into_any()
            } else {
                view! {
                    <ul class="flags">
                        {d.flags.iter().map(|f| view! {
                            <li class=format!("flag flag-{}", f.state.key())>
                                <a href=format!("/flags/{}", f.id)>{format!("{} — {}", f.integration, f.rule.label())}</a>
                                <span class=format!("badge flag-state-{}", f.state.key())>{f.state.label()}</span>
                                <br/>{f.reason.clone()}
                                <br/><strong>"To clear it: "</strong>{f.clears_when.clone()}
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
        <section aria-labelledby="p-integrations-heading">
            <h2 id="p-integrations-heading">"Integrations"</h2>
            {if d.integrations.is_empty() {
                view! { <p class="empty">"No integrations yet."</p> }.into_any()
            } else {
                view! {
                    <table class="progress">
                        <thead><tr><th scope="col">"Integration"</th><th scope="col">"Tier"</th><th scope="col">"Stage"</th><th scope="col">"Required tasks done"</th><th scope="col">"Waiting on you"</th></tr></thead>
                        <tbody>
                            {d.integrations.iter().map(|i| view! {
                                <tr>
                                    <th scope="row"><a href=format!("/integrations/{}", i.integration_id)>{i.name.clone()}</a><br/><span class="muted">{i.kind.label()}</span></th>
                                    <td>{i.tier.label()}</td>
                                    <td>{format!("{} ({} of {})", i.stage.label(), i.stage_number, i.stages)}</td>
                                    <td><progress max=i.required.max(1) value=i.accepted aria-label=format!("{} of {} required tasks done", i.accepted, i.required)></progress>{format!(" {} of {}", i.accepted, i.required)}</td>
                                    <td>{if i.waiting_on_partner.is_empty() {
                                        view! { <span class="muted">{if i.waiting_on_review > 0 { format!("nothing ({} with reviewers)", i.waiting_on_review) } else { "nothing".to_string() }}</span> }.into_any()
                                    } else {
                                        view! { <ul>{i.waiting_on_partner.iter().map(|t| view! { <li>{t.clone()}</li> }).collect_view()}</ul> }.into_any()
                                    }}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
        <section aria-labelledby="p-support-heading">
            <h2 id="p-support-heading">"Support"</h2>
            <HealthSummary health=d.health.clone()/>
            <Chart svg=trend_svg/>
            <h3>"Open issues"</h3>
            {if d.open_issues.is_empty() {
                view! { <p class="empty">"No open issues."</p> }.into_any()
            } else {
                view! { <IssueTable issues=d.open_issues.clone() show_integration=true/> }.into_any()
            }}
        </section>
        <p class="muted">{format!("As of {}.", when(d.generated_at))}</p>
    }
}

/// `/partners/:slug/dashboard`: staff look at one partner as the partner sees it.
#[component]
pub fn PartnerDashboardPage() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(move || params.read().get("slug"), |slug| async move { get_partner_dashboard(slug).await.map(Some) });
    view! {
        <Title text="Partner dashboard · Integration Tracker"/>
        <h1>"Partner dashboard"</h1>
        <PartnerView data/>
    }
}
