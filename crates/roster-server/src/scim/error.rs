//! The SCIM error body (RFC 7644 §3.12) and the one mapping of core errors
//! to it. Client mistakes are 4xx with a `scimType` where one applies.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_core::CoreError;

use super::{schema, wire};
use crate::http::error::{BadRequest, Dialect, retry_after};

#[derive(Debug)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
    /// How long to wait before sending the request again (a 429).
    pub retry_after: Option<std::time::Duration>,
}

pub type ScimResult<T> = Result<T, ScimError>;

impl ScimError {
    pub fn new(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self { status, scim_type, detail: detail.into(), retry_after: None }
    }

    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad("invalidFilter", detail)
    }

    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad("invalidPath", detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad("invalidValue", detail)
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad("invalidSyntax", detail)
    }

    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad("mutability", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, detail)
    }
}

/// Field names of the core, as a SCIM client knows them.
fn scim_name(field: &str) -> &str {
    match field {
        "username" => "userName",
        "external_id" | "unique_id" => "externalId",
        "name" => "displayName",
        "display_name" => "displayName",
        "first_name" => "name.givenName",
        "last_name" => "name.familyName",
        "email" => "emails",
        other => other,
    }
}

impl From<CoreError> for ScimError {
    fn from(e: CoreError) -> Self {
        // A cycle is a value SCIM's members may not take, not a uniqueness clash.
        let cycle = e.is_cycle();
        match e {
            CoreError::Invalid { field, reason } => Self::invalid_value(format!("{}: {reason}", scim_name(&field))),
            CoreError::NotFound { what } => Self::not_found(format!("{what} not found")),
            CoreError::Conflict { reason, .. } if cycle => Self::invalid_value(reason),
            CoreError::Conflict { field, reason } => {
                let detail = match field {
                    Some(f) => format!("{}: {reason}", scim_name(&f)),
                    None => reason,
                };
                Self::new(StatusCode::CONFLICT, Some("uniqueness"), detail)
            }
            CoreError::Stale { reason } => Self::new(StatusCode::PRECONDITION_FAILED, None, reason),
            CoreError::Busy => Self::new(StatusCode::SERVICE_UNAVAILABLE, None, "the directory is busy; retry"),
            CoreError::Unauthenticated => Self::new(StatusCode::UNAUTHORIZED, None, "a valid bearer token is required"),
            CoreError::RateLimited { retry_after } => {
                let detail = CoreError::RateLimited { retry_after }.to_string();
                Self { retry_after: Some(retry_after), ..Self::new(StatusCode::TOO_MANY_REQUESTS, None, detail) }
            }
            CoreError::Forbidden { reason } => Self::new(StatusCode::FORBIDDEN, None, reason),
            CoreError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, None, "internal error")
            }
        }
    }
}

impl From<BadRequest> for ScimError {
    fn from(e: BadRequest) -> Self {
        let detail = match &e.field {
            Some(f) if !e.message.starts_with(f.as_str()) => format!("{f}: {}", e.message),
            _ => e.message.clone(),
        };
        let scim_type = (e.status == StatusCode::BAD_REQUEST).then_some("invalidSyntax");
        Self::new(e.status, scim_type, detail)
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let body = wire::Error {
            schemas: [schema::ERROR],
            status: self.status.as_u16().to_string(),
            scim_type: self.scim_type,
            detail: self.detail,
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(super::CONTENT_TYPE));
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"roster\""));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        match self.retry_after {
            Some(wait) => retry_after(res, wait),
            None => res,
        }
    }
}

/// Request-level failures in SCIM's format.
pub struct ScimDialect;

impl Dialect for ScimDialect {
    fn reject(err: BadRequest) -> Response {
        ScimError::from(err).into_response()
    }
}
