//! Civis's error body, `{"error", "errorDescription", "code"}`
//! (dialects/civis.md §8). A 401 always carries `WWW-Authenticate`: the SDK
//! reads it and crashes without it. 503 only for real contention: the SDK
//! retries it for minutes.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_core::CoreError;

use super::wire;
use crate::http::error::{BadRequest, Dialect, retry_after};

#[derive(Debug)]
pub enum CivisError {
    Core(CoreError),
    Request(BadRequest),
}

impl From<CoreError> for CivisError {
    fn from(e: CoreError) -> Self {
        Self::Core(e)
    }
}

impl From<BadRequest> for CivisError {
    fn from(e: BadRequest) -> Self {
        Self::Request(e)
    }
}

pub type CivisResult<T> = Result<T, CivisError>;

fn body(status: StatusCode, error: &'static str, description: String) -> Response {
    let mut res =
        (status, Json(wire::Error { error, error_description: description, code: status.as_u16() })).into_response();
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"api\", error=\"invalid_token\""),
        );
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    res
}

fn token(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ => "invalid",
    }
}

impl IntoResponse for CivisError {
    fn into_response(self) -> Response {
        match self {
            CivisError::Request(e) => {
                let description = match &e.field {
                    Some(f) if !e.message.starts_with(f.as_str()) => format!("{f}: {}", e.message),
                    _ => e.message.clone(),
                };
                body(e.status, token(e.status), description)
            }
            CivisError::Core(e) => {
                let message = e.to_string();
                match e {
                    CoreError::Invalid { .. } => body(StatusCode::BAD_REQUEST, "invalid", message),
                    CoreError::NotFound { what } => {
                        body(StatusCode::NOT_FOUND, "not_found", format!("The requested {what} could not be found."))
                    }
                    CoreError::Conflict { .. } => body(StatusCode::CONFLICT, "conflict", message),
                    CoreError::Stale { .. } => body(StatusCode::CONFLICT, "conflict", message),
                    CoreError::Busy => body(StatusCode::SERVICE_UNAVAILABLE, "busy", message),
                    CoreError::Unauthenticated => {
                        body(StatusCode::UNAUTHORIZED, "unauthorized", "Invalid or missing API key.".into())
                    }
                    CoreError::RateLimited { retry_after: wait } => {
                        retry_after(body(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message), wait)
                    }
                    CoreError::Forbidden { .. } => body(StatusCode::FORBIDDEN, "forbidden", message),
                    CoreError::Internal(detail) => {
                        tracing::error!(%detail, "internal error");
                        body(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error.".into())
                    }
                }
            }
        }
    }
}

/// Request-level failures in Civis's format.
pub struct Civis;

impl Dialect for Civis {
    fn reject(err: BadRequest) -> Response {
        CivisError::Request(err).into_response()
    }
}
