//! The Compliance API's error body, `{"type": "error", "error": {"type",
//! "message"}}` (dialects/compliance.md §5). The SDK retries 5xx and 429,
//! so those are never sent for a client's mistake.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roster_core::CoreError;

use super::wire;
use crate::http::error::{BadRequest, Dialect, retry_after};

#[derive(Debug)]
pub enum ComplianceError {
    Core(CoreError),
    Request(BadRequest),
}

impl From<CoreError> for ComplianceError {
    fn from(e: CoreError) -> Self {
        Self::Core(e)
    }
}

impl From<BadRequest> for ComplianceError {
    fn from(e: BadRequest) -> Self {
        Self::Request(e)
    }
}

pub type ComplianceResult<T> = Result<T, ComplianceError>;

fn body(status: StatusCode, kind: &'static str, message: String) -> Response {
    (status, Json(wire::Error { kind: "error", error: wire::ErrorDetail { kind, message } })).into_response()
}

impl IntoResponse for ComplianceError {
    fn into_response(self) -> Response {
        match self {
            ComplianceError::Request(e) => {
                let kind = match e.status {
                    StatusCode::NOT_FOUND => "not_found_error",
                    StatusCode::UNAUTHORIZED => "authentication_error",
                    _ => "invalid_request_error",
                };
                let message = match &e.field {
                    Some(f) if !e.message.starts_with(f.as_str()) => format!("{f}: {}", e.message),
                    _ => e.message,
                };
                body(e.status, kind, message)
            }
            ComplianceError::Core(e) => {
                let message = e.to_string();
                match e {
                    CoreError::Invalid { .. } => body(StatusCode::BAD_REQUEST, "invalid_request_error", message),
                    CoreError::NotFound { .. } => body(StatusCode::NOT_FOUND, "not_found_error", message),
                    CoreError::Conflict { .. } | CoreError::Stale { .. } => {
                        body(StatusCode::CONFLICT, "invalid_request_error", message)
                    }
                    CoreError::Busy => body(StatusCode::SERVICE_UNAVAILABLE, "overloaded_error", message),
                    CoreError::Unauthenticated => {
                        body(StatusCode::UNAUTHORIZED, "authentication_error", "invalid or missing API key".into())
                    }
                    CoreError::RateLimited { retry_after: wait } => {
                        retry_after(body(StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", message), wait)
                    }
                    CoreError::Forbidden { .. } => body(StatusCode::FORBIDDEN, "permission_error", message),
                    CoreError::Internal(detail) => {
                        tracing::error!(%detail, "internal error");
                        body(StatusCode::INTERNAL_SERVER_ERROR, "api_error", "internal error".into())
                    }
                }
            }
        }
    }
}

/// Request-level failures in the Compliance format.
pub struct Compliance;

impl Dialect for Compliance {
    fn reject(err: BadRequest) -> Response {
        ComplianceError::Request(err).into_response()
    }
}
