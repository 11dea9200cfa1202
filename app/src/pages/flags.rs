//! Tier flags: the list (`/flags`), one flag with its evidence and the
//! reviewer's decision (`/flags/:id`), exemptions, and the rules' settings
//! with the stage targets (`/admin/flags`).

use crate::components::{href_with, successes, Allowed, ErrorNotice, Pager};
use crate::domain::access::Action as Do;
use crate::domain::dashboard::StageTargets;
use crate::domain::flag::{FlagQuery, FlagSettings, FlagState, FlagView, Mode, Rule};
use crate::domain::Page;
use crate::error::AppError;
use crate::pages::pipeline::when;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use std::collections::BTreeMap;

#[server(endpoint = "flags/list")]
pub async fn list_flags(query: FlagQuery) -> Result<Page<FlagView>, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::flags::list(&db, &caller, &query, chrono::Utc::now()).await)
}

#[server(endpoint = "flags/get")]
pub async fn get_flag(id: i64) -> Result<FlagView, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::flags::get(&db, &caller, id, chrono::Utc::now()).await)
}

#[server(endpoint = "flags/decide")]
pub async fn decide_flag(
    id: i64,
    #[server(default)] outcome: String,
    #[server(default)] tier: String,
    #[server(default)] reason: String,
) -> Result<(), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let input = crate::domain::flag::DecisionInput { outcome, tier, reason };
    crate::context::form_result(crate::services::flags::decide(&db, &caller, id, &input, chrono::Utc::now()).await)?;
    leptos_axum::redirect(&format!("/flags/{id}?decided=1"));
    Ok(())
}

#[server(endpoint = "flags/exempt")]
pub async fn exempt_integration(
    flag: i64,
    integration: i64,
    #[server(default)] rule: String,
    #[server(default)] until: String,
    #[server(default)] reason: String,
) -> Result<(), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let input = crate::domain::flag::ExemptionInput { rule, until, reason };
    crate::context::form_result(crate::services::flags::exempt(&db, &caller, integration, &input, chrono::Utc::now()).await)?;
    leptos_axum::redirect(&format!("/flags/{flag}?exempted=1"));
    Ok(())
}

#[server(endpoint = "flags/settings")]
pub async fn get_flag_settings() -> Result<(FlagSettings, StageTargets), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let settings = crate::context::answer(crate::services::flags::settings(&db, &caller).await)?;
    let targets = crate::context::answer(crate::services::dashboard::targets(&db, &caller).await)?;
    Ok((settings, targets))
}

#[server(endpoint = "flags/save-settings")]
#[allow(clippy::too_many_arguments)]
pub async fn save_flag_settings(
    #[server(default)] window_days: String,
    #[server(default)] compliance_threshold: String,
    #[server(default)] min_issues: String,
    #[server(default)] stale_release_months: String,
    #[server(default)] grace_days: String,
    #[server(default)] recheck_after_keep_days: String,
    #[server(default)] modes: BTreeMap<String, String>,
    #[server(default)] targets: BTreeMap<String, String>,
) -> Result<(), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let input = crate::domain::flag::FlagSettingsInput {
        window_days,
        compliance_threshold,
        min_issues,
        stale_release_months,
        grace_days,
        recheck_after_keep_days,
        modes,
    };
    // Both are checked before either is saved, so a bad target keeps the rules unchanged too.
    crate::context::form_result(caller.check(Do::Configure, || "program settings".into()))?;
    let now = chrono::Utc::now();
    let mut problems = crate::domain::FieldErrors::new();
    if let Err(e) = input.validate() {
        problems.extend(e);
    }
    if let Err(e) = StageTargets::validate(&targets) {
        problems.extend(e);
    }
    if !problems.is_empty() {
        return crate::context::form_result(Err(AppError::invalid(problems)));
    }
    crate::context::form_result(crate::services::flags::save_settings(&db, &caller, &input, now).await)?;
    crate::context::form_result(crate::services::dashboard::save_targets(&db, &caller, &targets, now).await)?;
    leptos_axum::redirect("/admin/flags?saved=1");
    Ok(())
}

fn state_label(f: &FlagView) -> String {
    match (f.state, f.due_at) {
        (FlagState::Grace, Some(due)) => format!("In grace period: due for decision {}", when(due)),
        (FlagState::Exempt, _) => match f.exempt_until {
            Some(until) => format!("Exempt until {}", when(until)),
            None => "Exempt".into(),
        },
        (s, _) => s.label().to_string(),
    }
}

/// `/flags`: every flag the viewer may see, open ones first.
#[component]
pub fn FlagsPage() -> impl IntoView {
    let q = use_query_map();
    let query = move || {
        let q = q.read();
        let get = |k: &str| q.get(k).unwrap_or_default();
        FlagQuery {
            state: match get("state") {
                s if s.is_empty() => "open".into(),
                s => s,
            },
            rule: get("rule"),
            mine: get("mine") == "true",
            page: get("page").parse().ok(),
            ..Default::default()
        }
    };
    let flags = Resource::new(query, list_flags);
    let initial = query();
    let export = href_with(
        "/api/v1/flags/export.csv",
        &[
            ("state", initial.state.clone()),
            ("rule", initial.rule.clone()),
            ("mine", if initial.mine { "true".into() } else { String::new() }),
        ],
    );
    view! {
        <Title text="Tier flags · Integration Tracker"/>
        <header class="page-head">
            <h1>"Tier flags"</h1>
            <a class="button" href=export download="">"Download CSV"</a>
        </header>
        <form method="get" action="/flags" class="filters" role="search" aria-label="Filter flags">
            <div class="field">
                <label for="f-state">"State"</label>
                <select id="f-state" name="state">
                    {[("open", "Open"), ("due", "Due for decision"), ("grace", "In grace period"), ("preview", "Preview"), ("exempt", "Exempt"), ("decided", "Decided"), ("closed", "Closed"), ("all", "All")]
                        .into_iter().map(|(v, l)| view! { <option value=v selected=initial.state == v>{l}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="f-rule">"Rule"</label>
                <select id="f-rule" name="rule">
                    <option value="">"Any rule"</option>
                    {Rule::ALL.iter().map(|r| view! { <option value=r.key() selected=initial.rule == r.key()>{r.label()}</option> }).collect_view()}
                </select>
            </div>
            <div class="field checkbox">
                <input id="f-mine" type="checkbox" name="mine" value="true" checked=initial.mine/>
                <label for="f-mine">"Only partners I manage"</label>
            </div>
            <div class="actions"><button type="submit">"Filter"</button></div>
        </form>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let q = query();
                match flags.await {
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    Ok(p) if p.items.is_empty() => view! { <p class="empty">"No flags match."</p> }.into_any(),
                    Ok(p) => {
                        let pages = p.pages();
                        let params = vec![("state", q.state.clone()), ("rule", q.rule.clone()), ("mine", if q.mine { "true".into() } else { String::new() })];
                        view! {
                            <table class="flags">
                                <thead><tr><th scope="col">"Integration"</th><th scope="col">"Partner"</th><th scope="col">"Rule"</th><th scope="col">"State"</th><th scope="col">"Reason"</th></tr></thead>
                                <tbody>
                                    {p.items.iter().map(|f| view! {
                                        <tr class=format!("flag-row flag-{}", f.state.key())>
                                            <th scope="row"><a href=format!("/flags/{}", f.id)>{f.integration.clone()}</a></th>
                                            <td>{f.partner.clone()}</td>
                                            <td>{f.rule.label()}</td>
                                            <td><span class=format!("badge flag-state-{}", f.state.key())>{state_label(f)}</span></td>
                                            <td>{f.reason.clone()}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <Pager path="/flags" params=params page=p.page pages=pages total=p.total/>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// `/flags/:id`: why the integration is flagged, what clears it, and the decision.
#[component]
pub fn FlagPage() -> impl IntoView {
    let params = use_params_map();
    let q = use_query_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    let decide = ServerAction::<DecideFlag>::new();
    let exempt = ServerAction::<ExemptIntegration>::new();
    let (decided, exempted) = (successes(decide), successes(exempt));
    let flag = Resource::new(move || (id(), decided.get(), exempted.get()), |(id, _, _)| get_flag(id));
    let decide_error = Signal::derive(move || decide.value().get().and_then(Result::err));
    let exempt_error = Signal::derive(move || exempt.value().get().and_then(Result::err));
    let field = move |e: Signal<Option<AppError>>, name: &'static str| Signal::derive(move || e.get().and_then(|e| e.field(name)));
    view! {
        <Title text="Tier flag · Integration Tracker"/>
        {move || q.read().get("decided").map(|_| view! { <p class="notice" role="status">"Decision recorded."</p> })}
        {move || q.read().get("exempted").map(|_| view! { <p class="notice" role="status">"Exemption recorded."</p> })}
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match flag.await {
                    Err(e) => view! { <h1>"Tier flag"</h1><ErrorNotice error=e/> }.into_any(),
                    Ok(f) => {
                        let open = f.state.is_open();
                        view! {
                            <h1>{format!("{} — {}", f.integration, f.rule.label())}</h1>
                            <p><span class=format!("badge flag-state-{}", f.state.key()) data-testid="flag-state">{state_label(&f)}</span></p>
                            <dl class="facts">
                                <div><dt>"Partner"</dt><dd>{f.partner.clone()}</dd></div>
                                <div><dt>"Integration"</dt><dd><a href=format!("/integrations/{}", f.integration_id)>{f.integration.clone()}</a>{format!(" ({})", f.tier.label())}</dd></div>
                                <div><dt>"Why"</dt><dd>{f.reason.clone()}</dd></div>
                                <div><dt>"Holding since"</dt><dd>{when(f.held_since)}</dd></div>
                                <div><dt>"What clears it"</dt><dd data-testid="clears-when">{f.clears_when.clone()}</dd></div>
                                {f.closed_at.map(|at| view! { <div><dt>"Closed"</dt><dd>{format!("{} — {}", when(at), f.close_note.clone().unwrap_or_default())}</dd></div> })}
                                {f.decided_by.clone().map(|by| view! { <div><dt>"Decided by"</dt><dd>{by}</dd></div> })}
                                {f.exempt_reason.clone().map(|r| view! { <div><dt>"Exemption"</dt><dd>{r}</dd></div> })}
                            </dl>
                            <h2>"Evidence"</h2>
                            <ul class="evidence">
                                {f.evidence.iter().map(|e| match &e.link {
                                    Some(link) => view! { <li><a href=link.clone()>{e.label.clone()}</a></li> }.into_any(),
                                    None => view! { <li>{e.label.clone()}</li> }.into_any(),
                                }).collect_view()}
                            </ul>
                            {open.then(|| view! {
                                <Allowed action=Do::Review { partner: f.partner_id }>
                                    <section aria-labelledby="decide-heading" class="panel">
                                        <h2 id="decide-heading">"Decide"</h2>
                                        {move || decide_error.get().filter(|e| e.fields().is_none() || e.field("outcome").is_some()).map(|e| view! { <ErrorNotice error=e/> })}
                                        <ActionForm action=decide attr:class="form decision">
                                            <input type="hidden" name="id" value=f.id.to_string()/>
                                            <fieldset>
                                                <legend>"Outcome"</legend>
                                                <label><input type="radio" name="outcome" value="downgrade"/>" Downgrade the integration"</label>
                                                <label><input type="radio" name="outcome" value="keep" checked=true/>" Keep its tier"</label>
                                            </fieldset>
                                            <div class="field">
                                                <label for="f-tier">"New tier (downgrade)"</label>
                                                <select id="f-tier" name="tier">
                                                    <option value="community">"Community"</option>
                                                    <option value="archived">"Archived"</option>
                                                </select>
                                                <p class="field-error" aria-live="polite">{field(decide_error, "tier")}</p>
                                            </div>
                                            <div class="field">
                                                <label for="f-reason">"Reason"</label>
                                                <textarea id="f-reason" name="reason" rows="3" aria-describedby="f-reason-hint f-reason-error"></textarea>
                                                <p class="hint" id="f-reason-hint">"Required to keep the tier; the partner reads it."</p>
                                                <p class="field-error" id="f-reason-error" aria-live="polite">{field(decide_error, "reason")}</p>
                                            </div>
                                            <button type="submit" class="primary">"Record decision"</button>
                                        </ActionForm>
                                    </section>
                                    <section aria-labelledby="exempt-heading" class="panel">
                                        <h2 id="exempt-heading">"Exempt from this rule"</h2>
                                        {move || exempt_error.get().filter(|e| e.fields().is_none()).map(|e| view! { <ErrorNotice error=e/> })}
                                        <ActionForm action=exempt attr:class="form exemption">
                                            <input type="hidden" name="flag" value=f.id.to_string()/>
                                            <input type="hidden" name="integration" value=f.integration_id.to_string()/>
                                            <input type="hidden" name="rule" value=f.rule.key()/>
                                            <div class="field">
                                                <label for="f-until">"Until"</label>
                                                <input id="f-until" type="date" name="until" required=true/>
                                                <p class="field-error" aria-live="polite">{field(exempt_error, "until")}</p>
                                            </div>
                                            <div class="field">
                                                <label for="f-exempt-reason">"Reason"</label>
                                                <input id="f-exempt-reason" name="reason" required=true/>
                                                <p class="field-error" aria-live="polite">{field(exempt_error, "reason")}</p>
                                            </div>
                                            <button type="submit">"Exempt"</button>
                                        </ActionForm>
                                    </section>
                                </Allowed>
                            })}
                            <p><a href="/flags">"All flags"</a></p>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// `/admin/flags`: which rules bite, their thresholds, the grace period, and stage targets.
#[component]
pub fn FlagSettingsPage() -> impl IntoView {
    let save = ServerAction::<SaveFlagSettings>::new();
    let q = use_query_map();
    let saved = successes(save);
    let settings = Resource::new(move || saved.get(), |_| get_flag_settings());
    let error = Signal::derive(move || save.value().get().and_then(Result::err));
    let field = move |name: String| Signal::derive(move || error.get().and_then(|e| e.field(&name)));
    view! {
        <Title text="Tier flag settings · Integration Tracker"/>
        <h1>"Tier flag settings"</h1>
        {move || q.read().get("saved").map(|_| view! { <p class="notice" role="status">"Settings saved. They apply from the next evaluation."</p> })}
        {move || error.get().filter(|e| e.fields().is_none()).map(|e| view! { <ErrorNotice error=e/> })}
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    Ok((s, targets)) => {
                        let input = s.to_input();
                        let number = move |name: &'static str, label: &'static str, value: String, hint: &'static str| {
                            let id = format!("f-{name}");
                            view! {
                                <div class="field">
                                    <label for=id.clone()>{label}</label>
                                    <input id=id.clone() name=name value=value inputmode="numeric" aria-describedby=format!("{id}-hint {id}-error")/>
                                    <p class="hint" id=format!("{id}-hint")>{hint}</p>
                                    <p class="field-error" id=format!("{id}-error") aria-live="polite">{field(name.to_string())}</p>
                                </div>
                            }
                        };
                        view! {
                            <ActionForm action=save attr:class="form flag-settings">
                                <fieldset>
                                    <legend>"Rules"</legend>
                                    <p class="hint">"Preview shows a rule's flags without making them due, to try a rule before it bites."</p>
                                    <table class="choices">
                                        <thead><tr><th scope="col">"Rule"</th><th scope="col">"Mode"</th></tr></thead>
                                        <tbody>
                                            {Rule::ALL.iter().map(|r| {
                                                let id = format!("f-mode-{}", r.key());
                                                let current = s.mode(*r);
                                                view! {
                                                    <tr>
                                                        <th scope="row"><label for=id.clone()>{r.label()}</label></th>
                                                        <td>
                                                            <select id=id name=format!("modes[{}]", r.key())>
                                                                {Mode::ALL.iter().map(|m| view! { <option value=m.key() selected=*m == current>{m.label()}</option> }).collect_view()}
                                                            </select>
                                                            <span class="field-error" aria-live="polite">{field(format!("mode.{}", r.key()))}</span>
                                                        </td>
                                                    </tr>
                                                }
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </fieldset>
                                <fieldset>
                                    <legend>"Thresholds"</legend>
                                    {number("window_days", "Compliance window (days)", input.window_days.clone(), "The rolling window compliance is measured over.")}
                                    {number("compliance_threshold", "Compliance threshold (%)", input.compliance_threshold.clone(), "Below this share within the SLA, an integration is flagged.")}
                                    {number("min_issues", "Minimum resolved issues", input.min_issues.clone(), "Fewer resolved issues in the window say too little to flag.")}
                                    {number("stale_release_months", "Months without a release", input.stale_release_months.clone(), "With breaches open, a provider this long without a release is flagged.")}
                                    {number("grace_days", "Grace period (days)", input.grace_days.clone(), "A flag becomes due for decision once its condition has held this long.")}
                                    {number("recheck_after_keep_days", "After \"keep\", wait (days)", input.recheck_after_keep_days.clone(), "How long a kept flag stays away while its condition holds.")}
                                </fieldset>
                                <fieldset>
                                    <legend>"Stage targets (days)"</legend>
                                    <p class="hint">"An integration longer than this in a stage counts as stalled on the dashboard."</p>
                                    {targets.0.iter().map(|(stage, days)| {
                                        let id = format!("f-target-{}", stage.key());
                                        view! {
                                            <div class="field inline">
                                                <label for=id.clone()>{stage.label()}</label>
                                                <input id=id name=format!("targets[{}]", stage.key()) value=days.to_string() inputmode="numeric" size="4"/>
                                                <span class="field-error" aria-live="polite">{field(format!("target.{}", stage.key()))}</span>
                                            </div>
                                        }
                                    }).collect_view()}
                                </fieldset>
                                <button type="submit" class="primary">"Save settings"</button>
                            </ActionForm>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// An integration's tier flags and the partner's end-of-support declaration.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IntegrationFlags {
    pub flags: Vec<FlagView>,
    /// The declared last day of support (YYYY-MM-DD) and its note.
    pub end_of_support: Option<(String, Option<String>)>,
}

#[server(endpoint = "flags/integration")]
pub async fn get_integration_flags(integration: i64) -> Result<IntegrationFlags, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let now = chrono::Utc::now();
    let query = FlagQuery { state: "all".into(), integration_id: Some(integration), per_page: Some(20), ..Default::default() };
    let flags = crate::context::answer(crate::services::flags::list(&db, &caller, &query, now).await)?.items;
    let eos = crate::context::answer(crate::services::flags::end_of_support(&db, &caller, integration).await)?;
    Ok(IntegrationFlags { flags, end_of_support: eos.map(|(at, note)| (at.format("%Y-%m-%d").to_string(), note)) })
}

#[server(endpoint = "flags/end-of-support")]
pub async fn declare_end_of_support(
    integration: i64,
    #[server(default)] day: String,
    #[server(default)] note: String,
) -> Result<(), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::form_result(
        crate::services::flags::declare_end_of_support(&db, &caller, integration, &day, &note, chrono::Utc::now()).await,
    )?;
    leptos_axum::redirect(&format!("/integrations/{integration}#flags"));
    Ok(())
}

/// The tier-flag section of an integration's page.
#[component]
pub fn FlagSection(integration_id: i64, partner_id: i64) -> impl IntoView {
    let declare = ServerAction::<DeclareEndOfSupport>::new();
    let declared = successes(declare);
    let data = Resource::new(move || declared.get(), move |_| get_integration_flags(integration_id));
    let error = Signal::derive(move || declare.value().get().and_then(Result::err));
    let field = move |name: &'static str| Signal::derive(move || error.get().and_then(|e| e.field(name)));
    view! {
        <section id="flags" aria-labelledby="flags-heading">
            <h2 id="flags-heading">"Tier flags"</h2>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                        Ok(d) => {
                            // Copy handles: the form is rebuilt whenever access is re-checked.
                            let day = StoredValue::new(d.end_of_support.clone().map(|(day, _)| day).unwrap_or_default());
                            let note = StoredValue::new(d.end_of_support.clone().and_then(|(_, n)| n).unwrap_or_default());
                            view! {
                            {if d.flags.is_empty() {
                                view! { <p class="empty">"No tier flags, ever."</p> }.into_any()
                            } else {
                                view! { <crate::pages::dashboard::FlagList flags=d.flags.clone() empty=""/> }.into_any()
                            }}
                            <h3>"End of support"</h3>
                            {match d.end_of_support.clone() {
                                Some((day, note)) => view! { <p data-testid="end-of-support">{format!("The partner ends support on {day}.")}{note.map(|n| format!(" {n}"))}</p> }.into_any(),
                                None => view! { <p class="muted">"The partner has not declared an end of support."</p> }.into_any(),
                            }}
                            <Allowed action=Do::EditIntegration { partner: partner_id }>
                                {move || error.get().filter(|e| e.fields().is_none()).map(|e| view! { <ErrorNotice error=e/> })}
                                <ActionForm action=declare attr:class="form end-of-support">
                                    <input type="hidden" name="integration" value=integration_id.to_string()/>
                                    <div class="field inline">
                                        <label for="f-eos-day">"Last day of support"</label>
                                        <input id="f-eos-day" type="date" name="day" value=day.get_value()/>
                                        <span class="field-error" aria-live="polite">{field("day")}</span>
                                    </div>
                                    <div class="field inline">
                                        <label for="f-eos-note">"Note"</label>
                                        <input id="f-eos-note" name="note" value=note.get_value()/>
                                        <span class="field-error" aria-live="polite">{field("note")}</span>
                                    </div>
                                    <button type="submit">"Save"</button>
                                    <p class="hint">"Leave the date empty to withdraw a declaration. Official and verified integrations are flagged for a tier decision from that day."</p>
                                </ActionForm>
                            </Allowed>
                        }.into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}
