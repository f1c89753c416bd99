//! Memberships as SQL: `MembershipStore`, and the upkeep of the flattened
//! nesting graph (`group_closure`) in the same transaction as every nesting
//! change, which the cycle check (`group_reaches`) probes instead of walking
//! the graph. A user's groups at any depth are their direct groups joined
//! to `group_closure`, at read time: no table holds them.

use std::sync::Arc;

use async_trait::async_trait;
use roster_core::store::prelude::*;
use roster_core::store::{EdgeCounts, StoreResult};
use roster_core::*;
use sqlx::{QueryBuilder, Row};
use uuid::Uuid;

use super::{
    CHUNK, SqlTx, USER_GROUPS_AT_ANY_DEPTH, dialect, first_num, map, now_utc, nums_in_order, push_in_values,
    push_offset, rows, ts,
};

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

/// The users at any depth in group `$1` (a user once per path: callers
/// take each once): the direct user memberships of every descendant,
/// reflexive included, through `memberships_users_in_group`.
const GROUP_USERS_AT_ANY_DEPTH: &str = "SELECT m.user_id FROM group_closure c \
     JOIN memberships m ON m.group_id = c.descendant WHERE c.ancestor = $1 AND m.user_id IS NOT NULL";

/// Whether `user` is in `group` at any depth: one of their direct groups is
/// `group` or below it (a probe per direct group, however large `group`).
pub(super) async fn in_group_at_any_depth(tx: &mut SqlTx, group: GroupId, user: UserId) -> StoreResult<bool> {
    let sql = format!("SELECT COUNT(*) FROM ({USER_GROUPS_AT_ANY_DEPTH} = $2 AND c.ancestor = $1 LIMIT 1) AS x");
    let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(group.0).bind(user.0);
    Ok(tx.scalar(q).await? != 0)
}

/// The columns a new membership row is written with, in the order of
/// [`insert_rows`] and [`copy_line`].
const COLUMNS: &str = "id, group_id, user_id, child_id, role, permissions, created_at, updated_at";

/// A multi-row INSERT of `chunk` (at most [`CHUNK`] rows).
fn insert_rows(chunk: &[Membership]) -> QueryBuilder<super::Db> {
    let mut qb = QueryBuilder::new(format!("INSERT INTO memberships ({COLUMNS}) "));
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
    qb
}

/// One membership as a line of `COPY`'s text format: tab-separated,
/// `\N` for NULL, and in the one free-text column (the permissions'
/// JSON) a backslash, tab, newline or carriage return escaped.
fn copy_line(out: &mut String, m: &Membership) {
    use std::fmt::Write;
    let (user, child) = member_cols(m.member);
    let uuid = |u: Option<Uuid>| u.map_or_else(|| "\\N".to_owned(), |u| u.to_string());
    let mut permissions = String::new();
    for c in rows::permissions_text(&m.permissions).chars() {
        match c {
            '\\' => permissions.push_str("\\\\"),
            '\t' => permissions.push_str("\\t"),
            '\n' => permissions.push_str("\\n"),
            '\r' => permissions.push_str("\\r"),
            c => permissions.push(c),
        }
    }
    let _ = writeln!(
        out,
        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        m.id.0,
        m.group.0,
        uuid(user),
        uuid(child),
        m.role.as_str(),
        permissions,
        ts(m.created_at),
        ts(m.updated_at)
    );
}

fn member_cols(m: Member) -> (Option<Uuid>, Option<Uuid>) {
    match m {
        Member::User(u) => (Some(u.0), None),
        Member::Group(g) => (None, Some(g.0)),
    }
}

impl SqlTx {
    /// The first column of `sql`'s rows as text, `$1` bound to `group`.
    async fn names_of(&mut self, group: GroupId, sql: &'static str) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(sql).bind(group.0).fetch_all(&mut *self.tx).await.map_err(map)?;
        rows.iter().map(|r| r.try_get::<String, _>(0)).collect::<Result<_, _>>().map_err(map)
    }

    /// Closure upkeep for a new nesting edge `parent → child`: every
    /// ancestor of `parent` now reaches every descendant of `child` by
    /// (paths to parent) × (paths from child) more paths. Every nesting
    /// change holds the graph lock (`Tx::lock_graph`), so no two change
    /// `group_closure` at once. A user's groups at any depth are not kept:
    /// they are their direct groups' ancestors (`USER_GROUPS_AT_ANY_DEPTH`).
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
        Ok(())
    }

    /// Closure upkeep for a removed nesting edge: the exact inverse of
    /// [`Self::closure_add_edge`]; rows whose path count falls to zero go.
    /// (In a DAG no row this reads is one it changes: those would need a
    /// path from `child` back to `parent`.)
    pub(super) async fn closure_remove_edge(&mut self, parent: GroupId, child: GroupId) -> StoreResult<()> {
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

    /// Adds `(members, admins, children)` to the counts of each group in
    /// `ids` (each named once): on the group's row, or where the backend
    /// keeps them in slots (`dialect::COUNT_SLOTS`), in a slot no other
    /// writer holds, so that writers to one group never wait on each other
    /// for its counts.
    pub(super) async fn add_group_counts(
        &mut self,
        ids: &[Uuid],
        (members, admins, children): (i64, i64, i64),
    ) -> StoreResult<()> {
        for chunk in ids.chunks(CHUNK) {
            let mut qb;
            if dialect::COUNT_SLOTS {
                qb = QueryBuilder::new("SELECT add_group_counts(ARRAY");
                push_in_values(&mut qb, chunk.iter().copied());
                qb.push(", ").push_bind(members).push(", ").push_bind(admins).push(", ").push_bind(children);
                qb.push(")");
            } else {
                qb = QueryBuilder::new("UPDATE groups SET n_members = n_members + ");
                qb.push_bind(members).push(", n_admins = n_admins + ").push_bind(admins);
                qb.push(", n_children = n_children + ").push_bind(children).push(" WHERE id IN ");
                push_in_values(&mut qb, chunk.iter().copied());
            }
            qb.build().execute(&mut *self.tx).await.map_err(map)?;
        }
        Ok(())
    }

    /// Adds `counts` to the counters: one statement per distinct
    /// (members, admins, children) delta, not per group (a batch spread
    /// over 10^5 groups touches thousands), and likewise per user.
    async fn move_counts(&mut self, counts: &EdgeCounts, latest: i64) -> StoreResult<()> {
        for (delta, ids) in by_delta(counts.groups.iter().map(|(g, d)| (g.0, *d))) {
            self.add_group_counts(&ids, delta).await?;
        }
        self.moved_groups_of(counts.users.iter().map(|(u, d)| (u.0, *d)).collect(), latest).await
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
            let mut qb = insert_rows(chunk);
            qb.push(" RETURNING id, num");
            let rows = qb.build().fetch_all(&mut *self.tx).await.map_err(map)?;
            nums.extend(nums_in_order(&rows, chunk.iter().map(|m| m.id.0))?);
        }
        let mut counts = EdgeCounts::default();
        let mut latest = 0;
        for m in ms {
            counts.add(m);
            latest = latest.max(ts(m.updated_at));
        }
        self.move_counts(&counts, latest).await?;
        if ms.len() >= BULK_ROWS {
            self.refresh_stats_after_bulk().await?;
        }
        for m in ms {
            if let Member::Group(child) = m.member {
                self.closure_add_edge(m.group, child).await?;
            }
        }
        Ok(nums)
    }

    async fn insert_membership_rows(&mut self, ms: &[Membership]) -> StoreResult<()> {
        if dialect::COPY {
            let mut data = String::with_capacity(ms.len() * 160);
            for m in ms {
                copy_line(&mut data, m);
            }
            let statement = format!("COPY memberships ({COLUMNS}) FROM STDIN");
            dialect::copy_in(&mut self.tx, &statement, data.into_bytes()).await.map_err(map)?;
        } else {
            for chunk in ms.chunks(CHUNK) {
                insert_rows(chunk).build().execute(&mut *self.tx).await.map_err(map)?;
            }
        }
        if ms.len() >= BULK_ROWS {
            self.refresh_stats_after_bulk().await?;
        }
        Ok(())
    }

    /// SQLite: every index of `memberships` that a statement made (not
    /// the ones behind its `PRIMARY KEY` and `UNIQUE` columns) goes until
    /// [`Self::end_bulk_memberships`] makes it again, read from the
    /// schema so that an index a later migration adds is kept too. Only
    /// while the table is empty: a bulk load that fills it.
    async fn begin_bulk_memberships(&mut self) -> StoreResult<()> {
        if let Some(sql) = dialect::ANALYZE_BEFORE_BULK {
            self.exec(sqlx::query(sql)).await?;
        }
        let Some((cache, _)) = dialect::DEFER_INDEXES else { return Ok(()) };
        if !self.deferred_indexes.is_empty()
            || self.scalar(sqlx::query("SELECT COUNT(*) FROM (SELECT 1 FROM memberships LIMIT 1) AS x")).await? != 0
        {
            return Ok(());
        }
        let rows = sqlx::query(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'memberships' AND sql IS NOT NULL",
        )
        .fetch_all(&mut *self.tx)
        .await
        .map_err(map)?;
        for row in rows {
            let name: String = row.try_get(0).map_err(map)?;
            let sql: String = row.try_get(1).map_err(map)?;
            self.exec(sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX \"{name}\"")))).await?;
            self.deferred_indexes.push(sql);
        }
        self.exec(sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA cache_size = {cache}")))).await?;
        Ok(())
    }

    async fn end_bulk_memberships(&mut self) -> StoreResult<()> {
        let Some((_, cache)) = dialect::DEFER_INDEXES else { return Ok(()) };
        if self.deferred_indexes.is_empty() {
            return Ok(());
        }
        for sql in std::mem::take(&mut self.deferred_indexes) {
            self.exec(sqlx::query(sqlx::AssertSqlSafe(sql))).await?;
        }
        self.exec(sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA cache_size = {cache}")))).await?;
        Ok(())
    }

    async fn add_edge_counts(&mut self, counts: &EdgeCounts, at: time::OffsetDateTime) -> StoreResult<()> {
        self.move_counts(counts, ts(at)).await
    }

    /// Every path through the nesting edges, counted per (ancestor,
    /// descendant): each group reaches itself by one path, and through each
    /// of its children every group that child reaches.
    async fn rebuild_group_closure(&mut self) -> StoreResult<()> {
        self.exec(sqlx::query("DELETE FROM group_closure")).await?;
        self.exec(sqlx::query(
            "INSERT INTO group_closure (ancestor, descendant, paths) \
             WITH RECURSIVE walk (ancestor, descendant) AS ( \
                 SELECT id, id FROM groups \
                 UNION ALL \
                 SELECT w.ancestor, m.child_id FROM walk w JOIN memberships m \
                     ON m.group_id = w.descendant AND m.child_id IS NOT NULL) \
             SELECT ancestor, descendant, COUNT(*) FROM walk GROUP BY ancestor, descendant",
        ))
        .await?;
        Ok(())
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
            self.add_group_counts(&[m.group.0], (0, delta, 0)).await?;
        }
        Ok(())
    }

    /// Deletes the edge (learning what it was from the same statement),
    /// then takes it out of the closure and the counts.
    async fn delete_membership(&mut self, id: MembershipId) -> StoreResult<()> {
        let sql = format!("DELETE FROM memberships WHERE id = $1 RETURNING {}", rows::MEMBERSHIP_COLS);
        let m = self
            .fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.0), rows::membership)
            .await?
            .ok_or(StoreError::NotFound)?;
        match m.member {
            Member::User(u) => {
                let admin = i64::from(m.role == MemberRole::Admin);
                self.add_group_counts(&[m.group.0], (-1, -admin, 0)).await?;
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
            Member::Group(child) => {
                self.closure_remove_edge(m.group, child).await?;
                self.add_group_counts(&[m.group.0], (0, 0, -1)).await?;
            }
        }
        Ok(())
    }

    async fn get_membership(&mut self, id: MembershipId) -> StoreResult<Option<Membership>> {
        let sql = format!("SELECT {} FROM memberships WHERE id = $1{}", rows::MEMBERSHIP_COLS, self.lock());
        self.fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.0), rows::membership).await
    }

    async fn peek_membership(&mut self, id: MembershipId) -> StoreResult<Option<Membership>> {
        let sql = format!("SELECT {} FROM memberships WHERE id = $1", rows::MEMBERSHIP_COLS);
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

    async fn member_names(&mut self, group: GroupId) -> StoreResult<Arc<MemberNames>> {
        let users = self
            .names_of(
                group,
                "SELECT u.username FROM memberships m JOIN users u ON u.id = m.user_id \
                 WHERE m.group_id = $1 AND m.user_id IS NOT NULL ORDER BY m.num",
            )
            .await?;
        let groups = self
            .names_of(
                group,
                "SELECT g.name FROM memberships m JOIN groups g ON g.id = m.child_id \
                 WHERE m.group_id = $1 AND m.child_id IS NOT NULL ORDER BY m.num",
            )
            .await?;
        Ok(Arc::new(MemberNames { users, groups }))
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
        in_group_at_any_depth(self, group, user).await
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

    async fn users_in_group_among(&mut self, group: GroupId, users: &[UserId]) -> StoreResult<Vec<UserId>> {
        let mut found = Vec::new();
        for chunk in users.chunks(super::CHUNK) {
            let mut qb = QueryBuilder::new(
                "SELECT DISTINCT m.user_id FROM memberships m JOIN group_closure c ON c.descendant = m.group_id \
                 WHERE m.user_id IS NOT NULL AND c.ancestor = ",
            );
            qb.push_bind(group.0).push(" AND m.user_id IN ");
            super::push_in_values(&mut qb, chunk.iter().map(|u| u.0));
            let ids: Vec<Uuid> = qb.build_query_scalar().fetch_all(&mut *self.tx).await.map_err(map)?;
            found.extend(ids.into_iter().map(UserId));
        }
        Ok(found)
    }

    /// The users of `group`'s descendants' direct memberships, by user
    /// `num`. The set is gathered whole, then the page taken from it: a
    /// read of this store alone (a server whose index is not loaded yet)
    /// costs in proportion to the group's users at any depth, not to the
    /// page (bench/README.md, "Bulk import").
    async fn list_members_transitively(
        &mut self,
        group: GroupId,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<Arc<User>>> {
        let sql = format!(
            "SELECT {} FROM users WHERE id IN ({GROUP_USERS_AT_ANY_DEPTH}) AND num > $2 ORDER BY num LIMIT $3",
            rows::USER_COLS
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(group.0).bind(after).bind(limit as i64);
        Ok(self.fetch_all(q, rows::user).await?.into_iter().map(Arc::new).collect())
    }

    async fn count_members_transitively(&mut self, group: GroupId) -> StoreResult<i64> {
        let sql = format!("SELECT COUNT(*) FROM ({GROUP_USERS_AT_ANY_DEPTH} GROUP BY m.user_id) AS x");
        self.scalar(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(group.0)).await
    }

    async fn list_groups_transitively(&mut self, user: UserId, after: i64, limit: u32) -> StoreResult<Vec<Arc<Group>>> {
        // `groups` unaliased, as `GROUP_COLS` reads it.
        let sql = format!(
            "SELECT {} FROM groups WHERE id IN ({USER_GROUPS_AT_ANY_DEPTH} = $1) AND groups.num > $2 \
             ORDER BY groups.num LIMIT $3",
            rows::GROUP_COLS
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user.0).bind(after).bind(limit as i64);
        Ok(self.fetch_all(q, rows::group).await?.into_iter().map(Arc::new).collect())
    }

    async fn count_groups_transitively(&mut self, user: UserId) -> StoreResult<i64> {
        let sql = format!("SELECT COUNT(*) FROM ({USER_GROUPS_AT_ANY_DEPTH} = $1 GROUP BY c.ancestor) AS x");
        self.scalar(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user.0)).await
    }

    async fn scan_memberships(&mut self, after: i64, limit: u32) -> StoreResult<Vec<Membership>> {
        let sql = format!("SELECT {} FROM memberships WHERE num > $1 ORDER BY num LIMIT $2", rows::MEMBERSHIP_COLS);
        self.fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(after).bind(limit as i64), rows::membership).await
    }
}
