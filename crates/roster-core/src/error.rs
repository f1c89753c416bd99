//! One error type per layer: [`StoreError`] from storage, [`CoreError`] from
//! use-cases. Each front-end maps `CoreError` to its wire format in exactly
//! one place.

use std::time::Duration;

use thiserror::Error;

/// What a store can report. Driver-specific codes are mapped once, in the
/// store crate.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness or foreign-key rule of the schema refused the write.
    #[error("conflict on {constraint}")]
    Conflict { constraint: String },
    /// The database gave up on this transaction to resolve contention
    /// (deadlock, serialization failure, lock timeout); retrying the whole
    /// use-case may succeed.
    #[error("concurrent update, retry")]
    Busy,
    #[error("store failure: {0}")]
    Other(String),
}

/// The outcome of a use-case that did not succeed.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum CoreError {
    /// The input broke a rule; `field` names the offending input.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// The write would break a uniqueness or graph rule.
    #[error("{reason}")]
    Conflict { field: Option<String>, reason: String },
    /// The write was based on a stale read (version or ETag mismatch).
    #[error("{reason}")]
    Stale { reason: String },
    /// Contention the store could not resolve in time; the same request may
    /// succeed if sent again.
    #[error("the directory is busy with concurrent changes; retry")]
    Busy,
    #[error("authentication required")]
    Unauthenticated,
    /// Too many requests from this key, or too many failed authentications
    /// from this address; the same request may succeed after `retry_after`.
    #[error("too many requests; retry in {} s", retry_after_secs(*.retry_after))]
    RateLimited { retry_after: Duration },
    #[error("{reason}")]
    Forbidden { reason: String },
    /// Something failed that the client cannot fix; details are logged, not sent.
    #[error("internal error")]
    Internal(String),
}

impl CoreError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid { field: field.into(), reason: reason.into() }
    }

    pub fn conflict(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Conflict { field: Some(field.into()), reason: reason.into() }
    }

    pub fn forbidden(reason: impl Into<String>) -> Self {
        Self::Forbidden { reason: reason.into() }
    }

    /// Nesting refused because it would close a cycle. One field name for
    /// every path that nests (`child_id`), so front-ends recognise it with
    /// [`CoreError::is_cycle`] instead of matching strings of their own.
    pub fn cycle() -> Self {
        Self::conflict(CYCLE_FIELD, "nesting this group would create a cycle")
    }

    pub fn is_cycle(&self) -> bool {
        matches!(self, Self::Conflict { field: Some(f), .. } if f == CYCLE_FIELD)
    }

    /// The field a client should look at, if there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { field, .. } => Some(field),
            Self::Conflict { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}

/// Whole seconds to wait, rounded up and at least one, as `Retry-After`
/// says it.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

const CYCLE_FIELD: &str = "child_id";

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => CoreError::NotFound { what: "record" },
            StoreError::Conflict { constraint } => conflict_from_constraint(&constraint),
            StoreError::Busy => CoreError::Busy,
            StoreError::Other(m) => CoreError::Internal(m),
        }
    }
}

/// Unique constraints are named `<table>_<field>_key` in every store's
/// migrations, so the field can be recovered without knowing the driver.
fn conflict_from_constraint(constraint: &str) -> CoreError {
    let field = match constraint {
        c if c.contains("username") => "username",
        c if c.contains("external_id") => "external_id",
        c if c.contains("unique_id") => "unique_id",
        c if c.contains("slug") => "slug",
        c if c.contains("name") => "name",
        _ => {
            return CoreError::Conflict {
                field: None,
                reason: format!("conflicts with an existing record ({constraint})"),
            };
        }
    };
    CoreError::conflict(field, format!("{field} is already taken"))
}
