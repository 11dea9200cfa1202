//! What GitHub's REST API says about a partner's repository
//! (`shared/spec/github.md`) and what the tracker makes of it: issues
//! (pull requests left out) and their open and label history for the SLA
//! clock, the licence against the program's approved list, paging links,
//! rate-limit waits, and `owner/repo` from a repository URL. Pure: the
//! client in `server::outbound::github` does the I/O and asks these rules.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A stretch of time from its start to its end (`None`: still running).
pub type Period = (DateTime<Utc>, Option<DateTime<Utc>>);

/// An issue of a partner's repository, as the issue list gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub number: i64,
    pub title: String,
    /// `state == "open"`.
    pub open: bool,
    /// `completed`, `not_planned`, `reopened` or none.
    pub state_reason: Option<String>,
    /// Label names, as written on GitHub.
    pub labels: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// `user.login`; `ghost` when the account was deleted.
    pub author: String,
    /// `html_url`: the page people open.
    pub url: String,
}

#[derive(Deserialize)]
struct RawIssue {
    number: i64,
    title: String,
    state: String,
    #[serde(default)]
    state_reason: Option<String>,
    #[serde(default)]
    labels: Vec<RawLabel>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[serde(default)]
    closed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    user: Option<RawUser>,
    html_url: String,
}

/// The API documents a label as a name or an object with a `name`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawLabel {
    Name(String),
    Object {
        #[serde(default)]
        name: Option<String>,
    },
}

#[derive(Deserialize)]
struct RawUser {
    login: String,
}

fn json_array(body: &[u8], what: &str) -> Result<Vec<serde_json::Value>, String> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Array(items)) => Ok(items),
        Ok(_) => Err(format!("the {what} is not a JSON array")),
        Err(e) => Err(format!("the {what} is not valid JSON: {e}")),
    }
}

/// The issues of one page of `GET /repos/{owner}/{repo}/issues`. Pull
/// requests share that list (they are the items with a `pull_request`
/// key) and are left out; unknown fields are ignored.
pub fn parse_issues(body: &[u8]) -> Result<Vec<Issue>, String> {
    let mut issues = Vec::new();
    for (i, item) in json_array(body, "issue list")?.into_iter().enumerate() {
        if item.get("pull_request").is_some() {
            continue;
        }
        let raw: RawIssue = serde_json::from_value(item)
            .map_err(|e| format!("item {} of the issue list is not an issue of the documented shape: {e}", i + 1))?;
        let open = match raw.state.as_str() {
            "open" => true,
            "closed" => false,
            other => return Err(format!("issue #{} has the state \"{other}\", expected open or closed", raw.number)),
        };
        let labels = raw
            .labels
            .into_iter()
            .filter_map(|l| match l {
                RawLabel::Name(n) => Some(n),
                RawLabel::Object { name } => name,
            })
            .filter(|n| !n.trim().is_empty())
            .collect();
        issues.push(Issue {
            number: raw.number,
            title: raw.title,
            open,
            state_reason: raw.state_reason,
            labels,
            created_at: raw.created_at,
            updated_at: raw.updated_at,
            closed_at: raw.closed_at,
            author: raw.user.map(|u| u.login).unwrap_or_else(|| "ghost".into()),
            url: raw.html_url,
        });
    }
    Ok(issues)
}

/// The events of an issue the SLA clock cares about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    Closed,
    Reopened,
    Labeled(String),
    Unlabeled(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueEvent {
    pub kind: EventKind,
    pub at: DateTime<Utc>,
}

/// The closes, reopenings and label changes on one page of
/// `GET /repos/{owner}/{repo}/issues/{n}/events`; other events
/// (`assigned`, `mentioned`, `referenced`…) are skipped.
pub fn parse_events(body: &[u8]) -> Result<Vec<IssueEvent>, String> {
    let mut events = Vec::new();
    for (i, item) in json_array(body, "event list")?.into_iter().enumerate() {
        let Some(event) = item.get("event").and_then(|e| e.as_str()) else { continue };
        let label = || {
            item.pointer("/label/name")
                .and_then(|n| n.as_str())
                .map(str::to_string)
                .ok_or_else(|| format!("item {} of the event list is a {event} event without a label name", i + 1))
        };
        let kind = match event {
            "closed" => EventKind::Closed,
            "reopened" => EventKind::Reopened,
            "labeled" => EventKind::Labeled(label()?),
            "unlabeled" => EventKind::Unlabeled(label()?),
            _ => continue,
        };
        let at = item
            .get("created_at")
            .and_then(|t| t.as_str())
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .ok_or_else(|| format!("item {} of the event list ({event}) has no created_at time", i + 1))?
            .with_timezone(&Utc);
        events.push(IssueEvent { kind, at });
    }
    Ok(events)
}

/// Events in time order; events of the same instant keep GitHub's order.
/// Times before the issue existed are taken as its creation.
fn in_order<T>(issue: &Issue, events: &[IssueEvent], pick: impl Fn(&EventKind) -> Option<T>) -> Vec<(DateTime<Utc>, T)> {
    let mut changes: Vec<(DateTime<Utc>, T)> =
        events.iter().filter_map(|e| pick(&e.kind).map(|t| (e.at.max(issue.created_at), t))).collect();
    changes.sort_by_key(|c| c.0);
    changes
}

/// When the issue was open: from its creation, ended by each close and
/// started again by each reopening; the last period is open-ended while
/// the issue is open. The issue's current state wins over missing events:
/// - a duplicate close (or reopen) changes nothing;
/// - closed with no close event: the period ends at `closed_at`;
/// - a `closed_at` later than the last close event (a reopen and close went
///   missing): the last period runs to `closed_at`;
/// - open while the events end closed (a reopen went missing): open again
///   since `updated_at`, the latest the reopening can have been.
pub fn open_periods(issue: &Issue, events: &[IssueEvent]) -> Vec<Period> {
    let changes = in_order(issue, events, |k| match k {
        EventKind::Closed => Some(false),
        EventKind::Reopened => Some(true),
        _ => None,
    });
    let mut periods = Vec::new();
    let mut start = Some(issue.created_at);
    let mut last = issue.created_at;
    for (at, opens) in changes {
        last = last.max(at);
        match (start, opens) {
            (Some(s), false) => {
                periods.push((s, Some(at)));
                start = None;
            }
            (None, true) => start = Some(at),
            _ => {}
        }
    }
    match (start, issue.open) {
        (Some(s), true) => periods.push((s, None)),
        (Some(s), false) => periods.push((s, Some(issue.closed_at.unwrap_or(issue.updated_at).max(s)))),
        (None, true) => periods.push((issue.updated_at.max(last), None)),
        (None, false) => {
            if let (Some(closed), Some(period)) = (issue.closed_at, periods.last_mut()) {
                if period.1.is_some_and(|end| closed > end) {
                    period.1 = Some(closed);
                }
            }
        }
    }
    periods
}

/// When any of `labels` (compared without case) was on the issue, from the
/// labeled/unlabeled events. A label whose history starts with its removal,
/// or that is on the issue now without any event, was set since creation;
/// where the events end in a different state from the labels the issue
/// carries now (an event went missing), the current labels win from
/// `updated_at` on.
pub fn label_periods(issue: &Issue, events: &[IssueEvent], labels: &[String]) -> Vec<Period> {
    let wanted = |name: &str| labels.iter().any(|l| l.trim().eq_ignore_ascii_case(name.trim()));
    let key = |name: &str| name.trim().to_lowercase();
    let changes = in_order(issue, events, |k| match k {
        EventKind::Labeled(n) if wanted(n) => Some((key(n), true)),
        EventKind::Unlabeled(n) if wanted(n) => Some((key(n), false)),
        _ => None,
    });
    let now: BTreeSet<String> = issue.labels.iter().filter(|l| wanted(l)).map(|l| key(l)).collect();
    let mut set: BTreeSet<String> = now.iter().filter(|l| !changes.iter().any(|(_, (n, _))| n == *l)).cloned().collect();
    let mut seen = BTreeSet::new();
    for (_, (name, on)) in &changes {
        if seen.insert(name.clone()) && !on {
            set.insert(name.clone());
        }
    }
    let mut periods = Vec::new();
    let mut start = (!set.is_empty()).then_some(issue.created_at);
    let mut last = issue.created_at;
    let mut step = |set: &BTreeSet<String>, at: DateTime<Utc>, start: &mut Option<DateTime<Utc>>| match (*start, set.is_empty()) {
        (None, false) => *start = Some(at),
        (Some(s), true) => {
            periods.push((s, Some(at)));
            *start = None;
        }
        _ => {}
    };
    for (at, (name, on)) in changes {
        last = last.max(at);
        if on {
            set.insert(name);
        } else {
            set.remove(&name);
        }
        step(&set, at, &mut start);
    }
    if set != now {
        step(&now, issue.updated_at.max(last), &mut start);
    }
    if let Some(s) = start {
        periods.push((s, None));
    }
    periods
}

/// `license.spdx_id` from `GET /repos/{owner}/{repo}/license`; `None` when
/// GitHub names no licence there.
pub fn parse_licence(body: &[u8]) -> Result<Option<String>, String> {
    let doc: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("the licence answer is not valid JSON: {e}"))?;
    if !doc.is_object() {
        return Err("the licence answer is not a JSON object".into());
    }
    match doc.pointer("/license/spdx_id") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Some(other) => Err(format!("license.spdx_id must be a string, found {other}")),
    }
}

/// A repository's latest release (`GET /repos/{owner}/{repo}/releases/latest`:
/// GitHub's newest release that is neither a draft nor a prerelease).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub tag: String,
    /// `None` only for drafts, which this endpoint does not return.
    pub published_at: Option<DateTime<Utc>>,
}

pub fn parse_latest_release(body: &[u8]) -> Result<Release, String> {
    let doc: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("the release answer is not valid JSON: {e}"))?;
    let tag = match doc.get("tag_name") {
        Some(serde_json::Value::String(t)) if !t.trim().is_empty() => t.trim().to_string(),
        _ => return Err("the release answer has no tag_name".into()),
    };
    let published_at = match doc.get("published_at") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(t)) => {
            Some(DateTime::parse_from_rfc3339(t).map_err(|e| format!("published_at \"{t}\" is not a time: {e}"))?.with_timezone(&Utc))
        }
        Some(other) => return Err(format!("published_at must be a string, found {other}")),
    };
    Ok(Release { tag, published_at })
}

/// Who may read a repository (`GET /repos/{owner}/{repo}`): the sync's
/// token may reach private repositories of many partners, so what it copies
/// into a partner's integration depends on this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visibility {
    /// Private, or internal to a GitHub Enterprise (`visibility`).
    pub private: bool,
    /// `owner.login`: the organisation or user the repository belongs to.
    pub owner: String,
}

pub fn parse_repository(body: &[u8]) -> Result<Visibility, String> {
    let doc: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("the repository answer is not valid JSON: {e}"))?;
    let private = match (doc.get("private"), doc.get("visibility").and_then(|v| v.as_str())) {
        (_, Some("private" | "internal")) => true,
        (Some(serde_json::Value::Bool(p)), _) => *p,
        (None, Some("public")) => false,
        _ => return Err("the repository answer says neither private nor visibility".into()),
    };
    let owner = match doc.pointer("/owner/login") {
        Some(serde_json::Value::String(o)) if !o.trim().is_empty() => o.trim().to_string(),
        _ => return Err("the repository answer has no owner.login".into()),
    };
    Ok(Visibility { private, owner })
}

/// Whether the sync may copy a repository's issues, licence and releases
/// into an integration of the partner whose GitHub organisation is
/// `partner_org`; `Err` says why not. A public repository: always (anyone
/// can read it). A private one: only the partner's own organisation's,
/// which staff set: a member can type any repository URL, and the token
/// may read another partner's private repository.
pub fn may_import(repo: &Visibility, partner_org: Option<&str>) -> Result<(), String> {
    if !repo.private || partner_org.is_some_and(|org| org.trim().eq_ignore_ascii_case(&repo.owner)) {
        return Ok(());
    }
    Err(match partner_org.map(str::trim).filter(|o| !o.is_empty()) {
        Some(org) => format!(
            "the repository is private and belongs to {}, not to the partner's GitHub organisation {org}: its issues are not copied",
            repo.owner
        ),
        None => format!(
            "the repository is private and belongs to {}; the partner has no GitHub organisation set to show it is theirs: its issues are not copied until staff set it",
            repo.owner
        ),
    })
}

/// What the program makes of a repository's licence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LicenceVerdict {
    Approved,
    NotApproved,
    /// GitHub could not name it (`NOASSERTION`) or found none: a reviewer
    /// must look; it does not fail (`program.md`).
    NeedsReviewer,
}

/// The approved licences as SPDX ids (`shared/spec/program.md`, "Tiers"),
/// with the spellings the program counts as the same licence. CC-BY
/// versions are matched apart, below.
const APPROVED: &[&str] = &[
    "CDDL-1.0",
    "CDDL-1.1",
    "CPL-1.0",
    "EPL-1.0",
    "MPL-1.0",
    "MPL-1.1",
    "MPL-2.0",
    "MPL-2.0-no-copyleft-exception",
    "PSF-2.0",
    "Python-2.0",
    "Ruby",
    "AFL-2.1",
    "AFL-3.0",
    "Apache-2.0",
    "Artistic-1.0",
    "Artistic-2.0",
    "Apache-1.1",
    // Boost. Not BUSL-1.1, the Business Source License.
    "BSL-1.0",
    "BSD-3-Clause",
    "BSD-2-Clause",
    "MS-PL",
    "MIT",
];

/// Whether an SPDX id is on the program's approved list. SPDX ids compare
/// without case. Any CC-BY version counts (`CC-BY-3.0`, `CC-BY-3.0-US`…),
/// but not the variants with more conditions (`CC-BY-SA`, `-NC`, `-ND`).
pub fn licence_verdict(spdx: Option<&str>) -> LicenceVerdict {
    let Some(id) = spdx.map(str::trim).filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case("NOASSERTION")) else {
        return LicenceVerdict::NeedsReviewer;
    };
    let upper = id.to_ascii_uppercase();
    let cc_by = upper.strip_prefix("CC-BY-").is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()));
    if cc_by || APPROVED.iter().any(|a| a.eq_ignore_ascii_case(id)) {
        LicenceVerdict::Approved
    } else {
        LicenceVerdict::NotApproved
    }
}

/// The `rel="next"` URL of a `Link` header, as written (GitHub's paging:
/// follow it, never build page URLs). Several links, `rel` values with
/// spaces (`rel="next last"`), quoted or not, any case.
pub fn next_link(link_header: Option<&str>) -> Option<String> {
    let mut rest = link_header?;
    loop {
        let after = &rest[rest.find('<')? + 1..];
        let close = after.find('>')?;
        let url = after[..close].trim();
        let tail = &after[close + 1..];
        let params = &tail[..tail.find('<').unwrap_or(tail.len())];
        let is_next = params.split([';', ',']).any(|p| {
            p.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim().trim_matches('"').split_whitespace().any(|r| r.eq_ignore_ascii_case("next"))
            })
        });
        if is_next && !url.is_empty() {
            return Some(url.to_string());
        }
        rest = &tail[params.len()..];
    }
}

/// The longest wait the rules below ever ask for: a silly header value
/// must not park the sync for days.
const MAX_HEADER_WAIT: i64 = 24 * 3600;
/// The back-off without headers: a minute, doubling, at most an hour.
const MIN_BACKOFF: i64 = 60;
const MAX_BACKOFF: i64 = 3600;

fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let value = value.trim();
    let at = match value.parse::<i64>() {
        Ok(secs) => now + Duration::seconds(secs.clamp(0, MAX_HEADER_WAIT)),
        Err(_) => DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc),
    };
    Some(at.clamp(now, now + Duration::seconds(MAX_HEADER_WAIT)))
}

fn parse_epoch(value: &str) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(value.trim().parse::<i64>().ok()?, 0)
}

/// A rate limit GitHub answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// GitHub said until when (`retry-after`, or the reset of a spent budget).
    Until(DateTime<Utc>),
    /// GitHub did not say: wait at least a minute and back off
    /// exponentially (`github.md`), counting the limits met in a row.
    BackOff,
}

impl Limit {
    /// When to ask again, `earlier` limits without a stated wait having come
    /// right before this one: a minute, doubling each time, at most an hour.
    pub fn until(self, now: DateTime<Utc>, earlier: u32) -> DateTime<Utc> {
        match self {
            Limit::Until(at) => at,
            Limit::BackOff => now + Duration::seconds(MIN_BACKOFF.saturating_mul(1i64 << earlier.min(16)).min(MAX_BACKOFF)),
        }
    }
}

/// Whether an answer is a rate limit, from its status and headers
/// (`github.md`, "Paging, caching, limits"). A 403 is a limit only with
/// `retry-after` or `x-ratelimit-remaining: 0`, otherwise it is a
/// permission error. Then `retry-after` wins; else a spent budget waits for
/// `x-ratelimit-reset`; else GitHub did not say how long.
pub fn limit(status: u16, retry_after: Option<&str>, remaining: Option<&str>, reset: Option<&str>, now: DateTime<Utc>) -> Option<Limit> {
    let exhausted = remaining.is_some_and(|r| r.trim() == "0");
    match status {
        429 => {}
        403 if retry_after.is_some() || exhausted => {}
        _ => return None,
    }
    if let Some(at) = retry_after.and_then(|v| parse_retry_after(v, now)) {
        return Some(Limit::Until(at));
    }
    if let Some(at) = reset.filter(|_| exhausted).and_then(parse_epoch).filter(|at| *at > now) {
        return Some(Limit::Until(at.min(now + Duration::seconds(MAX_HEADER_WAIT))));
    }
    Some(Limit::BackOff)
}

/// What is left of the primary rate limit, from the last answer's headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateBudget {
    /// `x-ratelimit-limit`, when sent.
    pub limit: Option<i64>,
    /// `x-ratelimit-remaining`.
    pub remaining: i64,
    /// `x-ratelimit-reset`: when `remaining` is back to `limit`.
    pub reset: DateTime<Utc>,
}

impl RateBudget {
    /// From `x-ratelimit-limit`, `-remaining` and `-reset`; `None` without
    /// the last two.
    pub fn from_headers(limit: Option<&str>, remaining: Option<&str>, reset: Option<&str>) -> Option<Self> {
        Some(RateBudget {
            limit: limit.and_then(|l| l.trim().parse().ok()),
            remaining: remaining?.trim().parse::<i64>().ok()?.max(0),
            reset: parse_epoch(reset?)?,
        })
    }

    /// The gap between requests that makes the remaining budget last until
    /// the reset: how a sync spreads its work instead of spending the hour
    /// in its first minutes. Zero once the reset has passed.
    pub fn pace(&self, now: DateTime<Utc>) -> Duration {
        let left = (self.reset - now).max(Duration::zero());
        match self.remaining {
            0 => left,
            n => left / n.min(i32::MAX as i64) as i32,
        }
    }
}

/// GitHub's explanation in an error answer (`{"message": …}`), shortened
/// for a status line.
pub fn error_message(body: &[u8]) -> Option<String> {
    let doc: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text: String = doc.get("message")?.as_str()?.chars().filter(|c| !c.is_control()).take(200).collect();
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

fn name_ok(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s != "."
        && s != ".."
        && !s.starts_with('.')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `owner` and `repo` from a repository's web address:
/// `https://github.com/owner/repo`, with a trailing slash or `.git`, or the
/// same on a GitHub Enterprise host (any https URL whose path is
/// `/owner/repo`). Deeper paths (`/tree/main`), other schemes and names
/// with characters GitHub does not allow give `None`.
pub fn repo_from_url(url: &str) -> Option<(String, String)> {
    let url = url.trim();
    let rest = url.get(..8).filter(|s| s.eq_ignore_ascii_case("https://")).map(|_| &url[8..])?;
    let rest = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    let (authority, path) = rest.split_once('/')?;
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let path = path.strip_suffix('/').unwrap_or(path);
    let (owner, repo) = path.split_once('/')?;
    let repo = repo.strip_suffix(".git").unwrap_or(repo);
    (name_ok(owner, 100) && name_ok(repo, 100)).then(|| (owner.to_string(), repo.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories() {
        let public = br#"{"id":1,"name":"terraform-provider-cloud","full_name":"acme/terraform-provider-cloud","owner":{"login":"acme","id":7,"type":"Organization"},"private":false,"visibility":"public","archived":false,"default_branch":"main","license":null}"#;
        assert_eq!(parse_repository(public).unwrap(), Visibility { private: false, owner: "acme".into() });
        let cases: &[(&[u8], Result<(bool, &str), &str>)] = &[
            (br#"{"owner":{"login":"acme"},"private":true}"#, Ok((true, "acme"))),
            // GitHub Enterprise's internal repositories say private too; trust visibility when it says so.
            (br#"{"owner":{"login":"acme"},"private":false,"visibility":"internal"}"#, Ok((true, "acme"))),
            (br#"{"owner":{"login":" acme "},"visibility":"public"}"#, Ok((false, "acme"))),
            (b"not json", Err("not valid JSON")),
            (br#"{"owner":{"login":"acme"}}"#, Err("neither private nor visibility")),
            (br#"{"owner":{"login":"acme"},"private":"no"}"#, Err("neither private nor visibility")),
            (br#"{"private":false}"#, Err("no owner.login")),
            (br#"{"owner":{"login":""},"private":false}"#, Err("no owner.login")),
            (br#"[]"#, Err("neither private nor visibility")),
        ];
        for (body, want) in cases {
            let got = parse_repository(body).map(|v| (v.private, v.owner));
            match want {
                Ok((private, owner)) => assert_eq!(got, Ok((*private, owner.to_string())), "{}", String::from_utf8_lossy(body)),
                Err(part) => assert!(got.as_ref().unwrap_err().contains(part), "{}: {got:?}", String::from_utf8_lossy(body)),
            }
        }
    }

    #[test]
    fn only_the_partners_own_private_repositories_are_imported() {
        let repo = |private: bool, owner: &str| Visibility { private, owner: owner.into() };
        let cases: &[(Visibility, Option<&str>, Result<(), &str>)] = &[
            (repo(false, "other-corp"), Some("acme"), Ok(())),
            (repo(false, "other-corp"), None, Ok(())),
            (repo(true, "acme"), Some("acme"), Ok(())),
            (repo(true, "Acme"), Some(" acme "), Ok(())),
            (repo(true, "other-corp"), Some("acme"), Err("belongs to other-corp, not to the partner's GitHub organisation acme")),
            (repo(true, "acme"), None, Err("no GitHub organisation set")),
            (repo(true, "acme"), Some("  "), Err("no GitHub organisation set")),
        ];
        for (v, org, want) in cases {
            let got = may_import(v, *org);
            match want {
                Ok(()) => assert_eq!(got, Ok(()), "{v:?} {org:?}"),
                Err(part) => assert!(got.as_ref().unwrap_err().contains(part), "{v:?} {org:?}: {got:?}"),
            }
        }
    }

    #[test]
    fn latest_releases() {
        let ok = br#"{"url":"https://api.github.com/repos/acme/terraform-provider-cloud/releases/1","tag_name":"v1.4.0","name":"v1.4.0","draft":false,"prerelease":false,"created_at":"2026-11-20T09:58:00Z","published_at":"2026-11-20T10:00:00Z","assets":[]}"#;
        let r = parse_latest_release(ok).unwrap();
        assert_eq!(r.tag, "v1.4.0");
        assert_eq!(r.published_at.map(|t| t.to_rfc3339()), Some("2026-11-20T10:00:00+00:00".into()));
        let cases: &[(&[u8], &str)] = &[
            (b"not json", "not valid JSON"),
            (br#"{"name":"x"}"#, "no tag_name"),
            (br#"{"tag_name":"  "}"#, "no tag_name"),
            (br#"{"tag_name":"v1","published_at":"yesterday"}"#, "not a time"),
            (br#"{"tag_name":"v1","published_at":5}"#, "must be a string"),
        ];
        for (body, want) in cases {
            let err = parse_latest_release(body).unwrap_err();
            assert!(err.contains(want), "{err}");
        }
        assert_eq!(parse_latest_release(br#"{"tag_name":"v2.0.0","published_at":null}"#).unwrap().published_at, None);
    }
    use chrono::TimeZone;
    use serde_json::json;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
    }

    /// An issue as GitHub documents it, with the fields we do not read.
    fn issue_json(number: i64, state: &str, reason: Option<&str>, closed_at: Option<&str>) -> serde_json::Value {
        json!({
            "url": format!("https://api.github.com/repos/acme/terraform-provider-acme/issues/{number}"),
            "repository_url": "https://api.github.com/repos/acme/terraform-provider-acme",
            "labels_url": format!("https://api.github.com/repos/acme/terraform-provider-acme/issues/{number}/labels{{/name}}"),
            "html_url": format!("https://github.com/acme/terraform-provider-acme/issues/{number}"),
            "id": 1_000_000 + number, "node_id": "I_kwDOAbc", "number": number,
            "title": format!("Crash on apply #{number}"),
            "user": {"login": "octocat", "id": 1, "type": "User", "site_admin": false},
            "labels": [
                {"id": 208045946, "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=", "url": "https://api.github.com/repos/acme/x/labels/bug",
                 "name": "bug", "description": "Something isn't working", "color": "f29513", "default": true},
                {"id": 208045947, "name": "severity/critical", "color": "b60205", "default": false}
            ],
            "state": state, "state_reason": reason, "locked": false, "assignee": null, "assignees": [], "milestone": null,
            "comments": 3, "created_at": "2026-02-02T10:00:00Z", "updated_at": "2026-02-03T11:30:00Z", "closed_at": closed_at,
            "author_association": "NONE", "active_lock_reason": null, "body": "Steps to reproduce…", "reactions": {"total_count": 0},
            "timeline_url": format!("https://api.github.com/repos/acme/terraform-provider-acme/issues/{number}/timeline"),
            "performed_via_github_app": null
        })
    }

    #[test]
    fn issue_lists() {
        let mut pr = issue_json(3, "open", None, None);
        pr["pull_request"] = json!({"url": "https://api.github.com/repos/acme/x/pulls/3", "html_url": "https://github.com/acme/x/pull/3",
            "diff_url": "https://github.com/acme/x/pull/3.diff", "patch_url": "https://github.com/acme/x/pull/3.patch", "merged_at": null});
        let mut ghost = issue_json(4, "closed", Some("not_planned"), Some("2026-02-04T08:00:00Z"));
        ghost["user"] = json!(null);
        ghost["labels"] = json!(["needs-triage", {"name": "P0"}, {"color": "ffffff"}, ""]);
        let body =
            json!([issue_json(1, "open", None, None), issue_json(2, "closed", Some("completed"), Some("2026-02-03T11:30:00Z")), pr, ghost]);
        let issues = parse_issues(body.to_string().as_bytes()).unwrap();
        assert_eq!(issues.iter().map(|i| i.number).collect::<Vec<_>>(), [1, 2, 4], "the pull request is left out");
        assert_eq!(
            issues[0],
            Issue {
                number: 1,
                title: "Crash on apply #1".into(),
                open: true,
                state_reason: None,
                labels: vec!["bug".into(), "severity/critical".into()],
                created_at: t("2026-02-02T10:00:00Z"),
                updated_at: t("2026-02-03T11:30:00Z"),
                closed_at: None,
                author: "octocat".into(),
                url: "https://github.com/acme/terraform-provider-acme/issues/1".into(),
            }
        );
        assert_eq!((issues[1].open, issues[1].state_reason.as_deref()), (false, Some("completed")));
        assert_eq!(issues[1].closed_at, Some(t("2026-02-03T11:30:00Z")));
        assert_eq!(issues[2].author, "ghost");
        assert_eq!(issues[2].labels, ["needs-triage", "P0"]);
        assert_eq!(parse_issues(b"[]").unwrap(), vec![]);

        let mut no_number = issue_json(5, "open", None, None);
        no_number.as_object_mut().unwrap().remove("number");
        let cases: Vec<(String, &str)> = vec![
            ("[{\"number\": 1,".into(), "not valid JSON"),
            ("{\"message\": \"Not Found\"}".into(), "not a JSON array"),
            (json!([issue_json(1, "open", None, None), no_number]).to_string(), "item 2 of the issue list"),
            (json!([issue_json(6, "draft", None, None)]).to_string(), "issue #6 has the state \"draft\""),
        ];
        for (body, want) in cases {
            let err = parse_issues(body.as_bytes()).unwrap_err();
            assert!(err.contains(want), "{body}: {err}");
        }
    }

    fn event_json(event: &str, at: &str, label: Option<&str>) -> serde_json::Value {
        let mut e = json!({"id": 6430295168u64, "node_id": "LOE_lADODwFebM5HwC0kzwAAAAF_RoSA",
            "url": "https://api.github.com/repos/acme/x/issues/events/6430295168",
            "actor": {"login": "octocat", "id": 1}, "event": event, "commit_id": null, "commit_url": null,
            "created_at": at, "performed_via_github_app": null});
        if let Some(name) = label {
            e["label"] = json!({"name": name, "color": "b60205"});
        }
        e
    }

    #[test]
    fn event_lists() {
        let body = json!([
            event_json("labeled", "2026-02-02T10:00:01Z", Some("severity/critical")),
            event_json("assigned", "2026-02-02T10:05:00Z", None),
            event_json("mentioned", "2026-02-02T10:05:00Z", None),
            event_json("closed", "2026-02-03T09:00:00Z", None),
            event_json("referenced", "2026-02-03T09:00:00Z", None),
            event_json("reopened", "2026-02-04T09:00:00Z", None),
            event_json("unlabeled", "2026-02-05T09:00:00Z", Some("severity/critical")),
            json!({"event": "some_future_event"}),
        ]);
        let events = parse_events(body.to_string().as_bytes()).unwrap();
        assert_eq!(
            events,
            vec![
                IssueEvent { kind: EventKind::Labeled("severity/critical".into()), at: t("2026-02-02T10:00:01Z") },
                IssueEvent { kind: EventKind::Closed, at: t("2026-02-03T09:00:00Z") },
                IssueEvent { kind: EventKind::Reopened, at: t("2026-02-04T09:00:00Z") },
                IssueEvent { kind: EventKind::Unlabeled("severity/critical".into()), at: t("2026-02-05T09:00:00Z") },
            ]
        );
        let cases: Vec<(String, &str)> = vec![
            ("not json".into(), "not valid JSON"),
            ("{}".into(), "not a JSON array"),
            (json!([event_json("labeled", "2026-02-02T10:00:01Z", None)]).to_string(), "labeled event without a label name"),
            (json!([event_json("closed", "yesterday", None)]).to_string(), "has no created_at"),
        ];
        for (body, want) in cases {
            let err = parse_events(body.as_bytes()).unwrap_err();
            assert!(err.contains(want), "{body}: {err}");
        }
    }

    fn issue(open: bool, closed_at: Option<&str>, labels: &[&str]) -> Issue {
        Issue {
            number: 7,
            title: "Crash".into(),
            open,
            state_reason: None,
            labels: labels.iter().map(|l| l.to_string()).collect(),
            created_at: t("2026-02-02T10:00:00Z"),
            updated_at: t("2026-02-20T10:00:00Z"),
            closed_at: closed_at.map(t),
            author: "octocat".into(),
            url: "https://github.com/acme/x/issues/7".into(),
        }
    }

    fn ev(kind: EventKind, at: &str) -> IssueEvent {
        IssueEvent { kind, at: t(at) }
    }

    fn closed(at: &str) -> IssueEvent {
        ev(EventKind::Closed, at)
    }

    fn reopened(at: &str) -> IssueEvent {
        ev(EventKind::Reopened, at)
    }

    fn periods(p: &[(&str, Option<&str>)]) -> Vec<Period> {
        p.iter().map(|(s, e)| (t(s), e.map(t))).collect()
    }

    /// (name, issue, events, periods wanted)
    type PeriodCase<'a> = (&'a str, Issue, Vec<IssueEvent>, Vec<(&'a str, Option<&'a str>)>);

    #[test]
    fn open_periods_from_events() {
        let c = "2026-02-02T10:00:00Z";
        let cases: Vec<PeriodCase> = vec![
            ("open, no events", issue(true, None, &[]), vec![], vec![(c, None)]),
            (
                "closed, no events: closed_at",
                issue(false, Some("2026-02-05T10:00:00Z"), &[]),
                vec![],
                vec![(c, Some("2026-02-05T10:00:00Z"))],
            ),
            ("closed without closed_at: updated_at", issue(false, None, &[]), vec![], vec![(c, Some("2026-02-20T10:00:00Z"))]),
            (
                "closed once",
                issue(false, Some("2026-02-05T10:00:00Z"), &[]),
                vec![closed("2026-02-05T10:00:00Z")],
                vec![(c, Some("2026-02-05T10:00:00Z"))],
            ),
            (
                "closed, reopened, open now",
                issue(true, None, &[]),
                vec![closed("2026-02-05T10:00:00Z"), reopened("2026-02-10T10:00:00Z")],
                vec![(c, Some("2026-02-05T10:00:00Z")), ("2026-02-10T10:00:00Z", None)],
            ),
            (
                "closed, reopened, closed again",
                issue(false, Some("2026-02-12T10:00:00Z"), &[]),
                vec![closed("2026-02-05T10:00:00Z"), reopened("2026-02-10T10:00:00Z"), closed("2026-02-12T10:00:00Z")],
                vec![(c, Some("2026-02-05T10:00:00Z")), ("2026-02-10T10:00:00Z", Some("2026-02-12T10:00:00Z"))],
            ),
            (
                "events out of order, with label noise",
                issue(false, Some("2026-02-12T10:00:00Z"), &[]),
                vec![
                    closed("2026-02-12T10:00:00Z"),
                    ev(EventKind::Labeled("bug".into()), "2026-02-03T10:00:00Z"),
                    reopened("2026-02-10T10:00:00Z"),
                    closed("2026-02-05T10:00:00Z"),
                ],
                vec![(c, Some("2026-02-05T10:00:00Z")), ("2026-02-10T10:00:00Z", Some("2026-02-12T10:00:00Z"))],
            ),
            (
                "a duplicate close changes nothing",
                issue(false, Some("2026-02-05T10:00:00Z"), &[]),
                vec![closed("2026-02-05T10:00:00Z"), closed("2026-02-05T10:00:00Z")],
                vec![(c, Some("2026-02-05T10:00:00Z"))],
            ),
            ("a reopen while open changes nothing", issue(true, None, &[]), vec![reopened("2026-02-03T10:00:00Z")], vec![(c, None)]),
            (
                "closed now, the close event missing",
                issue(false, Some("2026-02-15T10:00:00Z"), &[]),
                vec![closed("2026-02-05T10:00:00Z"), reopened("2026-02-10T10:00:00Z")],
                vec![(c, Some("2026-02-05T10:00:00Z")), ("2026-02-10T10:00:00Z", Some("2026-02-15T10:00:00Z"))],
            ),
            (
                "closed_at later than the last close: a reopen went missing",
                issue(false, Some("2026-02-15T10:00:00Z"), &[]),
                vec![closed("2026-02-05T10:00:00Z")],
                vec![(c, Some("2026-02-15T10:00:00Z"))],
            ),
            (
                "open now, the reopen event missing: open since updated_at",
                issue(true, None, &[]),
                vec![closed("2026-02-05T10:00:00Z")],
                vec![(c, Some("2026-02-05T10:00:00Z")), ("2026-02-20T10:00:00Z", None)],
            ),
            (
                "an event before creation counts from creation",
                issue(true, None, &[]),
                vec![closed("2026-01-01T00:00:00Z"), reopened("2026-02-03T10:00:00Z")],
                vec![(c, Some(c)), ("2026-02-03T10:00:00Z", None)],
            ),
        ];
        for (name, issue, events, want) in cases {
            assert_eq!(open_periods(&issue, &events), periods(&want), "{name}");
        }
    }

    #[test]
    fn label_periods_from_events() {
        let c = "2026-02-02T10:00:00Z";
        let u = "2026-02-20T10:00:00Z";
        let lab = |n: &str, at: &str| ev(EventKind::Labeled(n.into()), at);
        let unl = |n: &str, at: &str| ev(EventKind::Unlabeled(n.into()), at);
        let wanted = ["waiting-on-reporter".to_string(), "Needs Info".to_string()];
        let cases: Vec<PeriodCase> = vec![
            ("never labelled", issue(true, None, &["bug"]), vec![lab("bug", "2026-02-03T10:00:00Z")], vec![]),
            (
                "labelled and unlabelled",
                issue(true, None, &[]),
                vec![lab("waiting-on-reporter", "2026-02-03T10:00:00Z"), unl("waiting-on-reporter", "2026-02-04T10:00:00Z")],
                vec![("2026-02-03T10:00:00Z", Some("2026-02-04T10:00:00Z"))],
            ),
            (
                "still labelled, another case",
                issue(true, None, &["NEEDS INFO"]),
                vec![lab("NEEDS INFO", "2026-02-03T10:00:00Z")],
                vec![("2026-02-03T10:00:00Z", None)],
            ),
            (
                "two labels overlapping make one period",
                issue(true, None, &[]),
                vec![
                    lab("waiting-on-reporter", "2026-02-03T10:00:00Z"),
                    lab("needs info", "2026-02-04T10:00:00Z"),
                    unl("waiting-on-reporter", "2026-02-05T10:00:00Z"),
                    unl("needs info", "2026-02-06T10:00:00Z"),
                    lab("needs info", "2026-02-08T10:00:00Z"),
                    unl("needs info", "2026-02-09T10:00:00Z"),
                ],
                vec![("2026-02-03T10:00:00Z", Some("2026-02-06T10:00:00Z")), ("2026-02-08T10:00:00Z", Some("2026-02-09T10:00:00Z"))],
            ),
            ("on the issue without events: since creation", issue(true, None, &["waiting-on-reporter"]), vec![], vec![(c, None)]),
            (
                "history starts with an unlabel: set since creation",
                issue(true, None, &[]),
                vec![unl("needs info", "2026-02-04T10:00:00Z")],
                vec![(c, Some("2026-02-04T10:00:00Z"))],
            ),
            (
                "out of order and duplicated",
                issue(true, None, &[]),
                vec![
                    unl("needs info", "2026-02-05T10:00:00Z"),
                    lab("needs info", "2026-02-03T10:00:00Z"),
                    lab("needs info", "2026-02-04T10:00:00Z"),
                ],
                vec![("2026-02-03T10:00:00Z", Some("2026-02-05T10:00:00Z"))],
            ),
            (
                "events end unlabelled but the label is on now: since updated_at",
                issue(true, None, &["needs info"]),
                vec![lab("needs info", "2026-02-03T10:00:00Z"), unl("needs info", "2026-02-04T10:00:00Z")],
                vec![("2026-02-03T10:00:00Z", Some("2026-02-04T10:00:00Z")), (u, None)],
            ),
            (
                "events end labelled but the label is gone: until updated_at",
                issue(true, None, &[]),
                vec![lab("needs info", "2026-02-03T10:00:00Z")],
                vec![("2026-02-03T10:00:00Z", Some(u))],
            ),
        ];
        for (name, issue, events, want) in cases {
            assert_eq!(label_periods(&issue, &events, &wanted), periods(&want), "{name}");
        }
        assert_eq!(label_periods(&issue(true, None, &["needs info"]), &[], &[]), vec![], "no labels asked for");
    }

    #[test]
    fn licences() {
        let answer = |spdx: serde_json::Value| {
            json!({"name": "LICENSE", "path": "LICENSE", "sha": "a1b2", "size": 16725, "type": "file", "encoding": "base64",
                "content": "TW96aWxsYSBQdWJsaWMgTGljZW5zZQ==", "_links": {"self": "https://api.github.com/repos/acme/x/contents/LICENSE"},
                "license": {"key": "mpl-2.0", "name": "Mozilla Public License 2.0", "spdx_id": spdx,
                    "url": "https://api.github.com/licenses/mpl-2.0", "node_id": "MDc6TGljZW5zZTE0"}})
            .to_string()
        };
        let cases: Vec<(String, Result<Option<&str>, &str>)> = vec![
            (answer(json!("MPL-2.0")), Ok(Some("MPL-2.0"))),
            (answer(json!("NOASSERTION")), Ok(Some("NOASSERTION"))),
            (answer(json!(null)), Ok(None)),
            (json!({"name": "LICENSE", "license": null}).to_string(), Ok(None)),
            (json!({"name": "LICENSE"}).to_string(), Ok(None)),
            (answer(json!(42)), Err("spdx_id must be a string")),
            ("[]".into(), Err("not a JSON object")),
            ("<html>".into(), Err("not valid JSON")),
        ];
        for (body, want) in cases {
            match (parse_licence(body.as_bytes()), want) {
                (Ok(got), Ok(want)) => assert_eq!(got.as_deref(), want, "{body}"),
                (Err(e), Err(want)) => assert!(e.contains(want), "{body}: {e}"),
                (got, want) => panic!("{body}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn licence_verdicts() {
        use LicenceVerdict::*;
        let cases: &[(Option<&str>, LicenceVerdict)] = &[
            (Some("MPL-2.0"), Approved),
            (Some("mpl-2.0"), Approved),
            (Some("MPL-2.0-no-copyleft-exception"), Approved),
            (Some("MPL-1.1"), Approved),
            (Some("Apache-2.0"), Approved),
            (Some("Apache-1.1"), Approved),
            (Some("MIT"), Approved),
            (Some("BSD-2-Clause"), Approved),
            (Some("BSD-3-Clause"), Approved),
            (Some("BSL-1.0"), Approved),
            (Some("CDDL-1.0"), Approved),
            (Some("CDDL-1.1"), Approved),
            (Some("CPL-1.0"), Approved),
            (Some("EPL-1.0"), Approved),
            (Some("PSF-2.0"), Approved),
            (Some("Python-2.0"), Approved),
            (Some("Ruby"), Approved),
            (Some("AFL-2.1"), Approved),
            (Some("AFL-3.0"), Approved),
            (Some("Artistic-1.0"), Approved),
            (Some("Artistic-2.0"), Approved),
            (Some("MS-PL"), Approved),
            (Some("CC-BY-4.0"), Approved),
            (Some("CC-BY-3.0"), Approved),
            (Some("CC-BY-2.5-AU"), Approved),
            (Some(" MIT "), Approved),
            (Some("BUSL-1.1"), NotApproved),
            (Some("CC-BY-SA-4.0"), NotApproved),
            (Some("CC-BY-NC-4.0"), NotApproved),
            (Some("CC-BY-ND-4.0"), NotApproved),
            (Some("GPL-3.0"), NotApproved),
            (Some("AGPL-3.0"), NotApproved),
            (Some("EPL-2.0"), NotApproved),
            (Some("BSD-4-Clause"), NotApproved),
            (Some("Unlicense"), NotApproved),
            (Some("NOASSERTION"), NeedsReviewer),
            (Some("noassertion"), NeedsReviewer),
            (Some(""), NeedsReviewer),
            (None, NeedsReviewer),
        ];
        for (spdx, want) in cases {
            assert_eq!(licence_verdict(*spdx), *want, "{spdx:?}");
        }
    }

    #[test]
    fn next_links() {
        let a = "https://api.github.com/repositories/1300192/issues?state=all&per_page=100&page=";
        let full = format!(r#"<{a}1>; rel="prev", <{a}3>; rel="next", <{a}5>; rel="last", <{a}1>; rel="first""#);
        let cases: Vec<(Option<String>, Option<String>)> = vec![
            (Some(full), Some(format!("{a}3"))),
            (Some(format!(r#"<{a}2>; rel="next", <{a}5>; rel="last""#)), Some(format!("{a}2"))),
            (Some(format!(r#"<{a}1>; rel="first", <{a}4>; rel="prev""#)), None),
            (Some(format!("  < {a}2 > ;  rel=next ,<{a}5>;rel=last")), Some(format!("{a}2"))),
            (Some(format!(r#"<{a}2>; title="x"; REL="Next""#)), Some(format!("{a}2"))),
            (Some(format!(r#"<{a}5>; rel="next last""#)), Some(format!("{a}5"))),
            (Some(format!(r#"<{a}1>; rel="nextish", <{a}2>; rel="next""#)), Some(format!("{a}2"))),
            (Some(r#"<>; rel="next""#.into()), None),
            (Some("garbage".into()), None),
            (Some(String::new()), None),
            (None, None),
        ];
        for (header, want) in cases {
            assert_eq!(next_link(header.as_deref()), want, "{header:?}");
        }
    }

    #[test]
    fn rate_limit_waits() {
        let reset = (now() + Duration::minutes(20)).timestamp().to_string();
        let past = (now() - Duration::minutes(1)).timestamp().to_string();
        let r = Some(reset.as_str());
        // (name, status, retry-after, remaining, reset, limits just before, seconds to wait)
        type Case<'a> = (&'a str, u16, Option<&'a str>, Option<&'a str>, Option<&'a str>, u32, Option<i64>);
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("200 is no limit", 200, None, Some("0"), r, 0, None),
            ("500 is no limit", 500, Some("30"), None, None, 0, None),
            ("403 with budget left is a permission error", 403, None, Some("4999"), r, 0, None),
            ("403 without headers is a permission error", 403, None, None, None, 3, None),
            ("primary limit: until reset", 403, None, Some("0"), r, 0, Some(20 * 60)),
            ("primary limit on 429", 429, None, Some("0"), r, 5, Some(20 * 60)),
            ("secondary limit: retry-after wins", 403, Some("60"), Some("4000"), r, 0, Some(60)),
            ("retry-after wins over reset", 429, Some("30"), Some("0"), r, 0, Some(30)),
            ("a stated wait does not back off", 429, Some("30"), None, None, 4, Some(30)),
            ("retry-after as an HTTP date", 429, Some("Mon, 02 Mar 2026 09:02:00 GMT"), None, None, 0, Some(120)),
            ("negative retry-after", 429, Some("-5"), None, None, 0, Some(0)),
            ("silly retry-after is capped", 429, Some("99999999"), None, None, 0, Some(24 * 3600)),
            ("unreadable retry-after: back off", 403, Some("soon"), Some("12"), r, 0, Some(60)),
            ("429 without headers: a minute", 429, None, None, None, 0, Some(60)),
            ("then doubling", 429, None, None, None, 1, Some(120)),
            ("and doubling", 429, None, Some("7"), r, 3, Some(480)),
            ("capped at an hour", 429, None, None, None, 10, Some(3600)),
            ("huge failure counts", 429, None, None, None, u32::MAX, Some(3600)),
            ("reset already past: back off", 403, None, Some("0"), Some(past.as_str()), 0, Some(60)),
            ("unreadable reset: back off", 403, None, Some("0"), Some("tomorrow"), 1, Some(120)),
        ];
        for (name, status, retry, remaining, reset, earlier, want) in cases {
            let got = limit(status, retry, remaining, reset, now()).map(|l| (l.until(now(), earlier) - now()).num_seconds());
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn rate_budgets() {
        let reset = now() + Duration::minutes(50);
        let epoch = reset.timestamp().to_string();
        let e = Some(epoch.as_str());
        // (limit, remaining, reset) headers → (limit, remaining)
        type Case<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, Option<(Option<i64>, i64)>);
        let cases: Vec<Case> = vec![
            (Some("5000"), Some("4321"), e, Some((Some(5000), 4321))),
            (None, Some("0"), e, Some((None, 0))),
            (Some("x"), Some("-3"), e, Some((None, 0))),
            (Some("5000"), None, e, None),
            (Some("5000"), Some("12"), None, None),
            (Some("5000"), Some("many"), e, None),
            (Some("5000"), Some("12"), Some("soon"), None),
        ];
        for (limit, remaining, reset_h, want) in cases {
            let got = RateBudget::from_headers(limit, remaining, reset_h);
            assert_eq!(got.map(|b| (b.limit, b.remaining)), want, "{limit:?} {remaining:?} {reset_h:?}");
            if let Some(b) = got {
                assert_eq!(b.reset, reset);
            }
        }
        let budget = |remaining| RateBudget { limit: Some(5000), remaining, reset };
        assert_eq!(budget(3000).pace(now()), Duration::seconds(1), "3,000 requests over 50 minutes");
        assert_eq!(budget(0).pace(now()), Duration::minutes(50), "nothing left: wait for the reset");
        assert_eq!(budget(10).pace(now() + Duration::hours(1)), Duration::zero(), "the reset has passed");
    }

    #[test]
    fn error_messages() {
        let cases: &[(&str, Option<&str>)] = &[
            (r#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}"#, Some("Bad credentials")),
            (r#"{"message":"API rate limit exceeded for user ID 1.\n"}"#, Some("API rate limit exceeded for user ID 1.")),
            (r#"{"message":"  "}"#, None),
            (r#"{"documentation_url":"x"}"#, None),
            ("<html>", None),
        ];
        for (body, want) in cases {
            assert_eq!(error_message(body.as_bytes()).as_deref(), *want, "{body}");
        }
        let long = json!({"message": "x".repeat(1000)}).to_string();
        assert_eq!(error_message(long.as_bytes()).unwrap().len(), 200);
    }

    #[test]
    fn repositories_from_urls() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("https://github.com/acme/terraform-provider-acme", Some(("acme", "terraform-provider-acme"))),
            ("https://github.com/acme/terraform-provider-acme/", Some(("acme", "terraform-provider-acme"))),
            ("https://github.com/acme/terraform-provider-acme.git", Some(("acme", "terraform-provider-acme"))),
            ("  https://github.com/Acme-Corp/my_repo.v2  ", Some(("Acme-Corp", "my_repo.v2"))),
            ("HTTPS://github.com/acme/widget", Some(("acme", "widget"))),
            ("https://github.com/acme/widget?tab=readme#top", Some(("acme", "widget"))),
            ("https://github.example.com/platform/terraform-provider-x", Some(("platform", "terraform-provider-x"))),
            ("https://git.internal:8443/team/repo", Some(("team", "repo"))),
            ("http://github.com/acme/widget", None),
            ("git@github.com:acme/widget.git", None),
            ("github.com/acme/widget", None),
            ("https://github.com/acme", None),
            ("https://github.com/acme/", None),
            ("https://github.com/", None),
            ("https://github.com/acme/widget/tree/main", None),
            ("https://github.com/acme/widget/issues", None),
            ("https://github.com//widget", None),
            ("https://github.com/acme/.git", None),
            ("https://github.com/acme/..", None),
            ("https://github.com/acme/wid get", None),
            ("https://github.com/acme/%2e%2e", None),
            ("https://user@github.com/acme/widget", None),
            ("https:///acme/widget", None),
            ("", None),
        ];
        for (url, want) in cases {
            let want = want.map(|(o, r)| (o.to_string(), r.to_string()));
            assert_eq!(repo_from_url(url), want, "{url}");
        }
    }
}
