//! The PostgreSQL store, for several stateless `roster serve` processes on
//! one database.
//!
//! Concurrency by explicit locking under READ COMMITTED, not SERIALIZABLE:
//! every row a write transaction reads is locked (`FOR NO KEY UPDATE`), so
//! read-modify-write use-cases serialize on exactly the rows they touch (all
//! changes to one group queue on the group's row); nesting changes take one
//! transaction-scoped advisory lock first, so two concurrent nestings cannot
//! close a cycle together; the rows every writer shares (the table totals)
//! are written at commit, last; and events are numbered after the commit,
//! in batches (migration 0009), so that no writer holds the `events` counter
//! row through its commit. ARCHITECTURE.md
//! ("Concurrency") gives the one lock order every write path follows.
//! Reads run in REPEATABLE READ, READ ONLY: a page and its total come from
//! one snapshot.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use roster_core::store::StoreResult;
use roster_core::{Store, Tx};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};

use crate::error::ConnectError;
use crate::migrations;

type Db = sqlx::Postgres;

/// The SQL fragments in which PostgreSQL differs from the shared text.
mod dialect {
    /// Locks the rows a write reads against other writers, but not
    /// against the key checks of foreign keys (`FOR KEY SHARE`), which a
    /// row's `id`, never changed, does not need to wait for.
    pub const LOCK_ROWS: &str = " FOR NO KEY UPDATE";
    /// Keeps a row from going away (a deletion) without queueing the
    /// transactions that only refer to it.
    pub const LOCK_KEY: &str = " FOR KEY SHARE";
    /// Locks a row against the writers that change it, but not against
    /// others that lock it the same way: a change to a group's memberships
    /// holds the group so, and changes to one group's members run side by
    /// side.
    pub const LOCK_SHARED: &str = " FOR SHARE";
    /// A group's counts are the sums of its slots (`group_count_slots`,
    /// migration 0008): columns of a statement that reads `groups`.
    pub const GROUP_COUNTS: &str = "\
        (SELECT COALESCE(SUM(s.members), 0)::BIGINT FROM group_count_slots s WHERE s.group_id = groups.id) AS n_members, \
        (SELECT COALESCE(SUM(s.admins), 0)::BIGINT FROM group_count_slots s WHERE s.group_id = groups.id) AS n_admins, \
        (SELECT COALESCE(SUM(s.children), 0)::BIGINT FROM group_count_slots s WHERE s.group_id = groups.id) AS n_children";
    /// Counts move through slots (`add_group_counts`), never on the group's
    /// row, so concurrent writers to one group never wait on each other
    /// for them.
    pub const COUNT_SLOTS: bool = true;
    /// Writers commit side by side: their events go to `event_inbox` and
    /// are numbered after the commit, in batches (migration 0009).
    pub const EVENT_INBOX: bool = true;
    /// An arbitrary, fixed key for "the nesting graph".
    pub const LOCK_GRAPH: Option<&str> = Some("SELECT pg_advisory_xact_lock(7310520301)");
    /// A watched group's transitive changes (two 32-bit keys: a key space
    /// apart from the one-key locks above).
    pub const LOCK_WATCHED: Option<&str> = Some("SELECT pg_advisory_xact_lock(7310, $1)");
    pub const POSITION_FN: &str = "strpos";
    /// The larger of two values (a scalar function, not the aggregate).
    pub const GREATEST: &str = "GREATEST";
    /// Indexes stay through a bulk load: dropping one would lock the table
    /// against every other server's reads for the whole load.
    pub const DEFER_INDEXES: Option<(&str, &str)> = None;
    /// Before a bulk load's memberships: the users and groups just written
    /// are what their key checks and counter updates look up, planned from
    /// statistics taken while the tables were near empty otherwise (a scan
    /// of every user per 500 counter updates: 38 ms a statement at 10^5).
    pub const ANALYZE_BEFORE_BULK: Option<&str> = Some("ANALYZE users, groups");
    /// Fresh planner statistics for the tables a bulk load grows (see
    /// `refresh_stats_after_bulk` in common/tx/memberships.rs).
    pub const REFRESH_STATS: Option<&str> = Some("ANALYZE memberships");

    /// A bulk load sends its rows with `COPY … FROM STDIN` (text format):
    /// several times the rows a second of multi-row INSERTs.
    pub const COPY: bool = true;

    /// Runs `statement` (a `COPY … FROM STDIN`) with `data` as its input.
    pub async fn copy_in(c: &mut sqlx::PgConnection, statement: &str, data: Vec<u8>) -> Result<(), sqlx::Error> {
        let mut copy = c.copy_in_raw(statement).await?;
        copy.send(data).await?;
        copy.finish().await?;
        Ok(())
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

pub struct PgStore {
    pool: PgPool,
    /// The connection that listens for `roster_events`, opened on first
    /// wait and dropped (to be opened again) when it fails.
    listener: tokio::sync::Mutex<Option<PgListener>>,
}

/// The channel every numbering of events notifies (`number_events`).
const EVENTS_CHANNEL: &str = "roster_events";

impl PgStore {
    /// Connects to `url` and applies migrations. Several servers starting at
    /// once are safe: sqlx's migrator holds a PostgreSQL advisory lock while
    /// it migrates, so one applies and the others find it done.
    pub async fn open(url: &str) -> Result<Self, ConnectError> {
        let options = PgConnectOptions::from_str(url)?;
        let size = std::thread::available_parallelism().map_or(8, |n| n.get() as u32 * 4).max(8);
        let pool = PgPoolOptions::new()
            .max_connections(size)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        migrations::migrator(migrations::POSTGRES).await?.run(&pool).await?;
        Ok(Self { pool, listener: tokio::sync::Mutex::new(None) })
    }

    async fn listen(&self) -> Result<PgListener, sqlx::Error> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(EVENTS_CHANNEL).await?;
        Ok(listener)
    }
}

#[async_trait]
impl Store for PgStore {
    fn schema_version(&self) -> i64 {
        crate::migrations::POSTGRES.last_version()
    }

    async fn read(&self) -> StoreResult<Box<dyn Tx>> {
        Ok(Box::new(tx::SqlTx::begin(&self.pool, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", false).await?))
    }

    async fn read_single(&self) -> StoreResult<Box<dyn Tx>> {
        Ok(Box::new(tx::SqlTx::single(&self.pool).await?))
    }

    async fn write(&self) -> StoreResult<Box<dyn Tx>> {
        Ok(Box::new(tx::SqlTx::begin(&self.pool, "BEGIN ISOLATION LEVEL READ COMMITTED", true).await?))
    }

    /// Waits for a `roster_events` notification (every numbering of events
    /// sends one), draining any others already queued so that a burst
    /// wakes the follower once. A broken listener is dropped and reopened
    /// on the next wait; meanwhile the follower polls. A wait that times
    /// out numbers the inbox's leftovers: the events of a writer that
    /// committed and then died before numbering them.
    async fn wait_for_change(&self, timeout: Duration) {
        if self.wait_for_notification(timeout).await {
            return;
        }
        if let Err(e) = tx::events::number_events(&self.pool, None).await {
            tracing::warn!(error = %e, "numbering the event inbox's leftovers failed; trying again on the next wait");
        }
    }
}

impl PgStore {
    /// True when a notification came before `timeout`.
    async fn wait_for_notification(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut slot = self.listener.lock().await;
        if slot.is_none() {
            match self.listen().await {
                Ok(listener) => *slot = Some(listener),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for events; following the log by polling");
                    drop(slot);
                    tokio::time::sleep_until(deadline).await;
                    return false;
                }
            }
        }
        let Some(listener) = slot.as_mut() else { return false };
        match tokio::time::timeout_at(deadline, listener.recv()).await {
            Err(_) => false,
            Ok(Ok(_)) => {
                while listener.next_buffered().is_some() {}
                true
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "event listener failed; reconnecting on the next wait");
                *slot = None;
                false
            }
        }
    }
}
