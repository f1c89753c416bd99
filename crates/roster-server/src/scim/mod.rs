//! The SCIM 2.0 front-end (RFC 7643, RFC 7644), mounted at `/scim/v2`, for
//! identity providers (Entra ID, Okta) and the conformance testers
//! (dialects/scim.md). Bearer auth with Roster API keys. Translates only:
//! every rule, authorization included, is the core's; groups made here get
//! `source_type` scim.
//!
//! Lists push what the store can index down to it (`userName eq`, `id eq`,
//! `externalId eq`, `active eq`, `userName sw`, `displayName eq/sw/co`) and
//! evaluate the whole filter in Rust over the candidates. A filter nothing
//! can be pushed for scans the candidates in keyset pages, at most
//! [`SCAN_CAP`] of them, then answers `tooMany`.

mod discovery;
mod error;
mod filter;
mod groups;
mod map;
mod patch;
mod request;
mod responses;
mod schema;
mod search;
mod users;
mod wire;

use axum::Router;
use axum::extract::OriginalUri;
use axum::http::StatusCode;
use axum::routing::{get, post};

pub use self::responses::CONTENT_TYPE;
pub use self::search::{MAX_COUNT, SCAN_CAP};

use self::discovery::{resource_type, resource_types, schema_by_id, schemas, service_provider_config};
use self::error::ScimError;
use self::groups::{create_group, delete_group, get_group, list_groups, patch_group, replace_group, search_groups};
use self::request::Auth;
use self::search::search_all;
use self::users::{create_user, delete_user, get_user, list_users, patch_user, replace_user, search_users};
use crate::http::AppState;

pub fn router(state: AppState) -> Router {
    let discovery = |h: axum::routing::MethodRouter<AppState>| h.fallback(not_allowed);
    Router::new()
        .route("/ServiceProviderConfig", discovery(get(service_provider_config)))
        .route("/Schemas", discovery(get(schemas)))
        .route("/Schemas/{id}", discovery(get(schema_by_id)))
        .route("/ResourceTypes", discovery(get(resource_types)))
        .route("/ResourceTypes/{id}", discovery(get(resource_type)))
        .route("/Users", get(list_users).post(create_user).fallback(not_allowed))
        .route("/Users/.search", post(search_users).fallback(not_allowed))
        .route(
            "/Users/{id}",
            get(get_user).put(replace_user).patch(patch_user).delete(delete_user).fallback(not_allowed),
        )
        .route("/Groups", get(list_groups).post(create_group).fallback(not_allowed))
        .route("/Groups/.search", post(search_groups).fallback(not_allowed))
        .route(
            "/Groups/{id}",
            get(get_group).put(replace_group).patch(patch_group).delete(delete_group).fallback(not_allowed),
        )
        .route("/.search", post(search_all).fallback(not_allowed))
        .route("/Bulk", axum::routing::any(bulk))
        .fallback(fallback)
        .with_state(state)
}

async fn fallback(OriginalUri(uri): OriginalUri) -> ScimError {
    ScimError::not_found(format!("no such endpoint: {}", uri.path()))
}

async fn not_allowed() -> ScimError {
    ScimError::new(StatusCode::METHOD_NOT_ALLOWED, None, "method not allowed here")
}

async fn bulk(_: Auth) -> ScimError {
    ScimError::new(StatusCode::NOT_IMPLEMENTED, None, "bulk operations are not supported")
}
