//! Driver errors mapped to [`StoreError`] in one place.

use roster_core::StoreError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConnectError {
    #[error("cannot open the database: {0}")]
    Open(#[from] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Unsupported(String),
}

/// Unique and foreign-key violations become `Conflict` naming what was
/// violated; a locked database becomes `Busy`; anything else is opaque.
pub(crate) fn map(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db) => {
            let msg = db.message();
            if db.is_unique_violation() {
                let constraint = db.constraint().map(str::to_owned).unwrap_or_else(|| msg.to_owned());
                StoreError::Conflict { constraint }
            } else if db.is_foreign_key_violation() {
                StoreError::Conflict { constraint: "foreign key".into() }
            } else if msg.contains("database is locked")
                || matches!(db.code().as_deref(), Some("40001" | "40P01" | "55P03"))
            {
                StoreError::Busy
            } else {
                StoreError::Other(e.to_string())
            }
        }
        _ => StoreError::Other(e.to_string()),
    }
}
