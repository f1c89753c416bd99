//! Request-level failures that happen before a use-case runs (unreadable
//! JSON, a bad query parameter, a missing key). Each front-end renders them
//! in its own format through [`Dialect`].

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_core::error::retry_after_secs;

/// A request the server could not even start on; `field` names the culprit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest {
    pub status: StatusCode,
    pub field: Option<String>,
    pub message: String,
}

impl BadRequest {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, field: Some(field.into()), message: message.into() }
    }

    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, field: None, message: message.into() }
    }
}

/// How one front-end renders a request-level failure.
pub trait Dialect: Send + Sync + 'static {
    fn reject(err: BadRequest) -> Response;
}

/// Adds `Retry-After` (whole seconds, rounded up) to a refusal the client
/// may send again after `wait`: each front-end's 429, in its own format.
pub fn retry_after(mut res: Response, wait: Duration) -> Response {
    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(wait)));
    res
}

/// A panic is a bug: log it, answer a bare 500, keep serving.
pub fn panic_response(_payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    let body = serde_json::json!({ "error": { "code": "internal", "message": "internal error", "field": null } });
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
}
