//! Sign-in at the HTTP edge: the one middleware every request passes
//! (who is asking, may an anonymous request go on, is a state-changing
//! request from our own origin), the session cookie, and the clients of the
//! identity providers. Deciding who a proven identity is, and what they may
//! do, is `app::services::sign_in` and `app::domain::access`.

pub mod github;
pub mod oidc;
pub mod routes;
pub mod sessions;

use crate::config::AuthConfig;
use crate::AppState;
use app::domain::access::Caller;
use app::services::sign_in;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use std::sync::Arc;

pub const SESSION_COOKIE: &str = "tracker_session";
/// Carries the OAuth `state` across the round trip to the provider, so a
/// callback only completes in the browser that started it.
pub const OAUTH_COOKIE: &str = "tracker_oauth";

/// A cookie's name as sent: over https with the `__Host-` prefix, which
/// browsers accept only from this host, `Secure`, on `Path=/` and without
/// `Domain`, so a sibling subdomain cannot plant a session of its choosing
/// (login CSRF) or the OAuth state. Plain http (a local server) cannot
/// carry the prefix.
pub fn cookie_name(base: &str, secure: bool) -> String {
    if secure {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

/// What the sign-in code needs at run time.
pub struct Auth {
    pub config: AuthConfig,
    /// The public address, e.g. `https://tracker.example.com`.
    pub base_url: String,
    /// Cookies get `Secure` when the base URL is https.
    pub secure_cookies: bool,
    /// The demo picker may be offered (loopback bind and the setting on).
    pub demo_allowed: bool,
    pub github: Option<github::GithubClient>,
    pub oidc: Option<oidc::OidcClient>,
}

impl Auth {
    pub fn new(config: AuthConfig, base_url: String, loopback: bool) -> Self {
        let http = outbound_client();
        let github = config.github.clone().map(|c| github::GithubClient::new(c, &base_url, http.clone()));
        let oidc = config.oidc.clone().map(|c| oidc::OidcClient::new(c, &base_url, http.clone()));
        Auth {
            secure_cookies: scheme(&base_url).is_some_and(|s| s.eq_ignore_ascii_case("https")),
            demo_allowed: loopback && config.demo_sign_in,
            base_url,
            config,
            github,
            oidc,
        }
    }

    /// A `Set-Cookie` value; `max_age` None ends the cookie with the browser session.
    /// A `Set-Cookie` value for one of our cookies (`SESSION_COOKIE`,
    /// `OAUTH_COOKIE`), named by [`cookie_name`], on the whole site.
    pub fn cookie(&self, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
        let name = cookie_name(name, self.secure_cookies);
        let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
        if let Some(age) = max_age {
            c.push_str(&format!("; Max-Age={age}"));
        }
        if self.secure_cookies {
            c.push_str("; Secure");
        }
        HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    pub fn clear_cookie(&self, name: &str) -> HeaderValue {
        self.cookie(name, "", Some(0))
    }

    /// One of our cookies in the request, by its name as sent.
    pub fn read_cookie(&self, headers: &HeaderMap, name: &str) -> Option<String> {
        cookie(headers, &cookie_name(name, self.secure_cookies))
    }
}

/// The client for identity providers: no redirects followed (a token
/// endpoint must answer itself), short timeouts.
fn outbound_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(15))
        .user_agent(concat!("integration-tracker/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// The value of one cookie in the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// The `Authorization: Bearer` token: `None` without the header,
/// `Some(Err(()))` when the header is not a bearer token.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<Result<String, ()>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    Some(token.ok_or(()))
}

/// Paths an anonymous request may reach: sign-in itself, the static
/// bundle, the health check, and the two server functions the sign-in
/// pages use.
pub fn is_public(path: &str) -> bool {
    const EXACT: &[&str] = &["/sign-in", "/sign-in/refused", "/healthz", "/favicon.ico", "/api/auth/options", "/api/auth/invitation"];
    const PREFIX: &[&str] = &["/auth/", "/invite/", "/pkg/"];
    EXACT.contains(&path) || PREFIX.iter().any(|p| path.starts_with(p))
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The scheme of an absolute URL.
fn scheme(url: &str) -> Option<&str> {
    Some(url.split_once("://")?.0)
}

/// The `host[:port]` of an absolute URL.
fn authority(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

/// A browser's state-changing request must come from a page of ours: its
/// `Origin` (or, failing that, `Referer`) names `BASE_URL`'s host, or the
/// loopback host it was sent to (so `localhost` and `127.0.0.1` both work on
/// a local server; any other `Host` could be a DNS-rebound attacker's name).
/// Requests with neither come from scripts, not from another site's page.
/// Scheme counts too: with an https `BASE_URL`, a page served over plain
/// http under our name (a network attacker's) is not ours.
fn same_origin(headers: &HeaderMap, base_url: &str) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).filter(|h| is_loopback_authority(h));
    let ours = |url: &str| {
        let a = authority(url);
        let same_scheme = scheme(url).is_some_and(|s| scheme(base_url).is_some_and(|b| s.eq_ignore_ascii_case(b)));
        a.is_some() && ((same_scheme && a == authority(base_url)) || (host.is_some() && a == host))
    };
    if let Some(origin) = headers.get(header::ORIGIN) {
        return origin.to_str().map(ours).unwrap_or(false);
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    match headers.get(header::REFERER) {
        Some(r) => r.to_str().map(ours).unwrap_or(false),
        None => true,
    }
}

fn is_loopback_authority(authority: &str) -> bool {
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// Every request passes here. It resolves the caller from an API token or
/// the session cookie and attaches it to the request; refuses cross-origin
/// writes; and turns away anonymous requests to anything not public (a
/// JSON 401 under `/api`, a redirect to the sign-in page elsewhere).
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    // The static bundle is the same for everyone: no session lookup for it.
    if path.starts_with("/pkg/") && is_safe(req.method()) {
        return next.run(req).await;
    }
    // A run-task endpoint calling back: its bearer token is the check's own
    // access token, checked by the route, not a person's API token. The
    // sample endpoint (demo only) checks its requests' signatures itself.
    if path.starts_with(crate::http::run_task_callback::PREFIX) || (path == crate::http::sample_run_task::PATH && state.sample_run_task) {
        return next.run(req).await;
    }
    let now = Utc::now();
    let bearer = bearer(req.headers());
    if bearer.is_none() && !is_safe(req.method()) && !same_origin(req.headers(), &state.auth.base_url) {
        tracing::warn!(path, "refused a cross-origin request");
        return json_error(axum::http::StatusCode::FORBIDDEN, "cross-origin requests are not accepted");
    }
    let caller = match &bearer {
        Some(Ok(token)) => match sign_in::token_caller(&state.db, token, now).await {
            Ok(Some(caller)) => Some(caller),
            Ok(None) => return unauthorized("the API token is not valid (revoked, or its owner was deactivated)"),
            Err(e) => return e.into_response(),
        },
        Some(Err(())) => return unauthorized("the Authorization header must be \"Bearer <token>\""),
        None => match state.auth.read_cookie(req.headers(), SESSION_COOKIE) {
            Some(secret) => match state.sessions.caller(&state.db, &state.auth.config.policy, &secret, now).await {
                Ok(caller) => caller,
                Err(e) => return e.into_response(),
            },
            None => None,
        },
    };
    match caller {
        Some(caller) => {
            req.extensions_mut().insert(caller);
        }
        None if is_public(&path) => {}
        None if path.starts_with("/api/") => return unauthorized("sign in, or send an API token as \"Authorization: Bearer <token>\""),
        None => {
            let next = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let target = if next == "/" { "/sign-in".to_string() } else { format!("/sign-in?next={}", encode(next)) };
            return Redirect::to(&target).into_response();
        }
    }
    let writes = !is_safe(req.method());
    let res = next.run(req).await;
    if writes {
        // What this request wrote is committed by now: this instance's caches
        // follow at once, without waiting for the feed's notification.
        state.changes.changed();
    }
    res
}

/// The API's error body (`{"error": …}`) with a message of our own.
fn json_error(status: axum::http::StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

fn unauthorized(message: &str) -> Response {
    let mut res = json_error(axum::http::StatusCode::UNAUTHORIZED, message);
    res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    res
}

/// Percent-encodes a value for a query string.
pub fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Where to go after signing in: only a path on this site, never another
/// host (`//evil.example` and `/\evil` included).
pub fn safe_next(next: Option<&str>) -> String {
    // Browsers drop tabs and newlines and read `\` as `/`, so any of them
    // could turn a path into `//evil.example`.
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.chars().any(|c| c.is_control() || c == '\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

/// The signed-in caller, for API handlers: a handler that takes it cannot
/// run anonymously.
pub struct SignedIn(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .map(SignedIn)
            .ok_or_else(|| unauthorized("sign in, or send an API token as \"Authorization: Bearer <token>\""))
    }
}

pub type SharedAuth = Arc<Auth>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        let cases = [
            (Some("/partners?q=a"), "/partners?q=a"),
            (Some("/"), "/"),
            (None, "/"),
            (Some("https://evil.example/"), "/"),
            (Some("//evil.example/x"), "/"),
            (Some("/\\evil.example"), "/"),
            (Some("partners"), "/"),
            (Some("/a\r\nSet-Cookie: x=y"), "/"),
            (Some("/\t/evil.example"), "/"),
            (Some("/x\\y"), "/"),
        ];
        for (input, expected) in cases {
            assert_eq!(safe_next(input), expected, "{input:?}");
        }
    }

    #[test]
    fn origin_checks() {
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:3000"));
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_str(v).unwrap());
            }
            h
        };
        let base = "https://tracker.example.com";
        let cases: [(&[(&'static str, &str)], bool); 11] = [
            (&[("origin", "http://127.0.0.1:3000")], true),
            (&[("origin", "https://tracker.example.com")], true),
            // Our name over plain http is not our https site.
            (&[("origin", "http://tracker.example.com")], false),
            (&[("referer", "http://tracker.example.com/partners")], false),
            (&[("origin", "https://evil.example")], false),
            (&[("origin", "null")], false),
            (&[("sec-fetch-site", "cross-site")], false),
            (&[("sec-fetch-site", "same-origin")], true),
            (&[("referer", "https://evil.example/page")], false),
            (&[], true),
            (&[("origin", "http://localhost:3000")], false),
        ];
        for (pairs, expected) in cases {
            assert_eq!(same_origin(&headers(pairs), base), expected, "{pairs:?}");
        }
        // DNS rebinding: a hostile name pointing at us sends a matching Host and Origin.
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("evil.example:3000"));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://evil.example:3000"));
        assert!(!same_origin(&h, base));
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; tracker_session=abc; b="));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "b"), None);
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn public_paths() {
        for p in ["/sign-in", "/auth/github/start", "/invite/x", "/pkg/app.js", "/healthz", "/api/auth/options"] {
            assert!(is_public(p), "{p}");
        }
        for p in ["/", "/partners", "/api/v1/partners", "/api/partners/list", "/sign-in-evil", "/admin/users"] {
            assert!(!is_public(p), "{p}");
        }
    }
}
