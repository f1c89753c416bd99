//! Posit Connect's error body, `{"code": int, "error": str, "payload": …}`
//! (dialects/posit-connect.md §5): the SDK needs both `code` and `error`
//! to raise its `ClientError`. Field details go in `payload`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_core::CoreError;
use serde_json::json;

use crate::http::error::{BadRequest, Dialect, retry_after};

#[derive(Debug)]
pub enum PositError {
    Core(CoreError),
    Request(BadRequest),
}

impl From<CoreError> for PositError {
    fn from(e: CoreError) -> Self {
        Self::Core(e)
    }
}

impl From<BadRequest> for PositError {
    fn from(e: BadRequest) -> Self {
        Self::Request(e)
    }
}

pub type PositResult<T> = Result<T, PositError>;

/// Stable error codes, one per kind (the SDK treats them as opaque).
mod code {
    pub const INTERNAL: u32 = 1;
    pub const UNAUTHORIZED: u32 = 2;
    pub const INVALID: u32 = 3;
    pub const NOT_FOUND: u32 = 4;
    pub const FORBIDDEN: u32 = 5;
    pub const CONFLICT: u32 = 6;
    pub const PRECONDITION: u32 = 7;
    pub const BUSY: u32 = 8;
    pub const RATE_LIMITED: u32 = 9;
}

fn body(status: StatusCode, code: u32, error: String, field: Option<String>) -> Response {
    let payload = field.map(|f| json!({ "field": f }));
    let mut res = (status, Json(json!({ "code": code, "error": error, "payload": payload }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Key"));
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    res
}

impl IntoResponse for PositError {
    fn into_response(self) -> Response {
        match self {
            PositError::Request(e) => {
                let code = match e.status {
                    StatusCode::NOT_FOUND => code::NOT_FOUND,
                    StatusCode::UNAUTHORIZED => code::UNAUTHORIZED,
                    _ => code::INVALID,
                };
                body(e.status, code, e.message, e.field)
            }
            PositError::Core(e) => {
                let message = e.to_string();
                let field = e.field().map(str::to_owned);
                match e {
                    CoreError::Invalid { .. } => body(StatusCode::BAD_REQUEST, code::INVALID, message, field),
                    CoreError::NotFound { what } => body(
                        StatusCode::NOT_FOUND,
                        code::NOT_FOUND,
                        format!("The requested {what} does not exist."),
                        None,
                    ),
                    CoreError::Conflict { .. } => body(StatusCode::CONFLICT, code::CONFLICT, message, field),
                    CoreError::Stale { .. } => body(StatusCode::PRECONDITION_FAILED, code::PRECONDITION, message, None),
                    CoreError::Busy => body(StatusCode::SERVICE_UNAVAILABLE, code::BUSY, message, None),
                    CoreError::Unauthenticated => {
                        body(StatusCode::UNAUTHORIZED, code::UNAUTHORIZED, "Invalid or missing API key.".into(), None)
                    }
                    CoreError::RateLimited { retry_after: wait } => {
                        retry_after(body(StatusCode::TOO_MANY_REQUESTS, code::RATE_LIMITED, message, None), wait)
                    }
                    CoreError::Forbidden { .. } => body(StatusCode::FORBIDDEN, code::FORBIDDEN, message, None),
                    CoreError::Internal(detail) => {
                        tracing::error!(%detail, "internal error");
                        body(StatusCode::INTERNAL_SERVER_ERROR, code::INTERNAL, "Internal error.".into(), None)
                    }
                }
            }
        }
    }
}

/// Request-level failures in Posit's format.
pub struct Posit;

impl Dialect for Posit {
    fn reject(err: BadRequest) -> Response {
        PositError::Request(err).into_response()
    }
}
