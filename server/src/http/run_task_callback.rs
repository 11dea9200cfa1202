//! The tracker's side of Terraform Cloud during a conformance check: the
//! task-result callback a partner's endpoint PATCHes, and the two documents
//! a request offers (the plan's JSON and the configuration version). These
//! routes skip sign-in: the bearer token is the access token minted for one
//! stage of one check, checked in `services::run_task_checks`. Answers are
//! JSON:API, as Terraform Cloud's are.

use crate::AppState;
use app::services::run_task_checks::{self as service, Answer};
use app::store::run_task_checks::Document;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::Router;

/// Where these routes live; the sign-in middleware lets them through.
pub const PREFIX: &str = "/run-task-checks/";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/run-task-checks/task-results/{id}/callback", patch(callback))
        .route("/run-task-checks/task-results/{id}/plan-json", get(plan_json))
        .route("/run-task-checks/task-results/{id}/configuration-version", get(configuration_version))
}

/// The bearer token, if the request carries one (parsed as sign-in parses it).
fn bearer(headers: &HeaderMap) -> Option<String> {
    crate::auth::bearer(headers).and_then(Result::ok)
}

const JSON_API: &str = "application/vnd.api+json";

/// `{"errors": [{"status", "title", "detail"}]}` for a refusal, `{}` for 200.
fn json_api(answer: &Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = if status.is_success() {
        serde_json::json!({})
    } else {
        serde_json::json!({"errors": [{
            "status": answer.status.to_string(),
            "title": status.canonical_reason().unwrap_or("error"),
            "detail": answer.detail,
        }]})
    };
    (status, [(header::CONTENT_TYPE, JSON_API)], body.to_string()).into_response()
}

async fn callback(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let token = bearer(&headers);
    match service::callback(&state.db, &id, token.as_deref(), content_type, &body, &state.checks, chrono::Utc::now()).await {
        Ok(answer) => json_api(&answer),
        Err(e) => json_api(&Answer { status: e.status(), detail: e.to_string() }),
    }
}

async fn document(state: &AppState, id: &str, headers: &HeaderMap, which: Document) -> Result<(), Response> {
    match service::document(&state.db, id, bearer(headers).as_deref(), which, chrono::Utc::now()).await {
        Ok(answer) if answer.status == 200 => Ok(()),
        Ok(answer) => Err(json_api(&answer)),
        Err(e) => Err(json_api(&Answer { status: e.status(), detail: e.to_string() })),
    }
}

async fn plan_json(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(refusal) = document(&state, &id, &headers, Document::Plan).await {
        return refusal;
    }
    ([(header::CONTENT_TYPE, "application/json")], PLAN_JSON).into_response()
}

async fn configuration_version(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(refusal) = document(&state, &id, &headers, Document::Configuration).await {
        return refusal;
    }
    match configuration_archive() {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not build the configuration archive");
            json_api(&Answer { status: 500, detail: "could not build the configuration version".into() })
        }
    }
}

/// The configuration the check's "run" plans: one random_pet resource.
const MAIN_TF: &str = r#"terraform {
  required_providers {
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

resource "random_pet" "name" {
  length = 2
}

output "name" {
  value = random_pet.name.id
}
"#;

/// `terraform show -json` of planning [`MAIN_TF`], as Terraform 1.9 writes it.
const PLAN_JSON: &str = r#"{"format_version":"1.2","terraform_version":"1.9.5","planned_values":{"outputs":{"name":{"sensitive":false}},"root_module":{"resources":[{"address":"random_pet.name","mode":"managed","type":"random_pet","name":"name","provider_name":"registry.terraform.io/hashicorp/random","schema_version":0,"values":{"keepers":null,"length":2,"prefix":null,"separator":"-"},"sensitive_values":{}}]}},"resource_changes":[{"address":"random_pet.name","mode":"managed","type":"random_pet","name":"name","provider_name":"registry.terraform.io/hashicorp/random","change":{"actions":["create"],"before":null,"after":{"keepers":null,"length":2,"prefix":null,"separator":"-"},"after_unknown":{"id":true},"before_sensitive":false,"after_sensitive":{}}}],"output_changes":{"name":{"actions":["create"],"before":null,"after_unknown":true,"before_sensitive":false,"after_sensitive":false}},"configuration":{"provider_config":{"random":{"name":"random","full_name":"registry.terraform.io/hashicorp/random","version_constraint":"~> 3.6"}},"root_module":{"outputs":{"name":{"expression":{"references":["random_pet.name.id","random_pet.name"]}}},"resources":[{"address":"random_pet.name","mode":"managed","type":"random_pet","name":"name","provider_config_key":"random","expressions":{"length":{"constant_value":2}},"schema_version":0}]}},"timestamp":"2026-11-23T10:00:00Z","applyable":true,"complete":true,"errored":false}"#;

/// A gzipped tar holding `main.tf`, as Terraform Cloud serves a
/// configuration version.
fn configuration_archive() -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut tar = tar_entry("main.tf", MAIN_TF.as_bytes());
    tar.extend_from_slice(&[0u8; 1024]); // the end-of-archive marker
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar)?;
    gz.finish()
}

/// One ustar entry: a 512-byte header, then the content padded to 512.
fn tar_entry(name: &str, content: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    let mut put = |offset: usize, value: &[u8]| header[offset..offset + value.len()].copy_from_slice(value);
    put(0, name.as_bytes());
    put(100, b"0000644\0");
    put(108, b"0000000\0");
    put(116, b"0000000\0");
    put(124, format!("{:011o}\0", content.len()).as_bytes());
    put(136, format!("{:011o}\0", 1_795_000_000u64).as_bytes());
    put(148, b"        ");
    put(156, b"0");
    put(257, b"ustar\0");
    put(263, b"00");
    let sum: u32 = header.iter().map(|b| *b as u32).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = header.to_vec();
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_version_is_a_gzipped_tar_with_main_tf() {
        use std::io::Read;
        let gz = configuration_archive().unwrap();
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut tar).unwrap();
        assert_eq!(tar.len() % 512, 0);
        assert_eq!(&tar[0..7], b"main.tf");
        assert_eq!(&tar[257..262], b"ustar");
        let size = usize::from_str_radix(std::str::from_utf8(&tar[124..135]).unwrap(), 8).unwrap();
        assert_eq!(&tar[512..512 + size], MAIN_TF.as_bytes());
        // The checksum covers the header with its own field read as spaces.
        let mut header = tar[..512].to_vec();
        let stored = u32::from_str_radix(std::str::from_utf8(&header[148..154]).unwrap(), 8).unwrap();
        header[148..156].copy_from_slice(b"        ");
        assert_eq!(stored, header.iter().map(|b| *b as u32).sum::<u32>());
    }

    #[test]
    fn the_plan_is_json() {
        let plan: serde_json::Value = serde_json::from_str(PLAN_JSON).unwrap();
        assert_eq!(plan["resource_changes"][0]["change"]["actions"][0], "create");
    }
}
