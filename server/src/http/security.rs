//! Security headers on every response. Pages get a Content-Security-Policy
//! with a fresh nonce per request: Leptos puts it on its hydration and
//! resource scripts (see `http::router`, which hands it to Leptos), so no
//! other inline script can run.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

/// The nonce of this request's inline scripts.
#[derive(Clone, Debug)]
pub struct CspNonce(pub String);

/// `https`: the site is served over https (`BASE_URL`), so browsers are
/// told to keep to it.
pub async fn headers(State(https): State<bool>, mut req: Request, next: Next) -> Response {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let nonce = URL_SAFE_NO_PAD.encode(bytes);
    req.extensions_mut().insert(CspNonce(nonce.clone()));
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    // 'wasm-unsafe-eval' lets the hydration bundle compile; no other eval.
    let csp = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
    );
    // A handler's own, stricter policy (evidence downloads) stays.
    if let (false, Ok(v)) = (h.contains_key(header::CONTENT_SECURITY_POLICY), HeaderValue::from_str(&csp)) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    if https {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    // Pages, API answers and exports show someone's data: no cache keeps
    // them (a shared computer's back button, a proxy). Scripts, styles and
    // the wasm bundle stay cacheable.
    if !h.contains_key(header::CACHE_CONTROL) && private_content(h.get(header::CONTENT_TYPE)) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    }
    res
}

fn private_content(content_type: Option<&HeaderValue>) -> bool {
    let Some(t) = content_type.and_then(|v| v.to_str().ok()) else { return false };
    let t = t.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    matches!(t.as_str(), "text/html" | "application/json" | "text/csv" | "application/x-www-form-urlencoded" | "text/plain")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_kept_out_of_caches() {
        let cases = [
            (Some("text/html; charset=utf-8"), true),
            (Some("application/json"), true),
            (Some("text/csv; charset=utf-8"), true),
            (Some("text/plain"), true),
            (Some("application/wasm"), false),
            (Some("text/javascript"), false),
            (Some("text/css"), false),
            (Some("image/svg+xml"), false),
            (None, false),
        ];
        for (t, want) in cases {
            let v = t.map(|t| HeaderValue::from_str(t).unwrap());
            assert_eq!(private_content(v.as_ref()), want, "{t:?}");
        }
    }
}
