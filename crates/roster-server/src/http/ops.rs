//! Operational endpoints: health, Prometheus metrics, the OpenAPI document.

use std::sync::OnceLock;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::AppState;
use super::routes::Routes;

/// The process-wide metrics recorder, installed on first use.
fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE.get_or_init(|| PrometheusBuilder::new().install_recorder().ok()).as_ref()
}

pub fn routes() -> Routes<AppState> {
    prometheus();
    Routes::new()
        .get("/healthz", || async { axum::Json(serde_json::json!({ "status": "ok" })) })
        .get("/readyz", ready)
        .get("/metrics", metrics)
        .get("/openapi.json", || async { axum::Json(crate::native::openapi()) })
}

/// Readiness, apart from liveness (`/healthz`): 503 until this server's
/// index is loaded, so a load balancer sends reads only where they are
/// answered from memory. The revision tells how far it has applied the log.
async fn ready(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    let index = state.directory.index();
    let revision = index.revision();
    if index.is_ready() {
        (StatusCode::OK, axum::Json(serde_json::json!({ "status": "ready", "revision": revision })))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({ "status": "loading", "revision": revision })))
    }
}

async fn metrics() -> impl IntoResponse {
    let body = prometheus().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
