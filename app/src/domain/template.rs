//! The default checklists of both tracks, from the program guide (issue 4),
//! and the pure checks behind the tasks that complete themselves. An
//! integration is given a copy of its track's checklist when it is created;
//! admins can later edit templates and apply a new version to chosen
//! integrations.

use super::catalog::{IntegrationKind, Stage};

/// What an automatic task waits for; the service that observes the fact
/// completes the task and records the fact and when it was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    /// The repository is named `terraform-provider-<type>` (from its URL and the source address).
    RepositoryNamed,
    /// GitHub reports an approved licence for the repository.
    LicenceApproved,
    /// The registry poller saw a published version.
    VersionPublished,
    /// The provider is published under the partner's own registry namespace.
    OwnNamespace,
    /// The partner has an alliance manager.
    ManagerAssigned,
    /// A run task's endpoint URL is registered.
    EndpointRegistered,
    /// A run task's HMAC key is registered.
    HmacRegistered,
    /// A run task's supported stages are chosen.
    StagesChosen,
}

impl Fact {
    /// The stored form.
    pub fn key(self) -> &'static str {
        match self {
            Fact::RepositoryNamed => "repository_named",
            Fact::LicenceApproved => "licence_approved",
            Fact::VersionPublished => "version_published",
            Fact::OwnNamespace => "own_namespace",
            Fact::ManagerAssigned => "manager_assigned",
            Fact::EndpointRegistered => "endpoint_registered",
            Fact::HmacRegistered => "hmac_registered",
            Fact::StagesChosen => "stages_chosen",
        }
    }
}

/// One task of a default checklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskTemplate {
    /// Stable key, unique within the track (`prepare.licence`).
    pub key: &'static str,
    pub stage: Stage,
    pub title: &'static str,
    /// What counts as done, shown under the title.
    pub help: &'static str,
    pub required: bool,
    pub automatic: Option<Fact>,
}

const fn task(key: &'static str, stage: Stage, title: &'static str, help: &'static str) -> TaskTemplate {
    TaskTemplate { key, stage, title, help, required: true, automatic: None }
}
const fn auto(key: &'static str, stage: Stage, title: &'static str, help: &'static str, fact: Fact) -> TaskTemplate {
    TaskTemplate { key, stage, title, help, required: true, automatic: Some(fact) }
}

use Stage::*;

const PROVIDER: &[TaskTemplate] = &[
    task(
        "prepare.framework",
        Prepare,
        "Built with the plugin framework or SDK",
        "Link the provider's go.mod or the framework's use in the repository.",
    ),
    auto(
        "prepare.repository",
        Prepare,
        "Public repository named terraform-provider-<type>",
        "Checked from the repository URL and the source address.",
        Fact::RepositoryNamed,
    ),
    auto(
        "prepare.licence",
        Prepare,
        "Approved open source licence",
        "Checked from the repository's licence; a reviewer decides when GitHub cannot name it.",
        Fact::LicenceApproved,
    ),
    task("prepare.docs", Prepare, "Documentation in the repository", "Link the docs/ directory."),
    auto(
        "publish.version",
        Publish,
        "A version is published on the registry",
        "Completed when the registry poller sees a published version.",
        Fact::VersionPublished,
    ),
    task(
        "publish.docs_render",
        Publish,
        "Documentation renders correctly on the registry",
        "Confirm after checking the provider's registry pages.",
    ),
    auto(
        "publish.namespace",
        Publish,
        "Published under the partner's own namespace",
        "The source address's namespace is the partner's registry namespace.",
        Fact::OwnNamespace,
    ),
    task(
        "apply.application",
        Apply,
        "Application to the technology partner program submitted",
        "Link or describe the submitted application.",
    ),
    auto("apply.manager", Apply, "Alliance manager assigned", "Completed when the partner has an alliance manager.", Fact::ManagerAssigned),
    task("verify.publisher", Verify, "Publisher authenticity verified", "Alliances staff verify the publisher."),
    task("verify.membership", Verify, "Program membership confirmed", "Alliances staff confirm the membership."),
    task("verify.integration", Verify, "Integration verified", "Once Verify is complete, the provider's tier becomes verified."),
    task("support.contacts", Support, "Support contacts confirmed", "The partner confirms the support contacts on its page."),
];

const RUN_TASK: &[TaskTemplate] = &[
    task("engage.signup", Engage, "Signed up for the technology partner program", "Link or describe the sign-up."),
    auto(
        "engage.manager",
        Engage,
        "Alliance manager assigned",
        "Completed when the partner has an alliance manager.",
        Fact::ManagerAssigned,
    ),
    auto(
        "develop.endpoint",
        DevelopTest,
        "Endpoint URL registered",
        "The HTTPS URL Terraform Cloud sends run-task requests to (Run-task registration, below the details).",
        Fact::EndpointRegistered,
    ),
    auto(
        "develop.hmac",
        DevelopTest,
        "HMAC key registered",
        "Entered in the run-task registration; never shown again, only its fingerprint.",
        Fact::HmacRegistered,
    ),
    auto(
        "develop.stages",
        DevelopTest,
        "Run-task stages supported chosen",
        "Which of pre-plan, post-plan, pre-apply and post-apply the integration supports (run-task registration).",
        Fact::StagesChosen,
    ),
    task("develop.evidence", DevelopTest, "Test evidence", "Link test runs that passed and failed as expected."),
    task("review.enabled", Review, "Enabled on the partner platform and in Terraform Cloud", "Describe where it is enabled."),
    task("review.use_case", Review, "Use case explained", "A short description of what the integration checks and why."),
    task("review.demo", Review, "Live demonstration held", "The date and who attended."),
    task("release.summary", Release, "Two-line summary for the public partner list", "At most two lines and 280 characters."),
    task("release.getting_started", Release, "Getting-started documentation", "Link the documentation for users."),
    task(
        "release.support_docs",
        Release,
        "Support documentation",
        "Points of contact, email address, FAQ or best practices. Once Release is complete, the Terraform Cloud badge is granted.",
    ),
    task("support.contacts", Support, "Support contacts confirmed", "The partner confirms the support contacts on its page."),
];

/// The default checklist of a track, in stage order.
pub fn default_checklist(kind: IntegrationKind) -> &'static [TaskTemplate] {
    match kind {
        IntegrationKind::Provider => PROVIDER,
        IntegrationKind::RunTask => RUN_TASK,
    }
}

/// The tier an integration gets when it completes `stage`: the program
/// guide's "Verify … on success the provider's tier becomes verified".
/// Only a community integration moves; official ones stay official. Tied
/// to the stage, not to one of its tasks: accepting "Integration verified"
/// while the publisher or membership checks are still open verifies nothing.
pub fn tier_on_completing(stage: Stage, current: super::catalog::Tier) -> Option<super::catalog::Tier> {
    use super::catalog::Tier;
    (stage == Stage::Verify && current == Tier::Community).then_some(Tier::Verified)
}

/// Whether completing `stage` grants a run task the Terraform Cloud badge
/// (the program guide: Release, "on completion the partner earns the
/// Terraform Cloud badge").
pub fn grants_badge(stage: Stage) -> bool {
    stage == Stage::Release
}

/// Whether a repository URL names the provider's repository as the
/// registry protocol expects: `…/terraform-provider-<type>`.
pub fn repository_matches_type(repository_url: &str, type_name: &str) -> Result<(), String> {
    let path = repository_url.trim().trim_end_matches('/').trim_end_matches(".git");
    let name = path.rsplit('/').next().unwrap_or_default().to_lowercase();
    let expected = format!("terraform-provider-{}", type_name.to_lowercase());
    if name == expected {
        Ok(())
    } else {
        Err(format!("the repository is named \"{name}\"; the registry expects \"{expected}\""))
    }
}

/// Rules a report of a particular task must meet beyond "has evidence":
/// the Release summary is the note itself, so it must be a valid summary.
pub fn check_report(key: &str, note: Option<&str>) -> Result<(), String> {
    match key {
        "release.summary" => validate_summary(note.unwrap_or_default()).map_err(|e| format!("the note is the public summary: {e}")),
        _ => Ok(()),
    }
}

/// The public two-line summary of a run-task integration: at most two
/// lines and 280 characters, not blank.
pub fn validate_summary(summary: &str) -> Result<(), String> {
    let text = summary.trim();
    if text.is_empty() {
        return Err("write the summary".into());
    }
    let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
    if lines > 2 {
        return Err(format!("at most two lines (this has {lines})"));
    }
    let chars = text.chars().count();
    if chars > 280 {
        return Err(format!("at most 280 characters (this has {chars})"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_stage_of_each_track_has_tasks_in_order_with_unique_keys() {
        for kind in IntegrationKind::ALL {
            let list = default_checklist(*kind);
            let keys: HashSet<_> = list.iter().map(|t| t.key).collect();
            assert_eq!(keys.len(), list.len(), "{kind:?}: duplicate keys");
            let track = kind.track();
            for stage in track {
                assert!(list.iter().any(|t| t.stage == *stage), "{kind:?}: no task in {stage:?}");
            }
            let positions: Vec<usize> =
                list.iter().map(|t| track.iter().position(|s| *s == t.stage).expect("stage of the track")).collect();
            assert!(positions.windows(2).all(|w| w[0] <= w[1]), "{kind:?}: tasks out of stage order");
            assert!(list.iter().all(|t| t.key.contains('.') && !t.title.is_empty()));
        }
        assert!(default_checklist(IntegrationKind::Provider).iter().any(|t| t.automatic == Some(Fact::VersionPublished)));
    }

    #[test]
    fn repository_names() {
        let cases = [
            ("https://github.com/acme/terraform-provider-cloud", "cloud", true),
            ("https://github.com/acme/terraform-provider-cloud/", "cloud", true),
            ("https://github.com/acme/terraform-provider-cloud.git", "cloud", true),
            ("https://github.com/Acme/Terraform-Provider-Cloud", "cloud", true),
            ("https://github.com/acme/cloud-provider", "cloud", false),
            ("https://github.com/acme/terraform-provider-cloudy", "cloud", false),
            ("https://github.com/acme/terraform-provider-", "cloud", false),
            ("", "cloud", false),
        ];
        for (url, type_name, ok) in cases {
            assert_eq!(repository_matches_type(url, type_name).is_ok(), ok, "{url}");
        }
    }

    #[test]
    fn summaries() {
        let long = "x".repeat(281);
        let cases: [(&str, Result<(), &str>); 6] = [
            ("Checks plans for cost overruns.", Ok(())),
            ("Line one.\nLine two.", Ok(())),
            ("Line one.\n\nLine two.\n", Ok(())),
            ("One.\nTwo.\nThree.", Err("at most two lines")),
            (&long, Err("at most 280 characters")),
            ("   ", Err("write the summary")),
        ];
        for (text, expected) in cases {
            match (validate_summary(text), expected) {
                (Ok(()), Ok(())) => {}
                (Err(e), Err(start)) => assert!(e.starts_with(start), "{text:?}: {e}"),
                (got, _) => panic!("{text:?}: {got:?}"),
            }
        }
    }

    #[test]
    fn completing_verify_makes_a_community_provider_verified() {
        use crate::domain::catalog::Tier;
        let cases = [
            (Stage::Verify, Tier::Community, Some(Tier::Verified)),
            (Stage::Verify, Tier::Official, None),
            (Stage::Verify, Tier::Verified, None),
            (Stage::Verify, Tier::Archived, None),
            (Stage::Apply, Tier::Community, None),
            (Stage::Release, Tier::Community, None),
        ];
        for (stage, tier, want) in cases {
            assert_eq!(tier_on_completing(stage, tier), want, "{stage:?} {tier:?}");
        }
    }

    #[test]
    fn completing_release_grants_the_badge() {
        let cases = [(Stage::Release, true), (Stage::Review, false), (Stage::Verify, false), (Stage::Support, false)];
        for (stage, want) in cases {
            assert_eq!(grants_badge(stage), want, "{stage:?}");
        }
    }

    #[test]
    fn the_release_summary_is_checked_when_reported() {
        let cases = [
            ("release.summary", Some("Scans plans for misconfigurations.\nBlocks risky applies."), true),
            ("release.summary", None, false),
            ("release.summary", Some("One.\nTwo.\nThree."), false),
            ("prepare.docs", None, true),
        ];
        for (key, note, ok) in cases {
            assert_eq!(check_report(key, note).is_ok(), ok, "{key} {note:?}");
        }
    }
}
