//! Every request counted and timed, by method, route and status
//! (`roster_http_requests_total`, `roster_http_request_duration_seconds`).
//!
//! Each label set's counter and histogram are registered with the recorder
//! once and kept: a request then costs a lookup by borrowed keys and two
//! atomic updates, where naming the labels afresh cost three `String`s and
//! a registry lookup by them (about a fifth of a small request's CPU).

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics::{Counter, Histogram};

/// One label set's handles.
struct Handles {
    method: &'static str,
    status: u16,
    requests: Counter,
    duration: Histogram,
}

/// By route (the pattern the router matched, so finitely many), then
/// method and status.
type Registered = RwLock<HashMap<String, Vec<Handles>>>;

fn registered() -> &'static Registered {
    static REGISTERED: OnceLock<Registered> = OnceLock::new();
    REGISTERED.get_or_init(Registered::default)
}

/// The method as a label: a client may send any token as a method, so
/// those outside the standard ones share one label rather than each
/// growing the metrics.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

pub(super) async fn record(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
    let route = req.extensions().get::<MatchedPath>().cloned();
    let res = next.run(req).await;
    let route = route.as_ref().map_or("unmatched", |p| p.as_str());
    observe(method, route, res.status().as_u16(), start.elapsed().as_secs_f64());
    res
}

fn observe(method: &'static str, route: &str, status: u16, seconds: f64) {
    let find = |all: &HashMap<String, Vec<Handles>>| {
        all.get(route).and_then(|v| v.iter().find(|h| h.method == method && h.status == status)).map(|h| {
            h.requests.increment(1);
            h.duration.record(seconds);
        })
    };
    if find(&registered().read().unwrap_or_else(|e| e.into_inner())).is_some() {
        return;
    }
    let mut all = registered().write().unwrap_or_else(|e| e.into_inner());
    // Another request may have registered it meanwhile.
    if find(&all).is_some() {
        return;
    }
    let labels = [("method", method.to_owned()), ("route", route.to_owned()), ("status", status.to_string())];
    let h = Handles {
        method,
        status,
        requests: metrics::counter!("roster_http_requests_total", &labels),
        duration: metrics::histogram!("roster_http_request_duration_seconds", &labels),
    };
    h.requests.increment(1);
    h.duration.record(seconds);
    all.entry(route.to_owned()).or_default().push(h);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_ones_share_a_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        let odd = Method::from_bytes(b"FROBNICATE").expect("a token");
        assert_eq!(method_label(&odd), "other");
        assert_eq!(method_label(&Method::CONNECT), "other");
    }

    /// The same label set twice is one registration; another status is another.
    #[test]
    fn each_label_set_is_registered_once() {
        let count =
            |route: &str| registered().read().unwrap_or_else(|e| e.into_inner()).get(route).map_or(0, |v| v.len());
        observe("GET", "/test/registered-once", 200, 0.001);
        observe("GET", "/test/registered-once", 200, 0.002);
        assert_eq!(count("/test/registered-once"), 1);
        observe("GET", "/test/registered-once", 404, 0.001);
        observe("other", "/test/registered-once", 404, 0.001);
        assert_eq!(count("/test/registered-once"), 3);
    }
}
