//! A run-task integration's registration (Develop & Test): the endpoint
//! Terraform Cloud calls, the HMAC key it signs requests with, and the
//! stages the integration supports. The key is write-only: once saved it
//! is never shown or returned again, only its fingerprint (the first 12 hex
//! digits of its SHA-256) and when it was set.

use super::{optional, FieldErrors, Problems};
use serde::{Deserialize, Serialize};

/// The run-task stages of the run-tasks API (run-tasks.md).
pub const STAGES: [(&str, &str); 4] =
    [("pre_plan", "Pre-plan"), ("post_plan", "Post-plan"), ("pre_apply", "Pre-apply"), ("post_apply", "Post-apply")];

pub const MIN_KEY_CHARS: usize = 16;
pub const MAX_KEY_CHARS: usize = 256;

/// The hosts outbound requests may reach over plain http (from the
/// `OUTBOUND_ALLOW` setting), provided to services by the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlainHttp(pub Vec<String>);

/// What a form or API client sends. An empty `hmac_key` keeps the stored one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct RegistrationInput {
    pub endpoint_url: String,
    pub hmac_key: String,
    pub stages: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValidRegistration {
    pub endpoint_url: Option<String>,
    pub hmac_key: Option<String>,
    pub stages: Vec<String>,
}

/// The registration as anyone may see it: never the key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    pub endpoint_url: Option<String>,
    pub hmac_fingerprint: Option<String>,
    pub hmac_set_at: Option<chrono::DateTime<chrono::Utc>>,
    pub stages: Vec<String>,
}

impl RegistrationInput {
    /// `plain_http`: hosts the outbound allow-list lets us reach over plain
    /// http (tests' local endpoints); every other endpoint must be https.
    pub fn validate(&self, plain_http: &[String]) -> Result<ValidRegistration, FieldErrors> {
        let mut problems = Problems::default();
        let endpoint_url = optional(&self.endpoint_url);
        if let Some(url) = &endpoint_url {
            let host_of = |r: &str| r.split(['/', '?', '#']).next().unwrap_or_default().to_string();
            let rest = url.strip_prefix("https://").or_else(|| {
                url.strip_prefix("http://").filter(|r| {
                    let host = host_of(r).to_lowercase();
                    let name = match host.rsplit_once(':') {
                        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h.to_string(),
                        _ => host.clone(),
                    };
                    plain_http.iter().any(|p| *p == name.trim_start_matches('[').trim_end_matches(']'))
                })
            });
            let host = rest.map(host_of).unwrap_or_default();
            if rest.is_none() {
                problems.add("endpoint_url", "the endpoint must be an https:// URL (Terraform Cloud only calls HTTPS)");
            } else if host.is_empty() || host.contains(char::is_whitespace) || host.contains('@') {
                problems.add("endpoint_url", format!("\"{url}\" has no valid host"));
            } else if url.len() > 2048 {
                problems.add("endpoint_url", "at most 2048 characters");
            } else if url.contains(|c: char| c.is_whitespace() || c.is_control()) {
                problems.add("endpoint_url", "a URL has no spaces or control characters (write a space as %20)");
            } else if let Err(e) = url::Url::parse(url) {
                // Stored, it would complete the "endpoint registered" task and
                // then fail every conformance check: refused here instead.
                problems.add("endpoint_url", format!("\"{url}\" is not a valid URL: {e}"));
            }
        }
        let hmac_key = optional(&self.hmac_key);
        if let Some(key) = &hmac_key {
            let n = key.chars().count();
            if !(MIN_KEY_CHARS..=MAX_KEY_CHARS).contains(&n) {
                problems.add("hmac_key", format!("the key must be {MIN_KEY_CHARS}–{MAX_KEY_CHARS} characters (this has {n})"));
            }
        }
        let mut stages = Vec::new();
        for s in &self.stages {
            let s = s.trim();
            if s.is_empty() {
                continue;
            }
            if !STAGES.iter().any(|(k, _)| *k == s) {
                problems.add("stages", format!("\"{s}\" is not a run-task stage (pre_plan, post_plan, pre_apply, post_apply)"));
            } else if !stages.iter().any(|x| x == s) {
                stages.push(s.to_string());
            }
        }
        // Keep the API's order, whatever order they came in.
        stages.sort_by_key(|s| STAGES.iter().position(|(k, _)| k == s));
        problems.finish(ValidRegistration { endpoint_url, hmac_key, stages })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(url: &str, key: &str, stages: &[&str]) -> RegistrationInput {
        RegistrationInput { endpoint_url: url.into(), hmac_key: key.into(), stages: stages.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn registrations_are_validated() {
        let ok =
            input(" https://scan.example.com/tfc ", "0123456789abcdef", &["post_plan", "pre_plan", "post_plan"]).validate(&[]).unwrap();
        assert_eq!(ok.endpoint_url.as_deref(), Some("https://scan.example.com/tfc"));
        assert_eq!(ok.stages, ["pre_plan", "post_plan"]);
        for fine in ["https://scan.example.com:8443/tfc?x=1", "https://[2001:db8::1]/tfc", "https://bücher.example/tfc"] {
            assert!(input(fine, "", &[]).validate(&[]).is_ok(), "{fine}");
        }
        assert_eq!(input("", "", &[]).validate(&[]).unwrap(), ValidRegistration { endpoint_url: None, hmac_key: None, stages: vec![] });
        let cases = [
            (input("http://scan.example.com", "", &[]), "endpoint_url"),
            (input("https://", "", &[]), "endpoint_url"),
            (input("https://user@evil.example", "", &[]), "endpoint_url"),
            (input("ftp://x", "", &[]), "endpoint_url"),
            (input("https://scan.example.com/a b", "", &[]), "endpoint_url"),
            (input("https://scan.example.com/a\u{7}", "", &[]), "endpoint_url"),
            (input("https://scan.example.com:99999/tfc", "", &[]), "endpoint_url"),
            (input("https://scan.example.com:8x/tfc", "", &[]), "endpoint_url"),
            (input("https://[::1/tfc", "", &[]), "endpoint_url"),
            (input("https://[::g]/tfc", "", &[]), "endpoint_url"),
            (input("https://scan..example.com%/tfc", "", &[]), "endpoint_url"),
            (input("", "short", &[]), "hmac_key"),
            (input("", &"k".repeat(300), &[]), "hmac_key"),
            (input("", "", &["during_plan"]), "stages"),
        ];
        for (i, field) in cases {
            let errors = i.validate(&[]).expect_err(field);
            assert!(errors.contains_key(field), "{i:?}: {errors:?}");
        }
        // Plain http only to hosts the outbound allow-list names for it.
        let local = vec!["127.0.0.1".to_string()];
        assert!(input("http://127.0.0.1:8080/tfc", "", &[]).validate(&local).is_ok());
        assert!(input("http://127.0.0.1:8080/tfc", "", &[]).validate(&[]).is_err());
        assert!(input("http://127.0.0.2/tfc", "", &[]).validate(&local).is_err());
        assert!(input("http://127.0.0.1.evil.example/", "", &[]).validate(&local).is_err());
    }
}
