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
pub(crate) mod map;
mod rendering;
mod schema;
mod spec;
mod users;
pub(crate) mod wire;

use axum::Json;

pub use self::endpoints::document;

use self::auth::Auth;
use self::endpoints::ENDPOINTS;
use self::error::Civis;
use crate::http::AppState;
use crate::http::extract;
use crate::http::routes::Routes;

/// A JSON body, rejected in Civis's error format.
type Body<T> = extract::Json<T, Civis>;

pub fn routes() -> Routes<AppState> {
    let mut routes = Routes::new().get("/endpoints", endpoints);
    for e in ENDPOINTS {
        let route_path = e.op.path.trim_end_matches('/');
        routes = routes.method_router(e.method(), route_path, (e.route)());
    }
    routes.in_dialect::<Civis>()
}

async fn endpoints(_auth: Auth) -> Json<serde_json::Value> {
    Json(document())
}
