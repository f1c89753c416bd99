//! The store contract: the same checks against every backend, through
//! `&dyn Store`: SQLite always (a temp file), PostgreSQL at
//! `ROSTER_TEST_PG_URL`, else the local server when one answers (a
//! throw-away database per test).

mod closure;
mod contract;
mod feed;
mod hot;
mod member_sets;
mod races;
mod webhooks;

use std::sync::Arc;

use roster_core::Store;

/// A store on a fresh, throw-away database, kept alive by its guard.
pub struct Backend {
    pub name: &'static str,
    pub store: Arc<dyn Store>,
    /// The database's URL, for a test that must reach under the store.
    pub url: String,
    _guard: Guard,
}

enum Guard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(#[allow(dead_code)] roster_store::testing::PgDatabase),
}

/// Every backend this machine can run: SQLite always, PostgreSQL when
/// there is one (skipped visibly otherwise).
pub async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("contract.db").display());
    let store = roster_store::connect(&url).await.expect("sqlite store");
    let mut all = vec![Backend { name: "sqlite", store, url, _guard: Guard::Sqlite(dir) }];
    let test = std::thread::current().name().unwrap_or("contract").to_owned();
    if let Some(db) = roster_store::testing::postgres(&test).await {
        let store = roster_store::connect(&db.url).await.expect("postgres store");
        let url = db.url.clone();
        all.push(Backend { name: "postgres", store, url, _guard: Guard::Postgres(db) });
    }
    all
}
