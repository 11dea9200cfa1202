//! The support SLA clock and compliance (`shared/spec/program.md`, "The
//! support SLA"): when an issue is due, when to warn, whether it is on track,
//! breached, met or missed, and how a partner did over a rolling window.
//! Pure and shared with the browser, which shows the same countdowns.
//!
//! The rules, as counted here:
//! - **critical**: due 48 clock hours after opening, weekends and holidays included;
//! - **normal** (everything else): due when 5 × 24 hours of *business time* have run.
//!   Business time is real time inside local business days — Monday to Friday, not a
//!   holiday, each from local midnight to the next local midnight in the program's time
//!   zone — so a day with a daylight-saving switch counts 23 or 25 real hours.
//! - time counts only while the issue is open (a reopened issue resumes with the time it
//!   already used) and not paused ("waiting on reporter");
//! - the *current* severity decides the target, counted from the original opening.
//!
//! The API:
//! - [`Calendar`] — time zone and holidays, built once and shared by every evaluation:
//!   [`Calendar::business_between`], [`Calendar::add_business`];
//! - [`evaluate`] — an issue's [`Clock`] (due and warning instants, [`ClockState`], time
//!   used and left) under a [`Policy`];
//! - [`compliance`] and [`weekly_trend`] — roll-ups of resolved issues ([`Outcome`]).
//!
//! Boundaries, decided once: an instant "is reached" at the *earliest* moment the counted
//! time equals the threshold (an issue opened Monday 00:00 is due at Friday 24:00, shown as
//! Saturday 00:00). An open issue is `DueSoon` from `warn_at` inclusive and `Breached` from
//! `due_at` inclusive; a resolved one is `Met` when it used at most its target, so
//! resolving exactly at `due_at` meets the SLA.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::ops::RangeInclusive;

crate::domain::catalog::vocabulary!(
    /// Which target applies: critical issues count clock hours, the others business time.
    Severity {
        Critical => ("critical", "Critical"),
        Normal => ("normal", "Normal"),
    }
);

crate::domain::catalog::vocabulary!(
    /// Where an issue stands against its deadline. Open issues are on track, due soon or
    /// breached; resolved ones met or missed their target.
    ClockState {
        OnTrack => ("on_track", "On track"),
        DueSoon => ("due_soon", "Due soon"),
        Breached => ("breached", "Breached"),
        Met => ("met", "Met"),
        Missed => ("missed", "Missed"),
    }
);

/// A period `[start, end)`; `end: None` means it has not ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

/// The program's targets and how early to warn. Normal targets and warnings are business
/// time, critical ones clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub critical_target: Duration,
    pub normal_target: Duration,
    /// Warn when this much clock time is left.
    pub critical_warn: Duration,
    /// Warn when this much business time is left.
    pub normal_warn: Duration,
}

impl Default for Policy {
    /// The program's rules: 48 hours, 5 business days, warnings a day ahead.
    fn default() -> Self {
        Policy {
            critical_target: Duration::hours(48),
            normal_target: Duration::hours(5 * 24),
            critical_warn: Duration::hours(24),
            normal_warn: Duration::hours(24),
        }
    }
}

impl Policy {
    pub fn target(&self, severity: Severity) -> Duration {
        match severity {
            Severity::Critical => self.critical_target,
            Severity::Normal => self.normal_target,
        }
    }

    pub fn warn(&self, severity: Severity) -> Duration {
        match severity {
            Severity::Critical => self.critical_warn,
            Severity::Normal => self.normal_warn,
        }
    }
}

/// What the clock needs to know about one issue. `open` holds its open periods (one per
/// reopening; the last has no end while the issue is open), `paused` the periods it waited
/// on the reporter. Periods may come unsorted or overlapping; they are tidied first.
#[derive(Debug, Clone, Copy)]
pub struct IssueClock<'a> {
    pub severity: Severity,
    pub open: &'a [Span],
    pub paused: &'a [Span],
}

/// An issue's clock at a moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clock {
    /// When the counted time reaches the target: in the past if it already did, otherwise
    /// projected as if the issue stayed open and unpaused from now (or, once resolved, from
    /// its resolution, so the deadline it had can still be shown).
    pub due_at: DateTime<Utc>,
    /// When the counted time reaches the target less the warning, projected the same way.
    pub warn_at: DateTime<Utc>,
    pub state: ClockState,
    /// Counted time up to now, or up to the resolution.
    pub used: Duration,
    /// Target less `used`; negative once breached.
    pub left: Duration,
    /// Open and inside a pause right now.
    pub paused: bool,
    /// The end of the last open period, if it has one.
    pub resolved_at: Option<DateTime<Utc>>,
}

// ---------------------------------------------------------------------------
// The calendar
// ---------------------------------------------------------------------------

/// Years precomputed by [`Calendar::new`]; instants outside them are still counted, by
/// walking day by day.
pub const DEFAULT_YEARS: RangeInclusive<i32> = 2000..=2100;

/// No business time exists before this year or from this year on: it bounds the day
/// walk, so absurd inputs (year 1, year 9999) cost a bounded time and never overflow.
const FIRST_YEAR: i32 = 1970;
const END_YEAR: i32 = 2200;

/// The years the SLA clock counts in: what dates typed for it may be.
pub const YEARS: std::ops::Range<i32> = FIRST_YEAR..END_YEAR;

/// [`YEARS`] as forms say it: "1970–2199".
pub fn years_label() -> String {
    format!("{}–{}", YEARS.start, YEARS.end - 1)
}

/// Consecutive business days as one stretch of UTC seconds, with the business seconds of
/// all earlier stretches: counting is then a search among stretches, not a walk over days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    start: i64,
    end: i64,
    before: i64,
}

impl Run {
    fn after(&self) -> i64 {
        self.before + (self.end - self.start)
    }
}

const WEEK: i64 = 7 * 86_400;
const BUSINESS_WEEK: i64 = 5 * 86_400;

/// The stretches of the precomputed years with two bucket indexes, so that each search is
/// a lookup and a scan of a stretch or two rather than a binary search over thousands
/// (100,000 clocks must take well under 50 ms).
#[derive(Debug, Clone, Default)]
struct Runs {
    runs: Vec<Run>,
    /// Unix seconds the weeks of `by_time` count from.
    origin: i64,
    /// `by_time[w]`: how many stretches start at or before `origin + w` weeks.
    by_time: Vec<u32>,
    /// `by_business[v]`: how many stretches end before `v` business weeks have run.
    by_business: Vec<u32>,
}

impl Runs {
    fn new(runs: Vec<Run>, origin: i64, horizon: i64) -> Self {
        let mut i = 0;
        let by_time = (0..=(horizon - origin).max(0) / WEEK + 1)
            .map(|w| {
                let edge = origin + w * WEEK;
                while runs.get(i).is_some_and(|r| r.start <= edge) {
                    i += 1;
                }
                i as u32
            })
            .collect();
        let total = runs.last().map_or(0, Run::after);
        let mut k = 0;
        let by_business = (0..=total / BUSINESS_WEEK + 1)
            .map(|v| {
                while runs.get(k).is_some_and(|r| r.after() < v * BUSINESS_WEEK) {
                    k += 1;
                }
                k as u32
            })
            .collect();
        Runs { runs, origin, by_time, by_business }
    }

    /// `runs.partition_point(|r| r.start <= ts)`, through the index.
    fn started_by(&self, ts: i64) -> usize {
        let Ok(w) = usize::try_from((ts - self.origin).max(0) / WEEK) else { return self.runs.len() };
        let bound = |w: usize| self.by_time.get(w).map_or(self.runs.len(), |&n| n as usize);
        let (from, to) = (bound(w), bound(w + 1));
        from + self.runs.get(from..to).map_or(0, |slice| slice.partition_point(|r| r.start <= ts))
    }

    /// `runs.partition_point(|r| r.after() < secs)`, through the index.
    fn ended_before(&self, secs: i64) -> usize {
        let Ok(v) = usize::try_from(secs.max(0) / BUSINESS_WEEK) else { return self.runs.len() };
        let bound = |v: usize| self.by_business.get(v).map_or(self.runs.len(), |&n| n as usize);
        let (from, to) = (bound(v), bound(v + 1));
        from + self.runs.get(from..to).map_or(0, |slice| slice.partition_point(|r| r.after() < secs))
    }
}

/// The program's business days: a time zone and holidays (local dates). Built once — it
/// precomputes the business stretches of [`DEFAULT_YEARS`] (about 5,300 stretches, a
/// millisecond or two) — and then answers each question with an index lookup, without
/// time-zone work.
#[derive(Clone)]
pub struct Calendar {
    tz: Tz,
    holidays: Vec<NaiveDate>,
    runs: Runs,
    /// The precomputed range `[lo, hi)`: local midnights of its first and last-plus-one day.
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
    years: RangeInclusive<i32>,
}

impl std::fmt::Debug for Calendar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Calendar")
            .field("tz", &self.tz)
            .field("holidays", &self.holidays.len())
            .field("years", &self.years)
            .field("runs", &self.runs.runs.len())
            .finish()
    }
}

impl Default for Calendar {
    /// UTC without holidays, the program's default.
    fn default() -> Self {
        Calendar::new(Tz::UTC, [])
    }
}

impl Calendar {
    pub fn new(tz: Tz, holidays: impl IntoIterator<Item = NaiveDate>) -> Self {
        Calendar::with_years(tz, holidays, DEFAULT_YEARS)
    }

    /// A calendar precomputing only `years` (clamped to 1970–2199); other instants are
    /// counted by the slower day walk.
    pub fn with_years(tz: Tz, holidays: impl IntoIterator<Item = NaiveDate>, years: RangeInclusive<i32>) -> Self {
        let mut holidays: Vec<NaiveDate> = holidays.into_iter().collect();
        holidays.sort_unstable();
        holidays.dedup();
        let first = (*years.start()).clamp(FIRST_YEAR, END_YEAR);
        let end = years.end().saturating_add(1).clamp(first, END_YEAR);
        let mut calendar =
            Calendar { tz, holidays, runs: Runs::default(), lo: year_start(tz, first), hi: year_start(tz, end), years: first..=end - 1 };
        calendar.runs = Runs::new(calendar.build_runs(first, end), calendar.lo.timestamp(), calendar.hi.timestamp());
        calendar
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The holidays, sorted.
    pub fn holidays(&self) -> &[NaiveDate] {
        &self.holidays
    }

    /// Monday to Friday and not a holiday.
    pub fn is_business_day(&self, date: NaiveDate) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && self.holidays.binary_search(&date).is_err()
    }

    /// Business time in `[a, b)`; zero when `b <= a`.
    pub fn business_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        let (a, b) = (clamp_instant(a), clamp_instant(b));
        if b <= a {
            return Duration::zero();
        }
        let mut total = Duration::zero();
        if a < self.lo {
            total += self.reference_between(a, b.min(self.lo));
        }
        let (fa, fb) = (a.clamp(self.lo, self.hi), b.clamp(self.lo, self.hi));
        if fa < fb {
            total += self.upto(fb) - self.upto(fa);
        }
        if b > self.hi {
            total += self.reference_between(a.max(self.hi), b);
        }
        total
    }

    /// The earliest instant at which `d` of business time has run since `from`; `from`
    /// itself when `d` is not positive. Saturates at the year 2200.
    pub fn add_business(&self, from: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
        if d <= Duration::zero() {
            return from;
        }
        let (mut from, mut d) = (clamp_instant(from), d);
        if from < self.lo {
            match self.walk(from, d, self.lo) {
                Ok(t) => return t,
                Err(rest) => (from, d) = (self.lo, rest),
            }
        }
        if from < self.hi {
            let total = Duration::seconds(self.runs.runs.last().map_or(0, Run::after));
            let target = self.upto(from).checked_add(&d).unwrap_or(Duration::MAX);
            if let Some(t) = self.reach(target) {
                return t;
            }
            (from, d) = (self.hi, target - total);
        }
        self.walk(from, d, ceiling()).unwrap_or_else(|_| ceiling())
    }

    /// Business time in `[lo, t)`, for `t` in `[lo, hi]`.
    fn upto(&self, t: DateTime<Utc>) -> Duration {
        let ts = t.timestamp();
        let i = self.runs.started_by(ts);
        let Some(run) = i.checked_sub(1).and_then(|k| self.runs.runs.get(k)) else {
            return Duration::zero();
        };
        if run.end <= ts {
            Duration::seconds(run.after())
        } else {
            // Instants may carry fractions of a second; stretches start on whole seconds.
            Duration::seconds(run.before + (ts - run.start)) + Duration::nanoseconds(i64::from(t.timestamp_subsec_nanos()))
        }
    }

    /// The earliest instant in `[lo, hi]` with `upto(t) >= target`, for a positive target.
    fn reach(&self, target: Duration) -> Option<DateTime<Utc>> {
        // Stretches end on whole seconds: `after < target` ⇔ `after < ⌈target⌉`.
        let whole = target.num_seconds() + i64::from(target.subsec_nanos() > 0);
        let run = self.runs.runs.get(self.runs.ended_before(whole))?;
        from_seconds(run.start).checked_add_signed(target - Duration::seconds(run.before))
    }

    fn build_runs(&self, first_year: i32, end_year: i32) -> Vec<Run> {
        let (Some(mut day), Some(end)) = (NaiveDate::from_ymd_opt(first_year, 1, 1), NaiveDate::from_ymd_opt(end_year, 1, 1)) else {
            return Vec::new();
        };
        let mut runs: Vec<Run> = Vec::with_capacity(((end_year - first_year).max(0) as usize) * 53);
        let mut before = 0;
        let mut push = |start: i64, end: i64| {
            // A day skipped whole (Samoa, 30 December 2011) starts and ends at one instant.
            if end > start {
                runs.push(Run { start, end, before });
                before += end - start;
            }
        };
        let mut open: Option<i64> = None;
        while day < end {
            match (self.is_business_day(day), open) {
                (true, None) => open = Some(day_start(self.tz, day).timestamp()),
                (false, Some(start)) => {
                    push(start, day_start(self.tz, day).timestamp());
                    open = None;
                }
                _ => {}
            }
            let Some(next) = day.succ_opt() else { break };
            day = next;
        }
        if let Some(start) = open {
            push(start, day_start(self.tz, end).timestamp());
        }
        runs
    }

    // -- the reference: a plain walk over local days, used outside the precomputed years
    //    and as the yardstick the fast path is tested against.

    /// Business time in `[a, b)`, day by day.
    fn reference_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        let (a, b) = (clamp_instant(a), clamp_instant(b));
        let mut total = Duration::zero();
        let mut day = self.day_of(a);
        while let Some(next) = day.succ_opt() {
            let (start, end) = (day_start(self.tz, day), day_start(self.tz, next));
            if start >= b {
                break;
            }
            let (from, to) = (start.max(a), end.min(b));
            if self.is_business_day(day) && to > from {
                total += to - from;
            }
            day = next;
        }
        total
    }

    /// [`Calendar::add_business`], day by day.
    #[cfg_attr(not(test), allow(dead_code))]
    fn reference_add(&self, from: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
        if d <= Duration::zero() {
            return from;
        }
        self.walk(clamp_instant(from), d, ceiling()).unwrap_or_else(|_| ceiling())
    }

    /// Walks local days from `from` until `d` (positive) of business time has run: `Ok`
    /// with that instant, or `Err` with what is left on reaching `stop`.
    fn walk(&self, from: DateTime<Utc>, d: Duration, stop: DateTime<Utc>) -> Result<DateTime<Utc>, Duration> {
        let mut left = d;
        let mut day = self.day_of(from);
        while let Some(next) = day.succ_opt() {
            let start = day_start(self.tz, day);
            if start >= stop {
                break;
            }
            let end = day_start(self.tz, next).min(stop);
            let begin = start.max(from);
            if self.is_business_day(day) && end > begin {
                let available = end - begin;
                if left <= available {
                    return begin.checked_add_signed(left).ok_or(left);
                }
                left -= available;
            }
            if end >= stop {
                break;
            }
            day = next;
        }
        Err(left)
    }

    /// The local day whose `[day_start, next day_start)` holds `t`. Usually `t`'s local
    /// date; the adjustments cover clocks set back across midnight.
    fn day_of(&self, t: DateTime<Utc>) -> NaiveDate {
        let naive = t.naive_utc();
        let offset = self.tz.offset_from_utc_datetime(&naive).fix();
        let mut day = naive.checked_add_offset(offset).unwrap_or(naive).date();
        while day_start(self.tz, day) > t {
            match day.pred_opt() {
                Some(prev) => day = prev,
                None => break,
            }
        }
        while let Some(next) = day.succ_opt() {
            if day_start(self.tz, next) > t {
                break;
            }
            day = next;
        }
        day
    }
}

/// The instant a local day begins: its midnight, the earlier one if clocks were set back
/// over midnight, or — when clocks jumped forward over midnight (Cairo, last Friday of
/// April) — the end of that gap, the first instant whose local date is `date`.
fn day_start(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_time(NaiveTime::MIN);
    if let Some(t) = tz.from_local_datetime(&midnight).earliest() {
        return t.with_timezone(&Utc);
    }
    // In the gap: find the first local minute that exists (a gap may swallow a whole day),
    // then step back to the second the gap ends.
    for minutes in 1..=48 * 60 {
        let Some(later) = midnight.checked_add_signed(Duration::minutes(minutes)) else { break };
        if let Some(t) = tz.from_local_datetime(&later).earliest() {
            let mut t = t.with_timezone(&Utc);
            for _ in 0..60 {
                let prev = t - Duration::seconds(1);
                if local_naive(tz, prev) < midnight {
                    break;
                }
                t = prev;
            }
            return t;
        }
    }
    Utc.from_utc_datetime(&midnight)
}

fn local_naive(tz: Tz, t: DateTime<Utc>) -> NaiveDateTime {
    let naive = t.naive_utc();
    naive.checked_add_offset(tz.offset_from_utc_datetime(&naive).fix()).unwrap_or(naive)
}

fn year_start(tz: Tz, year: i32) -> DateTime<Utc> {
    match NaiveDate::from_ymd_opt(year, 1, 1) {
        Some(date) => day_start(tz, date),
        None => ceiling(),
    }
}

/// 1970-01-01 and 2200-01-01, 00:00 UTC, in Unix seconds.
const FLOOR_SECONDS: i64 = 0;
const CEILING_SECONDS: i64 = 7_258_118_400;

fn ceiling() -> DateTime<Utc> {
    from_seconds(CEILING_SECONDS)
}

/// Business time only exists between 1970 and 2200 (UTC); keeping instants there keeps
/// every date computation far from chrono's limits.
fn clamp_instant(t: DateTime<Utc>) -> DateTime<Utc> {
    match t.timestamp() {
        s if s < FLOOR_SECONDS => from_seconds(FLOOR_SECONDS),
        s if s >= CEILING_SECONDS => ceiling(),
        _ => t,
    }
}

fn from_seconds(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(s, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

// ---------------------------------------------------------------------------
// The clock
// ---------------------------------------------------------------------------

/// How time is counted for a severity.
#[derive(Clone, Copy)]
enum Measure<'a> {
    Clock,
    Business(&'a Calendar),
}

impl Measure<'_> {
    fn between(self, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        match self {
            Measure::Clock => (b - a).max(Duration::zero()),
            Measure::Business(calendar) => calendar.business_between(a, b),
        }
    }

    fn add(self, from: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
        match self {
            Measure::Clock => from.checked_add_signed(d.max(Duration::zero())).unwrap_or(DateTime::<Utc>::MAX_UTC),
            Measure::Business(calendar) => calendar.add_business(from, d),
        }
    }
}

/// The clock of one issue at `now`. An issue without any open period is taken as opened
/// at `now` (it cannot happen with stored issues; it must not panic either).
pub fn evaluate(issue: &IssueClock<'_>, calendar: &Calendar, policy: &Policy, now: DateTime<Utc>) -> Clock {
    let opened_now = [Span { start: now, end: None }];
    let open = tidy(if issue.open.is_empty() { &opened_now } else { issue.open });
    let paused = tidy(issue.paused);
    let (first, last) = match (open.first(), open.last()) {
        (Some(first), Some(last)) => (*first, *last),
        _ => (opened_now[0], opened_now[0]),
    };
    let measure = match issue.severity {
        Severity::Critical => Measure::Clock,
        Severity::Normal => Measure::Business(calendar),
    };
    let zero = Duration::zero();
    let target = policy.target(issue.severity).max(zero);
    let warn_threshold = target.checked_sub(&policy.warn(issue.severity)).unwrap_or(zero).clamp(zero, target);

    let resolved_at = last.end;
    let cut = resolved_at.unwrap_or(now);
    // A threshold of zero is reached the moment the issue opened.
    let mut due_at = (target <= zero).then_some(first.start);
    let mut warn_at = (warn_threshold <= zero).then_some(first.start);
    let mut used = zero;
    for_each_counting(&open, &paused, cut, |a, b| {
        let reached = used.checked_add(&measure.between(a, b)).unwrap_or(Duration::MAX);
        for (threshold, at) in [(target, &mut due_at), (warn_threshold, &mut warn_at)] {
            if at.is_none() && reached >= threshold {
                *at = Some(measure.add(a, threshold - used));
            }
        }
        used = reached;
    });
    // Not reached yet: project as if the clock ran from now (or from the resolution) on.
    let resume = cut.max(last.start);
    let due_at = due_at.unwrap_or_else(|| measure.add(resume, target - used));
    let warn_at = warn_at.unwrap_or_else(|| measure.add(resume, warn_threshold - used));

    let state = match resolved_at {
        Some(_) if used <= target => ClockState::Met,
        Some(_) => ClockState::Missed,
        None if now >= due_at => ClockState::Breached,
        None if now >= warn_at => ClockState::DueSoon,
        None => ClockState::OnTrack,
    };
    let paused = resolved_at.is_none() && issue.paused.iter().any(|p| p.start <= now && p.end.is_none_or(|e| now < e));
    Clock { due_at, warn_at, state, used, left: target.checked_sub(&used).unwrap_or(Duration::MIN), paused, resolved_at }
}

/// Periods sorted by start with overlapping or touching ones merged; an end before its
/// start counts as an empty period. Already tidy input (the usual case) is not copied.
fn tidy(spans: &[Span]) -> Cow<'_, [Span]> {
    let ordered =
        spans.iter().all(|s| s.end.is_none_or(|e| e >= s.start)) && spans.windows(2).all(|w| w[0].end.is_some_and(|e| e <= w[1].start));
    if ordered {
        return Cow::Borrowed(spans);
    }
    let mut sorted: Vec<Span> = spans.iter().map(|s| Span { start: s.start, end: s.end.map(|e| e.max(s.start)) }).collect();
    sorted.sort_by_key(|s| s.start);
    let mut merged: Vec<Span> = Vec::with_capacity(sorted.len());
    for span in sorted {
        match merged.last_mut() {
            Some(prev) if prev.end.is_none_or(|e| span.start <= e) => {
                prev.end = match (prev.end, span.end) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
            }
            _ => merged.push(span),
        }
    }
    Cow::Owned(merged)
}

/// Calls `f` with each stretch `[a, b)` before `cut` during which the issue was open and
/// not paused, in order. Both lists must be tidy.
fn for_each_counting(open: &[Span], paused: &[Span], cut: DateTime<Utc>, mut f: impl FnMut(DateTime<Utc>, DateTime<Utc>)) {
    let mut first_pause = 0;
    for span in open {
        let end = span.end.map_or(cut, |e| e.min(cut));
        let mut from = span.start;
        while paused.get(first_pause).is_some_and(|p| p.end.is_some_and(|e| e <= from)) {
            first_pause += 1;
        }
        let mut k = first_pause;
        while from < end {
            match paused.get(k) {
                Some(pause) if pause.start < end => {
                    if pause.start > from {
                        f(from, pause.start);
                    }
                    match pause.end {
                        Some(e) => from = from.max(e),
                        None => break,
                    }
                    k += 1;
                }
                _ => {
                    f(from, end);
                    break;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Compliance
// ---------------------------------------------------------------------------

/// What compliance needs of an issue: its state as [`evaluate`] last said it and, once
/// resolved, the counted time it took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub severity: Severity,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub state: ClockState,
    /// Counted time used at resolution.
    pub resolve_time: Option<Duration>,
}

/// Compliance figures of one set of issues. Times to resolve are whole seconds (counted
/// time, so business time for normal issues), percentiles by nearest rank.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Resolved within the window.
    pub resolved: u32,
    /// Of those, resolved within their SLA (`Met`).
    pub within_sla: u32,
    /// `within_sla` in percent of `resolved` (0–100); `None` when nothing was resolved.
    pub percent: Option<f64>,
    /// Open and breached, whenever opened.
    pub open_breaches: u32,
    pub median_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
}

/// Compliance over a window, overall and per severity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Compliance {
    pub resolved: u32,
    pub within_sla: u32,
    pub percent: Option<f64>,
    pub open_breaches: u32,
    pub median_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
    pub critical: Figures,
    pub normal: Figures,
}

impl Compliance {
    /// The figures of one severity.
    pub fn of(&self, severity: Severity) -> &Figures {
        match severity {
            Severity::Critical => &self.critical,
            Severity::Normal => &self.normal,
        }
    }
}

/// Collects one set of figures.
#[derive(Default)]
struct Tally {
    resolved: u32,
    within_sla: u32,
    open_breaches: u32,
    times: Vec<i64>,
}

impl Tally {
    fn add(&mut self, o: &Outcome, window_start: DateTime<Utc>, now: DateTime<Utc>) {
        match o.resolved_at {
            Some(at) if window_start <= at && at <= now => {
                self.resolved += 1;
                if o.state == ClockState::Met {
                    self.within_sla += 1;
                }
                if let Some(t) = o.resolve_time {
                    self.times.push(t.num_seconds());
                }
            }
            Some(_) => {}
            None if o.state == ClockState::Breached => self.open_breaches += 1,
            None => {}
        }
    }

    fn figures(mut self) -> Figures {
        self.times.sort_unstable();
        Figures {
            resolved: self.resolved,
            within_sla: self.within_sla,
            percent: percent(self.within_sla, self.resolved),
            open_breaches: self.open_breaches,
            median_seconds: nearest_rank(&self.times, 50),
            p90_seconds: nearest_rank(&self.times, 90),
        }
    }
}

fn percent(part: u32, whole: u32) -> Option<f64> {
    (whole > 0).then(|| f64::from(part) * 100.0 / f64::from(whole))
}

/// The `p`th percentile of sorted values by the nearest-rank method: the value at rank
/// ⌈p/100 × n⌉ (1-based). Always one of the values; the median of an even count is the
/// lower middle one.
fn nearest_rank(sorted: &[i64], p: usize) -> Option<i64> {
    let n = sorted.len();
    let rank = (p * n).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// Compliance of the issues resolved within `[window_start, now]` (both ends included);
/// open breaches count whenever the issue was opened. An issue is within its SLA when its
/// outcome state is `Met`.
pub fn compliance<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>, window_start: DateTime<Utc>, now: DateTime<Utc>) -> Compliance {
    let (mut all, mut critical, mut normal) = (Tally::default(), Tally::default(), Tally::default());
    for o in outcomes {
        all.add(o, window_start, now);
        match o.severity {
            Severity::Critical => critical.add(o, window_start, now),
            Severity::Normal => normal.add(o, window_start, now),
        }
    }
    let all = all.figures();
    Compliance {
        resolved: all.resolved,
        within_sla: all.within_sla,
        percent: all.percent,
        open_breaches: all.open_breaches,
        median_seconds: all.median_seconds,
        p90_seconds: all.p90_seconds,
        critical: critical.figures(),
        normal: normal.figures(),
    }
}

/// One week of a compliance trend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeekPoint {
    /// The Monday the week starts on (UTC).
    pub week_start: NaiveDate,
    pub resolved: u32,
    pub within_sla: u32,
    pub percent: Option<f64>,
}

/// The most weeks a trend shows (ten years).
pub const MAX_TREND_WEEKS: u32 = 520;

/// Issues resolved per UTC week (Monday 00:00 to Monday 00:00), oldest first: `weeks`
/// weeks (at most [`MAX_TREND_WEEKS`]) ending with the week that holds `now`, whose
/// figures run up to `now`.
pub fn weekly_trend<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>, weeks: u32, now: DateTime<Utc>) -> Vec<WeekPoint> {
    let weeks = weeks.min(MAX_TREND_WEEKS);
    let today = now.date_naive();
    let this_monday = today - chrono::Days::new(u64::from(today.weekday().num_days_from_monday()));
    let Some(first_monday) = this_monday.checked_sub_days(chrono::Days::new(7 * u64::from(weeks.saturating_sub(1)))) else {
        return Vec::new();
    };
    let mut points: Vec<WeekPoint> = (0..weeks)
        .filter_map(|i| first_monday.checked_add_days(chrono::Days::new(7 * u64::from(i))))
        .map(|week_start| WeekPoint { week_start, resolved: 0, within_sla: 0, percent: None })
        .collect();
    for o in outcomes {
        let Some(at) = o.resolved_at.filter(|at| *at <= now) else { continue };
        let days = (at.date_naive() - first_monday).num_days();
        if days < 0 {
            continue;
        }
        if let Some(point) = usize::try_from(days / 7).ok().and_then(|i| points.get_mut(i)) {
            point.resolved += 1;
            if o.state == ClockState::Met {
                point.within_sla += 1;
            }
        }
    }
    for point in &mut points {
        point.percent = percent(point.within_sla, point.resolved);
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{Africa::Cairo, America::Los_Angeles, America::New_York, Asia::Kolkata, Europe::Berlin, Pacific::Auckland, UTC};
    use ClockState::*;
    use Severity::*;

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

    fn utc(s: &str) -> DateTime<Utc> {
        at(UTC, s)
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn spans(tz: Tz, periods: &[(&str, Option<&str>)]) -> Vec<Span> {
        periods.iter().map(|(start, end)| Span { start: at(tz, start), end: end.map(|e| at(tz, e)) }).collect()
    }

    fn hm(d: Duration) -> String {
        let sign = if d < Duration::zero() { "-" } else { "" };
        let s = d.num_seconds().abs();
        format!("{sign}{}h{:02}m{:02}s", s / 3600, s % 3600 / 60, s % 60)
    }

    /// One clock case: times are local to `tz` unless they end in "Z".
    struct Case {
        what: &'static str,
        tz: Tz,
        holidays: &'static [&'static str],
        severity: Severity,
        /// Warning offsets in hours: (critical, normal).
        warn_hours: (i64, i64),
        open: &'static [(&'static str, Option<&'static str>)],
        paused: &'static [(&'static str, Option<&'static str>)],
        now: &'static str,
        due: &'static str,
        warn: &'static str,
        state: ClockState,
        paused_now: bool,
        used: Duration,
    }

    const BASE: Case = Case {
        what: "",
        tz: UTC,
        holidays: &[],
        severity: Normal,
        warn_hours: (24, 24),
        open: &[],
        paused: &[],
        now: "",
        due: "",
        warn: "",
        state: OnTrack,
        paused_now: false,
        used: Duration::zero(),
    };

    const H: fn(i64) -> Duration = Duration::hours;

    // The week of Monday 2 March 2026 (UTC unless said otherwise): Mon 2, Tue 3, Wed 4,
    // Thu 5, Fri 6, Sat 7, Sun 8, Mon 9, ... Fri 13, Sat 14.
    const CASES: &[Case] = &[
        // -- normal issues, UTC, no holidays
        Case {
            what: "opened Wed 14:00 → due next Wed 14:00, warned Tue 14:00",
            open: &[("2026-03-04 14:00", None)],
            now: "2026-03-05 09:00",
            due: "2026-03-11 14:00",
            warn: "2026-03-10 14:00",
            used: Duration::hours(19),
            ..BASE
        },
        Case {
            what: "opened Mon 00:00 → due at the end of Friday (Sat 00:00)",
            open: &[("2026-03-02 00:00", None)],
            now: "2026-03-02 12:00",
            due: "2026-03-07 00:00",
            warn: "2026-03-06 00:00",
            used: Duration::hours(12),
            ..BASE
        },
        Case {
            what: "opened Sat 10:00 → counting starts Mon 00:00",
            open: &[("2026-03-07 10:00", None)],
            now: "2026-03-08 20:00",
            due: "2026-03-14 00:00",
            warn: "2026-03-13 00:00",
            used: Duration::zero(),
            ..BASE
        },
        Case {
            what: "opened Sun 23:00 → counting starts Mon 00:00",
            open: &[("2026-03-08 23:00", None)],
            now: "2026-03-09 01:00",
            due: "2026-03-14 00:00",
            warn: "2026-03-13 00:00",
            used: Duration::hours(1),
            ..BASE
        },
        Case {
            what: "opened Fri 18:00 → six hours count on Friday, due next Fri 18:00",
            open: &[("2026-03-06 18:00", None)],
            now: "2026-03-09 00:00",
            due: "2026-03-13 18:00",
            warn: "2026-03-12 18:00",
            used: Duration::hours(6),
            ..BASE
        },
        Case {
            what: "opened Fri 23:59 → one minute counts, due next Fri 23:59",
            open: &[("2026-03-06 23:59", None)],
            now: "2026-03-07 12:00",
            due: "2026-03-13 23:59",
            warn: "2026-03-12 23:59",
            used: Duration::minutes(1),
            ..BASE
        },
        // -- holidays
        Case {
            what: "holiday the next Monday → due a day later, Thu 14:00",
            holidays: &["2026-03-09"],
            open: &[("2026-03-04 14:00", None)],
            now: "2026-03-05 09:00",
            due: "2026-03-12 14:00",
            warn: "2026-03-11 14:00",
            used: Duration::hours(19),
            ..BASE
        },
        Case {
            what: "holiday on the Friday after opening → due Thu 14:00",
            holidays: &["2026-03-06"],
            open: &[("2026-03-04 14:00", None)],
            now: "2026-03-06 12:00",
            due: "2026-03-12 14:00",
            warn: "2026-03-11 14:00",
            used: Duration::hours(34),
            ..BASE
        },
        Case {
            what: "holiday the week before opening changes nothing",
            holidays: &["2026-02-23"],
            open: &[("2026-03-04 14:00", None)],
            now: "2026-03-05 09:00",
            due: "2026-03-11 14:00",
            warn: "2026-03-10 14:00",
            used: Duration::hours(19),
            ..BASE
        },
        Case {
            what: "holiday on a Saturday changes nothing",
            holidays: &["2026-03-07"],
            open: &[("2026-03-04 14:00", None)],
            now: "2026-03-05 09:00",
            due: "2026-03-11 14:00",
            warn: "2026-03-10 14:00",
            used: Duration::hours(19),
            ..BASE
        },
        Case {
            what: "opened on a holiday → counting starts the next morning, due at the end of Wed",
            holidays: &["2026-03-04"],
            open: &[("2026-03-04 10:00", None)],
            now: "2026-03-04 20:00",
            due: "2026-03-12 00:00",
            warn: "2026-03-11 00:00",
            used: Duration::zero(),
            ..BASE
        },
        Case {
            what: "a week of holidays → due a week later",
            holidays: &["2026-03-09", "2026-03-10", "2026-03-11", "2026-03-12", "2026-03-13"],
            open: &[("2026-03-04 14:00", None)],
            now: "2026-03-10 12:00",
            due: "2026-03-18 14:00",
            warn: "2026-03-17 14:00",
            used: Duration::hours(58),
            ..BASE
        },
        Case {
            what: "Christmas and New Year (Thu 24, Fri 25, Sat 26, Thu 31 Dec, Fri 1 Jan) → due Tue 5 Jan 12:00",
            holidays: &["2026-12-24", "2026-12-25", "2026-12-26", "2026-12-31", "2027-01-01"],
            open: &[("2026-12-23 12:00", None)],
            now: "2026-12-28 12:00",
            due: "2027-01-05 12:00",
            warn: "2027-01-04 12:00",
            used: Duration::hours(24),
            ..BASE
        },
        Case {
            what: "year end without holidays: opened Thu 31 Dec 09:00 → due Thu 7 Jan 09:00",
            open: &[("2026-12-31 09:00", None)],
            now: "2027-01-04 09:00",
            due: "2027-01-07 09:00",
            warn: "2027-01-06 09:00",
            used: Duration::hours(48),
            ..BASE
        },
        // -- daylight saving time: switches in Berlin and New York fall on Sundays, so a
        //    deadline keeps its wall-clock time while its UTC instant moves by an hour.
        Case {
            what: "Berlin: opened Wed 14:00 CET before the spring switch → due Wed 14:00 CEST (167 real hours)",
            tz: Berlin,
            open: &[("2026-03-25 14:00", None)],
            now: "2026-03-26 09:00",
            due: "2026-04-01 12:00Z",
            warn: "2026-03-31 12:00Z",
            used: Duration::hours(19),
            ..BASE
        },
        Case {
            what: "Berlin: opened Fri 18:00 CET, the switch on Sunday → due Fri 18:00 CEST",
            tz: Berlin,
            open: &[("2026-03-27 18:00", None)],
            now: "2026-03-30 09:00",
            due: "2026-04-03 16:00Z",
            warn: "2026-04-02 16:00Z",
            used: Duration::hours(15),
            ..BASE
        },
        Case {
            what: "Berlin: opened Wed 14:00 CEST before the autumn switch → due Wed 14:00 CET (169 real hours)",
            tz: Berlin,
            open: &[("2026-10-21 14:00", None)],
            now: "2026-10-22 09:00",
            due: "2026-10-28 13:00Z",
            warn: "2026-10-27 13:00Z",
            used: Duration::hours(19),
            ..BASE
        },
        Case {
            what: "Berlin: critical over the spring switch → 48 real hours, due Mon 13:00 CEST",
            tz: Berlin,
            severity: Critical,
            open: &[("2026-03-28 12:00", None)],
            now: "2026-03-29 12:00",
            due: "2026-03-30 11:00Z",
            warn: "2026-03-29 11:00Z",
            used: Duration::hours(23),
            ..BASE
        },
        Case {
            what: "New York: opened Wed 14:00 EST before the spring switch → due Wed 14:00 EDT",
            tz: New_York,
            open: &[("2026-03-04 14:00", None)],
            now: "2026-03-05 09:00",
            due: "2026-03-11 18:00Z",
            warn: "2026-03-10 18:00Z",
            used: Duration::hours(19),
            ..BASE
        },
        Case {
            what: "New York: opened Wed 14:00 EDT before the autumn switch → due Wed 14:00 EST",
            tz: New_York,
            open: &[("2026-10-28 14:00", None)],
            now: "2026-10-29 09:00",
            due: "2026-11-04 19:00Z",
            warn: "2026-11-03 19:00Z",
            used: Duration::hours(19),
            ..BASE
        },
        Case {
            what: "New York: critical over the autumn switch → due Mon 11:00 EST, due soon",
            tz: New_York,
            severity: Critical,
            open: &[("2026-10-31 12:00", None)],
            now: "2026-11-02 10:00",
            due: "2026-11-02 16:00Z",
            warn: "2026-11-01 16:00Z",
            state: DueSoon,
            used: Duration::hours(47),
            ..BASE
        },
        // Cairo switches on weekdays, at midnight: Friday 24 April 2026 starts at 01:00
        // (23 hours), Thursday 29 October 2026 has 25 hours.
        Case {
            what: "Cairo: the 23-hour Friday → due Thu 13:00 EEST, an hour later on the wall clock",
            tz: Cairo,
            open: &[("2026-04-23 12:00", None)],
            now: "2026-04-27 12:00",
            due: "2026-04-30 10:00Z",
            warn: "2026-04-29 10:00Z",
            used: Duration::hours(12 + 23 + 12),
            ..BASE
        },
        Case {
            what: "Cairo: due at the start of the Friday whose midnight does not exist (01:00 EEST)",
            tz: Cairo,
            open: &[("2026-04-17 00:00", None)],
            now: "2026-04-20 00:00",
            due: "2026-04-23 22:00Z",
            warn: "2026-04-22 22:00Z",
            used: Duration::hours(24),
            ..BASE
        },
        Case {
            what: "Cairo: the 25-hour Thursday → due Wed 11:00 EET, an hour earlier on the wall clock",
            tz: Cairo,
            open: &[("2026-10-28 12:00", None)],
            now: "2026-10-30 12:00",
            due: "2026-11-04 09:00Z",
            warn: "2026-11-03 09:00Z",
            used: Duration::hours(12 + 25 + 12),
            ..BASE
        },
        // -- time zones east and west of UTC
        Case {
            what: "Kolkata: Friday 20:00 UTC is already Saturday → nothing counts until Monday",
            tz: Kolkata,
            open: &[("2026-03-06 20:00Z", None)],
            now: "2026-03-08 12:00Z",
            due: "2026-03-13 18:30Z",
            warn: "2026-03-12 18:30Z",
            used: Duration::zero(),
            ..BASE
        },
        Case {
            what: "Kolkata: Sunday 20:00 UTC is Monday 01:30 → counting, due Mon 01:30 IST",
            tz: Kolkata,
            open: &[("2026-03-08 20:00Z", None)],
            now: "2026-03-09 00:00Z",
            due: "2026-03-15 20:00Z",
            warn: "2026-03-12 20:00Z",
            used: Duration::hours(4),
            ..BASE
        },
        Case {
            what: "Auckland: Sunday 12:00 UTC is Monday 01:00 NZDT → due Mon 01:00 NZDT",
            tz: Auckland,
            open: &[("2026-01-11 12:00Z", None)],
            now: "2026-01-11 13:00Z",
            due: "2026-01-18 12:00Z",
            warn: "2026-01-15 12:00Z",
            used: Duration::hours(1),
            ..BASE
        },
        Case {
            what: "Auckland: Friday 12:00 UTC is Saturday 01:00 NZDT → due at the end of next Friday",
            tz: Auckland,
            open: &[("2026-01-09 12:00Z", None)],
            now: "2026-01-11 10:00Z",
            due: "2026-01-16 11:00Z",
            warn: "2026-01-15 11:00Z",
            used: Duration::zero(),
            ..BASE
        },
        Case {
            what: "Auckland: opened Wed 14:00 NZDT, summer time ends Sunday → due Wed 14:00 NZST",
            tz: Auckland,
            open: &[("2026-04-01 14:00", None)],
            now: "2026-04-02 14:00",
            due: "2026-04-08 02:00Z",
            warn: "2026-04-07 02:00Z",
            used: Duration::hours(24),
            ..BASE
        },
        Case {
            what: "Los Angeles: Saturday 03:00 UTC is still Friday 19:00 PST → five hours count",
            tz: Los_Angeles,
            open: &[("2026-01-10 03:00Z", None)],
            now: "2026-01-10 08:00Z",
            due: "2026-01-17 03:00Z",
            warn: "2026-01-16 03:00Z",
            used: Duration::hours(5),
            ..BASE
        },
        Case {
            what: "Los Angeles: Monday 05:00 UTC is still Sunday → counting starts Mon 00:00 PST",
            tz: Los_Angeles,
            open: &[("2026-01-12 05:00Z", None)],
            now: "2026-01-12 07:59Z",
            due: "2026-01-17 08:00Z",
            warn: "2026-01-16 08:00Z",
            used: Duration::zero(),
            ..BASE
        },
        // -- critical issues: clock hours
        Case {
            what: "critical opened Fri 18:00 → due Sun 18:00, weekends count",
            severity: Critical,
            open: &[("2026-03-06 18:00", None)],
            now: "2026-03-07 12:00",
            due: "2026-03-08 18:00",
            warn: "2026-03-07 18:00",
            used: Duration::hours(18),
            ..BASE
        },
        Case {
            what: "critical ignores holidays",
            severity: Critical,
            holidays: &["2026-03-09", "2026-03-10"],
            open: &[("2026-03-09 09:00", None)],
            now: "2026-03-10 10:00",
            due: "2026-03-11 09:00",
            warn: "2026-03-10 09:00",
            state: DueSoon,
            used: Duration::hours(25),
            ..BASE
        },
        Case {
            what: "critical opened Fri 18:00 still open Monday → breached",
            severity: Critical,
            open: &[("2026-03-06 18:00", None)],
            now: "2026-03-09 09:00",
            due: "2026-03-08 18:00",
            warn: "2026-03-07 18:00",
            state: Breached,
            used: Duration::hours(63),
            ..BASE
        },
        // -- reopened issues resume their clock
        Case {
            what: "closed after 20 h, reopened 3 days later → 100 h left from Fri 09:00",
            open: &[("2026-03-02 09:00", Some("2026-03-03 05:00")), ("2026-03-06 09:00", None)],
            now: "2026-03-06 12:00",
            due: "2026-03-12 13:00",
            warn: "2026-03-11 13:00",
            used: Duration::hours(23),
            ..BASE
        },
        Case {
            what: "critical closed after 20 h, reopened Thursday → 28 h left",
            severity: Critical,
            open: &[("2026-03-02 00:00", Some("2026-03-02 20:00")), ("2026-03-05 00:00", None)],
            now: "2026-03-05 12:00",
            due: "2026-03-06 04:00",
            warn: "2026-03-05 04:00",
            state: DueSoon,
            used: Duration::hours(32),
            ..BASE
        },
        Case {
            what: "critical reopened three times: warned during the third period",
            severity: Critical,
            open: &[
                ("2026-03-02 00:00", Some("2026-03-02 10:00")),
                ("2026-03-03 00:00", Some("2026-03-03 10:00")),
                ("2026-03-04 00:00", Some("2026-03-04 10:00")),
                ("2026-03-05 00:00", None),
            ],
            now: "2026-03-05 12:00",
            due: "2026-03-05 18:00",
            warn: "2026-03-04 04:00",
            state: DueSoon,
            used: Duration::hours(42),
            ..BASE
        },
        Case {
            what: "critical resolved twice within 40 h in all → met; due shown as if it had stayed open",
            severity: Critical,
            open: &[("2026-03-02 00:00", Some("2026-03-02 20:00")), ("2026-03-04 00:00", Some("2026-03-04 20:00"))],
            now: "2026-03-10 00:00",
            due: "2026-03-05 04:00",
            warn: "2026-03-04 04:00",
            state: Met,
            used: Duration::hours(40),
            ..BASE
        },
        Case {
            what: "critical reopened and resolved after 54 h in all → missed, due inside the second period",
            severity: Critical,
            open: &[("2026-03-02 00:00", Some("2026-03-03 00:00")), ("2026-03-05 00:00", Some("2026-03-06 06:00"))],
            now: "2026-03-10 00:00",
            due: "2026-03-06 00:00",
            warn: "2026-03-03 00:00",
            state: Missed,
            used: Duration::hours(54),
            ..BASE
        },
        Case {
            what: "reopened after a breach → still breached, due in the first period",
            severity: Critical,
            open: &[("2026-03-02 00:00", Some("2026-03-04 12:00")), ("2026-03-09 00:00", None)],
            now: "2026-03-09 01:00",
            due: "2026-03-04 00:00",
            warn: "2026-03-03 00:00",
            state: Breached,
            used: Duration::hours(61),
            ..BASE
        },
        // -- pauses (waiting on reporter)
        Case {
            what: "paused one business day → due a business day later",
            open: &[("2026-03-02 09:00", None)],
            paused: &[("2026-03-03 09:00", Some("2026-03-04 09:00"))],
            now: "2026-03-04 12:00",
            due: "2026-03-10 09:00",
            warn: "2026-03-09 09:00",
            used: Duration::hours(27),
            ..BASE
        },
        Case {
            what: "normal paused over the weekend → changes nothing",
            open: &[("2026-03-04 14:00", None)],
            paused: &[("2026-03-07 08:00", Some("2026-03-08 20:00"))],
            now: "2026-03-09 10:00",
            due: "2026-03-11 14:00",
            warn: "2026-03-10 14:00",
            used: Duration::hours(10 + 24 + 24 + 10),
            ..BASE
        },
        Case {
            what: "still paused → paused, deadline projected as if it resumed now",
            open: &[("2026-03-02 09:00", None)],
            paused: &[("2026-03-03 09:00", None)],
            now: "2026-03-04 12:00",
            due: "2026-03-10 12:00",
            warn: "2026-03-09 12:00",
            paused_now: true,
            used: Duration::hours(24),
            ..BASE
        },
        Case {
            what: "critical paused four hours → due four hours later",
            severity: Critical,
            open: &[("2026-03-02 00:00", None)],
            paused: &[("2026-03-02 10:00", Some("2026-03-02 14:00"))],
            now: "2026-03-03 00:00",
            due: "2026-03-04 04:00",
            warn: "2026-03-03 04:00",
            used: Duration::hours(20),
            ..BASE
        },
        Case {
            what: "critical paused over the weekend → the clock hours stop too",
            severity: Critical,
            open: &[("2026-03-06 12:00", None)],
            paused: &[("2026-03-07 00:00", Some("2026-03-09 00:00"))],
            now: "2026-03-09 06:00",
            due: "2026-03-10 12:00",
            warn: "2026-03-09 12:00",
            used: Duration::hours(18),
            ..BASE
        },
        Case {
            what: "paused after the breach → still breached",
            severity: Critical,
            open: &[("2026-03-02 00:00", None)],
            paused: &[("2026-03-05 00:00", None)],
            now: "2026-03-06 00:00",
            due: "2026-03-04 00:00",
            warn: "2026-03-03 00:00",
            state: Breached,
            paused_now: true,
            used: Duration::hours(72),
            ..BASE
        },
        Case {
            what: "paused after the warning → due soon, due projected from now",
            severity: Critical,
            open: &[("2026-03-02 00:00", None)],
            paused: &[("2026-03-03 06:00", None)],
            now: "2026-03-05 00:00",
            due: "2026-03-05 18:00",
            warn: "2026-03-03 00:00",
            state: DueSoon,
            paused_now: true,
            used: Duration::hours(30),
            ..BASE
        },
        Case {
            what: "a pause that ended before reopening only pauses the open time",
            severity: Critical,
            open: &[("2026-03-02 00:00", Some("2026-03-02 12:00")), ("2026-03-03 00:00", None)],
            paused: &[("2026-03-02 10:00", Some("2026-03-03 02:00"))],
            now: "2026-03-03 12:00",
            due: "2026-03-04 16:00",
            warn: "2026-03-03 16:00",
            used: Duration::hours(20),
            ..BASE
        },
        // -- severity changed: the current severity counts from the original opening
        Case {
            what: "normal turned critical after three days → already breached",
            severity: Critical,
            open: &[("2026-03-02 09:00", None)],
            now: "2026-03-05 09:00",
            due: "2026-03-04 09:00",
            warn: "2026-03-03 09:00",
            state: Breached,
            used: Duration::hours(72),
            ..BASE
        },
        Case {
            what: "critical turned normal → five business days from the opening",
            open: &[("2026-03-02 09:00", None)],
            now: "2026-03-03 12:00",
            due: "2026-03-09 09:00",
            warn: "2026-03-06 09:00",
            used: Duration::hours(27),
            ..BASE
        },
        // -- states at their boundaries
        Case {
            what: "exactly at warn_at → due soon",
            open: &[("2026-03-04 14:00", None)],
            now: "2026-03-10 14:00",
            due: "2026-03-11 14:00",
            warn: "2026-03-10 14:00",
            state: DueSoon,
            used: Duration::hours(96),
            ..BASE
        },
        Case {
            what: "a second before warn_at → on track",
            open: &[("2026-03-04 14:00", None)],
            now: "2026-03-10 13:59:59",
            due: "2026-03-11 14:00",
            warn: "2026-03-10 14:00",
            used: Duration::seconds(96 * 3600 - 1),
            ..BASE
        },
        Case {
            what: "exactly at due_at, still open → breached, nothing left",
            open: &[("2026-03-04 14:00", None)],
            now: "2026-03-11 14:00",
            due: "2026-03-11 14:00",
            warn: "2026-03-10 14:00",
            state: Breached,
            used: Duration::hours(120),
            ..BASE
        },
        Case {
            what: "a second before due_at → due soon, one second left",
            open: &[("2026-03-04 14:00", None)],
            now: "2026-03-11 13:59:59",
            due: "2026-03-11 14:00",
            warn: "2026-03-10 14:00",
            state: DueSoon,
            used: Duration::seconds(120 * 3600 - 1),
            ..BASE
        },
        Case {
            what: "resolved exactly at due_at → met",
            open: &[("2026-03-04 14:00", Some("2026-03-11 14:00"))],
            now: "2026-03-12 09:00",
            due: "2026-03-11 14:00",
            warn: "2026-03-10 14:00",
            state: Met,
            used: Duration::hours(120),
            ..BASE
        },
        Case {
            what: "resolved a second after due_at → missed",
            open: &[("2026-03-04 14:00", Some("2026-03-11 14:00:01"))],
            now: "2026-03-12 09:00",
            due: "2026-03-11 14:00",
            warn: "2026-03-10 14:00",
            state: Missed,
            used: Duration::seconds(120 * 3600 + 1),
            ..BASE
        },
        Case {
            what: "resolved early → met; due and warning as they would have been",
            open: &[("2026-03-04 14:00", Some("2026-03-05 10:00"))],
            now: "2026-03-20 09:00",
            due: "2026-03-11 14:00",
            warn: "2026-03-10 14:00",
            state: Met,
            used: Duration::hours(20),
            ..BASE
        },
        Case {
            what: "resolved on a Saturday, long after the deadline → missed",
            open: &[("2026-03-04 14:00", Some("2026-03-14 12:00"))],
            now: "2026-03-16 09:00",
            due: "2026-03-11 14:00",
            warn: "2026-03-10 14:00",
            state: Missed,
            used: Duration::hours(10 + 48 + 120),
            ..BASE
        },
        Case {
            what: "resolved at the instant it opened → met, nothing used",
            severity: Critical,
            open: &[("2026-03-02 09:00", Some("2026-03-02 09:00"))],
            now: "2026-03-02 10:00",
            due: "2026-03-04 09:00",
            warn: "2026-03-03 09:00",
            state: Met,
            used: Duration::zero(),
            ..BASE
        },
        // -- warning offsets
        Case {
            what: "critical warned 4 h ahead",
            severity: Critical,
            warn_hours: (4, 24),
            open: &[("2026-03-02 00:00", None)],
            now: "2026-03-03 20:00",
            due: "2026-03-04 00:00",
            warn: "2026-03-03 20:00",
            state: DueSoon,
            used: Duration::hours(44),
            ..BASE
        },
        Case {
            what: "normal warned two business days ahead",
            warn_hours: (24, 48),
            open: &[("2026-03-04 14:00", None)],
            now: "2026-03-09 14:00",
            due: "2026-03-11 14:00",
            warn: "2026-03-09 14:00",
            state: DueSoon,
            used: Duration::hours(72),
            ..BASE
        },
        Case {
            what: "a warning as long as the target → due soon from the opening",
            severity: Critical,
            warn_hours: (48, 24),
            open: &[("2026-03-02 00:00", None)],
            now: "2026-03-02 00:00",
            due: "2026-03-04 00:00",
            warn: "2026-03-02 00:00",
            state: DueSoon,
            used: Duration::zero(),
            ..BASE
        },
        Case {
            what: "a warning longer than the target, opened Saturday → warned at the opening",
            warn_hours: (24, 200),
            open: &[("2026-03-07 10:00", None)],
            now: "2026-03-07 11:00",
            due: "2026-03-14 00:00",
            warn: "2026-03-07 10:00",
            state: DueSoon,
            used: Duration::zero(),
            ..BASE
        },
        Case {
            what: "no warning at all → warn_at is due_at",
            warn_hours: (0, 0),
            open: &[("2026-03-04 14:00", None)],
            now: "2026-03-11 13:00",
            due: "2026-03-11 14:00",
            warn: "2026-03-11 14:00",
            used: Duration::hours(119),
            ..BASE
        },
    ];

    #[test]
    fn clocks() {
        assert!(CASES.len() >= 40);
        for c in CASES {
            let holidays: Vec<NaiveDate> = c.holidays.iter().map(|d| date(d)).collect();
            let calendar = Calendar::new(c.tz, holidays.iter().copied());
            // Only 1970 precomputed: every question here goes to the day walk.
            let walking = Calendar::with_years(c.tz, holidays.iter().copied(), 1970..=1970);
            let policy = Policy { critical_warn: H(c.warn_hours.0), normal_warn: H(c.warn_hours.1), ..Policy::default() };
            let (open, paused) = (spans(c.tz, c.open), spans(c.tz, c.paused));
            let issue = IssueClock { severity: c.severity, open: &open, paused: &paused };
            let now = at(c.tz, c.now);
            let clock = evaluate(&issue, &calendar, &policy, now);
            let want_due = at(c.tz, c.due);
            assert_eq!(
                (clock.due_at, clock.warn_at, clock.state, clock.paused, hm(clock.used)),
                (want_due, at(c.tz, c.warn), c.state, c.paused_now, hm(c.used)),
                "{}",
                c.what
            );
            assert_eq!(clock.left, policy.target(c.severity) - clock.used, "{}", c.what);
            assert_eq!(clock.resolved_at, open.last().and_then(|s| s.end), "{}", c.what);
            assert_eq!(evaluate(&issue, &walking, &policy, now), clock, "{}: the day walk disagrees", c.what);
        }
    }

    #[test]
    fn states_are_keys() {
        for s in ClockState::ALL {
            assert_eq!(ClockState::parse(s.key()), Some(*s));
            assert_eq!(serde_json::to_value(s).ok(), Some(serde_json::Value::String(s.key().into())));
        }
        assert_eq!(Severity::parse("critical"), Some(Critical));
        assert_eq!(Severity::parse("normal"), Some(Normal));
        assert_eq!(Severity::parse("P0"), None);
        assert_eq!(ClockState::DueSoon.label(), "Due soon");
    }

    #[test]
    fn business_time_between() {
        // (zone, holidays, from, to, hours)
        let cases: &[(Tz, &[&str], &str, &str, i64)] = &[
            (UTC, &[], "2026-03-02 00:00", "2026-03-09 00:00", 120),
            (UTC, &[], "2026-03-06 12:00", "2026-03-09 12:00", 24),
            (UTC, &[], "2026-03-07 00:00", "2026-03-09 00:00", 0),
            (UTC, &["2026-03-04"], "2026-03-02 00:00", "2026-03-09 00:00", 96),
            (UTC, &[], "2026-03-09 00:00", "2026-03-02 00:00", 0),
            // Berlin and New York switch on Sundays: their business weeks stay 120 h.
            (Berlin, &[], "2026-03-23 00:00", "2026-04-06 00:00", 240),
            (Berlin, &[], "2026-03-28 00:00", "2026-03-30 00:00", 0),
            (New_York, &[], "2026-10-26 00:00", "2026-11-09 00:00", 240),
            // Cairo's Fridays and Thursdays of the switch.
            (Cairo, &[], "2026-04-23 22:00Z", "2026-04-25 00:00", 23),
            (Cairo, &[], "2026-10-29 00:00", "2026-10-30 00:00", 25),
            (Cairo, &[], "2026-04-20 00:00", "2026-04-25 00:00", 119),
            (Cairo, &[], "2026-10-26 00:00", "2026-10-31 00:00", 121),
            (Kolkata, &[], "2026-03-06 18:30Z", "2026-03-08 18:30Z", 0),
            (Auckland, &[], "2026-01-11 11:00Z", "2026-01-16 11:00Z", 120),
        ];
        for (tz, holidays, from, to, hours) in cases {
            let calendar = Calendar::new(*tz, holidays.iter().map(|d| date(d)));
            let (a, b) = (at(*tz, from), at(*tz, to));
            assert_eq!(calendar.business_between(a, b), H(*hours), "{tz} {from} → {to}");
            assert_eq!(calendar.reference_between(a, b), H(*hours), "{tz} {from} → {to} (walk)");
            if *hours > 0 && b > a {
                let reached = calendar.add_business(a, H(*hours));
                assert!(reached <= b, "{tz} {from} + {hours} h");
                assert_eq!(calendar.business_between(a, reached), H(*hours), "{tz} {from} + {hours} h");
            }
        }
    }

    #[test]
    fn days_that_begin_in_a_gap() {
        // Cairo: clocks jumped from 00:00 to 01:00 on Friday 24 April 2026.
        assert_eq!(day_start(Cairo, date("2026-04-24")), utc("2026-04-23 22:00"));
        // Samoa skipped Friday 30 December 2011 entirely: it starts and ends at once.
        let apia = chrono_tz::Pacific::Apia;
        assert_eq!(day_start(apia, date("2011-12-30")), day_start(apia, date("2011-12-31")));
        let calendar = Calendar::with_years(apia, [], 2011..=2012);
        let week = calendar.business_between(day_start(apia, date("2011-12-26")), day_start(apia, date("2012-01-02")));
        assert_eq!(week, H(96));
        assert_eq!(calendar.reference_between(day_start(apia, date("2011-12-26")), day_start(apia, date("2012-01-02"))), H(96));
        // Havana sets clocks back from 01:00 to 00:00: the day starts at the first midnight.
        let havana = chrono_tz::America::Havana;
        let sunday = date("2026-11-01");
        assert_eq!(day_start(havana, sunday), utc("2026-11-01 04:00"));
    }

    /// A tiny deterministic generator (64-bit LCG, Knuth's constants): reproducible runs
    /// without a dependency.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }
        fn below(&mut self, n: u64) -> i64 {
            (self.next() % n) as i64
        }
    }

    /// The fast path (precomputed stretches and binary search) against the day walk, on
    /// random instants, including ones outside the precomputed years and ones on the
    /// boundaries of business days.
    #[test]
    fn fast_path_matches_the_day_walk() {
        let zones = [UTC, Berlin, New_York, Kolkata, Auckland, Los_Angeles, Cairo];
        let mut rng = Lcg(0x5eed_1e55);
        let base = utc("2024-01-01 00:00");
        for tz in zones {
            let mut holidays: Vec<NaiveDate> = (0..40).map(|_| date("2024-01-01") + chrono::Days::new(rng.below(4 * 366) as u64)).collect();
            holidays.extend(["2025-12-24", "2025-12-25", "2025-12-26", "2025-12-31", "2026-01-01"].map(date));
            let full = Calendar::new(tz, holidays.iter().copied());
            let narrow = Calendar::with_years(tz, holidays.iter().copied(), 2025..=2026);
            for i in 0..600 {
                let mut a = base + Duration::seconds(rng.below(4 * 366 * 86_400));
                if i % 4 == 0 {
                    // Exactly on a local midnight, or a second either side.
                    let day = full.day_of(a);
                    a = day_start(tz, day) + Duration::seconds(rng.below(3) - 1);
                }
                if i % 7 == 0 {
                    a += Duration::nanoseconds(rng.below(1_000_000_000));
                }
                let b = a + Duration::seconds(rng.below(40 * 86_400));
                let d = match i % 5 {
                    0 => H(24 * rng.below(12)),
                    _ => Duration::seconds(rng.below(15 * 86_400) + 1),
                };
                let between = full.reference_between(a, b);
                assert_eq!(full.business_between(a, b), between, "{tz}: between {a} and {b}");
                assert_eq!(narrow.business_between(a, b), between, "{tz}: between {a} and {b} (narrow)");
                let reached = full.reference_add(a, d);
                assert_eq!(full.add_business(a, d), reached, "{tz}: {a} + {d}");
                assert_eq!(narrow.add_business(a, d), reached, "{tz}: {a} + {d} (narrow)");
                assert_eq!(full.business_between(a, reached), d.max(Duration::zero()), "{tz}: {a} + {d} round trip");
            }
        }
    }

    #[test]
    fn untidy_periods_are_tidied() {
        let calendar = Calendar::default();
        let policy = Policy::default();
        let now = utc("2026-03-06 12:00");
        let tidy_open = spans(UTC, &[("2026-03-02 09:00", Some("2026-03-03 09:00")), ("2026-03-04 09:00", None)]);
        let messy_open = spans(
            UTC,
            &[
                ("2026-03-04 09:00", None),
                ("2026-03-02 12:00", Some("2026-03-03 09:00")),
                ("2026-03-02 09:00", Some("2026-03-02 18:00")),
                ("2026-03-03 09:00", Some("2026-03-03 08:00")),
            ],
        );
        let pauses = spans(UTC, &[("2026-03-05 00:00", Some("2026-03-05 06:00")), ("2026-03-05 03:00", Some("2026-03-05 04:00"))]);
        let tidy_pauses = spans(UTC, &[("2026-03-05 00:00", Some("2026-03-05 06:00"))]);
        for severity in [Critical, Normal] {
            let want = evaluate(&IssueClock { severity, open: &tidy_open, paused: &tidy_pauses }, &calendar, &policy, now);
            let got = evaluate(&IssueClock { severity, open: &messy_open, paused: &pauses }, &calendar, &policy, now);
            assert_eq!(got, want, "{severity}");
        }
    }

    #[test]
    fn odd_input_never_panics() {
        let calendar = Calendar::new(Berlin, [date("2026-03-04")]);
        let min = DateTime::<Utc>::MIN_UTC;
        let max = DateTime::<Utc>::MAX_UTC;
        let huge = Policy {
            critical_target: Duration::MAX,
            normal_target: Duration::MAX,
            critical_warn: Duration::MIN,
            normal_warn: Duration::MAX,
        };
        let zero = Policy { critical_target: Duration::zero(), normal_target: Duration::zero(), ..Policy::default() };
        let periods: &[&[Span]] = &[
            &[],
            &[Span { start: min, end: None }],
            &[Span { start: min, end: Some(max) }],
            &[Span { start: max, end: Some(min) }],
            &[Span { start: utc("2026-03-02 00:00"), end: None }, Span { start: utc("2026-03-01 00:00"), end: None }],
        ];
        for open in periods {
            for paused in periods {
                for policy in [Policy::default(), huge, zero] {
                    for now in [min, max, utc("2026-03-05 12:00")] {
                        for severity in [Critical, Normal] {
                            let clock = evaluate(&IssueClock { severity, open, paused }, &calendar, &policy, now);
                            assert!(clock.used >= Duration::zero());
                        }
                    }
                }
            }
        }
        assert_eq!(from_seconds(FLOOR_SECONDS), year_start(UTC, FIRST_YEAR));
        assert_eq!(ceiling(), year_start(UTC, END_YEAR));
        assert_eq!(calendar.add_business(utc("2026-03-02 00:00"), Duration::MAX), ceiling());
        assert_eq!(calendar.business_between(min, max), calendar.business_between(from_seconds(FLOOR_SECONDS), ceiling()));
        // No open period: taken as opened now (Mon 01:00 in Berlin; Wednesday is a holiday).
        let opened_now =
            evaluate(&IssueClock { severity: Normal, open: &[], paused: &[] }, &calendar, &Policy::default(), utc("2026-03-02 00:00"));
        assert_eq!((opened_now.state, opened_now.used, opened_now.due_at), (OnTrack, Duration::zero(), utc("2026-03-10 00:00")));
    }

    #[test]
    fn clocks_travel_as_json() {
        let open = [Span { start: utc("2026-03-04 14:00"), end: None }];
        let clock = evaluate(
            &IssueClock { severity: Normal, open: &open, paused: &[] },
            &Calendar::default(),
            &Policy::default(),
            utc("2026-03-05 09:00"),
        );
        let json = serde_json::to_string(&clock).unwrap_or_default();
        assert_eq!(serde_json::from_str::<Clock>(&json).ok(), Some(clock));
    }

    // -- compliance

    fn outcome(severity: Severity, resolved: Option<&str>, state: ClockState, hours: i64) -> Outcome {
        Outcome {
            severity,
            opened_at: utc("2026-01-01 00:00"),
            resolved_at: resolved.map(utc),
            state,
            resolve_time: resolved.map(|_| H(hours)),
        }
    }

    #[test]
    fn compliance_figures() {
        let window = (utc("2026-03-01 00:00"), utc("2026-03-31 00:00"));
        let r = Some("2026-03-10 00:00");
        /// (what, outcomes, resolved, within, percent, open breaches, median h, p90 h)
        type Row = (&'static str, Vec<Outcome>, u32, u32, Option<f64>, u32, Option<i64>, Option<i64>);
        let cases: Vec<Row> = vec![
            ("nothing", vec![], 0, 0, None, 0, None, None),
            (
                "all met",
                vec![outcome(Normal, r, Met, 10), outcome(Critical, r, Met, 20), outcome(Normal, r, Met, 30)],
                3,
                3,
                Some(100.0),
                0,
                Some(20),
                Some(30),
            ),
            (
                "three of four met",
                vec![
                    outcome(Normal, r, Met, 10),
                    outcome(Normal, r, Missed, 130),
                    outcome(Critical, r, Met, 20),
                    outcome(Normal, r, Met, 40),
                ],
                4,
                3,
                Some(75.0),
                0,
                Some(20),
                Some(130),
            ),
            (
                "window ends included, outside left out",
                vec![
                    outcome(Normal, Some("2026-03-01 00:00"), Met, 1),
                    outcome(Normal, Some("2026-03-31 00:00"), Missed, 2),
                    outcome(Normal, Some("2026-02-28 23:59"), Met, 3),
                    outcome(Normal, Some("2026-03-31 00:00:01"), Met, 4),
                ],
                2,
                1,
                Some(50.0),
                0,
                Some(1),
                Some(2),
            ),
            (
                "open breaches count whenever opened, open issues are not resolved",
                vec![
                    outcome(Critical, None, Breached, 0),
                    outcome(Normal, None, Breached, 0),
                    outcome(Normal, None, DueSoon, 0),
                    outcome(Normal, r, Met, 5),
                ],
                1,
                1,
                Some(100.0),
                2,
                Some(5),
                Some(5),
            ),
            (
                "odd count: median is the middle one",
                (1..=5).map(|h| outcome(Normal, r, Met, h)).collect(),
                5,
                5,
                Some(100.0),
                0,
                Some(3),
                Some(5),
            ),
            (
                "even count: median is the lower middle",
                (1..=4).rev().map(|h| outcome(Normal, r, Met, h)).collect(),
                4,
                4,
                Some(100.0),
                0,
                Some(2),
                Some(4),
            ),
            ("ten: p90 is the ninth", (1..=10).map(|h| outcome(Normal, r, Met, h)).collect(), 10, 10, Some(100.0), 0, Some(5), Some(9)),
            ("eleven: p90 is the tenth", (1..=11).map(|h| outcome(Normal, r, Met, h)).collect(), 11, 11, Some(100.0), 0, Some(6), Some(10)),
            (
                "one of three met",
                vec![outcome(Normal, r, Met, 1), outcome(Normal, r, Missed, 2), outcome(Normal, r, Missed, 3)],
                3,
                1,
                Some(100.0 / 3.0),
                0,
                Some(2),
                Some(3),
            ),
        ];
        for (what, outcomes, resolved, within, percent, breaches, median, p90) in cases {
            let c = compliance(&outcomes, window.0, window.1);
            assert_eq!(
                (c.resolved, c.within_sla, c.percent, c.open_breaches, c.median_seconds, c.p90_seconds),
                (resolved, within, percent, breaches, median.map(|h| h * 3600), p90.map(|h| h * 3600)),
                "{what}"
            );
            assert_eq!(c.critical.resolved + c.normal.resolved, c.resolved, "{what}");
            assert_eq!(c.critical.open_breaches + c.normal.open_breaches, c.open_breaches, "{what}");
        }
    }

    #[test]
    fn compliance_by_severity() {
        let r = Some("2026-03-10 00:00");
        let outcomes = vec![
            outcome(Critical, r, Met, 10),
            outcome(Critical, r, Missed, 60),
            outcome(Critical, None, Breached, 0),
            outcome(Normal, r, Met, 30),
            outcome(Normal, r, Met, 50),
            outcome(Normal, r, Met, 70),
        ];
        let c = compliance(&outcomes, utc("2026-03-01 00:00"), utc("2026-03-31 00:00"));
        assert_eq!(
            *c.of(Critical),
            Figures {
                resolved: 2,
                within_sla: 1,
                percent: Some(50.0),
                open_breaches: 1,
                median_seconds: Some(10 * 3600),
                p90_seconds: Some(60 * 3600)
            }
        );
        assert_eq!(
            *c.of(Normal),
            Figures {
                resolved: 3,
                within_sla: 3,
                percent: Some(100.0),
                open_breaches: 0,
                median_seconds: Some(50 * 3600),
                p90_seconds: Some(70 * 3600)
            }
        );
        assert_eq!((c.resolved, c.within_sla, c.open_breaches, c.median_seconds), (5, 4, 1, Some(50 * 3600)));
    }

    #[test]
    fn weekly_trends() {
        // Wednesday 18 March 2026: three weeks are those of Mondays 2, 9 and 16 March.
        let now = utc("2026-03-18 12:00");
        let outcomes = vec![
            outcome(Normal, Some("2026-03-01 23:59"), Met, 1), // the week before: left out
            outcome(Normal, Some("2026-03-02 00:00"), Met, 1),
            outcome(Normal, Some("2026-03-08 23:59:59"), Missed, 1),
            outcome(Critical, Some("2026-03-09 00:00"), Met, 1),
            outcome(Normal, Some("2026-03-18 12:00"), Met, 1),
            outcome(Normal, Some("2026-03-18 12:00:01"), Met, 1), // after now: left out
            outcome(Normal, None, Breached, 0),
        ];
        let trend = weekly_trend(&outcomes, 3, now);
        let got: Vec<(NaiveDate, u32, u32, Option<f64>)> =
            trend.iter().map(|w| (w.week_start, w.resolved, w.within_sla, w.percent)).collect();
        assert_eq!(
            got,
            vec![(date("2026-03-02"), 2, 1, Some(50.0)), (date("2026-03-09"), 1, 1, Some(100.0)), (date("2026-03-16"), 1, 1, Some(100.0))]
        );
        assert!(trend.iter().all(|w| w.week_start.weekday() == Weekday::Mon));
        assert_eq!(weekly_trend(&outcomes, 0, now), vec![]);
        let on_monday = weekly_trend(&outcomes, 1, utc("2026-03-09 00:00"));
        assert_eq!(on_monday, vec![WeekPoint { week_start: date("2026-03-09"), resolved: 1, within_sla: 1, percent: Some(100.0) }]);
        assert_eq!(weekly_trend(&[], 2, now).iter().map(|w| w.percent).collect::<Vec<_>>(), vec![None, None]);
        assert_eq!(weekly_trend(&[], u32::MAX, now).len(), MAX_TREND_WEEKS as usize);
    }
}
