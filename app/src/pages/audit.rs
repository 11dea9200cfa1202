//! The audit trail on screen: a timeline on each integration's and
//! partner's page, and the admin page that searches everything and exports
//! it as CSV.

use crate::components::{href_with, ErrorNotice, Pager};
use crate::domain::audit::{AuditQuery, Record, TargetKind};
use crate::domain::Page;
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::{use_location, use_query_map};

#[server(endpoint = "audit/integration")]
pub async fn integration_timeline(id: i64, page: Option<i64>) -> Result<Page<Record>, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::audit::for_integration(&db, &caller, id, page).await)
}

#[server(endpoint = "audit/partner")]
pub async fn partner_timeline(slug: String, page: Option<i64>) -> Result<Page<Record>, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::audit::for_partner(&db, &caller, &slug, page).await)
}

#[server(endpoint = "audit/search")]
pub async fn search_audit(query: AuditQuery) -> Result<Page<Record>, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::audit::search(&db, &caller, &query).await)
}

/// Whose timeline.
#[derive(Clone, Debug, PartialEq)]
pub enum Subject {
    Integration(i64),
    Partner(String),
}

/// The history section of an integration's or a partner's page. Paged by
/// `?history=N` links, so it works before (and without) hydration.
#[component]
pub fn Timeline(subject: Subject) -> impl IntoView {
    let query = use_query_map();
    let location = use_location();
    let page = move || query.read().get("history").and_then(|p| p.parse::<i64>().ok());
    let records = Resource::new(
        move || (subject.clone(), page()),
        |(subject, page)| async move {
            match subject {
                Subject::Integration(id) => integration_timeline(id, page).await,
                Subject::Partner(slug) => partner_timeline(slug, page).await,
            }
        },
    );
    let link = move |p: i64| {
        let path = location.pathname.get_untracked();
        if p > 1 {
            format!("{path}?history={p}#history-heading")
        } else {
            format!("{path}#history-heading")
        }
    };
    view! {
        <section class="timeline" aria-labelledby="history-heading">
            <h2 id="history-heading">"History"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading the history…"</p> }>
                {move || Suspend::new(async move {
                    match records.await {
                        Ok(page) if page.items.is_empty() => view! { <p class="empty">"No changes recorded yet."</p> }.into_any(),
                        Ok(page) => {
                            let (current, pages) = (page.page, page.pages());
                            view! {
                                <RecordList records=page.items/>
                                <nav class="pager" aria-label="History pages">
                                    {(current > 1).then(|| view! { <a rel="prev" href=link(current - 1)>"← Newer"</a> })}
                                    <span>{format!("Page {current} of {pages} · {} changes", page.total)}</span>
                                    {(current < pages).then(|| view! { <a rel="next" href=link(current + 1)>"Older →"</a> })}
                                </nav>
                            }
                            .into_any()
                        }
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// Records as a list: when, who, what; the field changes fold away.
#[component]
fn RecordList(records: Vec<Record>) -> impl IntoView {
    view! {
        <ol class="records">
            {records.into_iter().map(|r| {
                let when = r.at.format("%Y-%m-%d %H:%M UTC").to_string();
                let changes = (!r.changes.is_empty()).then(|| {
                    let count = r.changes.len();
                    view! {
                        <details>
                            <summary>{format!("{count} field{}", if count == 1 { "" } else { "s" })}</summary>
                            <table class="changes">
                                <thead><tr><th scope="col">"Field"</th><th scope="col">"Before"</th><th scope="col">"After"</th></tr></thead>
                                <tbody>
                                    {r.changes.into_iter().map(|c| view! {
                                        <tr>
                                            <th scope="row">{c.field.replace('_', " ")}</th>
                                            <td>{c.before.unwrap_or_else(|| "—".into())}</td>
                                            <td>{c.after.unwrap_or_else(|| "—".into())}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </details>
                    }
                });
                view! {
                    <li class="record" data-action=r.action.clone()>
                        <p>
                            <time datetime=r.at.to_rfc3339()>{when}</time>
                            " · "<span class="actor">{r.actor_name}</span>
                            " · "<span class="summary">{r.summary}</span>
                        </p>
                        {changes}
                    </li>
                }
            }).collect_view()}
        </ol>
    }
}

fn query_from_url() -> AuditQuery {
    let q = use_query_map();
    let q = q.read();
    AuditQuery {
        q: q.get("q").unwrap_or_default(),
        target: q.get("target").unwrap_or_default(),
        actor: q.get("actor").unwrap_or_default(),
        from: q.get("from").unwrap_or_default(),
        to: q.get("to").unwrap_or_default(),
        page: q.get("page").and_then(|p| p.parse().ok()),
        per_page: None,
    }
}

fn filter_params(q: &AuditQuery) -> Vec<(&'static str, String)> {
    vec![("q", q.q.clone()), ("target", q.target.clone()), ("actor", q.actor.clone()), ("from", q.from.clone()), ("to", q.to.clone())]
}

/// `/admin/audit`: every change, searchable, exportable (admins).
#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let current = move || {
        query.track();
        query_from_url()
    };
    let records = Resource::new(current, search_audit);
    let initial = query_from_url();
    let export = href_with("/api/v1/audit/export.csv", &filter_params(&initial));
    view! {
        <Title text="Audit trail · Integration Tracker"/>
        <header class="page-head">
            <h1>"Audit trail"</h1>
            <a class="button" href=export download="">"Download CSV"</a>
        </header>
        <Form method="GET" action="/admin/audit" attr:class="filters" attr:role="search">
            <div class="field">
                <label for="q">"Search"</label>
                <input id="q" type="search" name="q" value=initial.q.clone() placeholder="Summary, partner, integration, email"/>
            </div>
            <div class="field">
                <label for="target">"Kind"</label>
                <select id="target" name="target">
                    <option value="">"Any kind"</option>
                    {TargetKind::ALL.iter().map(|k| {
                        view! { <option value=k.key() selected=initial.target == k.key()>{k.label()}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="actor">"By"</label>
                <input id="actor" type="search" name="actor" value=initial.actor.clone() placeholder="Name"/>
            </div>
            <div class="field">
                <label for="from">"From"</label>
                <input id="from" type="date" name="from" value=initial.from.clone()/>
            </div>
            <div class="field">
                <label for="to">"To"</label>
                <input id="to" type="date" name="to" value=initial.to.clone()/>
            </div>
            <button type="submit">"Search"</button>
        </Form>
        <Transition fallback=|| view! { <p class="loading">"Loading records…"</p> }>
            {move || Suspend::new(async move {
                let params = filter_params(&query_from_url());
                match records.await {
                    Ok(page) if page.items.is_empty() => view! { <p class="empty">"No record matches. Widen the dates or clear the search."</p> }.into_any(),
                    Ok(page) => {
                        let (current, pages, total) = (page.page, page.pages(), page.total);
                        view! {
                            <RecordList records=page.items/>
                            <Pager path="/admin/audit" params=params page=current pages=pages total=total/>
                        }
                        .into_any()
                    }
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}
