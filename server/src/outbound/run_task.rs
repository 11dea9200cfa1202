//! The run-task client: sends a request to a partner's endpoint as
//! Terraform Cloud does (JSON body, `X-TFC-Task-Signature`, its user agent),
//! through the SSRF guard, with a timeout, a cap on the answer's size and no
//! redirects followed.

use super::guard::Guard;
use super::{fetch, FetchError};
use app::domain::conformance::{Probe, Sent, SIGNATURE_HEADER, USER_AGENT};
use hmac::{Hmac, Mac};
use sha2::Sha512;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The most of an endpoint's answer we read (it should be tiny).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// How much of the answer the report shows.
const EXCERPT_CHARS: usize = 300;

/// Hex HMAC-SHA512 of `body` with `key`: the `X-TFC-Task-Signature` value.
pub fn sign(key: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha512>::new_from_slice(key.as_bytes()) else { return String::new() };
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `signature` (hex) is the HMAC-SHA512 of `body` with `key`,
/// compared in constant time: what a correct run-task endpoint checks.
pub fn verify(key: &str, body: &[u8], signature: &str) -> bool {
    let given: Option<Vec<u8>> = match signature.len() % 2 {
        0 => (0..signature.len()).step_by(2).map(|i| u8::from_str_radix(signature.get(i..i + 2)?, 16).ok()).collect(),
        _ => None,
    };
    let (Some(given), Ok(mut mac)) = (given, Hmac::<Sha512>::new_from_slice(key.as_bytes())) else { return false };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

#[derive(Clone)]
pub struct RunTaskClient {
    http: reqwest::Client,
    guard: Arc<Guard>,
    timeout: Duration,
}

impl RunTaskClient {
    pub fn new(guard: Arc<Guard>, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = super::guard::client_without_redirects(guard.clone(), timeout, USER_AGENT)?;
        Ok(RunTaskClient { http, guard, timeout })
    }

    /// POSTs `body` with `signature` (empty when no key is set) and reports
    /// what came back; never fails: a refusal or timeout is the result.
    pub async fn send(&self, probe: Probe, endpoint: &str, body: &[u8], signature: &str) -> Sent {
        let at = chrono::Utc::now();
        let started = Instant::now();
        let result = match url::Url::parse(endpoint) {
            Err(e) => Err(FetchError::Refused(format!("\"{endpoint}\" is not a URL: {e}"))),
            Ok(url) => match self.guard.check_url(&url) {
                Err(refusal) => Err(FetchError::Refused(refusal.0)),
                Ok(()) => {
                    let request = self
                        .http
                        .post(url)
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .header(SIGNATURE_HEADER, signature)
                        .body(body.to_vec());
                    fetch(request, MAX_ANSWER_BYTES, self.timeout).await
                }
            },
        };
        let millis = started.elapsed().as_millis() as i64;
        match result {
            Ok(answer) => {
                let text = String::from_utf8_lossy(&answer.body);
                let excerpt: String = text.chars().filter(|c| !c.is_control() || *c == '\n').take(EXCERPT_CHARS).collect();
                Sent {
                    probe,
                    at,
                    millis,
                    status: Some(answer.status.as_u16()),
                    error: None,
                    body_excerpt: (!excerpt.trim().is_empty()).then_some(excerpt),
                }
            }
            Err(e) => Sent { probe, at, millis, status: None, error: Some(e.to_string()), body_excerpt: None },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hex_hmac_sha512() {
        // RFC 4231, test case 2.
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
        assert_ne!(sign("a key of sixteen+", b"{}"), sign("another key here", b"{}"));
        let good = sign("Jefe", b"body");
        assert!(verify("Jefe", b"body", &good));
        for bad in [sign("Jefe", b"other"), sign("Jeff", b"body"), good[..good.len() - 1].to_string(), "zz".repeat(64), String::new()] {
            assert!(!verify("Jefe", b"body", &bad), "{bad}");
        }
    }
}
