//! Front-ends that speak other platforms' APIs, so that their official,
//! unmodified SDKs work against Roster. Each vendor is a module of its own:
//! `wire.rs` (the JSON exactly as the SDK sees it), `map.rs` (wire ↔ core:
//! ids, names, pages), `error.rs` (its one error mapping) and `mod.rs` (its
//! routes). A vendor module never imports another, nor the store; every
//! rule it needs lives in the core.

pub mod box_api;
pub mod civis;
pub mod compliance;
pub mod iguazio;
pub mod posit;

use axum::Router;

use crate::http::AppState;

/// Every vendor front-end, each under its own prefix.
pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/posit/__api__", posit::router(state.clone()))
        .nest("/civis", civis::router(state.clone()))
        .nest("/compliance", compliance::router(state.clone()))
        .nest("/iguazio", iguazio::router(state.clone()))
        .nest("/box/2.0", box_api::router(state))
}
