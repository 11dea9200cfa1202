//! Integrations: a partner's provider or run task, where it stands in its
//! track, and the rules for what an integration record may hold.

use super::catalog::{IntegrationKind, PartnerKind, Stage, Tier};
use super::constraint::Constraints;
use super::partner::{validate_categories, validate_name};
use super::source_address::SourceAddress;
use super::{optional, validate_web_url, FieldErrors, Problems};
use serde::{Deserialize, Serialize};

/// An integration as pages and the API show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Integration {
    pub id: i64,
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "provider"))]
    pub kind: IntegrationKind,
    pub name: String,
    pub partner_id: i64,
    pub partner_slug: String,
    pub partner_name: String,
    pub categories: Vec<String>,
    pub repository_url: Option<String>,
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "verified"))]
    pub tier: Tier,
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "publish"))]
    pub stage: Stage,
    /// Fully qualified and normalised, e.g. `registry.terraform.io/acme/cloud`.
    pub source_address: Option<String>,
    /// How people write it: `acme/cloud` on the public registry.
    pub source_address_display: Option<String>,
    /// The provider's page on the public registry, when it is there.
    pub registry_url: Option<String>,
    /// Canonical constraint, e.g. `~> 2.0`.
    pub verified_version_range: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Run tasks: when the Terraform Cloud badge was granted (support
    /// documentation accepted in Release).
    #[serde(default)]
    pub badge_granted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What a form or an API client sends. Raw strings; see `validate`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct IntegrationInput {
    /// provider or run_task
    pub kind: String,
    pub name: String,
    /// The owning partner's slug.
    pub partner: String,
    pub categories: Vec<String>,
    pub repository_url: String,
    /// official, verified, community or archived; default community
    pub tier: String,
    /// A stage of the kind's track; default its first stage
    pub stage: String,
    /// Providers only: `[hostname/]namespace/type`
    pub source_address: String,
    /// Providers only, optional: e.g. `~> 2.0`
    pub verified_version_range: String,
}

impl ValidIntegration {
    pub fn audit_fields(&self) -> super::audit::Fields {
        vec![
            ("name", self.name.clone()),
            ("partner", self.partner.clone()),
            ("categories", super::audit::list(&self.categories)),
            ("repository_url", self.repository_url.clone().unwrap_or_default()),
            ("tier", self.tier.key().to_string()),
            ("stage", self.stage.key().to_string()),
            ("source_address", self.source_address.as_ref().map(|a| a.fully_qualified()).unwrap_or_default()),
            ("verified_version_range", self.verified_version_range.as_ref().map(ToString::to_string).unwrap_or_default()),
        ]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValidIntegration {
    pub kind: IntegrationKind,
    pub name: String,
    pub partner: String,
    pub categories: Vec<String>,
    pub repository_url: Option<String>,
    pub tier: Tier,
    pub stage: Stage,
    pub source_address: Option<SourceAddress>,
    pub verified_version_range: Option<Constraints>,
}

impl Integration {
    pub fn audit_fields(&self) -> super::audit::Fields {
        vec![
            ("name", self.name.clone()),
            ("partner", self.partner_slug.clone()),
            ("categories", super::audit::list(&self.categories)),
            ("repository_url", self.repository_url.clone().unwrap_or_default()),
            ("tier", self.tier.key().to_string()),
            ("stage", self.stage.key().to_string()),
            ("source_address", self.source_address.clone().unwrap_or_default()),
            ("verified_version_range", self.verified_version_range.clone().unwrap_or_default()),
        ]
    }

    pub fn to_input(&self) -> IntegrationInput {
        IntegrationInput {
            kind: self.kind.key().into(),
            name: self.name.clone(),
            partner: self.partner_slug.clone(),
            categories: self.categories.clone(),
            repository_url: self.repository_url.clone().unwrap_or_default(),
            tier: self.tier.key().into(),
            stage: self.stage.key().into(),
            // the display form parses back to the same address
            source_address: self.source_address_display.clone().unwrap_or_default(),
            verified_version_range: self.verified_version_range.clone().unwrap_or_default(),
        }
    }
}

impl IntegrationInput {
    /// `partner_kind` is the owning partner's kind as the store found it, or
    /// `None` when no partner has the given slug.
    pub fn validate(&self, partner_kind: Option<PartnerKind>) -> Result<ValidIntegration, FieldErrors> {
        let mut p = Problems::default();
        let kind = IntegrationKind::parse(self.kind.trim());
        if kind.is_none() {
            p.add("kind", format!("choose a kind: {}", IntegrationKind::expected()));
        }
        let name = validate_name(&mut p, "name", &self.name);
        let partner = self.partner.trim().to_string();
        match (partner_kind, kind) {
            _ if partner.is_empty() => p.add("partner", "choose the partner that owns this integration"),
            (None, _) => p.add("partner", format!("no partner has the slug \"{partner}\"")),
            (Some(pk), Some(k)) if !pk.allows(k) => {
                p.add("partner", format!("a {} partner cannot own a {} integration", pk.key(), k.label().to_lowercase()))
            }
            _ => {}
        }
        let categories = match kind {
            Some(k) => {
                validate_categories(&mut p, k.categories(), &self.categories, true, &format!("{} integrations", k.label().to_lowercase()))
            }
            None => Vec::new(),
        };
        let repository_url = optional(&self.repository_url);
        if let Some(url) = &repository_url {
            if let Err(e) = validate_web_url(url) {
                p.add("repository_url", e);
            }
        }
        let tier = match optional(&self.tier) {
            None => Some(Tier::Community),
            Some(t) => Tier::parse(&t),
        };
        if tier.is_none() {
            p.add("tier", format!("choose a tier: {}", Tier::expected()));
        }
        let stage = match (kind, optional(&self.stage)) {
            (Some(k), None) => Some(k.track()[0]),
            (Some(k), Some(s)) => match Stage::parse(&s) {
                Some(st) if k.track().contains(&st) => Some(st),
                _ => {
                    let keys: Vec<&str> = k.track().iter().map(|s| s.key()).collect();
                    p.add("stage", format!("not a stage of the {} track: choose {}", k.label().to_lowercase(), keys.join(", ")));
                    None
                }
            },
            (None, _) => None,
        };
        let mut source_address = None;
        let mut verified_version_range = None;
        match kind {
            Some(IntegrationKind::Provider) => {
                match SourceAddress::parse(&self.source_address) {
                    Ok(a) => source_address = Some(a),
                    Err(e) => p.add("source_address", e.0),
                }
                if let Some(range) = optional(&self.verified_version_range) {
                    match Constraints::parse(&range) {
                        Ok(c) => verified_version_range = Some(c),
                        Err(e) => p.add("verified_version_range", e.0),
                    }
                }
            }
            Some(IntegrationKind::RunTask) => {
                if optional(&self.source_address).is_some() {
                    p.add("source_address", "only providers have a source address");
                }
                if optional(&self.verified_version_range).is_some() {
                    p.add("verified_version_range", "only providers have a verified version range");
                }
            }
            None => {}
        }
        p.finish(ValidIntegration {
            kind: kind.unwrap_or(IntegrationKind::Provider),
            name,
            partner,
            categories,
            repository_url,
            tier: tier.unwrap_or(Tier::Community),
            stage: stage.unwrap_or(Stage::Prepare),
            source_address,
            verified_version_range,
        })
    }
}

/// What only alliances staff decide in an integration's record, as field
/// errors for anyone else: the tier (a provider becomes verified when staff
/// accept its Verify stage, and loses it on a flag decision) and, when it is
/// added, a stage past the first (the earlier stages' tasks would start
/// accepted, unreviewed). `before` is the tier and stage as stored, `None`
/// for an integration being added.
pub fn staff_decisions(before: Option<(Tier, Stage)>, after: &ValidIntegration) -> FieldErrors {
    let mut p = Problems::default();
    let (tier, first) = match before {
        Some((tier, _)) => (tier, None),
        None => (Tier::Community, after.kind.track().first().copied()),
    };
    if after.tier != tier {
        p.add(
            "tier",
            format!(
                "the tier stays {} unless alliances staff change it: a provider becomes verified when its Verify stage is accepted",
                tier.label().to_lowercase()
            ),
        );
    }
    if let Some(first) = first.filter(|f| after.stage != *f) {
        p.add("stage", format!("a new integration starts in {}; alliances staff can add one that is further along", first.label()));
    }
    p.0
}

/// The integrations list's query string (pages and API alike).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IntegrationQuery {
    pub q: String,
    pub partner: String,
    pub kind: String,
    pub tier: String,
    pub stage: String,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> IntegrationInput {
        IntegrationInput {
            kind: "provider".into(),
            name: "Acme Cloud provider".into(),
            partner: "acme".into(),
            categories: vec!["Public Cloud".into()],
            source_address: "Acme/Cloud".into(),
            verified_version_range: "~>2".into(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_and_normalisation() {
        let v = provider().validate(Some(PartnerKind::Infrastructure)).unwrap();
        assert_eq!(v.tier, Tier::Community);
        assert_eq!(v.stage, Stage::Prepare);
        assert_eq!(v.source_address.unwrap().fully_qualified(), "registry.terraform.io/acme/cloud");
        assert_eq!(v.verified_version_range.unwrap().to_string(), "~> 2.0");
    }

    #[test]
    fn table_of_refusals() {
        let cases: Vec<(fn(&mut IntegrationInput), Option<PartnerKind>, &str, &str)> = vec![
            (|i| i.kind = "module".into(), Some(PartnerKind::Both), "kind", "choose a kind"),
            (|_| {}, None, "partner", "no partner has the slug"),
            (|_| {}, Some(PartnerKind::Workflow), "partner", "cannot own a provider"),
            (|i| i.partner = "".into(), None, "partner", "choose the partner"),
            (|i| i.categories = vec![], Some(PartnerKind::Both), "categories", "at least one"),
            (|i| i.categories = vec!["ITSM".into()], Some(PartnerKind::Both), "categories", "not a category for provider"),
            (|i| i.source_address = "example.com/bad.ns/x".into(), Some(PartnerKind::Both), "source_address", "contains a dot"),
            (|i| i.source_address = "".into(), Some(PartnerKind::Both), "source_address", "enter a source address"),
            (|i| i.verified_version_range = "=> 2".into(), Some(PartnerKind::Both), "verified_version_range", ">="),
            (|i| i.tier = "partner".into(), Some(PartnerKind::Both), "tier", "choose a tier"),
            (|i| i.stage = "review".into(), Some(PartnerKind::Both), "stage", "not a stage of the provider track"),
            (|i| i.repository_url = "github.com/acme".into(), Some(PartnerKind::Both), "repository_url", "https://"),
            (|i| i.name = "x".repeat(121), Some(PartnerKind::Both), "name", "at most 120"),
        ];
        for (change, pk, field, fragment) in cases {
            let mut input = provider();
            change(&mut input);
            let errors = input.validate(pk).expect_err(field);
            let messages = errors.get(field).unwrap_or_else(|| panic!("no error on {field}: {errors:?}"));
            assert!(messages.iter().any(|m| m.contains(fragment)), "{field}: {messages:?} lacks {fragment:?}");
        }
    }

    #[test]
    fn what_only_staff_decide() {
        let valid = |tier: Tier, stage: Stage| ValidIntegration { tier, stage, ..provider().validate(Some(PartnerKind::Both)).unwrap() };
        // (stored tier and stage, or a new one; what is asked for; fields refused)
        let cases: &[(Option<(Tier, Stage)>, Tier, Stage, &[&str])] = &[
            (None, Tier::Community, Stage::Prepare, &[]),
            (None, Tier::Verified, Stage::Prepare, &["tier"]),
            (None, Tier::Community, Stage::Support, &["stage"]),
            (None, Tier::Official, Stage::Verify, &["stage", "tier"]),
            (Some((Tier::Verified, Stage::Support)), Tier::Verified, Stage::Support, &[]),
            (Some((Tier::Community, Stage::Publish)), Tier::Verified, Stage::Publish, &["tier"]),
            (Some((Tier::Verified, Stage::Support)), Tier::Community, Stage::Support, &["tier"]),
            // The stage of a tracked integration moves with its pipeline, not here.
            (Some((Tier::Community, Stage::Publish)), Tier::Community, Stage::Publish, &[]),
        ];
        for (before, tier, stage, refused) in cases {
            let fields = staff_decisions(*before, &valid(*tier, *stage));
            let keys: Vec<&str> = fields.keys().map(String::as_str).collect();
            assert_eq!(keys, *refused, "{before:?} → {tier:?} {stage:?}");
        }
    }

    #[test]
    fn run_tasks_have_no_source_address() {
        let mut i = provider();
        i.kind = "run_task".into();
        i.categories = vec!["Code Scanning".into()];
        let errors = i.validate(Some(PartnerKind::Both)).unwrap_err();
        assert!(errors.contains_key("source_address"));
        assert!(errors.contains_key("verified_version_range"));
        i.source_address.clear();
        i.verified_version_range.clear();
        let v = i.validate(Some(PartnerKind::Workflow)).unwrap();
        assert_eq!(v.stage, Stage::Engage);
    }
}
