use crate::helpers::{fresh_db, Backend};
use app::store::Db;
use std::collections::BTreeSet;

/// (table, column) pairs of the schema the migrations built.
async fn columns(db: &Db) -> BTreeSet<(String, String)> {
    let rows: Vec<(String, String)> = match db {
        Db::Sqlite(pool) => sqlx::query_as(
            "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
        Db::Postgres(pool) => sqlx::query_as(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%'",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
    };
    rows.into_iter().collect()
}

/// The paired migration folders must build the same tables and columns.
#[tokio::test]
async fn both_backends_have_the_same_schema() {
    let (sqlite, _a) = fresh_db(Backend::Sqlite).await;
    let (postgres, _b) = fresh_db(Backend::Postgres).await;
    let (s, p) = (columns(&sqlite).await, columns(&postgres).await);
    assert!(s.len() > 10, "{s:?}");
    assert_eq!(s, p, "migrations/sqlite and migrations/postgres disagree");
}

async fn demo_data_loads_once(backend: Backend) {
    let (db, _guard) = fresh_db(backend).await;
    match server::demo::seed(&db).await.expect("seed") {
        server::demo::Seeded::Loaded { partners, integrations } => {
            assert!(partners >= 25, "{partners}");
            assert!(integrations >= 55, "{integrations}");
        }
        server::demo::Seeded::AlreadyHasData => panic!("fresh database reported data"),
    }
    assert!(matches!(server::demo::seed(&db).await.expect("seed again"), server::demo::Seeded::AlreadyHasData));
    // Every tier and every stage of both tracks is represented.
    let query = app::domain::integration::IntegrationQuery { per_page: Some(100), ..Default::default() };
    // One demo account per role, for the sign-in page's picker.
    let people = app::store::users::demo_users(&db).await.unwrap();
    for role in app::domain::access::Role::ALL {
        assert!(people.iter().any(|p| p.role == *role), "no demo {role:?}");
    }
    let admin = people.iter().find(|p| p.role == app::domain::access::Role::Admin).unwrap();
    let mut all = Vec::new();
    for page in 1..=3 {
        let q = app::domain::integration::IntegrationQuery { page: Some(page), ..query.clone() };
        all.extend(app::services::integrations::list(&db, admin, &q).await.unwrap().items);
    }
    // A demo partner member sees their own partner's integrations only.
    let member = people.iter().find(|p| p.role == app::domain::access::Role::Partner).unwrap();
    let own = app::services::integrations::list(&db, member, &query).await.unwrap();
    let partner = member.partner.as_ref().unwrap();
    assert!(own.total > 0 && own.items.iter().all(|i| i.partner_id == partner.id), "{own:?}");
    for tier in app::domain::catalog::Tier::ALL {
        assert!(all.iter().any(|i| i.tier == *tier), "no {tier:?} integration");
    }
    for stage in app::domain::catalog::Stage::ALL {
        assert!(all.iter().any(|i| i.stage == *stage), "no integration in {stage:?}");
    }
    assert!(all.iter().any(|i| i.source_address.as_deref().is_some_and(|a| !a.starts_with("registry.terraform.io/"))));
}

#[tokio::test]
async fn demo_data_loads_once_sqlite() {
    demo_data_loads_once(Backend::Sqlite).await
}

#[tokio::test]
async fn demo_data_loads_once_postgres() {
    demo_data_loads_once(Backend::Postgres).await
}

#[tokio::test]
async fn an_unknown_database_scheme_is_refused_with_a_clear_message() {
    let err = Db::connect("mysql://root@localhost/test").await.expect_err("mysql is not supported");
    assert!(err.to_string().contains("must start with sqlite:// or postgres://"), "{err}");
}

#[tokio::test]
async fn sqlite_creates_its_directory_and_file() {
    let dir = std::env::temp_dir().join(format!("tracker-mkdir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = Db::connect(&format!("sqlite://{}/nested/tracker.db", dir.display())).await.expect("connect");
    db.migrate().await.expect("migrate");
    assert!(dir.join("nested/tracker.db").exists());
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
