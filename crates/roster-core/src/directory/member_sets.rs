//! Many membership changes to one group at once, in one transaction, at a
//! cost proportional to the members named (never to the size of the group,
//! except when the whole member list is replaced). Members are named by id
//! and may be users or groups (nesting, acyclic). Identity providers push
//! memberships this way (SCIM PATCH and PUT of a group).

use std::collections::{HashMap, HashSet};

use super::Directory;
use super::groups::{apply_group_patch, insert_new_group};
use super::steps::{
    MemberChange, changeable_group, check_version, delete_membership, insert_membership, readable_group, refuse_cycle,
    save_group, visible_group,
};
use crate::authz::{self, GroupAccess, Principal, Viewer};
use crate::error::CoreError;
use crate::ids::{GroupId, UserId};
use crate::model::{Group, Member, Membership, permission};
use crate::store::Tx;

/// How many ids one store lookup names at most.
const CHUNK: usize = 500;

/// The membership changes to make to one group.
///
/// With `replace`, the group ends up with exactly the members in `add`
/// (every other member is removed). Without it, `add` are put in
/// (idempotent) and `remove` taken out (a member that is not there is no
/// error); no other member is touched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberEdit {
    pub replace: bool,
    pub add: Vec<uuid::Uuid>,
    pub remove: Vec<uuid::Uuid>,
}

impl MemberEdit {
    pub fn is_empty(&self) -> bool {
        !self.replace && self.add.is_empty() && self.remove.is_empty()
    }
}

/// What a [`MemberEdit`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberEditOutcome {
    pub added: usize,
    pub removed: usize,
    /// Ids named in `add` or `remove` that are neither a user nor a group.
    pub unknown: Vec<uuid::Uuid>,
}

impl MemberEditOutcome {
    pub fn changed(&self) -> bool {
        self.added + self.removed > 0
    }
}

fn patch_is_empty(p: &super::GroupPatch) -> bool {
    p.name.is_none()
        && p.unique_id.is_none()
        && p.slug.is_none()
        && p.description.is_none()
        && p.org.is_none()
        && p.attributes.is_none()
        && p.roles.is_none()
}

impl Directory {
    /// Creates a group with its first members (users or groups), in one
    /// transaction. Site admins only. Unknown member ids are reported in the
    /// outcome, not refused. Errors: as [`Directory::create_group`].
    pub async fn create_group_with_members(
        &self,
        p: &Principal,
        new: super::NewGroup,
        members: Vec<uuid::Uuid>,
    ) -> Result<(Group, MemberEditOutcome), CoreError> {
        self.retrying(|| self.create_group_with_members_once(p, new.clone(), members.clone())).await
    }

    /// One run of [`Self::create_group_with_members`], in one transaction.
    async fn create_group_with_members_once(
        &self,
        p: &Principal,
        new: super::NewGroup,
        members: Vec<uuid::Uuid>,
    ) -> Result<(Group, MemberEditOutcome), CoreError> {
        authz::require_admin(p)?;
        let mut tx = self.write().await?;
        let group = insert_new_group(&mut tx, p, new).await?;
        let access = tx.group_access(group.id, p.user).await?;
        let edit = MemberEdit { replace: false, add: members, remove: Vec::new() };
        let outcome = apply_member_edit(&mut tx, p, group.id, &access, edit).await?;
        // The counters moved in the store; read them back before commit.
        let group = if outcome.changed() { super::found(tx.get_group(group.id).await?, "group")? } else { group };
        tx.commit().await?;
        Ok((group, outcome))
    }

    /// Changes a group's attributes and its members in one transaction. The
    /// patch needs write access (as [`Directory::update_group`]); adding and
    /// removing users needs `add_members` / `remove_members`, nesting needs
    /// `manage_children` (as [`Directory::put_member`] and
    /// [`Directory::add_child`]). A change of members bumps the group's
    /// version. `patch.if_version` guards the whole edit. Errors:
    /// `Invalid`, `NotFound`, `Conflict` (a cycle, a name taken), `Stale`,
    /// `Forbidden`.
    pub async fn edit_group(
        &self,
        p: &Principal,
        id: GroupId,
        patch: super::GroupPatch,
        edit: MemberEdit,
    ) -> Result<(Group, MemberEditOutcome), CoreError> {
        self.retrying(|| self.edit_group_once(p, id, patch.clone(), edit.clone())).await
    }

    /// One run of [`Self::edit_group`], in one transaction.
    async fn edit_group_once(
        &self,
        p: &Principal,
        id: GroupId,
        patch: super::GroupPatch,
        edit: MemberEdit,
    ) -> Result<(Group, MemberEditOutcome), CoreError> {
        let mut tx = self.write().await?;
        // Lock order: the graph before the group, when the edit may nest or
        // un-nest a group (ARCHITECTURE.md, "Concurrency").
        if edit.replace || names_a_group(&mut tx, edit.add.iter().chain(edit.remove.iter())).await? {
            tx.lock_graph().await?;
        }
        let (mut group, patched) = if patch_is_empty(&patch) {
            let (group, _) = changeable_group(&mut tx, p, id).await?;
            check_version("group", group.version, patch.if_version)?;
            (group, false)
        } else {
            apply_group_patch(&mut tx, p, id, patch).await?
        };
        let outcome = if edit.is_empty() {
            MemberEditOutcome::default()
        } else {
            let access = tx.group_access(id, p.user).await?;
            apply_member_edit(&mut tx, p, id, &access, edit).await?
        };
        if outcome.changed() && !patched {
            // Members are part of the group's representation: its version moves.
            group = save_group(&mut tx, p, &group.clone(), group).await?;
        }
        if outcome.changed() {
            // The counters moved in the store; read them back before commit.
            group = super::found(tx.get_group(id).await?, "group")?;
        }
        if patched || outcome.changed() {
            tx.commit().await?;
        }
        Ok((group, outcome))
    }

    /// The ids of every direct member of a group the caller may see (users
    /// and nested groups), in the order they joined: one query, no user rows.
    pub async fn member_refs(&self, p: &Principal, id: GroupId) -> Result<Vec<Member>, CoreError> {
        let mut tx = self.read().await?;
        visible_group(&mut tx, p, id).await?;
        Ok(tx.group_member_refs(id).await?)
    }

    /// The group whose unique id (a provider's external id) is `unique_id`,
    /// if the caller may see it. Errors: `NotFound`.
    pub async fn get_group_by_unique_id(&self, p: &Principal, unique_id: &str) -> Result<Group, CoreError> {
        let mut tx = self.read().await?;
        let g = super::found(tx.get_group_by_unique_id(unique_id).await?, "group")?;
        Ok(visible_group(&mut tx, p, g.id).await?.0)
    }

    /// The group named `name` (ignoring case), if the caller may see it.
    /// Errors: `NotFound`.
    pub async fn get_group_by_name(&self, p: &Principal, name: &str) -> Result<Group, CoreError> {
        self.get_group_by_name_for(Viewer::Principal(p), name).await
    }

    /// [`Self::get_group_by_name`] for a principal or the public view.
    pub(crate) async fn get_group_by_name_for(&self, viewer: Viewer<'_>, name: &str) -> Result<Group, CoreError> {
        let mut tx = self.read().await?;
        let g = super::found(tx.get_group_by_name(name).await?, "group")?;
        readable_group(&mut tx, viewer, g.id).await
    }
}

/// Sorts named ids into users, groups and unknown ids (a few batched lookups).
async fn resolve(
    tx: &mut Box<dyn Tx>,
    ids: &[uuid::Uuid],
) -> Result<(HashMap<uuid::Uuid, Member>, Vec<uuid::Uuid>), CoreError> {
    let mut kinds = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let users: Vec<UserId> = chunk.iter().map(|u| UserId(*u)).collect();
        for u in tx.get_users(&users).await? {
            kinds.insert(u.id.0, Member::User(u.id));
        }
        let rest: Vec<GroupId> = chunk.iter().filter(|u| !kinds.contains_key(*u)).map(|u| GroupId(*u)).collect();
        for g in tx.get_groups(&rest).await? {
            kinds.insert(g.id.0, Member::Group(g.id));
        }
    }
    let unknown = ids.iter().filter(|u| !kinds.contains_key(*u)).copied().collect();
    Ok((kinds, unknown))
}

/// Whether any of `ids` is a group (unlocked reads, before any lock is taken).
async fn names_a_group(tx: &mut Box<dyn Tx>, ids: impl Iterator<Item = &uuid::Uuid>) -> Result<bool, CoreError> {
    let ids: Vec<GroupId> = ids.map(|u| GroupId(*u)).collect();
    for chunk in ids.chunks(CHUNK) {
        if !tx.get_groups(chunk).await?.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

fn dedup(ids: Vec<uuid::Uuid>) -> Vec<uuid::Uuid> {
    let mut seen = HashSet::with_capacity(ids.len());
    ids.into_iter().filter(|u| seen.insert(*u)).collect()
}

/// Applies `edit` to `group` inside the caller's transaction, one event per
/// membership made or removed.
async fn apply_member_edit(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    group: GroupId,
    access: &GroupAccess,
    edit: MemberEdit,
) -> Result<MemberEditOutcome, CoreError> {
    let add = dedup(edit.add);
    let add_set: HashSet<uuid::Uuid> = add.iter().copied().collect();
    let remove: Vec<uuid::Uuid> = dedup(edit.remove).into_iter().filter(|u| !add_set.contains(u)).collect();
    let named: Vec<uuid::Uuid> = add.iter().chain(remove.iter()).copied().collect();
    let (kinds, unknown) = resolve(tx, &named).await?;
    let wanted: Vec<Member> = add.iter().filter_map(|u| kinds.get(u).copied()).collect();

    // The memberships to delete, and which of the wanted ones exist already.
    let (existing, to_delete): (HashSet<Member>, Vec<Membership>) = if edit.replace {
        let current = tx.group_member_refs(group).await?;
        let wanted_set: HashSet<Member> = wanted.iter().copied().collect();
        let gone: Vec<Member> = current.iter().filter(|m| !wanted_set.contains(m)).copied().collect();
        (current.into_iter().collect(), find_all(tx, group, &gone).await?)
    } else {
        let present: HashSet<Member> = find_all(tx, group, &wanted).await?.into_iter().map(|m| m.member).collect();
        let gone: Vec<Member> = remove.iter().filter_map(|u| kinds.get(u).copied()).collect();
        (present, find_all(tx, group, &gone).await?)
    };
    let to_add: Vec<Member> = wanted.into_iter().filter(|m| !existing.contains(m)).collect();

    let is_user = |m: &Member| matches!(m, Member::User(_));
    let needs = [
        (to_add.iter().any(is_user), permission::ADD_MEMBERS),
        (to_delete.iter().any(|m| is_user(&m.member)), permission::REMOVE_MEMBERS),
        (to_add.iter().chain(to_delete.iter().map(|m| &m.member)).any(|m| !is_user(m)), permission::MANAGE_CHILDREN),
    ];
    for (needed, perm) in needs {
        if needed {
            authz::require(authz::can_change_members(p, access, perm), "not allowed to change this group's members")?;
        }
    }
    if to_add.iter().chain(to_delete.iter().map(|m| &m.member)).any(|m| !is_user(m)) {
        // Taken already by a caller that could tell before locking the group.
        tx.lock_graph().await?;
    }
    for m in &to_delete {
        delete_membership(tx, p, m).await?;
    }
    for m in &to_add {
        if let Member::Group(child) = *m {
            let child_access = tx.group_access(child, p.user).await?;
            if !authz::can_read_group(p, &child_access) {
                return Err(CoreError::NotFound { what: "group" });
            }
            refuse_cycle(tx, group, child).await?;
        }
        insert_membership(tx, p, group, *m, MemberChange::default()).await?;
    }
    Ok(MemberEditOutcome { added: to_add.len(), removed: to_delete.len(), unknown })
}

async fn find_all(tx: &mut Box<dyn Tx>, group: GroupId, members: &[Member]) -> Result<Vec<Membership>, CoreError> {
    let mut out = Vec::with_capacity(members.len());
    for chunk in members.chunks(CHUNK) {
        out.extend(tx.find_memberships(group, chunk).await?);
    }
    Ok(out)
}
