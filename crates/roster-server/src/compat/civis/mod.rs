//! The Civis front-end, mounted at `/civis` (`CIVIS_API_ENDPOINT=
//! http://HOST:PORT/civis/`). The `civis` SDK builds its methods from the
//! document served at `/endpoints`, which [`endpoints::ENDPOINTS`] generates
//! along with the routes (dialects/civis.md). Translates only: every rule is
//! the core's.

mod auth;
mod endpoints;
mod error;
mod groups;
mod ids;
mod map;
mod rendering;
mod schema;
mod spec;
mod users;
mod wire;

use axum::Json;
use axum::Router;
use axum::extract::OriginalUri;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use self::endpoints::document;

use self::auth::Auth;
use self::endpoints::ENDPOINTS;
use self::error::{Civis, CivisError};
use crate::http::AppState;
use crate::http::error::BadRequest;
use crate::http::extract;

/// A JSON body, rejected in Civis's error format.
type Body<T> = extract::Json<T, Civis>;

pub fn router(state: AppState) -> Router {
    let mut router = Router::new().route("/endpoints", get(endpoints));
    for e in ENDPOINTS {
        let route_path = e.op.path.trim_end_matches('/');
        router = router.route(route_path, (e.route)());
    }
    router.fallback(fallback).with_state(state)
}

async fn endpoints(_auth: Auth) -> Json<serde_json::Value> {
    Json(document())
}

async fn fallback(method: axum::http::Method, OriginalUri(uri): OriginalUri) -> Response {
    CivisError::Request(BadRequest::new(StatusCode::NOT_FOUND, format!("No such endpoint: {method} {}", uri.path())))
        .into_response()
}
