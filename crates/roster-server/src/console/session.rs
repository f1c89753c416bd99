//! Signing in and out, the session cookie, and the CSRF token.
//!
//! The cookie holds a random token the core made (`Directory::start_session`);
//! the store keeps only its digest. It is `HttpOnly`, `SameSite=Strict`,
//! `Path=/`, and `Secure` when the request came over TLS (a proxy in front
//! says so with `X-Forwarded-Proto: https` or `Forwarded: proto=https`;
//! a client that lies about it only gets a stricter cookie).
//!
//! Every state-changing form carries the session's CSRF token, derived from
//! the session token (only a holder of the cookie can know it) and checked
//! in [`Post`] before the handler runs; the sign-in form, before there is a
//! session, carries a nonce that must match a cookie of its own.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect};
use roster_core::{CoreError, Principal, SESSION_TTL, SignIn};
use serde::Deserialize;

use super::error::{ConsoleError, ConsoleResult};
use super::form::FormData;
use super::page_headers;
use crate::http::AppState;
use crate::http::auth::source;

pub(crate) const SESSION_COOKIE: &str = "roster_session";
const SIGN_IN_COOKIE: &str = "roster_sign_in";
/// The form field that carries the CSRF token.
pub(crate) const CSRF_FIELD: &str = "csrf";

/// The value of cookie `name`, if the request sent it.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Whether the browser reached us over TLS (directly or through a proxy).
fn over_tls(headers: &HeaderMap) -> bool {
    let forwarded_proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').next().is_some_and(|p| p.trim().eq_ignore_ascii_case("https")));
    let forwarded = headers
        .get(header::FORWARDED)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split([';', ',']).any(|p| p.trim().eq_ignore_ascii_case("proto=https")));
    forwarded_proto || forwarded
}

fn cookie_header(name: &str, value: &str, path: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!("{name}={value}; HttpOnly; SameSite=Strict; Path={path}; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub(crate) fn clear_session_cookie() -> HeaderValue {
    cookie_header(SESSION_COOKIE, "", "/", 0, false)
}

/// The CSRF token of a session: a digest of its token under a label of
/// its own, so it tells nothing of the token or of the stored digest.
pub(crate) fn csrf_of(token: &str) -> String {
    roster_core::keys::digest(&format!("roster-console-csrf:{token}"))
}

/// Compares in time independent of where the strings first differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Where to go after signing in: a path on this server only.
fn local_path(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains(['\\', '\r', '\n'])
        && next.len() < 2048
        && !next.starts_with("/sign-");
    if ok { next } else { "/" }
}

/// The sign-in page that returns to `next`.
pub(crate) fn sign_in_url(next: &str) -> String {
    match local_path(next) {
        "/" => "/sign-in".to_owned(),
        path => format!("/sign-in?next={}", form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()),
    }
}

/// Whether a request is an `EventSource`'s (`Accept: text/event-stream`).
fn wants_stream(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(|v| v.contains("text/event-stream"))
}

/// A signed-in request: who, and what the page needs to show and post.
pub(crate) struct Session {
    pub principal: Principal,
    token: String,
    pub csrf: String,
}

impl Session {
    /// The session's token (for a use-case that checks the session again).
    pub(crate) fn token(&self) -> &str {
        &self.token
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let signed_out = || ConsoleError::SignedOut {
            next: parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
            script: parts.headers.contains_key("hx-request") || wants_stream(&parts.headers),
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else { return Err(signed_out()) };
        match state.directory.session_principal(token, source(parts)).await {
            Ok(principal) => Ok(Session { principal, token: token.to_owned(), csrf: csrf_of(token) }),
            Err(CoreError::Unauthenticated) => Err(signed_out()),
            Err(e) => Err(e.into()),
        }
    }
}

/// A form posted in a session, its CSRF token checked: a form without
/// the token, or with another session's, is refused (403) before anything
/// is read or written.
pub(crate) struct Post {
    pub session: Session,
    pub form: FormData,
}

impl FromRequest<AppState> for Post {
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ConsoleError::BadRequest(format!("the form could not be read: {e}")))?;
        let form = FormData::parse(&bytes);
        if !same(form.raw(CSRF_FIELD), &session.csrf) {
            return Err(ConsoleError::Csrf);
        }
        Ok(Post { session, form })
    }
}

#[derive(Deserialize)]
pub(crate) struct NextParam {
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage<'a> {
    nonce: &'a str,
    next: &'a str,
    error: Option<&'a str>,
    username: &'a str,
}

/// Renders the sign-in form with a fresh nonce (and its cookie).
fn sign_in_form(status: StatusCode, next: &str, error: Option<&str>, username: &str, secure: bool) -> ConsoleResult {
    let nonce = roster_core::keys::generate_session_token();
    let html = SignInPage { nonce: &nonce, next: local_path(next), error, username }.render()?;
    let mut res = (status, Html(html)).into_response();
    res.headers_mut().append(header::SET_COOKIE, cookie_header(SIGN_IN_COOKIE, &nonce, "/sign-in", 3600, secure));
    Ok(page_headers(res))
}

/// `GET /sign-in`: the form (or home, for someone signed in already).
pub(crate) async fn sign_in_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextParam>,
) -> ConsoleResult {
    let next = q.next.as_deref().unwrap_or("/");
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && state.directory.session_principal(token, None).await.is_ok()
    {
        return Ok(page_headers(Redirect::to(local_path(next)).into_response()));
    }
    sign_in_form(StatusCode::OK, next, None, "", over_tls(&headers))
}

/// `POST /sign-in`: a key, or a username and password, for a session.
pub(crate) async fn sign_in(State(state): State<AppState>, req: Request) -> ConsoleResult {
    let (parts, body) = req.into_parts();
    let secure = over_tls(&parts.headers);
    let bytes = axum::body::to_bytes(body, crate::http::MAX_BODY)
        .await
        .map_err(|e| ConsoleError::BadRequest(format!("the form could not be read: {e}")))?;
    let form = FormData::parse(&bytes);
    let next = local_path(form.text("next")).to_owned();
    let username = form.text("username");
    let nonce_ok = cookie(&parts.headers, SIGN_IN_COOKIE).is_some_and(|c| same(c, form.raw("nonce")));
    if !nonce_ok {
        let message = "This sign-in form has expired or came from elsewhere. Please sign in again.";
        return sign_in_form(StatusCode::FORBIDDEN, &next, Some(message), username, secure);
    }
    let key = form.text("key");
    let with = if !key.is_empty() {
        SignIn::Key(key)
    } else if !username.is_empty() {
        SignIn::Password { username, password: form.raw("password") }
    } else {
        let message = "Enter an API key, or a username and password.";
        return sign_in_form(StatusCode::BAD_REQUEST, &next, Some(message), username, secure);
    };
    let started = match state.directory.start_session(with, source(&parts)).await {
        Ok(s) => s,
        Err(CoreError::Unauthenticated) => {
            let message = "That key, or that username and password, is not valid.";
            return sign_in_form(StatusCode::UNAUTHORIZED, &next, Some(message), username, secure);
        }
        Err(CoreError::RateLimited { retry_after }) => {
            let message = format!(
                "Too many failed sign-ins from this address; try again in {} s.",
                roster_core::error::retry_after_secs(retry_after)
            );
            return sign_in_form(StatusCode::TOO_MANY_REQUESTS, &next, Some(&message), username, secure);
        }
        Err(e) => return Err(e.into()),
    };
    let mut res = Redirect::to(&next).into_response();
    let h = res.headers_mut();
    h.append(header::SET_COOKIE, cookie_header(SESSION_COOKIE, &started.token, "/", SESSION_TTL.as_secs(), secure));
    h.append(header::SET_COOKIE, cookie_header(SIGN_IN_COOKIE, "", "/sign-in", 0, secure));
    Ok(page_headers(res))
}

/// `POST /sign-out`: ends the session everywhere and drops the cookie.
pub(crate) async fn sign_out(State(state): State<AppState>, post: Post) -> ConsoleResult {
    state.directory.end_session(&post.session.token).await?;
    let mut res = Redirect::to("/sign-in").into_response();
    res.headers_mut().append(header::SET_COOKIE, clear_session_cookie());
    Ok(page_headers(res))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path("/groups/1?cursor=x"), "/groups/1?cursor=x");
        for bad in ["https://evil.example/", "//evil.example/", "/\\evil", "groups", "", "/sign-out"] {
            assert_eq!(local_path(bad), "/", "{bad}");
        }
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "xroster_session=a; roster_session=b".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("b"));
        assert_eq!(cookie(&h, "nope"), None);
    }

    #[test]
    fn secure_only_over_tls() {
        let mut h = HeaderMap::new();
        assert!(!over_tls(&h));
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        assert!(over_tls(&h));
        let mut h = HeaderMap::new();
        h.insert(header::FORWARDED, "for=1.2.3.4;proto=https".parse().unwrap());
        assert!(over_tls(&h));
    }
}
