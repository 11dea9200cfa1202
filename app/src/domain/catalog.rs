//! The program's fixed vocabularies (`shared/spec/program.md`): partner kinds,
//! use-case categories, integration kinds, tiers and the stages of each track.
//! Stored as the `key()` strings, shown with `label()`.

use serde::{Deserialize, Serialize};

/// Implements key/label/parse/all for a C-like enum of program terms.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => ($key:literal, $label:literal)),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The stored and API form.
            pub fn key(self) -> &'static str { match self { $($name::$variant => $key),+ } }
            /// The form people read.
            pub fn label(self) -> &'static str { match self { $($name::$variant => $label),+ } }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($key => Some($name::$variant),)+ _ => None }
            }
            /// "a, b or c", for error messages.
            pub fn expected() -> String {
                let keys: Vec<&str> = Self::ALL.iter().map(|v| v.key()).collect();
                match keys.split_last() {
                    Some((last, rest)) if !rest.is_empty() => format!("{} or {}", rest.join(", "), last),
                    _ => keys.join(""),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.label()) }
        }
    };
}
pub(crate) use vocabulary;

vocabulary!(
    /// What a partner builds: providers (infrastructure), run tasks (workflow), or both.
    PartnerKind {
        Infrastructure => ("infrastructure", "Infrastructure"),
        Workflow => ("workflow", "Workflow"),
        Both => ("both", "Infrastructure & workflow"),
    }
);

vocabulary!(
    /// Which track an integration follows.
    IntegrationKind {
        Provider => ("provider", "Provider"),
        RunTask => ("run_task", "Run task"),
    }
);

vocabulary!(
    /// Provider tiers; the public registry calls `verified` "partner".
    Tier {
        Official => ("official", "Official"),
        Verified => ("verified", "Verified"),
        Community => ("community", "Community"),
        Archived => ("archived", "Archived"),
    }
);

vocabulary!(
    /// The stages of both tracks; `Support` ends both.
    Stage {
        Prepare => ("prepare", "Prepare"),
        Publish => ("publish", "Publish"),
        Apply => ("apply", "Apply"),
        Verify => ("verify", "Verify"),
        Engage => ("engage", "Engage"),
        DevelopTest => ("develop_test", "Develop & Test"),
        Review => ("review", "Review"),
        Release => ("release", "Release"),
        Support => ("support", "Support"),
    }
);

impl IntegrationKind {
    /// The stages of this kind's track, in order.
    pub fn track(self) -> &'static [Stage] {
        use Stage::*;
        match self {
            IntegrationKind::Provider => &[Prepare, Publish, Apply, Verify, Support],
            IntegrationKind::RunTask => &[Engage, DevelopTest, Review, Release, Support],
        }
    }

    /// The use-case categories that fit this kind of integration.
    pub fn categories(self) -> &'static [&'static str] {
        match self {
            IntegrationKind::Provider => INFRASTRUCTURE_CATEGORIES,
            IntegrationKind::RunTask => WORKFLOW_CATEGORIES,
        }
    }
}

impl PartnerKind {
    /// Categories a partner of this kind may list (both: the union, in order).
    pub fn categories(self) -> Vec<&'static str> {
        match self {
            PartnerKind::Infrastructure => INFRASTRUCTURE_CATEGORIES.to_vec(),
            PartnerKind::Workflow => WORKFLOW_CATEGORIES.to_vec(),
            PartnerKind::Both => all_categories(),
        }
    }

    /// Whether a partner of this kind may own an integration of `kind`.
    pub fn allows(self, kind: IntegrationKind) -> bool {
        matches!(
            (self, kind),
            (PartnerKind::Both, _)
                | (PartnerKind::Infrastructure, IntegrationKind::Provider)
                | (PartnerKind::Workflow, IntegrationKind::RunTask)
        )
    }
}

pub const WORKFLOW_CATEGORIES: &[&str] =
    &["Code Scanning", "Cost Estimation", "Monitoring", "Zero Trust Security", "Audit", "ITSM", "SSO", "CI/CD", "VCS"];

pub const INFRASTRUCTURE_CATEGORIES: &[&str] = &[
    "Public Cloud",
    "Container Orchestration",
    "IaaS",
    "Security & Authentication",
    "Asset Management",
    "CI/CD",
    "Logging & Monitoring",
    "Utility",
    "Cloud Automation",
    "Data Management",
    "Networking",
    "VCS",
    "Comms & Messaging",
    "Database",
    "PaaS",
    "Web Services",
];

/// Every category once (CI/CD and VCS appear in both lists).
pub fn all_categories() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = INFRASTRUCTURE_CATEGORIES.to_vec();
    for c in WORKFLOW_CATEGORIES {
        if !all.contains(c) {
            all.push(c);
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        for k in Stage::ALL {
            assert_eq!(Stage::parse(k.key()), Some(*k));
        }
        for k in Tier::ALL {
            assert_eq!(Tier::parse(k.key()), Some(*k));
        }
        assert_eq!(PartnerKind::parse("Both"), None);
        assert_eq!(Tier::expected(), "official, verified, community or archived");
    }

    #[test]
    fn tracks_have_five_stages_ending_in_support() {
        for kind in IntegrationKind::ALL {
            let track = kind.track();
            assert_eq!(track.len(), 5);
            assert_eq!(track.last(), Some(&Stage::Support));
        }
        assert_eq!(IntegrationKind::RunTask.track()[1].label(), "Develop & Test");
    }

    #[test]
    fn categories_by_kind() {
        assert_eq!(all_categories().len(), 16 + 9 - 2);
        assert!(PartnerKind::Workflow.categories().contains(&"ITSM"));
        assert!(!PartnerKind::Workflow.categories().contains(&"Public Cloud"));
        assert!(PartnerKind::Both.categories().contains(&"Public Cloud"));
        assert!(PartnerKind::Infrastructure.allows(IntegrationKind::Provider));
        assert!(!PartnerKind::Infrastructure.allows(IntegrationKind::RunTask));
    }
}
