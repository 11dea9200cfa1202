//! Registries on a provider's page (latest version, each registry's last
//! poll, the version timeline, what the poller noticed) and Admin → Registry
//! poller (sweep progress, next run, errors per host).

use crate::components::ErrorNotice;
use crate::domain::access::Action as Do;
use crate::domain::registry::{PollView, PollerStatus, ProviderRegistry, VersionView};
use crate::error::AppError;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[server(endpoint = "registry/provider")]
pub async fn get_provider_registry(id: i64) -> Result<ProviderRegistry, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::registry::provider(&db, &caller, id).await)
}

#[server(endpoint = "registry/poll-now")]
pub async fn poll_provider(id: i64) -> Result<u64, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let queued = crate::context::form_result(crate::services::registry::poll_now(&db, &caller, id, chrono::Utc::now()).await)?;
    leptos_axum::redirect(&format!("/integrations/{id}?polled=1#registry-heading"));
    Ok(queued)
}

#[server(endpoint = "registry/status")]
pub async fn get_poller_status() -> Result<PollerStatus, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::registry::status(&db, &caller).await)
}

fn when(at: Option<DateTime<Utc>>) -> String {
    at.map(crate::pages::pipeline::when).unwrap_or_else(|| "—".into())
}

fn outcome_label(outcome: Option<&str>) -> &'static str {
    match outcome {
        Some("ok") => "listed",
        Some("not_modified") => "unchanged",
        Some("not_found") => "not found",
        Some("unauthorised") => "unauthorised",
        Some("refused") => "refused",
        Some("error") => "failed",
        Some(_) => "unknown",
        None => "not polled yet",
    }
}

/// How many versions show before "show all".
const VERSIONS_SHOWN: usize = 15;

#[component]
pub fn RegistrySection(integration_id: i64, partner_id: i64) -> impl IntoView {
    let poll = ServerAction::<PollProvider>::new();
    let registry = Resource::new(move || poll.version().get(), move |_| get_provider_registry(integration_id));
    let query = use_query_map();
    let queued = move || poll.value().get().is_some_and(|r| r.is_ok()) || query.read().get("polled").is_some();
    let error = move || poll.value().get().and_then(Result::err);
    view! {
        <section class="registry" aria-labelledby="registry-heading">
            <header class="section-head">
                <h2 id="registry-heading">"Registries"</h2>
                <crate::components::Allowed action=Do::Review { partner: partner_id }>
                    <ActionForm action=poll attr:class="inline">
                        <input type="hidden" name="id" value=integration_id.to_string()/>
                        <button type="submit">"Poll now"</button>
                    </ActionForm>
                </crate::components::Allowed>
            </header>
            {move || queued().then(|| view! { <p class="notice" role="status">"Queued: the poller looks at this provider within a minute. Reload to see the result."</p> })}
            {move || error().map(|e| view! { <ErrorNotice error=e/> })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match registry.await {
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                        Ok(r) => view! { <RegistryDetails registry=r/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn RegistryDetails(registry: ProviderRegistry) -> impl IntoView {
    let r = registry;
    if r.polls.is_empty() {
        return view! {
            <p class="empty">"Not polled yet. The poller looks up every provider with a source address within a minute of its creation."</p>
        }
        .into_any();
    }
    let hosts: Vec<String> = r.polls.iter().map(|p| p.registry_host.clone()).collect();
    let latest = r.latest.clone();
    let total = r.versions.len();
    let (shown, rest): (Vec<VersionView>, Vec<VersionView>) = {
        let mut all = r.versions.clone();
        let rest = all.split_off(total.min(VERSIONS_SHOWN));
        (all, rest)
    };
    let gaps: Vec<(String, Vec<String>)> = r.gaps.iter().filter(|(_, g)| !g.is_empty()).cloned().collect();
    let hosts_for_rest = hosts.clone();
    view! {
        <p class="latest">
            {match latest {
                Some(v) => view! { "Latest version " <span class="badge version" data-testid="latest-version">{v}</span> }.into_any(),
                None => view! { <span class="muted">"No version found yet."</span> }.into_any(),
            }}
        </p>
        <table class="polls">
            <caption class="sr-only">"Registries this provider is looked up on"</caption>
            <thead><tr><th scope="col">"Registry"</th><th scope="col">"Versions"</th><th scope="col">"Last poll"</th><th scope="col">"Result"</th><th scope="col">"Next poll"</th><th scope="col">"Registry tier"</th></tr></thead>
            <tbody>{r.polls.into_iter().map(|p| view! { <PollRow poll=p/> }).collect_view()}</tbody>
        </table>
        {gaps.into_iter().map(|(host, missing)| view! {
            <p class="gap" data-testid="mirror-gap">{format!("{host} lacks {}: {}", if missing.len() == 1 { "one version" } else { "versions" }, missing.join(", "))}</p>
        }).collect_view()}
        {(total > 0).then(|| view! {
            <h3>"Versions"</h3>
            <VersionTable versions=shown hosts=hosts.clone()/>
            {(!rest.is_empty()).then(|| view! {
                <details class="more-versions">
                    <summary>{format!("Show {} older versions", rest.len())}</summary>
                    <VersionTable versions=rest hosts=hosts_for_rest/>
                </details>
            })}
        })}
        {(!r.events.is_empty()).then(|| view! {
            <h3>"What the poller noticed"</h3>
            <ul class="registry-events">
                {r.events.into_iter().map(|e| view! {
                    <li class=format!("event event-{}", e.kind.key())>
                        <time datetime=e.occurred_at.to_rfc3339()>{e.occurred_at.format("%Y-%m-%d %H:%M").to_string()}</time>" "
                        <strong>{e.kind.label()}</strong>{format!(" on {}: {}", e.registry_host, e.detail)}
                    </li>
                }).collect_view()}
            </ul>
        })}
    }
    .into_any()
}

#[component]
fn PollRow(poll: PollView) -> impl IntoView {
    let p = poll;
    let failing = matches!(p.last_outcome.as_deref(), Some("error" | "refused" | "unauthorised"));
    view! {
        <tr class=failing.then_some("failing")>
            <th scope="row"><code>{p.registry_host.clone()}</code></th>
            <td>{format!("{}{}", p.versions, p.latest.map(|l| format!(" (latest {l})")).unwrap_or_default())}</td>
            <td>{when(p.last_polled_at)}</td>
            <td>
                <span class=format!("outcome outcome-{}", p.last_outcome.clone().unwrap_or_else(|| "none".into()))>{outcome_label(p.last_outcome.as_deref())}</span>
                {p.last_error.map(|e| view! { <div class="error-text">{e}</div> })}
            </td>
            <td>{when(Some(p.next_poll_at))}</td>
            <td>
                {p.registry_tier.unwrap_or_else(|| "—".into())}
                {p.downloads.map(|d| view! { <div class="muted">{format!("{d} downloads")}</div> })}
                {p.warning.map(|w| view! { <div class="warning-text">{w}</div> })}
            </td>
        </tr>
    }
}

#[component]
fn VersionTable(versions: Vec<VersionView>, hosts: Vec<String>) -> impl IntoView {
    let head = hosts.iter().map(|h| view! { <th scope="col"><code>{h.clone()}</code></th> }).collect_view();
    view! {
        <table class="versions">
            <thead><tr><th scope="col">"Version"</th><th scope="col">"Published"</th><th scope="col">"Protocols"</th><th scope="col">"Platforms"</th>{head}<th scope="col">"Release"</th></tr></thead>
            <tbody>
                {versions.into_iter().map(|v| {
                    let presence = hosts.iter().map(|h| {
                        let on = v.hosts.contains(h);
                        view! { <td class=if on { "present" } else { "absent" }>{if on { "✓ listed" } else { "— missing" }}</td> }
                    }).collect_view();
                    let published = match v.published_at {
                        Some(at) => at.format("%Y-%m-%d").to_string(),
                        None => format!("first seen {}", v.first_seen_at.format("%Y-%m-%d")),
                    };
                    let release = match v.release_check.as_str() {
                        "complete" => view! { <span class="check-complete">"complete"</span> }.into_any(),
                        "incomplete" => view! { <span class="check-incomplete">"incomplete"</span><div class="error-text">{v.release_missing.clone().unwrap_or_default()}</div> }.into_any(),
                        _ => view! { <span class="muted">"not checked"</span> }.into_any(),
                    };
                    view! {
                        <tr>
                            <th scope="row">{v.version.clone()}</th>
                            <td>{published}</td>
                            <td>{v.protocols.join(", ")}</td>
                            <td title=v.platforms.join(", ")>{format!("{} ({})", v.platforms.len(), v.platforms.iter().take(4).cloned().collect::<Vec<_>>().join(", "))}{(v.platforms.len() > 4).then_some(", …")}</td>
                            {presence}
                            <td>{release}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// `/admin/registry`: what the poller is doing.
#[component]
pub fn PollerStatusPage() -> impl IntoView {
    let status = Resource::new(|| (), |_| get_poller_status());
    view! {
        <Title text="Registry poller · Integration Tracker"/>
        <h1>"Registry poller"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match status.await {
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    Ok(s) => view! { <StatusDetails status=s/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn StatusDetails(status: PollerStatus) -> impl IntoView {
    let s = status;
    let sweep = match s.sweep {
        None => view! { <p class="empty">"No sweep has run yet."</p> }.into_any(),
        Some(w) => {
            let line = match w.finished_at {
                Some(at) => format!("Last sweep finished {} ({} polled, {} failed, on {}).", when(Some(at)), w.done, w.failed, w.instance),
                None => format!(
                    "Sweep in progress since {}: {} of {} done, {} failed (on {}).",
                    when(Some(w.started_at)),
                    w.done,
                    w.total,
                    w.failed,
                    w.instance
                ),
            };
            view! {
                <p data-testid="sweep">{line}</p>
                {w.finished_at.is_none().then(|| view! { <progress max=w.total.max(1).to_string() value=w.done.to_string()>{format!("{} of {}", w.done, w.total)}</progress> })}
            }
            .into_any()
        }
    };
    view! {
        <dl class="details">
            <dt>"Providers polled"</dt><dd>{s.providers}</dd>
            <dt>"Next poll due"</dt><dd>{when(s.next_run)}</dd>
            <dt>"Last results"</dt>
            <dd>{if s.outcomes.is_empty() { "—".to_string() } else { s.outcomes.iter().map(|(o, n)| format!("{n} {}", outcome_label(Some(o.as_str())))).collect::<Vec<_>>().join(", ") }}</dd>
        </dl>
        {sweep}
        <h2>"Hosts"</h2>
        {if s.hosts.is_empty() {
            view! { <p class="empty">"No provider has a source address yet."</p> }.into_any()
        } else {
            view! {
                <table>
                    <thead><tr><th scope="col">"Host"</th><th scope="col">"Providers"</th><th scope="col">"Failing"</th><th scope="col">"Last error"</th><th scope="col">"Paused until"</th></tr></thead>
                    <tbody>
                        {s.hosts.into_iter().map(|h| view! {
                            <tr class=(h.failing > 0).then_some("failing")>
                                <th scope="row"><code>{h.host}</code></th>
                                <td>{h.providers}</td>
                                <td>{h.failing}</td>
                                <td>{match h.last_error { Some(e) => format!("{} ({})", e, when(h.last_error_at)), None => "—".into() }}</td>
                                <td>{when(h.blocked_until)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}
