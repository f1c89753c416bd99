//! A user's direct groups replaced as a whole, the way platforms that edit
//! membership through the user record (Iguazio) write it: the complete new
//! list of groups and the primary group, in one transaction with any change
//! to the user's own fields, and refused when it is based on a stale read.

use time::OffsetDateTime;

use super::steps::{
    MemberChange, delete_membership, insert_membership, members_changeable_group, save_user, visible_group_for_members,
};
use super::users::{UserPatch, patched_user};
use super::{Directory, found};
use crate::authz::{self, Principal};
use crate::error::CoreError;
use crate::ids::{GroupId, UserId};
use crate::model::{ALL_USERS_GROUP_ID, Member, Membership, User, permission};
use crate::validate;

/// What a replacement of a user's groups asks for.
#[derive(Clone, Debug, Default)]
pub struct UserGroupsChange {
    /// The complete new set of direct groups, among those the caller can
    /// see (groups hidden from the caller are kept); `None` leaves them as
    /// they are. The all-users group may be listed or not: everyone is in it.
    pub groups: Option<Vec<GroupId>>,
    /// `Some(None)` clears the primary group, `Some(Some(g))` sets it;
    /// `None` leaves it. A primary group that is not among the user's groups
    /// once the change is applied is cleared (never re-joined).
    pub primary_group: Option<Option<GroupId>>,
    /// With `groups`: applies only if [`User::groups_stamp`] still equals
    /// this, the stamp the client read before computing its new list.
    pub if_groups_at: Option<OffsetDateTime>,
}

impl Directory {
    /// Applies `patch` to a user (a password in it is stored hashed) and
    /// replaces their direct groups and primary group, all or nothing. Changing the user's own fields needs
    /// what [`Directory::update_user`] needs; each group joined needs
    /// `add_members` there, each group left `remove_members` (or being the
    /// user). Errors: `Stale` (the user or their groups changed since the
    /// stamp), `NotFound` (user, group), `Invalid`, `Conflict`, `Forbidden`.
    pub async fn replace_user(
        &self,
        p: &Principal,
        id: UserId,
        patch: UserPatch,
        change: UserGroupsChange,
    ) -> Result<User, CoreError> {
        self.retrying(|| self.replace_user_once(p, id, patch.clone(), change.clone())).await
    }

    /// One run of [`Self::replace_user`], in one transaction.
    async fn replace_user_once(
        &self,
        p: &Principal,
        id: UserId,
        patch: UserPatch,
        change: UserGroupsChange,
    ) -> Result<User, CoreError> {
        let mut tx = self.write().await?;
        if let Some(wanted) = &change.groups {
            // Lock order: groups (by id) before users (ARCHITECTURE.md,
            // "Concurrency"), shared, as every change of memberships alone
            // takes them. The groups this change may touch are those the
            // user is in and those wanted; a group the user joins meanwhile
            // through another path is locked later, out of order, and a
            // deadlock that follows is retried (`Directory::retrying`).
            let mut touched: Vec<GroupId> = all_memberships_of(&mut tx, id).await?.iter().map(|m| m.group).collect();
            touched.extend(wanted.iter().copied().filter(|g| *g != ALL_USERS_GROUP_ID));
            touched.sort_unstable();
            touched.dedup();
            for g in touched {
                tx.get_group_shared(g).await?;
            }
        }
        let before = found(tx.get_user(id).await?, "user")?;
        if let (Some(stamp), Some(_)) = (change.if_groups_at, &change.groups)
            && stamp != before.groups_stamp()
        {
            return Err(CoreError::Stale {
                reason: "the user's groups changed since they were read; read them again and resend".into(),
            });
        }
        let mut user = patched_user(&mut tx, &before, &patch).await?;
        let current = all_memberships_of(&mut tx, id).await?;
        let mut groups: Vec<GroupId> = current.iter().map(|m| m.group).collect();
        let mut kept = Vec::new();
        if let Some(mut wanted) = change.groups {
            wanted.retain(|g| *g != ALL_USERS_GROUP_ID);
            wanted.dedup();
            for m in current.iter().filter(|m| !wanted.contains(&m.group)) {
                // A group the caller cannot see was not in the list they
                // read, so leaving it out is no request to leave it.
                let access = match visible_group_for_members(&mut tx, p, m.group).await {
                    Ok((_, access)) => access,
                    Err(CoreError::NotFound { .. }) => {
                        kept.push(m.group);
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                authz::require(
                    p.user == id || authz::can_change_members(p, &access, permission::REMOVE_MEMBERS),
                    "not allowed to change this group's members",
                )?;
                delete_membership(&mut tx, p, m).await?;
            }
            for (i, g) in wanted.iter().enumerate() {
                if groups.contains(g) || wanted[..i].contains(g) {
                    continue;
                }
                let (_, access) = members_changeable_group(&mut tx, p, *g).await?;
                authz::require(
                    authz::can_change_members(p, &access, permission::ADD_MEMBERS),
                    "not allowed to change this group's members",
                )?;
                insert_membership(&mut tx, p, *g, Member::User(id), MemberChange::default()).await?;
            }
            groups = wanted;
            groups.extend(kept);
        }
        if let Some(primary) = change.primary_group {
            if primary == Some(ALL_USERS_GROUP_ID) {
                return Err(CoreError::invalid("primary_group", "the all-users group cannot be a primary group"));
            }
            if let Some(g) = primary {
                visible_group_for_members(&mut tx, p, g).await?;
            }
            user.primary_group = primary;
        }
        if user.primary_group.is_some_and(|g| !groups.contains(&g)) {
            user.primary_group = None;
        }
        let password_hash = patch.password.as_deref().map(validate::password).transpose()?;
        if user != before || password_hash.is_some() {
            authz::require(authz::can_update_user(p, id, patch.is_self_service()), "requires a site admin")?;
            save_user(&mut tx, p, &before, user).await?;
        }
        if let Some(hash) = password_hash {
            tx.set_password_hash(id, &hash).await?;
        }
        let user = found(tx.get_user(id).await?, "user")?;
        tx.commit().await?;
        Ok(user)
    }
}

/// Every direct membership of a user, a page at a time (a user may be in
/// any number of groups; none is left out).
async fn all_memberships_of(tx: &mut Box<dyn crate::store::Tx>, user: UserId) -> Result<Vec<Membership>, CoreError> {
    let mut out: Vec<Membership> = Vec::new();
    let mut after = 0;
    loop {
        let rows = tx.list_user_memberships(user, after, 0, 1000).await?;
        let Some(last) = rows.last() else { break };
        after = last.num;
        out.extend(rows);
    }
    Ok(out)
}
