//! The write steps that use-cases share, each once: load a group the
//! caller may see (or may change), make, change or remove a membership with
//! its event, check a version, record a change with its event, grant or
//! revoke a role, refuse a cycle. Every step runs inside the caller's
//! transaction; none opens, commits or authorizes a use-case by itself,
//! except where it says which predicate it applies.

use super::{audit, event, found, now};
use crate::authz::{self, GroupAccess, Principal, Viewer};
use crate::error::CoreError;
use crate::ids::{GroupId, RoleId};
use crate::model::{ALL_USERS_GROUP_ID, Group, Member, MemberRole, Membership, Permissions, User};
use crate::store::Tx;

/// The role and permissions a membership should have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberChange {
    pub role: MemberRole,
    pub permissions: Permissions,
}

impl Default for MemberChange {
    fn default() -> Self {
        Self { role: MemberRole::Member, permissions: Permissions::default() }
    }
}

/// Loads a group the caller may see; a group they may not see is "not
/// found", so existence does not leak.
pub(crate) async fn visible_group(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    id: GroupId,
) -> Result<(Group, GroupAccess), CoreError> {
    let group = tx.get_group(id).await?;
    access_to(tx, p, id, group).await
}

/// A group `viewer` may read: as [`visible_group`] for a principal; any
/// group in the public view, where every group is public
/// ([`authz::viewer_sees_every_group`]). Errors: `NotFound`.
pub(crate) async fn readable_group(tx: &mut Box<dyn Tx>, viewer: Viewer<'_>, id: GroupId) -> Result<Group, CoreError> {
    match viewer {
        Viewer::Principal(p) => Ok(visible_group(tx, p, id).await?.0),
        Viewer::Public => found(tx.get_group(id).await?, "group"),
    }
}

/// Whether `viewer` may see group `id` (which may not exist).
pub(crate) async fn can_see_group(tx: &mut Box<dyn Tx>, viewer: Viewer<'_>, id: GroupId) -> Result<bool, CoreError> {
    Ok(match viewer {
        Viewer::Principal(p) => {
            authz::sees_everything(p) || authz::can_read_group(p, &tx.group_access(id, p.user).await?)
        }
        Viewer::Public => true,
    })
}

/// As [`visible_group`], for a use-case that changes only the group's user
/// memberships: the group is locked shared ([`Tx::get_group_shared`]), so
/// such changes to one group run side by side, while a change to the
/// group itself, its nesting or its shares waits for them (and they for
/// it). Every group such a use-case loads is loaded this way: asking a
/// shared lock for more in the same transaction could deadlock with
/// another holder asking the same.
pub(crate) async fn visible_group_for_members(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    id: GroupId,
) -> Result<(Group, GroupAccess), CoreError> {
    let group = tx.get_group_shared(id).await?;
    access_to(tx, p, id, group).await
}

async fn access_to(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    id: GroupId,
    group: Option<Group>,
) -> Result<(Group, GroupAccess), CoreError> {
    let group = found(group, "group")?;
    // Every group predicate grants site admins everything, so what they
    // hold on the group is never consulted: skip reading it.
    if authz::sees_everything(p) {
        return Ok((group, GroupAccess::default()));
    }
    let access = tx.group_access(id, p.user).await?;
    if !authz::can_read_group(p, &access) {
        return Err(CoreError::NotFound { what: "group" });
    }
    Ok((group, access))
}

/// As [`visible_group`], for a use-case about to change the group, its
/// members or its nesting: the all-users group, which every user is in by
/// definition, is refused every change.
pub(crate) async fn changeable_group(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    id: GroupId,
) -> Result<(Group, GroupAccess), CoreError> {
    refuse_all_users_group(id)?;
    visible_group(tx, p, id).await
}

/// As [`changeable_group`], loaded as [`visible_group_for_members`] does.
pub(crate) async fn members_changeable_group(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    id: GroupId,
) -> Result<(Group, GroupAccess), CoreError> {
    refuse_all_users_group(id)?;
    visible_group_for_members(tx, p, id).await
}

/// The all-users group is not stored and never changes; every write path
/// that names a group passes here first.
pub(crate) fn refuse_all_users_group(id: GroupId) -> Result<(), CoreError> {
    if id == ALL_USERS_GROUP_ID {
        return Err(CoreError::forbidden("all_users is a system group: it cannot be changed or deleted"));
    }
    Ok(())
}

/// Whether a read-modify-write may go ahead: `wanted` is the version the
/// client read (`If-Match`), `current` the one the transaction holds.
pub(crate) fn check_version(what: &str, current: i64, wanted: Option<i64>) -> Result<(), CoreError> {
    match wanted {
        Some(v) if v != current => Err(CoreError::Stale { reason: format!("{what} is at version {current}, not {v}") }),
        _ => Ok(()),
    }
}

/// Whether a change takes away an active site admin.
pub(crate) fn loses_admin(before: &User, after: &User) -> bool {
    before.is_active_admin() && !after.is_active_admin()
}

/// The last active site admin stays one: a change that would demote or
/// deactivate them is refused. Read before the change is written.
pub(crate) async fn keep_an_admin(tx: &mut Box<dyn Tx>, before: &User, after: &User) -> Result<(), CoreError> {
    if loses_admin(before, after) && tx.count_site_admins().await? <= 1 {
        return Err(last_admin());
    }
    Ok(())
}

pub(crate) fn last_admin() -> CoreError {
    CoreError::conflict("site_role", "the last active site admin cannot be demoted or deactivated")
}

/// Refuses to nest `child` in `parent` when `parent` is `child` or already
/// nested below it. The caller holds the graph lock ([`Tx::lock_graph`]).
pub(crate) async fn refuse_cycle(tx: &mut Box<dyn Tx>, parent: GroupId, child: GroupId) -> Result<(), CoreError> {
    if tx.group_reaches(child, parent).await? {
        return Err(CoreError::cycle());
    }
    Ok(())
}

/// Makes a new membership with its event, and those of the changes at
/// any depth of watched groups (`watched`).
pub(crate) async fn insert_membership(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    group: GroupId,
    member: Member,
    change: MemberChange,
) -> Result<Membership, CoreError> {
    let t = now();
    let mut m = Membership::new(group, member, change.role, change.permissions, t);
    let watch = super::watched::before(tx, group, member).await?;
    m.num = tx.insert_membership(&m).await?;
    tx.append_event(&event(p.actor(), "membership.created", "membership", m.id, None, Some(audit::membership(&m))))
        .await?;
    super::watched::after(tx, p, watch, audit::membership(&m)).await?;
    Ok(m)
}

/// Deletes a membership with its event, and those of the changes at any
/// depth of watched groups (`watched`).
pub(crate) async fn delete_membership(tx: &mut Box<dyn Tx>, p: &Principal, m: &Membership) -> Result<(), CoreError> {
    let watch = super::watched::before(tx, m.group, m.member).await?;
    tx.delete_membership(m.id).await?;
    tx.append_event(&event(p.actor(), "membership.deleted", "membership", m.id, Some(audit::membership(m)), None))
        .await?;
    super::watched::after(tx, p, watch, audit::membership(m)).await?;
    Ok(())
}

/// Writes a changed membership with its event.
pub(crate) async fn save_membership(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    before: &Membership,
    after: &Membership,
) -> Result<(), CoreError> {
    tx.update_membership(after).await?;
    tx.append_event(&event(
        p.actor(),
        "membership.updated",
        "membership",
        after.id,
        Some(audit::membership(before)),
        Some(audit::membership(after)),
    ))
    .await?;
    Ok(())
}

/// Writes a changed group (its version moved by one, stamped now, by the
/// caller) with its "updated" event.
pub(crate) async fn save_group(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    before: &Group,
    mut group: Group,
) -> Result<Group, CoreError> {
    group.updated_at = now();
    group.updated_by = Some(p.user);
    group.version = before.version + 1;
    tx.update_group(&group).await?;
    tx.append_event(&group_updated(p, before, &group)).await?;
    Ok(group)
}

/// The "updated" event of a group.
pub(crate) fn group_updated(p: &Principal, before: &Group, after: &Group) -> crate::model::NewEvent {
    event(p.actor(), "group.updated", "group", after.id, Some(audit::group(before)), Some(audit::group(after)))
}

/// Writes a changed user (its version moved by one, stamped now) with its
/// "updated" event.
pub(crate) async fn save_user(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    before: &User,
    mut user: User,
) -> Result<User, CoreError> {
    user.mark_changed(before, now());
    tx.update_user(&user).await?;
    tx.append_event(&user_updated(p, before, &user)).await?;
    Ok(user)
}

/// The "updated" event of a user.
pub(crate) fn user_updated(p: &Principal, before: &User, after: &User) -> crate::model::NewEvent {
    event(p.actor(), "user.updated", "user", after.id, Some(audit::user(before)), Some(audit::user(after)))
}

/// Grants a role to a group with its event; `false` when it held it already.
pub(crate) async fn grant_role(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    group: GroupId,
    role: RoleId,
) -> Result<bool, CoreError> {
    if !tx.grant_group_role(group, role).await? {
        return Ok(false);
    }
    let after = serde_json::json!({ "group_id": group.to_string(), "role_id": role.to_string() });
    tx.append_event(&event(p.actor(), "group.role_granted", "group", group, None, Some(after))).await?;
    Ok(true)
}

/// Takes a role from a group with its event; `false` when it did not hold it.
pub(crate) async fn revoke_role(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    group: GroupId,
    role: RoleId,
) -> Result<bool, CoreError> {
    if !tx.revoke_group_role(group, role).await? {
        return Ok(false);
    }
    let before = serde_json::json!({ "group_id": group.to_string(), "role_id": role.to_string() });
    tx.append_event(&event(p.actor(), "group.role_revoked", "group", group, Some(before), None)).await?;
    Ok(true)
}
