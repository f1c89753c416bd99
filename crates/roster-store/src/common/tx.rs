//! Every `Tx` method as SQL, shared by every SQL backend: a child module of
//! each backend (`crate::sqlite`, `crate::postgres`), which defines `Db`
//! (the sqlx database type) and `dialect` (the few fragments that differ).
//! It knows nothing of vendors or HTTP and makes no authorization decision.

use async_trait::async_trait;
use roster_core::authz::GroupAccess;
use roster_core::store::prelude::*;
use roster_core::store::{Counter, GroupOrder, GroupScope, ListSpec, NumKind, RoleMatch, StoreResult, UserFilter};
use roster_core::validate::fold;
use roster_core::*;
use sqlx::{QueryBuilder, Row, Transaction};
use uuid::Uuid;

use super::rows::{self, ts};
use super::{Db, dialect};
use crate::error::map;

type DbRow = <Db as sqlx::Database>::Row;

/// Rows per multi-row statement: well under both backends' bind limits.
const CHUNK: usize = 500;

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

/// Rows keyed by the change each one takes, regrouped by that change, so a
/// counter update is one statement per distinct change, not one per row.
fn by_delta<D: Ord>(changes: impl IntoIterator<Item = (Uuid, D)>) -> std::collections::BTreeMap<D, Vec<Uuid>> {
    let mut out: std::collections::BTreeMap<D, Vec<Uuid>> = Default::default();
    for (id, delta) in changes {
        out.entry(delta).or_default().push(id);
    }
    out
}

/// A write of at least this many memberships is a bulk load.
const BULK_ROWS: usize = 1000;

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
    /// Rows read in a write transaction are locked until it ends (where the
    /// backend has row locks), so read-modify-write use-cases cannot lose
    /// an update.
    write: bool,
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
        let pool = pool.clone();
        let tx = tokio::spawn(async move { pool.begin_with(statement).await })
            .await
            .map_err(|e| StoreError::Other(format!("begin task failed: {e}")))?
            .map_err(map)?;
        Ok(Self { tx: Conn::Tx(tx), write })
    }

    /// A connection for a read of one statement, outside any transaction.
    pub(crate) async fn single(pool: &sqlx::Pool<Db>) -> StoreResult<Self> {
        Ok(Self { tx: Conn::Single(pool.acquire().await.map_err(map)?), write: false })
    }

    fn lock(&self) -> &'static str {
        if self.write { dialect::LOCK_ROWS } else { "" }
    }

    async fn bump(&mut self, counter: &str, delta: i64) -> StoreResult<()> {
        sqlx::query("UPDATE counters SET value = value + $1 WHERE name = $2")
            .bind(delta)
            .bind(counter)
            .execute(&mut *self.tx)
            .await
            .map_err(map)?;
        Ok(())
    }

    /// Closure upkeep for a new nesting edge `parent → child`: every
    /// ancestor of `parent` now reaches every descendant of `child` by
    /// (paths to parent) × (paths from child) more paths, and holds every
    /// user under `child` by as many more.
    async fn closure_add_edge(&mut self, parent: GroupId, child: GroupId) -> StoreResult<()> {
        self.exec(
            sqlx::query(
                "INSERT INTO group_closure (ancestor, descendant, paths) \
                 SELECT a.ancestor, d.descendant, SUM(a.paths * d.paths) FROM group_closure a, group_closure d \
                 WHERE a.descendant = $1 AND d.ancestor = $2 GROUP BY a.ancestor, d.descendant \
                 ON CONFLICT (ancestor, descendant) DO UPDATE SET paths = group_closure.paths + excluded.paths",
            )
            .bind(parent.0)
            .bind(child.0),
        )
        .await?;
        self.exec(
            sqlx::query(
                "INSERT INTO user_closure (group_id, user_id, user_num, paths) \
                 SELECT a.ancestor, uc.user_id, uc.user_num, SUM(a.paths * uc.paths) FROM group_closure a, user_closure uc \
                 WHERE a.descendant = $1 AND uc.group_id = $2 GROUP BY a.ancestor, uc.user_id, uc.user_num \
                 ON CONFLICT (group_id, user_num) DO UPDATE SET paths = user_closure.paths + excluded.paths",
            )
            .bind(parent.0)
            .bind(child.0),
        )
        .await?;
        Ok(())
    }

    /// Closure upkeep for a removed nesting edge: the exact inverse of
    /// [`Self::closure_add_edge`]; rows whose path count falls to zero go.
    /// (In a DAG no row this reads is one it changes: those would need a
    /// path from `child` back to `parent`.)
    async fn closure_remove_edge(&mut self, parent: GroupId, child: GroupId) -> StoreResult<()> {
        self.exec(
            sqlx::query(
                "UPDATE user_closure SET paths = paths - \
                 (SELECT a.paths FROM group_closure a WHERE a.ancestor = user_closure.group_id AND a.descendant = $1) * \
                 (SELECT uc.paths FROM user_closure uc WHERE uc.group_id = $2 AND uc.user_id = user_closure.user_id) \
                 WHERE group_id IN (SELECT ancestor FROM group_closure WHERE descendant = $1) \
                 AND user_id IN (SELECT user_id FROM user_closure WHERE group_id = $2)",
            )
            .bind(parent.0)
            .bind(child.0),
        )
        .await?;
        self.exec(
            sqlx::query(
                "DELETE FROM user_closure WHERE paths <= 0 \
                 AND group_id IN (SELECT ancestor FROM group_closure WHERE descendant = $1) \
                 AND user_id IN (SELECT user_id FROM user_closure WHERE group_id = $2)",
            )
            .bind(parent.0)
            .bind(child.0),
        )
        .await?;
        self.exec(
            sqlx::query(
                "UPDATE group_closure SET paths = paths - \
                 (SELECT a.paths FROM group_closure a WHERE a.ancestor = group_closure.ancestor AND a.descendant = $1) * \
                 (SELECT d.paths FROM group_closure d WHERE d.ancestor = $2 AND d.descendant = group_closure.descendant) \
                 WHERE ancestor IN (SELECT ancestor FROM group_closure WHERE descendant = $1) \
                 AND descendant IN (SELECT descendant FROM group_closure WHERE ancestor = $2)",
            )
            .bind(parent.0)
            .bind(child.0),
        )
        .await?;
        self.exec(
            sqlx::query(
                "DELETE FROM group_closure WHERE paths <= 0 \
                 AND ancestor IN (SELECT ancestor FROM group_closure WHERE descendant = $1)",
            )
            .bind(parent.0),
        )
        .await?;
        Ok(())
    }

    /// Closure upkeep for new user memberships: each user is now in every
    /// ancestor of the group joined, by as many more paths as lead there.
    async fn closure_add_users(&mut self, memberships: &[MembershipId]) -> StoreResult<()> {
        for chunk in memberships.chunks(CHUNK) {
            let mut qb = QueryBuilder::new(
                "INSERT INTO user_closure (group_id, user_id, user_num, paths) \
                 SELECT c.ancestor, m.user_id, u.num, SUM(c.paths) \
                 FROM memberships m, users u, group_closure c \
                 WHERE u.id = m.user_id AND c.descendant = m.group_id AND m.id IN ",
            );
            push_in_values(&mut qb, chunk.iter().map(|id| id.0));
            qb.push(
                " GROUP BY c.ancestor, m.user_id, u.num \
                 ON CONFLICT (group_id, user_num) DO UPDATE SET paths = user_closure.paths + excluded.paths",
            );
            qb.build().execute(&mut *self.tx).await.map_err(map)?;
        }
        Ok(())
    }

    /// Closure upkeep for a removed user membership (the inverse of
    /// [`Self::closure_add_users`] for one).
    async fn closure_remove_user(&mut self, group: GroupId, user: UserId) -> StoreResult<()> {
        self.exec(
            sqlx::query(
                "UPDATE user_closure SET paths = paths - \
                 (SELECT c.paths FROM group_closure c WHERE c.ancestor = user_closure.group_id AND c.descendant = $1) \
                 WHERE user_id = $2 AND group_id IN (SELECT ancestor FROM group_closure WHERE descendant = $1)",
            )
            .bind(group.0)
            .bind(user.0),
        )
        .await?;
        self.exec(sqlx::query("DELETE FROM user_closure WHERE user_id = $1 AND paths <= 0").bind(user.0)).await?;
        Ok(())
    }

    /// During a bulk load, at most every `STATS_EVERY` in this process:
    /// PostgreSQL plans the import's pair lookups from statistics taken when
    /// the tables were small, and with them chose a hash join over a scan of
    /// every membership (230 ms per 500 pairs at 10^6 rows, 3.5 ms after an
    /// ANALYZE). Autovacuum's analyze lags a table growing this fast.
    async fn refresh_stats_after_bulk(&mut self) -> StoreResult<()> {
        static LAST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        const STATS_EVERY: u64 = 10;
        let Some(sql) = dialect::REFRESH_STATS else { return Ok(()) };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let last = LAST.load(std::sync::atomic::Ordering::Relaxed);
        if now < last + STATS_EVERY
            || LAST
                .compare_exchange(last, now, std::sync::atomic::Ordering::Relaxed, std::sync::atomic::Ordering::Relaxed)
                .is_err()
        {
            return Ok(());
        }
        self.exec(sqlx::query(sql)).await.map(|_| ())
    }

    /// Adds each user's delta to their group count and moves their
    /// groups-changed stamp to `at` (always forwards): one statement per
    /// distinct delta, not per user.
    async fn moved_groups_of(&mut self, users: std::collections::BTreeMap<Uuid, i64>, at: i64) -> StoreResult<()> {
        for (delta, ids) in by_delta(users) {
            for chunk in ids.chunks(CHUNK) {
                let mut qb = QueryBuilder::new("UPDATE users SET n_groups = n_groups + ");
                qb.push_bind(delta);
                qb.push(format!(", groups_changed_at = {}(groups_changed_at + 1, ", dialect::GREATEST));
                qb.push_bind(at);
                qb.push(") WHERE id IN ");
                push_in_values(&mut qb, chunk.iter().copied());
                qb.build().execute(&mut *self.tx).await.map_err(map)?;
            }
        }
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

/// The range of a folded prefix on one column.
fn push_prefix(qb: &mut QueryBuilder<Db>, col: &str, prefix: &str) {
    qb.push(format!("({col} >= ")).push_bind(prefix.to_owned());
    qb.push(format!(" AND {col} < ")).push_bind(format!("{prefix}\u{10FFFF}")).push(")");
}

fn push_user_filter(qb: &mut QueryBuilder<Db>, filter: &UserFilter) {
    if let Some(p) = &filter.name_prefix {
        qb.push(" AND (");
        push_prefix(qb, "username_key", p);
        qb.push(" OR ");
        push_prefix(qb, "first_key", p);
        qb.push(" OR ");
        push_prefix(qb, "last_key", p);
        qb.push(" OR ");
        push_prefix(qb, "display_key", p);
        qb.push(")");
    }
    if let Some(q) = &filter.name_contains {
        qb.push(" AND (");
        for (i, col) in ["username_key", "first_key", "last_key", "display_key"].iter().enumerate() {
            if i > 0 {
                qb.push(" OR ");
            }
            qb.push(format!("{}({col}, ", dialect::POSITION_FN)).push_bind(q.clone()).push(") > 0");
        }
        qb.push(")");
    }
    if let Some(active) = filter.active {
        qb.push(" AND active = ").push_bind(active);
    }
    if let Some(external_id) = &filter.external_id {
        qb.push(" AND external_id = ").push_bind(external_id.clone());
    }
    if !filter.in_groups.is_empty() {
        qb.push(" AND id IN (SELECT user_id FROM memberships WHERE user_id IS NOT NULL AND group_id IN (");
        let mut sep = qb.separated(", ");
        for g in &filter.in_groups {
            sep.push_bind(g.0);
        }
        qb.push("))");
    }
    if !filter.roles.is_empty() {
        qb.push(" AND (");
        for (i, role) in filter.roles.iter().enumerate() {
            if i > 0 {
                qb.push(" OR ");
            }
            match role {
                RoleMatch::SiteAdmin => {
                    qb.push("site_role = 'admin'");
                }
                RoleMatch::Label { label, or_unlabelled } => {
                    qb.push("(site_role <> 'admin' AND (role_label = ").push_bind(label.clone());
                    if *or_unlabelled {
                        qb.push(" OR role_label IS NULL");
                    }
                    qb.push("))");
                }
            }
        }
        qb.push(")");
    }
}

fn list_query(cols: &str, table: &str, key_col: &str, spec: &ListSpec) -> QueryBuilder<Db> {
    let mut qb = QueryBuilder::new(format!("SELECT {cols} FROM {table} WHERE 1 = 1"));
    push_list(&mut qb, spec, key_col, true);
    qb
}

const VISIBLE_GROUPS: &str = " AND id IN (SELECT group_id FROM memberships WHERE user_id = $v \
     UNION SELECT group_id FROM shares WHERE user_id = $v \
     UNION SELECT s.group_id FROM shares s JOIN memberships m ON m.group_id = s.to_group WHERE m.user_id = $v)";

/// Appends `sql`, binding `user` wherever it says `$v`.
fn push_with_user(qb: &mut QueryBuilder<Db>, sql: &str, user: UserId) {
    let mut parts = sql.split("$v").peekable();
    while let Some(part) = parts.next() {
        qb.push(part);
        if parts.peek().is_some() {
            qb.push_bind(user.0);
        }
    }
}

fn push_scope(qb: &mut QueryBuilder<Db>, scope: &GroupScope) {
    if let Some(u) = scope.visible_to {
        push_with_user(qb, VISIBLE_GROUPS, u);
    }
    if let Some((u, level)) = scope.shared_with {
        push_with_user(
            qb,
            " AND id IN (SELECT group_id FROM shares WHERE (user_id = $v \
             OR to_group IN (SELECT group_id FROM memberships WHERE user_id = $v)) AND level >= ",
            u,
        );
        qb.push_bind(rows::level_num(level)).push(")");
    }
    if !scope.members_any.is_empty() {
        qb.push(" AND id IN (SELECT group_id FROM memberships WHERE user_id IN (");
        let mut sep = qb.separated(", ");
        for u in &scope.members_any {
            sep.push_bind(u.0);
        }
        qb.push("))");
    }
    if let Some(org) = scope.org {
        qb.push(" AND org_id = ").push_bind(org.0);
    }
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

fn member_cols(m: Member) -> (Option<Uuid>, Option<Uuid>) {
    match m {
        Member::User(u) => (Some(u.0), None),
        Member::Group(g) => (None, Some(g.0)),
    }
}

/// The `project_bindings` column that names this kind of principal.
fn principal_col(p: Grantee) -> &'static str {
    match p {
        Grantee::User(_) => "user_id",
        Grantee::Group(_) => "group_id",
    }
}

fn grantee_uuid(p: Grantee) -> Uuid {
    match p {
        Grantee::User(u) => u.0,
        Grantee::Group(g) => g.0,
    }
}

fn grantee_cols(g: Grantee) -> (Option<Uuid>, Option<Uuid>) {
    match g {
        Grantee::User(u) => (Some(u.0), None),
        Grantee::Group(g) => (None, Some(g.0)),
    }
}

#[async_trait]
impl Tx for SqlTx {
    /// Detached like `begin`: once a use-case commits, the COMMIT runs to
    /// the end even if the request that asked for it goes away.
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let Conn::Tx(tx) = self.tx else { return Ok(()) };
        tokio::spawn(async move { tx.commit().await })
            .await
            .map_err(|e| StoreError::Other(format!("commit task failed: {e}")))?
            .map_err(map)
    }

    async fn lock_graph(&mut self) -> StoreResult<()> {
        if let Some(sql) = dialect::LOCK_GRAPH {
            self.exec(sqlx::query(sql)).await?;
        }
        Ok(())
    }

    async fn count(&mut self, counter: Counter) -> StoreResult<i64> {
        self.scalar(sqlx::query("SELECT value FROM counters WHERE name = $1").bind(counter_name(counter))).await
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

#[async_trait]
impl EventStore for SqlTx {
    async fn append_event(&mut self, e: &NewEvent) -> StoreResult<i64> {
        self.append_events(std::slice::from_ref(e)).await
    }

    /// The sequence comes from the `events` counter row, which this update
    /// locks until commit: writers append one after another, so `seq` is
    /// gapless and in commit order, and a change-feed reader that has seen
    /// `seq = n` can never later find a smaller one appear.
    async fn append_events(&mut self, events: &[NewEvent]) -> StoreResult<i64> {
        let n = events.len() as i64;
        let last = self
            .scalar(sqlx::query("UPDATE counters SET value = value + $1 WHERE name = 'events' RETURNING value").bind(n))
            .await?;
        let first = last - n + 1;
        for (c, chunk) in events.chunks(CHUNK).enumerate() {
            let mut qb = QueryBuilder::new(
                "INSERT INTO events (seq, at, actor, action, target_type, target_id, before, after) ",
            );
            qb.push_values(chunk.iter().enumerate(), |mut b, (i, e)| {
                b.push_bind(first + (c * CHUNK + i) as i64)
                    .push_bind(ts(e.at))
                    .push_bind(e.actor.map(|a| a.0))
                    .push_bind(e.action)
                    .push_bind(e.target_type)
                    .push_bind(e.target_id.clone())
                    .push_bind(e.before.as_ref().map(|v| v.to_string()))
                    .push_bind(e.after.as_ref().map(|v| v.to_string()));
            });
            qb.build().execute(&mut *self.tx).await.map_err(map)?;
        }
        Ok(first)
    }

    async fn list_events(&mut self, after: i64, limit: u32) -> StoreResult<Vec<Event>> {
        let q = sqlx::query("SELECT * FROM events WHERE seq > $1 ORDER BY seq LIMIT $2").bind(after).bind(limit as i64);
        self.fetch_all(q, rows::event).await
    }
}

#[async_trait]
impl UserStore for SqlTx {
    async fn insert_user(&mut self, u: &User) -> StoreResult<i64> {
        first_num(self.insert_users(std::slice::from_ref(u)).await?)
    }

    async fn insert_users(&mut self, users: &[User]) -> StoreResult<Vec<i64>> {
        let mut nums = Vec::with_capacity(users.len());
        for chunk in users.chunks(CHUNK) {
            let mut qb = QueryBuilder::new(
                "INSERT INTO users (id, username, username_key, email, first_name, last_name, display_name, active, \
                 site_role, primary_group, external_id, attributes, created_at, updated_at, version, \
                 first_key, last_key, role_label, display_key, groups_changed_at) ",
            );
            qb.push_values(chunk, |mut b, u| {
                b.push_bind(u.id.0)
                    .push_bind(u.username.clone())
                    .push_bind(fold(&u.username))
                    .push_bind(u.email.clone())
                    .push_bind(u.first_name.clone())
                    .push_bind(u.last_name.clone())
                    .push_bind(u.display_name.clone())
                    .push_bind(u.active)
                    .push_bind(u.site_role.as_str())
                    .push_bind(u.primary_group.map(|g| g.0))
                    .push_bind(u.external_id.clone())
                    .push_bind(rows::json_text(&u.attributes))
                    .push_bind(ts(u.created_at))
                    .push_bind(ts(u.updated_at))
                    .push_bind(u.version)
                    .push_bind(u.first_name.as_deref().map(fold))
                    .push_bind(u.last_name.as_deref().map(fold))
                    .push_bind(u.role_label.clone())
                    .push_bind(u.display_name.as_deref().map(fold))
                    .push_bind(ts(u.groups_changed_at));
            });
            qb.push(" RETURNING id, num");
            let rows = qb.build().fetch_all(&mut *self.tx).await.map_err(map)?;
            nums.extend(nums_in_order(&rows, chunk.iter().map(|u| u.id.0))?);
        }
        self.bump("users", users.len() as i64).await?;
        Ok(nums)
    }

    async fn update_user(&mut self, u: &User) -> StoreResult<()> {
        let q = sqlx::query(
            "UPDATE users SET username = $1, username_key = $2, email = $3, first_name = $4, last_name = $5, \
             display_name = $6, active = $7, site_role = $8, primary_group = $9, external_id = $10, attributes = $11, \
             updated_at = $12, version = $13, first_key = $14, last_key = $15, role_label = $16, display_key = $17 WHERE id = $18",
        )
        .bind(&u.username)
        .bind(fold(&u.username))
        .bind(&u.email)
        .bind(&u.first_name)
        .bind(&u.last_name)
        .bind(&u.display_name)
        .bind(u.active)
        .bind(u.site_role.as_str())
        .bind(u.primary_group.map(|g| g.0))
        .bind(&u.external_id)
        .bind(rows::json_text(&u.attributes))
        .bind(ts(u.updated_at))
        .bind(u.version)
        .bind(u.first_name.as_deref().map(fold))
        .bind(u.last_name.as_deref().map(fold))
        .bind(&u.role_label)
        .bind(u.display_name.as_deref().map(fold))
        .bind(u.id.0);
        match self.exec(q).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    async fn delete_user(&mut self, id: UserId) -> StoreResult<()> {
        // Memberships go by cascade; the counters of their groups first.
        self.exec(
            sqlx::query(
                "UPDATE groups SET n_members = n_members - 1, \
                 n_admins = n_admins - (SELECT COUNT(*) FROM memberships m \
                     WHERE m.group_id = groups.id AND m.user_id = $1 AND m.role = 'admin') \
                 WHERE id IN (SELECT group_id FROM memberships WHERE user_id = $1)",
            )
            .bind(id.0),
        )
        .await?;
        let keys = self.scalar(sqlx::query("SELECT COUNT(*) FROM api_keys WHERE user_id = $1").bind(id.0)).await?;
        match self.exec(sqlx::query("DELETE FROM users WHERE id = $1").bind(id.0)).await? {
            0 => Err(StoreError::NotFound),
            _ => {
                self.bump("users", -1).await?;
                self.bump("keys", -keys).await
            }
        }
    }

    async fn set_password_hash(&mut self, id: UserId, hash: &str) -> StoreResult<()> {
        match self.exec(sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2").bind(hash).bind(id.0)).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    async fn get_user(&mut self, id: UserId) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {} FROM users WHERE id = $1{}", rows::USER_COLS, self.lock());
        self.fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.0), rows::user).await
    }

    async fn get_users(&mut self, ids: &[UserId]) -> StoreResult<Vec<User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::new(format!("SELECT {} FROM users WHERE id IN (", rows::USER_COLS));
        let mut sep = qb.separated(", ");
        for id in ids {
            sep.push_bind(id.0);
        }
        qb.push(")");
        self.build_all(qb, rows::user).await
    }

    async fn get_user_by_username(&mut self, username: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {} FROM users WHERE username_key = $1{}", rows::USER_COLS, self.lock());
        self.fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(fold(username)), rows::user).await
    }

    async fn get_users_by_usernames(&mut self, usernames: &[String]) -> StoreResult<Vec<User>> {
        let mut out = Vec::new();
        for chunk in usernames.chunks(CHUNK) {
            let mut qb = QueryBuilder::new(format!("SELECT {} FROM users WHERE username_key IN ", rows::USER_COLS));
            push_in_values(&mut qb, chunk.iter().map(|n| fold(n)));
            qb.push(self.lock());
            out.extend(self.build_all(qb, rows::user).await?);
        }
        Ok(out)
    }

    async fn list_users(&mut self, spec: &ListSpec, filter: &UserFilter) -> StoreResult<Vec<User>> {
        let mut qb = QueryBuilder::new(format!("SELECT {} FROM users WHERE 1 = 1", rows::USER_COLS));
        push_user_filter(&mut qb, filter);
        let order = if filter.descending { "username_key DESC, num DESC" } else { "" };
        push_list_ordered(&mut qb, spec, "username_key", Some(order));
        self.build_all(qb, rows::user).await
    }

    async fn count_users_matching(&mut self, spec: &ListSpec, filter: &UserFilter) -> StoreResult<i64> {
        let mut qb = QueryBuilder::new("SELECT COUNT(*) FROM users WHERE 1 = 1");
        push_user_filter(&mut qb, filter);
        push_list(&mut qb, spec, "username_key", false);
        self.build_count(qb).await
    }

    async fn count_site_admins(&mut self) -> StoreResult<i64> {
        self.scalar(sqlx::query("SELECT COUNT(*) FROM users WHERE site_role = 'admin' AND active = TRUE")).await
    }
}

#[async_trait]
impl GroupStore for SqlTx {
    async fn insert_group(&mut self, g: &Group) -> StoreResult<i64> {
        first_num(self.insert_groups(std::slice::from_ref(g)).await?)
    }

    async fn insert_groups(&mut self, groups: &[Group]) -> StoreResult<Vec<i64>> {
        let mut nums = Vec::with_capacity(groups.len());
        for chunk in groups.chunks(CHUNK) {
            let mut qb = QueryBuilder::new(
                "INSERT INTO groups (id, name, name_key, unique_id, slug, description, org_id, source_type, attributes, \
                 created_by, updated_by, created_at, updated_at, version) ",
            );
            qb.push_values(chunk, |mut b, g| {
                b.push_bind(g.id.0)
                    .push_bind(g.name.clone())
                    .push_bind(fold(&g.name))
                    .push_bind(g.unique_id.clone())
                    .push_bind(g.slug.clone())
                    .push_bind(g.description.clone())
                    .push_bind(g.org.0)
                    .push_bind(g.source_type.as_str())
                    .push_bind(rows::json_text(&g.attributes))
                    .push_bind(g.created_by.map(|u| u.0))
                    .push_bind(g.updated_by.map(|u| u.0))
                    .push_bind(ts(g.created_at))
                    .push_bind(ts(g.updated_at))
                    .push_bind(g.version);
            });
            qb.push(" RETURNING id, num");
            let rows = qb.build().fetch_all(&mut *self.tx).await.map_err(map)?;
            nums.extend(nums_in_order(&rows, chunk.iter().map(|g| g.id.0))?);
            let mut qb = QueryBuilder::new("INSERT INTO group_closure (ancestor, descendant, paths) ");
            qb.push_values(chunk, |mut b, g| {
                b.push_bind(g.id.0).push_bind(g.id.0).push_bind(1i64);
            });
            qb.build().execute(&mut *self.tx).await.map_err(map)?;
        }
        self.bump("groups", groups.len() as i64).await?;
        Ok(nums)
    }

    async fn update_group(&mut self, g: &Group) -> StoreResult<()> {
        let q = sqlx::query(
            "UPDATE groups SET name = $1, name_key = $2, unique_id = $3, slug = $4, description = $5, org_id = $6, \
             attributes = $7, updated_by = $8, updated_at = $9, version = $10 WHERE id = $11",
        )
        .bind(&g.name)
        .bind(fold(&g.name))
        .bind(&g.unique_id)
        .bind(&g.slug)
        .bind(&g.description)
        .bind(g.org.0)
        .bind(rows::json_text(&g.attributes))
        .bind(g.updated_by.map(|u| u.0))
        .bind(ts(g.updated_at))
        .bind(g.version)
        .bind(g.id.0);
        match self.exec(q).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    async fn delete_group(&mut self, id: GroupId) -> StoreResult<()> {
        // Paths through the group go with its parent edges; its own closure
        // rows go by cascade.
        let parents: Vec<Uuid> = sqlx::query_scalar("SELECT group_id FROM memberships WHERE child_id = $1")
            .bind(id.0)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map)?;
        for parent in parents {
            self.closure_remove_edge(GroupId(parent), id).await?;
        }
        // Counters of the rows that cascade: parents lose a child, members lose a group.
        self.exec(
            sqlx::query(
                "UPDATE groups SET n_children = n_children - 1 \
                 WHERE id IN (SELECT group_id FROM memberships WHERE child_id = $1)",
            )
            .bind(id.0),
        )
        .await?;
        self.exec(
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE users SET n_groups = n_groups - 1, groups_changed_at = {}(groups_changed_at + 1, $2) \
                 WHERE id IN (SELECT user_id FROM memberships WHERE group_id = $1 AND user_id IS NOT NULL)",
                dialect::GREATEST
            )))
            .bind(id.0)
            .bind(ts(now_utc())),
        )
        .await?;
        match self.exec(sqlx::query("DELETE FROM groups WHERE id = $1").bind(id.0)).await? {
            0 => Err(StoreError::NotFound),
            _ => self.bump("groups", -1).await,
        }
    }

    async fn get_group(&mut self, id: GroupId) -> StoreResult<Option<Group>> {
        let sql = format!("SELECT {} FROM groups WHERE id = $1{}", rows::GROUP_COLS, self.lock());
        self.fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.0), rows::group).await
    }

    async fn get_group_by_name(&mut self, name: &str) -> StoreResult<Option<Group>> {
        let sql = format!("SELECT {} FROM groups WHERE name_key = $1{}", rows::GROUP_COLS, self.lock());
        self.fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(fold(name)), rows::group).await
    }

    async fn get_groups_by_names(&mut self, names: &[String]) -> StoreResult<Vec<Group>> {
        let mut out = Vec::new();
        for chunk in names.chunks(CHUNK) {
            let mut qb = QueryBuilder::new(format!("SELECT {} FROM groups WHERE name_key IN ", rows::GROUP_COLS));
            push_in_values(&mut qb, chunk.iter().map(|n| fold(n)));
            qb.push(self.lock());
            out.extend(self.build_all(qb, rows::group).await?);
        }
        Ok(out)
    }

    async fn get_groups(&mut self, ids: &[GroupId]) -> StoreResult<Vec<Group>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::new(format!("SELECT {} FROM groups WHERE id IN (", rows::GROUP_COLS));
        let mut sep = qb.separated(", ");
        for id in ids {
            sep.push_bind(id.0);
        }
        qb.push(")");
        self.build_all(qb, rows::group).await
    }

    async fn get_group_by_unique_id(&mut self, unique_id: &str) -> StoreResult<Option<Group>> {
        let sql = format!("SELECT {} FROM groups WHERE unique_id = $1{}", rows::GROUP_COLS, self.lock());
        self.fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(unique_id.to_owned()), rows::group).await
    }

    async fn list_groups(&mut self, spec: &ListSpec, scope: &GroupScope) -> StoreResult<Vec<Group>> {
        let mut qb = QueryBuilder::new(format!("SELECT {} FROM groups WHERE 1 = 1", rows::GROUP_COLS));
        push_scope(&mut qb, scope);
        let dir = if scope.descending { "DESC" } else { "ASC" };
        let order = match scope.order {
            GroupOrder::Name => format!("name_key {dir}, num {dir}"),
            GroupOrder::Created => format!("num {dir}"),
        };
        push_list_ordered(&mut qb, spec, "name_key", Some(&order));
        self.build_all(qb, rows::group).await
    }

    async fn count_groups_matching(&mut self, spec: &ListSpec, scope: &GroupScope) -> StoreResult<i64> {
        let mut qb = QueryBuilder::new("SELECT COUNT(*) FROM groups WHERE 1 = 1");
        push_scope(&mut qb, scope);
        push_list(&mut qb, spec, "name_key", false);
        self.build_count(qb).await
    }

    async fn count_active_members(&mut self, groups: &[GroupId]) -> StoreResult<Vec<(GroupId, i64)>> {
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::new(
            "SELECT m.group_id, COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE u.active = TRUE AND m.group_id IN (",
        );
        let mut sep = qb.separated(", ");
        for g in groups {
            sep.push_bind(g.0);
        }
        qb.push(") GROUP BY m.group_id");
        let rows = qb.build().fetch_all(&mut *self.tx).await.map_err(map)?;
        let mut counts: Vec<(GroupId, i64)> = groups.iter().map(|g| (*g, 0)).collect();
        for row in rows {
            let id: Uuid = row.try_get(0).map_err(map)?;
            let n: i64 = row.try_get(1).map_err(map)?;
            if let Some(c) = counts.iter_mut().find(|(g, _)| g.0 == id) {
                c.1 = n;
            }
        }
        Ok(counts)
    }

    async fn group_access(&mut self, group: GroupId, user: UserId) -> StoreResult<GroupAccess> {
        let membership = self
            .fetch_optional(
                sqlx::query(
                    "SELECT num, id, group_id, user_id, child_id, role, permissions, created_at, updated_at \
                     FROM memberships WHERE group_id = $1 AND user_id = $2",
                )
                .bind(group.0)
                .bind(user.0),
                rows::membership,
            )
            .await?
            .map(|m| (m.role, m.permissions));
        let level: Option<i64> = sqlx::query(
            "SELECT MAX(level) FROM shares WHERE group_id = $1 AND (user_id = $2 OR to_group IN \
             (SELECT group_id FROM memberships WHERE user_id = $2))",
        )
        .bind(group.0)
        .bind(user.0)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map)?
        .try_get(0)
        .map_err(map)?;
        let share = level.map(rows::level_from).transpose()?;
        Ok(GroupAccess { membership, share })
    }

    async fn group_roles(&mut self, group: GroupId) -> StoreResult<Vec<Role>> {
        let q = sqlx::query(
            "SELECT r.* FROM group_roles gr JOIN roles r ON r.id = gr.role_id WHERE gr.group_id = $1 ORDER BY r.num",
        )
        .bind(group.0);
        self.fetch_all(q, rows::role).await
    }

    async fn grant_group_role(&mut self, group: GroupId, role: RoleId) -> StoreResult<bool> {
        let q = sqlx::query("INSERT INTO group_roles (group_id, role_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(group.0)
            .bind(role.0);
        Ok(self.exec(q).await? > 0)
    }

    async fn revoke_group_role(&mut self, group: GroupId, role: RoleId) -> StoreResult<bool> {
        let q = sqlx::query("DELETE FROM group_roles WHERE group_id = $1 AND role_id = $2").bind(group.0).bind(role.0);
        Ok(self.exec(q).await? > 0)
    }
}

#[async_trait]
impl MembershipStore for SqlTx {
    async fn insert_membership(&mut self, m: &Membership) -> StoreResult<i64> {
        first_num(self.insert_memberships(std::slice::from_ref(m)).await?)
    }

    /// Inserts the edges, then moves each touched group's and user's
    /// counters once, by the sum of its edges.
    async fn insert_memberships(&mut self, ms: &[Membership]) -> StoreResult<Vec<i64>> {
        let mut nums = Vec::with_capacity(ms.len());
        for chunk in ms.chunks(CHUNK) {
            let mut qb = QueryBuilder::new(
                "INSERT INTO memberships (id, group_id, user_id, child_id, role, permissions, created_at, updated_at) ",
            );
            qb.push_values(chunk, |mut b, m| {
                let (user, child) = member_cols(m.member);
                b.push_bind(m.id.0)
                    .push_bind(m.group.0)
                    .push_bind(user)
                    .push_bind(child)
                    .push_bind(m.role.as_str())
                    .push_bind(rows::permissions_text(&m.permissions))
                    .push_bind(ts(m.created_at))
                    .push_bind(ts(m.updated_at));
            });
            qb.push(" RETURNING id, num");
            let rows = qb.build().fetch_all(&mut *self.tx).await.map_err(map)?;
            nums.extend(nums_in_order(&rows, chunk.iter().map(|m| m.id.0))?);
        }
        // Per group: (members, admins, children) added.
        let mut groups: std::collections::BTreeMap<Uuid, (i64, i64, i64)> = Default::default();
        // Per user: groups joined.
        let mut users: std::collections::BTreeMap<Uuid, i64> = Default::default();
        let mut latest = 0;
        for m in ms {
            let entry = groups.entry(m.group.0).or_default();
            match m.member {
                Member::User(u) => {
                    entry.0 += 1;
                    entry.1 += i64::from(m.role == MemberRole::Admin);
                    *users.entry(u.0).or_default() += 1;
                }
                Member::Group(_) => entry.2 += 1,
            }
            latest = latest.max(ts(m.updated_at));
        }
        // One statement per distinct (members, admins, children) delta, not
        // per group: a batch spread over 10^5 groups touches thousands.
        for ((members, admins, children), ids) in by_delta(groups) {
            for chunk in ids.chunks(CHUNK) {
                let mut qb = QueryBuilder::new("UPDATE groups SET n_members = n_members + ");
                qb.push_bind(members);
                qb.push(", n_admins = n_admins + ");
                qb.push_bind(admins);
                qb.push(", n_children = n_children + ");
                qb.push_bind(children);
                qb.push(" WHERE id IN ");
                push_in_values(&mut qb, chunk.iter().copied());
                qb.build().execute(&mut *self.tx).await.map_err(map)?;
            }
        }
        self.moved_groups_of(users, latest).await?;
        if ms.len() >= BULK_ROWS {
            self.refresh_stats_after_bulk().await?;
        }
        let user_edges: Vec<MembershipId> =
            ms.iter().filter(|m| matches!(m.member, Member::User(_))).map(|m| m.id).collect();
        self.closure_add_users(&user_edges).await?;
        for m in ms {
            if let Member::Group(child) = m.member {
                self.closure_add_edge(m.group, child).await?;
            }
        }
        Ok(nums)
    }

    async fn update_membership(&mut self, m: &Membership) -> StoreResult<()> {
        let sql = format!("SELECT role FROM memberships WHERE id = $1{}", self.lock());
        let old: Option<String> = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(m.id.0)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map)?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(map)?;
        let old = old.ok_or(StoreError::NotFound)?;
        self.exec(
            sqlx::query("UPDATE memberships SET role = $1, permissions = $2, updated_at = $3 WHERE id = $4")
                .bind(m.role.as_str())
                .bind(rows::permissions_text(&m.permissions))
                .bind(ts(m.updated_at))
                .bind(m.id.0),
        )
        .await?;
        let delta = i64::from(m.role == MemberRole::Admin) - i64::from(old == "admin");
        if delta != 0 && matches!(m.member, Member::User(_)) {
            self.exec(
                sqlx::query("UPDATE groups SET n_admins = n_admins + $1 WHERE id = $2").bind(delta).bind(m.group.0),
            )
            .await?;
        }
        Ok(())
    }

    async fn delete_membership(&mut self, id: MembershipId) -> StoreResult<()> {
        let m = self.get_membership(id).await?.ok_or(StoreError::NotFound)?;
        match m.member {
            Member::User(u) => self.closure_remove_user(m.group, u).await?,
            Member::Group(child) => self.closure_remove_edge(m.group, child).await?,
        }
        let deleted = self.exec(sqlx::query("DELETE FROM memberships WHERE id = $1").bind(id.0)).await?;
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        match m.member {
            Member::User(u) => {
                let admin = i64::from(m.role == MemberRole::Admin);
                self.exec(
                    sqlx::query("UPDATE groups SET n_members = n_members - 1, n_admins = n_admins - $1 WHERE id = $2")
                        .bind(admin)
                        .bind(m.group.0),
                )
                .await?;
                self.exec(
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE users SET n_groups = n_groups - 1, \
                         groups_changed_at = {}(groups_changed_at + 1, $2) WHERE id = $1",
                        dialect::GREATEST
                    )))
                    .bind(u.0)
                    .bind(ts(now_utc())),
                )
                .await?;
            }
            Member::Group(_) => {
                self.exec(sqlx::query("UPDATE groups SET n_children = n_children - 1 WHERE id = $1").bind(m.group.0))
                    .await?;
            }
        }
        Ok(())
    }

    async fn get_membership(&mut self, id: MembershipId) -> StoreResult<Option<Membership>> {
        let sql = format!("SELECT {} FROM memberships WHERE id = $1{}", rows::MEMBERSHIP_COLS, self.lock());
        self.fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.0), rows::membership).await
    }

    async fn find_membership(&mut self, group: GroupId, member: Member) -> StoreResult<Option<Membership>> {
        let (col, id) = match member {
            Member::User(u) => ("user_id", u.0),
            Member::Group(g) => ("child_id", g.0),
        };
        let sql = format!(
            "SELECT {} FROM memberships WHERE group_id = $1 AND {col} = $2{}",
            rows::MEMBERSHIP_COLS,
            self.lock()
        );
        self.fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(group.0).bind(id), rows::membership).await
    }

    async fn find_user_memberships(&mut self, pairs: &[(GroupId, UserId)]) -> StoreResult<Vec<Membership>> {
        let mut out = Vec::new();
        for chunk in pairs.chunks(CHUNK) {
            // A join with the pairs, not `(group_id, user_id) IN (VALUES …)`:
            // SQLite plans that row-value IN as a scan of the whole table;
            // CROSS JOIN makes it walk the pairs and probe the unique key.
            let mut qb =
                QueryBuilder::new(format!("SELECT {} FROM (VALUES ", rows::qualified(rows::MEMBERSHIP_COLS, "m")));
            let mut sep = qb.separated(", ");
            for (g, u) in chunk {
                sep.push("(");
                sep.push_bind_unseparated(u.0);
                sep.push_unseparated(", ");
                sep.push_bind_unseparated(g.0);
                sep.push_unseparated(")");
            }
            qb.push(") AS k CROSS JOIN memberships m WHERE m.user_id = k.column1 AND m.group_id = k.column2");
            if !self.lock().is_empty() {
                qb.push(format!("{} OF m", self.lock()));
            }
            out.extend(self.build_all(qb, rows::membership).await?);
        }
        Ok(out)
    }

    async fn find_memberships(&mut self, group: GroupId, members: &[Member]) -> StoreResult<Vec<Membership>> {
        let users: Vec<Uuid> = members.iter().filter_map(|m| member_cols(*m).0).collect();
        let children: Vec<Uuid> = members.iter().filter_map(|m| member_cols(*m).1).collect();
        let mut out = Vec::with_capacity(members.len());
        for (col, ids) in [("user_id", users), ("child_id", children)] {
            if ids.is_empty() {
                continue;
            }
            let mut qb =
                QueryBuilder::new(format!("SELECT {} FROM memberships WHERE group_id = ", rows::MEMBERSHIP_COLS));
            qb.push_bind(group.0).push(format!(" AND {col} IN ("));
            let mut sep = qb.separated(", ");
            for id in ids {
                sep.push_bind(id);
            }
            qb.push(")");
            qb.push(self.lock());
            out.extend(self.build_all(qb, rows::membership).await?);
        }
        Ok(out)
    }

    async fn group_member_refs(&mut self, group: GroupId) -> StoreResult<Vec<Member>> {
        // One branch per partial index (users, children): a predicate-less
        // `WHERE group_id = $1` can use neither and scans the table.
        let q = sqlx::query(
            "SELECT user_id, child_id, num FROM memberships WHERE group_id = $1 AND user_id IS NOT NULL \
             UNION ALL \
             SELECT user_id, child_id, num FROM memberships WHERE group_id = $1 AND child_id IS NOT NULL \
             ORDER BY num",
        )
        .bind(group.0);
        self.fetch_all(q, rows::member_ref).await
    }

    async fn list_group_memberships(
        &mut self,
        group: GroupId,
        children: bool,
        after: i64,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<Membership>> {
        let col = if children { "child_id" } else { "user_id" };
        let mut qb = QueryBuilder::new(format!("SELECT {} FROM memberships WHERE group_id = ", rows::MEMBERSHIP_COLS));
        qb.push_bind(group.0).push(format!(" AND {col} IS NOT NULL AND num > ")).push_bind(after);
        qb.push(" ORDER BY num LIMIT ").push_bind(limit as i64);
        push_offset(&mut qb, (after == 0).then_some(offset));
        self.build_all(qb, rows::membership).await
    }

    async fn list_user_memberships(
        &mut self,
        user: UserId,
        after: i64,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<Membership>> {
        let mut qb = QueryBuilder::new(format!("SELECT {} FROM memberships WHERE user_id = ", rows::MEMBERSHIP_COLS));
        qb.push_bind(user.0).push(" AND num > ").push_bind(after);
        qb.push(" ORDER BY num LIMIT ").push_bind(limit as i64);
        push_offset(&mut qb, (after == 0).then_some(offset));
        self.build_all(qb, rows::membership).await
    }

    async fn count_user_memberships(&mut self, user: UserId) -> StoreResult<i64> {
        self.scalar(sqlx::query("SELECT n_groups FROM users WHERE id = $1").bind(user.0)).await
    }

    async fn group_reaches(&mut self, from: GroupId, to: GroupId) -> StoreResult<bool> {
        let q = sqlx::query("SELECT COUNT(*) FROM group_closure WHERE ancestor = $1 AND descendant = $2")
            .bind(from.0)
            .bind(to.0);
        Ok(self.scalar(q).await? != 0)
    }

    async fn in_group_transitively(&mut self, group: GroupId, user: UserId) -> StoreResult<bool> {
        let q = sqlx::query("SELECT COUNT(*) FROM user_closure WHERE group_id = $1 AND user_id = $2")
            .bind(group.0)
            .bind(user.0);
        Ok(self.scalar(q).await? != 0)
    }

    async fn membership_path(&mut self, group: GroupId, user: UserId) -> StoreResult<Vec<GroupId>> {
        // One statement, however deep: the user's first direct group under
        // `group`, then from `group` down, at each level the first child
        // that still reaches it. The depth bound only guards a broken index.
        let q = sqlx::query_scalar::<_, Uuid>(
            "WITH RECURSIVE \
             direct (id) AS ( \
                 SELECT m.group_id FROM memberships m, group_closure c \
                 WHERE m.user_id = $2 AND c.ancestor = $1 AND c.descendant = m.group_id ORDER BY m.num LIMIT 1), \
             walk (at, depth) AS ( \
                 SELECT g.id, 0 FROM groups g, direct WHERE g.id = $1 \
                 UNION ALL \
                 SELECT (SELECT m.child_id FROM memberships m, group_closure c \
                         WHERE m.group_id = walk.at AND c.ancestor = m.child_id \
                         AND c.descendant = (SELECT id FROM direct) ORDER BY m.num LIMIT 1), \
                        walk.depth + 1 \
                 FROM walk WHERE walk.at <> (SELECT id FROM direct) AND walk.depth < 10000) \
             SELECT at FROM walk WHERE at IS NOT NULL ORDER BY depth",
        )
        .bind(group.0)
        .bind(user.0);
        Ok(q.fetch_all(&mut *self.tx).await.map_err(map)?.into_iter().map(GroupId).collect())
    }

    async fn list_members_transitively(&mut self, group: GroupId, after: i64, limit: u32) -> StoreResult<Vec<User>> {
        let cols = rows::qualified(rows::USER_COLS, "u");
        let sql = format!(
            "SELECT {cols} FROM user_closure uc JOIN users u ON u.id = uc.user_id \
             WHERE uc.group_id = $1 AND uc.user_num > $2 ORDER BY uc.user_num LIMIT $3"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(group.0).bind(after).bind(limit as i64);
        self.fetch_all(q, rows::user).await
    }

    async fn count_members_transitively(&mut self, group: GroupId) -> StoreResult<i64> {
        self.scalar(sqlx::query("SELECT n_all_members FROM groups WHERE id = $1").bind(group.0)).await
    }

    async fn list_groups_transitively(&mut self, user: UserId, after: i64, limit: u32) -> StoreResult<Vec<Group>> {
        let cols = rows::qualified(rows::GROUP_COLS, "g");
        let sql = format!(
            "SELECT {cols} FROM user_closure uc JOIN groups g ON g.id = uc.group_id \
             WHERE uc.user_id = $1 AND g.num > $2 ORDER BY g.num LIMIT $3"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user.0).bind(after).bind(limit as i64);
        self.fetch_all(q, rows::group).await
    }

    async fn count_groups_transitively(&mut self, user: UserId) -> StoreResult<i64> {
        self.scalar(sqlx::query("SELECT COUNT(*) FROM user_closure WHERE user_id = $1").bind(user.0)).await
    }
}

#[async_trait]
impl CatalogStore for SqlTx {
    async fn insert_role(&mut self, r: &Role) -> StoreResult<i64> {
        let q = sqlx::query(
            "INSERT INTO roles (id, name, name_key, description, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING num",
        )
        .bind(r.id.0)
        .bind(&r.name)
        .bind(fold(&r.name))
        .bind(&r.description)
        .bind(ts(r.created_at))
        .bind(ts(r.updated_at));
        let num = self.scalar(q).await?;
        self.bump("roles", 1).await?;
        Ok(num)
    }

    async fn update_role(&mut self, r: &Role) -> StoreResult<()> {
        let q =
            sqlx::query("UPDATE roles SET name = $1, name_key = $2, description = $3, updated_at = $4 WHERE id = $5")
                .bind(&r.name)
                .bind(fold(&r.name))
                .bind(&r.description)
                .bind(ts(r.updated_at))
                .bind(r.id.0);
        self.exec(q).await.map(drop)
    }

    async fn delete_role(&mut self, id: RoleId) -> StoreResult<()> {
        match self.exec(sqlx::query("DELETE FROM roles WHERE id = $1").bind(id.0)).await? {
            0 => Err(StoreError::NotFound),
            _ => self.bump("roles", -1).await,
        }
    }

    async fn get_role(&mut self, id: RoleId) -> StoreResult<Option<Role>> {
        self.fetch_optional(
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM roles WHERE id = $1{}", self.lock()))).bind(id.0),
            rows::role,
        )
        .await
    }

    async fn list_roles(&mut self, spec: &ListSpec) -> StoreResult<Vec<Role>> {
        self.build_all(list_query("*", "roles", "name_key", spec), rows::role).await
    }

    async fn insert_org(&mut self, o: &Organization) -> StoreResult<i64> {
        let q = sqlx::query(
            "INSERT INTO organizations (id, name, name_key, slug, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING num",
        )
        .bind(o.id.0)
        .bind(&o.name)
        .bind(fold(&o.name))
        .bind(&o.slug)
        .bind(ts(o.created_at))
        .bind(ts(o.updated_at));
        let num = self.scalar(q).await?;
        self.bump("organizations", 1).await?;
        Ok(num)
    }

    async fn update_org(&mut self, o: &Organization) -> StoreResult<()> {
        let q =
            sqlx::query("UPDATE organizations SET name = $1, name_key = $2, slug = $3, updated_at = $4 WHERE id = $5")
                .bind(&o.name)
                .bind(fold(&o.name))
                .bind(&o.slug)
                .bind(ts(o.updated_at))
                .bind(o.id.0);
        self.exec(q).await.map(drop)
    }

    async fn delete_org(&mut self, id: OrgId) -> StoreResult<()> {
        match self.exec(sqlx::query("DELETE FROM organizations WHERE id = $1").bind(id.0)).await? {
            0 => Err(StoreError::NotFound),
            _ => self.bump("organizations", -1).await,
        }
    }

    async fn get_org(&mut self, id: OrgId) -> StoreResult<Option<Organization>> {
        self.fetch_optional(
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM organizations WHERE id = $1{}", self.lock())))
                .bind(id.0),
            rows::org,
        )
        .await
    }

    async fn list_orgs(&mut self, spec: &ListSpec) -> StoreResult<Vec<Organization>> {
        self.build_all(list_query("*", "organizations", "name_key", spec), rows::org).await
    }

    async fn insert_project(&mut self, p: &Project) -> StoreResult<i64> {
        let q = sqlx::query(
            "INSERT INTO projects (id, name, name_key, description, org_id, attributes, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING num",
        )
        .bind(p.id.0)
        .bind(&p.name)
        .bind(fold(&p.name))
        .bind(&p.description)
        .bind(p.org.0)
        .bind(rows::json_text(&p.attributes))
        .bind(ts(p.created_at))
        .bind(ts(p.updated_at));
        let num = self.scalar(q).await?;
        self.bump("projects", 1).await?;
        Ok(num)
    }

    async fn update_project(&mut self, p: &Project) -> StoreResult<()> {
        let q = sqlx::query(
            "UPDATE projects SET name = $1, name_key = $2, description = $3, attributes = $4, updated_at = $5 \
             WHERE id = $6",
        )
        .bind(&p.name)
        .bind(fold(&p.name))
        .bind(&p.description)
        .bind(rows::json_text(&p.attributes))
        .bind(ts(p.updated_at))
        .bind(p.id.0);
        self.exec(q).await.map(drop)
    }

    async fn delete_project(&mut self, id: ProjectId) -> StoreResult<()> {
        match self.exec(sqlx::query("DELETE FROM projects WHERE id = $1").bind(id.0)).await? {
            0 => Err(StoreError::NotFound),
            _ => self.bump("projects", -1).await,
        }
    }

    async fn get_project(&mut self, id: ProjectId) -> StoreResult<Option<Project>> {
        self.fetch_optional(
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM projects WHERE id = $1{}", self.lock()))).bind(id.0),
            rows::project,
        )
        .await
    }

    async fn get_project_by_name(&mut self, name: &str) -> StoreResult<Option<Project>> {
        let sql = format!("SELECT * FROM projects WHERE name_key = $1{}", self.lock());
        self.fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(fold(name)), rows::project).await
    }

    async fn list_projects(&mut self, spec: &ListSpec) -> StoreResult<Vec<Project>> {
        self.build_all(list_query("*", "projects", "name_key", spec), rows::project).await
    }

    async fn put_binding(&mut self, b: &ProjectBinding) -> StoreResult<Option<String>> {
        let col = principal_col(b.principal);
        let sql = format!("SELECT role FROM project_bindings WHERE project_id = $1 AND {col} = $2{}", self.lock());
        let previous: Option<String> = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(b.project.0)
            .bind(grantee_uuid(b.principal))
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map)?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(map)?;
        let q = match previous {
            Some(_) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE project_bindings SET role = $3 WHERE project_id = $1 AND {col} = $2"
            )))
            .bind(b.project.0)
            .bind(grantee_uuid(b.principal))
            .bind(&b.role),
            None => sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO project_bindings (project_id, {col}, role, created_at) VALUES ($1, $2, $3, $4)"
            )))
            .bind(b.project.0)
            .bind(grantee_uuid(b.principal))
            .bind(&b.role)
            .bind(ts(b.created_at)),
        };
        self.exec(q).await?;
        Ok(previous)
    }

    async fn delete_binding(&mut self, project: ProjectId, principal: Grantee) -> StoreResult<bool> {
        let sql = format!("DELETE FROM project_bindings WHERE project_id = $1 AND {} = $2", principal_col(principal));
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(project.0).bind(grantee_uuid(principal));
        Ok(self.exec(q).await? > 0)
    }

    async fn list_bindings(&mut self, project: ProjectId, after: i64, limit: u32) -> StoreResult<Vec<ProjectBinding>> {
        let q = sqlx::query("SELECT * FROM project_bindings WHERE project_id = $1 AND num > $2 ORDER BY num LIMIT $3")
            .bind(project.0)
            .bind(after)
            .bind(limit as i64);
        self.fetch_all(q, rows::binding).await
    }

    async fn count_bindings(&mut self, project: ProjectId) -> StoreResult<i64> {
        self.scalar(sqlx::query("SELECT COUNT(*) FROM project_bindings WHERE project_id = $1").bind(project.0)).await
    }

    async fn insert_job(&mut self, j: &Job) -> StoreResult<i64> {
        let q = sqlx::query(
            "INSERT INTO jobs (id, kind, state, params, result, actor, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING num",
        )
        .bind(j.id.0)
        .bind(&j.kind)
        .bind(j.state.as_str())
        .bind(j.params.to_string())
        .bind(j.result.as_ref().map(|r| r.to_string()))
        .bind(j.actor.map(|a| a.0))
        .bind(ts(j.created_at))
        .bind(ts(j.updated_at));
        self.scalar(q).await
    }

    async fn get_job(&mut self, id: JobId) -> StoreResult<Option<Job>> {
        self.fetch_optional(sqlx::query("SELECT * FROM jobs WHERE id = $1").bind(id.0), rows::job).await
    }
}

#[async_trait]
impl AccessStore for SqlTx {
    async fn put_share(&mut self, s: &Share) -> StoreResult<Share> {
        let (user, group) = grantee_cols(s.grantee);
        let conflict = if user.is_some() {
            "(group_id, user_id) WHERE user_id IS NOT NULL"
        } else {
            "(group_id, to_group) WHERE to_group IS NOT NULL"
        };
        let sql = format!(
            "INSERT INTO shares (id, group_id, user_id, to_group, level, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT {conflict} DO UPDATE SET level = excluded.level RETURNING *"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(s.id.0)
            .bind(s.group.0)
            .bind(user)
            .bind(group)
            .bind(rows::level_num(s.level))
            .bind(ts(s.created_at));
        let row = q.fetch_one(&mut *self.tx).await.map_err(map)?;
        rows::share(&row)
    }

    async fn find_share(&mut self, group: GroupId, grantee: Grantee) -> StoreResult<Option<Share>> {
        let (col, id) = match grantee {
            Grantee::User(u) => ("user_id", u.0),
            Grantee::Group(g) => ("to_group", g.0),
        };
        let sql = format!("SELECT * FROM shares WHERE group_id = $1 AND {col} = $2{}", self.lock());
        self.fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(group.0).bind(id), rows::share).await
    }

    async fn delete_share(&mut self, group: GroupId, grantee: Grantee) -> StoreResult<bool> {
        let (col, id) = match grantee {
            Grantee::User(u) => ("user_id", u.0),
            Grantee::Group(g) => ("to_group", g.0),
        };
        let sql = format!("DELETE FROM shares WHERE group_id = $1 AND {col} = $2");
        Ok(self.exec(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(group.0).bind(id)).await? > 0)
    }

    async fn list_shares(&mut self, group: GroupId, after: i64, limit: u32) -> StoreResult<Vec<Share>> {
        let q = sqlx::query("SELECT * FROM shares WHERE group_id = $1 AND num > $2 ORDER BY num LIMIT $3")
            .bind(group.0)
            .bind(after)
            .bind(limit as i64);
        self.fetch_all(q, rows::share).await
    }

    async fn count_shares(&mut self, group: GroupId) -> StoreResult<i64> {
        self.scalar(sqlx::query("SELECT COUNT(*) FROM shares WHERE group_id = $1").bind(group.0)).await
    }

    async fn shares_held_by_group(&mut self, group: GroupId) -> StoreResult<Vec<Share>> {
        let q = sqlx::query("SELECT * FROM shares WHERE to_group = $1 ORDER BY num").bind(group.0);
        self.fetch_all(q, rows::share).await
    }

    async fn insert_key(&mut self, k: &ApiKey, digest: &str) -> StoreResult<i64> {
        let q = sqlx::query(
            "INSERT INTO api_keys (id, user_id, name, prefix, digest, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING num",
        )
        .bind(k.id.0)
        .bind(k.user.0)
        .bind(&k.name)
        .bind(&k.prefix)
        .bind(digest)
        .bind(ts(k.created_at));
        let num = self.scalar(q).await?;
        self.bump("keys", 1).await?;
        Ok(num)
    }

    async fn delete_key(&mut self, id: KeyId) -> StoreResult<()> {
        match self.exec(sqlx::query("DELETE FROM api_keys WHERE id = $1").bind(id.0)).await? {
            0 => Err(StoreError::NotFound),
            _ => self.bump("keys", -1).await,
        }
    }

    async fn get_key(&mut self, id: KeyId) -> StoreResult<Option<ApiKey>> {
        self.fetch_optional(
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM api_keys WHERE id = $1{}", self.lock()))).bind(id.0),
            rows::key,
        )
        .await
    }

    async fn find_key_by_digest(&mut self, digest: &str) -> StoreResult<Option<ApiKey>> {
        self.fetch_optional(sqlx::query("SELECT * FROM api_keys WHERE digest = $1").bind(digest), rows::key).await
    }

    async fn list_keys(&mut self, user: Option<UserId>, after: i64, limit: u32) -> StoreResult<Vec<ApiKey>> {
        let q = match user {
            Some(u) => sqlx::query("SELECT * FROM api_keys WHERE user_id = $1 AND num > $2 ORDER BY num LIMIT $3")
                .bind(u.0)
                .bind(after)
                .bind(limit as i64),
            None => sqlx::query("SELECT * FROM api_keys WHERE num > $1 ORDER BY num LIMIT $2")
                .bind(after)
                .bind(limit as i64),
        };
        self.fetch_all(q, rows::key).await
    }

    async fn count_user_keys(&mut self, user: UserId) -> StoreResult<i64> {
        self.scalar(sqlx::query("SELECT COUNT(*) FROM api_keys WHERE user_id = $1").bind(user.0)).await
    }
}
