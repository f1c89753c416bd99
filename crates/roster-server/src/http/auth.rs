//! Reading credentials out of requests. Each front-end names the header
//! forms its clients send; what a credential is worth is decided by the
//! core (`Directory::authenticate`).

use axum::http::{HeaderMap, header};

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
