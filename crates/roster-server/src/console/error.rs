//! The console's one error type and its single mapping to a response: an
//! HTML page with the status the API would answer, or a trip to the
//! sign-in page when there is no valid session. Internal details go to the
//! log only.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use roster_core::CoreError;

use super::page_headers;
use super::session;

#[derive(Debug)]
pub(crate) enum ConsoleError {
    Core(CoreError),
    /// No session, or one that has ended: sign in (again), then come back
    /// to `next`. A script's request (htmx, `EventSource`) gets 401 instead
    /// of a redirect, and htmx is told where to go with `HX-Redirect`.
    SignedOut {
        next: String,
        script: bool,
    },
    /// A form without the session's CSRF token, or with another one.
    Csrf,
    /// A request no page answers (a malformed id in the path, …).
    BadRequest(String),
    Render(askama::Error),
}

pub(crate) type ConsoleResult<T = Response> = Result<T, ConsoleError>;

impl From<CoreError> for ConsoleError {
    fn from(e: CoreError) -> Self {
        Self::Core(e)
    }
}

impl From<askama::Error> for ConsoleError {
    fn from(e: askama::Error) -> Self {
        Self::Render(e)
    }
}

impl From<crate::http::error::BadRequest> for ConsoleError {
    fn from(e: crate::http::error::BadRequest) -> Self {
        Self::BadRequest(e.message)
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let html = ErrorPage { title, message }.render().unwrap_or_else(|_| title.to_owned());
    page_headers((status, Html(html)).into_response())
}

/// The page for a path nothing serves.
pub(crate) fn not_found_page() -> Response {
    page(StatusCode::NOT_FOUND, "Not found", "There is no page at this address.")
}

fn with_retry_after(mut res: Response, secs: u64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

fn signed_out(next: &str, script: bool) -> Response {
    let to = session::sign_in_url(next);
    let mut res = if script {
        let mut res = StatusCode::UNAUTHORIZED.into_response();
        if let Ok(v) = HeaderValue::from_str(&to) {
            res.headers_mut().insert("hx-redirect", v);
        }
        res
    } else {
        Redirect::to(&to).into_response()
    };
    res.headers_mut().append(header::SET_COOKIE, session::clear_session_cookie());
    page_headers(res)
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        match self {
            ConsoleError::SignedOut { next, script } => signed_out(&next, script),
            ConsoleError::Csrf => page(
                StatusCode::FORBIDDEN,
                "Form refused",
                "This form did not carry this session's security token, so nothing was changed. \
                 Go back, reload the page and try again.",
            ),
            ConsoleError::BadRequest(message) => page(StatusCode::BAD_REQUEST, "Bad request", &message),
            ConsoleError::Render(e) => {
                tracing::error!(error = %e, "rendering a console page failed");
                page(StatusCode::INTERNAL_SERVER_ERROR, "Internal error", "The page could not be shown.")
            }
            ConsoleError::Core(e) => {
                let message = e.to_string();
                match e {
                    CoreError::Invalid { .. } => page(StatusCode::BAD_REQUEST, "Invalid request", &message),
                    CoreError::NotFound { .. } => page(StatusCode::NOT_FOUND, "Not found", &message),
                    CoreError::Conflict { .. } => page(StatusCode::CONFLICT, "Conflict", &message),
                    CoreError::Stale { .. } => page(StatusCode::CONFLICT, "Changed meanwhile", &message),
                    CoreError::Busy => with_retry_after(page(StatusCode::SERVICE_UNAVAILABLE, "Busy", &message), 1),
                    CoreError::Unauthenticated => signed_out("/", false),
                    CoreError::RateLimited { retry_after } => with_retry_after(
                        page(StatusCode::TOO_MANY_REQUESTS, "Too many requests", &message),
                        roster_core::error::retry_after_secs(retry_after),
                    ),
                    CoreError::Forbidden { .. } => page(StatusCode::FORBIDDEN, "Not allowed", &message),
                    CoreError::Internal(detail) => {
                        tracing::error!(%detail, "internal error");
                        page(StatusCode::INTERNAL_SERVER_ERROR, "Internal error", "internal error")
                    }
                }
            }
        }
    }
}
