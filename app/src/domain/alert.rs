//! E-mail alerts, the pure part: which kinds exist, each user's delivery choices, when
//! their daily digest goes out, how long to wait after a failed send, and the text and
//! HTML of the email. The outbox, the worker and SMTP live elsewhere; this is shared
//! with the browser, whose preferences form uses the same vocabulary and validation.
//!
//! Decisions callers rely on:
//! - an outbox row is unique by [`dedupe_key`], so emitting an event twice is a no-op;
//! - mandatory alerts and [`AlertKind::Test`] are always sent at once ([`Preferences::delivery`]);
//! - a digest goes out once a day at the first instant its local hour begins: after a
//!   spring-forward gap, the end of the gap; on a fall-back day, the earlier of the two
//!   ([`next_digest_at`]);
//! - [`render_at`] dates a digest by the local date of `now` (the send time): alerts carry
//!   no time of their own, and a digest is sent on the day it summarises.

use super::{FieldErrors, Problems};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

crate::domain::catalog::vocabulary!(
    /// What an alert is about. Ordered as declared, so preferences and digests list kinds
    /// in the same order everywhere.
    #[derive(PartialOrd, Ord)]
    AlertKind {
        SlaDueSoon => ("sla_due_soon", "SLA due soon"),
        SlaBreached => ("sla_breached", "SLA breached"),
        SlaEscalated => ("sla_escalated", "SLA breach not acknowledged"),
        ReviewWaiting => ("review_waiting", "Task awaiting review"),
        ReviewDecision => ("review_decision", "Review decision"),
        VersionPublished => ("version_published", "New provider version published"),
        FlagRaised => ("flag_raised", "Tier flag raised"),
        FlagDecided => ("flag_decided", "Tier flag decided"),
        SyncFailing => ("sync_failing", "Registry or GitHub sync failing"),
        DeliveryFailed => ("delivery_failed", "Alert delivery failed"),
        Test => ("test", "Test email"),
    }
);

crate::domain::catalog::vocabulary!(
    /// How a user wants one kind of alert.
    Delivery {
        Immediate => ("immediate", "Immediately"),
        Digest => ("digest", "In my daily digest"),
        Off => ("off", "Off"),
    }
);

impl AlertKind {
    /// The subject's prefix: short and fixed, so inbox rules and sorting can match it.
    pub fn tag(self) -> &'static str {
        match self {
            AlertKind::SlaDueSoon => "[SLA due soon]",
            AlertKind::SlaBreached => "[SLA breach]",
            AlertKind::SlaEscalated => "[SLA escalation]",
            AlertKind::ReviewWaiting => "[Review]",
            AlertKind::ReviewDecision => "[Review decision]",
            AlertKind::VersionPublished => "[New version]",
            AlertKind::FlagRaised => "[Tier flag]",
            AlertKind::FlagDecided => "[Tier flag decided]",
            AlertKind::SyncFailing => "[Sync failing]",
            AlertKind::DeliveryFailed => "[Delivery failed]",
            AlertKind::Test => "[Test]",
        }
    }

    /// Whether users may choose how it arrives: a test email is asked for and always sent.
    pub fn choosable(self) -> bool {
        self != AlertKind::Test
    }
}

// ---------------------------------------------------------------------------
// Preferences
// ---------------------------------------------------------------------------

/// The digest hour of users who never chose one.
pub const DEFAULT_DIGEST_HOUR: u32 = 8;

/// A user's alert settings. Kinds without a choice arrive immediately, so a new kind
/// reaches everyone until they decide otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {
    #[serde(with = "tz_name")]
    pub time_zone: Tz,
    /// Local hour (0–23) the daily digest is sent.
    pub digest_hour: u32,
    pub choices: BTreeMap<AlertKind, Delivery>,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences { time_zone: chrono_tz::UTC, digest_hour: DEFAULT_DIGEST_HOUR, choices: BTreeMap::new() }
    }
}

impl Preferences {
    /// How `kind` reaches this user. Mandatory alerts (the program requires them to be
    /// read, e.g. a breach to its partner) ignore the choice, as do kinds that are not
    /// [`AlertKind::choosable`].
    pub fn delivery(&self, kind: AlertKind, mandatory: bool) -> Delivery {
        if mandatory || !kind.choosable() {
            return Delivery::Immediate;
        }
        self.choices.get(&kind).copied().unwrap_or(Delivery::Immediate)
    }

    /// From the columns of `alert_preferences`. Lenient, because the values were validated
    /// when saved and a kind or zone may since have been removed: what cannot be read
    /// keeps its default rather than losing the rest.
    pub fn from_stored(time_zone: &str, digest_hour: i64, choices_json: &str) -> Self {
        let raw: BTreeMap<String, String> = serde_json::from_str(choices_json).unwrap_or_default();
        let choices = raw.iter().filter_map(|(k, v)| Some((AlertKind::parse(k).filter(|k| k.choosable())?, Delivery::parse(v)?))).collect();
        Preferences {
            time_zone: time_zone.parse().unwrap_or(chrono_tz::UTC),
            digest_hour: u32::try_from(digest_hour).ok().filter(|h| *h <= 23).unwrap_or(DEFAULT_DIGEST_HOUR),
            choices,
        }
    }

    /// The `choices` column: `{"kind": "delivery"}` by keys.
    pub fn choices_json(&self) -> String {
        let keys: BTreeMap<&str, &str> = self.choices.iter().map(|(k, d)| (k.key(), d.key())).collect();
        serde_json::to_string(&keys).unwrap_or_else(|_| "{}".to_string())
    }
}

/// The preferences form as typed; `choices` maps kind keys to delivery keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PreferencesInput {
    pub time_zone: String,
    pub digest_hour: String,
    pub choices: BTreeMap<String, String>,
}

impl PreferencesInput {
    pub fn validate(&self) -> Result<Preferences, FieldErrors> {
        let mut p = Problems::default();
        let tz_text = self.time_zone.trim();
        let time_zone = match tz_text.parse::<Tz>() {
            Ok(tz) => tz,
            Err(_) if tz_text.is_empty() => {
                p.add("time_zone", "choose a time zone, such as UTC or Europe/Berlin");
                chrono_tz::UTC
            }
            Err(_) => {
                p.add("time_zone", format!("\"{tz_text}\" is not a time zone name such as UTC or Europe/Berlin"));
                chrono_tz::UTC
            }
        };
        let digest_hour = match self.digest_hour.trim().parse::<u32>() {
            Ok(h) if h <= 23 => h,
            _ => {
                p.add("digest_hour", "a whole hour from 0 to 23");
                DEFAULT_DIGEST_HOUR
            }
        };
        let mut choices = BTreeMap::new();
        for (key, value) in &self.choices {
            let field = format!("choices.{}", key.trim());
            let Some(kind) = AlertKind::parse(key.trim()) else {
                let kinds: Vec<&str> = AlertKind::ALL.iter().filter(|k| k.choosable()).map(|k| k.key()).collect();
                p.add(&field, format!("\"{}\" is not an alert kind; expected one of {}", key.trim(), kinds.join(", ")));
                continue;
            };
            if !kind.choosable() {
                p.add(&field, format!("{} emails are always sent; there is nothing to choose", kind.label().to_lowercase()));
                continue;
            }
            match Delivery::parse(value.trim()) {
                Some(d) => {
                    choices.insert(kind, d);
                }
                None => p.add(&field, format!("\"{}\" is not a delivery; expected {}", value.trim(), Delivery::expected())),
            }
        }
        p.finish(Preferences { time_zone, digest_hour, choices })
    }
}

impl From<&Preferences> for PreferencesInput {
    fn from(p: &Preferences) -> Self {
        PreferencesInput {
            time_zone: p.time_zone.name().to_string(),
            digest_hour: p.digest_hour.to_string(),
            choices: p.choices.iter().map(|(k, d)| (k.key().to_string(), d.key().to_string())).collect(),
        }
    }
}

/// Time zones travel by their IANA name (chrono-tz's own serde support is not enabled).
mod tz_name {
    use chrono_tz::Tz;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tz.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(|_| D::Error::custom(format!("unknown time zone \"{name}\"")))
    }
}

// ---------------------------------------------------------------------------
// When the digest goes out
// ---------------------------------------------------------------------------

/// The first instant strictly after `after` at which local time in `tz` is `hour`:00
/// (hours above 23 count as 23). When that time does not exist on a day (clocks jump
/// forward over it), the end of the jump that day; when it happens twice (clocks go
/// back), the earlier — so there is one digest a day, never two. A day with no such
/// instant at all (Samoa skipped 30 December 2011) is passed over.
pub fn next_digest_at(after: DateTime<Utc>, tz: Tz, hour: u32) -> DateTime<Utc> {
    let hour = hour.min(23);
    let today = local_naive(tz, after).map_or(after.date_naive(), |n| n.date());
    // Yesterday and the day after tomorrow cover offsets that move local dates across UTC
    // and a skipped day; the earliest candidate after `after` wins.
    let mut best: Option<DateTime<Utc>> = None;
    for days in -1..=2 {
        let Some(day) = today.checked_add_signed(Duration::days(days)) else { continue };
        if let Some(at) = local_hour(tz, day, hour).filter(|at| *at > after) {
            if best.is_none_or(|b| at < b) {
                best = Some(at);
            }
        }
    }
    // Only at the ends of chrono's calendar is there no candidate.
    best.unwrap_or_else(|| after.checked_add_signed(Duration::days(1)).unwrap_or(DateTime::<Utc>::MAX_UTC))
}

/// `hour`:00 of `day` in `tz`, as described at [`next_digest_at`].
fn local_hour(tz: Tz, day: NaiveDate, hour: u32) -> Option<DateTime<Utc>> {
    let naive = day.and_hms_opt(hour, 0, 0)?;
    match tz.from_local_datetime(&naive).earliest() {
        Some(t) => Some(t.with_timezone(&Utc)),
        None => gap_end(tz, naive).filter(|t| local_naive(tz, *t).is_some_and(|n| n.date() == day)),
    }
}

/// The instant a gap in local time that swallows `naive` ends: the first whose local time
/// is later than `naive`.
fn gap_end(tz: Tz, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    // The first whole local minute that exists (a gap may swallow a whole day) …
    let after_gap = (1..=48 * 60).find_map(|m| {
        let later = naive.checked_add_signed(Duration::minutes(m))?;
        tz.from_local_datetime(&later).earliest()
    })?;
    // … is less than a minute after the jump (offsets may have seconds): search back.
    let (mut lo, mut hi) = (after_gap.timestamp() - 60, after_gap.timestamp());
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match DateTime::from_timestamp(mid, 0) {
            Some(t) if local_naive(tz, t).is_some_and(|n| n >= naive) => hi = mid,
            _ => lo = mid,
        }
    }
    DateTime::from_timestamp(hi, 0)
}

/// Local wall-clock time; `None` only past the ends of chrono's calendar, where
/// `DateTime::with_timezone(..).naive_local()` would panic.
fn local_naive(tz: Tz, t: DateTime<Utc>) -> Option<NaiveDateTime> {
    let utc = t.naive_utc();
    utc.checked_add_offset(tz.offset_from_utc_datetime(&utc).fix())
}

// ---------------------------------------------------------------------------
// Retries
// ---------------------------------------------------------------------------

/// How long to wait after a failed send: doubling from `base` up to `cap`, giving up
/// after `max_attempts` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    pub max_attempts: u32,
}

impl Default for Backoff {
    /// 12 attempts: 11 waits of 30 s, 1, 2, 4, 8 and 16 min, then 30 min five times — about
    /// three hours, so mail survives an SMTP server that is down for an hour or two.
    fn default() -> Self {
        Backoff { base: Duration::seconds(30), cap: Duration::minutes(30), max_attempts: 12 }
    }
}

impl Backoff {
    /// The wait before the next try after `attempts` failed sends (this one included), or
    /// `None` when that was the last allowed. `min(base × 2^(attempts−1), cap)`, saturating.
    pub fn after_failure(&self, attempts: u32) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let cap = self.cap.max(Duration::zero());
        let base = self.base.max(Duration::zero()).min(cap);
        let exponent = attempts.saturating_sub(1);
        let delay = match 1_i64.checked_shl(exponent).filter(|f| *f > 0) {
            Some(factor) => base.num_milliseconds().checked_mul(factor).and_then(Duration::try_milliseconds).unwrap_or(cap),
            None => cap,
        };
        Some(delay.min(cap))
    }
}

// ---------------------------------------------------------------------------
// Content and rendering
// ---------------------------------------------------------------------------

/// One alert as the outbox stores it (JSON): everything the email needs, written when the
/// event happens, so sending never goes back to the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertContent {
    pub kind: AlertKind,
    /// What it is about, e.g. "acme/widget #123" or "Acme Widget".
    pub subject: String,
    /// E.g. the issue's title.
    pub title: String,
    pub partner: Option<String>,
    pub integration: Option<String>,
    /// A path such as "/issues/12", made absolute with the base URL (an http(s) URL is kept).
    pub link: String,
    pub deadline: Option<DateTime<Utc>>,
    /// One or two sentences: what happened.
    pub detail: String,
    /// What to do next.
    pub next_step: String,
}

/// A rendered email: the same content as plain text and as HTML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Subjects longer than this are cut (with "…"): mail clients show about this much.
pub const SUBJECT_MAX: usize = 120;

/// [`render_at`] dated by the clock; the worker, which has `now`, should call that.
pub fn render(items: &[AlertContent], tz: Tz, base_url: &str, digest: bool, preferences_url: &str) -> Email {
    render_at(items, tz, base_url, digest, preferences_url, Utc::now())
}

/// The email for `items`, times shown in the recipient's `tz`:
/// - one item: `"{tag} {subject} {title}"`, the item in full;
/// - several of one kind (a burst folded into one email): `"{tag} 3 alerts: a, b and 1 more"`;
/// - a digest (`digest`), or several kinds at once: `"[Digest] 5 alerts for Tue 24 Nov 2026"`
///   (the local date of `now`) or `"[Alerts] …"`, grouped by kind.
///
/// Links are `base_url` (trailing slashes ignored) joined with each item's path;
/// `preferences_url` likewise when it is a path. No items: a short "nothing to report".
pub fn render_at(items: &[AlertContent], tz: Tz, base_url: &str, digest: bool, preferences_url: &str, now: DateTime<Utc>) -> Email {
    let day = local_naive(tz, now).unwrap_or(now.naive_utc()).format("%a %-d %b %Y").to_string();
    let count = |n: usize| if n == 1 { "1 alert".to_string() } else { format!("{n} alerts") };
    let one_kind = items.first().map(|f| f.kind).filter(|k| items.iter().all(|i| i.kind == *k));
    let mut body = Body::default();
    let subject = match (items, one_kind) {
        ([], _) => {
            body.para("Nothing to report.");
            if digest {
                format!("[Digest] No alerts for {day}")
            } else {
                "No alerts".to_string()
            }
        }
        (_, _) if digest => {
            body.heading(&format!("{} for {day}", count(items.len())));
            body.grouped(items, tz, base_url);
            format!("[Digest] {} for {day}", count(items.len()))
        }
        ([item], _) => {
            body.heading(&format!("{}: {}", item.kind.label(), headline(item, " — ")));
            body.item_in_full(item, tz, base_url);
            format!("{} {}", item.kind.tag(), headline(item, " "))
        }
        (_, Some(kind)) => {
            body.heading(&format!("{}: {}", kind.label(), count(items.len())));
            body.list(items, tz, base_url);
            format!("{} {}: {}", kind.tag(), count(items.len()), names(items))
        }
        (_, None) => {
            body.heading(&count(items.len()));
            body.grouped(items, tz, base_url);
            format!("[Alerts] {}: {}", count(items.len()), names(items))
        }
    };
    let subject = shorten(&one_line(&subject), SUBJECT_MAX);
    body.footer(&absolute(base_url, preferences_url));
    Email {
        html: format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n</head>\n<body>\n{}</body>\n</html>\n",
            escape_html(&subject),
            body.html
        ),
        text: body.text,
        subject,
    }
}

/// "acme/widget #123 Plan output truncated", or whichever part is not empty.
fn headline(item: &AlertContent, separator: &str) -> String {
    let (subject, title) = (one_line(&item.subject), one_line(&item.title));
    match (subject.is_empty(), title.is_empty()) {
        (false, false) => format!("{subject}{separator}{title}"),
        (true, _) => title,
        (false, true) => subject,
    }
}

/// "a, b and 3 more" — the first two, each kept short so the count still shows.
fn names(items: &[AlertContent]) -> String {
    let name = |i: &AlertContent| {
        let s = one_line(&i.subject);
        shorten(if s.is_empty() { &i.title } else { &s }, 40)
    };
    match items {
        [a, b] => format!("{} and {}", name(a), name(b)),
        [a, b, rest @ ..] => format!("{}, {} and {} more", name(a), name(b), rest.len()),
        _ => items.iter().map(name).collect::<Vec<_>>().join(", "),
    }
}

/// Text and HTML written side by side, so both always say the same.
#[derive(Default)]
struct Body {
    text: String,
    html: String,
}

impl Body {
    fn heading(&mut self, s: &str) {
        self.text.push_str(&format!("{s}\n\n"));
        self.html.push_str(&format!("<h1>{}</h1>\n", escape_html(s)));
    }

    fn para(&mut self, s: &str) {
        if !s.trim().is_empty() {
            self.text.push_str(&format!("{}\n\n", s.trim()));
            self.html.push_str(&format!("<p>{}</p>\n", escape_html(s.trim())));
        }
    }

    fn item_in_full(&mut self, item: &AlertContent, tz: Tz, base_url: &str) {
        let facts = facts(item, tz);
        if !facts.is_empty() {
            self.text.extend(facts.iter().map(|(label, value)| format!("{label}: {value}\n")));
            self.text.push('\n');
            let rows: Vec<String> = facts.iter().map(|(label, value)| format!("{label}: {}", escape_html(value))).collect();
            self.html.push_str(&format!("<p>{}</p>\n", rows.join("<br>\n")));
        }
        self.para(&item.detail);
        if !item.next_step.trim().is_empty() {
            self.para(&format!("Next step: {}", item.next_step.trim()));
        }
        let url = absolute(base_url, &item.link);
        self.text.push_str(&format!("Open: {url}\n\n"));
        self.html.push_str(&format!("<p><a href=\"{0}\">{0}</a></p>\n", escape_html(&url)));
    }

    /// Each item compactly, with its link.
    fn list(&mut self, items: &[AlertContent], tz: Tz, base_url: &str) {
        self.html.push_str("<ul>\n");
        for item in items {
            let url = absolute(base_url, &item.link);
            let facts: Vec<String> = facts(item, tz).iter().map(|(label, value)| format!("{label}: {value}")).collect();
            let mut lines = vec![facts.join(" · "), one_line(&item.detail)];
            if !item.next_step.trim().is_empty() {
                lines.push(format!("Next step: {}", one_line(&item.next_step)));
            }
            lines.retain(|l| !l.is_empty());
            self.text.push_str(&format!("- {}\n", headline(item, " — ")));
            self.text.extend(lines.iter().map(|l| format!("  {l}\n")));
            self.text.push_str(&format!("  {url}\n\n"));
            let mut html = format!("<li><a href=\"{}\">{}</a>", escape_html(&url), escape_html(&headline(item, " — ")));
            html.extend(lines.iter().map(|l| format!("<br>\n{}", escape_html(l))));
            self.html.push_str(&html);
            self.html.push_str("</li>\n");
        }
        self.html.push_str("</ul>\n");
    }

    /// Lists by kind, kinds in their declared order.
    fn grouped(&mut self, items: &[AlertContent], tz: Tz, base_url: &str) {
        for kind in AlertKind::ALL {
            let of_kind: Vec<AlertContent> = items.iter().filter(|i| i.kind == *kind).cloned().collect();
            if !of_kind.is_empty() {
                let title = format!("{} ({})", kind.label(), of_kind.len());
                self.text.push_str(&format!("{title}\n{}\n\n", "-".repeat(title.chars().count())));
                self.html.push_str(&format!("<h2>{}</h2>\n", escape_html(&title)));
                self.list(&of_kind, tz, base_url);
            }
        }
    }

    fn footer(&mut self, preferences: &str) {
        self.text.push_str(&format!("-- \nChange which alerts you get: {preferences}\n"));
        self.html.push_str(&format!("<hr>\n<p>Change which alerts you get: <a href=\"{0}\">{0}</a></p>\n", escape_html(preferences)));
    }
}

/// Partner, integration and deadline, those the item has.
fn facts(item: &AlertContent, tz: Tz) -> Vec<(&'static str, String)> {
    let mut facts = Vec::new();
    if let Some(p) = item.partner.as_deref().map(one_line).filter(|p| !p.is_empty()) {
        facts.push(("Partner", p));
    }
    if let Some(i) = item.integration.as_deref().map(one_line).filter(|i| !i.is_empty()) {
        facts.push(("Integration", i));
    }
    if let Some(d) = item.deadline {
        facts.push(("Deadline", local_time(d, tz)));
    }
    facts
}

/// "Tue 24 Nov 2026, 14:00 CET": the recipient's wall clock and the zone's abbreviation.
pub fn local_time(t: DateTime<Utc>, tz: Tz) -> String {
    match local_naive(tz, t) {
        Some(_) => t.with_timezone(&tz).format("%a %-d %b %Y, %H:%M %Z").to_string(),
        None => t.format("%a %-d %b %Y, %H:%M UTC").to_string(),
    }
}

/// `link` made absolute against `base_url`; http(s) URLs are kept as they are.
fn absolute(base_url: &str, link: &str) -> String {
    let link = link.trim();
    let lower = link.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return link.to_string();
    }
    let base = base_url.trim().trim_end_matches('/');
    match link.strip_prefix('/') {
        Some(_) => format!("{base}{link}"),
        None => format!("{base}/{link}"),
    }
}

/// Whitespace runs (line breaks included) as one space: a header must stay on one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters, the last being "…" when cut.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let kept: String = s.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", kept.trim_end())
}

/// Text safe inside HTML elements and quoted attributes.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Keys and addresses
// ---------------------------------------------------------------------------

/// The outbox's unique key, `kind:subject:discriminator:recipient`: the same event for
/// the same person is one row however often it is emitted. Addresses compare without
/// case, as mail servers in practice do.
pub fn dedupe_key(kind: AlertKind, subject_ref: &str, discriminator: &str, recipient: &str) -> String {
    format!("{}:{subject_ref}:{discriminator}:{}", kind.key(), recipient.trim().to_lowercase())
}

/// A modest check before an address goes into the outbox: one `@`, a local part, a
/// dotted domain, no spaces or control characters, at most 254 characters. The mail
/// server has the last word.
pub fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    s.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !s.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
}

/// A recipient address that belongs to a user, as the user stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecipientUser {
    pub role: super::access::Role,
    /// A partner member's partner.
    pub partner_id: Option<i64>,
    pub deactivated: bool,
}

/// Whether an alert about `partner` may still go to its recipient, checked
/// when it is sent (it may have waited for a digest, or a retry): the user
/// may have been deactivated or made a member of another partner since it
/// was queued, and a partner member never learns another partner's data,
/// by email neither (`program.md`). An address that is no user's (a
/// support contact without an account) gets what it was queued for.
pub fn may_receive(user: Option<RecipientUser>, partner: Option<i64>) -> bool {
    match user {
        None => true,
        Some(u) if u.deactivated => false,
        Some(u) if u.role == super::access::Role::Partner => partner.is_none_or(|p| u.partner_id == Some(p)),
        Some(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_may_still_receive() {
        use crate::domain::access::Role;
        let user = |role, partner_id, deactivated| Some(RecipientUser { role, partner_id, deactivated });
        let cases = [
            ("an address that is no user's", None, Some(1), true),
            ("a reviewer", user(Role::Reviewer, None, false), Some(1), true),
            ("an admin, no partner", user(Role::Admin, None, false), None, true),
            ("a deactivated reviewer", user(Role::Reviewer, None, true), Some(1), false),
            ("a member of the partner", user(Role::Partner, Some(1), false), Some(1), true),
            ("a member of another partner", user(Role::Partner, Some(2), false), Some(1), false),
            ("a deactivated member", user(Role::Partner, Some(1), true), Some(1), false),
            ("a member, no partner's alert", user(Role::Partner, Some(2), false), None, true),
            ("a viewer", user(Role::Viewer, None, false), Some(1), true),
        ];
        for (what, u, partner, want) in cases {
            assert_eq!(may_receive(u, partner), want, "{what}");
        }
    }
    use chrono_tz::{America::Los_Angeles, Asia::Kolkata, Europe::Berlin, UTC};

    /// "2026-03-04 14:00" (seconds optional) as local time in `tz`; a trailing "Z" means UTC.
    fn at(tz: Tz, s: &str) -> DateTime<Utc> {
        let (text, tz) = match s.strip_suffix('Z') {
            Some(text) => (text, UTC),
            None => (s, tz),
        };
        let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
            .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M"))
            .unwrap_or_else(|e| panic!("{s}: {e}"));
        tz.from_local_datetime(&naive).earliest().unwrap_or_else(|| panic!("{s} does not exist in {tz}")).with_timezone(&Utc)
    }

    fn item(kind: AlertKind, subject: &str, title: &str, link: &str) -> AlertContent {
        AlertContent {
            kind,
            subject: subject.into(),
            title: title.into(),
            partner: Some("Acme Corp".into()),
            integration: Some("Acme Widget".into()),
            link: link.into(),
            deadline: None,
            detail: "The issue passed its deadline without a resolution.".into(),
            next_step: "Resolve it, or mark it as waiting on the reporter.".into(),
        }
    }

    #[test]
    fn kinds_have_tags_and_keys() {
        let cases: &[(AlertKind, &str, &str, bool)] = &[
            (AlertKind::SlaDueSoon, "sla_due_soon", "[SLA due soon]", true),
            (AlertKind::SlaBreached, "sla_breached", "[SLA breach]", true),
            (AlertKind::SlaEscalated, "sla_escalated", "[SLA escalation]", true),
            (AlertKind::ReviewWaiting, "review_waiting", "[Review]", true),
            (AlertKind::ReviewDecision, "review_decision", "[Review decision]", true),
            (AlertKind::VersionPublished, "version_published", "[New version]", true),
            (AlertKind::FlagRaised, "flag_raised", "[Tier flag]", true),
            (AlertKind::FlagDecided, "flag_decided", "[Tier flag decided]", true),
            (AlertKind::SyncFailing, "sync_failing", "[Sync failing]", true),
            (AlertKind::DeliveryFailed, "delivery_failed", "[Delivery failed]", true),
            (AlertKind::Test, "test", "[Test]", false),
        ];
        assert_eq!(cases.len(), AlertKind::ALL.len());
        for (kind, key, tag, choosable) in cases {
            assert_eq!(kind.key(), *key);
            assert_eq!(kind.tag(), *tag);
            assert_eq!(kind.choosable(), *choosable, "{key}");
            assert_eq!(AlertKind::parse(key), Some(*kind));
            // The serde form is the key: the outbox and preferences store keys.
            assert_eq!(serde_json::to_string(kind).unwrap(), format!("\"{key}\""));
        }
        for d in Delivery::ALL {
            assert_eq!(serde_json::to_string(d).unwrap(), format!("\"{}\"", d.key()));
        }
        assert_eq!(AlertKind::SlaEscalated.label(), "SLA breach not acknowledged");
        assert_eq!(Delivery::Digest.label(), "In my daily digest");
    }

    #[test]
    fn digest_times() {
        let apia = chrono_tz::Pacific::Apia;
        // (what, zone, after, hour, expected); times local to the zone unless ending in "Z".
        let cases: &[(&str, Tz, &str, u32, &str)] = &[
            ("same day, before the hour", UTC, "2026-03-10 07:59", 8, "2026-03-10 08:00"),
            ("same day, after the hour", UTC, "2026-03-10 08:01", 8, "2026-03-11 08:00"),
            ("exactly at the hour: strictly after", UTC, "2026-03-10 08:00", 8, "2026-03-11 08:00"),
            ("a second past the hour", UTC, "2026-03-10 08:00:01", 8, "2026-03-11 08:00"),
            ("across midnight", Berlin, "2026-03-10 23:30", 0, "2026-03-11 00:00"),
            ("across the year", UTC, "2026-12-31 23:59", 0, "2027-01-01 00:00"),
            ("late evening to next morning", Berlin, "2026-11-24 21:00", 8, "2026-11-25 08:00"),
            ("Berlin winter", Berlin, "2026-11-24 05:00Z", 8, "2026-11-24 07:00Z"),
            // Berlin springs forward 02:00 → 03:00 on 29 March 2026: 02:00 does not exist.
            ("spring forward: end of the gap", Berlin, "2026-03-28 12:00", 2, "2026-03-29 01:00Z"),
            ("spring forward: the gap's end is 03:00", Berlin, "2026-03-28 12:00", 2, "2026-03-29 03:00"),
            ("after the gap: next day", Berlin, "2026-03-29 01:00Z", 2, "2026-03-30 02:00"),
            ("spring forward, other hours unaffected", Berlin, "2026-03-29 00:30", 8, "2026-03-29 06:00Z"),
            // Berlin falls back 03:00 → 02:00 on 25 October 2026: 02:00 happens twice.
            ("fall back: the earlier 02:00", Berlin, "2026-10-24 12:00", 2, "2026-10-25 00:00Z"),
            ("fall back: never the second 02:00", Berlin, "2026-10-25 00:00Z", 2, "2026-10-26 01:00Z"),
            ("fall back: between the two", Berlin, "2026-10-25 00:30Z", 2, "2026-10-26 02:00"),
            ("fall back, other hours unaffected", Berlin, "2026-10-25 01:00", 8, "2026-10-25 07:00Z"),
            // West of UTC: the UTC date runs ahead of the local one.
            ("Los Angeles, summer", Los_Angeles, "2026-07-01 14:59Z", 8, "2026-07-01 15:00Z"),
            ("Los Angeles, at the hour", Los_Angeles, "2026-07-01 15:00Z", 8, "2026-07-02 15:00Z"),
            ("Los Angeles, UTC already tomorrow", Los_Angeles, "2026-07-02 03:00Z", 8, "2026-07-02 08:00"),
            ("Los Angeles, winter", Los_Angeles, "2026-01-15 20:00", 8, "2026-01-16 16:00Z"),
            ("Los Angeles, spring forward", Los_Angeles, "2026-03-07 12:00", 2, "2026-03-08 10:00Z"),
            ("Los Angeles, late hour", Los_Angeles, "2026-07-01 12:00", 23, "2026-07-02 06:00Z"),
            // East, half-hour offset (+05:30).
            ("Kolkata, before", Kolkata, "2026-03-10 02:00Z", 8, "2026-03-10 02:30Z"),
            ("Kolkata, UTC still yesterday", Kolkata, "2026-03-09 21:00Z", 0, "2026-03-10 18:30Z"),
            ("Kolkata, midnight", Kolkata, "2026-03-10 00:00", 0, "2026-03-11 00:00"),
            // Samoa skipped 30 December 2011: its digest is skipped too.
            ("a skipped day", apia, "2011-12-29 12:00", 8, "2011-12-31 08:00"),
            ("hours above 23 count as 23", UTC, "2026-03-10 12:00", 99, "2026-03-10 23:00"),
        ];
        for (what, tz, after, hour, want) in cases {
            assert_eq!(next_digest_at(at(*tz, after), *tz, *hour), at(*tz, want), "{what}");
        }
    }

    #[test]
    fn digest_times_hold_around_every_switch() {
        let zones = [Berlin, Los_Angeles, Kolkata, UTC, chrono_tz::Australia::Lord_Howe, chrono_tz::America::Havana];
        for tz in zones {
            for start in [
                "2026-03-06 00:00Z",
                "2026-03-26 00:00Z",
                "2026-04-02 00:00Z",
                "2026-10-02 00:00Z",
                "2026-10-23 00:00Z",
                "2026-10-30 00:00Z",
            ] {
                for step in 0..(4 * 24 * 4) {
                    let after = at(UTC, start) + Duration::minutes(15 * step);
                    for hour in [0, 1, 2, 3, 8, 23] {
                        let next = next_digest_at(after, tz, hour);
                        assert!(next > after, "{tz} {after} {hour}");
                        assert!(next - after <= Duration::hours(25), "{tz} {after} {hour}: {next}");
                        assert_eq!(next_digest_at(next - Duration::seconds(1), tz, hour), next, "{tz} {after} {hour}");
                    }
                }
            }
        }
        // The ends of chrono's calendar: no panic, still later.
        assert!(next_digest_at(DateTime::<Utc>::MIN_UTC, Berlin, 8) > DateTime::<Utc>::MIN_UTC);
        assert_eq!(next_digest_at(DateTime::<Utc>::MAX_UTC, Kolkata, 8), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn backoff() {
        let b = Backoff::default();
        // (failed attempts so far, wait in seconds or give up)
        let cases: &[(u32, Option<i64>)] = &[
            (0, Some(30)),
            (1, Some(30)),
            (2, Some(60)),
            (3, Some(120)),
            (6, Some(960)),
            (7, Some(1800)),
            (11, Some(1800)),
            (12, None),
            (13, None),
            (u32::MAX, None),
        ];
        for (attempts, want) in cases {
            assert_eq!(b.after_failure(*attempts).map(|d| d.num_seconds()), *want, "{attempts}");
        }
        let total: Duration = (1..b.max_attempts).filter_map(|n| b.after_failure(n)).sum();
        assert_eq!(total, Duration::seconds(10_890), "about three hours of retries");

        // Huge attempt counts saturate at the cap; odd settings do not panic.
        let patient = Backoff { max_attempts: u32::MAX, ..b };
        for attempts in [40, 62, 63, 64, 65, 1000, u32::MAX - 1] {
            assert_eq!(patient.after_failure(attempts), Some(Duration::minutes(30)), "{attempts}");
        }
        let huge = Backoff { base: Duration::days(365 * 1000), cap: Duration::MAX, max_attempts: u32::MAX };
        assert_eq!(huge.after_failure(50), Some(Duration::MAX));
        let odd = Backoff { base: Duration::seconds(-5), cap: Duration::seconds(10), max_attempts: 3 };
        assert_eq!(odd.after_failure(2), Some(Duration::zero()));
        assert_eq!(Backoff { max_attempts: 0, ..b }.after_failure(1), None);
    }

    #[test]
    fn preferences_validate() {
        type Case<'a> = (&'a str, &'a str, &'a str, &'a [(&'a str, &'a str)], Result<(), &'a [&'a str]>);
        let cases: &[Case] = &[
            ("defaults", "UTC", "8", &[], Ok(())),
            ("spaces trimmed", " Europe/Berlin ", " 0 ", &[(" sla_breached ", " digest ")], Ok(())),
            ("last hour", "Asia/Kolkata", "23", &[("version_published", "off"), ("review_waiting", "immediate")], Ok(())),
            ("unknown zone", "Mars/Olympus", "8", &[], Err(&["time_zone"])),
            ("empty zone", "", "8", &[], Err(&["time_zone"])),
            ("hour too big", "UTC", "24", &[], Err(&["digest_hour"])),
            ("negative hour", "UTC", "-1", &[], Err(&["digest_hour"])),
            ("hour not a number", "UTC", "8am", &[], Err(&["digest_hour"])),
            ("empty hour", "UTC", "", &[], Err(&["digest_hour"])),
            ("unknown kind", "UTC", "8", &[("sla_exploded", "off")], Err(&["choices.sla_exploded"])),
            ("test cannot be chosen", "UTC", "8", &[("test", "off")], Err(&["choices.test"])),
            ("unknown delivery", "UTC", "8", &[("sla_breached", "weekly")], Err(&["choices.sla_breached"])),
            ("labels are not keys", "UTC", "8", &[("sla_breached", "Off")], Err(&["choices.sla_breached"])),
            (
                "every problem at once",
                "Nowhere",
                "25",
                &[("x", "off"), ("flag_raised", "")],
                Err(&["choices.flag_raised", "choices.x", "digest_hour", "time_zone"]),
            ),
        ];
        for (what, tz, hour, choices, want) in cases {
            let input = PreferencesInput {
                time_zone: tz.to_string(),
                digest_hour: hour.to_string(),
                choices: choices.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            };
            match (input.validate(), want) {
                (Ok(p), Ok(())) => {
                    assert_eq!(p.time_zone.name(), tz.trim(), "{what}");
                    assert_eq!(p.digest_hour.to_string(), hour.trim(), "{what}");
                    assert_eq!(p.choices.len(), choices.len(), "{what}");
                    assert_eq!(PreferencesInput::from(&p).validate(), Ok(p.clone()), "{what}: round trip");
                }
                (Err(errors), Err(fields)) => {
                    assert_eq!(errors.keys().map(String::as_str).collect::<Vec<_>>(), *fields, "{what}");
                    assert!(errors.values().flatten().all(|m| !m.is_empty()), "{what}");
                }
                (got, _) => panic!("{what}: {got:?}"),
            }
        }
        let errors = PreferencesInput {
            time_zone: "UTC".into(),
            digest_hour: "8".into(),
            choices: [("sla_breached".into(), "weekly".into())].into(),
        }
        .validate()
        .unwrap_err();
        assert_eq!(errors["choices.sla_breached"], ["\"weekly\" is not a delivery; expected immediate, digest or off"]);
    }

    #[test]
    fn delivery_by_choice_and_mandate() {
        let prefs = Preferences {
            choices: [(AlertKind::SlaBreached, Delivery::Off), (AlertKind::VersionPublished, Delivery::Digest)].into(),
            ..Preferences::default()
        };
        // (kind, mandatory, delivery)
        let cases: &[(AlertKind, bool, Delivery)] = &[
            (AlertKind::SlaBreached, false, Delivery::Off),
            (AlertKind::SlaBreached, true, Delivery::Immediate),
            (AlertKind::VersionPublished, false, Delivery::Digest),
            (AlertKind::VersionPublished, true, Delivery::Immediate),
            (AlertKind::FlagRaised, false, Delivery::Immediate),
            (AlertKind::Test, false, Delivery::Immediate),
        ];
        for (kind, mandatory, want) in cases {
            assert_eq!(prefs.delivery(*kind, *mandatory), *want, "{kind:?} mandatory={mandatory}");
        }
        assert_eq!(Preferences::default().delivery(AlertKind::ReviewWaiting, false), Delivery::Immediate);
    }

    #[test]
    fn preferences_are_stored_and_read_back() {
        let prefs = Preferences { time_zone: Berlin, digest_hour: 7, choices: [(AlertKind::SyncFailing, Delivery::Digest)].into() };
        let json = serde_json::to_string(&prefs).unwrap();
        assert_eq!(json, r#"{"time_zone":"Europe/Berlin","digest_hour":7,"choices":{"sync_failing":"digest"}}"#);
        assert_eq!(serde_json::from_str::<Preferences>(&json).unwrap(), prefs);
        assert!(serde_json::from_str::<Preferences>(&json.replace("Europe/Berlin", "Mars/Olympus")).is_err());

        assert_eq!(prefs.choices_json(), r#"{"sync_failing":"digest"}"#);
        assert_eq!(Preferences::from_stored("Europe/Berlin", 7, &prefs.choices_json()), prefs);
        // (zone, hour, choices) → what survives
        let cases: &[(&str, i64, &str, Preferences)] = &[
            ("Gone/Zone", 30, "not json", Preferences::default()),
            (
                "UTC",
                -1,
                r#"{"sync_failing":"off","gone_kind":"off","test":"off","flag_raised":"weekly"}"#,
                Preferences { choices: [(AlertKind::SyncFailing, Delivery::Off)].into(), ..Preferences::default() },
            ),
        ];
        for (tz, hour, choices, want) in cases {
            assert_eq!(Preferences::from_stored(tz, *hour, choices), *want, "{tz} {hour} {choices}");
        }
    }

    #[test]
    fn alert_content_travels_as_json() {
        let mut a = item(AlertKind::SlaBreached, "acme/widget #123", "Plan output truncated", "/issues/12");
        a.deadline = Some(at(UTC, "2026-11-24 13:00"));
        let json = serde_json::to_string(&a).unwrap();
        assert!(json.contains(r#""kind":"sla_breached""#), "{json}");
        assert_eq!(serde_json::from_str::<AlertContent>(&json).unwrap(), a);
    }

    const BASE: &str = "https://tracker.example.com";
    const PREFS: &str = "/account/alerts";

    #[test]
    fn subjects() {
        let now = at(UTC, "2026-11-24 08:00");
        let breach = |s: &str, t: &str| item(AlertKind::SlaBreached, s, t, "/issues/12");
        let long = "A very long issue title that keeps going well past what any inbox shows in its subject column, on and on and on";
        let cases: &[(&str, Vec<AlertContent>, bool, Tz, &str)] = &[
            (
                "one item",
                vec![breach("acme/widget #123", "Plan output truncated")],
                false,
                UTC,
                "[SLA breach] acme/widget #123 Plan output truncated",
            ),
            ("no title", vec![breach("Acme Widget", "")], false, UTC, "[SLA breach] Acme Widget"),
            (
                "line breaks flattened",
                vec![breach("acme/widget #123", "Plan\r\noutput\ttruncated")],
                false,
                UTC,
                "[SLA breach] acme/widget #123 Plan output truncated",
            ),
            (
                "long titles cut",
                vec![breach("acme/widget #123", long)],
                false,
                UTC,
                "[SLA breach] acme/widget #123 A very long issue title that keeps going well past what any inbox shows in its subject co…",
            ),
            (
                "two folded",
                vec![breach("acme/widget #123", "a"), breach("acme/widget #124", "b")],
                false,
                UTC,
                "[SLA breach] 2 alerts: acme/widget #123 and acme/widget #124",
            ),
            (
                "three folded",
                vec![breach("acme/widget #123", "a"), breach("acme/widget #124", "b"), breach("acme/widget #125", "c")],
                false,
                UTC,
                "[SLA breach] 3 alerts: acme/widget #123, acme/widget #124 and 1 more",
            ),
            (
                "mixed kinds",
                vec![breach("acme/widget #123", "a"), item(AlertKind::VersionPublished, "Acme Widget", "v1.2.0", "/integrations/3")],
                false,
                UTC,
                "[Alerts] 2 alerts: acme/widget #123 and Acme Widget",
            ),
            ("digest", vec![breach("a", "a"); 5], true, UTC, "[Digest] 5 alerts for Tue 24 Nov 2026"),
            ("digest of one", vec![breach("a", "a")], true, UTC, "[Digest] 1 alert for Tue 24 Nov 2026"),
            ("digest dated in the recipient's zone", vec![breach("a", "a"); 2], true, Los_Angeles, "[Digest] 2 alerts for Tue 24 Nov 2026"),
            (
                "digest dated in the recipient's zone, east",
                vec![breach("a", "a"); 2],
                true,
                chrono_tz::Pacific::Kiritimati,
                "[Digest] 2 alerts for Tue 24 Nov 2026",
            ),
            ("nothing", vec![], false, UTC, "No alerts"),
            ("empty digest", vec![], true, UTC, "[Digest] No alerts for Tue 24 Nov 2026"),
        ];
        for (what, items, digest, tz, want) in cases {
            let email = render_at(items, *tz, BASE, *digest, PREFS, now);
            assert_eq!(email.subject, *want, "{what}");
            assert!(email.subject.chars().count() <= SUBJECT_MAX, "{what}");
            assert!(email.text.ends_with(&format!("Change which alerts you get: {BASE}{PREFS}\n")), "{what}: {}", email.text);
            assert!(email.html.contains(&format!("Change which alerts you get: <a href=\"{BASE}{PREFS}\">")), "{what}");
            assert!(email.html.starts_with("<!DOCTYPE html>") && email.html.ends_with("</html>\n"), "{what}");
            assert!(!email.text.contains('<'), "{what}: plain text has no HTML");
        }
        // Late on the 23rd in Los Angeles is already the 24th in UTC.
        let late = render_at(&[breach("a", "a")], Los_Angeles, BASE, true, PREFS, at(UTC, "2026-11-24 03:00"));
        assert_eq!(late.subject, "[Digest] 1 alert for Mon 23 Nov 2026");
    }

    #[test]
    fn single_alert_body() {
        let mut a = item(AlertKind::SlaBreached, "acme/widget #123", "Plan output truncated", "/issues/12");
        a.deadline = Some(at(UTC, "2026-11-24 13:00"));
        let email = render_at(std::slice::from_ref(&a), Berlin, BASE, false, PREFS, at(UTC, "2026-11-24 14:00"));
        let want = "SLA breached: acme/widget #123 — Plan output truncated\n\
            \n\
            Partner: Acme Corp\n\
            Integration: Acme Widget\n\
            Deadline: Tue 24 Nov 2026, 14:00 CET\n\
            \n\
            The issue passed its deadline without a resolution.\n\
            \n\
            Next step: Resolve it, or mark it as waiting on the reporter.\n\
            \n\
            Open: https://tracker.example.com/issues/12\n\
            \n\
            -- \n\
            Change which alerts you get: https://tracker.example.com/account/alerts\n";
        assert_eq!(email.text, want);
        assert!(email.html.contains("<a href=\"https://tracker.example.com/issues/12\">"), "{}", email.html);
        assert!(email.html.contains("Deadline: Tue 24 Nov 2026, 14:00 CET"));

        // (zone, deadline shown)
        let cases: &[(Tz, &str)] = &[
            (UTC, "Tue 24 Nov 2026, 13:00 UTC"),
            (Berlin, "Tue 24 Nov 2026, 14:00 CET"),
            (Los_Angeles, "Tue 24 Nov 2026, 05:00 PST"),
            (Kolkata, "Tue 24 Nov 2026, 18:30 IST"),
        ];
        for (tz, want) in cases {
            let email = render_at(std::slice::from_ref(&a), *tz, BASE, false, PREFS, at(UTC, "2026-11-24 14:00"));
            assert!(email.text.contains(&format!("Deadline: {want}\n")), "{tz}: {}", email.text);
        }
        assert_eq!(local_time(at(UTC, "2026-07-01 12:00"), Berlin), "Wed 1 Jul 2026, 14:00 CEST");
        // A deadline at the end of chrono's calendar (from a hand-edited row) still renders.
        a.deadline = Some(DateTime::<Utc>::MAX_UTC);
        let email = render_at(&[a.clone()], Kolkata, BASE, true, PREFS, DateTime::<Utc>::MAX_UTC);
        assert!(email.text.contains("Deadline: Mon 31 Dec +262142, 23:59 UTC"), "{}", email.text);
    }

    #[test]
    fn links_are_absolute() {
        // (base URL, link, absolute link)
        let cases: &[(&str, &str, &str)] = &[
            ("https://tracker.example.com", "/issues/12", "https://tracker.example.com/issues/12"),
            ("https://tracker.example.com/", "/issues/12", "https://tracker.example.com/issues/12"),
            ("https://tracker.example.com//", "issues/12", "https://tracker.example.com/issues/12"),
            ("https://example.com/tracker/", "/issues/12", "https://example.com/tracker/issues/12"),
            ("https://tracker.example.com", "https://github.com/acme/widget/issues/123", "https://github.com/acme/widget/issues/123"),
            ("https://tracker.example.com", "javascript:alert(1)", "https://tracker.example.com/javascript:alert(1)"),
        ];
        for (base, link, want) in cases {
            let email =
                render_at(&[item(AlertKind::ReviewWaiting, "Acme Scan", "Review", link)], UTC, base, false, "/account/alerts", Utc::now());
            assert!(email.text.contains(&format!("Open: {want}\n")), "{base} {link}: {}", email.text);
            assert!(email.html.contains(&format!("<a href=\"{}\">", escape_html(want))), "{base} {link}");
        }
        let email = render_at(&[], UTC, "https://t.example.com/", false, "https://t.example.com/account/alerts", Utc::now());
        assert!(email.text.ends_with("Change which alerts you get: https://t.example.com/account/alerts\n"));
    }

    #[test]
    fn html_is_escaped() {
        let mut a = item(AlertKind::FlagRaised, "Acme & Sons", r#"<script>&"'"#, "/flags/1?a=1&b=2");
        a.partner = Some("<b>Acme</b>".into());
        for items in [vec![a.clone()], vec![a.clone(), a.clone()], vec![a.clone(), item(AlertKind::Test, "t", "t", "/")]] {
            for digest in [false, true] {
                let email = render_at(&items, UTC, BASE, digest, PREFS, Utc::now());
                assert!(!email.html.contains("<script>") && !email.html.contains("<b>"), "{}", email.html);
                assert!(email.html.contains("&lt;script&gt;&amp;&quot;&#39;"), "{}", email.html);
                assert!(email.html.contains("Acme &amp; Sons") && email.html.contains("&lt;b&gt;Acme&lt;/b&gt;"));
                assert!(email.html.contains("href=\"https://tracker.example.com/flags/1?a=1&amp;b=2\""));
                assert!(email.text.contains(r#"<script>&"'"#), "plain text is not escaped");
            }
        }
        let cases: &[(&str, &str)] =
            &[("", ""), ("plain", "plain"), ("a < b > c", "a &lt; b &gt; c"), ("Tom's \"A&B\"", "Tom&#39;s &quot;A&amp;B&quot;")];
        for (raw, want) in cases {
            assert_eq!(escape_html(raw), *want);
        }
    }

    #[test]
    fn folded_and_digest_bodies() {
        let items = vec![
            item(AlertKind::VersionPublished, "Acme Widget", "v1.2.0", "/integrations/3"),
            item(AlertKind::SlaBreached, "acme/widget #123", "Plan output truncated", "/issues/12"),
            item(AlertKind::SlaBreached, "acme/widget #124", "Crash on apply", "/issues/13"),
        ];
        let folded = render_at(&items[1..], UTC, BASE, false, PREFS, Utc::now());
        for link in ["https://tracker.example.com/issues/12", "https://tracker.example.com/issues/13"] {
            assert!(folded.text.contains(link) && folded.html.contains(&format!("href=\"{link}\"")), "{link}");
        }
        assert!(folded.text.starts_with("SLA breached: 2 alerts\n\n- acme/widget #123 — Plan output truncated\n"), "{}", folded.text);

        let digest = render_at(&items, UTC, BASE, true, PREFS, Utc::now());
        // Grouped by kind, kinds in their declared order whatever the items' order.
        let breach = digest.text.find("SLA breached (2)").unwrap();
        let version = digest.text.find("New provider version published (1)").unwrap();
        assert!(breach < version, "{}", digest.text);
        assert!(digest.html.contains("<h2>SLA breached (2)</h2>"));
        assert_eq!(digest.html.matches("<li>").count(), 3);
    }

    #[test]
    fn dedupe_keys() {
        let cases: &[(AlertKind, &str, &str, &str, &str)] = &[
            (
                AlertKind::SlaBreached,
                "issue:12",
                "2026-11-24T13:00:00Z",
                "Jane@Example.COM",
                "sla_breached:issue:12:2026-11-24T13:00:00Z:jane@example.com",
            ),
            (
                AlertKind::VersionPublished,
                "integration:3",
                "1.2.0",
                "  ops@acme.io \n",
                "version_published:integration:3:1.2.0:ops@acme.io",
            ),
        ];
        for (kind, subject, discriminator, recipient, want) in cases {
            assert_eq!(dedupe_key(*kind, subject, discriminator, recipient), *want);
        }
        assert_eq!(
            dedupe_key(AlertKind::Test, "user:1", "x", "A@B.CO"),
            dedupe_key(AlertKind::Test, "user:1", "x", "a@b.co"),
            "the same person twice is one row"
        );
    }

    #[test]
    fn emails() {
        let long_local = format!("{}@example.com", "a".repeat(242));
        let too_long = format!("{}@example.com", "a".repeat(243));
        let cases: &[(&str, bool)] = &[
            ("a@b.co", true),
            ("first.last+tag@example.com", true),
            ("x@sub.example.org", true),
            (&long_local, true),
            (&too_long, false),
            ("", false),
            ("plain", false),
            ("a@b", false),
            ("@b.co", false),
            ("a@", false),
            ("a@.co", false),
            ("a@b.", false),
            ("a@b..co", false),
            ("a@b@c.co", false),
            ("a b@c.co", false),
            ("a@b.co ", false),
            ("a\t@b.co", false),
            ("a@b.co\r\nBcc: x@y.z", false),
            ("a@b\u{0}.co", false),
            ("<a@b.co>", false),
            ("a@b.co,c@d.ef", false),
        ];
        for (s, want) in cases {
            assert_eq!(valid_email(s), *want, "{s:?}");
        }
    }
}
