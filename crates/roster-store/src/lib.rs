//! Roster's storage: implementations of [`roster_core::Store`].
//!
//! SQLite is the embedded default (one file, WAL); PostgreSQL serves several
//! server processes at once. Both run the same SQL text (`common/`) with a
//! few dialect fragments, and pass the same contract suite. Stores keep SQL, schema,
//! migrations and counters; they know nothing of vendors or HTTP, and they
//! make no authorization decision.

pub mod backup;
mod error;
mod migrations;
pub mod postgres;
pub mod sqlite;
pub mod testing;

use std::sync::Arc;

use roster_core::Store;

pub use backup::{BackupError, backup};
pub use error::ConnectError;

/// Opens the store named by `url` (`sqlite://path`, `sqlite::memory:` or
/// `postgres://…`),
/// creating and migrating it as needed.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, ConnectError> {
    if url.starts_with("sqlite:") {
        return Ok(Arc::new(sqlite::SqliteStore::open(url).await?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(postgres::PgStore::open(url).await?));
    }
    Err(ConnectError::Unsupported(format!("unknown database URL scheme in {:?}", redact(url))))
}

/// The file of a SQLite database URL (`sqlite://FILE`, `sqlite:FILE`, with
/// or without options); `None` for anything else, an in-memory database
/// included.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    if !url.starts_with("sqlite:") || url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let options = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(url).ok()?;
    Some(options.get_filename().to_path_buf())
}

/// A database URL with any password removed, safe for logs and errors.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..s], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}
