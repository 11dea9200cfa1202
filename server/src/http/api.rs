//! The JSON API for scripts and partners' CI: `/api/v1/partners` and
//! `/api/v1/integrations` (list, get, create, replace, patch) and the
//! OpenAPI document generated from these handlers.
//!
//! Errors are `{"error": "...", "fields": {"field": ["message"]}}` with
//! 400 (malformed request), 404, 409 (clashes with stored data) or 422
//! (breaks a rule). Sign-in will add authentication to every route.

use super::extract::{ApiJson, ApiQuery};
use crate::AppState;
use app::domain::integration::{Integration, IntegrationInput, IntegrationQuery};
use app::domain::partner::{Contact, Partner, PartnerInput, PartnerQuery};
use app::domain::Page;
use app::error::AppError;
use app::services::{integrations, partners};
use app::store::Db;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/partners", get(list_partners).post(create_partner))
        .route("/partners/{slug}", get(get_partner).put(replace_partner).patch(patch_partner))
        .route("/integrations", get(list_integrations).post(create_integration))
        .route("/integrations/{id}", get(get_integration).put(replace_integration).patch(patch_integration))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Integration Tracker API", version = "1", description = "Partners and their integrations (providers and run tasks)."),
    paths(
        list_partners, get_partner, create_partner, replace_partner, patch_partner,
        list_integrations, get_integration, create_integration, replace_integration, patch_integration,
    ),
    components(schemas(Partner, PartnerInput, Contact, PartnerList, Integration, IntegrationInput, IntegrationList, ErrorBody))
)]
pub struct ApiDoc;

async fn openapi() -> impl IntoResponse {
    Json(ApiDoc::openapi())
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
    serde_json::from_value(value).map_err(|e| AppError::Validation {
        message: format!("the JSON does not fit: {e}"),
        fields: Default::default(),
    })
}

fn integration_id(raw: &str) -> ApiResult<i64> {
    raw.parse().map_err(|_| AppError::NotFound(format!("integration {raw}")))
}

#[utoipa::path(get, path = "/api/v1/partners", tag = "partners",
    params(
        ("q" = Option<String>, Query, description = "Search in name and slug"),
        ("kind" = Option<String>, Query, description = "infrastructure, workflow or both"),
        ("category" = Option<String>, Query, description = "A use-case category, e.g. Networking"),
        ("page" = Option<i64>, Query, description = "From 1"),
        ("per_page" = Option<i64>, Query, description = "1–100, default 20"),
    ),
    responses((status = 200, body = PartnerList), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_partners(State(db): State<Db>, ApiQuery(query): ApiQuery<PartnerQuery>) -> ApiResult<Json<Page<Partner>>> {
    Ok(Json(partners::list(&db, &query).await?))
}

#[utoipa::path(get, path = "/api/v1/partners/{slug}", tag = "partners",
    params(("slug" = String, Path)),
    responses((status = 200, body = Partner), (status = 404, body = ErrorBody)))]
async fn get_partner(State(db): State<Db>, Path(slug): Path<String>) -> ApiResult<Json<Partner>> {
    Ok(Json(partners::get(&db, &slug).await?))
}

#[utoipa::path(post, path = "/api/v1/partners", tag = "partners", request_body = PartnerInput,
    responses((status = 201, body = Partner), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_partner(State(db): State<Db>, ApiJson(input): ApiJson<PartnerInput>) -> ApiResult<impl IntoResponse> {
    let partner = partners::create(&db, &input).await?;
    Ok(created(format!("/api/v1/partners/{}", partner.slug), partner))
}

#[utoipa::path(put, path = "/api/v1/partners/{slug}", tag = "partners", request_body = PartnerInput,
    params(("slug" = String, Path)),
    responses((status = 200, body = Partner), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn replace_partner(State(db): State<Db>, Path(slug): Path<String>, ApiJson(input): ApiJson<PartnerInput>) -> ApiResult<Json<Partner>> {
    Ok(Json(partners::update(&db, &slug, &input).await?))
}

/// Changes only the fields given.
#[utoipa::path(patch, path = "/api/v1/partners/{slug}", tag = "partners", request_body = PartnerInput,
    params(("slug" = String, Path)),
    responses((status = 200, body = Partner), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn patch_partner(State(db): State<Db>, Path(slug): Path<String>, ApiJson(patch): ApiJson<serde_json::Value>) -> ApiResult<Json<Partner>> {
    let current = partners::get(&db, &slug).await?;
    let input: PartnerInput = merge(&current.to_input(), patch)?;
    Ok(Json(partners::update(&db, &slug, &input).await?))
}

#[utoipa::path(get, path = "/api/v1/integrations", tag = "integrations",
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
async fn list_integrations(State(db): State<Db>, ApiQuery(query): ApiQuery<IntegrationQuery>) -> ApiResult<Json<Page<Integration>>> {
    Ok(Json(integrations::list(&db, &query).await?))
}

#[utoipa::path(get, path = "/api/v1/integrations/{id}", tag = "integrations",
    params(("id" = i64, Path)),
    responses((status = 200, body = Integration), (status = 404, body = ErrorBody)))]
async fn get_integration(State(db): State<Db>, Path(id): Path<String>) -> ApiResult<Json<Integration>> {
    Ok(Json(integrations::get(&db, integration_id(&id)?).await?))
}

#[utoipa::path(post, path = "/api/v1/integrations", tag = "integrations", request_body = IntegrationInput,
    responses((status = 201, body = Integration), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_integration(State(db): State<Db>, ApiJson(input): ApiJson<IntegrationInput>) -> ApiResult<impl IntoResponse> {
    let integration = integrations::create(&db, &input).await?;
    Ok(created(format!("/api/v1/integrations/{}", integration.id), integration))
}

#[utoipa::path(put, path = "/api/v1/integrations/{id}", tag = "integrations", request_body = IntegrationInput,
    params(("id" = i64, Path)),
    responses((status = 200, body = Integration), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn replace_integration(State(db): State<Db>, Path(id): Path<String>, ApiJson(input): ApiJson<IntegrationInput>) -> ApiResult<Json<Integration>> {
    Ok(Json(integrations::update(&db, integration_id(&id)?, &input).await?))
}

/// Changes only the fields given.
#[utoipa::path(patch, path = "/api/v1/integrations/{id}", tag = "integrations", request_body = IntegrationInput,
    params(("id" = i64, Path)),
    responses((status = 200, body = Integration), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn patch_integration(State(db): State<Db>, Path(id): Path<String>, ApiJson(patch): ApiJson<serde_json::Value>) -> ApiResult<Json<Integration>> {
    let id = integration_id(&id)?;
    let current = integrations::get(&db, id).await?;
    let input: IntegrationInput = merge(&current.to_input(), patch)?;
    Ok(Json(integrations::update(&db, id, &input).await?))
}
