//! The native REST API under `/v1`: Roster's own clean JSON interface,
//! described by the OpenAPI document served at `/openapi.json`.
//!
//! Handlers read: extract → one core call → convert. No rule lives here.

mod access;
mod catalog;
mod doc;
mod error;
mod fields;
mod groups;
mod import;
mod members;
pub mod rendered;
mod users;
mod webhooks;
pub mod wire;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, header};
use roster_core::{CoreError, PageRequest, Principal};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

pub use error::{ApiError, ApiResult, Native};
pub use import::parse_record;

use crate::http::AppState;
use crate::http::error::BadRequest;
use crate::http::extract;
use crate::http::routes::{Route, Routes};

/// A JSON body in the native format.
type Body<T> = extract::Json<T, Native>;
/// Query parameters in the native format.
type Params<T> = extract::Query<T, Native>;

#[derive(OpenApi)]
#[openapi(
    info(title = "Roster", description = "Roster's native API: users, groups, memberships, nesting, roles, organizations, projects, shares, API keys and the change feed. Consistency tokens: every successful write answers `Roster-Revision: N`; any request may send `Roster-Min-Revision: N` (a whole number) to be answered from revision N or later (the server waits up to 2 s, then answers 503 `busy` with `Retry-After`; a value that is not a whole number, or is ahead of every change made, is a 400 naming `Roster-Min-Revision`)."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(wire::ErrorBody))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(users::routes())
        .merge(groups::routes())
        .merge(members::routes())
        .merge(catalog::routes())
        .merge(access::routes())
        .merge(import::routes())
        .merge(webhooks::routes())
}

/// The `/v1` routes, ready to merge into the application; the list comes
/// from the same `#[utoipa::path]` definitions as the router and the
/// OpenAPI document.
pub fn mounted() -> Routes<AppState> {
    let (router, doc) = routes().split_for_parts();
    let mut list = Vec::new();
    for (path, item) in doc.paths.paths {
        let ops = [
            (Method::GET, &item.get),
            (Method::PUT, &item.put),
            (Method::POST, &item.post),
            (Method::DELETE, &item.delete),
            (Method::PATCH, &item.patch),
            (Method::HEAD, &item.head),
            (Method::OPTIONS, &item.options),
        ];
        for (method, op) in ops {
            if op.is_some() {
                list.push(Route { method, path: path.clone() });
            }
        }
    }
    Routes::from_parts(router, list).in_dialect::<Native>()
}

/// The OpenAPI 3.1 document, generated from the route definitions.
/// The handlers' own answers are completed by [`doc::CommonAnswers`], which
/// needs every path, so it runs on the merged document; so does
/// [`fields::document`], which describes the answers `fields` narrows.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = routes().split_for_parts().1;
    doc::CommonAnswers.modify(&mut doc);
    fields::document(&mut doc);
    doc
}

/// The authenticated caller, from `Authorization: Bearer <key>`.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let key = crate::http::auth::authorization(&parts.headers, "bearer").ok_or(CoreError::Unauthenticated)?;
        Ok(Auth(state.directory.authenticate(key, crate::http::auth::source(parts)).await?))
    }
}

/// A validated page request for the list named `list`. An empty `cursor`
/// is the first page; an empty `limit` is not a number.
fn page(list: &str, limit: Option<&str>, cursor: Option<&str>) -> ApiResult<PageRequest> {
    let limit = number("limit", limit)?;
    Ok(PageRequest::parse(list, limit, cursor)?)
}

/// An integer query parameter: absent is `None`, anything else (even
/// empty) must be an integer, as `/openapi.json` says.
fn number(field: &str, value: Option<&str>) -> ApiResult<Option<i64>> {
    match value {
        Some("") => Err(BadRequest::invalid(field, "must be an integer").into()),
        v => Ok(extract::int_param(field, v)?),
    }
}

/// `W/"<version>"`, the weak ETag of a versioned resource.
fn etag(version: i64) -> [(header::HeaderName, String); 1] {
    [(header::ETAG, format!("W/\"{version}\""))]
}

/// The version named by `If-Match`, when the client sent one.
fn if_match(headers: &axum::http::HeaderMap) -> ApiResult<Option<i64>> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    let bare = text.trim_start_matches("W/").trim_matches('"');
    bare.parse::<i64>()
        .map(Some)
        .map_err(|_| BadRequest::invalid("If-Match", "must be an ETag given by this server").into())
}
