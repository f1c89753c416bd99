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
pub(crate) mod filter;
mod groups;
pub(crate) mod map;
pub(crate) mod patch;
mod request;
mod responses;
pub(crate) mod schema;
mod search;
mod users;
mod wire;

use axum::http::StatusCode;

pub use self::responses::CONTENT_TYPE;
pub use self::search::{MAX_COUNT, SCAN_CAP};

use self::discovery::{resource_type, resource_types, schema_by_id, schemas, service_provider_config};
use self::error::{ScimDialect, ScimError};
use self::groups::{create_group, delete_group, get_group, list_groups, patch_group, replace_group, search_groups};
use self::request::Auth;
use self::search::search_all;
use self::users::{create_user, delete_user, get_user, list_users, patch_user, replace_user, search_users};
use crate::http::AppState;
use crate::http::routes::Routes;

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/ServiceProviderConfig", service_provider_config)
        .get("/Schemas", schemas)
        .get("/Schemas/{id}", schema_by_id)
        .get("/ResourceTypes", resource_types)
        .get("/ResourceTypes/{id}", resource_type)
        .get("/Users", list_users)
        .post("/Users", create_user)
        .post("/Users/.search", search_users)
        .get("/Users/{id}", get_user)
        .put("/Users/{id}", replace_user)
        .patch("/Users/{id}", patch_user)
        .delete("/Users/{id}", delete_user)
        .get("/Groups", list_groups)
        .post("/Groups", create_group)
        .post("/Groups/.search", search_groups)
        .get("/Groups/{id}", get_group)
        .put("/Groups/{id}", replace_group)
        .patch("/Groups/{id}", patch_group)
        .delete("/Groups/{id}", delete_group)
        .post("/.search", search_all)
        // RFC 7644 §3.7: bulk requests are POSTs.
        .post("/Bulk", bulk)
        .in_dialect::<ScimDialect>()
}

async fn bulk(_: Auth) -> ScimError {
    ScimError::new(StatusCode::NOT_IMPLEMENTED, None, "bulk operations are not supported")
}
