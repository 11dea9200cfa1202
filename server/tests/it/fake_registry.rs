//! A small registry in the tests that speaks the provider registry protocol
//! (`shared/spec/registry.md` §3) and the public registry's v2 metadata
//! (§4) with realistic payloads, and misbehaves on request: no discovery,
//! 404, 500, 429 with Retry-After, slow answers, malformed JSON, huge
//! bodies. It answers ETag conditional requests with 304, as registries
//! behind a CDN do, and logs what it was asked.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the discovery document looks.
#[derive(Clone, Debug)]
pub enum Discovery {
    /// `{"providers.v1": "/v1/providers/"}`
    Relative,
    /// An absolute URL to another path of this server.
    Absolute,
    /// 404: the host offers no services.
    Missing,
    /// Services, but no `providers.v1`.
    ModulesOnly,
}

/// How a provider's versions list answers.
#[derive(Clone, Debug)]
pub enum Behaviour {
    Normal,
    Status(u16),
    /// 429 with `Retry-After: seconds`.
    RateLimited(u64),
    Slow(Duration),
    Malformed,
    /// A valid document padded past any sane size.
    Huge(usize),
}

#[derive(Clone, Debug)]
pub struct Provider {
    pub versions: Vec<String>,
    pub platforms: Vec<(&'static str, &'static str)>,
    pub behaviour: Behaviour,
    /// How its download answers (`…/{version}/download/{os}/{arch}`) answer:
    /// `Normal`, or a `Status` / `RateLimited` failure.
    pub downloads: Behaviour,
    /// (version, "os_arch") whose download answer lacks its signature URL and keys.
    pub unsigned: HashSet<(String, String)>,
    /// The public registry's tier for it (served on `/v2/providers/…`).
    pub tier: String,
    pub warning: String,
}

impl Provider {
    pub fn new(versions: &[&str]) -> Self {
        Provider {
            versions: versions.iter().map(|v| v.to_string()).collect(),
            platforms: vec![("darwin", "arm64"), ("linux", "amd64"), ("windows", "amd64")],
            behaviour: Behaviour::Normal,
            downloads: Behaviour::Normal,
            unsigned: HashSet::new(),
            tier: "partner".into(),
            warning: String::new(),
        }
    }
}

#[derive(Default)]
struct Inner {
    discovery: Option<Discovery>,
    providers: HashMap<(String, String), Provider>,
    /// "GET path [if-none-match]" per request.
    log: Vec<String>,
}

#[derive(Clone)]
pub struct FakeRegistry {
    /// `127.0.0.1:port`, as a source address's host.
    pub host: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeRegistry {
    pub async fn start(discovery: Discovery) -> Self {
        let inner = Arc::new(Mutex::new(Inner { discovery: Some(discovery), ..Inner::default() }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake registry");
        let host = listener.local_addr().expect("address").to_string();
        let fake = FakeRegistry { host, inner };
        let app = Router::new().fallback(answer).with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
    }

    pub fn set(&self, namespace: &str, type_name: &str, provider: Provider) {
        self.inner.lock().unwrap().providers.insert((namespace.into(), type_name.into()), provider);
    }

    pub fn update(&self, namespace: &str, type_name: &str, change: impl FnOnce(&mut Provider)) {
        let mut inner = self.inner.lock().unwrap();
        change(inner.providers.get_mut(&(namespace.to_string(), type_name.to_string())).expect("a provider set earlier"));
    }

    pub fn remove(&self, namespace: &str, type_name: &str) {
        self.inner.lock().unwrap().providers.remove(&(namespace.to_string(), type_name.to_string()));
    }

    pub fn log(&self) -> Vec<String> {
        self.inner.lock().unwrap().log.clone()
    }

    pub fn clear_log(&self) {
        self.inner.lock().unwrap().log.clear();
    }
}

fn etag_of(p: &Provider) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{:?}{:?}", p.versions, p.platforms).as_bytes());
    format!("\"{}\"", digest.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>())
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "application/json")], body).into_response()
}

async fn answer(State(fake): State<FakeRegistry>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_string();
    let if_none_match = headers.get("if-none-match").and_then(|v| v.to_str().ok()).map(str::to_string);
    {
        let mut inner = fake.inner.lock().unwrap();
        inner.log.push(format!("GET {path}{}", if_none_match.as_ref().map(|e| format!(" [{e}]")).unwrap_or_default()));
    }
    if path == "/.well-known/terraform.json" {
        let discovery = fake.inner.lock().unwrap().discovery.clone();
        return match discovery {
            Some(Discovery::Relative) => {
                json_response(StatusCode::OK, json!({"providers.v1": "/v1/providers/", "modules.v1": "/v1/modules/"}).to_string())
            }
            Some(Discovery::Absolute) => {
                json_response(StatusCode::OK, json!({"providers.v1": format!("http://{}/terraform/providers/v1", fake.host)}).to_string())
            }
            Some(Discovery::ModulesOnly) => json_response(StatusCode::OK, json!({"modules.v1": "/v1/modules/"}).to_string()),
            Some(Discovery::Missing) | None => StatusCode::NOT_FOUND.into_response(),
        };
    }
    if let Some(rest) = path.strip_prefix("/v2/providers/") {
        return metadata(&fake, rest);
    }
    let rest = path.strip_prefix("/v1/providers/").or_else(|| path.strip_prefix("/terraform/providers/v1/"));
    let Some(rest) = rest else { return StatusCode::NOT_FOUND.into_response() };
    let parts: Vec<&str> = rest.split('/').collect();
    let key = |ns: &str, ty: &str| (ns.to_string(), ty.to_string());
    match parts.as_slice() {
        [ns, ty, "versions"] => {
            let provider = fake.inner.lock().unwrap().providers.get(&key(ns, ty)).cloned();
            let Some(p) = provider else {
                return json_response(StatusCode::NOT_FOUND, json!({"errors": ["Not Found"]}).to_string());
            };
            match p.behaviour {
                Behaviour::Normal | Behaviour::Huge(_) => {}
                Behaviour::Status(code) => {
                    return json_response(StatusCode::from_u16(code).unwrap(), json!({"errors": ["Internal Server Error"]}).to_string())
                }
                Behaviour::RateLimited(secs) => {
                    return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", secs.to_string())], "slow down").into_response()
                }
                Behaviour::Slow(d) => tokio::time::sleep(d).await,
                Behaviour::Malformed => return json_response(StatusCode::OK, "{\"versions\": [{\"version\": \"1.0.0\",".into()),
            }
            let etag = etag_of(&p);
            if if_none_match.as_deref() == Some(etag.as_str()) {
                return (StatusCode::NOT_MODIFIED, [("etag", etag)]).into_response();
            }
            let versions: Vec<serde_json::Value> = p
                .versions
                .iter()
                .map(|v| {
                    json!({
                        "version": v,
                        "protocols": ["5.0", "6.0"],
                        "platforms": p.platforms.iter().map(|(os, arch)| json!({"os": os, "arch": arch})).collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut body = json!({"versions": versions, "warnings": if p.warning.is_empty() { json!(null) } else { json!([p.warning]) }});
            if let Behaviour::Huge(bytes) = p.behaviour {
                body["padding"] = json!("x".repeat(bytes));
            }
            (StatusCode::OK, [("content-type", "application/json".to_string()), ("etag", etag)], body.to_string()).into_response()
        }
        [ns, ty, version, "download", os, arch] => {
            let provider = fake.inner.lock().unwrap().providers.get(&key(ns, ty)).cloned();
            let Some(p) = provider.filter(|p| p.versions.iter().any(|v| v == version)) else {
                return StatusCode::NOT_FOUND.into_response();
            };
            match p.downloads {
                Behaviour::Status(code) => return StatusCode::from_u16(code).unwrap().into_response(),
                Behaviour::RateLimited(secs) => {
                    return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", secs.to_string())], "slow down").into_response()
                }
                _ => {}
            }
            let file = format!("terraform-provider-{ty}_{version}_{os}_{arch}.zip");
            let base = format!("https://github.com/{ns}/terraform-provider-{ty}/releases/download/v{version}");
            let mut body = json!({
                "protocols": ["5.0", "6.0"], "os": os, "arch": arch, "filename": file,
                "download_url": format!("{base}/{file}"),
                "shasums_url": format!("{base}/terraform-provider-{ty}_{version}_SHA256SUMS"),
                "shasums_signature_url": format!("{base}/terraform-provider-{ty}_{version}_SHA256SUMS.sig"),
                "shasum": "5f9c7aa76b7c34d722fc9123208e26b22d60440cb47150dd04733b9b94f4541a",
                "signing_keys": {"gpg_public_keys": [{
                    "key_id": "51852D87348FFC4C",
                    "ascii_armor": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBFMORM0BCADBRyKO1MhCirazOSVwcfTr1xUxjPvfxD3hjUwHtjsOy/bT6p9f\n-----END PGP PUBLIC KEY BLOCK-----",
                    "trust_signature": "", "source": "HashiCorp", "source_url": "https://www.hashicorp.com/security.html"
                }]}
            });
            if p.unsigned.contains(&(version.to_string(), format!("{os}_{arch}"))) {
                let obj = body.as_object_mut().unwrap();
                obj.remove("shasums_signature_url");
                obj.remove("signing_keys");
            }
            json_response(StatusCode::OK, body.to_string())
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /v2/providers/{ns}/{type}?include=provider-versions`, JSON:API.
fn metadata(fake: &FakeRegistry, rest: &str) -> Response {
    let parts: Vec<&str> = rest.split('/').collect();
    let [ns, ty] = parts.as_slice() else { return StatusCode::NOT_FOUND.into_response() };
    let provider = fake.inner.lock().unwrap().providers.get(&(ns.to_string(), ty.to_string())).cloned();
    let Some(p) = provider else { return json_response(StatusCode::NOT_FOUND, json!({"errors": [{"status": "404"}]}).to_string()) };
    let included: Vec<serde_json::Value> = p
        .versions
        .iter()
        .enumerate()
        .map(|(i, v)| {
            json!({"type": "provider-versions", "id": (1000 + i).to_string(), "attributes": {
                "version": v, "published-at": format!("2026-{:02}-15T09:30:00Z", (i % 12) + 1), "tag": format!("v{v}"), "downloads": 100 * (i + 1)
            }})
        })
        .collect();
    let body = json!({
        "data": {"type": "providers", "id": "4242", "attributes": {
            "alias": ty, "description": "Manage widgets", "downloads": 1234567, "featured": false,
            "full-name": format!("{ns}/{ty}"), "logo-url": "https://avatars.githubusercontent.com/u/1?v=4",
            "name": ty, "namespace": ns, "owner-name": ns, "source": format!("https://github.com/{ns}/terraform-provider-{ty}"),
            "tier": p.tier, "unlisted": false, "warning": p.warning
        }},
        "included": included
    });
    json_response(StatusCode::OK, body.to_string())
}
