//! Who may do what (program.md, "Roles"). Every service asks [`Caller::check`]
//! before it reads or writes, so the rules live here once and the answer for
//! a partner member looking at someone else's partner is always "not found":
//! the existence of other partners is not revealed.

use crate::error::AppError;
use serde::{Deserialize, Serialize};

crate::domain::catalog::vocabulary!(
    /// The four roles of the program.
    Role {
        Admin => ("admin", "Admin"),
        Reviewer => ("reviewer", "Reviewer"),
        Partner => ("partner", "Partner member"),
        Viewer => ("viewer", "Viewer"),
    }
);

impl Role {
    /// Alliances staff see every partner.
    pub fn is_staff(self) -> bool {
        !matches!(self, Role::Partner)
    }
}

/// What a caller wants to do. Actions on one partner's data carry that
/// partner's id, so the rule can tell "own" from "someone else's".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read a partner and everything under it.
    Read {
        partner: i64,
    },
    /// Create partners, or change a partner's own record (name, kind, contacts).
    ManagePartners,
    EditPartner {
        partner: i64,
    },
    /// Create or change an integration, or self-report on it.
    EditIntegration {
        partner: i64,
    },
    /// Accept work, ask for changes, decide on flags.
    Review {
        partner: i64,
    },
    /// Invite people, assign roles, deactivate accounts.
    ManageUsers,
    /// Search the whole audit trail (timelines of one partner or
    /// integration only need `Read`).
    SearchAudit,
    /// Edit checklist templates and apply new versions.
    EditTemplates,
    /// See how background work is doing (poller status, outbox).
    Operate,
    /// Change program-wide settings: the SLA calendar, time zone, label sets.
    Configure,
    /// Change anything at all: checked first, so a viewer's bad input
    /// gets "forbidden" rather than a list of field errors.
    Write,
}

/// The answer to "may the caller do this?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// The caller may see the thing but not do this to it (403).
    Forbid,
    /// The caller may not even know the thing exists (404).
    Hide,
}

/// Decides an action for a role; `own_partner` is the partner a member
/// belongs to (`None` for staff).
pub fn decide(role: Role, own_partner: Option<i64>, action: Action) -> Decision {
    use Action::*;
    use Decision::*;
    let partner_of = |a: Action| match a {
        Read { partner } | EditPartner { partner } | EditIntegration { partner } | Review { partner } => Some(partner),
        ManagePartners | ManageUsers | SearchAudit | EditTemplates | Operate | Configure | Write => None,
    };
    match role {
        Role::Admin => Allow,
        Role::Reviewer => match action {
            ManageUsers | SearchAudit | EditTemplates | Operate | Configure => Forbid,
            _ => Allow,
        },
        Role::Viewer => match action {
            Read { .. } => Allow,
            _ => Forbid,
        },
        Role::Partner => {
            if let Some(partner) = partner_of(action) {
                if own_partner != Some(partner) {
                    return Hide;
                }
            }
            match action {
                Read { .. } | EditIntegration { .. } | Write => Allow,
                _ => Forbid,
            }
        }
    }
}

/// The partner a member belongs to, as shown in the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerRef {
    pub id: i64,
    pub slug: String,
    pub name: String,
}

/// The person behind a request, resolved from their session or API token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub user_id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Set exactly for partner members.
    pub partner: Option<PartnerRef>,
}

impl Caller {
    /// `Some(id)` when the caller sees only one partner.
    pub fn partner_scope(&self) -> Option<i64> {
        match self.role {
            Role::Partner => Some(self.partner.as_ref().map(|p| p.id).unwrap_or(-1)),
            _ => None,
        }
    }

    pub fn decide(&self, action: Action) -> Decision {
        decide(self.role, self.partner.as_ref().map(|p| p.id), action)
    }

    pub fn may(&self, action: Action) -> bool {
        self.decide(action) == Decision::Allow
    }

    /// `Ok` when allowed; otherwise the error to answer with. `what` names
    /// the thing for the 404 message.
    pub fn check(&self, action: Action, what: impl FnOnce() -> String) -> Result<(), AppError> {
        match self.decide(action) {
            Decision::Allow => Ok(()),
            Decision::Forbid => Err(AppError::Forbidden),
            Decision::Hide => Err(AppError::NotFound(what())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use Decision::*;

    const OWN: i64 = 1;
    const OTHER: i64 = 2;

    #[test]
    fn the_role_table() {
        // (role, action, expected); partner members belong to partner OWN.
        let cases = [
            (Role::Admin, Read { partner: OTHER }, Allow),
            (Role::Admin, ManagePartners, Allow),
            (Role::Admin, EditPartner { partner: OTHER }, Allow),
            (Role::Admin, EditIntegration { partner: OTHER }, Allow),
            (Role::Admin, Review { partner: OTHER }, Allow),
            (Role::Admin, ManageUsers, Allow),
            (Role::Admin, SearchAudit, Allow),
            (Role::Reviewer, SearchAudit, Forbid),
            (Role::Viewer, SearchAudit, Forbid),
            (Role::Partner, SearchAudit, Forbid),
            (Role::Admin, EditTemplates, Allow),
            (Role::Reviewer, EditTemplates, Forbid),
            (Role::Viewer, EditTemplates, Forbid),
            (Role::Partner, EditTemplates, Forbid),
            (Role::Admin, Operate, Allow),
            (Role::Reviewer, Operate, Forbid),
            (Role::Viewer, Operate, Forbid),
            (Role::Partner, Operate, Forbid),
            (Role::Admin, Configure, Allow),
            (Role::Reviewer, Configure, Forbid),
            (Role::Viewer, Configure, Forbid),
            (Role::Partner, Configure, Forbid),
            (Role::Admin, Write, Allow),
            (Role::Reviewer, Write, Allow),
            (Role::Viewer, Write, Forbid),
            (Role::Partner, Write, Allow),
            (Role::Reviewer, Read { partner: OTHER }, Allow),
            (Role::Reviewer, ManagePartners, Allow),
            (Role::Reviewer, EditPartner { partner: OTHER }, Allow),
            (Role::Reviewer, EditIntegration { partner: OTHER }, Allow),
            (Role::Reviewer, Review { partner: OTHER }, Allow),
            (Role::Reviewer, ManageUsers, Forbid),
            (Role::Viewer, Read { partner: OTHER }, Allow),
            (Role::Viewer, ManagePartners, Forbid),
            (Role::Viewer, EditPartner { partner: OTHER }, Forbid),
            (Role::Viewer, EditIntegration { partner: OTHER }, Forbid),
            (Role::Viewer, Review { partner: OTHER }, Forbid),
            (Role::Viewer, ManageUsers, Forbid),
            (Role::Partner, Read { partner: OWN }, Allow),
            (Role::Partner, EditIntegration { partner: OWN }, Allow),
            (Role::Partner, EditPartner { partner: OWN }, Forbid),
            (Role::Partner, Review { partner: OWN }, Forbid),
            (Role::Partner, ManagePartners, Forbid),
            (Role::Partner, ManageUsers, Forbid),
            (Role::Partner, Read { partner: OTHER }, Hide),
            (Role::Partner, EditIntegration { partner: OTHER }, Hide),
            (Role::Partner, EditPartner { partner: OTHER }, Hide),
            (Role::Partner, Review { partner: OTHER }, Hide),
        ];
        for (role, action, expected) in cases {
            let own = (role == Role::Partner).then_some(OWN);
            assert_eq!(decide(role, own, action), expected, "{role:?} {action:?}");
        }
    }

    #[test]
    fn a_member_without_a_partner_sees_nothing() {
        assert_eq!(decide(Role::Partner, None, Read { partner: OWN }), Hide);
        let caller = Caller { user_id: 1, email: "a@b.c".into(), name: "A".into(), role: Role::Partner, partner: None };
        assert_eq!(caller.partner_scope(), Some(-1));
    }

    #[test]
    fn check_maps_decisions_to_errors() {
        let member = Caller {
            user_id: 1,
            email: "m@a.test".into(),
            name: "M".into(),
            role: Role::Partner,
            partner: Some(PartnerRef { id: OWN, slug: "a".into(), name: "A".into() }),
        };
        assert_eq!(member.check(Read { partner: OWN }, || "x".into()), Ok(()));
        assert_eq!(member.check(ManageUsers, || "x".into()), Err(AppError::Forbidden));
        assert_eq!(member.check(Read { partner: OTHER }, || "partner".into()), Err(AppError::NotFound("partner".into())));
    }
}
