//! The native API's one error type and its single mapping to HTTP:
//! `{"error": {"code", "message", "field"}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_core::CoreError;

use super::wire::{ErrorBody, ErrorDetail};
use crate::http::error::{BadRequest, Dialect, retry_after};

#[derive(Debug)]
pub enum ApiError {
    Core(CoreError),
    Request(BadRequest),
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        Self::Core(e)
    }
}

impl From<BadRequest> for ApiError {
    fn from(e: BadRequest) -> Self {
        Self::Request(e)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

fn body(status: StatusCode, code: &str, message: String, field: Option<String>) -> Response {
    let mut res =
        (status, Json(ErrorBody { error: ErrorDetail { code: code.to_owned(), message, field } })).into_response();
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"roster\""));
    }
    res
}

fn request_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ => "invalid_request",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Request(e) => body(e.status, request_code(e.status), e.message, e.field),
            ApiError::Core(e) => {
                let message = e.to_string();
                let field = e.field().map(str::to_owned);
                match e {
                    CoreError::Invalid { .. } => body(StatusCode::BAD_REQUEST, "invalid_request", message, field),
                    CoreError::NotFound { .. } => body(StatusCode::NOT_FOUND, "not_found", message, None),
                    CoreError::Conflict { .. } => body(StatusCode::CONFLICT, "conflict", message, field),
                    CoreError::Stale { .. } => {
                        body(StatusCode::PRECONDITION_FAILED, "precondition_failed", message, None)
                    }
                    CoreError::Busy => {
                        let mut res = body(StatusCode::SERVICE_UNAVAILABLE, "busy", message, None);
                        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                        res
                    }
                    CoreError::Unauthenticated => {
                        body(StatusCode::UNAUTHORIZED, "unauthenticated", "a valid API key is required".into(), None)
                    }
                    CoreError::RateLimited { retry_after: wait } => {
                        retry_after(body(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message, None), wait)
                    }
                    CoreError::Forbidden { .. } => body(StatusCode::FORBIDDEN, "forbidden", message, None),
                    CoreError::Internal(detail) => {
                        tracing::error!(%detail, "internal error");
                        body(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error".into(), None)
                    }
                }
            }
        }
    }
}

/// The native front-end's [`Dialect`]: request-level failures in its format.
pub struct Native;

impl Dialect for Native {
    fn reject(err: BadRequest) -> Response {
        ApiError::Request(err).into_response()
    }
}
