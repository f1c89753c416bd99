//! The Iguazio management front-end, mounted at `/iguazio` (the SDK adds
//! `/api`), as `igz-mgmt` drives it (dialects/iguazio.md): JSON:API-style
//! documents, a session check when the client is built, user groups whose
//! membership is written through the user resource, projects whose roles
//! are replaced through async transactions, and jobs the SDK polls.
//! Translates only; the all-users group every user is in is the core's
//! ([`roster_core::ALL_USERS_GROUP_ID`]), shown here because Iguazio has it.

mod access_keys;
pub(crate) mod auth;
pub(crate) mod doc;
mod error;
mod groups;
mod map;
mod projects;
pub(crate) mod query;
mod users;

use axum::extract::{Path, State};
use serde_json::{Value, json};

use self::auth::Auth;
use self::error::{Igz, IgzResult};
use crate::http::AppState;
use crate::http::extract;
use crate::http::routes::Routes;

/// A JSON request body (the SDK always sends `application/json`).
type Body = extract::Json<Value, Igz>;

/// The version Roster reports: recent enough that the SDK sends every field
/// it knows (authentication methods, node selectors).
const VERSION: &str = "3.6.0";

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/api/tunnel/{tunnel}/external_versions/{name}", version)
        .post("/api/sessions/verifications/planes/{plane}/internal", verify_session)
        .get("/api/user_groups", groups::list)
        .post("/api/user_groups", groups::create)
        .get("/api/user_groups/{id}", groups::get)
        .put("/api/user_groups/{id}", groups::update)
        .delete("/api/user_groups/{id}", groups::delete)
        .get("/api/users", users::list)
        .post("/api/users", users::create)
        .get("/api/users/{id}", users::get)
        .put("/api/users/{id}", users::update)
        .delete("/api/users/{id}", users::delete)
        .get("/api/self", users::me)
        .post("/api/self/get_or_create_access_key", access_keys::get_or_create)
        .get("/api/access_keys", access_keys::list)
        .post("/api/access_keys", access_keys::create)
        .get("/api/access_keys/{id}", access_keys::get)
        .delete("/api/access_keys/{id}", access_keys::delete)
        .get("/api/jobs/{id}", projects::job)
        .get("/api/projects", projects::list)
        .post("/api/projects", projects::create)
        .delete("/api/projects", projects::delete)
        .get("/api/projects/{id}", projects::get)
        .put("/api/projects/{id}", projects::update)
        .post("/api/async_transactions", projects::async_transaction)
        .in_dialect::<Igz>()
}

/// The version probe: the SDK asks `igz0`, then `igz1`, then `igz2`.
async fn version(Auth(_): Auth, Path((_, name)): Path<(String, String)>) -> IgzResult<axum::Json<Value>> {
    Ok(axum::Json(
        json!({ "data": { "type": "external_versions", "id": name, "attributes": { "external": VERSION } } }),
    ))
}

/// The session check the SDK runs when a client is built: who the key
/// belongs to, and in which tenant.
async fn verify_session(State(s): State<AppState>, Auth(p): Auth) -> IgzResult<axum::Json<Value>> {
    let user = s.directory.get_user(&p, p.user).await?;
    Ok(axum::Json(json!({ "data": {
        "type": "session_verification",
        "id": user.id.to_string(),
        "attributes": {
            "username": user.username,
            "context": { "authentication": { "tenant_id": map::TENANT_ID, "user_id": user.id.to_string() } },
        },
    }})))
}
