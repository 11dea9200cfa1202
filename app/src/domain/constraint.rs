//! Provider version constraints with Terraform's semantics
//! (`shared/spec/registry.md` §2): comma-separated conditions that must all
//! hold, `~>` pessimistic ranges, and prereleases that only an exact
//! condition can select.

use std::cmp::Ordering;
use std::fmt;

/// A semantic version as registries publish them (`1.2.3`, `1.2.3-beta.1`).
/// Build metadata (`+…`) is kept for display but ignored when comparing.
#[derive(Debug, Clone, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub prerelease: Vec<String>,
    pub build: String,
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| compare_prerelease(&self.prerelease, &other.prerelease))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Semver precedence: a release sorts after its prereleases; numeric
/// identifiers compare as numbers and before alphanumeric ones.
fn compare_prerelease(a: &[String], b: &[String]) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    for (x, y) in a.iter().zip(b) {
        let ord = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(m), Ok(n)) => m.cmp(&n),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.len().cmp(&b.len())
}

impl Version {
    pub fn is_prerelease(&self) -> bool {
        !self.prerelease.is_empty()
    }

    /// Parses a full version as a registry reports it (three parts required).
    pub fn parse(s: &str) -> Result<Self, ConstraintError> {
        let (v, given) = parse_partial(s.trim())?;
        if given < 3 {
            return Err(ConstraintError(format!("\"{s}\" is not a full version: expected MAJOR.MINOR.PATCH")));
        }
        Ok(v)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if self.is_prerelease() {
            write!(f, "-{}", self.prerelease.join("."))?;
        }
        if !self.build.is_empty() {
            write!(f, "+{}", self.build)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    /// `~>`: only the rightmost given component may grow.
    Pessimistic,
}

/// One condition, e.g. `>= 1.2.0`; `given` remembers how many version
/// components the user wrote, which `~>` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub op: Op,
    pub version: Version,
    pub given: usize,
}

/// All conditions must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraints(pub Vec<Condition>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConstraintError(pub String);

fn fail<T>(msg: impl Into<String>) -> Result<T, ConstraintError> {
    Err(ConstraintError(msg.into()))
}

/// Parses `MAJOR[.MINOR[.PATCH]][-pre][+build]`; returns the number of
/// numeric components given.
fn parse_partial(s: &str) -> Result<(Version, usize), ConstraintError> {
    if s.is_empty() {
        return fail("a version is missing");
    }
    if s.starts_with('v') || s.starts_with('V') {
        return fail(format!("\"{s}\": remove the \"v\" prefix (write {})", &s[1..]));
    }
    let (rest, build) = match s.split_once('+') {
        Some((r, b)) => (r, b.to_string()),
        None => (s, String::new()),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 {
        return fail(format!("\"{s}\" has {} numeric parts; a version has at most three (MAJOR.MINOR.PATCH)", parts.len()));
    }
    let mut nums = [0u64; 3];
    for (i, p) in parts.iter().enumerate() {
        if matches!(*p, "*" | "x" | "X") {
            let prefix = parts[..i].join(".");
            let hint = if prefix.is_empty() { "1.0".to_string() } else { format!("{prefix}.0") };
            return fail(format!("\"{s}\": wildcards are not supported; use ~> (e.g. ~> {hint})"));
        }
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return fail(format!("\"{s}\" is not a version number"));
        }
        if p.len() > 1 && p.starts_with('0') {
            return fail(format!("\"{s}\": version numbers must not have leading zeros"));
        }
        nums[i] = p.parse().map_err(|_| ConstraintError(format!("\"{s}\": number too large")))?;
    }
    let prerelease = match pre {
        None => Vec::new(),
        Some(p) => {
            let ids: Vec<String> = p.split('.').map(str::to_string).collect();
            if ids.iter().any(|id| id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')) {
                return fail(format!("\"{s}\" has an invalid prerelease part"));
            }
            ids
        }
    };
    if !build.is_empty() && !build.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
        return fail(format!("\"{s}\" has invalid build metadata"));
    }
    Ok((Version { major: nums[0], minor: nums[1], patch: nums[2], prerelease, build }, parts.len()))
}

fn parse_condition(raw: &str) -> Result<Condition, ConstraintError> {
    let s = raw.trim();
    if s.is_empty() {
        return fail("an empty condition: remove the extra comma");
    }
    for (bad, good) in [("=>", ">="), ("=<", "<=")] {
        if s.starts_with(bad) {
            return fail(format!("\"{bad}\" is not an operator: did you mean \"{good}\"?"));
        }
    }
    if s.starts_with("==") {
        return fail("\"==\" is not an operator: use \"=\" (or just the version)");
    }
    let ops: [(&str, Op); 7] =
        [("~>", Op::Pessimistic), (">=", Op::Ge), ("<=", Op::Le), ("!=", Op::Ne), (">", Op::Gt), ("<", Op::Lt), ("=", Op::Eq)];
    let (op, rest) = ops.iter().find_map(|(t, op)| s.strip_prefix(t).map(|r| (*op, r))).unwrap_or((Op::Eq, s));
    let rest = rest.trim();
    if let Some(first) = rest.chars().next() {
        if !first.is_ascii_alphanumeric() && first != '*' {
            let token: String = s.chars().take_while(|c| !c.is_ascii_alphanumeric() && !c.is_whitespace()).collect();
            return fail(format!("unknown operator \"{token}\": use one of =, !=, >, >=, <, <=, ~>"));
        }
    }
    if rest.split_whitespace().count() > 1 {
        return fail(format!("\"{s}\" holds more than one condition: separate conditions with commas (e.g. \">= 1.0, < 2.0\")"));
    }
    let (version, given) = parse_partial(rest)?;
    Ok(Condition { op, version, given })
}

impl Constraints {
    pub fn parse(input: &str) -> Result<Self, ConstraintError> {
        let s = input.trim();
        if s.is_empty() {
            return fail("enter a version constraint, e.g. ~> 2.0");
        }
        if s.contains("||") {
            return fail("\"||\" is not supported: Terraform constraints are all-of, separated by commas");
        }
        if s.contains(" - ") {
            return fail("ranges with \"-\" are not supported: write \">= A, <= B\"");
        }
        let mut out: Vec<Condition> = Vec::new();
        for part in s.split(',') {
            let c = parse_condition(part)?;
            if !out.iter().any(|o| o.to_string() == c.to_string()) {
                out.push(c);
            }
        }
        Ok(Self(out))
    }

    /// A prerelease is selected only by an exact condition naming it; ranges
    /// never match prereleases.
    pub fn matches(&self, v: &Version) -> bool {
        if v.is_prerelease() && !self.0.iter().any(|c| c.op == Op::Eq && c.version == *v) {
            return false;
        }
        self.0.iter().all(|c| c.matches(v))
    }
}

impl Condition {
    fn matches(&self, v: &Version) -> bool {
        let c = &self.version;
        match self.op {
            Op::Eq => v == c,
            Op::Ne => v != c,
            Op::Gt => v > c,
            Op::Ge => v >= c,
            Op::Lt => v < c,
            Op::Le => v <= c,
            Op::Pessimistic => {
                if v < c {
                    return false;
                }
                // The component before the rightmost given one stays fixed.
                match self.given {
                    1 | 2 => v.major == c.major,
                    _ => v.major == c.major && v.minor == c.minor,
                }
            }
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = &self.version;
        let op = match self.op {
            Op::Eq => return write!(f, "{v}"),
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Pessimistic => {
                // `~>` keeps the user's precision, but never a bare major.
                let pre = if v.is_prerelease() { format!("-{}", v.prerelease.join(".")) } else { String::new() };
                return match self.given {
                    1 | 2 => write!(f, "~> {}.{}{pre}", v.major, v.minor),
                    _ => write!(f, "~> {}.{}.{}{pre}", v.major, v.minor, v.patch),
                };
            }
        };
        write!(f, "{op} {v}")
    }
}

impl fmt::Display for Constraints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "{}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (constraint, canonical form, versions that match, versions that do not)
    const CASES: &[(&str, &str, &[&str], &[&str])] = &[
        ("~> 1.0.4", "~> 1.0.4", &["1.0.4", "1.0.10"], &["1.0.3", "1.1.0", "2.0.0"]),
        ("~> 1.2", "~> 1.2", &["1.2.0", "1.9.9"], &["1.1.9", "2.0.0"]),
        ("~> 1", "~> 1.0", &["1.0.0", "1.99.0"], &["0.9.0", "2.0.0"]),
        ("~> 0.1", "~> 0.1", &["0.1.0", "0.9.0"], &["1.0.0", "0.0.9"]),
        ("~>2.0", "~> 2.0", &["2.0.0", "2.5.1"], &["3.0.0"]),
        (">= 1.0, < 2.0", ">= 1.0.0, < 2.0.0", &["1.0.0", "1.9.9"], &["0.9.9", "2.0.0"]),
        (">=1.0,<2.0", ">= 1.0.0, < 2.0.0", &["1.5.0"], &["2.0.0"]),
        ("!= 1.2.3", "!= 1.2.3", &["1.2.2", "1.2.4"], &["1.2.3"]),
        ("= 1.0", "1.0.0", &["1.0.0"], &["1.0.1", "0.9.0"]),
        ("1.2.0", "1.2.0", &["1.2.0"], &["1.2.1"]),
        ("> 1.0", "> 1.0.0", &["1.0.1", "2.0.0"], &["1.0.0"]),
        ("<= 3", "<= 3.0.0", &["3.0.0", "2.9.9"], &["3.0.1"]),
        (">= 3", ">= 3.0.0", &["3.0.0", "10.0.0"], &["2.99.99"]),
        ("< 2", "< 2.0.0", &["1.99.99"], &["2.0.0"]),
        (">= 1.0, >= 1.0", ">= 1.0.0", &["1.0.0"], &["0.1.0"]),
        (">= 1.0.0, >= 1.0", ">= 1.0.0", &["1.0.0"], &[]),
        ("~> 2.0, != 2.3.1", "~> 2.0, != 2.3.1", &["2.3.0", "2.3.2"], &["2.3.1", "3.0.0"]),
        // prereleases: only an exact condition selects one
        ("= 1.2.0-beta", "1.2.0-beta", &["1.2.0-beta"], &["1.2.0", "1.2.0-beta.2"]),
        (">= 1.0", ">= 1.0.0", &["1.2.0"], &["1.2.0-beta", "2.0.0-rc.1"]),
        ("~> 1.2", "~> 1.2", &[], &["1.3.0-alpha"]),
        ("1.2.0-rc.1, >= 1.0", "1.2.0-rc.1, >= 1.0.0", &["1.2.0-rc.1"], &["1.2.0-rc.2"]),
        ("~> 1.2.0-beta", "~> 1.2.0-beta", &["1.2.0", "1.2.5"], &["1.3.0", "1.2.0-beta"]),
        ("  >=  1.0 ,  < 1.5  ", ">= 1.0.0, < 1.5.0", &["1.4.9"], &["1.5.0"]),
        ("0.0.1", "0.0.1", &["0.0.1"], &["0.0.2"]),
        ("> 1.0.0-alpha", "> 1.0.0-alpha", &["1.0.0"], &["1.0.0-beta"]),
        ("~> 10.20.30", "~> 10.20.30", &["10.20.99"], &["10.21.0"]),
    ];

    /// (constraint, a fragment the error message must contain)
    const INVALID: &[(&str, &str)] = &[
        ("", "enter a version constraint"),
        ("=> 1.0", "did you mean \">=\""),
        ("=< 1.0", "did you mean \"<=\""),
        ("v1.0.0", "remove the \"v\" prefix"),
        (">= v1.0", "remove the \"v\" prefix"),
        ("1.2.3.4", "4 numeric parts"),
        ("1.*", "wildcards are not supported"),
        ("1.0.x", "wildcards are not supported"),
        ("*", "wildcards are not supported"),
        (">= 1.0 || < 0.5", "\"||\" is not supported"),
        ("1.0 - 2.0", "ranges with \"-\""),
        (">= 1.0 < 2", "separate conditions with commas"),
        ("^1.0", "unknown operator \"^\""),
        ("~1.0", "unknown operator \"~\""),
        ("== 1.0", "\"==\" is not an operator"),
        (">= 1.0,", "empty condition"),
        (", >= 1.0", "empty condition"),
        (">=", "a version is missing"),
        ("1.a", "not a version number"),
        ("01.0", "leading zeros"),
        ("1.0.0-", "invalid prerelease"),
        ("1..0", "not a version number"),
    ];

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn constraints_parse_display_and_match() {
        for (input, canonical, yes, no) in CASES {
            let c = Constraints::parse(input).unwrap_or_else(|e| panic!("{input:?} should parse: {e}"));
            assert_eq!(c.to_string(), *canonical, "canonical form of {input:?}");
            for s in *yes {
                assert!(c.matches(&v(s)), "{input:?} should match {s}");
            }
            for s in *no {
                assert!(!c.matches(&v(s)), "{input:?} should not match {s}");
            }
            // the canonical form means the same thing
            assert_eq!(Constraints::parse(canonical).unwrap().to_string(), *canonical);
        }
    }

    #[test]
    fn bad_constraints_say_what_is_wrong() {
        for (input, fragment) in INVALID {
            match Constraints::parse(input) {
                Ok(c) => panic!("{input:?} should be refused, parsed as {c}"),
                Err(e) => assert!(e.0.contains(fragment), "{input:?}: {:?} lacks {fragment:?}", e.0),
            }
        }
    }

    #[test]
    fn version_ordering_follows_semver() {
        let ordered = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.1.0",
            "2.0.0",
        ];
        for w in ordered.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(v("1.0.0+build.5"), v("1.0.0"));
        assert!(Version::parse("1.0").is_err());
    }
}
