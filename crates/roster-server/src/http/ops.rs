//! Operational endpoints: health, Prometheus metrics, the OpenAPI document.

use std::sync::OnceLock;

use axum::http::header;
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
        .get("/metrics", metrics)
        .get("/openapi.json", || async { axum::Json(crate::native::openapi()) })
}

async fn metrics() -> impl IntoResponse {
    let body = prometheus().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
