//! Roster's HTTP server: the front-ends and what they share.
//!
//! Front-ends translate: they parse their wire format, authenticate the
//! caller through the core, call one [`roster_core::Directory`] use-case and
//! render the answer. They hold no business rule and never import each
//! other or the store.

pub mod compat;
pub mod http;
pub mod native;
pub mod scim;

use std::net::SocketAddr;

use axum::Router;
use axum::http::Method;
use http::routes::Routes;
use roster_core::Directory;
use tokio::net::TcpListener;

pub use http::AppState;

/// The whole application: every front-end and the operational endpoints.
pub fn app(directory: Directory) -> Router {
    http::with_middleware(mounted().into_router().with_state(AppState::new(directory)))
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
}

/// Serves `app` on `listener` until `shutdown` resolves, then finishes the
/// requests in flight.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
