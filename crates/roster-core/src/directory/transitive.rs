//! Membership at any depth, answered from the in-memory index (a group's
//! users at any depth as a bitmap, a user's groups as a walk up from their
//! direct groups) once it is loaded, else by the store (a user's direct
//! memberships joined to the nesting closure it keeps, `group_closure`): a
//! check is a probe per direct group, a page of a group's members at any
//! depth a range of the bitmap whatever its position.

use super::steps::{readable_group, visible_group};
use super::{Directory, found};
use crate::authz::{self, Principal, Viewer};
use crate::cursor::{Keyset, Page, PageRequest, list};
use crate::error::CoreError;
use crate::ids::{GroupId, UserId};
use crate::model::{Group, User};
use crate::store::NumKind;
use std::sync::Arc;

/// The answer to "is this user in this group, counting nested groups?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembershipCheck {
    pub member: bool,
    /// From the group down to the user's direct group (empty when not a member).
    pub path: Vec<GroupId>,
}

fn by_num(num: i64) -> Keyset {
    Keyset { key: String::new(), num }
}

impl Directory {
    /// Whether `user` is in `group` at any depth, and one path that makes
    /// it so. The user themselves may ask, and whoever may read the group.
    /// Errors: `NotFound` (user, or a group the caller may not see).
    pub async fn check_membership(
        &self,
        p: &Principal,
        user: UserId,
        group: GroupId,
    ) -> Result<MembershipCheck, CoreError> {
        // A site admin's check of a member is one statement; the other
        // cases add reads that need no common snapshot with it.
        let mut tx = self.read_single().await?;
        // Site admins may ask about any group; others about a group they can
        // read, or (the user about themselves) one they are in at some depth.
        let asks_freely = authz::sees_everything(p);
        if !asks_freely && p.user != user {
            visible_group(&mut tx, p, group).await?;
        }
        // One statement answers members, with the path.
        let path = tx.membership_path(group, user).await?;
        if path.is_empty() {
            if !asks_freely && p.user == user {
                visible_group(&mut tx, p, group).await?;
            }
            found(tx.get_group(group).await?, "group")?;
            found(tx.get_user(user).await?, "user")?;
            return Ok(MembershipCheck { member: false, path });
        }
        Ok(MembershipCheck { member: true, path })
    }

    /// The users in a group at any depth, each once, in the order they were
    /// created. Whoever may read the group. Errors: `NotFound`.
    pub async fn list_members_transitively(
        &self,
        p: &Principal,
        group: GroupId,
        page: &PageRequest,
    ) -> Result<Page<Arc<User>>, CoreError> {
        self.list_members_transitively_for(Viewer::Principal(p), group, page).await
    }

    /// [`Self::list_members_transitively`] for a principal or the public view.
    pub(crate) async fn list_members_transitively_for(
        &self,
        viewer: Viewer<'_>,
        group: GroupId,
        page: &PageRequest,
    ) -> Result<Page<Arc<User>>, CoreError> {
        let mut tx = self.read().await?;
        readable_group(&mut tx, viewer, group).await?;
        let after = page.after.as_ref().map_or(0, |k| k.num);
        let rows = tx.list_members_transitively(group, after, page.limit + 1).await?;
        let total = if page.total { tx.count_members_transitively(group).await? } else { -1 };
        Ok(Page::from_rows(list::MEMBERS_TRANSITIVE, rows, page, total, |u| by_num(u.num)))
    }

    /// The groups a user is in at any depth, in the order they were
    /// created. The user themselves or a site admin. Errors: `NotFound`, `Forbidden`.
    pub async fn list_user_groups_transitively(
        &self,
        p: &Principal,
        user: UserId,
        page: &PageRequest,
    ) -> Result<Page<Arc<Group>>, CoreError> {
        self.list_user_groups_transitively_for(Viewer::Principal(p), user, page).await
    }

    /// [`Self::list_user_groups_transitively`] for a principal or the public view.
    pub(crate) async fn list_user_groups_transitively_for(
        &self,
        viewer: Viewer<'_>,
        user: UserId,
        page: &PageRequest,
    ) -> Result<Page<Arc<Group>>, CoreError> {
        authz::require(authz::viewer_can_list_groups_of(viewer, user), "only the user or a site admin")?;
        let mut tx = self.read().await?;
        // Whether the user exists, without a copy of them.
        found(tx.nums_of(NumKind::User, &[user.0]).await?.first(), "user")?;
        let after = page.after.as_ref().map_or(0, |k| k.num);
        let rows = tx.list_groups_transitively(user, after, page.limit + 1).await?;
        let total = tx.count_groups_transitively(user).await?;
        Ok(Page::from_rows(list::USER_GROUPS_TRANSITIVE, rows, page, total, |g| by_num(g.num)))
    }
}
