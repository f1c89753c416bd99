//! Reading credentials out of requests. Each front-end names the header
//! forms its clients send; what a credential is worth is decided by the
//! core (`Directory::authenticate`).

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

/// The address a request came from, when the server knows it: the peer
/// of the connection (a proxy in front of Roster is one source for all).
/// The core counts failed authentications by it.
pub fn source(parts: &Parts) -> Option<IpAddr> {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// [`source`] as an extractor, for handlers that authenticate a secret
/// themselves.
pub struct Source(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Source(source(parts)))
    }
}

/// The credential in `Authorization: <scheme> <credential>`, with the
/// scheme compared ignoring case; `None` when absent or empty.
pub fn authorization<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.split_once(' '))
        .filter(|(s, _)| s.eq_ignore_ascii_case(scheme))
        .map(|(_, credential)| credential.trim())
        .filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_ignore_case() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "bearer abc ".parse().unwrap());
        assert_eq!(authorization(&h, "Bearer"), Some("abc"));
        assert_eq!(authorization(&h, "Key"), None);
        h.insert(header::AUTHORIZATION, "Key ".parse().unwrap());
        assert_eq!(authorization(&h, "Key"), None);
    }
}
