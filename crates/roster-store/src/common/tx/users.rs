//! Users as SQL: `UserStore`, and the filters a user list pushes into its
//! WHERE clause. Counters move in the write's own transaction.

use std::sync::Arc;

use async_trait::async_trait;
use roster_core::store::prelude::*;
use roster_core::store::{ListSpec, RoleMatch, StoreResult, UserFilter};
use roster_core::validate::fold;
use roster_core::*;
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::{
    CHUNK, Db, SqlTx, dialect, first_num, map, nums_in_order, push_in_values, push_list, push_list_ordered, rows, ts,
};

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
                 first_key, last_key, role_label, display_key, groups_changed_at, profile_changed_at) ",
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
                    .push_bind(ts(u.groups_changed_at))
                    .push_bind(ts(u.profile_changed_at));
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
             updated_at = $12, version = $13, first_key = $14, last_key = $15, role_label = $16, display_key = $17, \
             profile_changed_at = $18 WHERE id = $19",
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
        .bind(ts(u.profile_changed_at))
        .bind(u.id.0);
        match self.exec(q).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    async fn delete_user(&mut self, id: UserId) -> StoreResult<()> {
        // Memberships go by cascade; the counters of their groups first.
        let groups: Vec<(Uuid, String)> = sqlx::query_as("SELECT group_id, role FROM memberships WHERE user_id = $1")
            .bind(id.0)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map)?;
        let (admin_of, member_of): (Vec<_>, Vec<_>) = groups.into_iter().partition(|(_, role)| role == "admin");
        let ids = |v: Vec<(Uuid, String)>| v.into_iter().map(|(g, _)| g).collect::<Vec<_>>();
        self.add_group_counts(&ids(admin_of), (-1, -1, 0)).await?;
        self.add_group_counts(&ids(member_of), (-1, 0, 0)).await?;
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

    async fn password_hash(&mut self, id: UserId) -> StoreResult<Option<String>> {
        let q = sqlx::query("SELECT password_hash FROM users WHERE id = $1").bind(id.0);
        let hash: Option<Option<String>> =
            self.fetch_optional(q, |row| sqlx::Row::try_get(row, 0).map_err(map)).await?;
        Ok(hash.flatten())
    }

    async fn get_user(&mut self, id: UserId) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {} FROM users WHERE id = $1{}", rows::USER_COLS, self.lock());
        self.fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.0), rows::user).await
    }

    async fn get_users(&mut self, ids: &[UserId]) -> StoreResult<Vec<Arc<User>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::new(format!("SELECT {} FROM users WHERE id IN (", rows::USER_COLS));
        let mut sep = qb.separated(", ");
        for id in ids {
            sep.push_bind(id.0);
        }
        qb.push(")");
        Ok(self.build_all(qb, rows::user).await?.into_iter().map(Arc::new).collect())
    }

    async fn get_user_by_username(&mut self, username: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {} FROM users WHERE username_key = $1{}", rows::USER_COLS, self.lock());
        self.fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(fold(username)), rows::user).await
    }

    async fn get_users_by_email(&mut self, email: &str) -> StoreResult<Vec<User>> {
        // A scan, compared with the core's fold (SQLite's lower() folds
        // ASCII only): the index answers this once loaded.
        let sql = format!("SELECT {} FROM users WHERE email IS NOT NULL ORDER BY num", rows::USER_COLS);
        let all = self.fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)), rows::user).await?;
        let key = fold(email);
        Ok(all.into_iter().filter(|u| u.email.as_deref().is_some_and(|e| fold(e) == key)).collect())
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

    async fn scan_users(&mut self, after: i64, limit: u32) -> StoreResult<Vec<User>> {
        let sql = format!("SELECT {} FROM users WHERE num > $1 ORDER BY num LIMIT $2", rows::USER_COLS);
        self.fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(after).bind(limit as i64), rows::user).await
    }
}
