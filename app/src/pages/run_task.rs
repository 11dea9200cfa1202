//! The run-task registration on a run task's page: endpoint, stages and
//! the HMAC key (write-only: after saving only its fingerprint shows).

use crate::components::{successes, ErrorNotice, FieldHelp, TextField};
use crate::domain::run_task::{Registration, STAGES};
use crate::error::AppError;
use leptos::prelude::*;

#[server(endpoint = "run-task/get")]
pub async fn get_registration(id: i64) -> Result<Registration, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::run_tasks::get(&db, &caller, id).await)
}

#[server(endpoint = "run-task/save")]
pub async fn save_registration(
    id: i64,
    #[server(default)] endpoint_url: String,
    #[server(default)] hmac_key: String,
    #[server(default)] stages: Vec<String>,
) -> Result<(), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let input = crate::domain::run_task::RegistrationInput { endpoint_url, hmac_key, stages };
    let plain_http = use_context::<crate::domain::run_task::PlainHttp>().unwrap_or_default();
    let result = crate::services::run_tasks::save(&db, &caller, id, &input, &plain_http.0, chrono::Utc::now()).await;
    crate::context::form_result(result)?;
    leptos_axum::redirect(&format!("/integrations/{id}#registration-heading"));
    Ok(())
}

#[component]
pub fn RegistrationSection(integration_id: i64, partner_id: i64) -> impl IntoView {
    let me = use_context::<crate::components::CurrentCaller>();
    let save = ServerAction::<SaveRegistration>::new();
    let saved = successes(save);
    let registration = Resource::new(move || saved.get(), move |_| get_registration(integration_id));
    let error = Signal::derive(move || save.value().get().and_then(Result::err));
    let field = move |name: &'static str| Signal::derive(move || error.get().and_then(|e| e.field(name)));
    view! {
        <section class="registration" aria-labelledby="registration-heading">
            <h2 id="registration-heading">"Run-task registration"</h2>
            {move || error.get().filter(|e| e.fields().is_none()).map(|e| view! { <ErrorNotice error=e/> })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let may_edit = match me {
                        Some(crate::components::CurrentCaller(r)) => r
                            .await
                            .ok()
                            .flatten()
                            .is_some_and(|c| c.may(crate::domain::access::Action::EditIntegration { partner: partner_id })),
                        None => false,
                    };
                    match registration.await {
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                        Ok(r) => {
                            let key_line = match (&r.hmac_fingerprint, r.hmac_set_at) {
                                (Some(f), Some(at)) => format!("set on {} (fingerprint {f})", at.format("%Y-%m-%d")),
                                (Some(f), None) => format!("set (fingerprint {f})"),
                                _ => "not set".to_string(),
                            };
                            let stages_line = if r.stages.is_empty() { "none chosen".to_string() } else { r.stages.join(", ").replace('_', "-") };
                            let chosen = r.stages.clone();
                            view! {
                                <dl class="details">
                                    <dt>"Endpoint"</dt><dd>{r.endpoint_url.clone().unwrap_or_else(|| "not registered".into())}</dd>
                                    <dt>"HMAC key"</dt><dd>{key_line}</dd>
                                    <dt>"Stages"</dt><dd>{stages_line}</dd>
                                </dl>
                                {may_edit.then(|| view! {
                                    <details class="report-form">
                                        <summary>"Change the registration…"</summary>
                                        <ActionForm action=save attr:class="form">
                                            <input type="hidden" name="id" value=integration_id.to_string()/>
                                            <TextField label="Endpoint URL" name="endpoint_url" input_type="url" value=r.endpoint_url.clone().unwrap_or_default()
                                                placeholder="https://…" hint="Where Terraform Cloud sends run-task requests (HTTPS)." error=field("endpoint_url")/>
                                            <TextField label="HMAC key" name="hmac_key" input_type="password" placeholder="leave empty to keep the current key"
                                                hint="16–256 characters. Stored, never shown again." error=field("hmac_key")/>
                                            <fieldset class="field">
                                                <legend>"Supported stages"</legend>
                                                {STAGES.iter().map(|(key, label)| {
                                                    let id = format!("stage-{key}");
                                                    view! {
                                                        <div class="checkbox">
                                                            <input id=id.clone() type="checkbox" name="stages[]" value=*key checked=chosen.iter().any(|s| s == key)/>
                                                            <label for=id>{*label}</label>
                                                        </div>
                                                    }
                                                }).collect_view()}
                                                <FieldHelp id="f-stages".into() hint=None error=field("stages")/>
                                            </fieldset>
                                            <button type="submit" class="primary">"Save registration"</button>
                                        </ActionForm>
                                    </details>
                                })}
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
        <crate::pages::checks::CheckSection integration_id=integration_id partner_id=partner_id registration_version=save.version()/>
    }
}
