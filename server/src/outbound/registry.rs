//! A client of the provider registry protocol (`shared/spec/registry.md`
//! §3) for any host, and of the public registry's metadata API (§4) where a
//! host offers it. Every request goes through the SSRF guard; discovery is
//! cached per host; answers are size-limited; errors say which host did what.

use super::guard::Guard;
use super::{fetch, FetchError, Fetched};
use app::domain::registry::{self as rules, Metadata, Platform, VersionList};
use chrono::{DateTime, Utc};
use reqwest::header::{AUTHORIZATION, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, RETRY_AFTER};
use reqwest::StatusCode;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Settings {
    /// Per request (Terraform uses 11 s for discovery).
    pub timeout: Duration,
    /// The largest answer read (Terraform: 1 MiB for discovery).
    pub max_body: usize,
    /// How long a discovery answer is reused.
    pub discovery_ttl: Duration,
    /// Bearer tokens per registry host (`TF_TOKEN_…`), as Terraform's `credentials` blocks.
    pub tokens: HashMap<String, String>,
    /// Hosts that also serve the public registry's `/v2/providers` API.
    pub metadata_hosts: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(11),
            max_body: 4 * 1024 * 1024,
            discovery_ttl: Duration::from_secs(3600),
            tokens: HashMap::new(),
            metadata_hosts: vec![rules::PUBLIC_REGISTRY.to_string()],
        }
    }
}

/// What went wrong, worded for the poll status and the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("not fetched: {0}")]
    Refused(String),
    #[error("{0} offers no registry services (no /.well-known/terraform.json)")]
    NoServices(String),
    #[error("{0} is not a provider registry (its discovery document has no providers.v1)")]
    NotProviderRegistry(String),
    #[error("the provider is not on {0} (404)")]
    NotFound(String),
    #[error("{host} refused the request ({status}): set a token for it (TF_TOKEN_…) or check the one set")]
    Unauthorised { host: String, status: u16 },
    #[error("{host} asked us to slow down ({status})")]
    RateLimited { host: String, status: u16, retry_after: Option<DateTime<Utc>> },
    #[error("{what} answered {status}")]
    Status { what: String, status: u16 },
    #[error("{host}: {error}")]
    Fetch { host: String, error: FetchError },
    #[error("{host}: {message}")]
    Malformed { host: String, message: String },
}

impl RegistryError {
    /// The stored outcome of a poll that ended with this error.
    pub fn outcome(&self) -> &'static str {
        match self {
            RegistryError::Refused(_) => "refused",
            RegistryError::NotFound(_) => "not_found",
            RegistryError::Unauthorised { .. } => "unauthorised",
            _ => "error",
        }
    }

    /// Errors about the host rather than one provider: they pause the whole
    /// host (Retry-After, back-off) so its other providers wait too.
    pub fn is_host_problem(&self) -> bool {
        matches!(
            self,
            RegistryError::NoServices(_)
                | RegistryError::NotProviderRegistry(_)
                | RegistryError::RateLimited { .. }
                | RegistryError::Fetch { error: FetchError::Network(_) | FetchError::Timeout(_), .. }
        ) || matches!(self, RegistryError::Status { status, .. } if *status >= 500)
    }

    pub fn retry_after(&self) -> Option<DateTime<Utc>> {
        match self {
            RegistryError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// A versions answer.
#[derive(Debug)]
pub enum Versions {
    /// 304: nothing changed since the validators we sent.
    NotModified,
    Listed {
        list: VersionList,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

type DiscoverySlot = Arc<tokio::sync::Mutex<Option<(Result<url::Url, RegistryError>, Instant)>>>;

/// A failed discovery is remembered this long, so the polls queued behind
/// it fail at once instead of each waiting for the same timeout.
const DISCOVERY_ERROR_TTL: Duration = Duration::from_secs(30);

pub struct RegistryClient {
    http: reqwest::Client,
    guard: Arc<Guard>,
    settings: Settings,
    /// One slot per host: the lock makes concurrent polls of one host wait
    /// for a single discovery instead of each sending their own.
    discovery: Mutex<HashMap<String, DiscoverySlot>>,
}

/// The host without its port, for the guard's per-host rules.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split(']').next().map(|h| h.trim_start_matches('[')).unwrap_or(host);
    }
    host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
}

impl RegistryClient {
    pub fn new(guard: Arc<Guard>, settings: Settings) -> Result<Self, reqwest::Error> {
        let http = super::guard::client(guard.clone(), settings.timeout, concat!("integration-tracker/", env!("CARGO_PKG_VERSION")))?;
        Ok(Self { http, guard, settings, discovery: Mutex::new(HashMap::new()) })
    }

    fn url(&self, host: &str, path: &str) -> Result<url::Url, RegistryError> {
        let scheme = self.guard.scheme_for(host_name(host));
        url::Url::parse(&format!("{scheme}://{host}{path}")).map_err(|e| RegistryError::Refused(format!("{host}: {e}")))
    }

    async fn get(&self, host: &str, url: url::Url, headers: &[(reqwest::header::HeaderName, String)]) -> Result<Fetched, RegistryError> {
        self.guard.check_url(&url).map_err(|r| RegistryError::Refused(r.0))?;
        let mut request = self.http.get(url).header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = self.settings.tokens.get(host) {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let fetched = fetch(request, self.settings.max_body, self.settings.timeout).await.map_err(|error| match error {
            FetchError::Refused(r) => RegistryError::Refused(r),
            error => RegistryError::Fetch { host: host.to_string(), error },
        })?;
        if matches!(fetched.status, StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE) {
            let now = Utc::now();
            let header = |name: &str| fetched.headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| rules::retry_after(v, now));
            let retry_after = header(RETRY_AFTER.as_str()).or_else(|| header("x-ratelimit-reset"));
            return Err(RegistryError::RateLimited { host: host.to_string(), status: fetched.status.as_u16(), retry_after });
        }
        if matches!(fetched.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return Err(RegistryError::Unauthorised { host: host.to_string(), status: fetched.status.as_u16() });
        }
        Ok(fetched)
    }

    /// The `providers.v1` base URL of `host`, from cache while fresh.
    pub async fn discover(&self, host: &str) -> Result<url::Url, RegistryError> {
        let slot = {
            let mut map = self.discovery.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(host.to_string()).or_default().clone()
        };
        let mut cached = slot.lock().await;
        if let Some((result, at)) = cached.as_ref() {
            let ttl = if result.is_ok() { self.settings.discovery_ttl } else { DISCOVERY_ERROR_TTL };
            if at.elapsed() < ttl {
                return result.clone();
            }
        }
        let result = self.discover_now(host).await;
        *cached = Some((result.clone(), Instant::now()));
        result
    }

    async fn discover_now(&self, host: &str) -> Result<url::Url, RegistryError> {
        let fetched = self.get(host, self.url(host, "/.well-known/terraform.json")?, &[]).await?;
        match fetched.status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Err(RegistryError::NoServices(host.to_string())),
            status => return Err(RegistryError::Status { what: format!("service discovery on {host}"), status: status.as_u16() }),
        }
        let malformed = |message: String| RegistryError::Malformed { host: host.to_string(), message };
        let base = rules::parse_discovery(&fetched.body)
            .map_err(|e| malformed(e.0))?
            .ok_or_else(|| RegistryError::NotProviderRegistry(host.to_string()))?;
        // Relative bases resolve against the final URL after redirects.
        let mut base = fetched.url.join(&base).map_err(|e| malformed(format!("providers.v1 is not a URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || !base.username().is_empty() || base.password().is_some() {
            return Err(malformed(format!("providers.v1 must be an http(s) URL without credentials, got {base}")));
        }
        self.guard.check_url(&base).map_err(|r| RegistryError::Refused(r.0))?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(base)
    }

    /// Forgets a host's discovered base, e.g. after it stopped answering
    /// (a remembered failure stays until it expires).
    pub async fn forget(&self, host: &str) {
        let slot = self.discovery.lock().unwrap_or_else(|p| p.into_inner()).get(host).cloned();
        if let Some(slot) = slot {
            let mut cached = slot.lock().await;
            if matches!(cached.as_ref(), Some((Ok(_), _))) {
                *cached = None;
            }
        }
    }

    fn join(&self, host: &str, base: &url::Url, path: &str) -> Result<url::Url, RegistryError> {
        base.join(path).map_err(|e| RegistryError::Malformed { host: host.to_string(), message: format!("cannot build {path}: {e}") })
    }

    /// The versions list, or `NotModified` when `etag`/`last_modified` still hold.
    pub async fn versions(
        &self,
        host: &str,
        namespace: &str,
        type_name: &str,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Result<Versions, RegistryError> {
        let base = self.discover(host).await?;
        let url = self.join(host, &base, &format!("{namespace}/{type_name}/versions"))?;
        let mut conditions = Vec::new();
        if let Some(e) = etag {
            conditions.push((IF_NONE_MATCH, e.to_string()));
        }
        if let Some(m) = last_modified {
            conditions.push((IF_MODIFIED_SINCE, m.to_string()));
        }
        let fetched = self.get(host, url, &conditions).await?;
        match fetched.status {
            StatusCode::OK => {}
            StatusCode::NOT_MODIFIED => return Ok(Versions::NotModified),
            StatusCode::NOT_FOUND => return Err(RegistryError::NotFound(host.to_string())),
            status => return Err(RegistryError::Status { what: format!("the versions list on {host}"), status: status.as_u16() }),
        }
        let list = rules::parse_versions(&fetched.body).map_err(|e| RegistryError::Malformed { host: host.to_string(), message: e.0 })?;
        let header = |name| fetched.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string).filter(|v| v.len() <= 256);
        Ok(Versions::Listed { list, etag: header(ETAG), last_modified: header(LAST_MODIFIED) })
    }

    /// What one release lacks, per platform ("linux_amd64: shasums_signature_url,
    /// signing_keys"); empty when every platform is complete. Binaries are not downloaded.
    pub async fn missing_in_release(
        &self,
        host: &str,
        namespace: &str,
        type_name: &str,
        version: &str,
        platforms: &[Platform],
    ) -> Result<Vec<String>, RegistryError> {
        let base = self.discover(host).await?;
        let mut missing = Vec::new();
        for p in platforms {
            let url = self.join(host, &base, &format!("{namespace}/{type_name}/{version}/download/{}/{}", p.os, p.arch))?;
            let fetched = self.get(host, url, &[]).await?;
            match fetched.status {
                StatusCode::OK => match rules::missing_in_package(&fetched.body) {
                    Ok(fields) if fields.is_empty() => {}
                    Ok(fields) => missing.push(format!("{}: {}", p.key(), fields.join(", "))),
                    Err(e) => missing.push(format!("{}: {}", p.key(), e.0)),
                },
                StatusCode::NOT_FOUND => missing.push(format!("{}: listed, but its download answers 404", p.key())),
                status => {
                    return Err(RegistryError::Status {
                        what: format!("the download of {version} {} on {host}", p.key()),
                        status: status.as_u16(),
                    })
                }
            }
        }
        Ok(missing)
    }

    /// The public registry's metadata, where `host` offers that API.
    pub async fn metadata(&self, host: &str, namespace: &str, type_name: &str) -> Result<Option<Metadata>, RegistryError> {
        if !self.settings.metadata_hosts.iter().any(|h| h == host) {
            return Ok(None);
        }
        let url = self.url(host, &format!("/v2/providers/{namespace}/{type_name}?include=provider-versions"))?;
        let fetched = self.get(host, url, &[]).await?;
        match fetched.status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(None),
            status => return Err(RegistryError::Status { what: format!("the provider metadata on {host}"), status: status.as_u16() }),
        }
        rules::parse_metadata(&fetched.body).map(Some).map_err(|e| RegistryError::Malformed { host: host.to_string(), message: e.0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_drop_the_port() {
        for (host, name) in [("registry.terraform.io", "registry.terraform.io"), ("127.0.0.1:8080", "127.0.0.1"), ("[::1]:8443", "::1")] {
            assert_eq!(host_name(host), name);
        }
    }
}
