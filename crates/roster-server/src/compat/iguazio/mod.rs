//! The Iguazio management front-end, mounted at `/iguazio` (the SDK adds
//! `/api`), as `igz-mgmt` drives it (dialects/iguazio.md): JSON:API-style
//! documents, a session check when the client is built, user groups whose
//! membership is written through the user resource, projects whose roles
//! are replaced through async transactions, and jobs the SDK polls.
//! Translates only; the all-users group every user is in is the core's
//! ([`roster_core::ALL_USERS_GROUP_ID`]), shown here because Iguazio has it.

mod access_keys;
mod auth;
mod doc;
mod error;
mod groups;
mod map;
mod projects;
mod query;
mod users;

use axum::Router;
use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use self::auth::Auth;
use self::error::{Igz, IgzError, IgzResult};
use crate::http::AppState;
use crate::http::error::BadRequest;
use crate::http::extract;

/// A JSON request body (the SDK always sends `application/json`).
type Body = extract::Json<Value, Igz>;

/// The version Roster reports: recent enough that the SDK sends every field
/// it knows (authentication methods, node selectors).
const VERSION: &str = "3.6.0";

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/tunnel/{tunnel}/external_versions/{name}", get(version))
        .route("/api/sessions/verifications/planes/{plane}/internal", post(verify_session))
        .route("/api/user_groups", get(groups::list).post(groups::create))
        .route("/api/user_groups/{id}", get(groups::get).put(groups::update).delete(groups::delete))
        .route("/api/users", get(users::list).post(users::create))
        .route("/api/users/{id}", get(users::get).put(users::update).delete(users::delete))
        .route("/api/self", get(users::me))
        .route("/api/self/get_or_create_access_key", post(access_keys::get_or_create))
        .route("/api/access_keys", get(access_keys::list).post(access_keys::create))
        .route("/api/access_keys/{id}", get(access_keys::get).delete(access_keys::delete))
        .route("/api/jobs/{id}", get(projects::job))
        .route("/api/projects", get(projects::list).post(projects::create).delete(projects::delete))
        .route("/api/projects/{id}", get(projects::get).put(projects::update))
        .route("/api/async_transactions", post(projects::async_transaction))
        .fallback(fallback)
        .with_state(state)
}

async fn fallback(method: axum::http::Method, OriginalUri(uri): OriginalUri) -> Response {
    IgzError::Request(BadRequest::new(StatusCode::NOT_FOUND, format!("no such endpoint: {method} {}", uri.path())))
        .into_response()
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
