//! Groups as SQL: `GroupStore` (a group's rows, its roles and what a user
//! may do to it), and the scopes a group list pushes into its WHERE clause.
//! Deleting a group removes its nesting edges from `group_closure` first.

use async_trait::async_trait;
use roster_core::authz::GroupAccess;
use roster_core::store::prelude::*;
use roster_core::store::{GroupOrder, GroupScope, ListSpec, StoreResult};
use roster_core::validate::fold;
use roster_core::*;
use sqlx::{QueryBuilder, Row};
use uuid::Uuid;

use super::{
    CHUNK, Db, SqlTx, USER_GROUPS_AT_ANY_DEPTH, dialect, first_num, map, now_utc, nums_in_order, push_in_values,
    push_list, push_list_ordered, rows, ts,
};

/// The groups a user may read (`authz::can_read_group`): those they are in
/// at any depth, and those shared with them or with a group they are
/// directly in.
const VISIBLE_GROUPS: &str = " AND id IN (SELECT c.ancestor FROM memberships m \
     JOIN group_closure c ON c.descendant = m.group_id WHERE m.user_id = $v \
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

/// ` AND id IN (<select> IN (ids…))`, when there are ids: the groups some
/// users or groups stand in.
fn push_group_ids_where(qb: &mut QueryBuilder<Db>, select: &str, ids: &[Uuid]) {
    if ids.is_empty() {
        return;
    }
    qb.push(format!(" AND id IN ({select} IN ("));
    let mut sep = qb.separated(", ");
    for id in ids {
        sep.push_bind(*id);
    }
    qb.push("))");
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
    let ids = |v: &[UserId]| v.iter().map(|u| u.0).collect::<Vec<_>>();
    push_group_ids_where(qb, "SELECT group_id FROM memberships WHERE user_id", &ids(&scope.members_any));
    push_group_ids_where(qb, USER_GROUPS_AT_ANY_DEPTH, &ids(&scope.members_at_any_depth));
    let children: Vec<Uuid> = scope.children_any.iter().map(|g| g.0).collect();
    push_group_ids_where(qb, "SELECT group_id FROM memberships WHERE child_id", &children);
    if let Some(org) = scope.org {
        qb.push(" AND org_id = ").push_bind(org.0);
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
        for parent in &parents {
            self.closure_remove_edge(GroupId(*parent), id).await?;
        }
        // Counters of the rows that cascade: parents lose a child, members lose a group.
        self.add_group_counts(&parents, (0, 0, -1)).await?;
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

    async fn get_group_shared(&mut self, id: GroupId) -> StoreResult<Option<Group>> {
        let lock = if self.write { dialect::LOCK_SHARED } else { "" };
        let sql = format!("SELECT {} FROM groups WHERE id = $1{lock}", rows::GROUP_COLS);
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
        let member_at_any_depth =
            membership.is_some() || super::memberships::in_group_at_any_depth(self, group, user).await?;
        Ok(GroupAccess { membership, member_at_any_depth, share })
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

    async fn scan_groups(&mut self, after: i64, limit: u32) -> StoreResult<Vec<Group>> {
        let sql = format!("SELECT {} FROM groups WHERE num > $1 ORDER BY num LIMIT $2", rows::GROUP_COLS);
        self.fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(after).bind(limit as i64), rows::group).await
    }
}
