//! What SCIM handlers extract from a request: the caller (`Auth`), the base
//! URL (`Base`), case-insensitive query parameters (`Params`), the JSON body,
//! path ids and the `If-Match`/`If-None-Match` versions. Parsing only: no
//! directory call beyond authentication, no rendering.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use roster_core::{CoreError, Principal};
use serde_json::{Map, Value};

use super::error::{ScimDialect, ScimError, ScimResult};
use super::map::{self, Projection};
use super::schema::Kind;
use super::search::Search;
use crate::http::AppState;
use crate::http::extract;

pub(super) type Body_ = extract::Json<Value, ScimDialect>;

/// The caller, from `Authorization: Bearer <key>`.
pub(super) struct Auth(pub(super) Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let key = crate::http::auth::authorization(&parts.headers, "bearer").ok_or(CoreError::Unauthenticated)?;
        Ok(Auth(state.directory.authenticate(key, crate::http::auth::source(parts)).await?))
    }
}

/// The base URL of this front-end as the client reached it, for `location`
/// and `$ref` (the testers take ids from them).
pub(super) struct Base(pub(super) String);

impl<S: Send + Sync> FromRequestParts<S> for Base {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .unwrap_or("localhost");
        let https = parts.headers.get("x-forwarded-proto").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
        Ok(Base(format!("{}://{host}/scim/v2", if https { "https" } else { "http" })))
    }
}

/// The query string as case-insensitive names (SCIM parameter names are
/// case-insensitive); repeated names are joined with commas.
pub(super) struct Params(pub(super) HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let mut out: HashMap<String, String> = HashMap::new();
        for (k, v) in form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
            out.entry(k.to_ascii_lowercase())
                .and_modify(|e| {
                    e.push(',');
                    e.push_str(&v);
                })
                .or_insert_with(|| v.into_owned());
        }
        Ok(Params(out))
    }
}

impl Params {
    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(&k.to_ascii_lowercase()).map(String::as_str)
    }

    pub(super) fn projection(&self, kind: &Kind) -> ScimResult<Projection> {
        let list = |k: &str| self.get(k).map(|v| vec![v.to_owned()]).unwrap_or_default();
        Projection::parse(kind, &list("attributes"), &list("excludedAttributes"), false)
    }

    pub(super) fn search(&self) -> ScimResult<Search> {
        let int = |k: &str| -> ScimResult<Option<i64>> {
            match self.get(k) {
                None | Some("") => Ok(None),
                Some(v) => {
                    v.trim().parse().map(Some).map_err(|_| ScimError::invalid_value(format!("{k}: must be an integer")))
                }
            }
        };
        let list = |k: &str| self.get(k).map(|v| vec![v.to_owned()]).unwrap_or_default();
        Ok(Search {
            filter: self.get("filter").map(str::to_owned),
            sort_by: self.get("sortBy").map(str::to_owned),
            sort_order: self.get("sortOrder").map(str::to_owned),
            start_index: int("startIndex")?,
            count: int("count")?,
            attributes: list("attributes"),
            excluded: list("excludedAttributes"),
        })
    }
}

/// The version an `If-Match` names: `None` for no header or `*`; a tag we
/// never issue matches nothing.
pub(super) fn if_match(headers: &HeaderMap) -> Option<i64> {
    let v = headers.get(header::IF_MATCH)?.to_str().unwrap_or("").trim();
    if v == "*" {
        return None;
    }
    let first = v.split(',').next().unwrap_or("").trim();
    let tag = first.strip_prefix("W/").unwrap_or(first).trim_matches('"');
    Some(tag.parse().unwrap_or(i64::MIN))
}

pub(super) fn not_modified(headers: &HeaderMap, version: i64) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == map::etag(version) || t.trim() == "*"))
}

pub(super) fn body_object(v: Value) -> ScimResult<Map<String, Value>> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(ScimError::invalid_syntax("body: must be a JSON object")),
    }
}

/// An id from the path; one that is not a UUID names nothing (404).
pub(super) fn id<T: std::str::FromStr>(what: &str, s: &str) -> ScimResult<T> {
    s.parse().map_err(|_| ScimError::not_found(format!("{what} not found")))
}
