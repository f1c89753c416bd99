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

use crate::http::AppState;
use crate::http::routes::Routes;

/// Every vendor front-end, each under its own prefix.
pub fn routes() -> Routes<AppState> {
    Routes::new()
        .nest("/posit/__api__", posit::routes())
        .nest("/civis", civis::routes())
        .nest("/compliance", compliance::routes())
        .nest("/iguazio", iguazio::routes())
        .nest("/box/2.0", box_api::routes())
}
