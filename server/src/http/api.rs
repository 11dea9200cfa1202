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
        .routes(routes!(integration_audit))
        .routes(routes!(partner_audit))
        .routes(routes!(search_audit))
        .routes(routes!(export_audit))
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
    SignedIn(caller): SignedIn,
    ApiJson(input): ApiJson<PartnerInput>,
) -> ApiResult<impl IntoResponse> {
    let partner = partners::create(&db, &caller, &input).await?;
    Ok(created(format!("/api/v1/partners/{}", partner.slug), partner))
}

#[utoipa::path(put, path = "/partners/{slug}", tag = "partners", request_body = PartnerInput,
    params(("slug" = String, Path)),
    responses((status = 200, body = Partner), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn replace_partner(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    Path(slug): Path<String>,
    ApiJson(input): ApiJson<PartnerInput>,
) -> ApiResult<Json<Partner>> {
    Ok(Json(partners::update(&db, &caller, &slug, &input).await?))
}

/// Changes only the fields given.
#[utoipa::path(patch, path = "/partners/{slug}", tag = "partners", request_body = PartnerInput,
    params(("slug" = String, Path)),
    responses((status = 200, body = Partner), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn patch_partner(
    State(db): State<Db>,
    SignedIn(caller): SignedIn,
    Path(slug): Path<String>,
    ApiJson(patch): ApiJson<serde_json::Value>,
) -> ApiResult<Json<Partner>> {
    let current = partners::get(&db, &caller, &slug).await?;
    let input: PartnerInput = merge(&current.to_input(), patch)?;
    Ok(Json(partners::update(&db, &caller, &slug, &input).await?))
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
    let body = futures::StreamExt::chain(futures::stream::once(async move { Ok(header_row) }), chunks);
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
