//! Box's error body (dialects/box.md §4). Never 5xx or 429 for a client's
//! mistake: the SDK retries those with multi-second sleeps.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roster_core::CoreError;

use super::wire;
use crate::http::error::{BadRequest, Dialect, retry_after};

#[derive(Debug)]
pub enum BoxError {
    Core(CoreError),
    Request(BadRequest),
}

impl From<CoreError> for BoxError {
    fn from(e: CoreError) -> Self {
        Self::Core(e)
    }
}

impl From<BadRequest> for BoxError {
    fn from(e: BadRequest) -> Self {
        Self::Request(e)
    }
}

pub type BoxResult<T> = Result<T, BoxError>;

fn body(status: StatusCode, code: &'static str, message: String, field: Option<String>) -> Response {
    let context_info = match field {
        Some(f) => serde_json::json!({ "errors": [{ "name": f, "message": message }] }),
        None => serde_json::json!({}),
    };
    let error = wire::Error {
        kind: "error",
        status: status.as_u16(),
        code,
        message,
        context_info,
        help_url: "https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/",
        request_id: uuid::Uuid::new_v4().simple().to_string(),
    };
    (status, Json(error)).into_response()
}

fn code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::CONFLICT => "conflict",
        _ => "bad_request",
    }
}

impl IntoResponse for BoxError {
    fn into_response(self) -> Response {
        match self {
            BoxError::Request(e) => {
                let message = match &e.field {
                    Some(f) if !e.message.starts_with(f.as_str()) => format!("{f}: {}", e.message),
                    _ => e.message.clone(),
                };
                body(e.status, code(e.status), message, e.field)
            }
            BoxError::Core(e) => {
                let message = e.to_string();
                let field = e.field().map(str::to_owned);
                match e {
                    CoreError::Invalid { .. } => body(StatusCode::BAD_REQUEST, "bad_request", message, field),
                    CoreError::NotFound { .. } => body(StatusCode::NOT_FOUND, "not_found", message, None),
                    CoreError::Conflict { .. } => body(StatusCode::CONFLICT, "conflict", message, field),
                    CoreError::Stale { .. } => {
                        body(StatusCode::PRECONDITION_FAILED, "precondition_failed", message, None)
                    }
                    CoreError::Busy => body(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message, None),
                    CoreError::Unauthenticated => {
                        body(StatusCode::UNAUTHORIZED, "unauthorized", "invalid or missing access token".into(), None)
                    }
                    CoreError::RateLimited { retry_after: wait } => {
                        retry_after(body(StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded", message, None), wait)
                    }
                    CoreError::Forbidden { .. } => body(StatusCode::FORBIDDEN, "forbidden", message, None),
                    CoreError::Internal(detail) => {
                        tracing::error!(%detail, "internal error");
                        body(StatusCode::INTERNAL_SERVER_ERROR, "internal_server_error", "internal error".into(), None)
                    }
                }
            }
        }
    }
}

/// Request-level failures in Box's format.
pub struct BoxDialect;

impl Dialect for BoxDialect {
    fn reject(err: BadRequest) -> Response {
        BoxError::Request(err).into_response()
    }
}
