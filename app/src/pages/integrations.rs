//! Integration screens: the list, an integration's page, and the
//! create/edit form with a live check of the provider source address.

use crate::components::{use_hydrated, Allowed, ErrorNotice, FieldHelp, Pager, TextField};
use crate::domain::access::Action as Do;
use crate::domain::catalog::{IntegrationKind, Stage, Tier};
use crate::domain::integration::{Integration, IntegrationQuery};
use crate::domain::Page;
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

#[server(endpoint = "integrations/list")]
pub async fn list_integrations(query: IntegrationQuery) -> Result<Page<Integration>, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::integrations::list(&db, &caller, &query).await)
}

#[server(endpoint = "integrations/get")]
pub async fn get_integration(id: i64) -> Result<Integration, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::integrations::get(&db, &caller, id).await)
}

/// Partners to choose from: (slug, name, kind).
#[server(endpoint = "partners/options")]
pub async fn partner_options() -> Result<Vec<(String, String, String)>, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::services::partners::names(&db, &caller).await
}

/// What the source address check shows while typing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddressCheck {
    pub fully_qualified: String,
    pub display: String,
    pub registry_url: Option<String>,
}

/// Normalises a source address without saving anything. Runs on the
/// server so the browser bundle carries no IDNA tables.
#[server(endpoint = "integrations/check-address")]
pub async fn check_source_address(address: String) -> Result<AddressCheck, AppError> {
    use crate::domain::source_address::SourceAddress;
    crate::context::signed_in()?;
    match SourceAddress::parse(&address) {
        Ok(a) => Ok(AddressCheck { fully_qualified: a.fully_qualified(), display: a.to_string(), registry_url: a.registry_page_url() }),
        Err(e) => crate::context::answer(Err(AppError::invalid([("source_address".to_string(), vec![e.0])].into_iter().collect()))),
    }
}

/// Creates an integration (no `current_id`) or updates the one named by
/// it, then sends the browser to the integration's page.
#[server(endpoint = "integrations/save")]
#[allow(clippy::too_many_arguments)]
pub async fn save_integration(
    #[server(default)] current_id: String,
    #[server(default)] kind: String,
    #[server(default)] name: String,
    #[server(default)] partner: String,
    #[server(default)] categories: Vec<String>,
    #[server(default)] repository_url: String,
    #[server(default)] tier: String,
    #[server(default)] stage: String,
    #[server(default)] source_address: String,
    #[server(default)] verified_version_range: String,
) -> Result<(), AppError> {
    use crate::domain::integration::IntegrationInput;
    use crate::services::integrations;
    let result = async {
        let (db, caller) = crate::context::signed_in()?;
        let input =
            IntegrationInput { kind, name, partner, categories, repository_url, tier, stage, source_address, verified_version_range };
        match current_id.trim() {
            "" => integrations::create(&db, &caller, &input).await,
            id => {
                let id = id.parse().map_err(|_| AppError::NotFound(format!("integration {id}")))?;
                integrations::update(&db, &caller, id, &input).await
            }
        }
    }
    .await;
    let integration = crate::context::form_result(result)?;
    leptos_axum::redirect(&format!("/integrations/{}", integration.id));
    Ok(())
}

fn query_from_url() -> IntegrationQuery {
    let q = use_query_map();
    let q = q.read();
    IntegrationQuery {
        q: q.get("q").unwrap_or_default(),
        partner: q.get("partner").unwrap_or_default(),
        kind: q.get("kind").unwrap_or_default(),
        tier: q.get("tier").unwrap_or_default(),
        stage: q.get("stage").unwrap_or_default(),
        page: q.get("page").and_then(|p| p.parse().ok()),
        per_page: None,
    }
}

/// A table of integrations; the partner column is left out on a partner's page.
#[component]
pub fn IntegrationTable(items: Vec<Integration>, show_partner: bool) -> impl IntoView {
    view! {
        <table class="list">
            <thead><tr>
                <th scope="col">"Integration"</th>
                {show_partner.then(|| view! { <th scope="col">"Partner"</th> })}
                <th scope="col">"Kind"</th><th scope="col">"Source address"</th>
                <th scope="col">"Tier"</th><th scope="col">"Stage"</th>
            </tr></thead>
            <tbody>
                {items.into_iter().map(|i| view! {
                    <tr>
                        <td><a href=format!("/integrations/{}", i.id)>{i.name}</a></td>
                        {show_partner.then(|| view! { <td><a href=format!("/partners/{}", i.partner_slug)>{i.partner_name}</a></td> })}
                        <td>{i.kind.label()}</td>
                        <td>{i.source_address_display.map(|a| view! { <code>{a}</code> })}</td>
                        <td><span class=format!("tier tier-{}", i.tier.key())>{i.tier.label()}</span></td>
                        <td>{i.stage.label()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
pub fn IntegrationsPage() -> impl IntoView {
    let query = use_query_map();
    let current = move || {
        query.track();
        query_from_url()
    };
    let integrations = Resource::new(current, list_integrations);
    let initial = query_from_url();
    view! {
        <Title text="Integrations · Integration Tracker"/>
        <header class="page-head">
            <h1>"Integrations"</h1>
            <Allowed action=Do::Write><A href="/integrations/new" attr:class="button primary">"Add integration"</A></Allowed>
        </header>
        <Form method="GET" action="/integrations" attr:class="filters" attr:role="search">
            <input type="hidden" name="partner" value=initial.partner.clone()/>
            <div class="field">
                <label for="q">"Search"</label>
                <input id="q" type="search" name="q" value=initial.q.clone() placeholder="Name or source address"/>
            </div>
            <div class="field">
                <label for="kind">"Kind"</label>
                <select id="kind" name="kind">
                    <option value="">"Any kind"</option>
                    {IntegrationKind::ALL.iter().map(|k| view! { <option value=k.key() selected=initial.kind == k.key()>{k.label()}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="tier">"Tier"</label>
                <select id="tier" name="tier">
                    <option value="">"Any tier"</option>
                    {Tier::ALL.iter().map(|t| view! { <option value=t.key() selected=initial.tier == t.key()>{t.label()}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="stage">"Stage"</label>
                <select id="stage" name="stage">
                    <option value="">"Any stage"</option>
                    {Stage::ALL.iter().map(|s| view! { <option value=s.key() selected=initial.stage == s.key()>{s.label()}</option> }).collect_view()}
                </select>
            </div>
            <button type="submit">"Filter"</button>
        </Form>
        <Transition fallback=|| view! { <p class="loading">"Loading integrations…"</p> }>
            {move || Suspend::new(async move {
                let q = current();
                match integrations.await {
                    Ok(page) if page.items.is_empty() => {
                        let filtered = q != IntegrationQuery { page: q.page, ..Default::default() };
                        if filtered {
                            view! { <div class="empty"><p>"No integrations match these filters."</p><a href="/integrations">"Clear the filters"</a></div> }.into_any()
                        } else {
                            view! { <div class="empty"><p>"No integrations yet. Add a partner's provider or run task to start tracking it."</p>
                                <Allowed action=Do::Write><a class="button primary" href="/integrations/new">"Add an integration"</a></Allowed></div> }.into_any()
                        }
                    }
                    Ok(page) => {
                        let pages = page.pages();
                        let params = vec![("q", q.q), ("partner", q.partner), ("kind", q.kind), ("tier", q.tier), ("stage", q.stage)];
                        view! {
                            <IntegrationTable items=page.items show_partner=true/>
                            <Pager path="/integrations" params=params page=page.page pages=pages total=page.total/>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn id_param() -> impl Fn() -> Option<i64> + Copy + Send + Sync + 'static {
    let params = use_params_map();
    move || params.read().get("id").and_then(|s| s.parse().ok())
}

#[component]
pub fn IntegrationPage() -> impl IntoView {
    let id = id_param();
    let integration = Resource::new(id, |id| async move {
        match id {
            Some(id) => get_integration(id).await,
            None => Err(AppError::NotFound("integration".into())),
        }
    });
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match integration.await {
                    Ok(i) => view! { <IntegrationDetails integration=i/> }.into_any(),
                    Err(AppError::NotFound(what)) => {
                        #[cfg(feature = "ssr")]
                        crate::context::set_status(404);
                        view! {
                            <Title text="Not found · Integration Tracker"/>
                            <h1>"No such integration"</h1>
                            <p>{format!("There is no {what}. ")}<a href="/integrations">"Back to the integrations"</a></p>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn IntegrationDetails(integration: Integration) -> impl IntoView {
    let i = integration;
    let none = || view! { <span class="muted">"—"</span> }.into_any();
    let track = i
        .kind
        .track()
        .iter()
        .map(|s| {
            let state = match i.kind.track().iter().position(|x| x == s).cmp(&i.kind.track().iter().position(|x| *x == i.stage)) {
                std::cmp::Ordering::Less => "done",
                std::cmp::Ordering::Equal => "current",
                std::cmp::Ordering::Greater => "todo",
            };
            view! { <li class=state aria-current=(state == "current").then_some("step")>{s.label()}</li> }
        })
        .collect_view();
    view! {
        <Title text=format!("{} · Integration Tracker", i.name)/>
        <nav class="crumbs" aria-label="Breadcrumb">
            <a href="/partners">"Partners"</a>" / "<a href=format!("/partners/{}", i.partner_slug)>{i.partner_name.clone()}</a>
        </nav>
        <header class="page-head">
            <h1>{i.name.clone()}</h1>
            <Allowed action=Do::EditIntegration { partner: i.partner_id }><a class="button" href=format!("/integrations/{}/edit", i.id)>"Edit integration"</a></Allowed>
        </header>
        <ol class="track" aria-label="Stages">{track}</ol>
        <dl class="details">
            <dt>"Kind"</dt><dd>{i.kind.label()}</dd>
            <dt>"Partner"</dt><dd><a href=format!("/partners/{}", i.partner_slug)>{i.partner_name.clone()}</a></dd>
            <dt>"Tier"</dt><dd><span class=format!("tier tier-{}", i.tier.key())>{i.tier.label()}</span></dd>
            <dt>"Stage"</dt><dd>{i.stage.label()}</dd>
            {(i.kind == crate::domain::catalog::IntegrationKind::RunTask).then(|| view! {
                <dt>"Terraform Cloud badge"</dt>
                <dd>{match i.badge_granted_at {
                    Some(at) => format!("Granted on {}", at.format("%Y-%m-%d")),
                    None => "Not yet: granted when the Release stage's support documentation is accepted".to_string(),
                }}</dd>
            })}
            <dt>"Categories"</dt>
            <dd class="tags">{i.categories.iter().map(|c| view! { <span class="tag">{c.clone()}</span> }).collect_view()}</dd>
            {i.source_address.clone().map(|fq| view! {
                <dt>"Source address"</dt>
                <dd><code class="source-address">{i.source_address_display.clone()}</code></dd>
                <dt>"Normalised"</dt>
                <dd><code data-testid="normalised-address">{fq}</code></dd>
            })}
            {(i.kind == IntegrationKind::Provider).then(|| view! {
                <dt>"Registry"</dt>
                <dd>{match i.registry_url.clone() {
                    Some(url) => { let text = url.clone(); view! { <a href=url>{text}</a> }.into_any() }
                    None => view! { <span class="muted">"Not on the public registry"</span> }.into_any(),
                }}</dd>
                <dt>"Verified version range"</dt>
                <dd>{match i.verified_version_range.clone() { Some(r) => view! { <code>{r}</code> }.into_any(), None => none() }}</dd>
            })}
            <dt>"Repository"</dt>
            <dd>{match i.repository_url.clone() { Some(u) => { let text = u.clone(); view! { <a href=u>{text}</a> }.into_any() } None => none() }}</dd>
        </dl>
        {(i.kind == crate::domain::catalog::IntegrationKind::RunTask).then(|| view! {
            <crate::pages::run_task::RegistrationSection integration_id=i.id partner_id=i.partner_id/>
        })}
        {(i.kind == IntegrationKind::Provider).then(|| view! {
            <crate::pages::registry::RegistrySection integration_id=i.id partner_id=i.partner_id/>
        })}
        <crate::pages::pipeline::PipelineSection integration_id=i.id/>
        <crate::pages::support::SupportSection integration_id=i.id partner_id=i.partner_id/>
        <crate::pages::flags::FlagSection integration_id=i.id partner_id=i.partner_id/>
        <crate::pages::audit::Timeline subject=crate::pages::audit::Subject::Integration(i.id)/>
    }
}

/// `/integrations/new` (with `?partner=…&kind=…` to prefill) and `/integrations/:id/edit`.
#[component]
pub fn IntegrationEditPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id");
    let existing = Resource::new(id, |id| async move {
        match id {
            None => Ok(None),
            Some(id) => match id.parse() {
                Ok(id) => get_integration(id).await.map(Some),
                Err(_) => Err(AppError::NotFound("integration".into())),
            },
        }
    });
    let partners = Resource::new(|| (), |_| partner_options());
    let me = use_context::<crate::components::CurrentCaller>();
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let caller = match me {
                    Some(crate::components::CurrentCaller(r)) => r.await.ok().flatten(),
                    None => None,
                };
                match (existing.await, partners.await) {
                    (Ok(i), Ok(p)) => {
                        // The tier and a starting stage are staff's to set (the server checks it too).
                        let partner = i.as_ref().map(|i| i.partner_id).or_else(|| caller.as_ref().and_then(|c| c.partner.as_ref().map(|p| p.id)));
                        let staff = caller.is_some_and(|c| c.may(crate::domain::access::Action::Review { partner: partner.unwrap_or(0) }));
                        view! { <IntegrationForm existing=i partners=p staff=staff/> }.into_any()
                    }
                    (Err(e), _) | (_, Err(e)) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn IntegrationForm(existing: Option<Integration>, partners: Vec<(String, String, String)>, staff: bool) -> impl IntoView {
    let action = ServerAction::<SaveIntegration>::new();
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    let field = move |name: &'static str| Signal::derive(move || error.get().and_then(|e| e.field(name)));
    let query = use_query_map();
    let mut v = existing.as_ref().map(Integration::to_input).unwrap_or_default();
    if existing.is_none() {
        let q = query.read_untracked();
        v.partner = q.get("partner").unwrap_or_default();
        v.kind = q.get("kind").unwrap_or_else(|| "provider".into());
    }
    let title = match &existing {
        Some(e) => format!("Edit {}", e.name),
        None => "Add an integration".to_string(),
    };
    let cancel = existing.as_ref().map(|e| format!("/integrations/{}", e.id)).unwrap_or_else(|| "/integrations".into());

    // After hydration the form adapts to the chosen kind; before it, every
    // option is shown and the server's validation has the last word.
    let hydrated = use_hydrated();
    let (kind, set_kind) = signal(v.kind.clone());
    let is_provider = move || !hydrated.get() || kind.get() == "provider";
    let fits_kind = move |c: &'static str| {
        move || !hydrated.get() || IntegrationKind::parse(&kind.get()).map(|k| k.categories().contains(&c)).unwrap_or(true)
    };
    let (address, set_address) = signal(v.source_address.clone());
    let check = Action::new(move |a: &String| check_source_address(a.clone()));
    let chosen = v.categories.clone();
    let partner = v.partner.clone();
    let tier = v.tier.clone();
    let stage = v.stage.clone();
    let all_categories = crate::domain::catalog::all_categories();

    view! {
        <Title text=format!("{title} · Integration Tracker")/>
        <h1>{title}</h1>
        {move || error.get().map(|e| view! { <ErrorNotice error=e/> })}
        <ActionForm action=action attr:class="form" attr:novalidate=true>
            <input type="hidden" name="current_id" value=existing.as_ref().map(|e| e.id.to_string()).unwrap_or_default()/>
            <div class="field" class:invalid=move || field("kind").get().is_some()>
                <label for="f-kind">"Kind"<span class="req" aria-hidden="true">" *"</span></label>
                <select id="f-kind" name="kind" on:change=move |ev| set_kind.set(event_target_value(&ev)) aria-describedby="f-kind-hint f-kind-error">
                    {IntegrationKind::ALL.iter().map(|k| view! { <option value=k.key() selected=v.kind == k.key()>{k.label()}</option> }).collect_view()}
                </select>
                <FieldHelp id="f-kind".into() hint=None error=field("kind")/>
            </div>
            <TextField label="Name" name="name" value=v.name.clone() required=true error=field("name")/>
            <div class="field" class:invalid=move || field("partner").get().is_some()>
                <label for="f-partner">"Partner"<span class="req" aria-hidden="true">" *"</span></label>
                <select id="f-partner" name="partner" aria-describedby="f-partner-hint f-partner-error">
                    <option value="" selected=partner.is_empty()>"Choose…"</option>
                    {partners.into_iter().map(|(slug, name, _)| {
                        let selected = slug == partner;
                        view! { <option value=slug selected=selected>{name}</option> }
                    }).collect_view()}
                </select>
                <FieldHelp id="f-partner".into() hint=None error=field("partner")/>
            </div>
            <fieldset class="field checkboxes" class:invalid=move || field("categories").get().is_some()>
                <legend>"Use-case categories"<span class="req" aria-hidden="true">" *"</span></legend>
                {all_categories.into_iter().map(|c| {
                    let id = format!("f-cat-{}", crate::domain::slug::slugify(c));
                    let for_id = id.clone();
                    view! {
                        <label for=for_id class:hidden=move || !fits_kind(c)()>
                            <input type="checkbox" id=id name="categories[]" value=c checked=chosen.iter().any(|x| x == c)/>{c}
                        </label>
                    }
                }).collect_view()}
                <FieldHelp id="f-categories".into() hint=Some("Providers take infrastructure categories; run tasks take workflow categories.".into()) error=field("categories")/>
            </fieldset>
            <div class="field" class:hidden=move || !is_provider() class:invalid=move || field("source_address").get().is_some()>
                <label for="f-source_address">"Source address"</label>
                <div class="inline">
                    <input id="f-source_address" type="text" name="source_address" value=v.source_address.clone()
                        placeholder="acme/cloud or registry.example.com/acme/cloud"
                        on:input=move |ev| set_address.set(event_target_value(&ev))
                        aria-describedby="f-source_address-hint f-source_address-error f-source_address-check"/>
                    <button type="button" id="check-address" disabled=move || !hydrated.get()
                        on:click=move |_| { check.dispatch(address.get_untracked()); }>
                        "Check address"
                    </button>
                </div>
                <p class="check" id="f-source_address-check" aria-live="polite">
                    {move || check.value().get().map(|r| match r {
                        Ok(c) => view! { <span class="ok">"✓ "<code>{c.fully_qualified}</code>" · shown as "<code>{c.display}</code></span> }.into_any(),
                        Err(e) => view! { <span class="bad">{e.field("source_address").unwrap_or_else(|| e.to_string())}</span> }.into_any(),
                    })}
                </p>
                <FieldHelp id="f-source_address".into() hint=Some("Providers only: [hostname/]namespace/type. The hostname defaults to registry.terraform.io.".into()) error=field("source_address")/>
            </div>
            <div class="field" class:hidden=move || !is_provider() class:invalid=move || field("verified_version_range").get().is_some()>
                <label for="f-verified_version_range">"Verified version range"</label>
                <input id="f-verified_version_range" type="text" name="verified_version_range" value=v.verified_version_range.clone()
                    placeholder="~> 2.0" aria-describedby="f-verified_version_range-hint f-verified_version_range-error"/>
                <FieldHelp id="f-verified_version_range".into() hint=Some("Providers only, optional. A release outside this range asks for re-verification.".into()) error=field("verified_version_range")/>
            </div>
            <TextField label="Repository URL" name="repository_url" input_type="url" value=v.repository_url.clone() error=field("repository_url")
                placeholder="https://github.com/acme/terraform-provider-cloud"/>
            {if staff {
                view! {
                    <div class="field" class:invalid=move || field("tier").get().is_some()>
                        <label for="f-tier">"Tier"</label>
                        <select id="f-tier" name="tier" aria-describedby="f-tier-hint f-tier-error">
                            {Tier::ALL.iter().map(|t| view! { <option value=t.key() selected=tier == t.key() || (tier.is_empty() && *t == Tier::Community)>{t.label()}</option> }).collect_view()}
                        </select>
                        <FieldHelp id="f-tier".into() hint=None error=field("tier")/>
                    </div>
                }.into_any()
            } else {
                let current = Tier::parse(&tier).unwrap_or(Tier::Community);
                view! {
                    <div class="field" class:invalid=move || field("tier").get().is_some()>
                        <span class="label">"Tier"</span>
                        <input type="hidden" name="tier" value=current.key()/>
                        <p id="f-tier">{current.label()}<span class="hint">" · set by alliances staff: a provider becomes verified when its Verify stage is accepted"</span></p>
                        <FieldHelp id="f-tier".into() hint=None error=field("tier")/>
                    </div>
                }.into_any()
            }}
            {match existing.as_ref() {
                // Once tracked, the pipeline moves the stage: it is shown, not edited.
                Some(e) => view! {
                    <div class="field">
                        <span class="label">"Stage"</span>
                        <input type="hidden" name="stage" value=e.stage.key()/>
                        <p>{e.stage.label()}<span class="hint">" · moves with the pipeline: report and review its tasks"</span></p>
                    </div>
                }.into_any(),
                None if !staff => view! {
                    <div class="field" class:invalid=move || field("stage").get().is_some()>
                        <span class="label">"Stage"</span>
                        <input type="hidden" name="stage" value=""/>
                        <p id="f-stage">"The first stage of its track"<span class="hint">" · alliances staff can add an integration that is further along"</span></p>
                        <FieldHelp id="f-stage".into() hint=None error=field("stage")/>
                    </div>
                }.into_any(),
                None => view! {
                    <div class="field" class:invalid=move || field("stage").get().is_some()>
                        <label for="f-stage">"Stage"</label>
                        <select id="f-stage" name="stage" aria-describedby="f-stage-hint f-stage-error">
                            <option value="" selected=stage.is_empty()>"First stage of its track"</option>
                            {IntegrationKind::ALL.iter().map(|k| view! {
                                <optgroup label=format!("{} track", k.label())>
                                    {k.track().iter().map(|s| view! { <option value=s.key() selected=stage == s.key()>{s.label()}</option> }).collect_view()}
                                </optgroup>
                            }).collect_view()}
                        </select>
                        <FieldHelp id="f-stage".into() hint=Some("Where it stands today, for integrations already under way: the tasks of earlier stages start accepted.".into()) error=field("stage")/>
                    </div>
                }.into_any(),
            }}
            <div class="actions">
                <button type="submit" class="primary" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Saving…" } else { "Save integration" }}
                </button>
                <a href=cancel>"Cancel"</a>
            </div>
        </ActionForm>
    }
}
