//! Email alerts: "my alerts" and preferences (`/alerts`), the admin outbox
//! (`/admin/outbox`), and the breach acknowledgement on an issue's page.

use crate::components::{successes, ErrorNotice, Pager};
use crate::domain::alert::{AlertKind, Delivery, Preferences};
use crate::domain::outbox::{AlertView, MailTransport, OutboxOverview, OutboxQuery, OutboxStatus};
use crate::domain::Page;
use crate::error::AppError;
use chrono::Utc;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use std::collections::BTreeMap;

#[server(endpoint = "alerts/mine")]
pub async fn get_my_alerts(query: OutboxQuery) -> Result<Page<AlertView>, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::alerts::mine(&db, &caller, &query).await)
}

#[server(endpoint = "alerts/preferences")]
pub async fn get_preferences() -> Result<(Preferences, MailTransport), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let p = crate::context::answer(crate::services::alerts::preferences(&db, &caller).await)?;
    // Where mail goes (a host or a folder on the server) is for administrators only.
    let mut transport = crate::context::mail_transport();
    if caller.role != crate::domain::access::Role::Admin {
        transport.description = String::new();
    }
    Ok((p, transport))
}

#[server(endpoint = "alerts/save-preferences")]
pub async fn save_preferences(
    #[server(default)] time_zone: String,
    #[server(default)] digest_hour: String,
    #[server(default)] choices: BTreeMap<String, String>,
) -> Result<(), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let input = crate::domain::alert::PreferencesInput { time_zone, digest_hour, choices };
    crate::context::form_result(crate::services::alerts::save_preferences(&db, &caller, &input, Utc::now()).await)?;
    leptos_axum::redirect("/alerts?saved=1");
    Ok(())
}

#[server(endpoint = "alerts/outbox")]
pub async fn get_outbox(query: OutboxQuery) -> Result<OutboxOverview, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::alerts::outbox(&db, &caller, &query, crate::context::mail_transport()).await)
}

#[server(endpoint = "alerts/retry")]
pub async fn retry_alert(id: i64) -> Result<(), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::form_result(crate::services::alerts::retry(&db, &caller, id, Utc::now()).await)?;
    leptos_axum::redirect("/admin/outbox?retried=1");
    Ok(())
}

#[server(endpoint = "alerts/test")]
pub async fn send_test_email() -> Result<(), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::form_result(crate::services::alerts::send_test(&db, &caller, Utc::now()).await)?;
    leptos_axum::redirect("/admin/outbox?test=1");
    Ok(())
}

#[server(endpoint = "alerts/acknowledge")]
pub async fn acknowledge_breach(issue: i64) -> Result<(), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::form_result(crate::services::alerts::acknowledge(&db, &caller, issue, Utc::now()).await)?;
    leptos_axum::redirect(&format!("/issues/{issue}?acknowledged=1"));
    Ok(())
}

fn when(t: chrono::DateTime<Utc>) -> String {
    crate::pages::pipeline::when(t)
}

#[component]
fn StatusBadge(status: OutboxStatus) -> impl IntoView {
    view! { <span class=format!("badge outbox-{}", status.key()) data-testid="alert-status">{status.label()}</span> }
}

/// Mail goes only to files: say so where people expect email.
#[component]
fn TransportNotice(transport: MailTransport) -> impl IntoView {
    (!transport.smtp).then(|| {
        view! {
            <p class="notice warning" role="note" data-testid="mail-transport">
                "No SMTP server is configured: emails are written to files on the server and nobody receives them. An administrator sets SMTP_HOST to send them."
            </p>
        }
    })
}

#[component]
fn AlertTable(
    alerts: Vec<AlertView>,
    #[prop(optional)] show_recipient: bool,
    #[prop(optional)] retry: Option<ServerAction<RetryAlert>>,
) -> impl IntoView {
    view! {
        <table class="alerts">
            <thead>
                <tr>
                    <th scope="col">"Alert"</th>
                    <th scope="col">"Kind"</th>
                    {show_recipient.then(|| view! { <th scope="col">"To"</th> })}
                    <th scope="col">"Status"</th>
                    <th scope="col">"When"</th>
                    {retry.map(|_| view! { <th scope="col"><span class="visually-hidden">"Actions"</span></th> })}
                </tr>
            </thead>
            <tbody>
                {alerts.into_iter().map(|a| {
                    let when_text = match (a.status, a.sent_at) {
                        (OutboxStatus::Sent, Some(at)) => format!("sent {}", when(at)),
                        (OutboxStatus::Pending, _) if a.delivery.as_deref() == Some("digest") => format!("in the digest of {}", when(a.send_after)),
                        (OutboxStatus::Pending, _) => format!("queued {}", when(a.created_at)),
                        _ => when(a.created_at),
                    };
                    let error = a.last_error.clone().map(|e| format!("{e} ({} attempts)", a.attempts));
                    view! {
                        <tr class=format!("alert-row outbox-{}", a.status.key())>
                            <th scope="row"><a href=a.link.clone()>{format!("{} {}", a.subject, a.title)}</a></th>
                            <td>{a.kind.label()}{a.mandatory.then_some(" (mandatory)")}</td>
                            {show_recipient.then(|| view! { <td>{a.recipient.clone()}</td> })}
                            <td><StatusBadge status=a.status/>{error.map(|e| view! { <br/><span class="muted">{e}</span> })}</td>
                            <td>{when_text}</td>
                            {retry.map(|action| view! {
                                <td>{(a.status == OutboxStatus::Failed).then(|| view! {
                                    <ActionForm action=action attr:class="inline">
                                        <input type="hidden" name="id" value=a.id.to_string()/>
                                        <button type="submit" aria-label=format!("Retry alert {}", a.id)>"Retry"</button>
                                    </ActionForm>
                                })}</td>
                            })}
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// `/alerts`: what I was sent, and what I want to get.
#[component]
pub fn AlertsPage() -> impl IntoView {
    let save = ServerAction::<SavePreferences>::new();
    let q = use_query_map();
    let query = move || OutboxQuery { status: String::new(), kind: String::new(), page: q.read().get("page").and_then(|p| p.parse().ok()) };
    let saved = successes(save);
    let preferences = Resource::new(move || saved.get(), |_| get_preferences());
    let alerts = Resource::new(query, get_my_alerts);
    let error = Signal::derive(move || save.value().get().and_then(Result::err));
    let field = move |name: String| Signal::derive(move || error.get().and_then(|e| e.field(&name)));
    view! {
        <Title text="My alerts · Integration Tracker"/>
        <h1>"My alerts"</h1>
        {move || q.read().get("saved").map(|_| view! { <p class="notice" role="status">"Preferences saved."</p> })}
        {move || error.get().filter(|e| e.fields().is_none()).map(|e| view! { <ErrorNotice error=e/> })}
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match preferences.await {
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    Ok((p, transport)) => view! {
                        <TransportNotice transport=transport/>
                        <section aria-labelledby="prefs-heading">
                            <h2 id="prefs-heading">"What to send me"</h2>
                            <ActionForm action=save attr:class="form preferences">
                                <div class="field">
                                    <label for="f-time_zone">"Time zone"</label>
                                    <input id="f-time_zone" name="time_zone" value=p.time_zone.name().to_string() aria-describedby="f-time_zone-hint f-time_zone-error"/>
                                    <p class="hint" id="f-time_zone-hint">"An IANA name such as Europe/Berlin: deadlines in emails and the digest hour use it."</p>
                                    <p class="field-error" id="f-time_zone-error" aria-live="polite">{field("time_zone".into())}</p>
                                </div>
                                <div class="field">
                                    <label for="f-digest_hour">"Daily digest at"</label>
                                    <select id="f-digest_hour" name="digest_hour">
                                        {(0..24u32).map(|h| view! { <option value=h.to_string() selected=h == p.digest_hour>{format!("{h:02}:00")}</option> }).collect_view()}
                                    </select>
                                    <p class="field-error" aria-live="polite">{field("digest_hour".into())}</p>
                                </div>
                                <table class="choices">
                                    <thead><tr><th scope="col">"Alert"</th><th scope="col">"Delivery"</th></tr></thead>
                                    <tbody>
                                        {AlertKind::ALL.iter().copied().filter(|k| k.choosable()).map(|k| {
                                            let id = format!("f-choice-{}", k.key());
                                            let current = p.delivery(k, false);
                                            view! {
                                                <tr>
                                                    <th scope="row"><label for=id.clone()>{k.label()}</label></th>
                                                    <td>
                                                        <select id=id name=format!("choices[{}]", k.key())>
                                                            {Delivery::ALL.iter().map(|d| view! { <option value=d.key() selected=*d == current>{d.label()}</option> }).collect_view()}
                                                        </select>
                                                        <span class="field-error" aria-live="polite">{field(format!("choices.{}", k.key()))}</span>
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                                <p class="hint">"A breach of your partner's SLA always reaches its support contacts at once, whatever you choose here."</p>
                                <button type="submit" class="primary">"Save preferences"</button>
                            </ActionForm>
                        </section>
                    }.into_any(),
                }
            })}
        </Suspense>
        <h2>"Sent to me"</h2>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match alerts.await {
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    Ok(p) if p.items.is_empty() => view! { <p class="empty">"No alerts yet."</p> }.into_any(),
                    Ok(p) => {
                        let pages = p.pages();
                        view! {
                            <AlertTable alerts=p.items.clone()/>
                            <Pager path="/alerts" params=vec![] page=p.page pages=pages total=p.total/>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// `/admin/outbox`: every alert row, what failed, and a test email.
#[component]
pub fn OutboxPage() -> impl IntoView {
    let retry = ServerAction::<RetryAlert>::new();
    let test = ServerAction::<SendTestEmail>::new();
    let q = use_query_map();
    let query = move || {
        let q = q.read();
        OutboxQuery {
            status: q.get("status").unwrap_or_default(),
            kind: q.get("kind").unwrap_or_default(),
            page: q.get("page").and_then(|p| p.parse().ok()),
        }
    };
    let outbox = Resource::new(move || (query(), retry.version().get(), test.version().get()), |(query, ..)| get_outbox(query));
    let action_error = move || retry.value().get().and_then(Result::err).or_else(|| test.value().get().and_then(Result::err));
    view! {
        <Title text="Outbox · Integration Tracker"/>
        <h1>"Alert outbox"</h1>
        {move || q.read().get("test").map(|_| view! { <p class="notice" role="status">"Test email queued: it goes out within a minute."</p> })}
        {move || q.read().get("retried").map(|_| view! { <p class="notice" role="status">"Queued again."</p> })}
        {move || action_error().map(|e| view! { <ErrorNotice error=e/> })}
        <ActionForm action=test attr:class="inline">
            <button type="submit">"Send test email to me"</button>
        </ActionForm>
        <form method="get" class="filters" role="search">
            <label>"Status "
                <select name="status">
                    <option value="" selected=move || query().status.is_empty()>"any"</option>
                    {OutboxStatus::ALL.iter().map(|s| view! { <option value=s.key() selected=move || query().status == s.key()>{s.label()}</option> }).collect_view()}
                </select>
            </label>
            <label>"Kind "
                <select name="kind">
                    <option value="" selected=move || query().kind.is_empty()>"any"</option>
                    {AlertKind::ALL.iter().map(|k| view! { <option value=k.key() selected=move || query().kind == k.key()>{k.label()}</option> }).collect_view()}
                </select>
            </label>
            <button type="submit">"Filter"</button>
        </form>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let query = query();
                match outbox.await {
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    Ok(o) => {
                        let pages = o.rows.pages();
                        let params = vec![("status", query.status.clone()), ("kind", query.kind.clone())];
                        view! {
                            <TransportNotice transport=o.transport.clone()/>
                            <p data-testid="mail-description">{format!("Mail goes to {}.", o.transport.description)}</p>
                            <ul class="counts" aria-label="Alerts by status">
                                {o.counts.iter().map(|(s, n)| view! { <li><a href=format!("/admin/outbox?status={}", s.key())>{format!("{}: {n}", s.label())}</a></li> }).collect_view()}
                            </ul>
                            {if o.rows.items.is_empty() {
                                view! { <p class="empty">"No alerts match."</p> }.into_any()
                            } else {
                                view! {
                                    <AlertTable alerts=o.rows.items.clone() show_recipient=true retry=retry/>
                                    <Pager path="/admin/outbox" params=params page=o.rows.page pages=pages total=o.rows.total/>
                                }.into_any()
                            }}
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// The "acknowledge" button of a breached issue (partner members and staff).
#[component]
pub fn BreachAcknowledgement(issue: i64, acknowledged: Option<chrono::DateTime<Utc>>) -> impl IntoView {
    let action = ServerAction::<AcknowledgeBreach>::new();
    // Hydrated, the page is not reloaded: the action's answer is enough to say it is done.
    let done = move || action.value().get().is_some_and(|r| r.is_ok());
    match acknowledged {
        Some(at) => view! { <p class="muted" data-testid="acknowledged">{format!("Breach acknowledged {}.", when(at))}</p> }.into_any(),
        None => view! {
            <Show
                when=move || !done()
                fallback=|| view! { <p class="muted" data-testid="acknowledged">"Breach acknowledged just now."</p> }
            >
                <ActionForm action=action attr:class="inline">
                    <input type="hidden" name="issue" value=issue.to_string()/>
                    <button type="submit">"Acknowledge breach"</button>
                    <span class="hint">" Stops the escalation to the alliance manager."</span>
                </ActionForm>
            </Show>
            {move || action.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
        }
        .into_any(),
    }
}
