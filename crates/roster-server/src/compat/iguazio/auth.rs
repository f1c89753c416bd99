//! Who is calling: the key from the `session` cookie the SDK sets
//! (`j:{"sid": "<key>"}`, sent raw with quotes, braces and a space, which
//! strict cookie parsers reject, or percent-encoded), from
//! `Authorization: Basic base64(user:key)`, or from a bearer token.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;
use roster_core::{CoreError, Principal};

use super::error::IgzError;
use crate::http::AppState;

pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = IgzError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let key = credential(parts).ok_or(CoreError::Unauthenticated)?;
        Ok(Auth(state.directory.authenticate(&key, crate::http::auth::source(parts)).await?))
    }
}

/// The key a request presents, in any of the forms above.
pub fn credential(parts: &Parts) -> Option<String> {
    session_key(parts)
        .or_else(|| basic_key(parts))
        .or_else(|| crate::http::auth::authorization(&parts.headers, "bearer").map(str::to_owned))
        .filter(|k| !k.is_empty())
}

fn session_key(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| std::str::from_utf8(v.as_bytes()).ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|c| c.trim().strip_prefix("session="))
        .find_map(sid)
}

/// The key inside a `session` cookie value, leniently.
fn sid(value: &str) -> Option<String> {
    let value = value.trim().trim_matches('"');
    let decoded: String = if value.contains('%') {
        form_urlencoded::parse(format!("v={}", value.replace('+', "%2B")).as_bytes()).next()?.1.into_owned()
    } else {
        value.to_owned()
    };
    match decoded.strip_prefix("j:") {
        Some(json) => serde_json::from_str::<serde_json::Value>(json).ok()?.get("sid")?.as_str().map(str::to_owned),
        None => Some(decoded),
    }
}

fn basic_key(parts: &Parts) -> Option<String> {
    let encoded = crate::http::auth::authorization(&parts.headers, "basic")?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.split_once(':').map(|(_, key)| key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::sid;

    #[test]
    fn session_cookies_are_read_leniently() {
        assert_eq!(sid(r#"j:{"sid": "rst_abc"}"#).as_deref(), Some("rst_abc"));
        assert_eq!(sid("j%3A%7B%22sid%22%3A%20%22rst_abc%22%7D").as_deref(), Some("rst_abc"));
        assert_eq!(sid("rst_plain").as_deref(), Some("rst_plain"));
        assert_eq!(sid(r#"j:{"nope": 1}"#), None);
        assert_eq!(sid("j:{broken"), None);
    }
}
