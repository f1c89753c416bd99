//! Shares of groups, API keys and console sessions as SQL: `AccessStore`.
//! Keys and sessions are stored and looked up by digest only.

use async_trait::async_trait;
use roster_core::store::StoreResult;
use roster_core::store::prelude::*;
use roster_core::*;
use uuid::Uuid;

use super::{SqlTx, map, rows, ts};

fn grantee_cols(g: Grantee) -> (Option<Uuid>, Option<Uuid>) {
    match g {
        Grantee::User(u) => (Some(u.0), None),
        Grantee::Group(g) => (None, Some(g.0)),
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

    async fn insert_web_session(&mut self, digest: &str, s: &WebSession) -> StoreResult<()> {
        let q = sqlx::query(
            "INSERT INTO web_sessions (digest, user_id, key_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(digest)
        .bind(s.user.0)
        .bind(s.key.map(|k| k.0))
        .bind(ts(s.created_at))
        .bind(ts(s.expires_at));
        self.exec(q).await.map(drop)
    }

    async fn find_web_session(&mut self, digest: &str) -> StoreResult<Option<WebSession>> {
        self.fetch_optional(sqlx::query("SELECT * FROM web_sessions WHERE digest = $1").bind(digest), rows::web_session)
            .await
    }

    async fn delete_web_session(&mut self, digest: &str) -> StoreResult<bool> {
        Ok(self.exec(sqlx::query("DELETE FROM web_sessions WHERE digest = $1").bind(digest)).await? > 0)
    }

    async fn delete_expired_web_sessions(&mut self, now: time::OffsetDateTime) -> StoreResult<u64> {
        self.exec(sqlx::query("DELETE FROM web_sessions WHERE expires_at < $1").bind(ts(now))).await
    }

    async fn scan_shares(&mut self, after: i64, limit: u32) -> StoreResult<Vec<Share>> {
        let q = sqlx::query("SELECT * FROM shares WHERE num > $1 ORDER BY num LIMIT $2").bind(after).bind(limit as i64);
        self.fetch_all(q, rows::share).await
    }
}
