//! What every front-end shares: state, the middleware stack, operational
//! endpoints and the helpers for reading requests.

pub mod auth;
pub mod error;
pub mod extract;
pub mod ops;
mod redact;
mod request_metrics;
pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use roster_core::Directory;
use roster_core::revision::Wanted;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::timeout::{RequestBodyDeadlineLayer, RequestBodyTimeoutLayer};
use tower_http::trace::TraceLayer;

/// Shared by every handler: the directory (and through it, the store).
#[derive(Clone)]
pub struct AppState {
    /// Shared, not cloned: axum clones the state for every extractor of
    /// every request, and a `Directory`'s clone touches each of its caches.
    pub directory: Arc<Directory>,
    /// The native API's whole groups as JSON (`native::rendered`).
    pub rendered_groups: Arc<crate::native::rendered::RenderedGroups>,
}

impl AppState {
    pub fn new(directory: Directory) -> Self {
        Self { directory: Arc::new(directory), rendered_groups: Arc::default() }
    }
}

/// The largest request body accepted (1 MiB).
pub const MAX_BODY: usize = 1024 * 1024;

/// Request ids, tracing spans, metrics, panics turned into 500s, body limit
/// and body timeouts (a body read too late fails its extractor: a 408 in
/// the front-end's format).
///
/// The stack wraps the router once, as one service of static types, rather
/// than through a `Router::layer` per middleware, each of which wraps every
/// route in a boxed layer: a request then cloned and boxed each of them on
/// its way in, about a hundred allocations before any handler ran. What
/// needs the route the router matched (the span's path, the metrics'
/// label) wraps each route, as one layer.
pub fn with_middleware(router: Router, limits: &crate::Limits) -> Router {
    let x_request_id = axum::http::HeaderName::from_static("x-request-id");
    let per_route = ServiceBuilder::new()
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req
                        .extensions()
                        .get::<RequestId>()
                        .and_then(|id| id.header_value().to_str().ok())
                        .unwrap_or("-")
                        .to_owned();
                    // The path only, with secrets taken out: query strings may carry
                    // search terms, headers keys.
                    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %redact::path(req))
                })
                .on_response(|res: &axum::http::Response<_>, latency: Duration, _span: &tracing::Span| {
                    tracing::info!(
                        status = res.status().as_u16(),
                        latency_ms = latency.as_secs_f64() * 1000.0,
                        "response"
                    );
                }),
        )
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(middleware::from_fn(request_metrics::record));
    let stack = ServiceBuilder::new()
        .map_request(drop_unsafe_request_id)
        .layer(SetRequestIdLayer::new(x_request_id.clone(), MakeRequestUuid))
        .layer(PropagateRequestIdLayer::new(x_request_id))
        // A panic outside any route's handler (the router, the token scope).
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(middleware::from_fn(consistency_tokens))
        .layer(RequestBodyDeadlineLayer::new(limits.body_timeout))
        .layer(RequestBodyTimeoutLayer::new(limits.body_idle_timeout))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .service(router.layer(per_route));
    Router::new().fallback_service(stack)
}

/// Takes away a client's `x-request-id` that is not a plain short token,
/// so that a generated one takes its place (in the log and the answer).
fn drop_unsafe_request_id(mut req: Request) -> Request {
    if req.headers().get_all("x-request-id").iter().any(|v| !redact::is_safe_request_id(v)) {
        req.headers_mut().remove("x-request-id");
    }
    req
}

/// The request header carrying the minimum revision a read must reflect.
pub const MIN_REVISION: &str = "roster-min-revision";
/// The answer header carrying the revision a write committed at.
pub const REVISION: &str = "roster-revision";

/// Consistency tokens for every front-end: the client's minimum revision
/// goes to the directory beside the request (which waits for it before the
/// first read, or refuses an unreadable one in the front-end's own format),
/// and the revision a write committed at comes back as `Roster-Revision`.
async fn consistency_tokens(req: Request, next: Next) -> Response {
    let values: Vec<_> = req.headers().get_all(MIN_REVISION).iter().collect();
    let wanted = match values.as_slice() {
        [] => Wanted::Any,
        [one] => match one.to_str().ok().and_then(|v| v.trim().parse::<i64>().ok()) {
            Some(r) if r >= 0 => Wanted::AtLeast(r),
            _ => Wanted::Unreadable(
                "must be a revision (a whole number of 0 or more) from an earlier answer's Roster-Revision".into(),
            ),
        },
        _ => Wanted::Unreadable("give one minimum revision, not several".into()),
    };
    let (mut res, written) = roster_core::revision::scope(wanted, next.run(req)).await;
    if let Some(r) = written
        && let Ok(v) = axum::http::HeaderValue::from_str(&r.to_string())
    {
        res.headers_mut().insert(REVISION, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt;

    async fn boom() -> &'static str {
        panic!("a bug")
    }

    /// The stack around the router, on routes of its own: a handler's
    /// panic is a 500 in JSON, and every answer carries a request id, the
    /// client's own when it is a plain token.
    #[tokio::test]
    async fn the_stack_catches_panics_and_tags_answers() {
        let routes = axum::Router::new().route("/boom", get(boom)).route("/ok", get(|| async { "ok" }));
        let app = super::with_middleware(routes, &crate::Limits::default());

        let res = app.clone().oneshot(Request::get("/boom").body(Body::empty()).expect("request")).await;
        let res = res.expect("infallible");
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(res.headers().contains_key("x-request-id"));
        let body = axum::body::to_bytes(res.into_body(), 1 << 16).await.expect("body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(body["error"]["code"], "internal");

        let req = Request::get("/ok").header("x-request-id", "abc-1").body(Body::empty()).expect("request");
        let res = app.clone().oneshot(req).await.expect("infallible");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["x-request-id"], "abc-1");

        let req = Request::get("/ok").header("x-request-id", "a b\tc").body(Body::empty()).expect("request");
        let res = app.oneshot(req).await.expect("infallible");
        assert_ne!(res.headers()["x-request-id"], "a b\tc", "an unsafe id is replaced");
    }
}
