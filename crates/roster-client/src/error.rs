//! What a call can fail with: the server's own error (with its code,
//! message and the field at fault), or a transport or decoding problem.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// The server answered with an error.
    #[error("{status} {code}: {message}")]
    Api { status: u16, code: String, message: String, field: Option<String> },
    #[error("cannot reach the server: {0}")]
    Transport(String),
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
}

impl Error {
    pub(crate) fn from_response(status: u16, body: &[u8]) -> Self {
        let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        let error = parsed.as_ref().map(|v| &v["error"]);
        let text = |key: &str| error.and_then(|e| e[key].as_str()).map(str::to_owned);
        Error::Api {
            status,
            code: text("code").unwrap_or_else(|| "unknown".into()),
            message: text("message").unwrap_or_else(|| String::from_utf8_lossy(body).into_owned()),
            field: text("field"),
        }
    }

    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The request field the server blamed, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Api { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}
