//! What a registry says about a provider (`shared/spec/registry.md`, §3–4)
//! and what the tracker makes of it: the documents of the provider registry
//! protocol, the public registry's metadata, which versions are new, when a
//! release is incomplete, when the registry's tier disagrees with ours, and
//! when to poll next. Pure: the poller does the I/O and asks these rules.

use crate::domain::catalog::{Stage, Tier};
use crate::domain::constraint::{Constraints, Version};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// The public registry's host; its extra API (§4) is read only where a
/// host is known to offer it.
pub const PUBLIC_REGISTRY: &str = "registry.terraform.io";

/// A registry answered with something that is not the documented shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DocumentError(pub String);

fn malformed(what: &str, e: serde_json::Error) -> DocumentError {
    DocumentError(format!("the {what} is not valid JSON of the documented shape: {e}"))
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub arch: String,
}

impl Platform {
    /// `linux_amd64`, as release assets name it.
    pub fn key(&self) -> String {
        let mut key = String::with_capacity(self.os.len() + self.arch.len() + 1);
        self.push_key(&mut key);
        key
    }

    fn push_key(&self, out: &mut String) {
        out.push_str(&self.os);
        out.push('_');
        out.push_str(&self.arch);
    }
}

/// Platforms as stored: their keys, comma-separated, built in one string.
pub fn platform_keys(platforms: &[Platform]) -> String {
    let mut keys = String::with_capacity(platforms.iter().map(|p| p.os.len() + p.arch.len() + 2).sum());
    for (k, p) in platforms.iter().enumerate() {
        if k > 0 {
            keys.push(',');
        }
        p.push_key(&mut keys);
    }
    keys
}

/// One entry of a versions list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedVersion {
    pub version: String,
    #[serde(default)]
    pub protocols: Vec<String>,
    #[serde(default)]
    pub platforms: Vec<Platform>,
}

/// A provider's versions list, with entries that are not versions left out
/// (and counted, so the poll status can say so).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VersionList {
    pub versions: Vec<ListedVersion>,
    pub warnings: Vec<String>,
    pub ignored: usize,
}

/// The `providers.v1` base from a discovery document, as written there
/// (relative or absolute; the client resolves it). `None`: the host offers
/// other services but no provider registry.
pub fn parse_discovery(body: &[u8]) -> Result<Option<String>, DocumentError> {
    let doc: BTreeMap<String, serde_json::Value> = serde_json::from_slice(body).map_err(|e| malformed("discovery document", e))?;
    match doc.get("providers.v1") {
        None => Ok(None),
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Some(other) => Err(DocumentError(format!("providers.v1 must be a URL string, found {other}"))),
    }
}

const MAX_FIELD: usize = 64;

pub fn parse_versions(body: &[u8]) -> Result<VersionList, DocumentError> {
    // Entries are kept raw first, so one odd entry is left out rather than
    // failing the list, without building a tree of every entry.
    #[derive(Deserialize)]
    struct Doc<'a> {
        #[serde(borrow)]
        versions: Vec<&'a serde_json::value::RawValue>,
        #[serde(default)]
        warnings: Option<Vec<String>>,
    }
    let doc: Doc = serde_json::from_slice(body).map_err(|e| malformed("versions list", e))?;
    let mut list = VersionList { warnings: doc.warnings.unwrap_or_default(), ..VersionList::default() };
    let mut seen = HashSet::new();
    for raw in doc.versions {
        let Ok(v) = serde_json::from_str::<ListedVersion>(raw.get()) else {
            list.ignored += 1;
            continue;
        };
        let sane = |s: &str| !s.is_empty() && s.len() <= MAX_FIELD && s.chars().all(|c| c.is_ascii_graphic());
        let usable = sane(&v.version)
            && Version::parse(&v.version).is_ok()
            && v.protocols.iter().all(|p| sane(p))
            && v.platforms.iter().all(|p| sane(&p.os) && sane(&p.arch));
        if !usable || !seen.insert(v.version.clone()) {
            list.ignored += 1;
            continue;
        }
        list.versions.push(v);
    }
    Ok(list)
}

/// What a release lacks, from one platform's download answer: the fields
/// Terraform needs to verify a package. Empty when complete.
pub fn missing_in_package(body: &[u8]) -> Result<Vec<&'static str>, DocumentError> {
    use serde_json::value::RawValue;
    // Only the fields checked are read, each raw, so a field of the wrong
    // type counts as missing instead of failing the whole answer.
    #[derive(Deserialize)]
    struct Package<'a> {
        #[serde(borrow, default)]
        download_url: Option<&'a RawValue>,
        #[serde(borrow, default)]
        shasums_url: Option<&'a RawValue>,
        #[serde(borrow, default)]
        shasums_signature_url: Option<&'a RawValue>,
        #[serde(borrow, default)]
        shasum: Option<&'a RawValue>,
        #[serde(borrow, default)]
        signing_keys: Option<&'a RawValue>,
    }
    #[derive(Deserialize)]
    struct Keys<'a> {
        #[serde(borrow, default)]
        gpg_public_keys: Option<Vec<&'a RawValue>>,
    }
    #[derive(Deserialize)]
    struct Key<'a> {
        #[serde(borrow, default)]
        ascii_armor: Option<&'a RawValue>,
    }
    let object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if !object {
        serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(|e| malformed("download answer", e))?;
        return Err(DocumentError("the download answer is not a JSON object".into()));
    }
    let doc: Package = serde_json::from_slice(body).map_err(|e| malformed("download answer", e))?;
    let text = |raw: Option<&RawValue>| -> Option<String> { raw.and_then(|r| serde_json::from_str::<String>(r.get()).ok()) };
    let filled = |raw: Option<&RawValue>| text(raw).is_some_and(|s| !s.trim().is_empty());
    let mut missing = Vec::new();
    for (field, raw) in
        [("download_url", doc.download_url), ("shasums_url", doc.shasums_url), ("shasums_signature_url", doc.shasums_signature_url)]
    {
        if !filled(raw) {
            missing.push(field);
        }
    }
    let shasum_ok = text(doc.shasum).is_some_and(|s| s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()));
    if !shasum_ok {
        missing.push("shasum");
    }
    let keys = doc.signing_keys.and_then(|r| serde_json::from_str::<Keys>(r.get()).ok()).and_then(|k| k.gpg_public_keys);
    let key_ok = keys.is_some_and(|ks| ks.iter().any(|k| serde_json::from_str::<Key>(k.get()).ok().is_some_and(|k| filled(k.ascii_armor))));
    if !key_ok {
        missing.push("signing_keys");
    }
    Ok(missing)
}

/// The public registry's view of a provider (its v2 API, §4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Metadata {
    pub tier: Option<String>,
    pub source: Option<String>,
    pub downloads: Option<i64>,
    pub warning: Option<String>,
    /// Publication date per version, where the API gives one.
    pub published: BTreeMap<String, DateTime<Utc>>,
}

pub fn parse_metadata(body: &[u8]) -> Result<Metadata, DocumentError> {
    let doc: serde_json::Value = serde_json::from_slice(body).map_err(|e| malformed("provider metadata", e))?;
    let attrs = doc.pointer("/data/attributes").ok_or_else(|| DocumentError("the provider metadata has no data.attributes".into()))?;
    let text =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::trim).filter(|s| !s.is_empty()).map(String::from);
    let mut meta = Metadata {
        tier: text(attrs, "tier"),
        source: text(attrs, "source"),
        downloads: attrs.get("downloads").and_then(|d| d.as_i64()),
        warning: text(attrs, "warning"),
        published: BTreeMap::new(),
    };
    for item in doc.get("included").and_then(|i| i.as_array()).into_iter().flatten() {
        if item.get("type").and_then(|t| t.as_str()) != Some("provider-versions") {
            continue;
        }
        let Some(a) = item.get("attributes") else { continue };
        let (Some(v), Some(at)) = (text(a, "version"), text(a, "published-at")) else { continue };
        if let Ok(at) = DateTime::parse_from_rfc3339(&at) {
            meta.published.insert(v, at.with_timezone(&Utc));
        }
    }
    Ok(meta)
}

/// Whether a registry warning says the provider is archived (the tier value
/// itself may not change, §4).
pub fn warns_archived(warning: Option<&str>) -> bool {
    warning.is_some_and(|w| w.to_lowercase().contains("archive"))
}

/// Why the registry's tier disagrees with the tracker's, if it does. The
/// registry calls the program's *verified* tier `partner`.
pub fn tier_mismatch(ours: Tier, registry_tier: Option<&str>, warning: Option<&str>) -> Option<String> {
    let archived = warns_archived(warning);
    if ours == Tier::Archived {
        return (!archived).then(|| "the tracker lists it as archived; the registry does not say it is archived".to_string());
    }
    if archived {
        return Some(format!("the registry says it is archived; the tracker lists it as {}", ours.label().to_lowercase()));
    }
    let theirs = registry_tier?.to_lowercase();
    let expected = match ours {
        Tier::Official => "official",
        Tier::Verified => "partner",
        Tier::Community => "community",
        Tier::Archived => return None,
    };
    (theirs != expected)
        .then(|| format!("the registry lists tier \"{theirs}\"; the tracker's {} tier means \"{expected}\"", ours.label().to_lowercase()))
}

/// Whether a newly found version falls outside the provider's verified
/// range, so reviewers should verify again. Prereleases never count: ranges
/// never match them (§2), and a beta is no reason to re-verify.
pub fn outside_verified_range(range: Option<&str>, version: &str) -> bool {
    let (Some(range), Ok(v)) = (range, Version::parse(version)) else { return false };
    match Constraints::parse(range) {
        Ok(c) => !v.is_prerelease() && !c.matches(&v),
        Err(_) => false,
    }
}

/// The listed versions not yet known, in ascending version order.
pub fn new_versions<'a>(known: &HashSet<String>, listed: &'a [ListedVersion]) -> Vec<&'a ListedVersion> {
    let mut fresh: Vec<&ListedVersion> = listed.iter().filter(|v| !known.contains(&v.version)).collect();
    fresh.sort_by_cached_key(|v| Version::parse(&v.version).ok());
    fresh
}

/// The newest release: the highest version that is not a prerelease, or the
/// highest prerelease when there is nothing else.
pub fn latest<'a, I: IntoIterator<Item = &'a str>>(versions: I) -> Option<&'a str> {
    let parsed: Vec<(Version, &str)> = versions.into_iter().filter_map(|s| Version::parse(s).ok().map(|v| (v, s))).collect();
    let stable = parsed.iter().filter(|(v, _)| !v.is_prerelease()).max_by(|a, b| a.0.cmp(&b.0));
    stable.or_else(|| parsed.iter().max_by(|a, b| a.0.cmp(&b.0))).map(|(_, s)| *s)
}

/// The version a release tag names as registries list it: `v1.2.3` and
/// `1.2.3` are `1.2.3`; a tag that is no version (`nightly`) names none.
pub fn tag_version(tag: &str) -> Option<String> {
    let t = tag.trim();
    let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
    Version::parse(t).ok().map(|_| t.to_string())
}

/// Registry lag: a GitHub release published at least `after` ago whose
/// version no registry lists (`listed`: every registry's versions). Returns
/// the version that is missing.
pub fn registry_lag(tag: &str, published_at: DateTime<Utc>, listed: &[&str], now: DateTime<Utc>, after: Duration) -> Option<String> {
    let version = tag_version(tag)?;
    let wanted = Version::parse(&version).ok()?;
    let on_a_registry = listed.iter().any(|v| Version::parse(v).is_ok_and(|v| v == wanted));
    (!on_a_registry && now - published_at >= after).then_some(version)
}

/// When to poll a provider again (settings, see the README).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pub interval: Duration,
    /// Providers in Publish are waiting for their first release: look more often.
    pub publish_interval: Duration,
    /// The first retry after an error; doubled per failure after that.
    pub retry_base: Duration,
    pub max_backoff: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            interval: Duration::hours(1),
            publish_interval: Duration::minutes(10),
            retry_base: Duration::minutes(1),
            max_backoff: Duration::hours(6),
        }
    }
}

/// `d` scaled by `factor`, to the second.
fn scale(d: Duration, factor: f64) -> Duration {
    Duration::milliseconds((d.num_milliseconds() as f64 * factor) as i64)
}

impl Schedule {
    /// The next regular poll; `jitter` in [0, 1) spreads polls over ±10 %
    /// of the interval so a fleet added at once does not stay in lockstep.
    pub fn after_success(&self, now: DateTime<Utc>, stage: Stage, jitter: f64) -> DateTime<Utc> {
        let base = if stage == Stage::Publish { self.publish_interval.min(self.interval) } else { self.interval };
        now + scale(base, 0.9 + 0.2 * jitter.clamp(0.0, 1.0))
    }

    /// The retry after the `failures`-th error in a row: exponential, capped,
    /// with "equal jitter" (half fixed, half random), and never before what
    /// the registry asked for with `Retry-After`.
    pub fn after_failure(&self, now: DateTime<Utc>, failures: i64, jitter: f64, retry_after: Option<DateTime<Utc>>) -> DateTime<Utc> {
        let exponent = (failures.max(1) - 1).min(30) as i32;
        let backoff = scale(self.retry_base, 2f64.powi(exponent)).min(self.max_backoff);
        let at = now + scale(backoff, 0.5 + 0.5 * jitter.clamp(0.0, 1.0));
        match retry_after {
            Some(r) if r > at => r.min(now + Duration::hours(24)),
            _ => at,
        }
    }
}

/// A `Retry-After` value (seconds or an HTTP date) or an
/// `x-ratelimit-reset` epoch, as an instant; capped at a day so a silly
/// value cannot park a host for ever.
pub fn retry_after(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let value = value.trim();
    let at = if let Ok(secs) = value.parse::<i64>() {
        // Large numbers are epoch seconds (x-ratelimit-reset), small ones a delay.
        if secs > 1_000_000_000 {
            DateTime::from_timestamp(secs, 0)?
        } else {
            now + Duration::seconds(secs.max(0))
        }
    } else {
        DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc)
    };
    Some(at.clamp(now, now + Duration::hours(24)))
}

crate::domain::catalog::vocabulary!(
    /// What the poller noticed about a provider (each recorded once).
    EventKind {
        Found => ("found", "Found on the registry"),
        NewVersion => ("new_version", "New version"),
        TierMismatch => ("tier_mismatch", "Tier mismatch"),
        ProviderGone => ("provider_gone", "Provider gone"),
        ReleaseIncomplete => ("release_incomplete", "Release incomplete"),
        OutsideVerifiedRange => ("outside_verified_range", "Outside the verified range"),
        RegistryLag => ("registry_lag", "Registry lag behind GitHub"),
    }
);

/// Whether an event tells the partner's alliance manager of a newly
/// published version: every new version, and the first listing of a
/// provider still before or in Publish (its first release, which the
/// pipeline waits for). A provider found later in its track was published
/// before the tracker knew it: its latest version is not news.
pub fn announces_version(kind: EventKind, stage: Stage) -> bool {
    match kind {
        EventKind::NewVersion => true,
        EventKind::Found => matches!(stage, Stage::Prepare | Stage::Publish),
        _ => false,
    }
}

/// One version as the provider page lists it, with the registries it is on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionView {
    pub version: String,
    pub protocols: Vec<String>,
    pub platforms: Vec<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub first_seen_at: DateTime<Utc>,
    /// The hosts that list it, in the order of [`ProviderRegistry::polls`].
    pub hosts: Vec<String>,
    /// `unchecked`, `complete` or `incomplete`.
    pub release_check: String,
    pub release_missing: Option<String>,
}

/// The state of one provider on one registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollView {
    pub registry_host: String,
    pub last_polled_at: Option<DateTime<Utc>>,
    pub last_outcome: Option<String>,
    pub last_error: Option<String>,
    pub next_poll_at: DateTime<Utc>,
    pub found_at: Option<DateTime<Utc>>,
    pub registry_tier: Option<String>,
    pub downloads: Option<i64>,
    pub warning: Option<String>,
    pub versions: i64,
    pub latest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    pub kind: EventKind,
    pub registry_host: String,
    pub version: Option<String>,
    pub detail: String,
    pub occurred_at: DateTime<Utc>,
}

/// Everything the provider page shows about registries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderRegistry {
    pub polls: Vec<PollView>,
    pub versions: Vec<VersionView>,
    pub events: Vec<EventView>,
    pub latest: Option<String>,
    /// Versions the provider's own registry has and a mirror lacks, per mirror.
    pub gaps: Vec<(String, Vec<String>)>,
}

/// Versions on `primary` that `mirror` does not list (newest first, at most 10).
pub fn gap(primary: &[&str], mirror: &HashSet<&str>) -> Vec<String> {
    let mut missing: Vec<&str> = primary.iter().copied().filter(|v| !mirror.contains(v)).collect();
    missing.sort_by_cached_key(|v| std::cmp::Reverse(Version::parse(v).ok()));
    missing.into_iter().take(10).map(String::from).collect()
}

/// One sweep of the poller, as the status page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    pub instance: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub total: i64,
    pub done: i64,
    pub failed: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostStatus {
    pub host: String,
    pub providers: i64,
    pub failing: i64,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub blocked_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollerStatus {
    pub sweep: Option<Sweep>,
    pub next_run: Option<DateTime<Utc>>,
    pub providers: i64,
    pub hosts: Vec<HostStatus>,
    /// Polls per last outcome ("ok", "not_modified", "error"…).
    pub outcomes: Vec<(String, i64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_announced() {
        use EventKind::*;
        let cases = [
            (NewVersion, Stage::Support, true),
            (NewVersion, Stage::Publish, true),
            (Found, Stage::Prepare, true),
            (Found, Stage::Publish, true),
            (Found, Stage::Apply, false),
            (Found, Stage::Verify, false),
            (Found, Stage::Support, false),
            (ReleaseIncomplete, Stage::Publish, false),
            (TierMismatch, Stage::Support, false),
        ];
        for (kind, stage, want) in cases {
            assert_eq!(announces_version(kind, stage), want, "{kind:?} in {stage:?}");
        }
    }
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
    }

    #[test]
    fn registry_lag_behind_github() {
        let day = Duration::hours(24);
        let h = |n: i64| now() - Duration::hours(n);
        let cases: Vec<(&str, DateTime<Utc>, Vec<&str>, Option<&str>)> = vec![
            ("v1.4.0", h(30), vec!["1.3.0"], Some("1.4.0")),
            ("1.4.0", h(30), vec!["1.3.0"], Some("1.4.0")),
            ("v1.4.0", h(30), vec!["1.3.0", "1.4.0"], None),
            ("v1.4.0", h(2), vec!["1.3.0"], None),
            ("v1.4.0", h(24), vec![], Some("1.4.0")),
            ("v2.0.0-beta.1", h(48), vec!["1.9.0"], Some("2.0.0-beta.1")),
            ("nightly", h(48), vec![], None),
            ("release-2026-11", h(48), vec![], None),
            ("V3.1.0", h(48), vec!["3.1.0"], None),
        ];
        for (tag, published, listed, want) in cases {
            assert_eq!(registry_lag(tag, published, &listed, now(), day).as_deref(), want, "{tag} {listed:?}");
        }
        assert_eq!(tag_version(" v0.1.2 ").as_deref(), Some("0.1.2"));
    }

    #[test]
    fn discovery_documents() {
        let cases: &[(&str, Result<Option<&str>, ()>)] = &[
            (r#"{"providers.v1": "/v1/providers/", "modules.v1": "/v1/modules/"}"#, Ok(Some("/v1/providers/"))),
            (
                r#"{"providers.v1": "https://api.example.com/terraform/providers/v1/"}"#,
                Ok(Some("https://api.example.com/terraform/providers/v1/")),
            ),
            (r#"{"modules.v1": "/v1/modules/"}"#, Ok(None)),
            (r#"{"providers.v1": 42}"#, Err(())),
            (r#"{"providers.v1": ""}"#, Err(())),
            ("<html>not json</html>", Err(())),
            ("[]", Err(())),
        ];
        for (body, want) in cases {
            let got = parse_discovery(body.as_bytes()).map_err(|_| ());
            assert_eq!(got, want.map(|o| o.map(String::from)), "{body}");
        }
    }

    #[test]
    fn versions_lists() {
        let body = br#"{"versions": [
            {"version": "2.0.0", "protocols": ["4.0", "5.1"], "platforms": [{"os": "darwin", "arch": "amd64"}, {"os": "linux", "arch": "amd64"}]},
            {"version": "2.1.0-beta1", "protocols": ["5.0"], "platforms": []},
            {"version": "v3", "protocols": [], "platforms": []},
            {"version": "2.0.0", "protocols": [], "platforms": []},
            {"version": 7},
            {"version": "1.0.0"}
        ], "warnings": ["This provider is archived"]}"#;
        let list = parse_versions(body).unwrap();
        let names: Vec<&str> = list.versions.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(names, ["2.0.0", "2.1.0-beta1", "1.0.0"]);
        assert_eq!(list.ignored, 3, "a non-version, a duplicate and a number are left out");
        assert_eq!(list.warnings, ["This provider is archived"]);
        assert_eq!(list.versions[0].platforms[1].key(), "linux_amd64");
        assert_eq!(platform_keys(&list.versions[0].platforms), "darwin_amd64,linux_amd64");
        assert_eq!(platform_keys(&[]), "");
        assert_eq!(list.versions[2].protocols, Vec::<String>::new());

        for bad in [&b"{}"[..], b"{\"versions\": {}}", b"not json", b"{\"versions\": [], \"warnings\": \"x\"}"] {
            assert!(parse_versions(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse_versions(br#"{"versions": [], "warnings": null}"#).unwrap(), VersionList::default());
    }

    #[test]
    fn package_completeness() {
        let full = r#"{"protocols": ["5.0"], "os": "linux", "arch": "amd64", "filename": "terraform-provider-widget_1.0.0_linux_amd64.zip",
            "download_url": "https://github.com/acme/terraform-provider-widget/releases/download/v1.0.0/terraform-provider-widget_1.0.0_linux_amd64.zip",
            "shasums_url": "https://example.com/SHA256SUMS", "shasums_signature_url": "https://example.com/SHA256SUMS.sig",
            "shasum": "5f9c7aa76b7c34d722fc9123208e26b22d60440cb47150dd04733b9b94f4541a",
            "signing_keys": {"gpg_public_keys": [{"key_id": "51852D87348FFC4C", "ascii_armor": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n..."}]}}"#;
        assert_eq!(missing_in_package(full.as_bytes()).unwrap(), Vec::<&str>::new());
        let without = |field: &str| {
            let mut v: serde_json::Value = serde_json::from_str(full).unwrap();
            v.as_object_mut().unwrap().remove(field);
            missing_in_package(v.to_string().as_bytes()).unwrap()
        };
        assert_eq!(without("shasums_url"), ["shasums_url"]);
        assert_eq!(without("shasums_signature_url"), ["shasums_signature_url"]);
        assert_eq!(without("signing_keys"), ["signing_keys"]);
        assert_eq!(without("shasum"), ["shasum"]);
        let no_keys = full.replace(r#"[{"key_id": "51852D87348FFC4C", "ascii_armor": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n..."}]"#, "[]");
        assert_eq!(missing_in_package(no_keys.as_bytes()).unwrap(), ["signing_keys"]);
        let short_sum = full.replace("5f9c7aa76b7c34d722fc9123208e26b22d60440cb47150dd04733b9b94f4541a", "abc");
        assert_eq!(missing_in_package(short_sum.as_bytes()).unwrap(), ["shasum"]);
        assert_eq!(missing_in_package(b"{}").unwrap().len(), 5);
        // A field of the wrong type is missing, not a broken answer.
        let typed = full.replace(r#""shasums_url": "https://example.com/SHA256SUMS""#, r#""shasums_url": 42"#);
        assert_eq!(missing_in_package(typed.as_bytes()).unwrap(), ["shasums_url"]);
        let keys_as_text = full.replace(r#""signing_keys": {"#, r#""signing_keys": "none", "x": {"#);
        assert_eq!(missing_in_package(keys_as_text.as_bytes()).unwrap(), ["signing_keys"]);
        let blank_armor = full.replace(r#""ascii_armor": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n...""#, r#""ascii_armor": "  ""#);
        assert_eq!(missing_in_package(blank_armor.as_bytes()).unwrap(), ["signing_keys"]);
        assert!(missing_in_package(b" [] ").is_err());
        assert!(missing_in_package(b"{\"shasum\": 1").is_err(), "truncated");
        assert!(missing_in_package(b"[1]").is_err());
        assert!(missing_in_package(b"nope").is_err());
    }

    #[test]
    fn public_registry_metadata() {
        let body = br#"{"data": {"type": "providers", "id": "323", "attributes": {
              "tier": "partner", "full-name": "acme/widget", "source": "https://github.com/acme/terraform-provider-widget",
              "downloads": 1234567, "warning": "", "unlisted": false}},
            "included": [
              {"type": "provider-versions", "id": "1", "attributes": {"version": "1.0.0", "published-at": "2026-01-05T10:00:00Z", "tag": "v1.0.0"}},
              {"type": "provider-versions", "id": "2", "attributes": {"version": "1.1.0", "published-at": "not a date"}},
              {"type": "other", "attributes": {"version": "9.9.9", "published-at": "2026-01-05T10:00:00Z"}}]}"#;
        let m = parse_metadata(body).unwrap();
        assert_eq!(m.tier.as_deref(), Some("partner"));
        assert_eq!(m.downloads, Some(1234567));
        assert_eq!(m.warning, None, "an empty warning is no warning");
        assert_eq!(m.published.len(), 1);
        assert_eq!(m.published["1.0.0"], Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap());
        assert!(parse_metadata(b"{\"errors\": [\"not found\"]}").is_err());
    }

    #[test]
    fn tier_mismatches() {
        use Tier::*;
        let archived = Some("This provider is archived and no longer maintained.");
        let cases: &[(Tier, Option<&str>, Option<&str>, bool)] = &[
            (Verified, Some("partner"), None, false),
            (Verified, Some("Partner"), None, false),
            (Verified, Some("community"), None, true),
            (Official, Some("official"), None, false),
            (Official, Some("partner"), None, true),
            (Community, Some("community"), None, false),
            (Community, Some("partner"), None, true),
            (Verified, None, None, false),
            (Verified, Some("partner"), archived, true),
            (Archived, Some("partner"), archived, false),
            (Archived, Some("partner"), None, true),
            (Community, None, Some("Use acme/widget2 instead"), false),
        ];
        for (ours, theirs, warning, want) in cases {
            assert_eq!(tier_mismatch(*ours, *theirs, *warning).is_some(), *want, "{ours:?} {theirs:?} {warning:?}");
        }
        assert_eq!(
            tier_mismatch(Verified, Some("community"), None).unwrap(),
            "the registry lists tier \"community\"; the tracker's verified tier means \"partner\""
        );
    }

    #[test]
    fn verified_ranges() {
        let cases: &[(Option<&str>, &str, bool)] = &[
            (Some("~> 2.0"), "2.5.0", false),
            (Some("~> 2.0"), "3.0.0", true),
            (Some(">= 1.0.0, < 2.0.0"), "2.0.0", true),
            (Some("~> 2.0"), "3.0.0-beta1", false),
            (None, "3.0.0", false),
            (Some("not a range"), "3.0.0", false),
            (Some("~> 2.0"), "not a version", false),
        ];
        for (range, v, want) in cases {
            assert_eq!(outside_verified_range(*range, v), *want, "{range:?} {v}");
        }
    }

    #[test]
    fn new_and_latest_versions() {
        let listed: Vec<ListedVersion> = ["1.10.0", "1.2.0", "2.0.0-rc1", "1.9.0"]
            .iter()
            .map(|v| ListedVersion { version: v.to_string(), protocols: vec![], platforms: vec![] })
            .collect();
        let known: HashSet<String> = ["1.2.0".to_string()].into();
        let fresh: Vec<&str> = new_versions(&known, &listed).iter().map(|v| v.version.as_str()).collect();
        assert_eq!(fresh, ["1.9.0", "1.10.0", "2.0.0-rc1"]);
        assert_eq!(latest(listed.iter().map(|v| v.version.as_str())), Some("1.10.0"));
        assert_eq!(latest(["0.1.0-alpha", "0.1.0-beta"]), Some("0.1.0-beta"));
        assert_eq!(latest(Vec::<&str>::new()), None);
    }

    #[test]
    fn mirror_gaps() {
        let mirror: HashSet<&str> = ["1.0.0", "1.1.0"].into();
        assert_eq!(gap(&["1.0.0", "1.1.0", "1.10.0", "1.2.0"], &mirror), ["1.10.0", "1.2.0"]);
        assert!(gap(&["1.0.0"], &mirror).is_empty());
    }

    #[test]
    fn schedules() {
        let s = Schedule::default();
        let m = |at: DateTime<Utc>| (at - now()).num_seconds();
        // (stage, jitter, seconds until the next poll)
        for (stage, jitter, want) in
            [(Stage::Support, 0.0, 3240), (Stage::Support, 0.5, 3600), (Stage::Support, 0.999_999, 3959), (Stage::Publish, 0.5, 600)]
        {
            assert_eq!(m(s.after_success(now(), stage, jitter)), want, "{stage:?} {jitter}");
        }
        // (failures, jitter, retry-after in seconds, seconds until the retry)
        let cases: &[(i64, f64, Option<i64>, i64)] = &[
            (1, 0.0, None, 30),
            (1, 1.0, None, 60),
            (2, 1.0, None, 120),
            (5, 1.0, None, 960),
            (30, 1.0, None, 6 * 3600),
            (1000, 0.0, None, 3 * 3600),
            (1, 0.0, Some(300), 300),
            (5, 1.0, Some(300), 960),
            (1, 0.0, Some(3 * 86400), 86400),
        ];
        for (failures, jitter, ra, want) in cases {
            let ra = ra.map(|secs| now() + Duration::seconds(secs));
            assert_eq!(m(s.after_failure(now(), *failures, *jitter, ra)), *want, "{failures} {jitter} {ra:?}");
        }
    }

    #[test]
    fn retry_after_values() {
        let cases: &[(&str, Option<i64>)] = &[
            ("120", Some(120)),
            (" 0 ", Some(0)),
            ("-5", Some(0)),
            ("Mon, 23 Nov 2026 10:05:00 GMT", Some(300)),
            ("Mon, 23 Nov 2026 09:00:00 GMT", Some(0)),
            ("1795438800", Some(3 * 3600)),
            ("999999999999", Some(86400)),
            ("soon", None),
            ("", None),
        ];
        for (value, want) in cases {
            assert_eq!(retry_after(value, now()).map(|at| (at - now()).num_seconds()), *want, "{value:?}");
        }
    }
}
