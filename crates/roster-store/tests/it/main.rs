//! The store contract: the same checks against every backend, through
//! `&dyn Store`. SQLite always (a temp file); further backends join here.

mod contract;

use std::sync::Arc;

use roster_core::Store;

/// A store on a fresh, throw-away database, kept alive by its guard.
pub struct Backend {
    pub name: &'static str,
    pub store: Arc<dyn Store>,
    _guard: tempfile::TempDir,
}

/// Every backend this machine can run.
pub async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("contract.db").display());
    let store = roster_store::connect(&url).await.expect("sqlite store");
    vec![Backend {
        name: "sqlite",
        store,
        _guard: dir,
    }]
}
