//! Demo data: a realistic program to click through on a fresh install. It
//! goes through the same services as the forms and the API, so it obeys
//! every validation rule.

use app::domain::access::{Caller, Role};
use app::domain::audit::{Entry, TargetKind};
use app::domain::catalog::{IntegrationKind, Stage, Tier};
use app::domain::integration::IntegrationInput;
use app::domain::partner::{Contact, PartnerInput, PartnerQuery};
use app::domain::user::UserStatus;
use app::error::AppError;
use app::services::{integrations, partners};
use app::store::users::{self as user_store, NewUser};
use app::store::Db;
use chrono::Utc;

pub enum Seeded {
    Loaded { partners: usize, integrations: usize },
    AlreadyHasData,
}

/// (name, kind, partner categories, namespace, products)
/// A product is (kind, product name, provider type or "", host or "").
type Product = (&'static str, &'static str, &'static str, &'static str);
type DemoPartner = (&'static str, &'static str, &'static [&'static str], &'static str, &'static [Product]);

const P: &str = "provider";
const R: &str = "run_task";

const PARTNERS: &[DemoPartner] = &[
    (
        "Nimbus Cloud",
        "infrastructure",
        &["Public Cloud", "IaaS"],
        "nimbus",
        &[(P, "Nimbus Cloud", "nimbus", ""), (P, "Nimbus Edge", "edge", ""), (P, "Nimbus DNS", "dns", "")],
    ),
    (
        "Stratus Networks",
        "infrastructure",
        &["Networking"],
        "stratusnet",
        &[(P, "Stratus SD-WAN", "sdwan", ""), (P, "Stratus Fabric", "fabric", ""), (P, "Stratus Firewall", "firewall", "")],
    ),
    (
        "Kelvin Data",
        "infrastructure",
        &["Database", "Data Management"],
        "kelvindata",
        &[(P, "Kelvin DB", "kelvindb", ""), (P, "Kelvin Streams", "streams", "terraform.kelvindata.example")],
    ),
    (
        "Orbital Containers",
        "infrastructure",
        &["Container Orchestration", "PaaS"],
        "orbital",
        &[(P, "Orbital Kubernetes", "kube", ""), (P, "Orbital Registry", "registry", ""), (P, "Orbital Mesh", "mesh", "")],
    ),
    (
        "Granite Storage",
        "infrastructure",
        &["Data Management", "IaaS"],
        "granite",
        &[(P, "Granite Object Store", "objectstore", ""), (P, "Granite Backup", "backup", "registry.opentofu.org")],
    ),
    (
        "Lumen Logs",
        "infrastructure",
        &["Logging & Monitoring"],
        "lumenlogs",
        &[(P, "Lumen Logs", "lumen", ""), (P, "Lumen Alerts", "alerts", ""), (P, "Lumen Traces", "traces", "")],
    ),
    (
        "Keystone Identity",
        "infrastructure",
        &["Security & Authentication"],
        "keystoneid",
        &[
            (P, "Keystone Directory", "directory", ""),
            (P, "Keystone Secrets", "secrets", ""),
            (P, "Keystone MFA", "mfa", "terraform.keystone.example"),
        ],
    ),
    (
        "Harbor Messaging",
        "infrastructure",
        &["Comms & Messaging"],
        "harbormsg",
        &[(P, "Harbor Queues", "queues", ""), (P, "Harbor Notify", "notify", "tf.harbor.example:8443")],
    ),
    (
        "Atlas Assets",
        "infrastructure",
        &["Asset Management", "Utility"],
        "atlasassets",
        &[(P, "Atlas CMDB", "cmdb", ""), (P, "Atlas Tags", "tags", "")],
    ),
    (
        "Meridian Web",
        "infrastructure",
        &["Web Services", "PaaS"],
        "meridianweb",
        &[(P, "Meridian CDN", "cdn", ""), (P, "Meridian Functions", "functions", ""), (P, "Meridian Certificates", "certs", "")],
    ),
    (
        "Alpenwerk Rechenzentrum",
        "infrastructure",
        &["IaaS", "Public Cloud"],
        "alpenwerk",
        &[(P, "Alpenwerk Cloud", "cloud", "münchen.example"), (P, "Alpenwerk Netz", "netz", "münchen.example")],
    ),
    (
        "Tidepool Automation",
        "infrastructure",
        &["Cloud Automation", "Utility"],
        "tidepool",
        &[
            (P, "Tidepool Workflows", "workflows", ""),
            (P, "Tidepool Scheduler", "scheduler", ""),
            (P, "Tidepool Vault Sync", "vaultsync", ""),
        ],
    ),
    (
        "Sentinel Scan",
        "workflow",
        &["Code Scanning"],
        "",
        &[(R, "Sentinel IaC Scan", "", ""), (R, "Sentinel Drift Guard", "", ""), (R, "Sentinel Licence Check", "", "")],
    ),
    ("Ledgerline", "workflow", &["Cost Estimation"], "", &[(R, "Ledgerline Cost Check", "", ""), (R, "Ledgerline Budget Gate", "", "")]),
    (
        "Watchtower Observability",
        "workflow",
        &["Monitoring"],
        "",
        &[(R, "Watchtower Change Events", "", ""), (R, "Watchtower SLO Gate", "", "")],
    ),
    ("Zerogate", "workflow", &["Zero Trust Security"], "", &[(R, "Zerogate Policy Check", "", ""), (R, "Zerogate Access Review", "", "")]),
    ("Auditrail", "workflow", &["Audit"], "", &[(R, "Auditrail Evidence Export", "", ""), (R, "Auditrail Policy Log", "", "")]),
    ("Ticketwise", "workflow", &["ITSM"], "", &[(R, "Ticketwise Change Approval", "", ""), (R, "Ticketwise Incident Link", "", "")]),
    ("Pipewright", "workflow", &["CI/CD", "VCS"], "", &[(R, "Pipewright Gate", "", ""), (R, "Pipewright Artifact Check", "", "")]),
    (
        "Cobalt Security",
        "both",
        &["Security & Authentication", "Code Scanning"],
        "cobaltsec",
        &[(P, "Cobalt WAF", "waf", ""), (R, "Cobalt Misconfig Scan", "", ""), (R, "Cobalt Secrets Scan", "", "")],
    ),
    (
        "Prism Monitoring",
        "both",
        &["Logging & Monitoring", "Monitoring"],
        "prism",
        &[(P, "Prism Dashboards", "dashboards", ""), (R, "Prism Deploy Markers", "", "")],
    ),
    ("Beacon Git", "both", &["VCS", "CI/CD"], "beacongit", &[(P, "Beacon Repos", "repos", ""), (R, "Beacon Plan Comments", "", "")]),
    (
        "Quarry Costs",
        "both",
        &["Cost Estimation", "Utility"],
        "quarry",
        &[(P, "Quarry Budgets", "budgets", ""), (R, "Quarry Cost Estimate", "", "")],
    ),
    (
        "Northwind SSO",
        "both",
        &["SSO", "Security & Authentication"],
        "northwindsso",
        &[(P, "Northwind Apps", "apps", "app.terraform.io"), (R, "Northwind Session Check", "", "")],
    ),
    (
        "Helix Database",
        "infrastructure",
        &["Database"],
        "helixdb",
        &[(P, "Helix Cloud", "helix", ""), (P, "Helix Atlas Cluster", "cluster", ""), (P, "Helix Backup Vault", "vault", "")],
    ),
];

const MANAGERS: &[(&str, &str)] = &[
    ("Priya Raman", "priya.raman@alliances.example"),
    ("Tomás Ortega", "tomas.ortega@alliances.example"),
    ("Ingrid Holm", "ingrid.holm@alliances.example"),
    ("", ""),
];

/// Demo accounts (name, email, role, partner slug): one per role, offered
/// by the sign-in page's picker on a local demo server.
const PEOPLE: &[(&str, &str, Role, &str)] = &[
    ("Ada Admin", "ada.admin@alliances.example", Role::Admin, ""),
    ("Priya Raman", "priya.raman@alliances.example", Role::Reviewer, ""),
    ("Victor Viewer", "victor.viewer@alliances.example", Role::Viewer, ""),
    ("Nadia Nimbus", "nadia@nimbuscloud.example", Role::Partner, "nimbus-cloud"),
    ("Sam Sentinel", "sam@sentinelscan.example", Role::Partner, "sentinel-scan"),
];

async fn add_person(db: &Db, (name, email, role, partner): &(&str, &str, Role, &str)) -> Result<i64, AppError> {
    let partner_id = match *partner {
        "" => None,
        slug => app::store::partners::kind_by_slug(db, slug).await?.map(|(id, _)| id),
    };
    let new = NewUser { email, name, role: *role, partner_id, status: UserStatus::Active, demo: true };
    let audit = Entry::system("user.create", TargetKind::User, None, email).summary(format!("Demo account {email} added"));
    Ok(user_store::insert(db, &new, Utc::now(), &audit).await?)
}

/// Where the demo's run tasks send their requests (the server's sample endpoint).
pub struct SampleEndpoint {
    pub url: String,
    pub key: String,
    /// `OUTBOUND_ALLOW`'s plain-http hosts: the sample is on this machine.
    pub plain_http: Vec<String>,
}

/// Loads the demo set unless the database already holds partners.
pub async fn seed(db: &Db) -> Result<Seeded, AppError> {
    seed_with(db, None).await
}

/// [`seed`], registering the run tasks to `sample` when given.
pub async fn seed_with(db: &Db, sample: Option<&SampleEndpoint>) -> Result<Seeded, AppError> {
    // The seed acts as a passing administrator, so every rule applies.
    let seeder = Caller { user_id: 0, email: "seed@localhost".into(), name: "Demo seed".into(), role: Role::Admin, partner: None };
    let existing = partners::list(db, &seeder, &PartnerQuery { per_page: Some(1), ..Default::default() }).await?;
    if existing.total > 0 {
        return Ok(Seeded::AlreadyHasData);
    }
    // Staff first: an alliance manager is a reviewer's account.
    for person in PEOPLE.iter().filter(|p| p.3.is_empty()) {
        if user_store::get_by_email(db, person.1).await?.is_none() {
            add_person(db, person).await?;
        }
    }
    for (name, email) in MANAGERS.iter().filter(|(_, e)| !e.is_empty()) {
        if user_store::get_by_email(db, email).await?.is_none() {
            let new = NewUser { email, name, role: Role::Reviewer, partner_id: None, status: UserStatus::Active, demo: false };
            let audit = Entry::system("user.create", TargetKind::User, None, email).summary(format!("Demo reviewer {email} added"));
            user_store::insert(db, &new, Utc::now(), &audit).await?;
        }
    }
    let mut integration_count = 0;
    for (i, (name, kind, categories, namespace, products)) in PARTNERS.iter().enumerate() {
        let slug = app::domain::slug::slugify(name);
        let domain = format!("{}.example", slug.replace('-', ""));
        let (manager, manager_email) = MANAGERS[i % MANAGERS.len()];
        let partner = partners::create(
            db,
            &seeder,
            &PartnerInput {
                name: name.to_string(),
                slug: slug.clone(),
                kind: kind.to_string(),
                categories: categories.iter().map(|c| c.to_string()).collect(),
                support_contacts: vec![
                    Contact { name: "Support desk".into(), email: format!("support@{domain}") },
                    Contact { name: "Partner engineering".into(), email: format!("partners@{domain}") },
                ],
                github_org: slug.clone(),
                github_auto_join: false,
                registry_namespace: namespace.to_string(),
                alliance_manager_name: manager.into(),
                alliance_manager_email: manager_email.into(),
            },
            &partners::GithubOrgs::default(),
        )
        .await?;
        for (kind, product, type_name, host) in products.iter() {
            let kind = IntegrationKind::parse(kind).ok_or(AppError::Internal)?;
            // Spread tiers and stages so every filter finds something.
            let track = kind.track();
            let stage = track[integration_count % track.len()];
            let tier = demo_tier(kind, stage, integration_count);
            let (source_address, repository_url, range) = match kind {
                IntegrationKind::Provider => {
                    let ns = if namespace.is_empty() { slug.as_str() } else { namespace };
                    let address = if host.is_empty() { format!("{ns}/{type_name}") } else { format!("{host}/{ns}/{type_name}") };
                    let repo = format!("https://github.com/{}/terraform-provider-{type_name}", partner.slug);
                    let range = if tier == Tier::Verified { format!("~> {}.0", 1 + integration_count % 4) } else { String::new() };
                    (address, repo, range)
                }
                IntegrationKind::RunTask => {
                    (String::new(), format!("https://github.com/{}/{}", partner.slug, app::domain::slug::slugify(product)), String::new())
                }
            };
            let fitting: Vec<String> = partner.categories.iter().filter(|c| kind.categories().contains(&c.as_str())).cloned().collect();
            let categories = if fitting.is_empty() { vec![kind.categories()[0].to_string()] } else { fitting };
            let created = integrations::create(
                db,
                &seeder,
                &IntegrationInput {
                    kind: kind.key().into(),
                    name: product.to_string(),
                    partner: partner.slug.clone(),
                    categories,
                    repository_url,
                    tier: tier.key().into(),
                    stage: stage.key().into(),
                    source_address,
                    verified_version_range: range,
                },
            )
            .await?;
            seed_issues(db, &seeder, created.id, integration_count).await?;
            if let (IntegrationKind::RunTask, Some(sample)) = (kind, sample) {
                let registration = app::domain::run_task::RegistrationInput {
                    endpoint_url: sample.url.clone(),
                    hmac_key: sample.key.clone(),
                    stages: vec!["post_plan".into(), "pre_apply".into()],
                };
                app::services::run_tasks::save(db, &seeder, created.id, &registration, &sample.plain_http, Utc::now()).await?;
            }
            integration_count += 1;
        }
    }
    for person in PEOPLE {
        if user_store::get_by_email(db, person.1).await?.is_none() {
            add_person(db, person).await?;
        }
    }
    // Flags for the demo's breaches, in their grace period, so the dashboard has some.
    app::services::flags::evaluate(db, Utc::now()).await?;
    Ok(Seeded::Loaded { partners: PARTNERS.len(), integrations: integration_count })
}

/// (title, severity, opened hours ago, resolved after hours)
type DemoIssue = (&'static str, &'static str, i64, Option<i64>);

const ISSUES: &[DemoIssue] = &[
    ("Apply fails when tags are empty", "critical", 30, None),
    ("Import drops the description field", "normal", 9 * 24, None),
    ("Plan shows a diff on every run", "normal", 20 * 24, Some(50)),
    ("Provider panics on a null region", "critical", 40 * 24, Some(60)),
    ("Docs example uses a removed argument", "normal", 3 * 24, None),
    ("Timeout creating large clusters", "critical", 70 * 24, Some(20)),
    ("Rate limit errors not retried", "normal", 50 * 24, Some(4 * 24)),
    ("Destroy hangs on dependent resources", "critical", 4 * 24, None),
];

/// A few support issues per integration, recorded by hand, so the clock,
/// the lists and the compliance figures have something to show.
async fn seed_issues(db: &Db, seeder: &Caller, integration_id: i64, n: usize) -> Result<(), AppError> {
    let now = Utc::now();
    for k in 0..(n % 4) {
        let (title, severity, ago, resolved_after) = ISSUES[(n + k * 3) % ISSUES.len()];
        let opened = now - chrono::Duration::hours(ago + (n as i64 % 5));
        let resolved = resolved_after.map(|h| (opened + chrono::Duration::hours(h)).to_rfc3339()).unwrap_or_default();
        let input = app::domain::support::ManualIssueInput {
            title: title.into(),
            severity: severity.into(),
            opened_at: opened.to_rfc3339(),
            resolved_at: resolved,
            url: String::new(),
        };
        app::services::support::create(db, seeder, integration_id, &input, now).await?;
    }
    Ok(())
}

/// Providers past Verify are mostly verified; a few are archived or community.
fn demo_tier(kind: IntegrationKind, stage: Stage, n: usize) -> Tier {
    match (kind, stage) {
        (_, Stage::Support) if n % 7 == 0 => Tier::Archived,
        (IntegrationKind::Provider, Stage::Support | Stage::Verify) => Tier::Verified,
        (IntegrationKind::Provider, _) if n % 11 == 0 => Tier::Official,
        (IntegrationKind::RunTask, Stage::Release | Stage::Support) => Tier::Verified,
        _ => Tier::Community,
    }
}
