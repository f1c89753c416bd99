//! Iguazio's error document, `{"errors": [{"status", "detail"}], "meta":
//! {"ctx"}}` (dialects/iguazio.md §7). The SDK raises on any non-2xx and
//! quotes `errors` in its message, so `detail` names the field and the reason.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roster_core::CoreError;
use serde_json::json;

use crate::http::error::{BadRequest, Dialect, retry_after};

#[derive(Debug)]
pub enum IgzError {
    Core(CoreError),
    Request(BadRequest),
}

impl From<CoreError> for IgzError {
    fn from(e: CoreError) -> Self {
        Self::Core(e)
    }
}

impl From<BadRequest> for IgzError {
    fn from(e: BadRequest) -> Self {
        Self::Request(e)
    }
}

pub type IgzResult<T> = Result<T, IgzError>;

/// A 400 naming the offending member of the request document.
pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> IgzError {
    IgzError::Request(BadRequest::invalid(field, message))
}

pub fn not_found(what: &str) -> IgzError {
    IgzError::Request(BadRequest::new(StatusCode::NOT_FOUND, format!("{what} not found")))
}

fn document(status: StatusCode, detail: String) -> Response {
    let ctx = uuid::Uuid::now_v7().as_u128() as u64 >> 1;
    let body = json!({ "errors": [{ "status": status.as_u16(), "detail": detail }], "meta": { "ctx": ctx } });
    (status, Json(body)).into_response()
}

impl IntoResponse for IgzError {
    fn into_response(self) -> Response {
        match self {
            IgzError::Request(e) => {
                let detail = match &e.field {
                    Some(f) if !e.message.starts_with(f.as_str()) => format!("{f}: {}", e.message),
                    _ => e.message,
                };
                document(e.status, detail)
            }
            IgzError::Core(e) => {
                let detail = match &e {
                    CoreError::Invalid { field, reason } => format!("{field}: {reason}"),
                    CoreError::Conflict { field: Some(field), reason } => format!("{field}: {reason}"),
                    CoreError::Unauthenticated => "invalid or missing access key".into(),
                    CoreError::Internal(detail) => {
                        tracing::error!(%detail, "internal error");
                        "internal error".into()
                    }
                    other => other.to_string(),
                };
                let status = match e {
                    CoreError::Invalid { .. } => StatusCode::BAD_REQUEST,
                    CoreError::NotFound { .. } => StatusCode::NOT_FOUND,
                    // A write based on a stale read is a conflict with what is there now.
                    CoreError::Conflict { .. } | CoreError::Stale { .. } => StatusCode::CONFLICT,
                    CoreError::Busy => StatusCode::SERVICE_UNAVAILABLE,
                    CoreError::Unauthenticated => StatusCode::UNAUTHORIZED,
                    CoreError::RateLimited { retry_after: wait } => {
                        return retry_after(document(StatusCode::TOO_MANY_REQUESTS, detail), wait);
                    }
                    CoreError::Forbidden { .. } => StatusCode::FORBIDDEN,
                    CoreError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
                };
                document(status, detail)
            }
        }
    }
}

/// Request-level failures in Iguazio's format.
pub struct Igz;

impl Dialect for Igz {
    fn reject(err: BadRequest) -> Response {
        IgzError::Request(err).into_response()
    }
}
