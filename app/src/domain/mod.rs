//! Pure rules of the program: no I/O, no async, compiled for the server and
//! the browser alike, and tested with tables of cases beside the code.

pub mod access;
pub mod alert;
pub mod audit;
pub mod catalog;
pub mod conformance;
pub mod constraint;
pub mod dashboard;
pub mod evidence;
pub mod flag;
pub mod github;
pub mod integration;
pub mod outbox;
pub mod partner;
pub mod registry;
pub mod revision;
pub mod run_task;
pub mod sla;
pub mod slug;
pub mod source_address;
pub mod support;
pub mod task;
pub mod template;
pub mod user;

use std::collections::BTreeMap;

/// Messages per input field, as forms show them and the API returns them.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// Collects field errors while validating, so a form shows every problem at once.
#[derive(Debug, Default)]
pub struct Problems(pub FieldErrors);

impl Problems {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.entry(field.to_string()).or_default().push(message.into());
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `Ok(value)` when nothing was reported.
    pub fn finish<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }
}

/// Trims and turns an empty string into `None`.
pub fn optional(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// A deliberately simple email check: something@host.tld, no spaces. Real
/// verification is the confirmation mail, not a regex.
pub fn validate_email(email: &str) -> Result<(), String> {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(format!("\"{email}\" is not an email address"));
    };
    let ok = !local.is_empty()
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c == '<' || c == '>' || c == ',')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    if ok {
        Ok(())
    } else {
        Err(format!("\"{email}\" is not an email address"))
    }
}

/// An http(s) URL with a host, as links to repositories and docs must be.
pub fn validate_web_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| "must start with https:// (or http://)".to_string())?;
    if url.len() > 500 {
        return Err("at most 500 characters".into());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces".into());
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains('@') || host.starts_with('.') || host.starts_with(':') {
        return Err("must name a host, e.g. https://github.com/acme/terraform-provider-acme".into());
    }
    // A link that looks right but does not parse (a bad port, a broken
    // IPv6 address) would be stored and lead nowhere.
    url::Url::parse(url).map(|_| ()).map_err(|e| format!("is not a valid web address: {e}"))
}

/// One page of a list, and how many items there are in all.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

impl<T> Page<T> {
    pub fn pages(&self) -> i64 {
        ((self.total + self.per_page - 1) / self.per_page.max(1)).max(1)
    }
}

pub const DEFAULT_PER_PAGE: i64 = 20;
pub const MAX_PER_PAGE: i64 = 100;

/// Clamps paging parameters from a URL or API call to sane values
/// (pages count from 1).
pub fn paging(page: Option<i64>, per_page: Option<i64>) -> (i64, i64) {
    let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE).clamp(1, MAX_PER_PAGE);
    let page = page.unwrap_or(1).clamp(1, 1_000_000);
    (page, per_page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@b.co", "first.last+tag@example.com", "x@sub.example.org"] {
            assert_eq!(validate_email(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a", "a@b", "@b.co", "a@.co", "a@b.", "a b@c.de", "a@b..c", "<a@b.co>", "a@b.co,c@d.ef"] {
            assert!(validate_email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn web_urls() {
        for ok in [
            "https://github.com/acme/x",
            "http://git.example.com:8080/a",
            "https://example.com",
            "https://[2001:db8::1]/x",
            "https://bücher.example/x",
        ] {
            assert_eq!(validate_web_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "github.com/acme/x",
            "ftp://x.y/z",
            "https://",
            "https:///path",
            "https://a b.com",
            "https://user@host/x",
            "javascript:alert(1)",
            "https://example.com:99999/x",
            "https://example.com:80a/x",
            "https://[::1/x",
            "https://[::zz]/x",
        ] {
            assert!(validate_web_url(bad).is_err(), "{bad:?}");
        }
    }
}
