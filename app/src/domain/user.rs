//! People who use the tracker, as admins manage them, and their API tokens.

use super::access::Role;
use super::{validate_email, Problems};
use crate::domain::FieldErrors;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

crate::domain::catalog::vocabulary!(
    /// Where an account stands: invited (link not yet used), active, or
    /// deactivated (its sessions and tokens no longer work).
    UserStatus {
        Invited => ("invited", "Invited"),
        Active => ("active", "Active"),
        Deactivated => ("deactivated", "Deactivated"),
    }
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub partner_slug: Option<String>,
    pub partner_name: Option<String>,
    pub status: UserStatus,
    pub created_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

/// An admin's invitation or change of a user: the form's and the API's shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserInput {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub role: String,
    /// The partner's slug; required for partner members, ignored otherwise.
    #[serde(default)]
    pub partner: String,
}

/// A checked [`UserInput`]: the email lower-cased, the partner only for members.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub partner_slug: Option<String>,
}

impl UserInput {
    pub fn validate(&self) -> Result<ValidUser, FieldErrors> {
        let mut problems = Problems::default();
        let email = normalise_email(&self.email);
        if email.is_empty() {
            problems.add("email", "required");
        } else if let Err(e) = validate_email(&email) {
            problems.add("email", e);
        }
        let name = self.name.trim().to_string();
        if name.chars().count() > 120 {
            problems.add("name", "at most 120 characters");
        }
        let role = Role::parse(self.role.trim());
        if role.is_none() {
            problems.add("role", format!("choose {}", Role::expected()));
        }
        let partner = self.partner.trim();
        let partner_slug = match role {
            Some(Role::Partner) if partner.is_empty() => {
                problems.add("partner", "a partner member belongs to one partner: choose it");
                None
            }
            Some(Role::Partner) => Some(partner.to_string()),
            _ => None,
        };
        let name = if name.is_empty() { email.split('@').next().unwrap_or_default().to_string() } else { name };
        problems.finish(ValidUser { email, name, role: role.unwrap_or(Role::Viewer), partner_slug })
    }
}

/// Emails compare case-insensitively: stored trimmed and lower-cased.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A personal API token as its owner sees it; the secret is shown only once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    /// The first characters of the token, to tell tokens apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new token's name: 1–80 characters.
pub fn validate_token_name(name: &str) -> Result<String, FieldErrors> {
    let mut problems = Problems::default();
    let name = name.trim();
    if name.is_empty() {
        problems.add("name", "required: say what the token is for, e.g. \"CI pipeline\"");
    } else if name.chars().count() > 80 {
        problems.add("name", "at most 80 characters");
    }
    problems.finish(name.to_string())
}

/// Why someone who proved who they are still does not get in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No account, invitation or organisation rule matches.
    NotInvited,
    InvitationExpired,
    InvitationUsed,
    Deactivated,
    LinkExpired,
}

impl Refusal {
    pub fn key(self) -> &'static str {
        match self {
            Refusal::NotInvited => "not-invited",
            Refusal::InvitationExpired => "invitation-expired",
            Refusal::InvitationUsed => "invitation-used",
            Refusal::Deactivated => "deactivated",
            Refusal::LinkExpired => "link-expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Refusal::NotInvited, Refusal::InvitationExpired, Refusal::InvitationUsed, Refusal::Deactivated, Refusal::LinkExpired]
            .into_iter()
            .find(|r| r.key() == s)
    }

    /// What the person reads on the refusal page.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::NotInvited => "You signed in, but the tracker has no account for you. Ask your alliance manager to invite you.",
            Refusal::InvitationExpired => "Your invitation has expired. Ask your alliance manager to send a new one.",
            Refusal::InvitationUsed => {
                "This invitation has already been used. Sign in with the account that accepted it, or ask for a new invitation."
            }
            Refusal::Deactivated => "Your account has been deactivated. Ask your alliance manager if you need access again.",
            Refusal::LinkExpired => {
                "This sign-in link has expired or was already used. Restart the server to print a new one, or use `server create-admin`."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(email: &str, role: &str, partner: &str) -> UserInput {
        UserInput { email: email.into(), name: String::new(), role: role.into(), partner: partner.into() }
    }

    #[test]
    fn user_inputs() {
        // (input, Ok(expected email, role, partner) or the fields in error)
        let cases: Vec<(UserInput, Result<(&str, Role, Option<&str>), Vec<&str>>)> = vec![
            (input(" Ann@Example.COM ", "reviewer", ""), Ok(("ann@example.com", Role::Reviewer, None))),
            (input("a@b.co", "admin", "acme"), Ok(("a@b.co", Role::Admin, None))),
            (input("m@acme.test", "partner", "acme"), Ok(("m@acme.test", Role::Partner, Some("acme")))),
            (input("v@b.co", "viewer", ""), Ok(("v@b.co", Role::Viewer, None))),
            (input("m@acme.test", "partner", " "), Err(vec!["partner"])),
            (input("", "viewer", ""), Err(vec!["email"])),
            (input("not-an-email", "viewer", ""), Err(vec!["email"])),
            (input("a@b.co", "owner", ""), Err(vec!["role"])),
            (input("nope", "", ""), Err(vec!["email", "role"])),
        ];
        for (input, expected) in cases {
            let got = input.validate();
            match expected {
                Ok((email, role, partner)) => {
                    let v = got.unwrap_or_else(|e| panic!("{input:?}: {e:?}"));
                    assert_eq!((v.email.as_str(), v.role, v.partner_slug.as_deref()), (email, role, partner));
                }
                Err(fields) => {
                    let errors = got.expect_err(&format!("{input:?} should fail"));
                    assert_eq!(errors.keys().map(String::as_str).collect::<Vec<_>>(), fields, "{input:?}");
                }
            }
        }
    }

    #[test]
    fn a_missing_name_comes_from_the_email() {
        let v = input("Jo.Smith@acme.test", "viewer", "").validate().unwrap();
        assert_eq!(v.name, "jo.smith");
    }

    #[test]
    fn refusal_keys_round_trip() {
        for r in [Refusal::NotInvited, Refusal::InvitationExpired, Refusal::InvitationUsed, Refusal::Deactivated, Refusal::LinkExpired] {
            assert_eq!(Refusal::parse(r.key()), Some(r));
            assert!(!r.message().is_empty());
        }
        assert_eq!(Refusal::parse("bogus"), None);
    }

    #[test]
    fn token_names() {
        assert_eq!(validate_token_name("  CI  "), Ok("CI".into()));
        assert!(validate_token_name("").is_err());
        assert!(validate_token_name(&"x".repeat(81)).is_err());
    }
}
