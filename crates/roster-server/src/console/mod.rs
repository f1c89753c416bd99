//! The web console at `/`: server-rendered HTML pages (askama templates in
//! `templates/console/`), one stylesheet and a vendored htmx, all compiled
//! into the binary.
//!
//! A front-end like the others: a page reads the signed-in [`Principal`]
//! from its session cookie (`session`), calls [`roster_core::Directory`]
//! use-cases with it, and renders what they return. It decides nothing:
//! what a person may see or change is what the core allows that principal,
//! exactly as over the API. Every list is one cursor page of a core list.
//! Every form that changes something carries the session's CSRF token,
//! checked before any use-case runs (`session::Post`).
//!
//! It must not: hold an authorization rule, load a whole list, mark a value
//! from the directory safe (askama escapes everything), or import another
//! front-end.
//!
//! [`Principal`]: roster_core::Principal

mod access;
mod error;
mod form;
mod groups;
mod pages;
mod session;
mod users;
mod views;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::http::AppState;
use crate::http::routes::Routes;

/// The vendored htmx (2.0.8, BSD Zero Clause; `assets/htmx-LICENSE.txt`).
const HTMX: &str = include_str!("../../assets/htmx-2.0.8.min.js");
const STYLESHEET: &str = include_str!("../../assets/console.css");
/// The console's own script: the live change feed (`assets/console-feed.js`).
const FEED_SCRIPT: &str = include_str!("../../assets/console-feed.js");
/// Asset paths carry a version, so they may be cached for a year.
pub(crate) const HTMX_PATH: &str = "/assets/htmx-2.0.8.min.js";
pub(crate) const STYLESHEET_PATH: &str = "/assets/console-1.css";
pub(crate) const FEED_SCRIPT_PATH: &str = "/assets/console-feed-1.js";

/// The console's routes (pages, forms and assets).
pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get(HTMX_PATH, || async { asset("text/javascript; charset=utf-8", HTMX) })
        .get(STYLESHEET_PATH, || async { asset("text/css; charset=utf-8", STYLESHEET) })
        .get(FEED_SCRIPT_PATH, || async { asset("text/javascript; charset=utf-8", FEED_SCRIPT) })
        .get("/sign-in", session::sign_in_page)
        .post("/sign-in", session::sign_in)
        .post("/sign-out", session::sign_out)
        .get("/", pages::overview)
        .get("/events", pages::events)
        .get("/events/poll", pages::events_poll)
        .get("/events/stream", pages::events_stream)
        .get("/keys", pages::keys)
        .post("/keys", pages::create_key)
        .post("/keys/{id}/delete", pages::delete_key)
        .get("/users", users::list)
        .post("/users", users::create)
        .get("/users/{id}", users::show)
        .post("/users/{id}", users::edit)
        .post("/users/{id}/active", users::set_active)
        .get("/groups", groups::list)
        .post("/groups", groups::create)
        .get("/groups/{id}", groups::show)
        .post("/groups/{id}", groups::edit)
        .get("/groups/{id}/delete", groups::confirm_delete)
        .post("/groups/{id}/delete", groups::delete)
        .get("/groups/{id}/all-members", groups::all_members)
        .get("/groups/{id}/tree", groups::tree)
        .post("/groups/{id}/members", groups::add_member)
        .post("/groups/{id}/memberships/{membership}/role", groups::set_role)
        .post("/groups/{id}/memberships/{membership}/permissions", groups::set_permissions)
        .post("/groups/{id}/members/{user}/remove", groups::remove_member)
        .post("/groups/{id}/children", groups::add_child)
        .post("/groups/{id}/children/{child}/remove", groups::remove_child)
        .post("/groups/{id}/shares", access::put_share)
        .post("/groups/{id}/shares/{kind}/{grantee}/remove", access::delete_share)
        .post("/groups/{id}/roles", access::grant_role)
        .post("/groups/{id}/roles/{role}/remove", access::revoke_role)
        .post("/groups/{id}/projects", access::put_project_role)
        .post("/groups/{id}/projects/{project}/remove", access::remove_project_role)
}

/// Whether a request is a browser's for a page (`Accept` names HTML).
pub(crate) fn wants_page(headers: &axum::http::HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(|v| v.contains("text/html"))
}

/// The page for a path nothing serves.
pub(crate) fn not_found_page() -> Response {
    error::not_found_page()
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        body,
    )
        .into_response()
}

/// What every console page answers with: no caching of pages that show
/// directory data, no framing, no sniffing, and a policy that runs only
/// this server's own script and stylesheet.
pub(crate) fn page_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    res
}
