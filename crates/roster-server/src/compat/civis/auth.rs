//! The Civis caller: HTTP Basic with the key as user name (what the SDK
//! sends) or `Bearer <key>`. It only parses the header and asks the core to
//! authenticate; it decides nothing about what the caller may do.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use roster_core::Principal;

use super::error::CivisError;
use crate::http::AppState;

/// The caller: HTTP Basic with the key as user name (what the SDK sends),
/// or `Bearer <key>` (what Civis documents for other clients).
pub(super) struct Auth(pub(super) Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = CivisError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let basic = crate::http::auth::authorization(&parts.headers, "basic")
            .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .map(|creds| creds.split(':').next().unwrap_or("").to_owned());
        let key = basic.or_else(|| crate::http::auth::authorization(&parts.headers, "bearer").map(str::to_owned));
        let key = key.filter(|k| !k.is_empty()).ok_or(roster_core::CoreError::Unauthenticated)?;
        Ok(Auth(state.directory.authenticate(&key, crate::http::auth::source(parts)).await?))
    }
}
