//! What of a request the log may show. A path can carry a secret (Iguazio
//! names an access key by its secret: `/iguazio/api/access_keys/<key>`)
//! and a client's `x-request-id` is text the client chose; neither is
//! written as sent.

use std::collections::HashSet;
use std::sync::OnceLock;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;

/// The path to log: the route's template with each parameter shown only
/// when it is an id (a UUID or a number), else its name (`{id}`). A path no
/// route matched keeps only ids and words that some route has.
pub fn path(req: &Request) -> String {
    let actual = req.uri().path();
    match req.extensions().get::<MatchedPath>() {
        Some(template) => filled(template.as_str(), actual),
        None => known_only(actual),
    }
}

fn filled(template: &str, actual: &str) -> String {
    let mut out = Vec::new();
    let mut values = actual.split('/');
    for part in template.split('/') {
        let value = values.next();
        if part.starts_with("{*") {
            out.push(part);
            break;
        }
        out.push(match value {
            Some(v) if part.starts_with('{') && is_id(v) => v,
            _ => part,
        });
    }
    out.join("/")
}

fn known_only(actual: &str) -> String {
    let words = route_words();
    actual
        .split('/')
        .map(|s| if s.is_empty() || is_id(s) || words.contains(s) { s } else { "…" })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every literal segment of every route (`v1`, `iguazio`, `access_keys`, …).
fn route_words() -> &'static HashSet<String> {
    static WORDS: OnceLock<HashSet<String>> = OnceLock::new();
    WORDS.get_or_init(|| {
        crate::routes()
            .into_iter()
            .flat_map(|(_, path)| path.split('/').map(str::to_owned).collect::<Vec<_>>())
            .filter(|s| !s.is_empty() && !s.starts_with('{'))
            .collect()
    })
}

fn is_id(s: &str) -> bool {
    (!s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())) || uuid::Uuid::try_parse(s).is_ok()
}

/// A request id a client may choose: 1–64 characters of `A-Z a-z 0-9 . _ -`.
/// Any other is replaced by a generated one.
pub fn is_safe_request_id(value: &HeaderValue) -> bool {
    let b = value.as_bytes();
    !b.is_empty() && b.len() <= 64 && b.iter().all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_shown_only_when_they_are_ids() {
        let id = "0190e0c4-8a4b-7cc1-9a1e-1c2f3a4b5c6d";
        assert_eq!(
            filled("/iguazio/api/access_keys/{id}", "/iguazio/api/access_keys/rst_secret"),
            "/iguazio/api/access_keys/{id}"
        );
        assert_eq!(
            filled("/iguazio/api/access_keys/{id}", &format!("/iguazio/api/access_keys/{id}")),
            format!("/iguazio/api/access_keys/{id}")
        );
        assert_eq!(filled("/box/2.0/users/{id}", "/box/2.0/users/42"), "/box/2.0/users/42");
        assert_eq!(filled("/files/{*rest}", "/files/a/b/c"), "/files/{*rest}");
    }

    #[test]
    fn request_ids_are_short_and_plain() {
        assert!(is_safe_request_id(&HeaderValue::from_static("abc-123_x.y")));
        assert!(!is_safe_request_id(&HeaderValue::from_static("abc method=DELETE path=/v1/users/admin} forged")));
        assert!(!is_safe_request_id(&HeaderValue::from_static("")));
        assert!(!is_safe_request_id(&HeaderValue::from_str(&"a".repeat(65)).unwrap()));
    }
}
