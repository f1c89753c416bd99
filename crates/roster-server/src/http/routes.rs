//! The route registry: front-ends mount their routes through [`Routes`],
//! which records each `(method, path template)` as it mounts it, so the
//! list of what the server answers ([`crate::routes`]) is the router itself,
//! not a copy kept in step by hand. [`Routes::in_dialect`] finishes a
//! front-end: an unknown path answers 404 and a method the path does not
//! take answers 405 with `Allow`, both in the front-end's error format.

use axum::Router;
use axum::extract::OriginalUri;
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{MethodFilter, MethodRouter};

use super::error::{BadRequest, Dialect};

/// One mounted route: a method and a path template (`/v1/groups/{id}`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub method: Method,
    pub path: String,
}

/// A router and the list of the routes mounted on it.
pub struct Routes<S> {
    router: Router<S>,
    list: Vec<Route>,
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    pub fn new() -> Self {
        Self { router: Router::new(), list: Vec::new() }
    }

    /// Mounts `handler` for `method path`.
    pub fn on<H, T>(self, method: Method, path: &str, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        let filter = filter(&method);
        self.method_router(method, path, axum::routing::on(filter, handler))
    }

    pub fn get<H: Handler<T, S>, T: 'static>(self, path: &str, handler: H) -> Self {
        self.on(Method::GET, path, handler)
    }

    pub fn post<H: Handler<T, S>, T: 'static>(self, path: &str, handler: H) -> Self {
        self.on(Method::POST, path, handler)
    }

    pub fn put<H: Handler<T, S>, T: 'static>(self, path: &str, handler: H) -> Self {
        self.on(Method::PUT, path, handler)
    }

    pub fn patch<H: Handler<T, S>, T: 'static>(self, path: &str, handler: H) -> Self {
        self.on(Method::PATCH, path, handler)
    }

    pub fn delete<H: Handler<T, S>, T: 'static>(self, path: &str, handler: H) -> Self {
        self.on(Method::DELETE, path, handler)
    }

    /// Mounts a method router that serves exactly `method` (for tables that
    /// hold a method router per endpoint, like Civis's).
    pub fn method_router(mut self, method: Method, path: &str, route: MethodRouter<S>) -> Self {
        self.router = self.router.route(path, route);
        self.list.push(Route { method, path: path.to_owned() });
        self
    }

    /// Takes a router built elsewhere along with the routes it serves (the
    /// native API's, from the same `#[utoipa::path]` definitions).
    pub fn from_parts(router: Router<S>, list: Vec<Route>) -> Self {
        Self { router, list }
    }

    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.router = self.router.merge(other.router);
        self.list.extend(other.list);
        self
    }

    pub fn nest(mut self, prefix: &str, inner: Routes<S>) -> Self {
        self.router = self.router.nest(prefix, inner.router);
        self.list
            .extend(inner.list.into_iter().map(|r| Route { method: r.method, path: format!("{prefix}{}", r.path) }));
        self
    }

    /// Finishes a front-end: unknown paths are 404s and wrong methods 405s
    /// (with the `Allow` the router computes), in `D`'s error format. Both
    /// are the router's fallbacks, not a layer: a layer would wrap every
    /// route, and cost every request an allocation per route wrapper.
    pub fn in_dialect<D: Dialect>(mut self) -> Self {
        self.router = self.router.fallback(not_found::<D>).method_not_allowed_fallback(method_not_allowed::<D>);
        self
    }

    pub fn into_router(self) -> Router<S> {
        self.router
    }

    /// The mounted routes, sorted by path then method.
    pub fn list(&self) -> Vec<Route> {
        let mut list = self.list.clone();
        list.sort_by(|a, b| (&a.path, a.method.as_str()).cmp(&(&b.path, b.method.as_str())));
        list
    }
}

/// The filter serving exactly `method`; the methods are the registry's own
/// constants, never a client's.
fn filter(method: &Method) -> MethodFilter {
    match *method {
        Method::GET => MethodFilter::GET,
        Method::POST => MethodFilter::POST,
        Method::PUT => MethodFilter::PUT,
        Method::PATCH => MethodFilter::PATCH,
        Method::DELETE => MethodFilter::DELETE,
        Method::HEAD => MethodFilter::HEAD,
        Method::OPTIONS => MethodFilter::OPTIONS,
        _ => unreachable!("routes are mounted for standard methods only, not {method}"),
    }
}

pub(crate) async fn not_found<D: Dialect>(method: Method, OriginalUri(uri): OriginalUri) -> Response {
    D::reject(BadRequest::new(StatusCode::NOT_FOUND, format!("no such endpoint: {method} {}", uri.path())))
}

/// A path served with another method: 405 in `D`'s format; the router
/// adds the `Allow` header of the methods the path takes.
async fn method_not_allowed<D: Dialect>(method: Method) -> Response {
    D::reject(BadRequest::new(StatusCode::METHOD_NOT_ALLOWED, format!("{method} is not allowed here")))
}
