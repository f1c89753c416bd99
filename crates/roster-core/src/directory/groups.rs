//! Groups: created by site admins, visible to their members and to those
//! they are shared with, renamed by writers, deleted by managers.

use super::jobs::{JobSpec, insert_job};
use super::steps::{
    MemberChange, changeable_group, check_version, grant_role, insert_membership, refuse_all_users_group, revoke_role,
    save_group, visible_group,
};
use super::{Directory, audit, event, found, now};
use crate::authz::{self, Principal, Viewer};
use crate::cursor::{Keyset, Page, PageRequest, list};
use crate::error::CoreError;
use crate::ids::{GroupId, OrgId, RoleId, UserId};
use crate::model::{DEFAULT_ORG_ID, Group, Job, Member, Role, ShareLevel, SourceType};
use crate::store::{Counter, GroupOrder, GroupScope, ListSpec, NumKind, Tx};
use crate::validate;

pub use crate::attributes::Attributes;

#[derive(Clone, Debug)]
pub struct NewGroup {
    pub name: String,
    pub unique_id: Option<String>,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub org: Option<OrgId>,
    pub source_type: SourceType,
    pub attributes: Attributes,
    /// Roles granted to the group from the start.
    pub roles: Vec<RoleId>,
    /// Users who join the group as members in the same transaction (each
    /// must exist).
    pub members: Vec<UserId>,
}

impl NewGroup {
    pub fn named(name: impl Into<String>, source_type: SourceType) -> Self {
        Self {
            name: name.into(),
            unique_id: None,
            slug: None,
            description: None,
            org: None,
            source_type,
            attributes: Attributes::new(),
            roles: Vec::new(),
            members: Vec::new(),
        }
    }
}

/// A partial update: `None` leaves a field alone; `Some(None)` clears it.
/// `attributes` is a merge patch ([`crate::attributes::merge`]).
#[derive(Clone, Debug, Default)]
pub struct GroupPatch {
    pub name: Option<String>,
    pub unique_id: Option<Option<String>>,
    pub slug: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub org: Option<OrgId>,
    pub attributes: Option<Attributes>,
    /// The complete set of roles the group should hold.
    pub roles: Option<Vec<RoleId>>,
    pub if_version: Option<i64>,
}

/// How to narrow and order a list of groups; text is matched ignoring case.
#[derive(Clone, Debug, Default)]
pub struct GroupFilter {
    /// A prefix of the name.
    pub prefix: Option<String>,
    /// A substring of the name.
    pub contains: Option<String>,
    /// Only groups the caller holds at least this share level on.
    pub shared_at_least: Option<ShareLevel>,
    /// Only groups that any of these users is directly in.
    pub members_any: Vec<UserId>,
    /// Only groups that any of these users is in at any depth.
    pub members_at_any_depth: Vec<UserId>,
    /// Only groups that any of these groups is directly nested in.
    pub children_any: Vec<GroupId>,
    pub org: Option<OrgId>,
    pub order: GroupOrder,
    pub descending: bool,
}

pub(crate) fn group_keyset(g: &Group) -> Keyset {
    Keyset { key: validate::fold(&g.name), num: g.num }
}

impl Directory {
    /// Creates a group. Site admins only. Errors: `Invalid`, `Conflict`
    /// (unique id taken), `NotFound` (organization), `Forbidden`.
    pub async fn create_group(&self, p: &Principal, new: NewGroup) -> Result<Group, CoreError> {
        self.retrying(|| self.create_group_once(p, new.clone())).await
    }

    /// One run of [`Self::create_group`], in one transaction.
    async fn create_group_once(&self, p: &Principal, new: NewGroup) -> Result<Group, CoreError> {
        authz::require_admin(p)?;
        let mut tx = self.write().await?;
        let group = insert_new_group(&mut tx, p, new).await?;
        tx.commit().await?;
        Ok(group)
    }

    /// Reads a group the caller may see. Errors: `NotFound`.
    pub async fn get_group(&self, p: &Principal, id: GroupId) -> Result<Group, CoreError> {
        // The group, then (for others than site admins) the caller's access
        // to it: two reads that need no common snapshot.
        let mut tx = self.read_single().await?;
        Ok(visible_group(&mut tx, p, id).await?.0)
    }

    /// The roles granted to a group the caller may see.
    pub async fn group_roles(&self, p: &Principal, id: GroupId) -> Result<Vec<Role>, CoreError> {
        let mut tx = self.read().await?;
        visible_group(&mut tx, p, id).await?;
        Ok(tx.group_roles(id).await?)
    }

    /// Lists the groups the caller may see, ordered by name, optionally by
    /// case-insensitive name prefix or substring.
    pub async fn list_groups(
        &self,
        p: &Principal,
        filter: &GroupFilter,
        page: &PageRequest,
    ) -> Result<Page<Group>, CoreError> {
        self.list_groups_for(Viewer::Principal(p), filter, page).await
    }

    /// [`Self::list_groups`] for a principal or the public view (every
    /// group; a share level narrows nothing there).
    pub(crate) async fn list_groups_for(
        &self,
        viewer: Viewer<'_>,
        filter: &GroupFilter,
        page: &PageRequest,
    ) -> Result<Page<Group>, CoreError> {
        let (visible_to, shared_with) = match viewer {
            Viewer::Principal(p) => (
                if authz::sees_everything(p) { None } else { Some(p.user) },
                // A site admin holds every share level on every group, so a
                // level narrows nothing for them.
                filter.shared_at_least.filter(|_| !authz::holds_every_share(p)).map(|level| (p.user, level)),
            ),
            Viewer::Public => (None, None),
        };
        let mut spec = ListSpec {
            after: page.after.clone(),
            limit: page.limit + 1,
            offset: page.offset,
            prefix: validate::search("prefix", filter.prefix.as_deref())?,
            contains: validate::search("q", filter.contains.as_deref())?,
        };
        let scope = GroupScope {
            visible_to,
            shared_with,
            members_any: filter.members_any.clone(),
            members_at_any_depth: filter.members_at_any_depth.clone(),
            children_any: filter.children_any.clone(),
            org: filter.org,
            order: filter.order,
            descending: filter.descending,
        };
        // Offset walks resume from the keyset position of the last page
        // (only the name order has keyset positions).
        let keyed = scope.order == GroupOrder::Name && !scope.descending;
        let offsets_scope = format!("groups|{:?}|{:?}|{scope:?}", spec.prefix, spec.contains);
        let req = if keyed { self.offsets.resolve(&offsets_scope, page) } else { page.clone() };
        spec.after = req.after.clone();
        spec.offset = req.offset;
        let mut tx = self.read().await?;
        let rows = tx.list_groups(&spec, &scope).await?;
        let total = if !req.total {
            -1
        } else if spec.is_filtered() || scope.is_filtered() {
            tx.count_groups_matching(&spec, &scope).await?
        } else {
            tx.count(Counter::Groups).await?
        };
        let out = Page::from_rows(list::GROUPS, rows, &req, total, group_keyset);
        if keyed {
            self.offsets.remember(&offsets_scope, page, out.items.len(), out.items.last().map(group_keyset));
        }
        Ok(out)
    }

    /// Every group `user` is directly in that the caller may see: all of
    /// them for the user and site admins, the visible ones for anyone else
    /// (front-ends that render a user with its groups). A page at a time
    /// underneath; none is left out.
    pub async fn visible_groups_of(&self, p: &Principal, user: UserId) -> Result<Vec<Group>, CoreError> {
        self.visible_groups_of_for(Viewer::Principal(p), user).await
    }

    /// [`Self::visible_groups_of`] for a principal or the public view.
    pub(crate) async fn visible_groups_of_for(
        &self,
        viewer: Viewer<'_>,
        user: UserId,
    ) -> Result<Vec<Group>, CoreError> {
        let filter = GroupFilter { members_any: vec![user], ..GroupFilter::default() };
        let filter = &filter;
        crate::cursor::collect_all(list::GROUPS, |req| async move { self.list_groups_for(viewer, filter, &req).await })
            .await
    }

    /// How many direct members of each group are active users, for groups
    /// the caller may see (others are left out).
    pub async fn active_member_counts(
        &self,
        p: &Principal,
        groups: &[GroupId],
    ) -> Result<Vec<(GroupId, i64)>, CoreError> {
        let mut tx = self.read().await?;
        let mut visible = Vec::with_capacity(groups.len());
        for g in groups {
            if authz::sees_everything(p) || authz::can_read_group(p, &tx.group_access(*g, p.user).await?) {
                visible.push(*g);
            }
        }
        Ok(tx.count_active_members(&visible).await?)
    }

    /// The groups that `group` holds a share on, with the level: what the
    /// members of `group` may reach through it.
    pub async fn groups_shared_with_group(
        &self,
        p: &Principal,
        group: GroupId,
    ) -> Result<Vec<(Group, ShareLevel)>, CoreError> {
        let mut tx = self.read().await?;
        visible_group(&mut tx, p, group).await?;
        let shares = tx.shares_held_by_group(group).await?;
        let ids: Vec<GroupId> = shares.iter().map(|s| s.group).collect();
        let groups: std::collections::HashMap<GroupId, Group> =
            tx.get_groups(&ids).await?.into_iter().map(|g| (g.id, g)).collect();
        Ok(shares.into_iter().filter_map(|s| groups.get(&s.group).cloned().map(|g| (g, s.level))).collect())
    }

    /// The id of the entity of `kind` numbered `num` (front-ends with
    /// integer ids). Errors: `NotFound`.
    pub async fn id_by_num(&self, kind: NumKind, num: i64) -> Result<uuid::Uuid, CoreError> {
        let what = match kind {
            NumKind::User => "user",
            NumKind::Group => "group",
            NumKind::Role => "role",
            NumKind::Organization => "organization",
            NumKind::Membership => "membership",
        };
        found(self.read().await?.id_by_num(kind, num).await?, what)
    }

    /// The integer `num` of each entity of `kind` among `ids` that exists.
    pub async fn nums_of(
        &self,
        kind: NumKind,
        ids: &[uuid::Uuid],
    ) -> Result<std::collections::HashMap<uuid::Uuid, i64>, CoreError> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        Ok(self.read().await?.nums_of(kind, ids).await?.into_iter().collect())
    }

    /// Changes a group. Site admins and holders of a write share. Errors:
    /// `Invalid`, `NotFound`, `Conflict`, `Stale`, `Forbidden`.
    pub async fn update_group(&self, p: &Principal, id: GroupId, patch: GroupPatch) -> Result<Group, CoreError> {
        self.retrying(|| self.update_group_once(p, id, patch.clone())).await
    }

    /// One run of [`Self::update_group`], in one transaction.
    async fn update_group_once(&self, p: &Principal, id: GroupId, patch: GroupPatch) -> Result<Group, CoreError> {
        let mut tx = self.write().await?;
        let (group, changed) = apply_group_patch(&mut tx, p, id, patch).await?;
        if changed {
            tx.commit().await?;
        }
        Ok(group)
    }

    /// Deletes a group with its memberships, nesting edges, shares, role
    /// grants and project bindings, if it is still at `if_version` when
    /// given (checked in the same transaction). Site admins and holders of
    /// a manage share. Errors: `NotFound`, `Stale`, `Forbidden`.
    pub async fn delete_group(&self, p: &Principal, id: GroupId, if_version: Option<i64>) -> Result<(), CoreError> {
        self.retrying(|| self.delete_group_once(p, id, if_version)).await
    }

    /// One run of [`Self::delete_group`], in one transaction.
    async fn delete_group_once(&self, p: &Principal, id: GroupId, if_version: Option<i64>) -> Result<(), CoreError> {
        let mut tx = self.write().await?;
        delete_group_in(&mut tx, p, id, if_version).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a group as [`Directory::delete_group`] and records the
    /// deletion as a finished job, in one transaction (for platforms whose
    /// clients poll a job).
    pub async fn delete_group_as_job(&self, p: &Principal, id: GroupId, job: JobSpec) -> Result<Job, CoreError> {
        self.retrying(|| self.delete_group_as_job_once(p, id, job.clone())).await
    }

    /// One run of [`Self::delete_group_as_job`], in one transaction.
    async fn delete_group_as_job_once(&self, p: &Principal, id: GroupId, job: JobSpec) -> Result<Job, CoreError> {
        let mut tx = self.write().await?;
        delete_group_in(&mut tx, p, id, None).await?;
        let job = insert_job(&mut tx, p, job).await?;
        tx.commit().await?;
        Ok(job)
    }

    /// Grants a role to a group (idempotent). Site admins only.
    pub async fn grant_group_role(&self, p: &Principal, group: GroupId, role: RoleId) -> Result<(), CoreError> {
        self.retrying(|| self.grant_group_role_once(p, group, role)).await
    }

    /// One run of [`Self::grant_group_role`], in one transaction.
    async fn grant_group_role_once(&self, p: &Principal, group: GroupId, role: RoleId) -> Result<(), CoreError> {
        authz::require_admin(p)?;
        super::steps::refuse_all_users_group(group)?;
        let mut tx = self.write().await?;
        found(tx.get_group(group).await?, "group")?;
        found(tx.get_role(role).await?, "role")?;
        if grant_role(&mut tx, p, group, role).await? {
            tx.commit().await?;
        }
        Ok(())
    }

    /// Takes a role from a group. Site admins only. Errors: `NotFound` when
    /// the group does not hold the role.
    pub async fn revoke_group_role(&self, p: &Principal, group: GroupId, role: RoleId) -> Result<(), CoreError> {
        self.retrying(|| self.revoke_group_role_once(p, group, role)).await
    }

    /// One run of [`Self::revoke_group_role`], in one transaction.
    async fn revoke_group_role_once(&self, p: &Principal, group: GroupId, role: RoleId) -> Result<(), CoreError> {
        authz::require_admin(p)?;
        super::steps::refuse_all_users_group(group)?;
        let mut tx = self.write().await?;
        found(tx.get_group(group).await?, "group")?;
        if !revoke_role(&mut tx, p, group, role).await? {
            return Err(CoreError::NotFound { what: "role grant" });
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Validates and inserts a new group with its roles and events, inside the
/// caller's transaction (the caller has authorized the creation).
pub(crate) async fn insert_new_group(tx: &mut Box<dyn Tx>, p: &Principal, new: NewGroup) -> Result<Group, CoreError> {
    let name = validate::group_name(&new.name)?;
    let slug = match new.slug.as_deref() {
        Some(s) => validate::slug("slug", s)?,
        None => validate::slugify(&name),
    };
    let mut group = Group {
        unique_id: validate::optional_name("unique_id", new.unique_id.as_deref())?,
        slug: Some(slug),
        description: validate::optional_text("description", new.description.as_deref())?,
        attributes: validate::attributes("attributes", new.attributes)?,
        ..Group::new(name, new.org.unwrap_or(DEFAULT_ORG_ID), new.source_type, p.user, now())
    };
    if !tx.org_exists(group.org).await? {
        return Err(CoreError::NotFound { what: "organization" });
    }
    for r in &new.roles {
        found(tx.get_role(*r).await?, "role")?;
    }
    group.num = tx.insert_group(&group).await?;
    tx.append_event(&event(p.actor(), "group.created", "group", group.id, None, Some(audit::group(&group)))).await?;
    for r in &new.roles {
        grant_role(tx, p, group.id, *r).await?;
    }
    let mut members = new.members;
    members.sort_unstable();
    members.dedup();
    for u in &members {
        found(tx.get_user(*u).await?, "user")?;
        insert_membership(tx, p, group.id, Member::User(*u), MemberChange::default()).await?;
    }
    if !members.is_empty()
        && let Some(g) = tx.get_group(group.id).await?
    {
        group = g;
    }
    Ok(group)
}

/// Applies a patch to a group inside the caller's transaction, with its
/// authorization, version check and events. Returns the group and whether
/// anything was written (the caller commits).
pub(crate) async fn apply_group_patch(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    id: GroupId,
    patch: GroupPatch,
) -> Result<(Group, bool), CoreError> {
    let (before, access) = changeable_group(tx, p, id).await?;
    authz::require(authz::can_write_group(p, &access), "requires write access to the group")?;
    check_version("group", before.version, patch.if_version)?;
    let mut group = before.clone();
    if let Some(name) = &patch.name {
        group.name = validate::group_name(name)?;
    }
    if let Some(v) = &patch.unique_id {
        group.unique_id = validate::optional_name("unique_id", v.as_deref())?;
    }
    if let Some(v) = &patch.slug {
        group.slug = match v {
            Some(s) => Some(validate::slug("slug", s)?),
            None => Some(validate::slugify(&group.name)),
        };
    }
    if let Some(v) = &patch.description {
        group.description = validate::optional_text("description", v.as_deref())?;
    }
    if let Some(org) = patch.org {
        if !tx.org_exists(org).await? {
            return Err(CoreError::NotFound { what: "organization" });
        }
        group.org = org;
    }
    if let Some(changes) = patch.attributes {
        crate::attributes::merge(&mut group.attributes, changes);
        group.attributes = validate::attributes("attributes", group.attributes)?;
    }
    let mut roles_changed = false;
    if let Some(roles) = &patch.roles {
        let held: Vec<RoleId> = tx.group_roles(id).await?.into_iter().map(|r| r.id).collect();
        // Granting and revoking roles is for site admins; restating the
        // roles the group holds (a whole-group PUT) changes nothing.
        if roles.iter().any(|r| !held.contains(r)) || held.iter().any(|r| !roles.contains(r)) {
            authz::require_admin(p)?;
        }
        for r in roles.iter().filter(|r| !held.contains(r)) {
            found(tx.get_role(*r).await?, "role")?;
            roles_changed |= grant_role(tx, p, id, *r).await?;
        }
        for r in held.iter().filter(|r| !roles.contains(r)) {
            roles_changed |= revoke_role(tx, p, id, *r).await?;
        }
    }
    if group == before {
        return Ok((group, roles_changed));
    }
    let group = save_group(tx, p, &before, group).await?;
    Ok((group, true))
}

/// Deletes a group with its event, inside the caller's transaction, after
/// its authorization and version check.
async fn delete_group_in(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    id: GroupId,
    if_version: Option<i64>,
) -> Result<(), CoreError> {
    // Lock order: the graph before the group, whose nesting edges go with it.
    refuse_all_users_group(id)?;
    tx.lock_graph().await?;
    let (group, access) = changeable_group(tx, p, id).await?;
    authz::require(authz::can_manage_group(p, &access), "requires manage access to the group")?;
    check_version("group", group.version, if_version)?;
    let watch = super::watched::before_group_deleted(tx, id).await?;
    tx.delete_group(id).await?;
    tx.append_event(&event(p.actor(), "group.deleted", "group", id, Some(audit::group(&group)), None)).await?;
    super::watched::after(tx, p, watch, serde_json::json!({ "deleted_group_id": id.to_string() })).await?;
    Ok(())
}
