//! Admins manage people: invite by email (a one-time link that expires),
//! change role and partner, deactivate (sessions and tokens die at once)
//! and reactivate.

use super::secret::{hash, new_secret};
use super::sign_in::Policy;
use crate::domain::access::{Action, Caller, Role};
use crate::domain::audit::{changes, created, field_names, Entry, Fields, TargetKind};
use crate::domain::user::{User, UserInput, UserStatus, ValidUser};
use crate::domain::{paging, FieldErrors, Page};
use crate::error::AppError;
use crate::store::users::{self as store, NewUser};
use crate::store::{is_unique_violation, partners as partner_store, Db};
use chrono::{DateTime, Utc};

/// A user's fields as the audit trail compares them (the email identifies
/// them and never changes, so it is the record's label instead).
fn fields(name: &str, role: Role, partner: &Option<String>, status: UserStatus) -> Fields {
    vec![
        ("name", name.to_string()),
        ("role", role.key().to_string()),
        ("partner", partner.clone().unwrap_or_default()),
        ("status", status.key().to_string()),
    ]
}

fn status_change(caller: &Caller, user: &User, to: UserStatus, action: &str, verb: &str) -> Entry {
    let before = fields(&user.name, user.role, &user.partner_slug, user.status);
    let after = fields(&user.name, user.role, &user.partner_slug, to);
    Entry::by(caller, action, TargetKind::User, Some(user.id), &user.email)
        .summary(format!("{verb} {}", user.email))
        .changes(changes(&before, &after))
}

fn not_found(id: i64) -> impl FnOnce() -> String {
    move || format!("user {id}")
}

pub async fn list(db: &Db, caller: &Caller, page: Option<i64>, per_page: Option<i64>) -> Result<Page<User>, AppError> {
    caller.check(Action::ManageUsers, || "users".into())?;
    let (page, per_page) = paging(page, per_page);
    let (items, total) = store::list(db, page, per_page).await?;
    Ok(Page { items, total, page, per_page })
}

pub async fn get(db: &Db, caller: &Caller, id: i64) -> Result<User, AppError> {
    caller.check(Action::ManageUsers, not_found(id))?;
    store::get(db, id).await?.ok_or_else(|| AppError::NotFound(not_found(id)()))
}

/// The partner id of a valid input, or a field error when no such partner.
async fn partner_id(db: &Db, valid: &ValidUser) -> Result<Option<i64>, AppError> {
    let Some(slug) = &valid.partner_slug else {
        return Ok(None);
    };
    match partner_store::kind_by_slug(db, slug).await? {
        Some((id, _)) => Ok(Some(id)),
        None => {
            let mut fields = FieldErrors::new();
            fields.insert("partner".into(), vec![format!("no partner has the slug \"{slug}\"")]);
            Err(AppError::invalid(fields))
        }
    }
}

/// An invitation: the user (status invited) and the link's secret, to be
/// sent to them as `/invite/{secret}`.
pub struct Invitation {
    pub user: User,
    pub secret: String,
}

pub async fn invite(db: &Db, caller: &Caller, policy: &Policy, input: &UserInput, now: DateTime<Utc>) -> Result<Invitation, AppError> {
    caller.check(Action::ManageUsers, || "users".into())?;
    let valid = input.validate().map_err(AppError::invalid)?;
    let partner_id = partner_id(db, &valid).await?;
    let new = NewUser { email: &valid.email, name: &valid.name, role: valid.role, partner_id, status: UserStatus::Invited, demo: false };
    let audit = Entry::by(caller, "user.invite", TargetKind::User, None, &valid.email)
        .summary(format!("Invited {} as {}", valid.email, valid.role.label().to_lowercase()))
        .changes(created(&fields(&valid.name, valid.role, &valid.partner_slug, UserStatus::Invited)));
    let id = match store::insert(db, &new, now, &audit).await {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => return Err(AppError::conflict("email", format!("{} already has an account", valid.email))),
        Err(e) => return Err(e.into()),
    };
    let secret = issue_link(db, policy, id, now).await?;
    tracing::info!(by = caller.email, email = valid.email, role = valid.role.key(), "invited");
    Ok(Invitation { user: get(db, caller, id).await?, secret })
}

async fn issue_link(db: &Db, policy: &Policy, user_id: i64, now: DateTime<Utc>) -> Result<String, AppError> {
    let secret = new_secret("");
    store::insert_link(db, &hash(&secret), "invitation", Some(user_id), now, now + policy.invitation_ttl).await?;
    Ok(secret)
}

/// A fresh invitation link for someone who has not accepted yet.
pub async fn reinvite(db: &Db, caller: &Caller, policy: &Policy, id: i64, now: DateTime<Utc>) -> Result<Invitation, AppError> {
    let user = get(db, caller, id).await?;
    if user.status != UserStatus::Invited {
        return Err(AppError::BadRequest(format!("{} has already accepted; there is nothing to resend", user.email)));
    }
    // The new link replaces the old ones.
    store::use_up_invitations(db, id, now).await?;
    let secret = issue_link(db, policy, id, now).await?;
    Ok(Invitation { user, secret })
}

/// Changes name, role and partner; the email stays.
pub async fn update(db: &Db, caller: &Caller, id: i64, input: &UserInput, now: DateTime<Utc>) -> Result<User, AppError> {
    let user = get(db, caller, id).await?;
    let input = UserInput { email: user.email.clone(), ..input.clone() };
    let valid = input.validate().map_err(AppError::invalid)?;
    if id == caller.user_id && valid.role != Role::Admin {
        return Err(AppError::BadRequest("you cannot take away your own admin role; ask another admin".into()));
    }
    let partner_id = partner_id(db, &valid).await?;
    let changed = changes(
        &fields(&user.name, user.role, &user.partner_slug, user.status),
        &fields(&valid.name, valid.role, &valid.partner_slug, user.status),
    );
    if changed.is_empty() {
        return Ok(user);
    }
    let audit = Entry::by(caller, "user.update", TargetKind::User, Some(id), &user.email)
        .summary(format!("Changed {} of {}", field_names(&changed), user.email))
        .changes(changed);
    store::update(db, id, &valid.name, valid.role, partner_id, now, &audit).await?;
    if user.role != valid.role || user.partner_slug != valid.partner_slug {
        // What they may see changed: make them sign in again.
        store::cut_off(db, id, now).await?;
    }
    get(db, caller, id).await
}

/// Deactivates: every session and token of the user stops working at once.
pub async fn deactivate(db: &Db, caller: &Caller, id: i64, now: DateTime<Utc>) -> Result<User, AppError> {
    let user = get(db, caller, id).await?;
    if id == caller.user_id {
        return Err(AppError::BadRequest("you cannot deactivate yourself".into()));
    }
    if user.status != UserStatus::Deactivated {
        let audit = status_change(caller, &user, UserStatus::Deactivated, "user.deactivate", "Deactivated");
        store::set_status(db, id, UserStatus::Deactivated, now, &audit).await?;
    }
    store::cut_off(db, id, now).await?;
    tracing::info!(by = caller.email, user = id, "deactivated");
    get(db, caller, id).await
}

pub async fn reactivate(db: &Db, caller: &Caller, id: i64, now: DateTime<Utc>) -> Result<User, AppError> {
    let user = get(db, caller, id).await?;
    if user.status == UserStatus::Deactivated {
        let audit = status_change(caller, &user, UserStatus::Active, "user.reactivate", "Reactivated");
        store::set_status(db, id, UserStatus::Active, now, &audit).await?;
    }
    get(db, caller, id).await
}
