//! Roles, organizations and projects: site-wide catalogs that any
//! authenticated caller may read and only site admins change; and the role
//! each user or group holds in a project.

use super::jobs::{JobSpec, insert_job};
use super::steps::visible_group;
use super::{Directory, audit, event, found, now};
use crate::authz::{self, Principal};
use crate::cursor::{Keyset, Page, PageRequest, list};
use crate::error::CoreError;
use crate::ids::{GroupId, OrgId, ProjectId, RoleId};
use crate::model::{DEFAULT_ORG_ID, Grantee, Job, Organization, Project, ProjectBinding, Role};
use crate::store::{Counter, ListSpec, Tx};
use crate::validate;

#[derive(Clone, Debug, Default)]
pub struct NewRole {
    pub name: String,
    pub description: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct RolePatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
}

#[derive(Clone, Debug, Default)]
pub struct NewOrganization {
    pub name: String,
    pub slug: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct OrganizationPatch {
    pub name: Option<String>,
    pub slug: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct NewProject {
    pub name: String,
    pub description: Option<String>,
    pub org: Option<OrgId>,
    /// Vendor settings (see [`Project::attributes`]).
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

#[derive(Clone, Debug, Default)]
pub struct ProjectPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    /// The whole new set of vendor settings.
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

/// One role of a project with everyone who should hold it: applied as a
/// replacement of that role's holders (see [`Directory::set_project_roles`]).
#[derive(Clone, Debug)]
pub struct RoleHolders {
    pub role: String,
    pub principals: Vec<Grantee>,
}

fn named_spec(page: &PageRequest) -> ListSpec {
    ListSpec { after: page.after.clone(), limit: page.limit + 1, ..ListSpec::default() }
}

fn named_keyset(name: &str, num: i64) -> Keyset {
    Keyset { key: validate::fold(name), num }
}

/// A project role name: a short identifier such as `admin`, `editor`, `viewer`.
fn project_role(role: &str) -> Result<String, CoreError> {
    let r = validate::name("role", role)?;
    if r.chars().count() > 64 || r.chars().any(char::is_whitespace) {
        return Err(CoreError::invalid("role", "must be a single word of at most 64 characters"));
    }
    Ok(r)
}

impl Directory {
    /// Creates a role. Site admins only. Errors: `Invalid`, `Conflict` (name).
    pub async fn create_role(&self, p: &Principal, new: NewRole) -> Result<Role, CoreError> {
        self.retrying(|| self.create_role_once(p, new.clone())).await
    }

    /// One run of [`Self::create_role`], in one transaction.
    async fn create_role_once(&self, p: &Principal, new: NewRole) -> Result<Role, CoreError> {
        authz::require_admin(p)?;
        let t = now();
        let mut role = Role {
            id: RoleId::new(),
            num: 0,
            name: validate::name("name", &new.name)?,
            description: validate::optional_text("description", new.description.as_deref())?,
            created_at: t,
            updated_at: t,
        };
        let mut tx = self.write().await?;
        role.num = tx.insert_role(&role).await?;
        tx.append_event(&event(p.actor(), "role.created", "role", role.id, None, Some(audit::role(&role)))).await?;
        tx.commit().await?;
        Ok(role)
    }

    pub async fn get_role(&self, _p: &Principal, id: RoleId) -> Result<Role, CoreError> {
        found(self.read().await?.get_role(id).await?, "role")
    }

    pub async fn list_roles(&self, _p: &Principal, page: &PageRequest) -> Result<Page<Role>, CoreError> {
        let mut tx = self.read().await?;
        let rows = tx.list_roles(&named_spec(page)).await?;
        let total = tx.count(Counter::Roles).await?;
        Ok(Page::from_rows(list::ROLES, rows, page, total, |r| named_keyset(&r.name, r.num)))
    }

    /// Changes a role. Site admins only.
    pub async fn update_role(&self, p: &Principal, id: RoleId, patch: RolePatch) -> Result<Role, CoreError> {
        self.retrying(|| self.update_role_once(p, id, patch.clone())).await
    }

    /// One run of [`Self::update_role`], in one transaction.
    async fn update_role_once(&self, p: &Principal, id: RoleId, patch: RolePatch) -> Result<Role, CoreError> {
        authz::require_admin(p)?;
        let mut tx = self.write().await?;
        let before = found(tx.get_role(id).await?, "role")?;
        let mut role = before.clone();
        if let Some(n) = &patch.name {
            role.name = validate::name("name", n)?;
        }
        if let Some(d) = &patch.description {
            role.description = validate::optional_text("description", d.as_deref())?;
        }
        if role == before {
            return Ok(role);
        }
        role.updated_at = now();
        tx.update_role(&role).await?;
        tx.append_event(&event(
            p.actor(),
            "role.updated",
            "role",
            id,
            Some(audit::role(&before)),
            Some(audit::role(&role)),
        ))
        .await?;
        tx.commit().await?;
        Ok(role)
    }

    /// Deletes a role and its grants. Site admins only.
    pub async fn delete_role(&self, p: &Principal, id: RoleId) -> Result<(), CoreError> {
        self.retrying(|| self.delete_role_once(p, id)).await
    }

    /// One run of [`Self::delete_role`], in one transaction.
    async fn delete_role_once(&self, p: &Principal, id: RoleId) -> Result<(), CoreError> {
        authz::require_admin(p)?;
        let mut tx = self.write().await?;
        let role = found(tx.get_role(id).await?, "role")?;
        tx.delete_role(id).await?;
        tx.append_event(&event(p.actor(), "role.deleted", "role", id, Some(audit::role(&role)), None)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates an organization. Site admins only. Errors: `Invalid`, `Conflict` (slug).
    pub async fn create_org(&self, p: &Principal, new: NewOrganization) -> Result<Organization, CoreError> {
        self.retrying(|| self.create_org_once(p, new.clone())).await
    }

    /// One run of [`Self::create_org`], in one transaction.
    async fn create_org_once(&self, p: &Principal, new: NewOrganization) -> Result<Organization, CoreError> {
        authz::require_admin(p)?;
        let name = validate::name("name", &new.name)?;
        let slug = match new.slug.as_deref() {
            Some(s) => validate::slug("slug", s)?,
            None => validate::slugify(&name),
        };
        let t = now();
        let mut org = Organization { id: OrgId::new(), num: 0, name, slug, created_at: t, updated_at: t };
        let mut tx = self.write().await?;
        org.num = tx.insert_org(&org).await?;
        tx.append_event(&event(
            p.actor(),
            "organization.created",
            "organization",
            org.id,
            None,
            Some(audit::org(&org)),
        ))
        .await?;
        tx.commit().await?;
        Ok(org)
    }

    pub async fn get_org(&self, _p: &Principal, id: OrgId) -> Result<Organization, CoreError> {
        found(self.read().await?.get_org(id).await?, "organization")
    }

    pub async fn list_orgs(&self, _p: &Principal, page: &PageRequest) -> Result<Page<Organization>, CoreError> {
        let mut tx = self.read().await?;
        let rows = tx.list_orgs(&named_spec(page)).await?;
        let total = tx.count(Counter::Organizations).await?;
        Ok(Page::from_rows(list::ORGS, rows, page, total, |o| named_keyset(&o.name, o.num)))
    }

    /// Changes an organization. Site admins only.
    pub async fn update_org(
        &self,
        p: &Principal,
        id: OrgId,
        patch: OrganizationPatch,
    ) -> Result<Organization, CoreError> {
        self.retrying(|| self.update_org_once(p, id, patch.clone())).await
    }

    /// One run of [`Self::update_org`], in one transaction.
    async fn update_org_once(
        &self,
        p: &Principal,
        id: OrgId,
        patch: OrganizationPatch,
    ) -> Result<Organization, CoreError> {
        authz::require_admin(p)?;
        let mut tx = self.write().await?;
        let before = found(tx.get_org(id).await?, "organization")?;
        let mut org = before.clone();
        if let Some(n) = &patch.name {
            org.name = validate::name("name", n)?;
        }
        if let Some(s) = &patch.slug {
            org.slug = validate::slug("slug", s)?;
        }
        if org == before {
            return Ok(org);
        }
        org.updated_at = now();
        tx.update_org(&org).await?;
        tx.append_event(&event(
            p.actor(),
            "organization.updated",
            "organization",
            id,
            Some(audit::org(&before)),
            Some(audit::org(&org)),
        ))
        .await?;
        tx.commit().await?;
        Ok(org)
    }

    /// Deletes an organization that holds no groups or projects. Site admins
    /// only; the default organization stays. Errors: `Conflict` while in use.
    pub async fn delete_org(&self, p: &Principal, id: OrgId) -> Result<(), CoreError> {
        self.retrying(|| self.delete_org_once(p, id)).await
    }

    /// One run of [`Self::delete_org`], in one transaction.
    async fn delete_org_once(&self, p: &Principal, id: OrgId) -> Result<(), CoreError> {
        authz::require_admin(p)?;
        if id == DEFAULT_ORG_ID {
            return Err(CoreError::conflict("id", "the default organization cannot be deleted"));
        }
        let mut tx = self.write().await?;
        let org = found(tx.get_org(id).await?, "organization")?;
        tx.delete_org(id).await.map_err(|e| match CoreError::from(e) {
            CoreError::Conflict { .. } => CoreError::conflict("id", "the organization still holds groups or projects"),
            other => other,
        })?;
        tx.append_event(&event(p.actor(), "organization.deleted", "organization", id, Some(audit::org(&org)), None))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates a project. Site admins only. Errors: `Invalid`, `Conflict` (name), `NotFound` (organization).
    pub async fn create_project(&self, p: &Principal, new: NewProject) -> Result<Project, CoreError> {
        self.retrying(|| self.create_project_once(p, new.clone())).await
    }

    /// One run of [`Self::create_project`], in one transaction.
    async fn create_project_once(&self, p: &Principal, new: NewProject) -> Result<Project, CoreError> {
        authz::require_admin(p)?;
        let t = now();
        let mut project = Project {
            id: ProjectId::new(),
            num: 0,
            name: validate::name("name", &new.name)?,
            description: validate::optional_text("description", new.description.as_deref())?,
            org: new.org.unwrap_or(DEFAULT_ORG_ID),
            attributes: validate::attributes("attributes", new.attributes)?,
            created_at: t,
            updated_at: t,
        };
        let mut tx = self.write().await?;
        found(tx.get_org(project.org).await?, "organization")?;
        if tx.get_project_by_name(&project.name).await?.is_some() {
            return Err(CoreError::conflict("name", "a project with this name exists"));
        }
        project.num = tx.insert_project(&project).await?;
        tx.append_event(&event(
            p.actor(),
            "project.created",
            "project",
            project.id,
            None,
            Some(audit::project(&project)),
        ))
        .await?;
        tx.commit().await?;
        Ok(project)
    }

    pub async fn get_project(&self, _p: &Principal, id: ProjectId) -> Result<Project, CoreError> {
        found(self.read().await?.get_project(id).await?, "project")
    }

    pub async fn list_projects(&self, _p: &Principal, page: &PageRequest) -> Result<Page<Project>, CoreError> {
        let mut tx = self.read().await?;
        let rows = tx.list_projects(&named_spec(page)).await?;
        let total = tx.count(Counter::Projects).await?;
        Ok(Page::from_rows(list::PROJECTS, rows, page, total, |p| named_keyset(&p.name, p.num)))
    }

    /// Changes a project. Site admins only.
    pub async fn update_project(
        &self,
        p: &Principal,
        id: ProjectId,
        patch: ProjectPatch,
    ) -> Result<Project, CoreError> {
        self.retrying(|| self.update_project_once(p, id, patch.clone())).await
    }

    /// One run of [`Self::update_project`], in one transaction.
    async fn update_project_once(
        &self,
        p: &Principal,
        id: ProjectId,
        patch: ProjectPatch,
    ) -> Result<Project, CoreError> {
        authz::require_admin(p)?;
        let mut tx = self.write().await?;
        let before = found(tx.get_project(id).await?, "project")?;
        let mut project = before.clone();
        if let Some(n) = &patch.name {
            project.name = validate::name("name", n)?;
        }
        if let Some(d) = &patch.description {
            project.description = validate::optional_text("description", d.as_deref())?;
        }
        if let Some(a) = &patch.attributes {
            project.attributes = validate::attributes("attributes", a.clone())?;
        }
        if project == before {
            return Ok(project);
        }
        project.updated_at = now();
        tx.update_project(&project).await?;
        tx.append_event(&event(
            p.actor(),
            "project.updated",
            "project",
            id,
            Some(audit::project(&before)),
            Some(audit::project(&project)),
        ))
        .await?;
        tx.commit().await?;
        Ok(project)
    }

    /// Deletes a project and its bindings. Site admins only.
    pub async fn delete_project(&self, p: &Principal, id: ProjectId) -> Result<(), CoreError> {
        self.retrying(|| self.delete_project_once(p, id)).await
    }

    /// One run of [`Self::delete_project`], in one transaction.
    async fn delete_project_once(&self, p: &Principal, id: ProjectId) -> Result<(), CoreError> {
        let mut tx = self.write().await?;
        delete_project_in(&mut tx, p, id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a project as [`Directory::delete_project`] and records the
    /// deletion as a finished job, in one transaction.
    pub async fn delete_project_as_job(&self, p: &Principal, id: ProjectId, job: JobSpec) -> Result<Job, CoreError> {
        self.retrying(|| self.delete_project_as_job_once(p, id, job.clone())).await
    }

    /// One run of [`Self::delete_project_as_job`], in one transaction.
    async fn delete_project_as_job_once(&self, p: &Principal, id: ProjectId, job: JobSpec) -> Result<Job, CoreError> {
        let mut tx = self.write().await?;
        delete_project_in(&mut tx, p, id).await?;
        let job = insert_job(&mut tx, p, job).await?;
        tx.commit().await?;
        Ok(job)
    }

    /// Looks a project up by name, ignoring case.
    pub async fn get_project_by_name(&self, _p: &Principal, name: &str) -> Result<Project, CoreError> {
        found(self.read().await?.get_project_by_name(name).await?, "project")
    }

    /// Gives a user or group a role in a project, replacing any role it held
    /// there (idempotent). Site admins only. Returns the binding and whether
    /// it changed.
    pub async fn put_project_binding(
        &self,
        p: &Principal,
        project: ProjectId,
        principal: Grantee,
        role: &str,
    ) -> Result<(ProjectBinding, bool), CoreError> {
        self.retrying(|| self.put_project_binding_once(p, project, principal, role)).await
    }

    /// One run of [`Self::put_project_binding`], in one transaction.
    async fn put_project_binding_once(
        &self,
        p: &Principal,
        project: ProjectId,
        principal: Grantee,
        role: &str,
    ) -> Result<(ProjectBinding, bool), CoreError> {
        authz::require_admin(p)?;
        let role = project_role(role)?;
        let mut tx = self.write().await?;
        found(tx.get_project(project).await?, "project")?;
        principal_exists(&mut tx, p, principal).await?;
        let binding = ProjectBinding { project, principal, num: 0, role, created_at: now() };
        let changed = bind(&mut tx, p, &binding).await?;
        if changed {
            tx.commit().await?;
        }
        Ok((binding, changed))
    }

    /// Takes a user or group out of a project. Site admins only. Errors:
    /// `NotFound` when it holds no role there.
    pub async fn remove_project_binding(
        &self,
        p: &Principal,
        project: ProjectId,
        principal: Grantee,
    ) -> Result<(), CoreError> {
        self.retrying(|| self.remove_project_binding_once(p, project, principal)).await
    }

    /// One run of [`Self::remove_project_binding`], in one transaction.
    async fn remove_project_binding_once(
        &self,
        p: &Principal,
        project: ProjectId,
        principal: Grantee,
    ) -> Result<(), CoreError> {
        authz::require_admin(p)?;
        let mut tx = self.write().await?;
        found(tx.get_project(project).await?, "project")?;
        if !unbind(&mut tx, p, project, principal).await? {
            return Err(CoreError::NotFound { what: "project binding" });
        }
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the holders of some roles of a project, in one transaction:
    /// for each role, whoever holds it and is not listed loses it, and each
    /// listed principal holds it (leaving any other role it had). A principal
    /// listed under two roles is refused. Site admins only. Returns the
    /// number of bindings that changed. Errors: `Invalid`, `NotFound`
    /// (project, user or group).
    pub async fn set_project_roles(
        &self,
        p: &Principal,
        project: ProjectId,
        roles: Vec<RoleHolders>,
    ) -> Result<usize, CoreError> {
        self.retrying(|| self.set_project_roles_once(p, project, roles.clone())).await
    }

    /// One run of [`Self::set_project_roles`], in one transaction.
    async fn set_project_roles_once(
        &self,
        p: &Principal,
        project: ProjectId,
        roles: Vec<RoleHolders>,
    ) -> Result<usize, CoreError> {
        authz::require_admin(p)?;
        let plans = vec![(project, RolePlan::of(&roles)?)];
        let mut tx = self.write().await?;
        let changed = apply_role_plans(&mut tx, p, plans).await?;
        if changed > 0 {
            tx.commit().await?;
        }
        Ok(changed)
    }

    /// Replaces role holders in several projects (as
    /// [`Directory::set_project_roles`] for each), all or nothing: every
    /// change is validated before anything is written, and all of them are
    /// written in one transaction with the finished job that records them
    /// (its result: `{"changed": <bindings changed>}`). Site admins only.
    pub async fn set_project_roles_as_job(
        &self,
        p: &Principal,
        changes: Vec<(ProjectId, Vec<RoleHolders>)>,
        job: JobSpec,
    ) -> Result<Job, CoreError> {
        self.retrying(|| self.set_project_roles_as_job_once(p, &changes, job.clone())).await
    }

    /// One run of [`Self::set_project_roles_as_job`], in one transaction.
    async fn set_project_roles_as_job_once(
        &self,
        p: &Principal,
        changes: &[(ProjectId, Vec<RoleHolders>)],
        mut job: JobSpec,
    ) -> Result<Job, CoreError> {
        authz::require_admin(p)?;
        let plans = changes
            .iter()
            .map(|(project, roles)| Ok((*project, RolePlan::of(roles)?)))
            .collect::<Result<Vec<_>, CoreError>>()?;
        let mut tx = self.write().await?;
        let changed = apply_role_plans(&mut tx, p, plans).await?;
        job.result = Some(serde_json::json!({ "changed": changed }));
        let job = insert_job(&mut tx, p, job).await?;
        tx.commit().await?;
        Ok(job)
    }

    /// The users and groups bound to a project, with their roles, in the
    /// order they were bound.
    pub async fn list_project_bindings(
        &self,
        _p: &Principal,
        project: ProjectId,
        page: &PageRequest,
    ) -> Result<Page<ProjectBinding>, CoreError> {
        let mut tx = self.read().await?;
        found(tx.get_project(project).await?, "project")?;
        let after = page.after.as_ref().map_or(0, |k| k.num);
        let rows = tx.list_bindings(project, after, page.limit + 1).await?;
        let total = tx.count_bindings(project).await?;
        Ok(Page::from_rows(list::BINDINGS, rows, page, total, |b| Keyset { key: String::new(), num: b.num }))
    }
}

impl Directory {
    /// The projects a group the caller may see holds a role in, with that
    /// role, in the order they were bound: a page of at most `limit`
    /// (the first ones; the second value tells whether there are more).
    /// Errors: `NotFound` (the group, or one the caller may not see).
    pub async fn group_projects(
        &self,
        p: &Principal,
        group: GroupId,
        limit: u32,
    ) -> Result<(Vec<(Project, String)>, bool), CoreError> {
        let mut tx = self.read().await?;
        visible_group(&mut tx, p, group).await?;
        let mut rows = tx.bindings_of(Grantee::Group(group), 0, limit + 1).await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let mut out = Vec::with_capacity(rows.len());
        for b in rows {
            if let Some(project) = tx.get_project(b.project).await? {
                out.push((project, b.role));
            }
        }
        Ok((out, more))
    }
}

/// Refuses a binding to a user or group that does not exist (or, for a
/// group, that the caller may not see).
async fn principal_exists(tx: &mut Box<dyn Tx>, p: &Principal, principal: Grantee) -> Result<(), CoreError> {
    match principal {
        Grantee::User(u) => found(tx.get_user(u).await?, "user").map(drop),
        Grantee::Group(g) => visible_group(tx, p, g).await.map(drop),
    }
}

/// Writes a binding with its event; false when it already held that role.
async fn bind(tx: &mut Box<dyn Tx>, p: &Principal, binding: &ProjectBinding) -> Result<bool, CoreError> {
    let previous = tx.put_binding(binding).await?;
    if previous.as_deref() == Some(binding.role.as_str()) {
        return Ok(false);
    }
    let before = previous.map(|r| audit::binding(&ProjectBinding { role: r, ..binding.clone() }));
    tx.append_event(&event(
        p.actor(),
        "project.bound",
        "project",
        binding.project,
        before,
        Some(audit::binding(binding)),
    ))
    .await?;
    Ok(true)
}

/// Removes a binding with its event; false when there was none.
async fn unbind(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    project: ProjectId,
    principal: Grantee,
) -> Result<bool, CoreError> {
    if !tx.delete_binding(project, principal).await? {
        return Ok(false);
    }
    let before = audit::principal_of(project, principal);
    tx.append_event(&event(p.actor(), "project.unbound", "project", project, Some(before), None)).await?;
    Ok(true)
}

async fn delete_project_in(tx: &mut Box<dyn Tx>, p: &Principal, id: ProjectId) -> Result<(), CoreError> {
    authz::require_admin(p)?;
    let project = found(tx.get_project(id).await?, "project")?;
    tx.delete_project(id).await?;
    tx.append_event(&event(p.actor(), "project.deleted", "project", id, Some(audit::project(&project)), None)).await?;
    Ok(())
}

/// What a replacement of a project's role holders asks for, validated:
/// which roles are replaced, and the one role each listed principal holds.
struct RolePlan {
    replaced: Vec<String>,
    wanted: Vec<(Grantee, String)>,
}

impl RolePlan {
    fn of(roles: &[RoleHolders]) -> Result<Self, CoreError> {
        let mut plan = RolePlan { replaced: Vec::new(), wanted: Vec::new() };
        for holders in roles {
            let role = project_role(&holders.role)?;
            if plan.replaced.contains(&role) {
                return Err(CoreError::invalid("role", format!("role {role} is listed twice")));
            }
            for principal in &holders.principals {
                match plan.wanted.iter().find(|(g, _)| g == principal) {
                    Some((_, r)) if *r != role => {
                        return Err(CoreError::invalid(
                            "principals",
                            "a user or group can hold only one role in a project",
                        ));
                    }
                    Some(_) => {}
                    None => plan.wanted.push((*principal, role.clone())),
                }
            }
            plan.replaced.push(role);
        }
        Ok(plan)
    }
}

/// Checks that every project and principal exists (before writing
/// anything), then applies each plan; returns the bindings changed.
async fn apply_role_plans(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    plans: Vec<(ProjectId, RolePlan)>,
) -> Result<usize, CoreError> {
    for (project, plan) in &plans {
        found(tx.get_project(*project).await?, "project")?;
        for (principal, _) in &plan.wanted {
            principal_exists(tx, p, *principal).await?;
        }
    }
    let mut changed = 0;
    for (project, plan) in plans {
        let mut after = 0;
        let mut current = Vec::new();
        loop {
            let rows = tx.list_bindings(project, after, 1000).await?;
            let Some(last) = rows.last() else { break };
            after = last.num;
            current.extend(rows);
        }
        for b in current.iter().filter(|b| plan.replaced.contains(&b.role)) {
            if !plan.wanted.iter().any(|(g, _)| *g == b.principal) && unbind(tx, p, project, b.principal).await? {
                changed += 1;
            }
        }
        let t = now();
        for (principal, role) in plan.wanted {
            let binding = ProjectBinding { project, principal, num: 0, role, created_at: t };
            if bind(tx, p, &binding).await? {
                changed += 1;
            }
        }
    }
    Ok(changed)
}
