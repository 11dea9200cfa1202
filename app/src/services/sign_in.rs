//! Who gets in, and how they stay in: turning an identity proven by GitHub
//! or an OpenID Connect provider into one of our users (or a refusal),
//! sessions and API tokens, the bootstrap admin's one-time link, and the
//! command-line recovery paths. The HTTP side (redirects, cookies, talking
//! to the providers) lives in the server's `auth` module.

use super::secret::{hash, new_secret};
use crate::domain::access::{Caller, Role};
use crate::domain::audit::{Entry, FieldChange, TargetKind};
pub use crate::domain::user::Refusal;
use crate::domain::user::{normalise_email, UserStatus};
use crate::error::AppError;
use crate::store::users::{self as store, NewUser};
use crate::store::Db;
use chrono::{DateTime, Duration, Utc};

/// Session and link lifetimes, from the server's configuration.
#[derive(Debug, Clone)]
pub struct Policy {
    /// A session ends after this long without a request.
    pub session_idle: Duration,
    /// …and after this long in any case.
    pub session_absolute: Duration,
    pub invitation_ttl: Duration,
    pub bootstrap_ttl: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            session_idle: Duration::hours(12),
            session_absolute: Duration::days(7),
            invitation_ttl: Duration::days(7),
            bootstrap_ttl: Duration::hours(1),
        }
    }
}

/// What a provider vouched for. `email` is set only when the provider says
/// it is verified: an unverified address must not match an invitation.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// "github" or "oidc".
    pub provider: String,
    /// GitHub's numeric user id, or the OIDC `iss` + `sub`.
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// GitHub organisations the person belongs to, by numeric id (a
    /// login can change hands; an id cannot).
    pub github_orgs: Vec<i64>,
}

/// The user an identity signs in as, or why not. Binds the identity to the
/// user on first sign-in, activates invited users, and applies the
/// GitHub-organisation rule.
pub async fn resolve(
    db: &Db,
    identity: &Identity,
    invitation_hash: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Result<i64, Refusal>, AppError> {
    // 1. A known identity decides alone.
    if let Some(user_id) = store::user_id_by_identity(db, &identity.provider, &identity.subject).await? {
        let user = store::get(db, user_id).await?.ok_or(AppError::Internal)?;
        return Ok(match user.status {
            UserStatus::Active => Ok(user_id),
            UserStatus::Deactivated => Err(Refusal::Deactivated),
            // Bound but not active cannot happen; treat as an invitation to accept.
            UserStatus::Invited => match accept_invitation(db, user_id, now).await? {
                Ok(id) => bind(db, identity, id, now).await?,
                refused => refused,
            },
        });
    }
    // 2. An invitation link followed before signing in: it binds whoever
    // follows it, once, and only while the account is still invited.
    if let Some(link_hash) = invitation_hash {
        return Ok(match store::link(db, link_hash, "invitation").await? {
            Some((Some(user_id), expires, used)) => {
                let still_invited = store::get(db, user_id).await?.is_some_and(|u| u.status == UserStatus::Invited);
                if used.is_some() || !still_invited {
                    Err(Refusal::InvitationUsed)
                } else if expires <= now {
                    Err(Refusal::InvitationExpired)
                } else if store::consume_link(db, link_hash, "invitation", now).await? {
                    bind(db, identity, user_id, now).await?
                } else {
                    Err(Refusal::InvitationUsed)
                }
            }
            _ => Err(Refusal::NotInvited),
        });
    }
    // 3. A verified email that an admin invited or created.
    if let Some(email) = identity.email.as_deref().map(normalise_email) {
        if let Some(user) = store::get_by_email(db, &email).await? {
            return Ok(match user.status {
                UserStatus::Deactivated => Err(Refusal::Deactivated),
                // An account made by `create-admin` or the bootstrap link is
                // claimed by its email once per provider; after that, a second
                // identity with the same email is somebody else.
                UserStatus::Active if store::has_identity(db, user.id, &identity.provider).await? => Err(Refusal::NotInvited),
                UserStatus::Active => bind(db, identity, user.id, now).await?,
                UserStatus::Invited => match accept_invitation(db, user.id, now).await? {
                    Ok(id) => bind(db, identity, id, now).await?,
                    refused => refused,
                },
            });
        }
        // 4. Members of a partner's GitHub organisation, where the partner allows it.
        if identity.provider == "github" {
            let partners = store::auto_join_partners(db, &identity.github_orgs).await?;
            if let Some((partner_id, slug)) = partners.first() {
                if partners.len() > 1 {
                    tracing::warn!(email, ?partners, "member of several auto-join organisations; joining the first");
                }
                let name = identity.name.clone().unwrap_or_else(|| email.clone());
                let new = NewUser {
                    email: &email,
                    name: &name,
                    role: Role::Partner,
                    partner_id: Some(*partner_id),
                    status: UserStatus::Active,
                    demo: false,
                };
                let audit = Entry::system("user.join", TargetKind::User, None, &email)
                    .summary(format!("{email} joined partner {slug} as a member of its GitHub organisation"));
                let user_id = store::insert(db, &new, now, &audit).await?;
                tracing::info!(email, partner = slug, "joined a partner through its GitHub organisation");
                return bind(db, identity, user_id, now).await;
            }
        }
    }
    Ok(Err(Refusal::NotInvited))
}

/// Accepts an invited user's pending invitation if it is still valid.
async fn accept_invitation(db: &Db, user_id: i64, now: DateTime<Utc>) -> Result<Result<i64, Refusal>, AppError> {
    match store::latest_invitation(db, user_id).await? {
        Some((expires, None)) if expires > now => Ok(Ok(user_id)),
        Some((_, Some(_))) => Ok(Err(Refusal::InvitationUsed)),
        _ => Ok(Err(Refusal::InvitationExpired)),
    }
}

/// Binds the identity to the user and makes the account active.
async fn bind(db: &Db, identity: &Identity, user_id: i64, now: DateTime<Utc>) -> Result<Result<i64, Refusal>, AppError> {
    let user = store::get(db, user_id).await?.ok_or(AppError::Internal)?;
    if user.status == UserStatus::Deactivated {
        return Ok(Err(Refusal::Deactivated));
    }
    store::link_identity(db, &identity.provider, &identity.subject, user_id, now).await?;
    // A name that is only the email's first part was a placeholder: take the provider's.
    let placeholder = user.email.split('@').next().unwrap_or_default();
    if let Some(name) = identity.name.as_deref().map(str::trim).filter(|n| !n.is_empty() && user.name == placeholder) {
        store::set_name(db, user_id, name, now).await?;
    }
    if user.status == UserStatus::Invited {
        let audit = Entry::system("user.accept", TargetKind::User, Some(user_id), &user.email)
            .summary(format!("{} accepted the invitation (signed in with {})", user.email, identity.provider))
            .changes(vec![FieldChange { field: "status".into(), before: Some("invited".into()), after: Some("active".into()) }]);
        store::set_status(db, user_id, UserStatus::Active, now, &audit).await?;
        // Accepted: no other link of theirs may bind another identity.
        store::use_up_invitations(db, user_id, now).await?;
    }
    Ok(Ok(user_id))
}

/// Starts a session for an active user; returns the cookie's secret. A new
/// secret every time, so a session id planted before sign-in is worthless.
pub async fn start_session(db: &Db, policy: &Policy, user_id: i64, now: DateTime<Utc>) -> Result<String, AppError> {
    let secret = new_secret("");
    store::insert_session(db, &hash(&secret), user_id, now, now + policy.session_absolute).await?;
    store::record_sign_in(db, user_id, now).await?;
    Ok(secret)
}

/// A session's idle clock is written at most this often.
fn touch_every() -> Duration {
    Duration::minutes(1)
}

/// The session behind a cookie, live at `now`; its idle clock written if due.
pub async fn session(db: &Db, policy: &Policy, secret: &str, now: DateTime<Utc>) -> Result<Option<store::LiveSession>, AppError> {
    let token_hash = hash(secret);
    let Some(mut session) = store::live_session(db, &token_hash, now, now - policy.session_idle).await? else {
        return Ok(None);
    };
    if now - session.last_seen > touch_every() {
        store::touch_session(db, &token_hash, now).await?;
        session.last_seen = now;
    }
    Ok(Some(session))
}

/// The caller behind a session cookie; refreshes its idle clock at most once a minute.
pub async fn session_caller(db: &Db, policy: &Policy, secret: &str, now: DateTime<Utc>) -> Result<Option<Caller>, AppError> {
    Ok(session(db, policy, secret, now).await?.map(|s| s.caller))
}

/// Whether a session found live may be taken as still live at `now`
/// without asking the database: before its end, and before its idle clock
/// is due to be written (which also keeps it well inside its idle limit).
pub fn still_live(session: &store::LiveSession, policy: &Policy, now: DateTime<Utc>) -> bool {
    now < session.expires_at && now - session.last_seen < touch_every().min(policy.session_idle)
}

/// The key a session is known by (its cookie's secret is never kept).
pub fn session_key(secret: &str) -> String {
    hash(secret)
}

pub async fn end_session(db: &Db, secret: &str) -> Result<(), AppError> {
    Ok(store::delete_session(db, &hash(secret)).await?)
}

/// The caller behind an `Authorization: Bearer` token; records its use at
/// most once a minute.
pub async fn token_caller(db: &Db, secret: &str, now: DateTime<Utc>) -> Result<Option<Caller>, AppError> {
    let Some((caller, token_id, last_used)) = store::caller_by_token(db, &hash(secret)).await? else {
        return Ok(None);
    };
    if last_used.is_none_or(|t| now - t > Duration::minutes(1)) {
        store::touch_token(db, token_id, now).await?;
    }
    Ok(Some(caller))
}

/// When no active admin exists, a one-time link that signs in as the
/// bootstrap admin; `None` once there is an admin.
pub async fn bootstrap_link(db: &Db, policy: &Policy, now: DateTime<Utc>) -> Result<Option<String>, AppError> {
    if store::active_admin_exists(db).await? {
        return Ok(None);
    }
    let secret = new_secret("");
    store::insert_link(db, &hash(&secret), "bootstrap", None, now, now + policy.bootstrap_ttl).await?;
    Ok(Some(secret))
}

/// Uses a bootstrap link (once): the admin with `email` is created or
/// reactivated and signed in.
pub async fn use_bootstrap_link(db: &Db, secret: &str, email: &str, now: DateTime<Utc>) -> Result<Result<i64, Refusal>, AppError> {
    // Check the configured address first, so a bad setting does not use up the link.
    crate::domain::validate_email(&normalise_email(email)).map_err(|e| AppError::BadRequest(format!("BOOTSTRAP_ADMIN_EMAIL: {e}")))?;
    // Once an admin exists the bootstrap links are void, even unexpired ones
    // (every instance prints one at start).
    if store::active_admin_exists(db).await? || !store::consume_link(db, &hash(secret), "bootstrap", now).await? {
        return Ok(Err(Refusal::LinkExpired));
    }
    let (user_id, _) = ensure_admin(db, email, now).await?;
    tracing::info!(email, "bootstrap admin signed in with the one-time link");
    Ok(Ok(user_id))
}

/// Makes `email` an active admin, creating the account if needed;
/// idempotent. Returns the user id and whether anything changed.
pub async fn ensure_admin(db: &Db, email: &str, now: DateTime<Utc>) -> Result<(i64, bool), AppError> {
    let email = normalise_email(email);
    crate::domain::validate_email(&email).map_err(AppError::BadRequest)?;
    match store::get_by_email(db, &email).await? {
        Some(u) if u.role == Role::Admin && u.status == UserStatus::Active => Ok((u.id, false)),
        Some(u) => {
            let audit = Entry::system("user.make_admin", TargetKind::User, Some(u.id), &email)
                .summary(format!("{email} made an active admin (bootstrap link or command line)"))
                .changes(vec![
                    FieldChange { field: "role".into(), before: Some(u.role.key().into()), after: Some("admin".into()) },
                    FieldChange { field: "status".into(), before: Some(u.status.key().into()), after: Some("active".into()) },
                ]);
            store::update(db, u.id, &u.name, Role::Admin, None, now, &audit).await?;
            if u.status != UserStatus::Active {
                let audit = Entry { changes: Vec::new(), ..audit.clone() };
                store::set_status(db, u.id, UserStatus::Active, now, &audit.summary(format!("{email} activated"))).await?;
            }
            Ok((u.id, true))
        }
        None => {
            let name = email.split('@').next().unwrap_or("admin").to_string();
            let new = NewUser { email: &email, name: &name, role: Role::Admin, partner_id: None, status: UserStatus::Active, demo: false };
            let audit = Entry::system("user.create_admin", TargetKind::User, None, &email)
                .summary(format!("Admin {email} created (bootstrap link or command line)"));
            Ok((store::insert(db, &new, now, &audit).await?, true))
        }
    }
}

/// Signs in as a demo account: only offered on a loopback bind with demo
/// data, and only for accounts seeded as demo accounts.
pub async fn demo_user(db: &Db, user_id: i64) -> Result<Option<i64>, AppError> {
    Ok(store::demo_users(db).await?.into_iter().find(|c| c.user_id == user_id).map(|c| c.user_id))
}

/// Counts a sign-in attempt from `client` and says whether it is within
/// `per_minute`; shared by every instance through the database.
pub async fn within_rate_limit(db: &Db, client: &str, per_minute: i64, now: DateTime<Utc>) -> Result<bool, AppError> {
    use chrono::{DurationRound, TimeDelta};
    let window = now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now);
    let hits = store::hit(db, &format!("sign-in:{client}"), window).await?;
    Ok(hits <= per_minute)
}
