//! The discovery endpoints (dialects/scim.md §2 "Discovery"):
//! `/ServiceProviderConfig`, `/Schemas` and `/ResourceTypes`, served from the
//! schema tables. They read nothing from the directory.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;

use super::error::{ScimError, ScimResult};
use super::request::{Auth, Base};
use super::responses::{json, list_response};
use super::schema;

pub(super) async fn service_provider_config(_: Auth, Base(base): Base) -> Response {
    json(StatusCode::OK, schema::service_provider_config(&base))
}

pub(super) async fn schemas(_: Auth, Base(base): Base) -> Response {
    let all = schema::schemas(&base);
    list_response(all.len() as i64, 1, all)
}

pub(super) async fn schema_by_id(_: Auth, Base(base): Base, Path(id): Path<String>) -> ScimResult<Response> {
    schema::schemas(&base)
        .into_iter()
        .find(|s| s["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(&id)))
        .map(|s| json(StatusCode::OK, s))
        .ok_or_else(|| ScimError::not_found(format!("no schema {id}")))
}

pub(super) async fn resource_types(_: Auth, Base(base): Base) -> Response {
    let all = vec![schema::USERS.resource_type(&base), schema::GROUPS.resource_type(&base)];
    list_response(2, 1, all)
}

pub(super) async fn resource_type(_: Auth, Base(base): Base, Path(id): Path<String>) -> ScimResult<Response> {
    [&schema::USERS, &schema::GROUPS]
        .into_iter()
        .find(|k| k.name.eq_ignore_ascii_case(&id))
        .map(|k| json(StatusCode::OK, k.resource_type(&base)))
        .ok_or_else(|| ScimError::not_found(format!("no resource type {id}")))
}
