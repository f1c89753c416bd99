//! How SCIM answers are written: `application/scim+json` bodies, a
//! resource with its `ETag` and `Location`, and the `ListResponse` envelope.
//! Rendering only: no directory call, no request parsing.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::schema;
use super::wire;

pub const CONTENT_TYPE: &str = "application/scim+json";

fn with_type(mut res: Response) -> Response {
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    res
}

pub(super) fn json(status: StatusCode, v: Value) -> Response {
    with_type((status, axum::Json(v)).into_response())
}

/// A resource answer with its `ETag` (and `Location` when created).
pub(super) fn resource(status: StatusCode, v: Value) -> Response {
    let etag = v["meta"]["version"].as_str().and_then(|s| HeaderValue::from_str(s).ok());
    let location = v["meta"]["location"].as_str().and_then(|s| HeaderValue::from_str(s).ok());
    let mut res = json(status, v);
    if let Some(e) = etag {
        res.headers_mut().insert(header::ETAG, e);
    }
    if status == StatusCode::CREATED
        && let Some(l) = location
    {
        res.headers_mut().insert(header::LOCATION, l);
    }
    res
}

pub(super) fn list_response(total: i64, start: i64, items: Vec<Value>) -> Response {
    let body = wire::ListResponse {
        schemas: [schema::LIST],
        total_results: total,
        start_index: start,
        items_per_page: items.len() as i64,
        resources: items,
    };
    with_type((StatusCode::OK, axum::Json(body)).into_response())
}
