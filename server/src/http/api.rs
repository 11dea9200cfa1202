//! The JSON API for scripts and partners' CI: `/api/v1/partners` and
//! `/api/v1/integrations` (list, get, create, replace, patch) and the
//! OpenAPI document generated from these handlers.
//!
//! Errors are `{"error": "...", "fields": {"field": ["message"]}}` with
//! 400 (malformed request), 404, 409 (clashes with stored data) or 422
//! (breaks a rule), and 401 without a valid `Authorization: Bearer` token.
//!
//! Routes are registered through utoipa-axum's `routes!`, so the router and
//! the OpenAPI document come from the same list: a route cannot exist
//! undocumented, and the authorization matrix test reads that document to
//! find every route.

use super::extract::{ApiJson, ApiQuery};
use crate::auth::SignedIn;
use crate::AppState;
use app::domain::audit::{AuditQuery, Record};
use app::domain::integration::{Integration, IntegrationInput, IntegrationQuery};
use app::domain::partner::{Contact, Partner, PartnerInput, PartnerQuery};
use app::domain::task::{Pipeline, TaskInput};
use app::domain::Page;
use app::error::AppError;
use app::services::{audit, integrations, partners, pipeline};
use app::store::Db;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The API's routes (full paths, `/api/v1/…`) and their OpenAPI document.
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let v1 = OpenApiRouter::new()
        .routes(routes!(list_partners, create_partner))
        .routes(routes!(get_partner, replace_partner, patch_partner))
        .routes(routes!(list_integrations, create_integration))
        .routes(routes!(get_integration, replace_integration, patch_integration))
        .routes(routes!(get_pipeline))
        .routes(routes!(act_on_task))
        .routes(routes!(reopen_stage))
        // Uploads read their body themselves, with their own limits.
        .merge(OpenApiRouter::new().routes(routes!(report_with_file)).layer(axum::extract::DefaultBodyLimit::disable()))
        .routes(routes!(download_evidence))
        .routes(routes!(get_registration, save_registration))
        .routes(routes!(list_checks, start_check))
        .routes(routes!(get_check))
        .routes(routes!(attach_check))
        .routes(routes!(provider_versions))
        .routes(routes!(poll_now))
        .routes(routes!(poller_status))
        .routes(routes!(list_issues))
        .routes(routes!(integration_issues, create_issue))
        .routes(routes!(get_issue))
        .routes(routes!(resolve_issue))
        .routes(routes!(reopen_issue))
        .routes(routes!(set_issue_severity))
        .routes(routes!(integration_support))
        .routes(routes!(partner_support))
        .routes(routes!(set_critical_labels))
        .routes(routes!(sync_issues_now))
        .routes(routes!(sla_overview))
        .routes(routes!(get_sla_settings, put_sla_settings))
        .routes(routes!(list_holidays, add_holiday))
        .routes(routes!(remove_holiday))
        .routes(routes!(import_holidays))
        .routes(routes!(github_status))
        .routes(routes!(my_alerts))
        .routes(routes!(get_alert_preferences, put_alert_preferences))
        .routes(routes!(outbox))
        .routes(routes!(retry_alert))
        .routes(routes!(send_test_email))
        .routes(routes!(acknowledge_issue))
        .routes(routes!(integration_audit))
        .routes(routes!(partner_audit))
        .routes(routes!(search_audit))
        .routes(routes!(export_audit))
        .routes(routes!(staff_dashboard))
        .routes(routes!(partner_dashboard))
        .routes(routes!(list_flags))
        .routes(routes!(export_flags))
        .routes(routes!(get_flag))
        .routes(routes!(decide_flag))
        .routes(routes!(evaluate_flags))
        .routes(routes!(get_flag_settings, put_flag_settings))
        .routes(routes!(get_stage_targets, put_stage_targets))
        .routes(routes!(list_exemptions, add_exemption))
        .routes(routes!(end_exemption))
        .routes(routes!(get_end_of_support, put_end_of_support))
        .routes(routes!(export_partners))
        .routes(routes!(export_integrations))
        .routes(routes!(export_issues))
        .routes(routes!(openapi));
    OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", v1).split_for_parts()
}

pub fn router() -> Router<AppState> {
    routes().0
}

/// The OpenAPI document: every API route with its methods (built once;
/// `/openapi.json` serves it on every call).
pub fn document() -> utoipa::openapi::OpenApi {
    static DOCUMENT: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| routes().1).clone()
}

/// Declares bearer-token authentication for every operation.
struct BearerAuth;
impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A personal API token from Settings → API tokens"))
                    .build(),
            ),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new("token", Vec::<String>::new())]);
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Integration Tracker API", version = "1", description = "Partners and their integrations (providers and run tasks). Send a personal API token as `Authorization: Bearer <token>`."),
    modifiers(&BearerAuth),
    components(schemas(Partner, PartnerInput, Contact, PartnerList, Integration, IntegrationInput, IntegrationList, TaskInput, ReopenInput, ErrorBody))
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta", responses((status = 200, description = "The OpenAPI document"), (status = 401, body = ErrorBody)))]
async fn openapi(SignedIn(_): SignedIn) -> impl IntoResponse {
    Json(document())
}

/// The error body of every 4xx/5xx answer.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the shape `AppError` serialises to
struct ErrorBody {
    error: String,
    /// Messages per input field, for validation errors and conflicts.
    fields: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

/// A page of partners (the shape of `Page<Partner>`).
#[derive(ToSchema)]
#[allow(dead_code)]
struct PartnerList {
    items: Vec<Partner>,
    total: i64,
    page: i64,
    per_page: i64,
}

/// A page of integrations (the shape of `Page<Integration>`).
#[derive(ToSchema)]
#[allow(dead_code)]
struct IntegrationList {
    items: Vec<Integration>,
    total: i64,
    page: i64,
    per_page: i64,
}

type ApiResult<T> = Result<T, AppError>;

/// 201 with a `Location` header pointing at the new resource.
fn created<T: Serialize>(location: String, body: T) -> impl IntoResponse {
    (StatusCode::CREATED, [(header::LOCATION, location)], Json(body))
}

/// Applies a JSON merge (top-level keys) of `patch` onto `current`.
fn merge<T: Serialize + DeserializeOwned>(current: &T, patch: serde_json::Value) -> ApiResult<T> {
    let serde_json::Value::Object(changes) = patch else {
        return Err(AppError::BadRequest("a PATCH body must be a JSON object".into()));
    };
    let mut value = serde_json::to_value(current).map_err(|_| AppError::Internal)?;
    if let serde_json::Value::Object(fields) = &mut value {
        fields.extend(changes);
    }
    serde_json::from_value(value)
        .map_err(|e| AppError::Validation { message: format!("the JSON does not fit: {e}"), fields: Default::default() })
}

fn integration_id(raw: &str) -> ApiResult<i64> {
    raw.parse().map_err(|_| AppError::NotFound(format!("integration {raw}")))
}

#[utoipa::path(get, path = "/partners", tag = "partners",
    params(
        ("q" = Option<String>, Query, description = "Search in name and slug"),
        ("kind" = Option<String>, Query, description = "infrastructure, workflow or both"),
        ("category" = Option<String>, Query, description = "A use-case category, e.g. Networking"),
        ("page" = Option<i64>, Query, description = "From 1"),
        ("per_page" = Option<i64>, Query, description = "1–100, default 20"),
    ),
    responses((status = 200, body = PartnerList), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_partners(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    ApiQuery(query): ApiQuery<PartnerQuery>,
) -> ApiResult<Json<Page<Partner>>> {
    Ok(Json(partners::list(&db, &caller, &query).await?))
}

#[utoipa::path(get, path = "/partners/{slug}", tag = "partners",
    params(("slug" = String, Path)),
    responses((status = 200, body = Partner), (status = 404, body = ErrorBody)))]
async fn get_partner(State(db): State<Db>, SignedIn(caller): SignedIn, Path(slug): Path<String>) -> ApiResult<Json<Partner>> {
    Ok(Json(partners::get(&db, &caller, &slug).await?))
}

#[utoipa::path(post, path = "/partners", tag = "partners", request_body = PartnerInput,
    responses((status = 201, body = Partner), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_partner(
    State(db): State<Db>,
    State(orgs): State<partners::GithubOrgs>,
    SignedIn(caller): SignedIn,
    ApiJson(input): ApiJson<PartnerInput>,
) -> ApiResult<impl IntoResponse> {
    let partner = partners::create(&db, &caller, &input, &orgs).await?;
    Ok(created(format!("/api/v1/partners/{}", partner.slug), partner))
}

#[utoipa::path(put, path = "/partners/{slug}", tag = "partners", request_body = PartnerInput,
    params(("slug" = String, Path)),
    responses((status = 200, body = Partner), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn replace_partner(
    State(db): State<Db>,
    State(orgs): State<partners::GithubOrgs>,
    SignedIn(caller): SignedIn,
    Path(slug): Path<String>,
    ApiJson(input): ApiJson<PartnerInput>,
) -> ApiResult<Json<Partner>> {
    Ok(Json(partners::update(&db, &caller, &slug, &input, &orgs).await?))
}

/// Changes only the fields given.
#[utoipa::path(patch, path = "/partners/{slug}", tag = "partners", request_body = PartnerInput,
    params(("slug" = String, Path)),
    responses((status = 200, body = Partner), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn patch_partner(
    State(db): State<Db>,
    State(orgs): State<partners::GithubOrgs>,
    SignedIn(caller): SignedIn,
    Path(slug): Path<String>,
    ApiJson(patch): ApiJson<serde_json::Value>,
) -> ApiResult<Json<Partner>> {
    let current = partners::get(&db, &caller, &slug).await?;
    let input: PartnerInput = merge(&current.to_input(), patch)?;
    Ok(Json(partners::update(&db, &caller, &slug, &input, &orgs).await?))
}

#[utoipa::path(get, path = "/integrations", tag = "integrations",
    params(
        ("q" = Option<String>, Query, description = "Search in name and source address"),
        ("partner" = Option<String>, Query, description = "A partner's slug"),
        ("kind" = Option<String>, Query, description = "provider or run_task"),
        ("tier" = Option<String>, Query, description = "official, verified, community or archived"),
        ("stage" = Option<String>, Query, description = "A stage key, e.g. publish or develop_test"),
        ("page" = Option<i64>, Query, description = "From 1"),
        ("per_page" = Option<i64>, Query, description = "1–100, default 20"),
    ),
    responses((status = 200, body = IntegrationList), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_integrations(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    ApiQuery(query): ApiQuery<IntegrationQuery>,
) -> ApiResult<Json<Page<Integration>>> {
    Ok(Json(integrations::list(&db, &caller, &query).await?))
}

#[utoipa::path(get, path = "/integrations/{id}", tag = "integrations",
    params(("id" = i64, Path)),
    responses((status = 200, body = Integration), (status = 404, body = ErrorBody)))]
async fn get_integration(State(db): State<Db>, SignedIn(caller): SignedIn, Path(id): Path<String>) -> ApiResult<Json<Integration>> {
    Ok(Json(integrations::get(&db, &caller, integration_id(&id)?).await?))
}

#[utoipa::path(post, path = "/integrations", tag = "integrations", request_body = IntegrationInput,
    responses((status = 201, body = Integration), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_integration(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    ApiJson(input): ApiJson<IntegrationInput>,
) -> ApiResult<impl IntoResponse> {
    let integration = integrations::create(&db, &caller, &input).await?;
    Ok(created(format!("/api/v1/integrations/{}", integration.id), integration))
}

#[utoipa::path(put, path = "/integrations/{id}", tag = "integrations", request_body = IntegrationInput,
    params(("id" = i64, Path)),
    responses((status = 200, body = Integration), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn replace_integration(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<IntegrationInput>,
) -> ApiResult<Json<Integration>> {
    Ok(Json(integrations::update(&db, &caller, integration_id(&id)?, &input).await?))
}

/// Changes only the fields given.
#[utoipa::path(patch, path = "/integrations/{id}", tag = "integrations", request_body = IntegrationInput,
    params(("id" = i64, Path)),
    responses((status = 200, body = Integration), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn patch_integration(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<serde_json::Value>,
) -> ApiResult<Json<Integration>> {
    let id = integration_id(&id)?;
    let current = integrations::get(&db, &caller, id).await?;
    let input: IntegrationInput = merge(&current.to_input(), patch)?;
    Ok(Json(integrations::update(&db, &caller, id, &input).await?))
}

/// An integration's stages in track order, each with its tasks, their
/// history, and the actions the caller may take on each.
#[utoipa::path(get, path = "/integrations/{id}/pipeline", tag = "pipeline",
    params(("id" = i64, Path)),
    responses((status = 200, description = "The pipeline: {integration_id, current, stages: [{stage, status, tasks: [...]}]}"), (status = 404, body = ErrorBody)))]
async fn get_pipeline(State(db): State<Db>, SignedIn(caller): SignedIn, Path(id): Path<String>) -> ApiResult<Json<Pipeline>> {
    Ok(Json(pipeline::get(&db, &caller, integration_id(&id)?).await?))
}

/// Reports a task done with evidence (partner members, reviewers), or
/// reviews it: accept, request changes (comment required), waive (optional
/// tasks, reason required). Answers with the updated pipeline.
#[utoipa::path(post, path = "/tasks/{id}", tag = "pipeline", request_body = TaskInput,
    params(("id" = i64, Path)),
    responses((status = 200, description = "The updated pipeline"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Not allowed in the task's state, or changed meanwhile"), (status = 422, body = ErrorBody)))]
async fn act_on_task(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<TaskInput>,
) -> ApiResult<Json<Pipeline>> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound(format!("task {id}")))?;
    Ok(Json(pipeline::act(&db, &caller, id, &input, chrono::Utc::now()).await?))
}

/// Why a stage is reopened.
#[derive(serde::Deserialize, ToSchema, Default)]
#[serde(default)]
struct ReopenInput {
    reason: String,
}

/// Reopens a completed stage (reviewers): its accepted tasks go back for
/// changes with the reason as comment, and later stages wait again.
#[utoipa::path(post, path = "/integrations/{id}/stages/{stage}/reopen", tag = "pipeline", request_body = ReopenInput,
    params(("id" = i64, Path), ("stage" = String, Path, description = "A stage key, e.g. publish")),
    responses((status = 200, description = "The updated pipeline"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn reopen_stage(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    Path((id, stage)): Path<(String, String)>,
    ApiJson(input): ApiJson<ReopenInput>,
) -> ApiResult<Json<Pipeline>> {
    Ok(Json(pipeline::reopen(&db, &caller, integration_id(&id)?, &stage, &input.reason, chrono::Utc::now()).await?))
}

/// Which page of a timeline.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct PageQuery {
    page: Option<i64>,
}

/// The integration's audit records (its changes, its tasks' and stages'),
/// newest first, 20 per page.
#[utoipa::path(get, path = "/integrations/{id}/audit", tag = "audit",
    params(("id" = i64, Path), ("page" = Option<i64>, Query, description = "From 1")),
    responses((status = 200, description = "{items: [{id, at, actor_name, action, target_kind, target_label, summary, changes: [{field, before, after}]}], total, page, per_page}"), (status = 404, body = ErrorBody)))]
async fn integration_audit(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Record>>> {
    Ok(Json(audit::for_integration(&db, &caller, integration_id(&id)?, q.page).await?))
}

/// The partner's audit records and those of its integrations, newest first.
#[utoipa::path(get, path = "/partners/{slug}/audit", tag = "audit",
    params(("slug" = String, Path), ("page" = Option<i64>, Query, description = "From 1")),
    responses((status = 200, description = "A page of audit records"), (status = 404, body = ErrorBody)))]
async fn partner_audit(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    Path(slug): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Record>>> {
    Ok(Json(audit::for_partner(&db, &caller, &slug, q.page).await?))
}

/// Searches the whole audit trail (admins), newest first.
#[utoipa::path(get, path = "/audit", tag = "audit",
    params(
        ("q" = Option<String>, Query, description = "Words in the summary, target or actor"),
        ("target" = Option<String>, Query, description = "partner, integration, task, stage, user or token"),
        ("actor" = Option<String>, Query, description = "Part of the actor's name"),
        ("from" = Option<String>, Query, description = "YYYY-MM-DD (UTC), inclusive"),
        ("to" = Option<String>, Query, description = "YYYY-MM-DD (UTC), inclusive"),
        ("page" = Option<i64>, Query, description = "From 1"),
        ("per_page" = Option<i64>, Query, description = "1–100, default 20"),
    ),
    responses((status = 200, description = "A page of audit records"), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn search_audit(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Page<Record>>> {
    Ok(Json(audit::search(&db, &caller, &query).await?))
}

/// The matching audit records as CSV (admins), newest first, streamed in
/// chunks so the whole trail exports without being held in memory.
#[utoipa::path(get, path = "/audit/export.csv", tag = "audit",
    params(
        ("q" = Option<String>, Query), ("target" = Option<String>, Query), ("actor" = Option<String>, Query),
        ("from" = Option<String>, Query), ("to" = Option<String>, Query),
    ),
    responses((status = 200, description = "text/csv: at, actor, action, target kind, target id, target, partner id, integration id, summary, changes", content_type = "text/csv"),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn export_audit(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<impl IntoResponse> {
    let filter = audit::checked(&caller, &query)?;
    let header_row = super::csv::row(&[
        "at",
        "actor",
        "action",
        "target_kind",
        "target_id",
        "target",
        "partner_id",
        "integration_id",
        "summary",
        "changes",
    ]);
    // State: (the id to continue below, done). Each step is one chunk.
    let chunks = futures::stream::unfold((0_i64, false), move |(before, done)| {
        let (db, filter) = (db.clone(), filter.clone());
        async move {
            if done {
                return None;
            }
            const CHUNK: i64 = 500;
            match audit::export_chunk(&db, &filter, before, CHUNK).await {
                Ok(records) => {
                    let last = records.last().map(|r| r.id);
                    let text: String = records.iter().map(audit_csv_row).collect();
                    let finished = (records.len() as i64) < CHUNK;
                    Some((Ok::<_, std::io::Error>(text), (last.unwrap_or(0), finished || last.is_none())))
                }
                Err(e) => {
                    // Headers are gone: all we can do is cut the body short.
                    tracing::error!(error = %e, "audit export failed");
                    Some((Err(std::io::Error::other("audit export failed")), (0, true)))
                }
            }
        }
    });
    // Fused: the compression layer may poll once more after the end.
    let body = futures::StreamExt::fuse(futures::StreamExt::chain(futures::stream::once(async move { Ok(header_row) }), chunks));
    let date = chrono::Utc::now().format("%Y-%m-%d");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"audit-{date}.csv\"")),
        ],
        axum::body::Body::from_stream(body),
    ))
}

fn audit_csv_row(r: &Record) -> String {
    let changes: Vec<String> = r
        .changes
        .iter()
        .map(|c| format!("{}: {} → {}", c.field, c.before.as_deref().unwrap_or("∅"), c.after.as_deref().unwrap_or("∅")))
        .collect();
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    super::csv::row(&[
        &r.at.to_rfc3339(),
        &r.actor_name,
        &r.action,
        r.target_kind.key(),
        &opt(r.target_id),
        &r.target_label,
        &opt(r.partner_id),
        &opt(r.integration_id),
        &r.summary,
        &changes.join("; "),
    ])
}

/// Text fields of a report form are short; anything longer is refused
/// before it is held in memory.
const MAX_FIELD_BYTES: usize = 64 * 1024;

/// Reads one multipart field, refusing more than `limit` bytes.
async fn read_field(field: &mut axum::extract::multipart::Field<'_>, limit: usize, too_big: impl Fn() -> AppError) -> ApiResult<Vec<u8>> {
    let mut bytes = Vec::new();
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.len() > limit {
                    return Err(too_big());
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(bytes),
            Err(e) => return Err(AppError::BadRequest(format!("the upload broke off: {}", e.body_text()))),
        }
    }
}

/// A report form, possibly with a file: `action` (default `report`),
/// `evidence_url`, `note`, and `file`.
async fn read_report(mut multipart: axum::extract::Multipart, max_file: u64) -> ApiResult<(TaskInput, Option<(String, Vec<u8>)>)> {
    let mut input = TaskInput { action: "report".into(), ..Default::default() };
    let mut file = None;
    // Text fields together may add at most this much to the file.
    let mut text_budget = 16 * MAX_FIELD_BYTES;
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return Err(AppError::BadRequest(format!("the form could not be read: {}", e.body_text()))),
        };
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            let file_name = field.file_name().unwrap_or_default().to_string();
            let limit = usize::try_from(max_file).unwrap_or(usize::MAX);
            let too_big = || {
                let message = app::domain::evidence::check_size(max_file + 1, max_file).err().unwrap_or_default();
                AppError::Validation { message: message.clone(), fields: [("file".to_string(), vec![message])].into_iter().collect() }
            };
            let bytes = read_field(&mut field, limit, too_big).await?;
            // A form with no file chosen still sends an empty, nameless part.
            if !(file_name.is_empty() && bytes.is_empty()) {
                file = Some((file_name, bytes));
            }
            continue;
        }
        let too_long = || AppError::invalid([(name.clone(), vec!["this field is too long".to_string()])].into_iter().collect());
        let bytes = read_field(&mut field, MAX_FIELD_BYTES.min(text_budget), too_long).await?;
        text_budget = text_budget.saturating_sub(bytes.len());
        let text = String::from_utf8(bytes).map_err(|_| AppError::BadRequest(format!("the field {name} is not UTF-8 text")))?;
        match name.as_str() {
            "action" => input.action = text,
            "evidence_url" => input.evidence_url = text,
            "note" => input.note = text,
            "comment" => input.comment = text,
            _ => {}
        }
    }
    Ok((input, file))
}

/// Reports a task with an evidence file (multipart/form-data: `file`, and
/// optionally `evidence_url`, `note`). Files are limited in size
/// (`EVIDENCE_MAX_MB`). A browser's form post is answered with a redirect
/// to the task (errors included, as `report_error`); other clients get the
/// updated pipeline as JSON.
#[utoipa::path(post, path = "/tasks/{id}/report", tag = "pipeline",
    request_body(content_type = "multipart/form-data", description = "file, evidence_url, note"),
    params(("id" = i64, Path)),
    responses((status = 200, description = "The updated pipeline"), (status = 303, description = "For browsers: back to the task"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn report_with_file(
    State(db): State<Db>,
    State(blobs): State<app::store::blobs::Blobs>,
    SignedIn(caller): SignedIn,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
    multipart: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> axum::response::Response {
    let browser = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    let task_id: Option<i64> = id.parse().ok();
    let result = async {
        let task_id = task_id.ok_or_else(|| AppError::NotFound(format!("task {id}")))?;
        let multipart = multipart.map_err(|_| AppError::BadRequest("send the report as multipart/form-data".into()))?;
        pipeline::may_report(&db, &caller, task_id).await?;
        let (input, file) = read_report(multipart, blobs.max_bytes).await?;
        let upload = file.map(|(name, bytes)| pipeline::Upload { name, bytes, blobs: blobs.clone() });
        pipeline::act_with_file(&db, &caller, task_id, &input, upload, chrono::Utc::now()).await
    }
    .await;
    if !browser {
        return match result {
            Ok(p) => Json(p).into_response(),
            Err(e) => e.into_response(),
        };
    }
    // Browsers go back to the task, with the error to show if there is one.
    let integration = match (&result, task_id) {
        (Ok(p), _) => Some(p.integration_id),
        // Only to an integration the caller may see: the redirect would name another partner's.
        (Err(_), Some(t)) => match app::store::tasks::get(&db, t).await.ok().flatten() {
            Some(task) => app::services::integrations::get(&db, &caller, task.integration_id).await.ok().map(|i| i.id),
            None => None,
        },
        _ => None,
    };
    match (result, integration) {
        (Ok(_), Some(i)) => axum::response::Redirect::to(&format!("/integrations/{i}#task-{id}")).into_response(),
        (Err(e), Some(i)) => {
            let message = match e.fields() {
                Some(f) if !f.is_empty() => f.values().flatten().cloned().collect::<Vec<_>>().join("; "),
                _ => e.to_string(),
            };
            let to = format!("/integrations/{i}?report_error={}&task={id}#task-{id}", app::components::encode(&message));
            axum::response::Redirect::to(&to).into_response()
        }
        (Err(e), None) => e.into_response(),
        (Ok(p), None) => Json(p).into_response(),
    }
}

/// An evidence file, as a download, for whoever may see its integration.
#[utoipa::path(get, path = "/evidence/{id}", tag = "pipeline",
    params(("id" = i64, Path)),
    responses((status = 200, description = "The file (Content-Disposition: attachment)"), (status = 404, body = ErrorBody)))]
async fn download_evidence(
    State(db): State<Db>,
    State(blobs): State<app::store::blobs::Blobs>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
) -> ApiResult<axum::response::Response> {
    let missing = || AppError::NotFound(format!("file {id}"));
    let id: i64 = id.parse().map_err(|_| missing())?;
    let (file, key) = pipeline::evidence_file(&db, &caller, id).await?;
    let handle = blobs.open(&key).await.map_err(|e| {
        tracing::error!(file = id, error = %e, "an evidence file is missing on disk");
        missing()
    })?;
    let chunks = futures::stream::unfold(Some(handle), |state| async move {
        use tokio::io::AsyncReadExt;
        let mut f = state?;
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(buf), Some(f)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    let ascii: String = file.name.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '_' }).collect();
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{}", app::components::encode(&file.name));
    let mut response = axum::body::Body::from_stream(futures::StreamExt::fuse(chunks)).into_response();
    let h = response.headers_mut();
    let value = |s: &str| axum::http::HeaderValue::from_str(s).map_err(|_| AppError::Internal);
    h.insert(header::CONTENT_TYPE, value(&file.content_type)?);
    h.insert(header::CONTENT_DISPOSITION, value(&disposition)?);
    h.insert(header::CONTENT_LENGTH, value(&file.size.to_string())?);
    h.insert(header::CONTENT_SECURITY_POLICY, axum::http::HeaderValue::from_static("sandbox; default-src 'none'"));
    h.insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("private, no-store"));
    Ok(response)
}

/// A run task's registration: endpoint URL, supported stages, and the HMAC
/// key's fingerprint and when it was set (the key itself is never returned).
#[utoipa::path(get, path = "/integrations/{id}/run-task", tag = "pipeline",
    params(("id" = i64, Path)),
    responses((status = 200, description = "{endpoint_url, hmac_fingerprint, hmac_set_at, stages}"), (status = 404, body = ErrorBody)))]
async fn get_registration(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
) -> ApiResult<Json<app::domain::run_task::Registration>> {
    Ok(Json(app::services::run_tasks::get(&db, &caller, integration_id(&id)?).await?))
}

/// Registers a run task's endpoint (https), HMAC key (16–256 characters;
/// empty keeps the stored one) and stages (`pre_plan`, `post_plan`,
/// `pre_apply`, `post_apply`); completes the matching Develop & Test tasks.
#[utoipa::path(put, path = "/integrations/{id}/run-task", tag = "pipeline", request_body = app::domain::run_task::RegistrationInput,
    params(("id" = i64, Path)),
    responses((status = 200, description = "The registration, without the key"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn save_registration(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    State(plain_http): State<app::domain::run_task::PlainHttp>,
    ApiJson(input): ApiJson<app::domain::run_task::RegistrationInput>,
) -> ApiResult<Json<app::domain::run_task::Registration>> {
    Ok(Json(app::services::run_tasks::save(&db, &caller, integration_id(&id)?, &input, &plain_http.0, chrono::Utc::now()).await?))
}

fn check_id(raw: &str) -> ApiResult<i64> {
    raw.parse().map_err(|_| AppError::NotFound(format!("check {raw}")))
}

/// A run task's conformance checks, newest first, 20 per page, and whether
/// the caller may start one now (and if not, why).
#[utoipa::path(get, path = "/integrations/{id}/checks", tag = "run tasks",
    params(("id" = i64, Path), ("page" = Option<i64>, Query, description = "From 1")),
    responses((status = 200, description = "{checks: [check], may_start, reason}"), (status = 404, body = ErrorBody)))]
async fn list_checks(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<app::domain::conformance::CheckList>> {
    let page = q.page.unwrap_or(1);
    Ok(Json(app::services::run_task_checks::list(&state.db, &caller, integration_id(&id)?, page, &state.checks, chrono::Utc::now()).await?))
}

/// Starts a conformance check of the registered endpoint: it runs in the
/// background; poll the check (its `state` and `steps`) for progress.
/// 422 without an endpoint or stages; 429 while one runs or past the hourly allowance.
#[utoipa::path(post, path = "/integrations/{id}/checks", tag = "run tasks",
    params(("id" = i64, Path)),
    responses((status = 201, description = "The queued check"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn start_check(State(state): State<AppState>, SignedIn(caller): SignedIn, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let check = app::services::run_task_checks::start(&state.db, &caller, integration_id(&id)?, &state.checks, chrono::Utc::now()).await?;
    Ok(created(format!("/api/v1/checks/{}", check.id), check))
}

/// One check's report: every step with its outcome, timing and why it failed.
#[utoipa::path(get, path = "/checks/{id}", tag = "run tasks",
    params(("id" = i64, Path)),
    responses((status = 200, description = "{id, state, steps: [{title, outcome, detail, millis}], summary, …}"), (status = 404, body = ErrorBody)))]
async fn get_check(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
) -> ApiResult<Json<app::domain::conformance::CheckView>> {
    Ok(Json(app::services::run_task_checks::get(&state.db, &caller, check_id(&id)?, &state.checks, chrono::Utc::now()).await?))
}

/// Attaches a passing check's report to the Develop & Test "Test evidence"
/// task (a report with a link to the check, for a reviewer to accept).
#[utoipa::path(post, path = "/checks/{id}/evidence", tag = "run tasks",
    params(("id" = i64, Path)),
    responses((status = 200, description = "The check, now attached"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn attach_check(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
) -> ApiResult<Json<app::domain::conformance::CheckView>> {
    let base = state.auth.base_url.clone();
    Ok(Json(app::services::run_task_checks::attach(&state.db, &caller, check_id(&id)?, &base, &state.checks, chrono::Utc::now()).await?))
}

/// What the registries list for a provider: each registry's last poll,
/// every version (with the registries that have it, protocols, platforms,
/// publication date and release check), the gap per mirror, and the latest
/// events (new version, tier mismatch, provider gone…).
#[utoipa::path(get, path = "/integrations/{id}/versions", tag = "registry",
    params(("id" = i64, Path)),
    responses((status = 200, description = "{polls, versions, events, latest, gaps}"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn provider_versions(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
) -> ApiResult<Json<app::domain::registry::ProviderRegistry>> {
    Ok(Json(app::services::registry::provider(&db, &caller, integration_id(&id)?).await?))
}

#[derive(Serialize, ToSchema)]
struct Queued {
    /// Registry polls made due (0 when the provider's first poll is still to come).
    queued: u64,
}

/// Staff: poll the provider's registries on the poller's next tick.
#[utoipa::path(post, path = "/integrations/{id}/poll", tag = "registry",
    params(("id" = i64, Path)),
    responses((status = 202, body = Queued), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn poll_now(State(db): State<Db>, SignedIn(caller): SignedIn, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let queued = app::services::registry::poll_now(&db, &caller, integration_id(&id)?, chrono::Utc::now()).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { queued })))
}

/// Admins: the registry poller's last sweep, per-host errors, next run.
#[utoipa::path(get, path = "/registry/status", tag = "registry",
    responses((status = 200, description = "{sweep, next_run, providers, hosts, outcomes}"), (status = 403, body = ErrorBody)))]
async fn poller_status(State(db): State<Db>, SignedIn(caller): SignedIn) -> ApiResult<Json<app::domain::registry::PollerStatus>> {
    Ok(Json(app::services::registry::status(&db, &caller).await?))
}

// ---- support issues and the SLA ----

fn issue_id(raw: &str) -> ApiResult<i64> {
    raw.parse().map_err(|_| AppError::NotFound(format!("issue {raw}")))
}

/// Which issues `/issues` lists besides the filters it shares with an
/// integration's list, read from the same query string as those: each
/// extractor takes its own fields. (Not one struct with `#[serde(flatten)]`:
/// through it a query string's numbers arrive as text, and `page=2` was refused.)
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct IssuesScope {
    partner: Option<String>,
    integration: Option<i64>,
}

/// Issues the caller may see, most urgent first (`sort=opened`: newest
/// first). Each carries its clock: `due_at`, `warn_at`, `state`
/// (on_track, due_soon, breached, met, missed), `used_seconds`, `left_seconds`.
#[utoipa::path(get, path = "/issues", tag = "support",
    params(("partner" = Option<String>, Query, description = "A partner's slug"), ("integration" = Option<i64>, Query),
        ("state" = Option<String>, Query, description = "open, on_track, due_soon, breached, met or missed"),
        ("severity" = Option<String>, Query, description = "critical or normal"), ("q" = Option<String>, Query),
        ("due_within" = Option<i64>, Query, description = "Open issues due within this many hours from now (1–720), as the dashboard counts them"),
        ("sort" = Option<String>, Query, description = "urgency (default) or opened"), ("page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
    responses((status = 200, description = "{items, total, page, per_page}"), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_issues(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    ApiQuery(scope): ApiQuery<IssuesScope>,
    ApiQuery(q): ApiQuery<app::domain::support::IssueQuery>,
) -> ApiResult<impl IntoResponse> {
    let partner = match scope.partner.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(slug) => Some(partners::get(&db, &caller, slug).await?.id),
        None => None,
    };
    Ok(Json(app::services::support::list(&db, &caller, partner, scope.integration, &q, chrono::Utc::now()).await?))
}

/// The integration's issues (same filters as `/issues`).
#[utoipa::path(get, path = "/integrations/{id}/issues", tag = "support",
    params(("id" = i64, Path), ("state" = Option<String>, Query), ("severity" = Option<String>, Query), ("sort" = Option<String>, Query), ("page" = Option<i64>, Query)),
    responses((status = 200, description = "A page of issues with their clocks"), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn integration_issues(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<app::domain::support::IssueQuery>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::support::list(&db, &caller, None, Some(integration_id(&id)?), &q, chrono::Utc::now()).await?))
}

/// Records an issue by hand (support queues not on GitHub): `title`,
/// `severity` (critical or normal), `opened_at` (RFC 3339, or local time in
/// the program's zone), optional `resolved_at` and `url`.
#[utoipa::path(post, path = "/integrations/{id}/issues", tag = "support", params(("id" = i64, Path)),
    responses((status = 201, description = "The issue with its clock"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_issue(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<app::domain::support::ManualIssueInput>,
) -> ApiResult<impl IntoResponse> {
    let issue = app::services::support::create(&db, &caller, integration_id(&id)?, &input, chrono::Utc::now()).await?;
    Ok(created(format!("/api/v1/issues/{}", issue.id), issue))
}

#[utoipa::path(get, path = "/issues/{id}", tag = "support", params(("id" = i64, Path)),
    responses((status = 200, description = "The issue with its clock"), (status = 404, body = ErrorBody)))]
async fn get_issue(State(db): State<Db>, SignedIn(caller): SignedIn, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::support::get(&db, &caller, issue_id(&id)?, chrono::Utc::now()).await?))
}

#[derive(serde::Deserialize, Default)]
struct ResolveInput {
    #[serde(default)]
    resolved_at: Option<String>,
}

/// Resolves a manual issue (`resolved_at` defaults to now).
#[utoipa::path(post, path = "/issues/{id}/resolve", tag = "support", params(("id" = i64, Path)),
    responses((status = 200, description = "The issue"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn resolve_issue(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ResolveInput>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::support::resolve(&db, &caller, issue_id(&id)?, input.resolved_at.as_deref(), chrono::Utc::now()).await?))
}

/// Reopens a resolved manual issue; its clock resumes with the time already used.
#[utoipa::path(post, path = "/issues/{id}/reopen", tag = "support", params(("id" = i64, Path)),
    responses((status = 200, description = "The issue"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn reopen_issue(State(db): State<Db>, SignedIn(caller): SignedIn, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::support::reopen(&db, &caller, issue_id(&id)?, chrono::Utc::now()).await?))
}

#[derive(serde::Deserialize)]
struct SeverityInput {
    /// critical, normal, or labels (follow the issue's labels again)
    severity: String,
}

/// Reviewers: the severity that counts, over the labels (recorded in the trail).
#[utoipa::path(put, path = "/issues/{id}/severity", tag = "support", params(("id" = i64, Path)),
    responses((status = 200, description = "The issue"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_issue_severity(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<SeverityInput>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::support::override_severity(&db, &caller, issue_id(&id)?, &input.severity, chrono::Utc::now()).await?))
}

/// Support health of the integration: compliance over the window, open breaches, time to resolve.
#[utoipa::path(get, path = "/integrations/{id}/support", tag = "support", params(("id" = i64, Path)),
    responses((status = 200, description = "{window_days, compliance, open, due_soon}"), (status = 404, body = ErrorBody)))]
async fn integration_support(State(db): State<Db>, SignedIn(caller): SignedIn, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let id = integration_id(&id)?;
    let now = chrono::Utc::now();
    let health = app::services::support::health(&db, &caller, None, Some(id), now).await?;
    let trend = app::services::support::trend(&db, &caller, None, Some(id), 12, now).await?;
    Ok(Json(serde_json::json!({ "health": health, "weekly": trend })))
}

/// Support health of the partner (all its integrations).
#[utoipa::path(get, path = "/partners/{slug}/support", tag = "support", params(("slug" = String, Path)),
    responses((status = 200, description = "{health, weekly}"), (status = 404, body = ErrorBody)))]
async fn partner_support(State(db): State<Db>, SignedIn(caller): SignedIn, Path(slug): Path<String>) -> ApiResult<impl IntoResponse> {
    let partner = partners::get(&db, &caller, &slug).await?;
    let now = chrono::Utc::now();
    let health = app::services::support::health(&db, &caller, Some(partner.id), None, now).await?;
    let trend = app::services::support::trend(&db, &caller, Some(partner.id), None, 12, now).await?;
    Ok(Json(serde_json::json!({ "health": health, "weekly": trend })))
}

#[derive(serde::Deserialize)]
struct LabelsInput {
    /// Labels that make this integration's issues critical; empty: the program's default.
    labels: Vec<String>,
}

/// Reviewers: the integration's own critical label set.
#[utoipa::path(put, path = "/integrations/{id}/critical-labels", tag = "support", params(("id" = i64, Path)),
    responses((status = 200, description = "The labels now in force"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_critical_labels(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<LabelsInput>,
) -> ApiResult<impl IntoResponse> {
    let text = input.labels.join("\n");
    Ok(Json(app::services::support::set_critical_labels(&db, &caller, integration_id(&id)?, &text, chrono::Utc::now()).await?))
}

/// Staff: sync the integration's GitHub issues on the next tick.
#[utoipa::path(post, path = "/integrations/{id}/sync", tag = "support", params(("id" = i64, Path)),
    responses((status = 202, body = Queued), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn sync_issues_now(State(db): State<Db>, SignedIn(caller): SignedIn, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let queued = app::services::support::sync_now(&db, &caller, integration_id(&id)?, chrono::Utc::now()).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { queued })))
}

/// Staff: every partner's support health, worst compliance first.
#[utoipa::path(get, path = "/sla/overview", tag = "support",
    responses((status = 200, description = "[{partner_id, slug, name, health}]"), (status = 403, body = ErrorBody)))]
async fn sla_overview(State(db): State<Db>, SignedIn(caller): SignedIn) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::support::overview(&db, &caller, chrono::Utc::now()).await?))
}

/// The program's SLA settings: time zone, warning offsets, label sets, window.
#[utoipa::path(get, path = "/sla/settings", tag = "support", responses((status = 200, description = "The settings"), (status = 401, body = ErrorBody)))]
async fn get_sla_settings(State(db): State<Db>, SignedIn(caller): SignedIn) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::support::settings(&db, &caller).await?.0))
}

/// Admins: change the SLA settings (every clock is recomputed).
#[utoipa::path(put, path = "/sla/settings", tag = "support",
    responses((status = 200, description = "The settings"), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_sla_settings(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    ApiJson(input): ApiJson<app::domain::support::SlaSettingsInput>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::support::save_settings(&db, &caller, &input, chrono::Utc::now()).await?))
}

/// The program's holidays.
#[utoipa::path(get, path = "/sla/holidays", tag = "support", responses((status = 200, description = "[{day, name}]"), (status = 401, body = ErrorBody)))]
async fn list_holidays(State(db): State<Db>, SignedIn(caller): SignedIn) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::support::settings(&db, &caller).await?.1))
}

#[derive(serde::Deserialize)]
struct HolidayInput {
    day: String,
    name: String,
}

/// Admins: add a holiday (`day` as YYYY-MM-DD).
#[utoipa::path(post, path = "/sla/holidays", tag = "support",
    responses((status = 201, description = "Added"), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_holiday(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    ApiJson(input): ApiJson<HolidayInput>,
) -> ApiResult<impl IntoResponse> {
    let added = app::services::support::add_holiday(&db, &caller, &input.day, &input.name, chrono::Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "added": added }))))
}

/// Admins: remove a holiday.
#[utoipa::path(delete, path = "/sla/holidays/{day}", tag = "support", params(("day" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn remove_holiday(State(db): State<Db>, SignedIn(caller): SignedIn, Path(day): Path<String>) -> ApiResult<impl IntoResponse> {
    app::services::support::remove_holiday(&db, &caller, &day, chrono::Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Admins: import holidays from an iCalendar file sent as the body (`text/calendar`).
#[utoipa::path(post, path = "/sla/holidays/import", tag = "support",
    responses((status = 200, description = "{added}"), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn import_holidays(State(db): State<Db>, SignedIn(caller): SignedIn, body: String) -> ApiResult<impl IntoResponse> {
    let added = app::services::support::import_holidays(&db, &caller, &body, chrono::Utc::now()).await?;
    Ok(Json(serde_json::json!({ "added": added })))
}

/// Admins: the GitHub sync's last step, repositories, failures and rate-limit pause.
#[utoipa::path(get, path = "/github/status", tag = "support",
    responses((status = 200, description = "{sweep, repositories, due, next_run, paused_until, failing}"), (status = 403, body = ErrorBody)))]
async fn github_status(State(db): State<Db>, SignedIn(caller): SignedIn) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::support::sync_status(&db, &caller, chrono::Utc::now()).await?))
}

// ---- email alerts ----

/// Alerts sent (or waiting) for the caller, newest first.
#[utoipa::path(get, path = "/alerts", tag = "alerts",
    params(("status" = Option<String>, Query, description = "pending, sent, failed or skipped"), ("kind" = Option<String>, Query), ("page" = Option<i64>, Query)),
    responses((status = 200, description = "{items, total, page, per_page}"), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn my_alerts(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    ApiQuery(q): ApiQuery<app::domain::outbox::OutboxQuery>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::alerts::mine(&db, &caller, &q).await?))
}

/// The caller's alert preferences: time zone, digest hour, and per kind immediate, digest or off.
#[utoipa::path(get, path = "/alerts/preferences", tag = "alerts", responses((status = 200, description = "The preferences"), (status = 401, body = ErrorBody)))]
async fn get_alert_preferences(State(db): State<Db>, SignedIn(caller): SignedIn) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::alerts::preferences(&db, &caller).await?))
}

/// Saves the caller's alert preferences.
#[utoipa::path(put, path = "/alerts/preferences", tag = "alerts",
    responses((status = 200, description = "The preferences"), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_alert_preferences(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    ApiJson(input): ApiJson<app::domain::alert::PreferencesInput>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::alerts::save_preferences(&db, &caller, &input, chrono::Utc::now()).await?))
}

/// Admins: the outbox (counts per status and a page of rows) and how mail is sent.
#[utoipa::path(get, path = "/outbox", tag = "alerts",
    params(("status" = Option<String>, Query), ("kind" = Option<String>, Query), ("page" = Option<i64>, Query)),
    responses((status = 200, description = "{transport, counts, rows}"), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn outbox(
    State(state): State<crate::AppState>,
    SignedIn(caller): SignedIn,
    ApiQuery(q): ApiQuery<app::domain::outbox::OutboxQuery>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::alerts::outbox(&state.db, &caller, &q, state.mail.clone()).await?))
}

/// Admins: queue a failed alert again.
#[utoipa::path(post, path = "/outbox/{id}/retry", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 204, description = "Queued again"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn retry_alert(State(db): State<Db>, SignedIn(caller): SignedIn, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let id = id.parse().map_err(|_| AppError::NotFound(format!("alert {id}")))?;
    app::services::alerts::retry(&db, &caller, id, chrono::Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Admins: queue a test email to themselves.
#[utoipa::path(post, path = "/outbox/test", tag = "alerts", responses((status = 202, description = "Queued"), (status = 403, body = ErrorBody)))]
async fn send_test_email(State(db): State<Db>, SignedIn(caller): SignedIn) -> ApiResult<impl IntoResponse> {
    app::services::alerts::send_test(&db, &caller, chrono::Utc::now()).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Acknowledges an issue's SLA breach (the partner, or staff), which stops its escalation.
#[utoipa::path(post, path = "/issues/{id}/acknowledge", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 200, description = "The issue"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn acknowledge_issue(State(db): State<Db>, SignedIn(caller): SignedIn, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let id = issue_id(&id)?;
    let now = chrono::Utc::now();
    app::services::alerts::acknowledge(&db, &caller, id, now).await?;
    Ok(Json(app::services::support::get(&db, &caller, id, now).await?))
}

// ---- dashboards ----

/// Staff: the program at a glance (funnel per track, stalled integrations,
/// support health worst first, tier flags, registry activity, review queue),
/// narrowed by `track`, `stage`, `tier`, `category` and `mine=true` (partners
/// whose alliance manager is the caller).
#[utoipa::path(get, path = "/dashboard", tag = "dashboard",
    params(("track" = Option<String>, Query), ("stage" = Option<String>, Query), ("tier" = Option<String>, Query),
        ("category" = Option<String>, Query), ("mine" = Option<bool>, Query)),
    responses((status = 200, description = "The staff dashboard"), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn staff_dashboard(
    State(db): State<Db>,
    State(max_age): State<app::services::dashboard::MaxAge>,
    SignedIn(caller): SignedIn,
    ApiQuery(q): ApiQuery<app::domain::dashboard::DashboardQuery>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::dashboard::staff_view(&db, &caller, &q, chrono::Utc::now(), max_age).await?))
}

/// A partner's dashboard: their integrations' progress, open issues,
/// compliance and trend, and open flags with what clears them.
#[utoipa::path(get, path = "/partners/{slug}/dashboard", tag = "dashboard", params(("slug" = String, Path)),
    responses((status = 200, description = "The partner's dashboard"), (status = 404, body = ErrorBody)))]
async fn partner_dashboard(State(db): State<Db>, SignedIn(caller): SignedIn, Path(slug): Path<String>) -> ApiResult<impl IntoResponse> {
    let partner = partners::get(&db, &caller, &slug).await?;
    Ok(Json(app::services::dashboard::partner(&db, &caller, Some(partner.id), chrono::Utc::now()).await?))
}

// ---- tier flags ----

fn flag_id(raw: &str) -> ApiResult<i64> {
    raw.parse().map_err(|_| AppError::NotFound(format!("flag {raw}")))
}

/// Tier flags the caller may see (a partner member: their own), due first.
#[utoipa::path(get, path = "/flags", tag = "flags",
    params(("state" = Option<String>, Query, description = "open, closed, decided, all, or one state"), ("rule" = Option<String>, Query),
        ("partner_id" = Option<i64>, Query), ("integration_id" = Option<i64>, Query), ("mine" = Option<bool>, Query),
        ("page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
    responses((status = 200, description = "{items, total, page, per_page}"), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_flags(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    ApiQuery(q): ApiQuery<app::domain::flag::FlagQuery>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::flags::list(&db, &caller, &q, chrono::Utc::now()).await?))
}

/// The flags of `/flags` (same filters, all pages) as CSV, streamed.
#[utoipa::path(get, path = "/flags/export.csv", tag = "flags",
    params(("state" = Option<String>, Query), ("rule" = Option<String>, Query), ("mine" = Option<bool>, Query)),
    responses((status = 200, description = "text/csv", content_type = "text/csv"), (status = 422, body = ErrorBody)))]
async fn export_flags(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    ApiQuery(q): ApiQuery<app::domain::flag::FlagQuery>,
) -> ApiResult<impl IntoResponse> {
    let filter = app::services::flags::filter_of(&caller, &q)?;
    Ok(super::csv::download(
        "flags",
        &[
            "id",
            "partner",
            "integration",
            "tier",
            "rule",
            "state",
            "reason",
            "clears_when",
            "held_since",
            "due_at",
            "closed_at",
            "note",
            "decided_by",
        ],
        move |after, limit| {
            let (db, filter) = (db.clone(), filter.clone());
            async move { app::services::flags::export_chunk(&db, &filter, after, limit).await }
        },
        |f| {
            let opt = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
            super::csv::row(&[
                &f.id.to_string(),
                &f.partner,
                &f.integration,
                f.tier.key(),
                f.rule.key(),
                f.state.key(),
                &f.reason,
                &f.clears_when,
                &f.held_since.to_rfc3339(),
                &opt(f.due_at),
                &opt(f.closed_at),
                f.close_note.as_deref().unwrap_or(""),
                f.decided_by.as_deref().unwrap_or(""),
            ])
        },
        |f| f.id,
    ))
}

#[utoipa::path(get, path = "/flags/{id}", tag = "flags", params(("id" = i64, Path)),
    responses((status = 200, description = "The flag with its reasons, evidence and what clears it"), (status = 404, body = ErrorBody)))]
async fn get_flag(State(db): State<Db>, SignedIn(caller): SignedIn, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::flags::get(&db, &caller, flag_id(&id)?, chrono::Utc::now()).await?))
}

/// Reviewers: resolve an open flag. `outcome` is `downgrade` (with `tier`
/// community or archived; the partner's contacts are told) or `keep`
/// (with a `reason`).
#[utoipa::path(post, path = "/flags/{id}/decision", tag = "flags", params(("id" = i64, Path)),
    responses((status = 200, description = "The decided flag"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn decide_flag(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<app::domain::flag::DecisionInput>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::flags::decide(&db, &caller, flag_id(&id)?, &input, chrono::Utc::now()).await?))
}

#[derive(Serialize, ToSchema)]
struct EvaluationReport {
    subjects: usize,
    raised: usize,
    moved: usize,
    cleared: usize,
}

/// Admins: run the flag rules now instead of at the review's next tick.
#[utoipa::path(post, path = "/flags/evaluate", tag = "flags",
    responses((status = 200, body = EvaluationReport), (status = 403, body = ErrorBody)))]
async fn evaluate_flags(State(db): State<Db>, SignedIn(caller): SignedIn) -> ApiResult<Json<EvaluationReport>> {
    caller.check(app::domain::access::Action::Configure, || "tier flags".into())?;
    let e = app::services::flags::evaluate(&db, chrono::Utc::now()).await?;
    Ok(Json(EvaluationReport { subjects: e.subjects, raised: e.raised, moved: e.moved, cleared: e.cleared }))
}

/// Staff: the flag rules' modes, thresholds and grace period.
#[utoipa::path(get, path = "/flags/settings", tag = "flags",
    responses((status = 200, description = "The flag settings"), (status = 403, body = ErrorBody)))]
async fn get_flag_settings(State(db): State<Db>, SignedIn(caller): SignedIn) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::flags::settings(&db, &caller).await?))
}

/// Admins: change the flag settings (all fields as text; `modes` maps a rule to on, off or preview).
#[utoipa::path(put, path = "/flags/settings", tag = "flags",
    responses((status = 200, description = "The saved settings"), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_flag_settings(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    ApiJson(input): ApiJson<app::domain::flag::FlagSettingsInput>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::flags::save_settings(&db, &caller, &input, chrono::Utc::now()).await?))
}

/// Staff: days an integration may stay in each stage before it counts as stalled.
#[utoipa::path(get, path = "/stage-targets", tag = "dashboard",
    responses((status = 200, description = "[[stage, days], …]"), (status = 403, body = ErrorBody)))]
async fn get_stage_targets(State(db): State<Db>, SignedIn(caller): SignedIn) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::dashboard::targets(&db, &caller).await?))
}

/// Admins: change stage targets: `{"prepare": "30", …}` (1 to 365 days).
#[utoipa::path(put, path = "/stage-targets", tag = "dashboard",
    responses((status = 200, description = "The saved targets"), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_stage_targets(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    ApiJson(input): ApiJson<std::collections::BTreeMap<String, String>>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::dashboard::save_targets(&db, &caller, &input, chrono::Utc::now()).await?))
}

/// The integration's running exemptions from flag rules.
#[utoipa::path(get, path = "/integrations/{id}/exemptions", tag = "flags", params(("id" = i64, Path)),
    responses((status = 200, description = "[{rule, until, reason, by, at}]"), (status = 404, body = ErrorBody)))]
async fn list_exemptions(State(db): State<Db>, SignedIn(caller): SignedIn, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(app::services::flags::exemptions(&db, &caller, integration_id(&id)?, chrono::Utc::now()).await?))
}

/// Reviewers: exempt the integration from a rule until a date (`rule`, `until` YYYY-MM-DD, `reason`).
#[utoipa::path(post, path = "/integrations/{id}/exemptions", tag = "flags", params(("id" = i64, Path)),
    responses((status = 204, description = "Exempt"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_exemption(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<app::domain::flag::ExemptionInput>,
) -> ApiResult<StatusCode> {
    app::services::flags::exempt(&db, &caller, integration_id(&id)?, &input, chrono::Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reviewers: end an exemption early.
#[utoipa::path(delete, path = "/integrations/{id}/exemptions/{rule}", tag = "flags", params(("id" = i64, Path), ("rule" = String, Path)),
    responses((status = 204, description = "Ended"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn end_exemption(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    Path((id, rule)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    app::services::flags::end_exemption(&db, &caller, integration_id(&id)?, &rule, chrono::Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, serde::Deserialize, ToSchema, Default)]
struct EndOfSupport {
    /// YYYY-MM-DD; empty or absent: not declared (a PUT withdraws it).
    #[serde(default)]
    day: String,
    #[serde(default)]
    note: String,
}

fn end_of_support_body(v: Option<(chrono::DateTime<chrono::Utc>, Option<String>)>) -> Json<EndOfSupport> {
    Json(match v {
        Some((at, note)) => EndOfSupport { day: at.format("%Y-%m-%d").to_string(), note: note.unwrap_or_default() },
        None => EndOfSupport::default(),
    })
}

/// The partner's end-of-support declaration for the integration, if any.
#[utoipa::path(get, path = "/integrations/{id}/end-of-support", tag = "flags", params(("id" = i64, Path)),
    responses((status = 200, body = EndOfSupport), (status = 404, body = ErrorBody)))]
async fn get_end_of_support(State(db): State<Db>, SignedIn(caller): SignedIn, Path(id): Path<String>) -> ApiResult<Json<EndOfSupport>> {
    Ok(end_of_support_body(app::services::flags::end_of_support(&db, &caller, integration_id(&id)?).await?))
}

/// Partners (and staff): declare from which day the integration is no longer
/// supported, or withdraw the declaration with an empty `day`.
#[utoipa::path(put, path = "/integrations/{id}/end-of-support", tag = "flags", params(("id" = i64, Path)),
    responses((status = 200, body = EndOfSupport), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_end_of_support(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<EndOfSupport>,
) -> ApiResult<Json<EndOfSupport>> {
    let v = app::services::flags::declare_end_of_support(&db, &caller, integration_id(&id)?, &input.day, &input.note, chrono::Utc::now())
        .await?;
    Ok(end_of_support_body(v))
}

// ---- exports ----

/// The partners of `/partners` (same filters, all pages) as CSV, streamed.
#[utoipa::path(get, path = "/partners/export.csv", tag = "partners",
    params(("q" = Option<String>, Query), ("kind" = Option<String>, Query), ("category" = Option<String>, Query)),
    responses((status = 200, description = "text/csv", content_type = "text/csv"), (status = 422, body = ErrorBody)))]
async fn export_partners(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    ApiQuery(q): ApiQuery<PartnerQuery>,
) -> ApiResult<impl IntoResponse> {
    let filter = partners::export_filter(&caller, &q)?;
    Ok(super::csv::download(
        "partners",
        &[
            "id",
            "slug",
            "name",
            "kind",
            "categories",
            "github_org",
            "registry_namespace",
            "alliance_manager",
            "alliance_manager_email",
            "support_contacts",
            "integrations",
            "created_at",
        ],
        move |after, limit| {
            let (db, filter) = (db.clone(), filter.clone());
            async move { partners::export_chunk(&db, &filter, after, limit).await }
        },
        |p| {
            let contacts: Vec<String> = p.support_contacts.iter().map(|c| format!("{} <{}>", c.name, c.email)).collect();
            super::csv::row(&[
                &p.id.to_string(),
                &p.slug,
                &p.name,
                p.kind.key(),
                &p.categories.join("; "),
                p.github_org.as_deref().unwrap_or(""),
                p.registry_namespace.as_deref().unwrap_or(""),
                p.alliance_manager_name.as_deref().unwrap_or(""),
                p.alliance_manager_email.as_deref().unwrap_or(""),
                &contacts.join("; "),
                &p.integration_count.to_string(),
                &p.created_at.to_rfc3339(),
            ])
        },
        |p| p.id,
    ))
}

/// The integrations of `/integrations` (same filters, all pages) as CSV, streamed.
#[utoipa::path(get, path = "/integrations/export.csv", tag = "integrations",
    params(("q" = Option<String>, Query), ("partner" = Option<String>, Query), ("kind" = Option<String>, Query),
        ("tier" = Option<String>, Query), ("stage" = Option<String>, Query)),
    responses((status = 200, description = "text/csv", content_type = "text/csv"), (status = 422, body = ErrorBody)))]
async fn export_integrations(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    ApiQuery(q): ApiQuery<IntegrationQuery>,
) -> ApiResult<impl IntoResponse> {
    let filter = integrations::export_filter(&caller, &q)?;
    Ok(super::csv::download(
        "integrations",
        &[
            "id",
            "partner",
            "name",
            "kind",
            "tier",
            "stage",
            "source_address",
            "categories",
            "repository_url",
            "verified_version_range",
            "created_at",
        ],
        move |after, limit| {
            let (db, filter) = (db.clone(), filter.clone());
            async move { integrations::export_chunk(&db, &filter, after, limit).await }
        },
        |i| {
            super::csv::row(&[
                &i.id.to_string(),
                &i.partner_name,
                &i.name,
                i.kind.key(),
                i.tier.key(),
                i.stage.key(),
                i.source_address.as_deref().unwrap_or(""),
                &i.categories.join("; "),
                i.repository_url.as_deref().unwrap_or(""),
                i.verified_version_range.as_deref().unwrap_or(""),
                &i.created_at.to_rfc3339(),
            ])
        },
        |i| i.id,
    ))
}

/// Issues with their SLA state (same filters as `/issues`, all pages) as CSV, streamed.
#[utoipa::path(get, path = "/issues/export.csv", tag = "support",
    params(("state" = Option<String>, Query), ("severity" = Option<String>, Query), ("q" = Option<String>, Query),
        ("due_within" = Option<i64>, Query, description = "Open issues due within this many hours (1–720)")),
    responses((status = 200, description = "text/csv", content_type = "text/csv"), (status = 422, body = ErrorBody)))]
async fn export_issues(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    ApiQuery(q): ApiQuery<app::domain::support::IssueQuery>,
) -> ApiResult<impl IntoResponse> {
    let now = chrono::Utc::now();
    let filter = app::services::support::export_filter(&caller, &q, now)?;
    Ok(super::csv::download(
        "issues",
        &[
            "id",
            "partner",
            "integration",
            "number",
            "title",
            "severity",
            "state",
            "opened_at",
            "due_at",
            "resolved_at",
            "used_hours",
            "left_hours",
            "url",
        ],
        move |after, limit| {
            let (db, filter) = (db.clone(), filter.clone());
            async move { app::services::support::export_chunk(&db, &filter, after, limit, now).await }
        },
        |i| {
            let hours = |s: i64| format!("{:.1}", s as f64 / 3600.0);
            super::csv::row(&[
                &i.id.to_string(),
                &i.partner_name,
                &i.integration_name,
                &i.number.map(|n| n.to_string()).unwrap_or_default(),
                &i.title,
                i.severity.key(),
                i.state.key(),
                &i.opened_at.to_rfc3339(),
                &i.due_at.to_rfc3339(),
                &i.resolved_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                &hours(i.used_seconds),
                &hours(i.left_seconds),
                i.url.as_deref().unwrap_or(""),
            ])
        },
        |i| i.id,
    ))
}
