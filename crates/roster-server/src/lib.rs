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
use roster_core::Directory;
use tokio::net::TcpListener;

pub use http::AppState;

/// The whole application: every front-end and the operational endpoints.
pub fn app(directory: Directory) -> Router {
    let state = AppState::new(directory);
    http::with_middleware(
        Router::new()
            .merge(native::router(state.clone()))
            .merge(compat::router(state.clone()))
            .nest("/scim/v2", scim::router(state.clone()))
            .merge(http::ops::router(state)),
    )
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
