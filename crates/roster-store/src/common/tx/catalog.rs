//! Roles, organizations, projects, project bindings and jobs as SQL:
//! `CatalogStore`.

use async_trait::async_trait;
use roster_core::store::prelude::*;
use roster_core::store::{ListSpec, StoreResult};
use roster_core::validate::fold;
use roster_core::*;
use sqlx::Row;
use uuid::Uuid;

use super::{SqlTx, dialect, list_query, map, rows, ts};

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

    /// A key-share lock in a write: the organization cannot be deleted
    /// before commit, yet writers that only refer to it never queue on it.
    async fn org_exists(&mut self, id: OrgId) -> StoreResult<bool> {
        let lock = if self.write { dialect::LOCK_KEY } else { "" };
        let sql = format!("SELECT COUNT(*) FROM (SELECT id FROM organizations WHERE id = $1{lock}) AS o");
        Ok(self.scalar(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.0)).await? > 0)
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

    async fn bindings_of(&mut self, principal: Grantee, after: i64, limit: u32) -> StoreResult<Vec<ProjectBinding>> {
        let (col, id) = match principal {
            Grantee::User(u) => ("user_id", u.0),
            Grantee::Group(g) => ("group_id", g.0),
        };
        let sql = format!("SELECT * FROM project_bindings WHERE {col} = $1 AND num > $2 ORDER BY num LIMIT $3");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).bind(after).bind(limit as i64);
        self.fetch_all(q, rows::binding).await
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
