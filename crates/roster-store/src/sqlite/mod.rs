//! The SQLite store: one file in WAL mode, foreign keys on, `synchronous =
//! FULL` so an acknowledged commit survives a crash or power loss.
//!
//! Writes go through a pool of exactly one connection, so writers queue in
//! the process instead of spinning on SQLite's lock (and need no row locks);
//! reads use a separate pool and see a consistent snapshot while a write is
//! in progress.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use roster_core::store::StoreResult;
use roster_core::{Store, Tx};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::error::ConnectError;
use crate::migrations;

type Db = sqlx::Sqlite;

/// The SQL fragments in which SQLite differs from the shared text.
mod dialect {
    /// One writer at a time already: no row locks (and no such syntax).
    pub const LOCK_ROWS: &str = "";
    pub const LOCK_KEY: &str = "";
    pub const LOCK_SHARED: &str = "";
    /// A group's counts live on its row: one writer at a time needs no
    /// slots.
    pub const GROUP_COUNTS: &str = "n_members, n_admins, n_children";
    pub const COUNT_SLOTS: bool = false;
    /// One writer at a time: events take their `seq` in the transaction
    /// that appends them.
    pub const EVENT_INBOX: bool = false;
    pub const LOCK_GRAPH: Option<&str> = None;
    pub const LOCK_WATCHED: Option<&str> = None;
    pub const POSITION_FN: &str = "instr";
    /// The larger of two values (a scalar function, not the aggregate).
    pub const GREATEST: &str = "MAX";
    /// A bulk load into an empty `memberships` builds its indexes after
    /// the rows (one sorted pass each, not a random page per row), with a
    /// page cache large enough for them (KiB, negative as SQLite takes it).
    pub const DEFER_INDEXES: Option<(&str, &str)> = Some(("-1000000", super::PAGE_CACHE));
    /// Nothing to refresh before a bulk load's memberships.
    pub const ANALYZE_BEFORE_BULK: Option<&str> = None;
    /// SQLite plans without statistics (none are gathered unless asked).
    pub const REFRESH_STATS: Option<&str> = None;

    /// No `COPY`: a bulk load's rows go as multi-row INSERTs.
    pub const COPY: bool = false;

    /// Never called (`COPY` is false); here so the shared text compiles.
    pub async fn copy_in(_: &mut sqlx::SqliteConnection, _: &str, _: Vec<u8>) -> Result<(), sqlx::Error> {
        Err(sqlx::Error::Protocol("SQLite has no COPY".into()))
    }
}

// The shared SQL (`common/`), compiled once per backend as a child of this
// module, where `Db` and `dialect` name this backend's (hence the same files
// loaded twice, on purpose).
#[allow(clippy::duplicate_mod)]
#[path = "../common/rows.rs"]
mod rows;
#[allow(clippy::duplicate_mod)]
#[path = "../common/tx/mod.rs"]
mod tx;

/// Rows a statement may have waiting for its reader.
const ROW_BUFFER: usize = 1024;

/// Each connection's page cache (KiB, negative as SQLite takes it).
const PAGE_CACHE: &str = "-32000";

pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) and migrates the database at `url`.
    pub async fn open(url: &str) -> Result<Self, ConnectError> {
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(if memory { SqliteJournalMode::Memory } else { SqliteJournalMode::Wal })
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .pragma("temp_store", "memory")
            .pragma("cache_size", PAGE_CACHE)
            // Rows come from the connection's worker thread through a
            // channel: room for a page of them lets the worker run ahead
            // instead of handing each row over with a thread wake-up (the
            // default of 50 made those wake-ups most of an index load).
            .row_buffer_size(ROW_BUFFER);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await?;
        migrations::migrator(migrations::SQLITE).await?.run(&writer).await?;
        // An in-memory database exists once per connection: share the writer.
        let reader = if memory {
            writer.clone()
        } else {
            let readers = std::thread::available_parallelism().map_or(4, |n| n.get() as u32 * 2).max(4);
            SqlitePoolOptions::new().max_connections(readers).connect_with(options.read_only(true)).await?
        };
        Ok(Self { reader, writer })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn read(&self) -> StoreResult<Box<dyn Tx>> {
        Ok(Box::new(tx::SqlTx::begin(&self.reader, "BEGIN", false).await?))
    }

    async fn read_single(&self) -> StoreResult<Box<dyn Tx>> {
        Ok(Box::new(tx::SqlTx::single(&self.reader).await?))
    }

    async fn write(&self) -> StoreResult<Box<dyn Tx>> {
        Ok(Box::new(tx::SqlTx::begin(&self.writer, "BEGIN IMMEDIATE", true).await?))
    }

    fn schema_version(&self) -> i64 {
        crate::migrations::SQLITE.last_version()
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}
