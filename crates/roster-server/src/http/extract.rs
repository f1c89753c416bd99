//! Extractors shared by front-ends. Each rejects with the front-end's own
//! error format (its [`Dialect`]) and names the offending field, so even
//! malformed JSON gets a useful answer.

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde::de::DeserializeOwned;
use tower_http::timeout::TimeoutError;

use super::error::{BadRequest, Dialect};

/// A JSON body, parsed with the path of the first offending field.
pub struct Json<T, D>(pub T, pub PhantomData<D>);

impl<T, D> Json<T, D> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// Parses `bytes` as `T`, reporting the JSON path of the first error.
/// The body must be a JSON object: serde would otherwise read a struct from
/// an array, positionally, and blame an index.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BadRequest> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(BadRequest::invalid("body", "must be a JSON object"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut *de) {
        // One JSON value and nothing after it but whitespace.
        Ok(v) => match de.end() {
            Ok(()) => Ok(v),
            Err(_) => Err(BadRequest::invalid("body", "unexpected text after the JSON object")),
        },
        Err(e) => {
            let inner = e.inner().to_string();
            let path = e.path().to_string();
            let field = match (path.as_str(), unknown_field(&inner)) {
                (".", Some(f)) if !f.is_empty() => f,
                // The root, or a key that is the empty string: the body.
                (".", _) | ("", _) => "body".to_owned(),
                _ => path,
            };
            let message = inner.split(" at line ").next().unwrap_or(&inner).to_owned();
            Err(BadRequest::invalid(field, message))
        }
    }
}

/// serde reports an unknown or missing top-level field with the root path;
/// recover its name from the message.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `").or_else(|| message.strip_prefix("missing field `"))?;
    Some(rest.split('`').next()?.to_owned())
}

impl<T, D, S> FromRequest<S> for Json<T, D>
where
    T: DeserializeOwned,
    D: Dialect,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json") || m.trim().ends_with("+json"))
        });
        if !json {
            return Err(D::reject(BadRequest::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a body with content-type application/json",
            )));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| D::reject(body_error(&e)))?;
        parse_json(&bytes).map(|v| Json(v, PhantomData)).map_err(D::reject)
    }
}

/// Why a body could not be read: too large (413), not received in time
/// (408, see `http::with_middleware`), or broken off (400).
fn body_error(e: &BytesRejection) -> BadRequest {
    let status = e.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return BadRequest::new(status, "request body is too large");
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cause {
        if err.is::<TimeoutError>() {
            return BadRequest::new(StatusCode::REQUEST_TIMEOUT, "the request body did not arrive in time");
        }
        cause = err.source();
    }
    BadRequest::new(status, e.body_text())
}

/// Query parameters as strings; handlers parse each with a field-named error.
pub struct Query<T, D>(pub T, pub PhantomData<D>);

impl<T, D, S> FromRequestParts<S> for Query<T, D>
where
    T: DeserializeOwned,
    D: Dialect,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str::<T>(query)
            .map(|v| Query(v, PhantomData))
            .map_err(|e| D::reject(BadRequest::invalid("query", e.to_string())))
    }
}

/// Parses an integer query parameter, naming it on failure.
pub fn int_param(field: &str, value: Option<&str>) -> Result<Option<i64>, BadRequest> {
    match value {
        None | Some("") => Ok(None),
        Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| BadRequest::invalid(field, "must be an integer")),
    }
}

/// Where a stream of the event log starts, and whether it follows the log
/// once sent: the `Last-Event-ID` a reconnecting `EventSource` sends wins
/// over `after` (either a seq, not negative; a blank header counts as none),
/// and `follow` is true unless it says `false`. The native API's stream and
/// the console's read their query this one way.
pub fn stream_start(
    headers: &axum::http::HeaderMap,
    after: Option<&str>,
    follow: Option<&str>,
) -> Result<(i64, bool), BadRequest> {
    // Not text at all is a bad seq; blank is no header.
    let resume =
        headers.get("last-event-id").map(|v| v.to_str().map(str::trim).unwrap_or("?")).filter(|v| !v.is_empty());
    let after = match resume {
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| BadRequest::invalid("Last-Event-ID", "must be a seq this stream sent"))?,
        None => match after {
            Some("") => return Err(BadRequest::invalid("after", "must be an integer")),
            v => int_param("after", v)?.unwrap_or(0),
        },
    };
    if after < 0 {
        return Err(BadRequest::invalid("after", "must not be negative"));
    }
    let follow = match follow {
        None | Some("true") => true,
        Some("false") => false,
        Some(_) => return Err(BadRequest::invalid("follow", "must be true or false")),
    };
    Ok((after, follow))
}

/// Parses a path segment as an id of type `I` (a UUID newtype).
pub fn id_param<I: std::str::FromStr>(field: &str, value: &str) -> Result<I, BadRequest> {
    value.parse::<I>().map_err(|_| BadRequest::invalid(field, "must be a UUID"))
}

/// An optional JSON body: an empty body is `None`, whatever its content type.
impl<T, D, S> axum::extract::OptionalFromRequest<S> for Json<T, D>
where
    T: DeserializeOwned,
    D: Dialect,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let no_type = !req.headers().contains_key(header::CONTENT_TYPE);
        let bytes = Bytes::from_request(req, state).await.map_err(|e| D::reject(body_error(&e)))?;
        // Some SDKs send `Content-Type: application/json` with no body at all;
        // a JSON `null` says the same (as an optional body's schema allows).
        if bytes.iter().all(u8::is_ascii_whitespace) || bytes.trim_ascii() == b"null" {
            return Ok(None);
        }
        if no_type {
            return Err(D::reject(BadRequest::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a body with content-type application/json",
            )));
        }
        parse_json(&bytes).map(|v| Some(Json(v, PhantomData))).map_err(D::reject)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::parse_json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
    }

    fn field_of(body: &str) -> Option<String> {
        parse_json::<Body>(body.as_bytes()).err().and_then(|e| e.field)
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_of(r#"{"name": 1}"#).as_deref(), Some("name"));
        assert_eq!(field_of(r#"{"nam": "x"}"#).as_deref(), Some("nam"));
        assert_eq!(field_of(r#"{}"#).as_deref(), Some("name"));
        assert_eq!(field_of(r#"{"name": "x"} trailing"#).as_deref(), Some("body"));
        assert_eq!(field_of("[1]").as_deref(), Some("body"));
    }

    #[test]
    fn an_empty_key_is_named_as_the_body() {
        // Found by fuzzing (fuzz/fuzz_targets/json_bodies.rs): an error at
        // or about the key "" named the empty string as the field.
        for body in [r#"{""x"#, r#"{"": 1}"#, r#"{"": "x", "name": "y"}"#] {
            assert_eq!(field_of(body).as_deref(), Some("body"), "{body}");
        }
    }
}
