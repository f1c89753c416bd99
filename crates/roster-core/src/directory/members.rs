//! Memberships and nesting: who is in a group, with which role and
//! permissions, and which groups sit inside it. Nesting is acyclic.

use std::collections::HashMap;
use std::sync::Arc;

use super::steps::{
    MemberChange, changeable_group, delete_membership, insert_membership, members_changeable_group, readable_group,
    refuse_cycle, save_membership, visible_group, visible_group_for_members,
};
use super::{Directory, found, now};
use crate::authz::{self, GroupAccess, Principal, Viewer};
use crate::cursor::{Keyset, Page, PageRequest, list};
use crate::error::CoreError;
use crate::ids::{GroupId, MembershipId, UserId};
use crate::model::{Group, Member, MemberNames, MemberRole, Membership, Permissions, User, permission};
use crate::store::Tx;

/// A partial update of a membership.
#[derive(Clone, Debug, Default)]
pub struct MembershipPatch {
    pub role: Option<MemberRole>,
    pub permissions: Option<Permissions>,
}

fn membership_keyset(m: &Membership) -> Keyset {
    Keyset { key: String::new(), num: m.num }
}

/// A membership of a group the caller may not see is itself not found; any
/// other failure (a busy store) stays what it is.
fn hidden_membership(e: CoreError) -> CoreError {
    match e {
        CoreError::NotFound { .. } => CoreError::NotFound { what: "membership" },
        other => other,
    }
}

/// Loads a membership about to change, with the caller's access to its
/// group, in the lock order every write follows: for a nested group, the
/// graph lock, then the group; for a user, the group (shared: see
/// [`visible_group_for_members`]), then the user; then the membership row
/// (read first without a lock, only to learn which group and member those
/// are: neither ever changes).
async fn membership_for_change(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    id: MembershipId,
) -> Result<(Membership, GroupAccess), CoreError> {
    let peeked = found(tx.peek_membership(id).await?, "membership")?;
    let (_, access) = match peeked.member {
        Member::Group(_) => {
            tx.lock_graph().await?;
            visible_group(tx, p, peeked.group).await.map_err(hidden_membership)?
        }
        Member::User(user) => {
            let loaded = visible_group_for_members(tx, p, peeked.group).await.map_err(hidden_membership)?;
            tx.get_user(user).await?;
            loaded
        }
    };
    // A membership never moves to another group; it may have gone meanwhile.
    let m = found(tx.get_membership(id).await?, "membership")?;
    Ok((m, access))
}

fn after_num(page: &PageRequest) -> i64 {
    page.after.as_ref().map_or(0, |k| k.num)
}

/// Pairs each membership with the user it names, keeping the page order.
async fn with_users(tx: &mut Box<dyn Tx>, rows: Vec<Membership>) -> Result<Vec<(Membership, Arc<User>)>, CoreError> {
    let ids: Vec<UserId> =
        rows.iter().filter_map(|m| if let Member::User(u) = m.member { Some(u) } else { None }).collect();
    let mut users: HashMap<UserId, Arc<User>> = tx.get_users(&ids).await?.into_iter().map(|u| (u.id, u)).collect();
    Ok(rows
        .into_iter()
        .filter_map(|m| match m.member {
            Member::User(u) => users.remove(&u).map(|user| (m, user)),
            Member::Group(_) => None,
        })
        .collect())
}

/// Pairs each membership with a group: the member group, or (`parent`) the
/// group the membership belongs to.
async fn with_groups(
    tx: &mut Box<dyn Tx>,
    rows: Vec<Membership>,
    parent: bool,
) -> Result<Vec<(Membership, Group)>, CoreError> {
    let pick = |m: &Membership| match (parent, m.member) {
        (true, _) => Some(m.group),
        (false, Member::Group(g)) => Some(g),
        (false, Member::User(_)) => None,
    };
    let ids: Vec<GroupId> = rows.iter().filter_map(pick).collect();
    let groups: HashMap<GroupId, Group> = tx.get_groups(&ids).await?.into_iter().map(|g| (g.id, g)).collect();
    Ok(rows.into_iter().filter_map(|m| pick(&m).and_then(|g| groups.get(&g).cloned()).map(|g| (m, g))).collect())
}

impl Directory {
    /// Puts a user into a group with a role and permissions, or brings an
    /// existing membership to them (idempotent). Returns the membership and
    /// whether it was created. Site admins, managers, and group admins with
    /// `add_members` / `edit_memberships`; only site admins and managers
    /// grant the admin role. Errors: `NotFound`, `Forbidden`.
    pub async fn put_member(
        &self,
        p: &Principal,
        group: GroupId,
        user: UserId,
        change: MemberChange,
    ) -> Result<(Membership, bool), CoreError> {
        self.set_member(p, group, user, change, false).await
    }

    /// Makes a new membership; one that exists already is a `Conflict`
    /// (for clients whose create is not idempotent). Who may: as
    /// [`Directory::put_member`].
    pub async fn add_member(
        &self,
        p: &Principal,
        group: GroupId,
        user: UserId,
        change: MemberChange,
    ) -> Result<Membership, CoreError> {
        self.set_member(p, group, user, change, true).await.map(|(m, _)| m)
    }

    async fn set_member(
        &self,
        p: &Principal,
        group: GroupId,
        user: UserId,
        change: MemberChange,
        refuse_existing: bool,
    ) -> Result<(Membership, bool), CoreError> {
        crate::validate::permissions(&change.permissions)?;
        self.retrying(|| self.set_member_once(p, group, user, change.clone(), refuse_existing)).await
    }

    /// One run of [`Self::set_member`], in one transaction.
    async fn set_member_once(
        &self,
        p: &Principal,
        group: GroupId,
        user: UserId,
        change: MemberChange,
        refuse_existing: bool,
    ) -> Result<(Membership, bool), CoreError> {
        let mut tx = self.write().await?;
        // The group shared, then the user: two changes of one user's
        // membership queue on the user's row, changes of others go on.
        let (_, access) = members_changeable_group(&mut tx, p, group).await?;
        found(tx.get_user(user).await?, "user")?;
        let existing = tx.find_membership(group, Member::User(user)).await?;
        if refuse_existing && existing.is_some() {
            return Err(CoreError::Conflict {
                field: None,
                reason: "the user is already a member of the group".into(),
            });
        }
        let needed = if existing.is_some() { permission::EDIT_MEMBERSHIPS } else { permission::ADD_MEMBERS };
        authz::require(authz::can_change_members(p, &access, needed), "not allowed to change this group's members")?;
        let unchanged = existing.as_ref().is_some_and(|m| m.role == change.role && m.permissions == change.permissions);
        if let (true, Some(m)) = (unchanged, existing.as_ref()) {
            return Ok((m.clone(), false));
        }
        let grants_admin =
            existing.as_ref().is_none_or(|m| m.role != change.role || m.permissions != change.permissions);
        if grants_admin {
            authz::require(authz::can_grant_role(p, &access, change.role), "only site admins grant the admin role")?;
        }
        let t = now();
        let (membership, created) = match existing {
            Some(before) => {
                let m =
                    Membership { role: change.role, permissions: change.permissions, updated_at: t, ..before.clone() };
                save_membership(&mut tx, p, &before, &m).await?;
                (m, false)
            }
            None => {
                let m = insert_membership(&mut tx, p, group, Member::User(user), change).await?;
                (m, true)
            }
        };
        tx.commit().await?;
        Ok((membership, created))
    }

    /// Takes a user out of a group. Site admins, managers, group admins with
    /// `remove_members`, and the user themselves (leaving). Errors: `NotFound`
    /// (group, or the user is not a member), `Forbidden`.
    pub async fn remove_member(&self, p: &Principal, group: GroupId, user: UserId) -> Result<(), CoreError> {
        self.retrying(|| self.remove_member_once(p, group, user)).await
    }

    /// One run of [`Self::remove_member`], in one transaction.
    async fn remove_member_once(&self, p: &Principal, group: GroupId, user: UserId) -> Result<(), CoreError> {
        let mut tx = self.write().await?;
        let (_, access) = members_changeable_group(&mut tx, p, group).await?;
        let leaving = p.user == user;
        authz::require(
            leaving || authz::can_change_members(p, &access, permission::REMOVE_MEMBERS),
            "not allowed to change this group's members",
        )?;
        // The user before the membership (the lock order); a user that is
        // not there has no membership either.
        tx.get_user(user).await?;
        let m = found(tx.find_membership(group, Member::User(user)).await?, "membership")?;
        delete_membership(&mut tx, p, &m).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reads one membership of a group the caller may see. Errors: `NotFound`.
    pub async fn get_membership(&self, p: &Principal, id: MembershipId) -> Result<Membership, CoreError> {
        let mut tx = self.read().await?;
        let m = found(tx.get_membership(id).await?, "membership")?;
        visible_group(&mut tx, p, m.group).await.map_err(hidden_membership)?;
        Ok(m)
    }

    /// Changes the role or permissions of a membership. Who may: as
    /// [`Directory::put_member`] for an existing member.
    pub async fn update_membership(
        &self,
        p: &Principal,
        id: MembershipId,
        patch: MembershipPatch,
    ) -> Result<Membership, CoreError> {
        self.retrying(|| self.update_membership_once(p, id, patch.clone())).await
    }

    /// One run of [`Self::update_membership`], in one transaction.
    async fn update_membership_once(
        &self,
        p: &Principal,
        id: MembershipId,
        patch: MembershipPatch,
    ) -> Result<Membership, CoreError> {
        let mut tx = self.write().await?;
        let (before, access) = membership_for_change(&mut tx, p, id).await?;
        let needed = match before.member {
            Member::User(_) => permission::EDIT_MEMBERSHIPS,
            Member::Group(_) => permission::MANAGE_CHILDREN,
        };
        authz::require(authz::can_change_members(p, &access, needed), "not allowed to change this group's members")?;
        let mut m = before.clone();
        if let Some(role) = patch.role {
            if matches!(m.member, Member::Group(_)) && role == MemberRole::Admin {
                return Err(CoreError::invalid("role", "a nested group can only be a member"));
            }
            m.role = role;
        }
        if let Some(perms) = patch.permissions {
            crate::validate::permissions(&perms)?;
            m.permissions = perms;
        }
        if m == before {
            return Ok(m);
        }
        authz::require(authz::can_grant_role(p, &access, m.role), "only site admins grant the admin role")?;
        m.updated_at = now();
        save_membership(&mut tx, p, &before, &m).await?;
        tx.commit().await?;
        Ok(m)
    }

    /// Deletes a membership (of a user or of a nested group) by id.
    pub async fn delete_membership(&self, p: &Principal, id: MembershipId) -> Result<(), CoreError> {
        self.retrying(|| self.delete_membership_once(p, id)).await
    }

    /// One run of [`Self::delete_membership`], in one transaction.
    async fn delete_membership_once(&self, p: &Principal, id: MembershipId) -> Result<(), CoreError> {
        let mut tx = self.write().await?;
        let (m, access) = membership_for_change(&mut tx, p, id).await?;
        let (needed, own) = match m.member {
            Member::User(u) => (permission::REMOVE_MEMBERS, u == p.user),
            Member::Group(_) => (permission::MANAGE_CHILDREN, false),
        };
        authz::require(
            own || authz::can_change_members(p, &access, needed),
            "not allowed to change this group's members",
        )?;
        delete_membership(&mut tx, p, &m).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Direct user members of a group the caller may see, in the order they
    /// joined, each with its user.
    pub async fn list_members(
        &self,
        p: &Principal,
        group: GroupId,
        page: &PageRequest,
    ) -> Result<Page<(Membership, Arc<User>)>, CoreError> {
        self.list_members_for(Viewer::Principal(p), group, page).await
    }

    /// [`Self::list_members`] for a principal or the public view.
    pub(crate) async fn list_members_for(
        &self,
        viewer: Viewer<'_>,
        group: GroupId,
        page: &PageRequest,
    ) -> Result<Page<(Membership, Arc<User>)>, CoreError> {
        let mut tx = self.read().await?;
        let g = readable_group(&mut tx, viewer, group).await?;
        let scope = format!("members|{group}");
        let req = self.offsets.resolve(&scope, page);
        let rows = tx.list_group_memberships(group, false, after_num(&req), req.offset, req.limit + 1).await?;
        let page_out = Page::from_rows(list::MEMBERS, rows, &req, g.counts.members, membership_keyset);
        self.offsets.remember(&scope, page, page_out.items.len(), page_out.items.last().map(membership_keyset));
        let page = page_out;
        let items = with_users(&mut tx, page.items).await?;
        Ok(Page { items, next_cursor: page.next_cursor, total: page.total })
    }

    /// The direct members of a group the caller may see, by name: the
    /// usernames of its users and the names of its child groups, each in
    /// the order they joined. For protocols that list members by name
    /// (LDAP's `member`): one read, and no user is loaded. Errors: `NotFound`.
    pub async fn member_names(&self, p: &Principal, group: GroupId) -> Result<Arc<MemberNames>, CoreError> {
        self.member_names_for(Viewer::Principal(p), group).await
    }

    /// [`Self::member_names`] for a principal or the public view.
    pub(crate) async fn member_names_for(
        &self,
        viewer: Viewer<'_>,
        group: GroupId,
    ) -> Result<Arc<MemberNames>, CoreError> {
        let mut tx = self.read().await?;
        readable_group(&mut tx, viewer, group).await?;
        Ok(tx.member_names(group).await?)
    }

    /// Groups nested directly inside a group the caller may see.
    pub async fn list_children(
        &self,
        p: &Principal,
        group: GroupId,
        page: &PageRequest,
    ) -> Result<Page<(Membership, Group)>, CoreError> {
        self.list_children_for(Viewer::Principal(p), group, page).await
    }

    /// [`Self::list_children`] for a principal or the public view.
    pub(crate) async fn list_children_for(
        &self,
        viewer: Viewer<'_>,
        group: GroupId,
        page: &PageRequest,
    ) -> Result<Page<(Membership, Group)>, CoreError> {
        let mut tx = self.read().await?;
        let g = readable_group(&mut tx, viewer, group).await?;
        let rows = tx.list_group_memberships(group, true, after_num(page), page.offset, page.limit + 1).await?;
        let page = Page::from_rows(list::CHILDREN, rows, page, g.counts.children, membership_keyset);
        let items = with_groups(&mut tx, page.items, false).await?;
        Ok(Page { items, next_cursor: page.next_cursor, total: page.total })
    }

    /// The groups a user belongs to directly. The user themselves and site admins.
    pub async fn list_user_groups(
        &self,
        p: &Principal,
        user: UserId,
        page: &PageRequest,
    ) -> Result<Page<(Membership, Group)>, CoreError> {
        authz::require(authz::can_act_for_user(p, user), "only the user or a site admin")?;
        let mut tx = self.read().await?;
        found(tx.get_user(user).await?, "user")?;
        let scope = format!("user-groups|{user}");
        let req = self.offsets.resolve(&scope, page);
        let rows = tx.list_user_memberships(user, after_num(&req), req.offset, req.limit + 1).await?;
        let total = tx.count_user_memberships(user).await?;
        let page_out = Page::from_rows(list::USER_GROUPS, rows, &req, total, membership_keyset);
        self.offsets.remember(&scope, page, page_out.items.len(), page_out.items.last().map(membership_keyset));
        let page = page_out;
        let items = with_groups(&mut tx, page.items, true).await?;
        Ok(Page { items, next_cursor: page.next_cursor, total: page.total })
    }

    /// Nests `child` inside `parent` (idempotent). Refused with `Conflict`
    /// when `parent` is `child` or already nested below it (a cycle). Site
    /// admins, managers and group admins of the parent with
    /// `manage_children` who can see the child.
    pub async fn add_child(
        &self,
        p: &Principal,
        parent: GroupId,
        child: GroupId,
    ) -> Result<(Membership, bool), CoreError> {
        self.retrying(|| self.add_child_once(p, parent, child)).await
    }

    /// One run of [`Self::add_child`], in one transaction.
    async fn add_child_once(
        &self,
        p: &Principal,
        parent: GroupId,
        child: GroupId,
    ) -> Result<(Membership, bool), CoreError> {
        let mut tx = self.write().await?;
        tx.lock_graph().await?;
        let (_, access) = changeable_group(&mut tx, p, parent).await?;
        authz::require(
            authz::can_change_members(p, &access, permission::MANAGE_CHILDREN),
            "not allowed to nest groups here",
        )?;
        changeable_group(&mut tx, p, child).await?;
        if let Some(m) = tx.find_membership(parent, Member::Group(child)).await? {
            return Ok((m, false));
        }
        refuse_cycle(&mut tx, parent, child).await?;
        let m = insert_membership(&mut tx, p, parent, Member::Group(child), MemberChange::default()).await?;
        tx.commit().await?;
        Ok((m, true))
    }

    /// Takes `child` out of `parent`. Errors: `NotFound` when it is not nested there.
    pub async fn remove_child(&self, p: &Principal, parent: GroupId, child: GroupId) -> Result<(), CoreError> {
        self.retrying(|| self.remove_child_once(p, parent, child)).await
    }

    /// One run of [`Self::remove_child`], in one transaction.
    async fn remove_child_once(&self, p: &Principal, parent: GroupId, child: GroupId) -> Result<(), CoreError> {
        let mut tx = self.write().await?;
        // Lock order: the graph before any group (ARCHITECTURE.md, "Concurrency").
        tx.lock_graph().await?;
        let (_, access) = changeable_group(&mut tx, p, parent).await?;
        authz::require(
            authz::can_change_members(p, &access, permission::MANAGE_CHILDREN),
            "not allowed to nest groups here",
        )?;
        let m = found(tx.find_membership(parent, Member::Group(child)).await?, "child group")?;
        delete_membership(&mut tx, p, &m).await?;
        tx.commit().await?;
        Ok(())
    }
}
