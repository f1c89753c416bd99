//! The LDAP front-end's one error type, and the one place that turns it
//! (and every `CoreError`) into an LDAP result code. Internal details go to
//! the log, never to the client.

use ldap3_proto::proto::{LdapResult, LdapResultCode};
use roster_core::CoreError;

/// What an operation answers instead of success.
#[derive(Debug, thiserror::Error)]
pub enum LdapError {
    /// A request that breaks the protocol (a bad filter, an unknown
    /// extended operation, a bad paging cookie).
    #[error("{0}")]
    Protocol(String),
    /// A bind that failed, for whatever reason: never says which part.
    #[error("")]
    InvalidCredentials,
    /// A request out of sequence (StartTLS with TLS up, or with more
    /// requests behind it).
    #[error("{0}")]
    Sequence(String),
    /// A bind carrying a secret over a plain connection, when the server
    /// offers TLS and requires it for binds.
    #[error("a bind with a password or key needs an encrypted connection: use StartTLS or LDAPS")]
    ConfidentialityRequired,
    /// A bind method this server does not offer (SASL).
    #[error("only simple binds are supported")]
    AuthMethod,
    /// A base or compared entry that does not exist; `matched` is the
    /// nearest entry above it that does.
    #[error("no such entry")]
    NoSuchObject { matched: String },
    /// A search that ran past the client's time limit.
    #[error("time limit exceeded")]
    TimeLimit,
    /// A compare of an attribute the entry does not have.
    #[error("no such attribute")]
    NoSuchAttribute,
    #[error("invalid DN: {0}")]
    InvalidDn(String),
    /// Writes, and requests this server declines.
    #[error("{0}")]
    Unwilling(String),
    /// A control marked critical that this server does not know.
    #[error("unsupported critical control {0}")]
    UnavailableCritical(String),
    /// The key a connection bound with no longer authenticates.
    #[error("the credentials of this bind are no longer valid: bind again")]
    Revoked,
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The connection itself failed: nothing can be answered.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
}

impl LdapError {
    /// The result this error answers, with `matchedDN` where it has one.
    pub fn to_result(&self) -> LdapResult {
        let (code, message, matched) = match self {
            Self::Protocol(m) => (LdapResultCode::ProtocolError, m.clone(), String::new()),
            Self::InvalidCredentials => (LdapResultCode::InvalidCredentials, String::new(), String::new()),
            Self::Sequence(m) => (LdapResultCode::OperationsError, m.clone(), String::new()),
            Self::ConfidentialityRequired => (LdapResultCode::ConfidentialityRequired, self.to_string(), String::new()),
            Self::AuthMethod => (LdapResultCode::AuthMethodNotSupported, self.to_string(), String::new()),
            Self::NoSuchObject { matched } => (LdapResultCode::NoSuchObject, self.to_string(), matched.clone()),
            Self::TimeLimit => (LdapResultCode::TimeLimitExceeded, self.to_string(), String::new()),
            Self::NoSuchAttribute => (LdapResultCode::NoSuchAttribute, self.to_string(), String::new()),
            Self::InvalidDn(_) => (LdapResultCode::InvalidDNSyntax, self.to_string(), String::new()),
            Self::Unwilling(m) => (LdapResultCode::UnwillingToPerform, m.clone(), String::new()),
            Self::UnavailableCritical(_) => {
                (LdapResultCode::UnavailableCriticalExtension, self.to_string(), String::new())
            }
            Self::Revoked => (LdapResultCode::InsufficentAccessRights, self.to_string(), String::new()),
            Self::Core(e) => core_result(e),
            Self::Io(_) => (LdapResultCode::Other, "connection failed".to_owned(), String::new()),
        };
        LdapResult { code, matcheddn: matched, message, referral: Vec::new() }
    }
}

/// Every core error, exhaustively: a new variant must be placed here.
fn core_result(e: &CoreError) -> (LdapResultCode, String, String) {
    let none = String::new();
    match e {
        CoreError::Invalid { .. } => (LdapResultCode::UnwillingToPerform, e.to_string(), none),
        CoreError::NotFound { .. } => (LdapResultCode::NoSuchObject, e.to_string(), none),
        CoreError::Conflict { .. } | CoreError::Stale { .. } => {
            (LdapResultCode::UnwillingToPerform, e.to_string(), none)
        }
        CoreError::Busy | CoreError::RateLimited { .. } => (LdapResultCode::Busy, e.to_string(), none),
        CoreError::Unauthenticated => (LdapResultCode::InvalidCredentials, none.clone(), none),
        CoreError::Forbidden { .. } => (LdapResultCode::InsufficentAccessRights, e.to_string(), none),
        CoreError::Internal(detail) => {
            tracing::error!(error = %detail, "ldap operation failed");
            (LdapResultCode::Other, "internal error".to_owned(), none)
        }
    }
}
