//! Roster's HTTP server: the front-ends and what they share.
//!
//! Front-ends translate: they parse their wire format, authenticate the
//! caller through the core, call one [`roster_core::Directory`] use-case and
//! render the answer. They hold no business rule and never import each
//! other or the store.

pub mod compat;
pub mod console;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod ldap;
pub mod native;
#[cfg(feature = "outbound")]
pub mod outbound;
pub mod scim;
mod serve;

use axum::Router;
use axum::extract::OriginalUri;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use http::routes::Routes;
use roster_core::Directory;

pub use http::AppState;
pub use serve::{Limits, serve};

/// The whole application: every front-end and the operational endpoints,
/// with the default request [`Limits`].
pub fn app(directory: Directory) -> Router {
    app_with(directory, &Limits::default())
}

/// The whole application, reading request bodies within `limits`.
pub fn app_with(directory: Directory, limits: &Limits) -> Router {
    let router = mounted().into_router().fallback(no_such_path);
    http::with_middleware(router.with_state(AppState::new(directory)), limits)
}

/// A path no front-end serves (the vendors' and SCIM's prefixes answer
/// their own): a browser asking for a page gets the console's, outside the
/// native API's `/v1`; every other client the native API's JSON 404.
async fn no_such_path(method: Method, uri: OriginalUri, headers: HeaderMap) -> Response {
    let path = uri.0.path();
    let api = path == "/v1" || path.starts_with("/v1/");
    if !api && console::wants_page(&headers) {
        return console::not_found_page();
    }
    http::routes::not_found::<native::Native>(method, uri).await
}

/// Every route the application serves, `(method, path template)`, taken
/// from the same [`http::routes::Routes`] that [`app`] is built from.
pub fn routes() -> Vec<(Method, String)> {
    mounted().list().into_iter().map(|r| (r.method, r.path)).collect()
}

fn mounted() -> Routes<AppState> {
    Routes::new()
        .merge(native::mounted())
        .merge(compat::routes())
        .nest("/scim/v2", scim::routes())
        .merge(http::ops::routes())
        .merge(console::routes())
}
