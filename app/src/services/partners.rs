//! Partners: list, read, create, update. Partner members see only their
//! own partner; only staff create or change partners.

use super::{category_filter, partner_kind_filter};
use crate::domain::access::{Action, Caller};
use crate::domain::audit::{changes, created, field_names, Entry, TargetKind};
use crate::domain::partner::{manager_problem, org_pin, OrgPin, Partner, PartnerInput, PartnerQuery, ValidPartner};
use crate::domain::user::normalise_email;
use crate::domain::{paging, FieldErrors, Page};
use crate::error::AppError;
use crate::store::partners::{self as store, PartnerFilter};
use crate::store::{integrations as integration_store, is_unique_violation, Db};
use chrono::Utc;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// GitHub's answer for one organisation login: its numeric id, `None` when
/// GitHub has no such organisation, or why it could not be asked.
pub type OrgAnswer = Pin<Box<dyn Future<Output = Result<Option<i64>, String>> + Send>>;

/// Looks GitHub organisations up by login, for auto-join: members are
/// matched on the organisation's id, which a rename keeps, where a login
/// can be given up and registered by somebody else. The server passes the
/// GitHub sign-in client's lookup; tests and set-ups without GitHub get
/// [`GithubOrgs::default`], which refuses auto-join with the reason.
#[derive(Clone)]
pub struct GithubOrgs(Arc<dyn Fn(String) -> OrgAnswer + Send + Sync>);

impl GithubOrgs {
    pub fn new(lookup: impl Fn(String) -> OrgAnswer + Send + Sync + 'static) -> Self {
        GithubOrgs(Arc::new(lookup))
    }
}

impl Default for GithubOrgs {
    fn default() -> Self {
        GithubOrgs::new(|_| {
            Box::pin(async { Err("GitHub sign-in is not configured (GITHUB_CLIENT_ID), so nobody could join through it".into()) })
        })
    }
}

/// Fills `valid.github_org_id` as [`org_pin`] says, asking GitHub when the
/// organisation is new to auto-join; a name GitHub does not know, or a
/// question it could not answer, is the organisation field's error. (Only
/// admins get this far with a new organisation: `check_auto_join`.)
async fn pin_org(orgs: &GithubOrgs, caller: &Caller, current: Option<&Partner>, valid: &mut ValidPartner) -> Result<(), AppError> {
    let pin = org_pin(current.map(|p| (&p.github_org, p.github_org_id, p.github_auto_join)), valid);
    let org = valid.github_org.clone().unwrap_or_default();
    let refuse = |problem: String| Err(AppError::invalid([("github_org".to_string(), vec![problem])].into()));
    valid.github_org_id = match pin {
        OrgPin::Clear => None,
        OrgPin::Keep(id) => Some(id),
        OrgPin::Unconfirmed if !caller.may(Action::ManageUsers) => None,
        // An admin's save confirms it if GitHub answers; nobody's save fails for it.
        OrgPin::Unconfirmed => (orgs.0)(org.clone()).await.unwrap_or_else(|e| {
            tracing::warn!(org, error = e, "could not confirm a GitHub organisation; its members still cannot join");
            None
        }),
        OrgPin::LookUp => match (orgs.0)(org.clone()).await {
            Ok(Some(id)) => Some(id),
            Ok(None) => return refuse(format!("GitHub has no organisation \"{org}\"; check the spelling (it may have been renamed)")),
            Err(e) => return refuse(format!("could not look \"{org}\" up on GitHub to let its members join ({e}); try again")),
        },
    };
    Ok(())
}

/// The account behind an alliance manager's email, and why it cannot be
/// the manager if it cannot ([`manager_problem`]): the partner form and the
/// pipeline's "alliance manager assigned" judge it alike.
pub(crate) async fn manager_account(db: &Db, email: &str) -> Result<(Option<crate::domain::user::User>, Option<String>), AppError> {
    let email = normalise_email(email);
    let account = crate::store::users::get_by_email(db, &email).await?;
    let problem = manager_problem(account.as_ref().map(|u| (u.role, u.status)), &email);
    Ok((account, problem))
}

/// The alliance manager is a reviewer (program.md): a new or changed
/// manager email must be a reviewer's or an admin's account, and a name
/// alone, which no alert can reach, is refused. An empty name is the
/// account's. (A manager stored before this rule stays until changed.)
async fn check_manager(db: &Db, current: Option<&Partner>, valid: &mut ValidPartner) -> Result<(), AppError> {
    let refuse = |problem: String| Err(AppError::invalid([("alliance_manager_email".to_string(), vec![problem])].into()));
    let Some(email) = valid.alliance_manager_email.as_deref().map(normalise_email) else {
        // Only a name-only manager stored before this rule, left as it was, stays.
        let legacy = current.is_some_and(|c| c.alliance_manager_email.is_none() && c.alliance_manager_name == valid.alliance_manager_name);
        if valid.alliance_manager_name.is_some() && !legacy {
            return refuse("give the email of the alliance manager's reviewer account: a name alone reaches nobody".into());
        }
        return Ok(());
    };
    let (account, problem) = manager_account(db, &email).await?;
    let changed = current.and_then(|c| c.alliance_manager_email.as_deref()).map(normalise_email).as_deref() != Some(email.as_str());
    if let Some(problem) = problem.filter(|_| changed) {
        return refuse(problem);
    }
    // A new manager with the old one's name (the form keeps it) takes the account's.
    let kept_old_name =
        changed && current.is_some_and(|c| c.alliance_manager_name.is_some() && c.alliance_manager_name == valid.alliance_manager_name);
    if valid.alliance_manager_name.is_none() || kept_old_name {
        valid.alliance_manager_name = account.map(|u| u.name);
    }
    valid.alliance_manager_email = Some(email);
    Ok(())
}

#[tracing::instrument(skip_all)]
pub async fn list(db: &Db, caller: &Caller, query: &PartnerQuery) -> Result<Page<Partner>, AppError> {
    let (page, per_page) = paging(query.page, query.per_page);
    let filter = PartnerFilter {
        search: query.q.clone(),
        kind: partner_kind_filter(&query.kind)?,
        category: category_filter(&query.category)?,
        scope: caller.partner_scope().unwrap_or(0),
        page,
        per_page,
    };
    let (items, total) = store::list(db, &filter).await?;
    Ok(Page { items, total, page, per_page })
}

/// The filter of an export, checked (and kept to the caller's partner) before the first row.
pub fn export_filter(caller: &Caller, query: &PartnerQuery) -> Result<PartnerFilter, AppError> {
    Ok(PartnerFilter {
        search: query.q.clone(),
        kind: partner_kind_filter(&query.kind)?,
        category: category_filter(&query.category)?,
        scope: caller.partner_scope().unwrap_or(0),
        page: 1,
        per_page: 1,
    })
}

pub async fn export_chunk(db: &Db, filter: &PartnerFilter, after: i64, limit: i64) -> Result<Vec<Partner>, AppError> {
    Ok(store::export_chunk(db, filter, after, limit).await?)
}

#[tracing::instrument(skip(db, caller))]
pub async fn get(db: &Db, caller: &Caller, slug: &str) -> Result<Partner, AppError> {
    let missing = || format!("partner \"{slug}\"");
    let partner = store::get_by_slug(db, slug).await?.ok_or_else(|| AppError::NotFound(missing()))?;
    caller.check(Action::Read { partner: partner.id }, missing)?;
    Ok(partner)
}

/// Slugs and names of the partners the caller can see, for pickers.
pub async fn names(db: &Db, caller: &Caller) -> Result<Vec<(String, String, String)>, AppError> {
    let all = store::names(db).await?;
    Ok(match &caller.partner {
        Some(own) if caller.partner_scope().is_some() => all.into_iter().filter(|(slug, _, _)| *slug == own.slug).collect(),
        _ if caller.partner_scope().is_some() => Vec::new(),
        _ => all,
    })
}

/// Letting an organisation's members join gives them accounts: that is user
/// management, so only admins may switch it on or point it elsewhere.
fn check_auto_join(caller: &Caller, valid: &crate::domain::partner::ValidPartner, current: Option<&Partner>) -> Result<(), AppError> {
    let changes = match current {
        None => valid.github_auto_join,
        Some(p) => valid.github_auto_join && (!p.github_auto_join || p.github_org != valid.github_org),
    };
    if changes && !caller.may(Action::ManageUsers) {
        let mut fields = FieldErrors::new();
        fields.insert("github_auto_join".into(), vec!["only an admin can let an organisation's members join automatically".into()]);
        return Err(AppError::invalid(fields));
    }
    Ok(())
}

fn slug_taken(slug: &str) -> AppError {
    AppError::conflict("slug", format!("the slug \"{slug}\" is already taken by another partner"))
}

#[tracing::instrument(skip_all)]
pub async fn create(db: &Db, caller: &Caller, input: &PartnerInput, orgs: &GithubOrgs) -> Result<Partner, AppError> {
    caller.check(Action::ManagePartners, || "partners".into())?;
    let mut valid = input.validate().map_err(AppError::invalid)?;
    check_auto_join(caller, &valid, None)?;
    check_manager(db, None, &mut valid).await?;
    pin_org(orgs, caller, None, &mut valid).await?;
    let audit = Entry::by(caller, "partner.create", TargetKind::Partner, None, &valid.name)
        .summary(format!("Added partner {}", valid.name))
        .changes(created(&valid.audit_fields()));
    match store::insert(db, &valid, Utc::now(), &audit).await {
        Ok(_) => get(db, caller, &valid.slug).await,
        Err(e) if is_unique_violation(&e) => Err(slug_taken(&valid.slug)),
        Err(e) => Err(e.into()),
    }
}

#[tracing::instrument(skip(db, caller, input, orgs))]
pub async fn update(db: &Db, caller: &Caller, slug: &str, input: &PartnerInput, orgs: &GithubOrgs) -> Result<Partner, AppError> {
    let current = get(db, caller, slug).await?;
    caller.check(Action::EditPartner { partner: current.id }, || format!("partner \"{slug}\""))?;
    let mut valid = input.validate().map_err(AppError::invalid)?;
    check_auto_join(caller, &valid, Some(&current))?;
    if valid.kind != current.kind {
        // A partner must stay allowed to own the integrations it has.
        let owned = integration_store::kinds_of_partner(db, current.id).await?;
        if let Some(k) = owned.into_iter().find(|k| !valid.kind.allows(*k)) {
            let mut fields = FieldErrors::new();
            fields.insert(
                "kind".into(),
                vec![format!("this partner owns {} integrations, which a {} partner cannot", k.label().to_lowercase(), valid.kind.key())],
            );
            return Err(AppError::invalid(fields));
        }
    }
    check_manager(db, Some(&current), &mut valid).await?;
    pin_org(orgs, caller, Some(&current), &mut valid).await?;
    let changed = changes(&current.audit_fields(), &valid.audit_fields());
    if changed.is_empty() {
        return Ok(current);
    }
    let audit = Entry::by(caller, "partner.update", TargetKind::Partner, Some(current.id), &valid.name)
        .partner(current.id)
        .summary(format!("Changed {} of partner {}", field_names(&changed), valid.name))
        .changes(changed);
    match store::update(db, current.id, &valid, Utc::now(), &audit).await {
        Ok(()) => {
            // A new alliance manager or namespace may complete automatic tasks.
            for id in integration_store::ids_of_partner(db, current.id).await? {
                crate::services::pipeline::observe(db, id, Utc::now()).await?;
            }
            get(db, caller, &valid.slug).await
        }
        Err(e) if is_unique_violation(&e) => Err(slug_taken(&valid.slug)),
        Err(e) => Err(e.into()),
    }
}
