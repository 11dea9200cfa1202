//! Partners: organisations in the technology partner program, and the rules
//! for what a partner record may hold.

use super::catalog::PartnerKind;
use super::slug::{slugify, validate_slug};
use super::source_address::SourceAddress;
use super::{optional, validate_email, FieldErrors, Problems};
use serde::{Deserialize, Serialize};

/// A person to contact for support questions on a partner's integrations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Contact {
    pub name: String,
    pub email: String,
}

/// A partner as pages and the API show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Partner {
    pub id: i64,
    pub slug: String,
    pub name: String,
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "infrastructure"))]
    pub kind: PartnerKind,
    pub categories: Vec<String>,
    pub support_contacts: Vec<Contact>,
    pub github_org: Option<String>,
    /// Members of `github_org` who sign in with GitHub join as partner members.
    pub github_auto_join: bool,
    /// GitHub's numeric id of `github_org`, looked up when auto-join is
    /// switched on: members are matched on it, as a login can be renamed
    /// and then registered by somebody else.
    pub github_org_id: Option<i64>,
    pub registry_namespace: Option<String>,
    /// A plain name/email until sign-in lands; then a reviewer account.
    pub alliance_manager_name: Option<String>,
    pub alliance_manager_email: Option<String>,
    pub integration_count: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// What a form or an API client sends to create or update a partner. Raw
/// strings: `validate` turns them into a `ValidPartner` or field errors.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct PartnerInput {
    pub name: String,
    /// Optional: derived from the name when empty.
    pub slug: String,
    /// infrastructure, workflow or both
    pub kind: String,
    pub categories: Vec<String>,
    pub support_contacts: Vec<Contact>,
    pub github_org: String,
    /// Let members of the GitHub organisation join automatically.
    pub github_auto_join: bool,
    pub registry_namespace: String,
    pub alliance_manager_name: String,
    pub alliance_manager_email: String,
}

/// A partner record that passed every rule.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidPartner {
    pub name: String,
    pub slug: String,
    pub kind: PartnerKind,
    pub categories: Vec<String>,
    pub support_contacts: Vec<Contact>,
    pub github_org: Option<String>,
    /// Members of `github_org` who sign in with GitHub join as partner members.
    pub github_auto_join: bool,
    /// Not from the input: the service looks it up (see [`org_pin`]).
    pub github_org_id: Option<i64>,
    pub registry_namespace: Option<String>,
    pub alliance_manager_name: Option<String>,
    pub alliance_manager_email: Option<String>,
}

pub const MAX_NAME_CHARS: usize = 120;

/// The fields the audit trail compares, shared by the stored and the new form.
#[allow(clippy::too_many_arguments)]
fn audit_fields(
    slug: &str,
    name: &str,
    kind: PartnerKind,
    categories: &[String],
    contacts: &[Contact],
    github_org: &Option<String>,
    auto_join: bool,
    org_id: Option<i64>,
    namespace: &Option<String>,
    manager_name: &Option<String>,
    manager_email: &Option<String>,
) -> super::audit::Fields {
    let contacts: Vec<String> = contacts.iter().map(|c| format!("{} <{}>", c.name, c.email)).collect();
    vec![
        ("name", name.to_string()),
        ("slug", slug.to_string()),
        ("kind", kind.key().to_string()),
        ("categories", super::audit::list(categories)),
        ("support_contacts", super::audit::list(&contacts)),
        ("github_org", github_org.clone().unwrap_or_default()),
        ("github_auto_join", super::audit::yes_no(auto_join)),
        ("github_org_id", org_id.map(|id| id.to_string()).unwrap_or_default()),
        ("registry_namespace", namespace.clone().unwrap_or_default()),
        ("alliance_manager_name", manager_name.clone().unwrap_or_default()),
        ("alliance_manager_email", manager_email.clone().unwrap_or_default()),
    ]
}

impl ValidPartner {
    pub fn audit_fields(&self) -> super::audit::Fields {
        audit_fields(
            &self.slug,
            &self.name,
            self.kind,
            &self.categories,
            &self.support_contacts,
            &self.github_org,
            self.github_auto_join,
            self.github_org_id,
            &self.registry_namespace,
            &self.alliance_manager_name,
            &self.alliance_manager_email,
        )
    }
}

impl Partner {
    pub fn audit_fields(&self) -> super::audit::Fields {
        audit_fields(
            &self.slug,
            &self.name,
            self.kind,
            &self.categories,
            &self.support_contacts,
            &self.github_org,
            self.github_auto_join,
            self.github_org_id,
            &self.registry_namespace,
            &self.alliance_manager_name,
            &self.alliance_manager_email,
        )
    }

    /// The editable fields, e.g. to prefill a form or to apply a partial update.
    pub fn to_input(&self) -> PartnerInput {
        PartnerInput {
            name: self.name.clone(),
            slug: self.slug.clone(),
            kind: self.kind.key().to_string(),
            categories: self.categories.clone(),
            support_contacts: self.support_contacts.clone(),
            github_org: self.github_org.clone().unwrap_or_default(),
            github_auto_join: self.github_auto_join,
            registry_namespace: self.registry_namespace.clone().unwrap_or_default(),
            alliance_manager_name: self.alliance_manager_name.clone().unwrap_or_default(),
            alliance_manager_email: self.alliance_manager_email.clone().unwrap_or_default(),
        }
    }
}

/// A display name: 1 to 120 characters after trimming.
pub fn validate_name(p: &mut Problems, field: &str, name: &str) -> String {
    let name = name.trim().to_string();
    if name.is_empty() {
        p.add(field, "enter a name");
    } else if name.chars().count() > MAX_NAME_CHARS {
        p.add(field, format!("at most {MAX_NAME_CHARS} characters"));
    }
    name
}

/// Categories must come from the program's lists for this kind; order and
/// duplicates from the input do not matter.
pub fn validate_categories(p: &mut Problems, allowed: &[&str], given: &[String], required: bool, kind_label: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in given.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
        match allowed.iter().find(|a| a.eq_ignore_ascii_case(c)) {
            Some(a) => {
                if !out.iter().any(|o| o == a) {
                    out.push(a.to_string())
                }
            }
            None => p.add("categories", format!("\"{c}\" is not a category for {kind_label}")),
        }
    }
    if required && out.is_empty() && p.0.get("categories").is_none() {
        p.add("categories", "choose at least one category");
    }
    // keep the program's order so lists read the same everywhere
    out.sort_by_key(|c| allowed.iter().position(|a| a == c));
    out
}

/// GitHub logins: letters, digits, single dashes inside, at most 39.
fn validate_github_org(org: &str) -> Result<(), String> {
    let ok = !org.is_empty()
        && org.len() <= 39
        && org.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !org.starts_with('-')
        && !org.ends_with('-')
        && !org.contains("--");
    if ok {
        Ok(())
    } else {
        Err("a GitHub organisation is 1–39 letters, digits or single dashes (e.g. hashicorp)".into())
    }
}

/// Reads support contacts from a form's text box: one per line, as
/// `Name <email>` or just `email`.
pub fn parse_contact_lines(text: &str) -> Result<Vec<Contact>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let contact = match (line.rfind('<'), line.ends_with('>')) {
            (Some(open), true) => {
                Contact { name: line[..open].trim().to_string(), email: line[open + 1..line.len() - 1].trim().to_string() }
            }
            (None, false) => Contact { name: String::new(), email: line.to_string() },
            _ => return Err(format!("line {}: write \"Name <email>\"", i + 1)),
        };
        out.push(contact);
    }
    Ok(out)
}

/// The text-box form of contacts, the inverse of `parse_contact_lines`.
pub fn contact_lines(contacts: &[Contact]) -> String {
    contacts
        .iter()
        .map(|c| if c.name.is_empty() { c.email.clone() } else { format!("{} <{}>", c.name, c.email) })
        .collect::<Vec<_>>()
        .join("\n")
}

impl PartnerInput {
    pub fn validate(&self) -> Result<ValidPartner, FieldErrors> {
        let mut p = Problems::default();
        let name = validate_name(&mut p, "name", &self.name);
        let slug = match optional(&self.slug) {
            Some(s) => s,
            None => slugify(&name),
        };
        if let Err(e) = validate_slug(&slug) {
            let msg = if self.slug.trim().is_empty() && !name.is_empty() {
                "could not derive a slug from the name: enter one".to_string()
            } else {
                e
            };
            p.add("slug", msg);
        }
        let kind = PartnerKind::parse(self.kind.trim());
        if kind.is_none() {
            p.add("kind", format!("choose a kind: {}", PartnerKind::expected()));
        }
        let categories = match kind {
            Some(k) => validate_categories(&mut p, &k.categories(), &self.categories, false, &format!("{} partners", k.key())),
            None => Vec::new(),
        };
        let mut support_contacts = Vec::new();
        for (i, c) in self.support_contacts.iter().enumerate() {
            let email = c.email.trim().to_string();
            if let Err(e) = validate_email(&email) {
                p.add("support_contacts", format!("contact {}: {e}", i + 1));
            }
            if c.name.chars().count() > MAX_NAME_CHARS {
                p.add("support_contacts", format!("contact {}: name too long", i + 1));
            }
            support_contacts.push(Contact { name: c.name.trim().to_string(), email });
        }
        if support_contacts.len() > 20 {
            p.add("support_contacts", "at most 20 contacts");
        }
        let github_org = optional(&self.github_org);
        if let Some(org) = &github_org {
            if let Err(e) = validate_github_org(org) {
                p.add("github_org", e);
            }
        } else if self.github_auto_join {
            p.add("github_auto_join", "name the GitHub organisation whose members may join");
        }
        // A namespace follows the same rules as in a source address.
        let registry_namespace = match optional(&self.registry_namespace) {
            None => None,
            Some(ns) => match SourceAddress::parse(&format!("{ns}/x")) {
                Ok(a) if !ns.contains('/') => Some(a.namespace().to_string()),
                Ok(_) => {
                    p.add("registry_namespace", "a namespace only, without a slash (e.g. acme)");
                    None
                }
                Err(e) => {
                    p.add("registry_namespace", e.0);
                    None
                }
            },
        };
        let alliance_manager_name = optional(&self.alliance_manager_name);
        let alliance_manager_email = optional(&self.alliance_manager_email);
        if let Some(e) = &alliance_manager_email {
            if let Err(msg) = validate_email(e) {
                p.add("alliance_manager_email", msg);
            }
        }
        if alliance_manager_name.as_ref().is_some_and(|n| n.chars().count() > MAX_NAME_CHARS) {
            p.add("alliance_manager_name", format!("at most {MAX_NAME_CHARS} characters"));
        }
        p.finish(ValidPartner {
            name,
            slug,
            kind: kind.unwrap_or(PartnerKind::Infrastructure),
            categories,
            support_contacts,
            github_org,
            github_auto_join: self.github_auto_join,
            github_org_id: None,
            registry_namespace,
            alliance_manager_name,
            alliance_manager_email,
        })
    }
}

/// The partners list's query string (pages and API alike).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PartnerQuery {
    pub q: String,
    pub kind: String,
    pub category: String,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// Why the account behind an alliance manager's email cannot be the
/// manager, if it cannot: the program names a reviewer (admins review too),
/// and alerts to the manager need an account that can receive them.
pub fn manager_problem(account: Option<(super::access::Role, super::user::UserStatus)>, email: &str) -> Option<String> {
    use super::access::Role;
    use super::user::UserStatus;
    match account {
        None => Some(format!("no account has the email {email}: the alliance manager is a reviewer; invite them first (Admin → Users)")),
        Some((_, UserStatus::Deactivated)) => Some(format!("the account of {email} is deactivated")),
        Some((Role::Reviewer | Role::Admin, _)) => None,
        Some((role, _)) => Some(format!("{email} is a {} account; the alliance manager is a reviewer", role.label().to_lowercase())),
    }
}

/// What saving a partner does with its GitHub organisation's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgPin {
    /// No auto-join: no id is kept, and nobody joins.
    Clear,
    /// The organisation is the one already looked up.
    Keep(i64),
    /// Auto-join newly ticked, or for another organisation than before:
    /// ask GitHub for its id.
    LookUp,
    /// Ticked before ids were kept, and left as it was: nobody joins until
    /// an admin confirms it (a reviewer's unrelated edit must not switch
    /// joining back on for whoever holds the login now).
    Unconfirmed,
}

/// Whether saving `valid` over `current` (the stored organisation, its id,
/// and whether auto-join was ticked) needs GitHub's answer. Logins compare
/// case-insensitively, as GitHub's do.
pub fn org_pin(current: Option<(&Option<String>, Option<i64>, bool)>, valid: &ValidPartner) -> OrgPin {
    let Some(org) = valid.github_org.as_deref().filter(|_| valid.github_auto_join) else {
        return OrgPin::Clear;
    };
    match current {
        Some((Some(stored), Some(id), _)) if stored.eq_ignore_ascii_case(org) => OrgPin::Keep(id),
        Some((Some(stored), None, true)) if stored.eq_ignore_ascii_case(org) => OrgPin::Unconfirmed,
        _ => OrgPin::LookUp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> PartnerInput {
        PartnerInput {
            name: "Acme Cloud".into(),
            kind: "infrastructure".into(),
            categories: vec!["public cloud".into(), "Networking".into(), "Public Cloud".into()],
            support_contacts: vec![Contact { name: "Ops".into(), email: "ops@acme.example".into() }],
            registry_namespace: "Acme".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_good_partner_is_normalised() {
        let v = input().validate().unwrap();
        assert_eq!(v.slug, "acme-cloud");
        assert_eq!(v.categories, vec!["Public Cloud", "Networking"]);
        assert_eq!(v.registry_namespace.as_deref(), Some("acme"));
        assert_eq!(v.github_org, None);
    }

    #[test]
    fn every_problem_is_reported_per_field() {
        let bad = PartnerInput {
            name: " ".into(),
            slug: "Bad Slug".into(),
            kind: "cloud".into(),
            support_contacts: vec![Contact { name: "x".into(), email: "nope".into() }],
            github_org: "-bad-".into(),
            registry_namespace: "a.b".into(),
            alliance_manager_email: "x@".into(),
            ..Default::default()
        };
        let errors = bad.validate().unwrap_err();
        let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(fields, ["alliance_manager_email", "github_org", "kind", "name", "registry_namespace", "slug", "support_contacts"]);
    }

    #[test]
    fn the_organisation_id_is_looked_up_only_when_auto_join_needs_a_new_one() {
        let valid = |org: &str, join: bool| PartnerInput { github_org: org.into(), github_auto_join: join, ..input() }.validate().unwrap();
        let acme = Some("acme".to_string());
        let other = Some("acme-labs".to_string());
        #[rustfmt::skip]
        let cases: &[(Option<(&Option<String>, Option<i64>, bool)>, ValidPartner, OrgPin)] = &[
            // No auto-join: nothing to look up, nothing kept.
            (None, valid("acme", false), OrgPin::Clear),
            (Some((&acme, Some(7), true)), valid("acme", false), OrgPin::Clear),
            (Some((&acme, Some(7), true)), valid("", false), OrgPin::Clear),
            // A new partner, or auto-join switched on: look it up.
            (None, valid("acme", true), OrgPin::LookUp),
            (Some((&acme, None, false)), valid("acme", true), OrgPin::LookUp),
            // The same organisation, in any case: keep the id.
            (Some((&acme, Some(7), true)), valid("acme", true), OrgPin::Keep(7)),
            (Some((&acme, Some(7), true)), valid("ACME", true), OrgPin::Keep(7)),
            // Ticked before ids were kept, unchanged: an admin must confirm.
            (Some((&acme, None, true)), valid("acme", true), OrgPin::Unconfirmed),
            (Some((&acme, None, true)), valid("Acme", true), OrgPin::Unconfirmed),
            // Another name in the form: the old id says nothing about it.
            (Some((&other, Some(7), true)), valid("acme", true), OrgPin::LookUp),
            (Some((&other, None, true)), valid("acme", true), OrgPin::LookUp),
            (Some((&None, Some(7), true)), valid("acme", true), OrgPin::LookUp),
        ];
        for (current, v, want) in cases {
            assert_eq!(org_pin(*current, v), *want, "{current:?} → {:?} {}", v.github_org, v.github_auto_join);
        }
    }

    #[test]
    fn the_alliance_manager_is_a_reviewer() {
        use crate::domain::access::Role;
        use crate::domain::user::UserStatus;
        let cases = [
            (Some((Role::Reviewer, UserStatus::Active)), None),
            (Some((Role::Admin, UserStatus::Active)), None),
            // Invited staff receive alerts once they accept.
            (Some((Role::Reviewer, UserStatus::Invited)), None),
            (Some((Role::Reviewer, UserStatus::Deactivated)), Some("deactivated")),
            (Some((Role::Partner, UserStatus::Active)), Some("a partner member account")),
            (Some((Role::Viewer, UserStatus::Active)), Some("a viewer account")),
            (None, Some("invite them first")),
        ];
        for (account, want) in cases {
            let got = manager_problem(account, "am@alliances.example");
            match want {
                None => assert_eq!(got, None, "{account:?}"),
                Some(part) => assert!(got.as_deref().is_some_and(|g| g.contains(part)), "{account:?}: {got:?}"),
            }
        }
    }

    #[test]
    fn categories_must_fit_the_kind() {
        let mut i = input();
        i.kind = "workflow".into();
        let errors = i.validate().unwrap_err();
        assert!(errors["categories"][0].contains("not a category for workflow partners"));
    }

    #[test]
    fn contact_lines_round_trip() {
        let contacts = parse_contact_lines("Jane Doe <jane@acme.example>\n\nsupport@acme.example\n").unwrap();
        assert_eq!(contacts.len(), 2);
        assert_eq!(contacts[0].name, "Jane Doe");
        assert_eq!(contacts[1].email, "support@acme.example");
        assert_eq!(parse_contact_lines(&contact_lines(&contacts)).unwrap(), contacts);
        assert!(parse_contact_lines("Jane <jane@acme.example").is_err());
    }
}
