//! Online backups of the embedded store: a consistent copy of a SQLite
//! database taken while servers keep writing to it. The copy is one read
//! transaction's snapshot (`VACUUM INTO`), so it holds every commit up to a
//! point and nothing after it; it is written beside the target and renamed
//! into place only once complete and checked, so a failed backup never
//! leaves a partial file under the target's name. PostgreSQL has its own
//! tools for this (`pg_dump`), which README describes.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum BackupError {
    #[error("{0}")]
    Unsupported(String),
    #[error("{0} exists; choose another file or remove it first")]
    TargetExists(PathBuf),
    #[error("cannot read the database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the copy failed its integrity check: {0}")]
    Corrupt(String),
    #[error("cannot write the copy: {0}")]
    Io(#[from] std::io::Error),
}

/// Copies the database at `url` to `to` while it stays in use; returns the
/// size of the copy in bytes.
pub async fn backup(url: &str, to: &Path) -> Result<u64, BackupError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Err(BackupError::Unsupported(
            "a PostgreSQL database is backed up with pg_dump (see README, Backups)".into(),
        ));
    }
    if crate::sqlite_file(url).is_none() {
        return Err(BackupError::Unsupported(format!("cannot back up {:?}: not a SQLite file", crate::redact(url))));
    }
    if to.exists() {
        return Err(BackupError::TargetExists(to.to_owned()));
    }
    let file_name = to.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "backup".into());
    let partial = to.with_file_name(format!(".{file_name}.partial-{}", std::process::id()));
    let _ = std::fs::remove_file(&partial);
    let result = copy(url, &partial).await;
    if let Err(e) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    let size = std::fs::metadata(&partial)?.len();
    std::fs::rename(&partial, to)?;
    Ok(size)
}

async fn copy(url: &str, partial: &Path) -> Result<(), BackupError> {
    // Read-only, never creating: a mistyped path is an error, not a new
    // empty database; the busy timeout lets a writer's checkpoint pass.
    let mut source = SqliteConnectOptions::from_str(url)?
        .read_only(true)
        .create_if_missing(false)
        .busy_timeout(std::time::Duration::from_secs(30))
        .connect()
        .await?;
    let target = partial.to_string_lossy().into_owned();
    sqlx::query("VACUUM INTO $1").bind(&target).execute(&mut source).await?;
    source.close().await?;
    let mut copy = SqliteConnectOptions::new().filename(partial).read_only(true).connect().await?;
    let verdict: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut copy).await?;
    copy.close().await?;
    if verdict != "ok" {
        return Err(BackupError::Corrupt(verdict));
    }
    Ok(())
}
