//! Every `Tx` method as SQL, shared by every SQL backend: a child module of
//! each backend (`crate::sqlite`, `crate::postgres`), which defines `Db`
//! (the sqlx database type) and `dialect` (the few fragments that differ).
//! It knows nothing of vendors or HTTP and makes no authorization decision.

mod access;
mod catalog;
pub(crate) mod events;
mod groups;
mod memberships;
mod users;
mod webhooks;

use async_trait::async_trait;
use roster_core::store::prelude::*;
use roster_core::store::{Counter, ListSpec, NumKind, StoreResult};
use roster_core::*;
use sqlx::{QueryBuilder, Row, Transaction};
use uuid::Uuid;

use super::rows::{self, ts};
use super::{Db, dialect};
use crate::error::map;

type DbRow = <Db as sqlx::Database>::Row;

/// Rows per multi-row statement: well under both backends' bind limits.
const CHUNK: usize = 500;

/// The groups a user is in at any depth: the ancestors (reflexive
/// included) of their direct groups, ending in `m.user_id` for the caller to
/// compare (`= $1`, `IN (…)`). No table holds these pairs: they are a probe
/// of the user's few direct memberships (`memberships_user_pair`) joined to
/// `group_closure`'s `(descendant, ancestor)` index.
const USER_GROUPS_AT_ANY_DEPTH: &str =
    "SELECT c.ancestor FROM memberships m JOIN group_closure c ON c.descendant = m.group_id WHERE m.user_id";

/// The `num` of each row a multi-row INSERT returned (`id`, `num`), in
/// the order of `ids` (RETURNING promises no order).
fn nums_in_order(rows: &[DbRow], ids: impl Iterator<Item = Uuid>) -> StoreResult<Vec<i64>> {
    let mut by_id = std::collections::HashMap::with_capacity(rows.len());
    for row in rows {
        let id: Uuid = row.try_get("id").map_err(map)?;
        let num: i64 = row.try_get("num").map_err(map)?;
        by_id.insert(id, num);
    }
    ids.map(|id| by_id.get(&id).copied().ok_or_else(|| StoreError::Other(format!("no row came back for {id}"))))
        .collect()
}

/// Pushes `(SELECT column1 FROM (VALUES ($1), ($2), …) AS k)`, the right
/// side of an `IN` over many bound values. PostgreSQL runs a long list of
/// bound values as `= ANY(array)`, tested row by row against the whole
/// array when it chooses a scan (as it does while a table's statistics are
/// stale, in a bulk import); a VALUES list is a relation it joins instead.
fn push_in_values<T>(qb: &mut QueryBuilder<Db>, values: impl IntoIterator<Item = T>)
where
    T: for<'t> sqlx::Encode<'t, Db> + sqlx::Type<Db>,
{
    qb.push("(SELECT column1 FROM (VALUES ");
    let mut first = true;
    for v in values {
        qb.push(if first { "(" } else { ", (" });
        qb.push_bind(v);
        qb.push(")");
        first = false;
    }
    qb.push(") AS k)");
}

fn first_num(nums: Vec<i64>) -> StoreResult<i64> {
    nums.into_iter().next().ok_or_else(|| StoreError::Other("the insert returned no row".into()))
}

/// The time a change is stamped with where no entity supplies one.
fn now_utc() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}
type Q<'q> = sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments>;

/// What a [`SqlTx`] talks through: a transaction, or for a read of one
/// statement a bare connection, where that statement commits by itself and
/// no BEGIN or ROLLBACK costs a round trip to the database.
pub(crate) enum Conn {
    Tx(Transaction<'static, Db>),
    Single(sqlx::pool::PoolConnection<Db>),
}

impl std::ops::Deref for Conn {
    type Target = <Db as sqlx::Database>::Connection;

    fn deref(&self) -> &Self::Target {
        match self {
            Conn::Tx(tx) => tx,
            Conn::Single(c) => c,
        }
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self {
            Conn::Tx(tx) => tx,
            Conn::Single(c) => c,
        }
    }
}

pub(crate) struct SqlTx {
    tx: Conn,
    /// Where the connection came from: events are numbered on another
    /// connection after the commit (see [`events::number_events`]).
    pool: sqlx::Pool<Db>,
    /// Rows read in a write transaction are locked until it ends (where the
    /// backend has row locks), so read-modify-write use-cases cannot lose
    /// an update.
    write: bool,
    /// Table totals moved by this transaction, written at commit.
    counters: std::collections::BTreeMap<&'static str, i64>,
    /// Events appended by this transaction, written at commit.
    events: Vec<NewEvent>,
    /// Membership indexes dropped for a bulk load, as the statements that
    /// make them again (see `begin_bulk_memberships`): made again before
    /// the commit at the latest.
    deferred_indexes: Vec<String>,
}

impl SqlTx {
    /// Opens a transaction with `statement` (a `BEGIN …`).
    ///
    /// The BEGIN runs in a task of its own. sqlx counts a transaction as
    /// open only once the server has answered its BEGIN; if the awaiting
    /// future is dropped in between (a client hanging up), the connection
    /// goes back to the pool inside a transaction nobody will end, and the
    /// next use of it inherits that transaction. A detached task always
    /// finishes the BEGIN, and dropping its result rolls back cleanly.
    pub(crate) async fn begin(pool: &sqlx::Pool<Db>, statement: &'static str, write: bool) -> StoreResult<Self> {
        let begin_on = pool.clone();
        let tx = tokio::spawn(async move { begin_on.begin_with(statement).await })
            .await
            .map_err(|e| StoreError::Other(format!("begin task failed: {e}")))?
            .map_err(map)?;
        Ok(Self {
            tx: Conn::Tx(tx),
            pool: pool.clone(),
            write,
            counters: Default::default(),
            events: Vec::new(),
            deferred_indexes: Vec::new(),
        })
    }

    /// A connection for a read of one statement, outside any transaction.
    pub(crate) async fn single(pool: &sqlx::Pool<Db>) -> StoreResult<Self> {
        Ok(Self {
            tx: Conn::Single(pool.acquire().await.map_err(map)?),
            pool: pool.clone(),
            write: false,
            counters: Default::default(),
            events: Vec::new(),
            deferred_indexes: Vec::new(),
        })
    }

    fn lock(&self) -> &'static str {
        if self.write { dialect::LOCK_ROWS } else { "" }
    }

    /// Moves a table total. The counter rows are shared by every writer,
    /// so the change is kept here and written at commit (see
    /// [`write_shared_rows`]): no writer holds a counter row while it waits
    /// for anything else.
    async fn bump(&mut self, counter: &'static str, delta: i64) -> StoreResult<()> {
        *self.counters.entry(counter).or_default() += delta;
        Ok(())
    }

    async fn fetch_optional<T>(&mut self, q: Q<'_>, f: fn(&DbRow) -> StoreResult<T>) -> StoreResult<Option<T>> {
        q.fetch_optional(&mut *self.tx).await.map_err(map)?.as_ref().map(f).transpose()
    }

    async fn fetch_all<T>(&mut self, q: Q<'_>, f: fn(&DbRow) -> StoreResult<T>) -> StoreResult<Vec<T>> {
        q.fetch_all(&mut *self.tx).await.map_err(map)?.iter().map(f).collect()
    }

    async fn build_all<T>(&mut self, mut qb: QueryBuilder<Db>, f: fn(&DbRow) -> StoreResult<T>) -> StoreResult<Vec<T>> {
        qb.build().fetch_all(&mut *self.tx).await.map_err(map)?.iter().map(f).collect()
    }

    async fn build_count(&mut self, mut qb: QueryBuilder<Db>) -> StoreResult<i64> {
        qb.build().fetch_one(&mut *self.tx).await.map_err(map)?.try_get(0).map_err(map)
    }

    async fn exec(&mut self, q: Q<'_>) -> StoreResult<u64> {
        Ok(q.execute(&mut *self.tx).await.map_err(map)?.rows_affected())
    }

    async fn scalar(&mut self, q: Q<'_>) -> StoreResult<i64> {
        q.fetch_one(&mut *self.tx).await.map_err(map)?.try_get(0).map_err(map)
    }
}

/// Appends the name filters and keyset position of `spec` to a query whose
/// sort key column is `key_col` (already case-folded) and ends in a WHERE
/// clause, then the order and limit.
fn push_list(qb: &mut QueryBuilder<Db>, spec: &ListSpec, key_col: &str, page: bool) {
    push_list_ordered(qb, spec, key_col, page.then_some(""));
}

/// As [`push_list`], paging in `order` (an ORDER BY list; empty means the
/// keyset order `key_col, num`) when given, counting when `None`.
fn push_list_ordered(qb: &mut QueryBuilder<Db>, spec: &ListSpec, key_col: &str, order: Option<&str>) {
    if let Some(p) = &spec.prefix {
        qb.push(format!(" AND {key_col} >= ")).push_bind(p.clone());
        qb.push(format!(" AND {key_col} < ")).push_bind(format!("{p}\u{10FFFF}"));
    }
    if let Some(q) = &spec.contains {
        qb.push(format!(" AND {}({key_col}, ", dialect::POSITION_FN)).push_bind(q.clone()).push(") > 0");
    }
    let Some(order) = order else { return };
    let keyset_order = order.is_empty() || order.starts_with(&format!("{key_col} ASC"));
    if let (Some(k), true) = (&spec.after, keyset_order) {
        qb.push(format!(" AND ({key_col}, num) > (")).push_bind(k.key.clone()).push(", ").push_bind(k.num).push(")");
    }
    let order = if order.is_empty() { format!("{key_col}, num") } else { order.to_owned() };
    qb.push(format!(" ORDER BY {order} LIMIT ")).push_bind(spec.limit as i64);
    push_offset(qb, spec.after.is_none().then_some(spec.offset));
}

/// `OFFSET n` for clients that page by number. It costs a scan of the rows
/// skipped; keyset cursors do not.
fn push_offset(qb: &mut QueryBuilder<Db>, offset: Option<u64>) {
    if let Some(n) = offset.filter(|n| *n > 0) {
        qb.push(" OFFSET ").push_bind(i64::try_from(n).unwrap_or(i64::MAX));
    }
}

fn list_query(cols: &str, table: &str, key_col: &str, spec: &ListSpec) -> QueryBuilder<Db> {
    let mut qb = QueryBuilder::new(format!("SELECT {cols} FROM {table} WHERE 1 = 1"));
    push_list(&mut qb, spec, key_col, true);
    qb
}

fn num_table(kind: NumKind) -> &'static str {
    match kind {
        NumKind::User => "users",
        NumKind::Group => "groups",
        NumKind::Role => "roles",
        NumKind::Organization => "organizations",
        NumKind::Membership => "memberships",
    }
}

fn counter_name(c: Counter) -> &'static str {
    match c {
        Counter::Users => "users",
        Counter::Groups => "groups",
        Counter::Roles => "roles",
        Counter::Organizations => "organizations",
        Counter::Projects => "projects",
        Counter::Keys => "keys",
        Counter::Events => "events",
    }
}

/// The last statements of a write transaction, just before its COMMIT:
/// the rows every writer shares (the table totals, in name order, then the
/// events), so a writer takes them only once it holds every other lock it
/// needs, and keeps them for the moment of its commit, not for its whole
/// transaction. Returns what [`events::insert_events`] does.
async fn write_shared_rows(
    conn: &mut <Db as sqlx::Database>::Connection,
    counters: &std::collections::BTreeMap<&'static str, i64>,
    events: &[NewEvent],
) -> StoreResult<Option<i64>> {
    for (name, delta) in counters.iter().filter(|(_, d)| **d != 0) {
        sqlx::query("UPDATE counters SET value = value + $1 WHERE name = $2")
            .bind(*delta)
            .bind(*name)
            .execute(&mut *conn)
            .await
            .map_err(map)?;
    }
    if events.is_empty() {
        return Ok(None);
    }
    events::insert_events(conn, events).await
}

#[async_trait]
impl Tx for SqlTx {
    /// Writes the shared rows ([`write_shared_rows`]), commits, then has
    /// the events numbered where they went to the inbox, so that the log
    /// holds them before the write is answered. Detached like `begin`: once
    /// a use-case commits, these statements and the COMMIT run to the end
    /// even if the request that asked for it goes away.
    ///
    /// A numbering that fails does not fail the write, which has committed:
    /// the events wait in the inbox for the next numbering (any write, or
    /// any server's follower within its poll), and until then this server's
    /// index, and so its reads, lag behind the write.
    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        self.end_bulk_memberships().await?;
        let SqlTx { tx, pool, counters, events, .. } = *self;
        let Conn::Tx(mut tx) = tx else { return Ok(()) };
        tokio::spawn(async move {
            let inboxed = write_shared_rows(&mut tx, &counters, &events).await?;
            tx.commit().await.map_err(map)?;
            if let Some(upto) = inboxed
                && let Err(e) = events::number_events(&pool, Some(upto)).await
            {
                tracing::warn!(error = %e, "numbering a committed write's events failed; a later numbering will");
            }
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Other(format!("commit task failed: {e}")))?
    }

    async fn lock_graph(&mut self) -> StoreResult<()> {
        if let Some(sql) = dialect::LOCK_GRAPH {
            self.exec(sqlx::query(sql)).await?;
        }
        Ok(())
    }

    /// The total as committed, plus what this transaction moved so far.
    async fn count(&mut self, counter: Counter) -> StoreResult<i64> {
        let name = counter_name(counter);
        let pending = self.counters.get(name).copied().unwrap_or(0)
            + if counter == Counter::Events { self.events.len() as i64 } else { 0 };
        let value = self.scalar(sqlx::query("SELECT value FROM counters WHERE name = $1").bind(name)).await?;
        Ok(value + pending)
    }

    async fn id_by_num(&mut self, kind: NumKind, num: i64) -> StoreResult<Option<Uuid>> {
        let sql = format!("SELECT id FROM {} WHERE num = $1", num_table(kind));
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(num).fetch_optional(&mut *self.tx).await.map_err(map)?;
        row.map(|r| r.try_get::<Uuid, _>(0).map_err(map)).transpose()
    }

    async fn nums_of(&mut self, kind: NumKind, ids: &[Uuid]) -> StoreResult<Vec<(Uuid, i64)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::new(format!("SELECT id, num FROM {} WHERE id IN (", num_table(kind)));
        let mut sep = qb.separated(", ");
        for id in ids {
            sep.push_bind(*id);
        }
        qb.push(")");
        let rows = qb.build().fetch_all(&mut *self.tx).await.map_err(map)?;
        rows.iter().map(|r| Ok((r.try_get::<Uuid, _>(0).map_err(map)?, r.try_get::<i64, _>(1).map_err(map)?))).collect()
    }
}
