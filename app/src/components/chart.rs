//! Charts rendered on the server as accessible SVG, with no JavaScript chart
//! library: compliance trend per partner ([`line`]), funnel by stage
//! ([`funnel`]), versions published per month ([`bars`]) and time-in-stage
//! distribution ([`distribution`]).
//!
//! Each function is pure and deterministic (std only, so it builds for the
//! server and for wasm) and returns one `<svg>` element as a string, which a
//! page inserts with [`Chart`] (or any element's `inner_html`).
//!
//! Accessibility:
//! - the root has `role="img"` and is labelled by its own `<title>` and
//!   `<desc>`; the description ends with every value in plain text, so screen
//!   readers get all the numbers;
//! - every value is also printed as `<text>`, so nothing depends on colour;
//!   each mark (bar, point, box) is a `<g class="chart-mark">` whose own
//!   `<title>` ("label: value unit") is the browser's native tooltip;
//! - colours come from CSS classes (`style/main.css`, section "Charts"), so
//!   the theme and the print and forced-colours styles control them;
//! - all text is escaped: labels are user data (partner names).
//!
//! Missing, NaN and infinite values are shown as "no data"; nothing panics
//! and nothing divides by zero.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Width of every chart in SVG user units; the height follows the data.
const WIDTH: f64 = 640.0;
/// Rough advance of one character (a digit) of 12px text, to keep texts apart.
const CHAR_W: f64 = 7.2;
/// The same for the 10px text of rotated (dense) values.
const SMALL_CHAR_W: f64 = 6.0;
/// Width of the label column of the horizontal charts.
const LABEL_COL: f64 = 150.0;
/// Visible labels are cut to this many characters; titles keep them whole.
const X_LABEL_CHARS: usize = 12;
const ROW_LABEL_CHARS: usize = 21;
const EMPTY_TEXT: &str = "No data yet";
const NO_DATA: &str = "no data";

/// One period of a [`line`] chart; `None` means no data that period (a gap).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub label: String,
    pub value: Option<f64>,
}

impl Point {
    pub fn new(label: impl Into<String>, value: Option<f64>) -> Self {
        Self { label: label.into(), value }
    }
}

/// One bar of [`bars`] or one stage of [`funnel`]; the note (e.g.
/// "median 12 d") is printed after the value in the funnel and goes into the
/// tooltip and the description in both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub note: Option<String>,
}

impl Bar {
    pub fn new(label: impl Into<String>, value: f64) -> Self {
        Self { label: label.into(), value, note: None }
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// The raw samples of one row of a [`distribution`] (any order; non-finite
/// samples are ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub label: String,
    /// `None`: no (finite) samples.
    pub spread: Option<Spread>,
}

impl Group {
    pub fn new(label: impl Into<String>, values: Vec<f64>) -> Self {
        Self { label: label.into(), spread: Spread::of(&values) }
    }

    /// A group summarised beforehand: a page need not carry every sample.
    pub fn summarised(label: impl Into<String>, spread: Option<Spread>) -> Self {
        Self { label: label.into(), spread }
    }
}

/// What every chart needs besides its data.
#[derive(Debug, Clone, Copy, Default)]
pub struct Frame<'a> {
    /// Unique on the page: the ids `{id}-title` and `{id}-desc` derive from
    /// it. Characters other than ASCII letters, digits, `-` and `_` become `-`.
    pub id: &'a str,
    pub title: &'a str,
    /// Prose; the values are appended to it in the SVG's `<desc>`.
    pub description: &'a str,
    /// Appended to every number as is: `"%"`, `" versions"`, `" d"`.
    pub unit: &'a str,
}

/// Shows a chart's SVG inside a `<figure class="chart">`.
#[component]
pub fn Chart(svg: String) -> impl IntoView {
    view! { <figure class="chart" inner_html=svg></figure> }
}

/// Trend over periods: a line with one point per period, gaps where the value
/// is missing, the y axis from `y_min` to `y_max` (values outside are drawn at
/// the edge but printed as they are), and an optional dashed `target` line.
/// Bounds that are not finite are taken from the data.
pub fn line(frame: &Frame, points: &[Point], y_min: f64, y_max: f64, target: Option<f64>) -> String {
    let values: Vec<Option<f64>> = points.iter().map(|p| finite(p.value)).collect();
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    if present.is_empty() {
        return empty(frame, "line");
    }
    let unit = frame.unit;
    let target = finite(target);
    let (lo, hi) = y_range(y_min, y_max, present.iter().copied().chain(target));
    let ticks: Vec<f64> = (0..=4).map(|i| lo + (hi - lo) * f64::from(i) / 4.0).collect();
    let unit_in_ticks = unit.trim().chars().count() <= 2;
    let tick_text = |v: f64| if unit_in_ticks { with_unit(v, unit) } else { format_number(v) };
    let tick_chars = ticks.iter().map(|v| tick_text(*v).chars().count()).max().unwrap_or(1);

    let n = points.len();
    let left = (tick_chars as f64 * CHAR_W + 12.0).max(36.0);
    // The target's label sits right of the plot, clear of the points.
    let target_label = target.filter(|t| (lo..=hi).contains(t)).map(|t| (t, format!("target {}", with_unit(t, unit))));
    let right = target_label.as_ref().map_or(12.0, |(_, l)| l.chars().count() as f64 * CHAR_W + 12.0);
    let plot_w = WIDTH - left - right;
    let slot = plot_w / n as f64;
    let fit = Fit::of(&present, unit, slot);
    let caption = !unit_in_ticks && fit != Fit::Unit;
    let top = if caption { 36.0 } else { 20.0 };
    let plot_h = 180.0;
    let base = top + plot_h;
    let strip = if fit == Fit::Rotated { plain_chars(&present) as f64 * SMALL_CHAR_W + 10.0 } else { 0.0 };
    let label_y = base + strip + 16.0;
    let height = label_y + 10.0;
    let x = |i: usize| left + (i as f64 + 0.5) * slot;
    let y = |v: f64| base - frac(v, lo, hi) * plot_h;

    let mut summary =
        values.iter().zip(points).map(|(v, p)| format!("{} {}", one_line(&p.label), value_text(*v, unit))).collect::<Vec<_>>().join(", ");
    summary.push('.');
    if let Some(t) = target {
        let _ = write!(summary, " Target {}.", with_unit(t, unit));
    }

    let mut out = open(frame, "line", height, &summary);
    if caption {
        push_text(&mut out, "chart-label chart-unit", left, 12.0, "start", unit.trim());
    }
    for t in &ticks {
        let ty = y(*t);
        let _ =
            write!(out, r#"<line class="chart-grid" x1="{}" y1="{}" x2="{}" y2="{}"/>"#, num(left), num(ty), num(WIDTH - right), num(ty));
        push_text(&mut out, "chart-label chart-tick", left - 6.0, ty, "end", &tick_text(*t));
    }
    let _ = write!(
        out,
        r#"<path class="chart-axis" d="M{} {}V{}H{}" fill="none" stroke="currentColor"/>"#,
        num(left),
        num(top),
        num(base),
        num(WIDTH - right)
    );
    if let Some((t, label)) = &target_label {
        let (t, ty) = (*t, y(*t));
        let _ = write!(
            out,
            r#"<g class="chart-target"><title>Target: {}</title><line x1="{}" y1="{}" x2="{}" y2="{}" stroke="currentColor" stroke-dasharray="6 4"/>"#,
            esc(&with_unit(t, unit)),
            num(left),
            num(ty),
            num(WIDTH - right),
            num(ty)
        );
        push_text(&mut out, "chart-label chart-target-label", WIDTH - right + 6.0, ty, "start", label);
        out.push_str("</g>");
    }

    let mut d = String::new();
    let mut pen_down = false;
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => {
                let _ = write!(d, "{}{} {}", if pen_down { "L" } else { "M" }, num(x(i)), num(y(*v)));
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    let _ = write!(out, r#"<path class="chart-line" d="{d}" fill="none" stroke="currentColor"/>"#);

    for (i, (p, v)) in points.iter().zip(&values).enumerate() {
        let cx = x(i);
        open_mark(&mut out, &p.label, &value_text(*v, unit));
        match v {
            Some(v) => {
                let cy = y(*v);
                let _ = write!(out, r#"<circle class="chart-point" cx="{}" cy="{}" r="3.5"/>"#, num(cx), num(cy));
                match fit {
                    Fit::Unit => push_text(&mut out, "chart-value", cx, cy - 10.0, "middle", &with_unit(*v, unit)),
                    Fit::Plain => push_text(&mut out, "chart-value", cx, cy - 10.0, "middle", &format_number(*v)),
                    Fit::Rotated => push_rotated(&mut out, "chart-value chart-value-dense", cx, base + 6.0, "end", &format_number(*v)),
                }
            }
            None if fit == Fit::Rotated => push_rotated(&mut out, "chart-value chart-missing", cx, base + 6.0, "end", "–"),
            None => push_text(&mut out, "chart-value chart-missing", cx, base - 8.0, "middle", "–"),
        }
        out.push_str("</g>");
    }
    push_x_labels(&mut out, points.iter().map(|p| p.label.as_str()), x, slot, label_y);
    out.push_str("</svg>");
    out
}

/// Vertical bars from zero, one per label (e.g. versions published per
/// month), the value printed above each bar. Negative values are drawn as
/// empty bars but printed as they are.
pub fn bars(frame: &Frame, bars: &[Bar]) -> String {
    let values: Vec<Option<f64>> = bars.iter().map(|b| finite(Some(b.value))).collect();
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    if present.is_empty() {
        return empty(frame, "bars");
    }
    let unit = frame.unit;
    let n = bars.len();
    let (left, right) = (12.0, 12.0);
    let plot_w = WIDTH - left - right;
    let slot = plot_w / n as f64;
    let bar_w = (slot * 0.64).min(64.0);
    let fit = Fit::of(&present, unit, slot);
    let caption = fit != Fit::Unit && !unit.trim().is_empty();
    let caption_h = if caption { 16.0 } else { 0.0 };
    let value_room = if fit == Fit::Rotated { plain_chars(&present) as f64 * SMALL_CHAR_W + 12.0 } else { 22.0 };
    let top = caption_h + value_room;
    let plot_h = 170.0;
    let base = top + plot_h;
    let label_y = base + 16.0;
    let height = label_y + 10.0;
    let max = present.iter().fold(0.0_f64, |m, v| m.max(*v));
    let x = |i: usize| left + (i as f64 + 0.5) * slot;

    let summary = summary_of(bars, &values, unit);
    let mut out = open(frame, "bars", height, &summary);
    if caption {
        push_text(&mut out, "chart-label chart-unit", left, 10.0, "start", unit.trim());
    }
    for (i, (b, v)) in bars.iter().zip(&values).enumerate() {
        let cx = x(i);
        open_mark(&mut out, &b.label, &with_note(&value_text(*v, unit), b.note.as_deref()));
        match v {
            Some(v) => {
                let h = frac(v.max(0.0), 0.0, max) * plot_h;
                let _ = write!(
                    out,
                    r#"<rect class="chart-bar" x="{}" y="{}" width="{}" height="{}"/>"#,
                    num(cx - bar_w / 2.0),
                    num(base - h),
                    num(bar_w),
                    num(h)
                );
                match fit {
                    Fit::Unit => push_text(&mut out, "chart-value", cx, base - h - 9.0, "middle", &with_unit(*v, unit)),
                    Fit::Plain => push_text(&mut out, "chart-value", cx, base - h - 9.0, "middle", &format_number(*v)),
                    Fit::Rotated => {
                        push_rotated(&mut out, "chart-value chart-value-dense", cx, base - h - 4.0, "start", &format_number(*v))
                    }
                }
            }
            None => push_text(&mut out, "chart-value chart-missing", cx, base - 8.0, "middle", "–"),
        }
        out.push_str("</g>");
    }
    let _ = write!(
        out,
        r#"<path class="chart-axis" d="M{} {}H{}" fill="none" stroke="currentColor"/>"#,
        num(left),
        num(base),
        num(WIDTH - right)
    );
    push_x_labels(&mut out, bars.iter().map(|b| b.label.as_str()), x, slot, label_y);
    out.push_str("</svg>");
    out
}

/// Horizontal bars from zero, one row per stage: the label on the left, the
/// value (and the note, e.g. "median 12 d") right of the bar.
pub fn funnel(frame: &Frame, bars: &[Bar]) -> String {
    let values: Vec<Option<f64>> = bars.iter().map(|b| finite(Some(b.value))).collect();
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    if present.is_empty() {
        return empty(frame, "funnel");
    }
    let unit = frame.unit;
    let texts: Vec<String> = bars.iter().zip(&values).map(|(b, v)| with_note(&value_text(*v, unit), b.note.as_deref())).collect();
    let text_w = (texts.iter().map(|t| t.chars().count()).max().unwrap_or(0) as f64 * CHAR_W + 12.0).clamp(48.0, 260.0);
    let bar_max = WIDTH - LABEL_COL - text_w - 8.0;
    let max = present.iter().fold(0.0_f64, |m, v| m.max(*v));
    let (top, row_h) = (8.0, 30.0);
    let height = top + bars.len() as f64 * row_h + 8.0;

    let summary = summary_of(bars, &values, unit);
    let mut out = open(frame, "funnel", height, &summary);
    for (i, ((b, v), text)) in bars.iter().zip(&values).zip(&texts).enumerate() {
        let cy = top + (i as f64 + 0.5) * row_h;
        open_mark(&mut out, &b.label, text);
        push_text(&mut out, "chart-label", LABEL_COL - 8.0, cy, "end", &shorten(&b.label, ROW_LABEL_CHARS));
        let w = v.map_or(0.0, |v| frac(v.max(0.0), 0.0, max) * bar_max);
        if v.is_some() {
            let _ = write!(out, r#"<rect class="chart-bar" x="{}" y="{}" width="{}" height="18"/>"#, num(LABEL_COL), num(cy - 9.0), num(w));
        }
        let class = if v.is_some() { "chart-value" } else { "chart-value chart-missing" };
        push_text(&mut out, class, LABEL_COL + w + 6.0, cy, "start", text);
        out.push_str("</g>");
    }
    let _ = write!(
        out,
        r#"<path class="chart-axis" d="M{} {}V{}" fill="none" stroke="currentColor"/>"#,
        num(LABEL_COL),
        num(top),
        num(height - 8.0)
    );
    out.push_str("</svg>");
    out
}

/// One horizontal box plot per group: whiskers from min to max, a box from
/// the 25th to the 75th percentile, a line at the median; the median and the
/// number of samples are printed right of the row. The axis starts at zero
/// unless samples are negative (the charts show durations and counts).
pub fn distribution(frame: &Frame, groups: &[Group]) -> String {
    let stats: Vec<Option<Spread>> = groups.iter().map(|g| g.spread.clone().filter(Spread::is_finite)).collect();
    let present: Vec<&Spread> = stats.iter().flatten().collect();
    if present.is_empty() {
        return empty(frame, "distribution");
    }
    let unit = frame.unit;
    let lo = present.iter().fold(0.0_f64, |m, s| m.min(s.min));
    let hi = present.iter().fold(0.0_f64, |m, s| m.max(s.max));
    let (lo, hi) = if hi > lo { (lo, hi) } else { (lo, lo + 1.0) };
    let texts: Vec<String> = stats
        .iter()
        .map(|s| match s {
            Some(s) => format!("median {} · n {}", with_unit(s.median, unit), s.n),
            None => NO_DATA.to_string(),
        })
        .collect();
    let text_w = (texts.iter().map(|t| t.chars().count()).max().unwrap_or(0) as f64 * CHAR_W + 12.0).clamp(60.0, 220.0);
    let x0 = LABEL_COL;
    let x1 = WIDTH - text_w - 8.0;
    let x = |v: f64| x0 + frac(v, lo, hi) * (x1 - x0);
    let (top, row_h) = (8.0, 40.0);
    let axis_y = top + groups.len() as f64 * row_h;
    let height = axis_y + 28.0;
    let unit_in_ticks = unit.trim().chars().count() <= 2;

    let summary = groups
        .iter()
        .zip(&stats)
        .map(|(g, s)| match s {
            Some(s) => format!("{} {}", one_line(&g.label), s.describe(unit)),
            None => format!("{} {NO_DATA}", one_line(&g.label)),
        })
        .collect::<Vec<_>>()
        .join("; ")
        + ".";
    let mut out = open(frame, "distribution", height, &summary);
    for i in 0..=4 {
        let v = lo + (hi - lo) * f64::from(i) / 4.0;
        let tx = x(v);
        let _ = write!(out, r#"<line class="chart-grid" x1="{}" y1="{}" x2="{}" y2="{}"/>"#, num(tx), num(top), num(tx), num(axis_y));
        let text = if unit_in_ticks { with_unit(v, unit) } else { format_number(v) };
        push_text(&mut out, "chart-label chart-tick", tx, axis_y + 14.0, "middle", &text);
    }
    if !unit_in_ticks && !unit.trim().is_empty() {
        push_text(&mut out, "chart-label chart-unit", x1 + 8.0, axis_y + 14.0, "start", unit.trim());
    }
    let _ = write!(out, r#"<path class="chart-axis" d="M{} {}H{}" fill="none" stroke="currentColor"/>"#, num(x0), num(axis_y), num(x1));
    for (i, ((g, s), text)) in groups.iter().zip(&stats).zip(&texts).enumerate() {
        let cy = top + (i as f64 + 0.5) * row_h;
        let tip = match s {
            Some(s) => s.describe(unit),
            None => NO_DATA.to_string(),
        };
        open_mark(&mut out, &g.label, &tip);
        push_text(&mut out, "chart-label", LABEL_COL - 8.0, cy, "end", &shorten(&g.label, ROW_LABEL_CHARS));
        if let Some(s) = s {
            let (a, b) = (x(s.min), x(s.max));
            let _ = write!(
                out,
                concat!(
                    r#"<path class="chart-whisker" d="M{a} {y}H{b}M{a} {t}V{u}M{b} {t}V{u}" fill="none" stroke="currentColor"/>"#,
                    r#"<rect class="chart-box" x="{bx}" y="{t2}" width="{bw}" height="20"/>"#,
                    r#"<path class="chart-median" d="M{m} {t2}V{u2}" fill="none" stroke="currentColor"/>"#,
                ),
                a = num(a),
                b = num(b),
                y = num(cy),
                t = num(cy - 6.0),
                u = num(cy + 6.0),
                bx = num(x(s.p25)),
                bw = num((x(s.p75) - x(s.p25)).max(1.5)),
                t2 = num(cy - 10.0),
                u2 = num(cy + 10.0),
                m = num(x(s.median)),
            );
        }
        let class = if s.is_some() { "chart-value chart-median-value" } else { "chart-value chart-missing" };
        push_text(&mut out, class, x1 + 8.0, cy, "start", text);
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

/// The `q` quantile (0 to 1, clamped) of ascending finite values, linearly
/// interpolated between the two nearest ranks (as spreadsheets' PERCENTILE
/// and numpy's default); `None` when empty or `q` is not finite.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !q.is_finite() {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let i = h.floor() as usize;
    let f = h - i as f64;
    let j = (i + 1).min(sorted.len() - 1);
    if f == 0.0 {
        Some(sorted[i])
    } else {
        Some(sorted[i] + (sorted[j] - sorted[i]) * f)
    }
}

/// The finite values, ascending: the input [`quantile`] expects.
pub fn sorted_finite(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// A number as the charts print it: integers without ".0", otherwise one
/// decimal; "–" for NaN and infinities.
pub fn format_number(v: f64) -> String {
    if !v.is_finite() {
        return "–".to_string();
    }
    if v.abs() >= 1e15 {
        return format!("{v:.0}");
    }
    let r = (v * 10.0).round() / 10.0;
    if r == 0.0 {
        "0".to_string()
    } else if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

// ---------------------------------------------------------------------------
// Building blocks

/// How values fit above their marks: with their unit, as bare numbers, or
/// only rotated a quarter turn (many narrow slots).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fit {
    Unit,
    Plain,
    Rotated,
}

impl Fit {
    fn of(values: &[f64], unit: &str, slot: f64) -> Fit {
        let widest = |u: &str| values.iter().map(|v| (format_number(*v) + u).chars().count()).max().unwrap_or(0) as f64 * CHAR_W + 6.0;
        if widest(unit) <= slot {
            Fit::Unit
        } else if widest("") <= slot {
            Fit::Plain
        } else {
            Fit::Rotated
        }
    }
}

/// The five-number summary of one group (its finite samples).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub n: usize,
    pub min: f64,
    pub p25: f64,
    pub median: f64,
    pub p75: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(values: &[f64]) -> Option<Spread> {
        let s = sorted_finite(values);
        Some(Spread {
            n: s.len(),
            min: *s.first()?,
            p25: quantile(&s, 0.25)?,
            median: quantile(&s, 0.5)?,
            p75: quantile(&s, 0.75)?,
            max: *s.last()?,
        })
    }

    /// A summary that came from elsewhere (a snapshot) is drawn only if every figure is a number.
    fn is_finite(&self) -> bool {
        self.n > 0 && [self.min, self.p25, self.median, self.p75, self.max].iter().all(|v| v.is_finite())
    }

    fn describe(&self, unit: &str) -> String {
        format!(
            "median {} (n {}, min {}, 25th percentile {}, 75th percentile {}, max {})",
            with_unit(self.median, unit),
            self.n,
            with_unit(self.min, unit),
            with_unit(self.p25, unit),
            with_unit(self.p75, unit),
            with_unit(self.max, unit)
        )
    }
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|v| v.is_finite())
}

/// Coordinates: at most one decimal, so the output stays small.
fn num(v: f64) -> String {
    if v.is_finite() {
        format_number(v)
    } else {
        "0".to_string()
    }
}

fn with_unit(v: f64, unit: &str) -> String {
    format!("{}{unit}", format_number(v))
}

fn value_text(v: Option<f64>, unit: &str) -> String {
    v.map_or_else(|| NO_DATA.to_string(), |v| with_unit(v, unit))
}

fn with_note(text: &str, note: Option<&str>) -> String {
    match note.map(str::trim).filter(|n| !n.is_empty()) {
        Some(note) => format!("{text} ({note})"),
        None => text.to_string(),
    }
}

/// Characters of the widest bare number.
fn plain_chars(values: &[f64]) -> usize {
    values.iter().map(|v| format_number(*v).chars().count()).max().unwrap_or(1)
}

/// Where `v` lies between `lo` (0) and `hi` (1), clamped; 0 when undefined.
fn frac(v: f64, lo: f64, hi: f64) -> f64 {
    let t = (v - lo) / (hi - lo);
    if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// The y range: the given bounds when they are finite, the data's otherwise;
/// never empty (equal bounds are widened by one each way).
fn y_range(y_min: f64, y_max: f64, data: impl Iterator<Item = f64>) -> (f64, f64) {
    let (dlo, dhi) = data.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let lo = if y_min.is_finite() { y_min } else { dlo };
    let hi = if y_max.is_finite() { y_max } else { dhi };
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    if !lo.is_finite() || !hi.is_finite() {
        (0.0, 1.0)
    } else if hi > lo {
        (lo, hi)
    } else {
        (lo - 1.0, hi + 1.0)
    }
}

/// Text for SVG content and attribute values: the five XML specials escaped,
/// control characters (invalid in XML, or line breaks) turned into spaces.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A label on one line, for the description.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters, the last one "…" when cut.
fn shorten(s: &str, max: usize) -> String {
    let s = one_line(s);
    if s.chars().count() <= max {
        s
    } else {
        s.chars().take(max.saturating_sub(1)).chain(std::iter::once('…')).collect()
    }
}

/// An id usable in `aria-labelledby` (space separated) and in CSS.
fn element_id(id: &str) -> String {
    let id: String = id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    if id.is_empty() {
        "chart".to_string()
    } else {
        id
    }
}

fn desc_text(description: &str, summary: &str) -> String {
    let d = description.trim();
    if d.is_empty() {
        summary.to_string()
    } else if d.ends_with(['.', '!', '?', ':']) {
        format!("{d} {summary}")
    } else {
        format!("{d}. {summary}")
    }
}

/// "Jan 12 versions (median 12 d), Feb no data."
fn summary_of(bars: &[Bar], values: &[Option<f64>], unit: &str) -> String {
    bars.iter()
        .zip(values)
        .map(|(b, v)| format!("{} {}", one_line(&b.label), with_note(&value_text(*v, unit), b.note.as_deref().map(one_line).as_deref())))
        .collect::<Vec<_>>()
        .join(", ")
        + "."
}

/// The root element with its title and description, left open.
fn open(frame: &Frame, kind: &str, height: f64, summary: &str) -> String {
    let id = element_id(frame.id);
    let mut out = String::with_capacity(4096);
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {} {}" class="chart chart-{kind}"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        num(WIDTH),
        num(height),
        esc(frame.title),
        esc(&desc_text(frame.description, summary))
    );
    out
}

/// A chart without data: still a labelled image, saying so.
fn empty(frame: &Frame, kind: &str) -> String {
    let height = 120.0;
    let mut out = open(frame, kind, height, &format!("{EMPTY_TEXT}."));
    push_text(&mut out, "chart-empty", WIDTH / 2.0, height / 2.0, "middle", EMPTY_TEXT);
    out.push_str("</svg>");
    out
}

/// Opens a mark's group with its tooltip, "label: value"; close with `</g>`.
fn open_mark(out: &mut String, label: &str, value: &str) {
    let _ = write!(out, r#"<g class="chart-mark"><title>{}: {}</title>"#, esc(&one_line(label)), esc(value));
}

/// Text centred vertically on `y`.
fn push_text(out: &mut String, class: &str, x: f64, y: f64, anchor: &str, content: &str) {
    let _ = write!(out, r#"<text class="{class}" x="{}" y="{}" text-anchor="{anchor}" dy=".35em">{}</text>"#, num(x), num(y), esc(content));
}

/// Text turned a quarter turn anticlockwise about (x, y), reading upwards.
fn push_rotated(out: &mut String, class: &str, x: f64, y: f64, anchor: &str, content: &str) {
    let (x, y) = (num(x), num(y));
    let _ = write!(
        out,
        r#"<text class="{class}" x="{x}" y="{y}" text-anchor="{anchor}" dy=".35em" transform="rotate(-90 {x} {y})">{}</text>"#,
        esc(content)
    );
}

/// Every `k`-th x label, with `k` such that labels `slot` apart do not overlap.
fn push_x_labels<'l>(out: &mut String, labels: impl Iterator<Item = &'l str> + Clone, x: impl Fn(usize) -> f64, slot: f64, y: f64) {
    let chars = labels.clone().map(|l| shorten(l, X_LABEL_CHARS).chars().count()).max().unwrap_or(0);
    let need = chars as f64 * CHAR_W + 14.0;
    let step = if slot > 0.0 { (need / slot).ceil().max(1.0) as usize } else { 1 };
    for (i, label) in labels.enumerate().filter(|(i, _)| i % step == 0) {
        push_text(out, "chart-label", x(i), y, "middle", &shorten(label, X_LABEL_CHARS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: Frame<'static> = Frame { id: "c1", title: "Versions", description: "Versions published per month", unit: " versions" };

    /// Checks that every element opened is closed in order, that tags and
    /// attribute quotes are complete, that text holds no raw `<`/`>` and that
    /// every `&` starts one of the entities we write; one root `<svg>`.
    fn assert_well_formed(svg: &str) {
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"), "{svg}");
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        let check_text = |text: &str| {
            assert!(!text.contains('>'), "raw > in {text:?}");
            for (i, _) in text.match_indices('&') {
                let tail = &text[i..];
                assert!(["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"].iter().any(|e| tail.starts_with(e)), "bad entity in {text:?}");
            }
        };
        while let Some(start) = rest.find('<') {
            check_text(&rest[..start]);
            assert!(!stack.is_empty() || start == 0, "text outside the root: {rest}");
            let after = &rest[start + 1..];
            let mut in_quote = false;
            let end = after
                .char_indices()
                .find(|&(_, c)| {
                    if c == '"' {
                        in_quote = !in_quote;
                    }
                    !in_quote && c == '>'
                })
                .map(|(i, _)| i)
                .expect("unterminated tag");
            let tag = &after[..end];
            assert!(!tag.contains('<'), "< inside tag {tag}");
            for (i, part) in tag.split('"').enumerate() {
                if i % 2 == 1 {
                    check_text(part);
                }
            }
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name.trim()), "mismatched </{name}>");
                if stack.is_empty() {
                    assert_eq!(&after[end + 1..], "", "content after the root");
                }
            } else {
                let name = tag.split_whitespace().next().unwrap().trim_end_matches('/').to_string();
                assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()), "bad tag {tag}");
                if stack.is_empty() {
                    assert_eq!(name, "svg");
                }
                if !tag.ends_with('/') {
                    stack.push(name);
                }
            }
            rest = &after[end + 1..];
        }
        assert!(rest.is_empty() && stack.is_empty(), "unclosed {stack:?}");
    }

    /// The contents of the `<text>` elements.
    fn texts(svg: &str) -> Vec<&str> {
        svg.split("<text ").skip(1).map(|t| &t[t.find('>').unwrap() + 1..t.find("</text>").unwrap()]).collect()
    }

    /// The texts with exactly this class.
    fn texts_of_class<'s>(svg: &'s str, class: &str) -> Vec<&'s str> {
        let needle = format!(r#"class="{class}" "#);
        svg.split("<text ")
            .skip(1)
            .filter(|t| t.starts_with(&needle))
            .map(|t| &t[t.find('>').unwrap() + 1..t.find("</text>").unwrap()])
            .collect()
    }

    fn desc(svg: &str) -> &str {
        let start = svg.find("<desc").unwrap();
        let start = start + svg[start..].find('>').unwrap() + 1;
        &svg[start..start + svg[start..].find("</desc>").unwrap()]
    }

    fn points(values: &[Option<f64>]) -> Vec<Point> {
        values.iter().enumerate().map(|(i, v)| Point::new(format!("W{}", i + 1), *v)).collect()
    }

    fn months(values: &[f64]) -> Vec<Bar> {
        values.iter().enumerate().map(|(i, v)| Bar::new(format!("M{}", i + 1), *v)).collect()
    }

    /// One chart of each kind from the same kind of data.
    fn all_kinds(label: &str, values: &[f64]) -> Vec<(&'static str, String)> {
        let frame = Frame { unit: " d", ..FRAME };
        let pts: Vec<Point> = values.iter().map(|v| Point::new(label, Some(*v))).collect();
        let bs: Vec<Bar> = values.iter().map(|v| Bar::new(label, *v)).collect();
        let groups = vec![Group::new(label, values.to_vec())];
        vec![
            ("line", line(&frame, &pts, 0.0, 100.0, Some(90.0))),
            ("bars", bars(&frame, &bs)),
            ("funnel", funnel(&frame, &bs)),
            ("distribution", distribution(&frame, &groups)),
        ]
    }

    #[test]
    fn quantile_interpolates_linearly() {
        let cases: &[(&[f64], f64, Option<f64>)] = &[
            (&[], 0.5, None),
            (&[7.0], 0.0, Some(7.0)),
            (&[7.0], 0.5, Some(7.0)),
            (&[7.0], 1.0, Some(7.0)),
            (&[1.0, 2.0, 3.0], 0.5, Some(2.0)),
            (&[1.0, 2.0, 3.0, 4.0], 0.5, Some(2.5)),
            (&[1.0, 2.0, 3.0, 4.0], 0.0, Some(1.0)),
            (&[1.0, 2.0, 3.0, 4.0], 1.0, Some(4.0)),
            (&[1.0, 2.0, 3.0, 4.0], 0.25, Some(1.75)),
            (&[1.0, 2.0, 3.0, 4.0, 5.0], 0.25, Some(2.0)),
            (&[0.0, 10.0], 0.1, Some(1.0)),
            (&[1.0, 2.0], -1.0, Some(1.0)),
            (&[1.0, 2.0], 2.0, Some(2.0)),
            (&[1.0, 2.0], f64::NAN, None),
        ];
        for (sorted, q, want) in cases {
            let got = quantile(sorted, *q);
            match (got, want) {
                (Some(g), Some(w)) => assert!((g - w).abs() < 1e-9, "quantile({sorted:?}, {q}) = {g}, want {w}"),
                _ => assert_eq!(got, *want, "quantile({sorted:?}, {q})"),
            }
        }
        assert_eq!(sorted_finite(&[3.0, f64::NAN, 1.0, f64::INFINITY, 2.0]), vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn numbers_are_compact() {
        let cases = [
            (12.0, "12"),
            (12.34, "12.3"),
            (12.96, "13"),
            (-0.04, "0"),
            (-3.5, "-3.5"),
            (0.0, "0"),
            (1e20, "100000000000000000000"),
            (f64::NAN, "–"),
            (f64::INFINITY, "–"),
        ];
        for (v, want) in cases {
            assert_eq!(format_number(v), want, "{v}");
        }
        assert_eq!(num(f64::NAN), "0");
    }

    #[test]
    fn hostile_text_is_escaped() {
        let evil = r#"<script>alert("x")</script> & 'Ölfirma' </text></svg>"#;
        let frame = Frame { id: "a b\"<c", title: evil, description: evil, unit: "<u>" };
        let outputs = [
            line(&frame, &[Point::new(evil, Some(1.0))], 0.0, 10.0, Some(5.0)),
            bars(&frame, &[Bar::new(evil, 1.0).with_note(evil)]),
            funnel(&frame, &[Bar::new(evil, 1.0).with_note(evil)]),
            distribution(&frame, &[Group::new(evil, vec![1.0, 2.0])]),
            line(&frame, &[], 0.0, 1.0, None),
        ];
        for svg in outputs {
            assert_well_formed(&svg);
            assert!(!svg.contains("<script"), "{svg}");
            assert!(!svg.contains("<u>"), "{svg}");
            assert!(svg.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;Ölfirma&#39;"), "{svg}");
            assert!(svg.contains(r#"aria-labelledby="a-b--c-title a-b--c-desc""#), "{svg}");
        }
    }

    #[test]
    fn root_is_a_labelled_image() {
        for (kind, svg) in all_kinds("Acme", &[3.0, 5.0]) {
            assert_well_formed(&svg);
            assert!(
                svg.starts_with(
                    r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="c1-title c1-desc" viewBox="0 0 640 "#
                ),
                "{kind}: {svg}"
            );
            assert!(svg.contains(&format!(r#"class="chart chart-{kind}""#)), "{kind}");
            assert!(svg.contains(r#"<title id="c1-title">Versions</title>"#), "{kind}");
            assert!(svg.contains(r#"<desc id="c1-desc">Versions published per month. "#), "{kind}: {svg}");
            // Every mark carries its own tooltip: one title per mark plus the root's.
            let marks = svg.matches(r#"<g class="chart-mark"><title>"#).count();
            let target = usize::from(kind == "line");
            assert_eq!(svg.matches("<title").count(), marks + 1 + target, "{kind}");
        }
    }

    #[test]
    fn every_value_is_printed_and_has_a_tooltip() {
        let svg = bars(&FRAME, &[Bar::new("Jan", 12.0), Bar::new("Feb", 8.5).with_note("median 3 d")]);
        assert_eq!(texts_of_class(&svg, "chart-value"), ["12 versions", "8.5 versions"]);
        assert!(svg.contains("<title>Jan: 12 versions</title>"));
        assert!(svg.contains("<title>Feb: 8.5 versions (median 3 d)</title>"));

        let svg = funnel(&Frame { unit: "", ..FRAME }, &[Bar::new("Prepare", 12.0).with_note("median 12 d"), Bar::new("Publish", 8.0)]);
        assert_eq!(texts_of_class(&svg, "chart-value"), ["12 (median 12 d)", "8"]);
        assert_eq!(texts_of_class(&svg, "chart-label"), ["Prepare", "Publish"]);
        assert!(svg.contains("<title>Prepare: 12 (median 12 d)</title>"));

        let svg = line(&Frame { unit: "%", ..FRAME }, &points(&[Some(92.0), Some(87.5), Some(100.0)]), 0.0, 100.0, Some(90.0));
        assert_eq!(texts_of_class(&svg, "chart-value"), ["92%", "87.5%", "100%"]);
        assert!(svg.contains("<title>W2: 87.5%</title>"));
        assert!(svg.contains(r#"<g class="chart-target"><title>Target: 90%</title>"#));
        assert!(texts(&svg).contains(&"target 90%"));
        assert!(svg.contains(r#"stroke-dasharray="6 4""#));

        let svg =
            distribution(&Frame { unit: " d", ..FRAME }, &[Group::new("Review", vec![4.0, 1.0, 3.0, 2.0]), Group::new("Empty", vec![])]);
        assert_eq!(texts_of_class(&svg, "chart-value chart-median-value"), ["median 2.5 d · n 4"]);
        assert_eq!(texts_of_class(&svg, "chart-value chart-missing"), ["no data"]);
        assert!(svg.contains("<title>Review: median 2.5 d (n 4, min 1 d, 25th percentile 1.8 d, 75th percentile 3.3 d, max 4 d)</title>"));
        assert!(svg.contains("<title>Empty: no data</title>"));
        for class in ["chart-box", "chart-median", "chart-whisker"] {
            assert_eq!(svg.matches(&format!(r#"class="{class}""#)).count(), 1, "{class}");
        }
    }

    #[test]
    fn values_that_do_not_fit_are_shortened_then_rotated() {
        // 12 months: "12 versions" is too wide, so bare numbers and a unit caption.
        let svg = bars(&FRAME, &months(&[12.0; 12]));
        assert_eq!(texts_of_class(&svg, "chart-value").len(), 12);
        assert!(texts_of_class(&svg, "chart-value").iter().all(|t| *t == "12"));
        assert_eq!(texts_of_class(&svg, "chart-label chart-unit"), ["versions"]);
        // 52 weeks: rotated numbers, still all of them.
        let svg = bars(&FRAME, &months(&[123.0; 52]));
        assert_eq!(texts_of_class(&svg, "chart-value chart-value-dense").len(), 52);
        assert_eq!(svg.matches("rotate(-90 ").count(), 52);
        assert_well_formed(&svg);
    }

    #[test]
    fn gaps_split_the_line() {
        let cases: &[(&[Option<f64>], usize, usize)] = &[
            (&[Some(1.0), Some(2.0), Some(3.0)], 1, 2),
            (&[Some(1.0), Some(2.0), None, Some(3.0), Some(4.0)], 2, 2),
            (&[None, Some(1.0), None, Some(2.0), None], 2, 0),
            (&[Some(1.0), Some(f64::NAN), Some(2.0)], 2, 0),
            (&[Some(1.0)], 1, 0),
        ];
        for (values, moves, lines) in cases {
            let svg = line(&FRAME, &points(values), 0.0, 10.0, None);
            assert_well_formed(&svg);
            let d = svg.split(r#"class="chart-line" d=""#).nth(1).unwrap().split('"').next().unwrap();
            assert_eq!(d.matches('M').count(), *moves, "{values:?}: {d}");
            assert_eq!(d.matches('L').count(), *lines, "{values:?}: {d}");
            // Every period keeps its tooltip, with or without data.
            assert_eq!(svg.matches(r#"<g class="chart-mark"><title>"#).count(), values.len());
        }
        let svg = line(&FRAME, &points(&[Some(1.0), None]), 0.0, 10.0, None);
        assert!(svg.contains("<title>W2: no data</title>"));
        assert_eq!(texts_of_class(&svg, "chart-value chart-missing"), ["–"]);
    }

    #[test]
    fn empty_data_says_so() {
        let nan = [f64::NAN, f64::INFINITY];
        let outputs = [
            line(&FRAME, &[], 0.0, 100.0, Some(90.0)),
            line(&FRAME, &points(&[None, Some(f64::NAN)]), 0.0, 100.0, None),
            bars(&FRAME, &[]),
            bars(&FRAME, &months(&nan)),
            funnel(&FRAME, &[]),
            funnel(&FRAME, &months(&nan)),
            distribution(&FRAME, &[]),
            distribution(&FRAME, &[Group::new("A", vec![]), Group::new("B", nan.to_vec())]),
        ];
        for svg in outputs {
            assert_well_formed(&svg);
            assert_eq!(texts(&svg), ["No data yet"], "{svg}");
            assert!(svg.contains(r#"role="img" aria-labelledby="c1-title c1-desc""#));
            assert_eq!(desc(&svg), "Versions published per month. No data yet.");
        }
    }

    #[test]
    fn non_finite_values_are_missing_not_numbers() {
        let bad = [1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 2.0];
        for (kind, svg) in all_kinds("X", &bad) {
            assert_well_formed(&svg);
            for word in ["NaN", "inf"] {
                assert!(!svg.contains(word), "{kind}: {svg}");
            }
        }
        let svg = bars(&FRAME, &months(&bad));
        assert_eq!(texts_of_class(&svg, "chart-value chart-missing").len(), 3);
        assert!(desc(&svg).contains("M2 no data"));
        let svg = distribution(&FRAME, &[Group::new("X", bad.to_vec())]);
        assert!(svg.contains("n 2"), "{svg}");
    }

    #[test]
    fn degenerate_ranges_do_not_divide_by_zero() {
        let p = points(&[Some(5.0), Some(5.0)]);
        let outputs = [
            line(&FRAME, &p, 5.0, 5.0, Some(5.0)),
            line(&FRAME, &p, 10.0, 0.0, None),
            line(&FRAME, &p, f64::NAN, f64::INFINITY, None),
            line(&FRAME, &points(&[Some(0.0)]), 0.0, 0.0, None),
            line(&FRAME, &points(&[Some(f64::MAX), Some(-f64::MAX)]), f64::NAN, f64::NAN, None),
            bars(&FRAME, &months(&[0.0, 0.0])),
            bars(&FRAME, &months(&[-3.0])),
            funnel(&FRAME, &months(&[0.0, 0.0])),
            distribution(&FRAME, &[Group::new("A", vec![0.0, 0.0]), Group::new("B", vec![0.0])]),
            distribution(&FRAME, &[Group::new("A", vec![-2.0, -1.0])]),
        ];
        for svg in outputs {
            assert_well_formed(&svg);
            assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        }
        let svg = bars(&FRAME, &months(&[0.0, 0.0]));
        assert_eq!(texts_of_class(&svg, "chart-value"), ["0 versions", "0 versions"]);
    }

    #[test]
    fn long_label_lists_are_thinned() {
        let values: Vec<Option<f64>> = (0..52).map(|i| Some(80.0 + f64::from(i % 20))).collect();
        let pts: Vec<Point> = values.iter().enumerate().map(|(i, v)| Point::new(format!("2025-W{:02}", i + 1), *v)).collect();
        let svg = line(&Frame { unit: "%", ..FRAME }, &pts, 0.0, 100.0, Some(90.0));
        assert_well_formed(&svg);
        let labels = texts_of_class(&svg, "chart-label");
        assert!(labels.len() > 3 && labels.len() <= 13, "{labels:?}");
        assert_eq!(labels[0], "2025-W01");
        // Labels are evenly spaced: the same step between all of them.
        let weeks: Vec<usize> = labels.iter().filter_map(|l| l.strip_prefix("2025-W")?.parse().ok()).collect();
        let step = weeks[1] - weeks[0];
        assert!(weeks.windows(2).all(|w| w[1] - w[0] == step), "{weeks:?}");
        // ... but every point keeps its tooltip and its printed value.
        assert_eq!(svg.matches(r#"<g class="chart-mark"><title>2025-W"#).count(), 52);
        assert_eq!(texts_of_class(&svg, "chart-value chart-value-dense").len(), 52);
        // Few points: every label.
        let svg = line(&FRAME, &points(&[Some(1.0); 6]), 0.0, 2.0, None);
        assert_eq!(texts_of_class(&svg, "chart-label").len(), 6);
        // Long labels are cut on screen, whole in the tooltip.
        let long = "A very long partner name indeed, Inc.";
        let svg = funnel(&FRAME, &[Bar::new(long, 1.0)]);
        assert_eq!(texts_of_class(&svg, "chart-label"), ["A very long partner …"]);
        assert!(svg.contains(&format!("<title>{long}: 1 versions</title>")));
    }

    #[test]
    fn a_summarised_group_draws_like_its_samples() {
        let samples = [4.0, 1.0, 3.0, 2.0, f64::NAN];
        let spread = Spread::of(&samples).expect("finite samples");
        assert_eq!(spread, Spread { n: 4, min: 1.0, p25: 1.75, median: 2.5, p75: 3.25, max: 4.0 });
        assert_eq!(
            distribution(&FRAME, &[Group::summarised("A", Some(spread.clone()))]),
            distribution(&FRAME, &[Group::new("A", samples.to_vec())])
        );
        // From a snapshot that was tampered with or written by another version: not a number is no data.
        let broken = Spread { median: f64::NAN, ..spread };
        assert_eq!(distribution(&FRAME, &[Group::summarised("A", Some(broken))]), distribution(&FRAME, &[Group::new("A", vec![])]));
        assert_eq!(Spread::of(&[]), None);
    }

    #[test]
    fn description_ends_with_all_values() {
        let svg = funnel(&Frame { unit: "", ..FRAME }, &[Bar::new("Prepare", 12.0), Bar::new("Publish", 8.0).with_note("median 3 d")]);
        assert_eq!(desc(&svg), "Versions published per month. Prepare 12, Publish 8 (median 3 d).");

        let frame = Frame { description: "Weekly compliance.", unit: "%", ..FRAME };
        let svg = line(&frame, &points(&[Some(92.0), None, Some(88.25)]), 0.0, 100.0, Some(90.0));
        assert_eq!(desc(&svg), "Weekly compliance. W1 92%, W2 no data, W3 88.3%. Target 90%.");

        let svg = bars(&Frame { description: "", ..FRAME }, &months(&[3.0, 0.0]));
        assert_eq!(desc(&svg), "M1 3 versions, M2 0 versions.");

        let svg = distribution(&Frame { unit: " d", ..FRAME }, &[Group::new("Review", vec![2.0, 4.0]), Group::new("Build", vec![])]);
        assert_eq!(
            desc(&svg),
            "Versions published per month. Review median 3 d (n 2, min 2 d, 25th percentile 2.5 d, 75th percentile 3.5 d, max 4 d); Build no data."
        );

        let many: Vec<f64> = (1..=30).map(f64::from).collect();
        let svg = bars(&FRAME, &months(&many));
        for (i, v) in many.iter().enumerate() {
            assert!(desc(&svg).contains(&format!("M{} {} versions", i + 1, v)), "{v}");
        }
    }

    #[test]
    fn output_is_deterministic_and_compact() {
        let pts = points(&[Some(1.0 / 3.0), Some(2.0 / 3.0), None, Some(0.123456)]);
        let a = line(&FRAME, &pts, 0.0, 1.0, Some(0.5));
        assert_eq!(a, line(&FRAME, &pts, 0.0, 1.0, Some(0.5)));
        // Attribute numbers have at most one decimal (`dy` is in em).
        let pieces: Vec<&str> = a.split('"').collect();
        for (name, attr) in
            pieces.iter().zip(pieces.iter().skip(1)).step_by(2).map(|(n, v)| (n.trim_end_matches('=').rsplit(' ').next(), v))
        {
            if name == Some("dy") {
                continue;
            }
            for word in attr.split(|c: char| !(c.is_ascii_digit() || c == '.')) {
                if let Some((_, decimals)) = word.split_once('.') {
                    assert!(decimals.len() <= 1, "{attr}");
                }
            }
        }
    }
}
