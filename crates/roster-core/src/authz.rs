//! Who may do what. Every decision of the directory is one of these named
//! predicates, evaluated on facts the use-case loaded in its transaction.
//! Front-ends never decide; they pass the [`Principal`] along.

use crate::error::CoreError;
use crate::ids::{KeyId, UserId};
use crate::model::{MemberRole, Permissions, ShareLevel, SiteRole};

/// The authenticated caller of a use-case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The user every decision is made for.
    pub user: UserId,
    pub site_role: SiteRole,
    pub key: Option<KeyId>,
    /// The user who authenticated, when they act for `user` (see
    /// [`crate::Directory::act_as`]); the change log names them.
    pub delegated_by: Option<UserId>,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.site_role == SiteRole::Admin
    }

    /// Who the change log records as having made a change: the user who
    /// authenticated, even when acting for another.
    pub fn actor(&self) -> Option<UserId> {
        Some(self.delegated_by.unwrap_or(self.user))
    }
}

/// Whether callers without credentials may read anything beyond what every
/// protocol shows before authentication (LDAP's root DSE and schema). Off
/// unless the operator turns it on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AnonymousRead {
    #[default]
    Off,
    /// Every user and group, their public facts only ([`crate::PublicUser`],
    /// [`crate::PublicGroup`]), and who is in which group: what name-service
    /// lookups (SSSD, `nss_ldap`) need to resolve accounts and groups.
    Public,
}

/// Whom a read is for: a principal sees what the predicates below allow
/// it; the public view (only through [`crate::PublicReader`], handed out
/// when [`can_read_anonymously`]) sees every user and group, in the public
/// shape alone.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Viewer<'a> {
    Principal(&'a Principal),
    Public,
}

/// The anonymous public read, under the operator's policy.
pub fn can_read_anonymously(policy: AnonymousRead) -> bool {
    policy == AnonymousRead::Public
}

/// Whether `viewer` sees every group (site admins, and the public view,
/// whose shape holds only what is public of a group).
pub(crate) fn viewer_sees_every_group(viewer: Viewer<'_>) -> bool {
    match viewer {
        Viewer::Principal(p) => sees_everything(p),
        Viewer::Public => true,
    }
}

/// Whether `viewer` may list the groups `user` is in (at any depth): the
/// user themselves and site admins; in the public view, anyone, since
/// every group's members are public there.
pub(crate) fn viewer_can_list_groups_of(viewer: Viewer<'_>, user: UserId) -> bool {
    match viewer {
        Viewer::Principal(p) => can_act_for_user(p, user),
        Viewer::Public => true,
    }
}

/// What a user holds on one group: a direct membership, whether they are
/// in it at any depth, and the best share given to them or to a group they
/// directly belong to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupAccess {
    pub membership: Option<(MemberRole, Permissions)>,
    /// In the group directly or through a group nested in it. Such a user
    /// belongs to the group by every answer the directory gives (`check`,
    /// transitive lists, LDAP's in-chain rule), so they may read it; roles
    /// and the permissions they carry stay with the direct membership.
    pub member_at_any_depth: bool,
    pub share: Option<ShareLevel>,
}

impl GroupAccess {
    fn is_group_admin_with(&self, permission: &str) -> bool {
        matches!(&self.membership, Some((MemberRole::Admin, p)) if p.allows(permission))
    }

    fn share_at_least(&self, level: ShareLevel) -> bool {
        self.share.is_some_and(|s| s >= level)
    }
}

fn forbid(reason: &str) -> CoreError {
    CoreError::forbidden(reason)
}

/// Site administration: users, keys of others, roles, organizations,
/// projects, the event log, creating groups.
pub fn require_admin(p: &Principal) -> Result<(), CoreError> {
    if p.is_admin() { Ok(()) } else { Err(forbid("requires a site admin")) }
}

/// Whether the group may be seen at all: by site admins, by its members at
/// any depth, and by whoever it is shared with. Callers answer 404 when
/// this is false, so a stranger cannot probe which groups exist.
pub fn can_read_group(p: &Principal, a: &GroupAccess) -> bool {
    p.is_admin() || a.membership.is_some() || a.member_at_any_depth || a.share.is_some()
}

/// Renaming and describing a group.
pub fn can_write_group(p: &Principal, a: &GroupAccess) -> bool {
    p.is_admin() || a.share_at_least(ShareLevel::Write)
}

/// Deleting a group and changing who it is shared with.
pub fn can_manage_group(p: &Principal, a: &GroupAccess) -> bool {
    p.is_admin() || a.share_at_least(ShareLevel::Manage)
}

/// Subscribing to a group's changes (webhooks scoped to it), and managing
/// such a subscription: site admins, holders of a `manage` share, and the
/// group's admins (a direct membership with the admin role), who already
/// read the group and its members at any depth.
pub fn can_watch_group(p: &Principal, a: &GroupAccess) -> bool {
    p.is_admin() || a.share_at_least(ShareLevel::Manage) || matches!(a.membership, Some((MemberRole::Admin, _)))
}

/// A membership change in the group, guarded by one configurable permission
/// of group admins (see [`crate::model::permission`]).
pub fn can_change_members(p: &Principal, a: &GroupAccess, permission: &str) -> bool {
    p.is_admin() || a.share_at_least(ShareLevel::Manage) || a.is_group_admin_with(permission)
}

/// Only a site admin hands out admin roles or permission sets: a group
/// admin may add plain members but not create peers.
pub fn can_grant_role(p: &Principal, a: &GroupAccess, role: MemberRole) -> bool {
    role == MemberRole::Member || p.is_admin() || a.share_at_least(ShareLevel::Manage)
}

/// Site admins see every group (and every key); others only what they
/// belong to or were shared.
pub fn sees_everything(p: &Principal) -> bool {
    p.is_admin()
}

/// Site admins hold every share level on every group: a list of the groups
/// shared with them at some level is every group.
pub fn holds_every_share(p: &Principal) -> bool {
    p.is_admin()
}

/// Changing a user: site admins change anything; users change their own
/// profile (names, email) but not their role, status or identifiers.
pub fn can_update_user(p: &Principal, user: UserId, profile_only: bool) -> bool {
    p.is_admin() || (p.user == user && profile_only)
}

/// Acting as another user (Box's `As-User`): only site admins, who could
/// do anything that user can anyway.
pub fn can_act_as_another(p: &Principal) -> bool {
    p.is_admin() && p.delegated_by.is_none()
}

/// Reading a user's own data (their groups, their keys).
pub fn can_act_for_user(p: &Principal, user: UserId) -> bool {
    p.is_admin() || p.user == user
}

pub fn require(allowed: bool, reason: &str) -> Result<(), CoreError> {
    if allowed { Ok(()) } else { Err(forbid(reason)) }
}

/// A job is read by whoever it was recorded for, and by site admins.
pub fn can_read_job(p: &Principal, job: &crate::model::Job) -> bool {
    p.is_admin() || job.actor == Some(p.user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::permission::ADD_MEMBERS;
    use std::collections::BTreeMap;

    fn principal(role: SiteRole) -> Principal {
        Principal { user: UserId::new(), site_role: role, key: None, delegated_by: None }
    }

    #[test]
    fn anonymous_reads_follow_the_policy() {
        assert!(!can_read_anonymously(AnonymousRead::default()), "off by default");
        assert!(can_read_anonymously(AnonymousRead::Public));
        let user = principal(SiteRole::User);
        let other = UserId::new();
        assert!(!viewer_sees_every_group(Viewer::Principal(&user)));
        assert!(viewer_sees_every_group(Viewer::Principal(&principal(SiteRole::Admin))));
        assert!(viewer_sees_every_group(Viewer::Public));
        assert!(!viewer_can_list_groups_of(Viewer::Principal(&user), other));
        assert!(viewer_can_list_groups_of(Viewer::Principal(&user), user.user));
        assert!(viewer_can_list_groups_of(Viewer::Public, other));
    }

    /// The matrix: admin, group admin (permissions on / off), member,
    /// member through a nested group, stranger.
    #[test]
    fn change_members_matrix() {
        let admin = principal(SiteRole::Admin);
        let user = principal(SiteRole::User);
        let group_admin = GroupAccess {
            membership: Some((MemberRole::Admin, Permissions::default())),
            share: None,
            member_at_any_depth: true,
        };
        let off = BTreeMap::from([(ADD_MEMBERS.to_owned(), false)]);
        let restricted = GroupAccess {
            membership: Some((MemberRole::Admin, Permissions::Map(off))),
            share: None,
            member_at_any_depth: true,
        };
        let disabled = GroupAccess {
            membership: Some((MemberRole::Admin, Permissions::Disabled)),
            share: None,
            member_at_any_depth: true,
        };
        let member = GroupAccess {
            membership: Some((MemberRole::Member, Permissions::default())),
            share: None,
            member_at_any_depth: true,
        };
        let nested = GroupAccess { member_at_any_depth: true, ..GroupAccess::default() };
        let stranger = GroupAccess::default();
        let cases = [
            (&admin, &stranger, true, true),
            (&user, &group_admin, true, true),
            (&user, &restricted, false, true),
            (&user, &disabled, false, true),
            (&user, &member, false, true),
            (&user, &nested, false, true),
            (&user, &stranger, false, false),
        ];
        for (p, a, change, read) in cases {
            assert_eq!(can_change_members(p, a, ADD_MEMBERS), change, "{a:?}");
            assert_eq!(can_read_group(p, a), read, "{a:?}");
        }
    }
}
