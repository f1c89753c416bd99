//! A read transaction that answers from the index. The use-cases do not
//! know it is there: they call the same [`Tx`] methods, and the ones the
//! index can answer (entities by id, name or outside id, lists of users and
//! groups under any filter, edges both ways, access, membership at any
//! depth) are answered from memory; every other call opens a store
//! transaction on first use and goes there. So each rule still lives once,
//! in the use-case, and a read that only asks the index makes no round trip.
//!
//! Each answer is atomic (taken under the index's lock), but two answers of
//! one use-case may come from adjacent revisions, and from a store
//! transaction a little ahead: a page and its total can differ by a change
//! made between them.

use std::sync::Arc;

use async_trait::async_trait;

use super::Index;
use crate::authz::GroupAccess;
use crate::error::StoreError;
use crate::ids::*;
use crate::model::*;
use crate::store::*;
use crate::webhooks::{DeliveryAttempt, DeliveryState, Outcome, Webhook, WebhookSecret, WebhookSecrets};
use time::OffsetDateTime;

/// Which kind of store transaction to open for what the index cannot answer.
#[derive(Clone, Copy)]
pub(crate) enum Fallback {
    Snapshot,
    Single,
}

pub(crate) struct IndexTx {
    index: Arc<Index>,
    store: Arc<dyn Store>,
    fallback: Fallback,
    tx: Option<Box<dyn Tx>>,
}

impl IndexTx {
    pub(crate) fn new(index: Arc<Index>, store: Arc<dyn Store>, fallback: Fallback) -> Self {
        Self { index, store, fallback, tx: None }
    }

    /// The store transaction, opened on first use.
    async fn store(&mut self) -> StoreResult<&mut Box<dyn Tx>> {
        if self.tx.is_none() {
            self.tx = Some(match self.fallback {
                Fallback::Snapshot => self.store.read().await?,
                Fallback::Single => self.store.read_single().await?,
            });
        }
        self.tx.as_mut().ok_or_else(|| StoreError::Other("store transaction missing".into()))
    }

    fn state(&self) -> std::sync::RwLockReadGuard<'_, super::State> {
        self.index.read_state()
    }
}

/// Implements a store trait for [`IndexTx`]: the methods written out in
/// the first block answer from the index, the ones listed after `forward`
/// go to the store transaction.
macro_rules! answer_or_forward {
    (impl $trait:ident { $($own:tt)* } forward { $( fn $name:ident(&mut self $(, $arg:ident: $ty:ty)*) -> $ret:ty; )* }) => {
        #[async_trait]
        impl $trait for IndexTx {
            $($own)*
            $(
                async fn $name(&mut self $(, $arg: $ty)*) -> StoreResult<$ret> {
                    self.store().await?.$name($($arg),*).await
                }
            )*
        }
    };
}

#[async_trait]
impl Tx for IndexTx {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        match self.tx {
            Some(tx) => tx.commit().await,
            None => Ok(()),
        }
    }

    async fn lock_graph(&mut self) -> StoreResult<()> {
        self.store().await?.lock_graph().await
    }

    async fn count(&mut self, counter: Counter) -> StoreResult<i64> {
        match counter {
            Counter::Users => Ok(self.state().counts().0 as i64),
            Counter::Groups => Ok(self.state().counts().1 as i64),
            _ => self.store().await?.count(counter).await,
        }
    }

    async fn id_by_num(&mut self, kind: NumKind, num: i64) -> StoreResult<Option<uuid::Uuid>> {
        match kind {
            NumKind::User => Ok(self.state().user_by_num(num).map(|u| u.0)),
            NumKind::Group => Ok(self.state().group_by_num(num).map(|g| g.0)),
            _ => self.store().await?.id_by_num(kind, num).await,
        }
    }

    async fn nums_of(&mut self, kind: NumKind, ids: &[uuid::Uuid]) -> StoreResult<Vec<(uuid::Uuid, i64)>> {
        match kind {
            NumKind::User => {
                let s = self.state();
                Ok(ids.iter().filter_map(|id| s.user(UserId(*id)).map(|u| (*id, u.num))).collect())
            }
            NumKind::Group => {
                let s = self.state();
                Ok(ids.iter().filter_map(|id| s.group(GroupId(*id)).map(|g| (*id, g.num))).collect())
            }
            _ => self.store().await?.nums_of(kind, ids).await,
        }
    }
}

answer_or_forward! {
    impl UserStore {
        async fn get_user(&mut self, id: UserId) -> StoreResult<Option<User>> {
            Ok(self.state().user(id).map(|u| (**u).clone()))
        }

        async fn get_users(&mut self, ids: &[UserId]) -> StoreResult<Vec<Arc<User>>> {
            let s = self.state();
            Ok(ids.iter().filter_map(|id| s.user(*id)).cloned().collect())
        }

        async fn get_user_by_username(&mut self, username: &str) -> StoreResult<Option<User>> {
            let s = self.state();
            Ok(s.user_by_username(username).and_then(|id| s.user(id)).map(|u| (**u).clone()))
        }

        /// Each user named, once, by `num` (the store's `IN` promises no
        /// order; its callers ask each name once).
        async fn get_users_by_email(&mut self, email: &str) -> StoreResult<Vec<User>> {
            let s = self.state();
            Ok(s.users_by_email(email).into_iter().filter_map(|id| s.user(id)).map(|u| (**u).clone()).collect())
        }

        async fn get_users_by_usernames(&mut self, usernames: &[String]) -> StoreResult<Vec<User>> {
            let s = self.state();
            let found: std::collections::BTreeMap<i64, &std::sync::Arc<User>> =
                usernames.iter().filter_map(|n| s.user_by_username(n)).filter_map(|id| s.user(id)).map(|u| (u.num, u)).collect();
            Ok(found.into_values().map(|u| (**u).clone()).collect())
        }

        /// Any filter, order and position, as the store's statement.
        async fn list_users(&mut self, spec: &ListSpec, filter: &UserFilter) -> StoreResult<Vec<User>> {
            let s = self.state();
            Ok(s.list_users(spec, filter).into_iter().filter_map(|id| s.user(id)).map(|u| (**u).clone()).collect())
        }

        async fn count_users_matching(&mut self, spec: &ListSpec, filter: &UserFilter) -> StoreResult<i64> {
            Ok(self.state().count_users(spec, filter) as i64)
        }
    }
    forward {
        // Only writes ask it (the last admin's guard), in a store transaction.
        fn count_site_admins(&mut self) -> i64;
        fn insert_user(&mut self, user: &User) -> i64;
        fn insert_users(&mut self, users: &[User]) -> Vec<i64>;
        fn update_user(&mut self, user: &User) -> ();
        fn delete_user(&mut self, id: UserId) -> ();
        fn set_password_hash(&mut self, id: UserId, hash: &str) -> ();
        fn password_hash(&mut self, id: UserId) -> Option<String>;
        fn scan_users(&mut self, after: i64, limit: u32) -> Vec<User>;
    }
}

answer_or_forward! {
    impl GroupStore {
        async fn get_group(&mut self, id: GroupId) -> StoreResult<Option<Group>> {
            Ok(self.state().group(id).map(|g| (**g).clone()))
        }

        /// A read locks nothing: as `get_group`.
        async fn get_group_shared(&mut self, id: GroupId) -> StoreResult<Option<Group>> {
            Ok(self.state().group(id).map(|g| (**g).clone()))
        }

        async fn get_groups(&mut self, ids: &[GroupId]) -> StoreResult<Vec<Group>> {
            let s = self.state();
            Ok(ids.iter().filter_map(|id| s.group(*id)).map(|g| (**g).clone()).collect())
        }

        async fn group_access(&mut self, group: GroupId, user: UserId) -> StoreResult<GroupAccess> {
            Ok(self.state().access(group, user))
        }

        async fn get_group_by_name(&mut self, name: &str) -> StoreResult<Option<Group>> {
            let s = self.state();
            Ok(s.group_by_name(name).and_then(|id| s.group(id)).map(|g| (**g).clone()))
        }

        /// As `get_users_by_usernames`: each group named, once, by `num`.
        async fn get_groups_by_names(&mut self, names: &[String]) -> StoreResult<Vec<Group>> {
            let s = self.state();
            let found: std::collections::BTreeMap<i64, &std::sync::Arc<Group>> =
                names.iter().filter_map(|n| s.group_by_name(n)).filter_map(|id| s.group(id)).map(|g| (g.num, g)).collect();
            Ok(found.into_values().map(|g| (**g).clone()).collect())
        }

        async fn get_group_by_unique_id(&mut self, unique_id: &str) -> StoreResult<Option<Group>> {
            let s = self.state();
            Ok(s.group_by_unique_id(unique_id).and_then(|id| s.group(id)).map(|g| (**g).clone()))
        }

        /// Any scope, order and position, as the store's statement.
        async fn list_groups(&mut self, spec: &ListSpec, scope: &GroupScope) -> StoreResult<Vec<Group>> {
            let s = self.state();
            Ok(s.list_groups(spec, scope).into_iter().filter_map(|id| s.group(id)).map(|g| (**g).clone()).collect())
        }

        async fn count_groups_matching(&mut self, spec: &ListSpec, scope: &GroupScope) -> StoreResult<i64> {
            Ok(self.state().count_groups(spec, scope) as i64)
        }

        async fn count_active_members(&mut self, groups: &[GroupId]) -> StoreResult<Vec<(GroupId, i64)>> {
            Ok(self.state().count_active_members(groups))
        }
    }
    forward {
        fn insert_group(&mut self, group: &Group) -> i64;
        fn insert_groups(&mut self, groups: &[Group]) -> Vec<i64>;
        fn update_group(&mut self, group: &Group) -> ();
        fn delete_group(&mut self, id: GroupId) -> ();
        fn group_roles(&mut self, group: GroupId) -> Vec<Role>;
        fn grant_group_role(&mut self, group: GroupId, role: RoleId) -> bool;
        fn revoke_group_role(&mut self, group: GroupId, role: RoleId) -> bool;
        fn scan_groups(&mut self, after: i64, limit: u32) -> Vec<Group>;
    }
}

answer_or_forward! {
    impl MembershipStore {
        async fn get_membership(&mut self, id: MembershipId) -> StoreResult<Option<Membership>> {
            Ok(self.state().membership(id))
        }

        async fn peek_membership(&mut self, id: MembershipId) -> StoreResult<Option<Membership>> {
            Ok(self.state().membership(id))
        }

        async fn find_membership(&mut self, group: GroupId, member: Member) -> StoreResult<Option<Membership>> {
            Ok(self.state().find_membership(group, member))
        }

        async fn find_user_memberships(&mut self, pairs: &[(GroupId, UserId)]) -> StoreResult<Vec<Membership>> {
            let s = self.state();
            Ok(pairs.iter().filter_map(|(g, u)| s.find_membership(*g, Member::User(*u))).collect())
        }

        async fn find_memberships(&mut self, group: GroupId, members: &[Member]) -> StoreResult<Vec<Membership>> {
            let s = self.state();
            Ok(members.iter().filter_map(|m| s.find_membership(group, *m)).collect())
        }

        async fn group_member_refs(&mut self, group: GroupId) -> StoreResult<Vec<Member>> {
            let s = self.state();
            let mut all = s.group_memberships(group, false, 0, 0, u32::MAX);
            all.extend(s.group_memberships(group, true, 0, 0, u32::MAX));
            all.sort_by_key(|m| m.num);
            Ok(all.into_iter().map(|m| m.member).collect())
        }

        async fn member_names(&mut self, group: GroupId) -> StoreResult<Arc<MemberNames>> {
            Ok(self.state().member_names(group))
        }

        async fn list_group_memberships(
            &mut self,
            group: GroupId,
            children: bool,
            after: i64,
            offset: u64,
            limit: u32,
        ) -> StoreResult<Vec<Membership>> {
            Ok(self.state().group_memberships(group, children, after, offset, limit))
        }

        async fn list_user_memberships(
            &mut self,
            user: UserId,
            after: i64,
            offset: u64,
            limit: u32,
        ) -> StoreResult<Vec<Membership>> {
            Ok(self.state().user_memberships(user, after, offset, limit))
        }

        async fn count_user_memberships(&mut self, user: UserId) -> StoreResult<i64> {
            let known = {
                let s = self.state();
                s.user(user).is_some().then(|| s.count_user_memberships(user))
            };
            match known {
                Some(n) => Ok(n),
                None => self.store().await?.count_user_memberships(user).await,
            }
        }

        async fn group_reaches(&mut self, from: GroupId, to: GroupId) -> StoreResult<bool> {
            let s = self.state();
            Ok(s.group(from).is_some() && s.group(to).is_some() && s.reaches(from, to))
        }

        async fn in_group_transitively(&mut self, group: GroupId, user: UserId) -> StoreResult<bool> {
            Ok(self.state().in_group(group, user))
        }

        async fn users_in_group_among(&mut self, group: GroupId, users: &[UserId]) -> StoreResult<Vec<UserId>> {
            let s = self.state();
            Ok(users.iter().copied().filter(|u| s.in_group(group, *u)).collect())
        }

        async fn membership_path(&mut self, group: GroupId, user: UserId) -> StoreResult<Vec<GroupId>> {
            Ok(self.state().membership_path(group, user))
        }

        async fn list_members_transitively(&mut self, group: GroupId, after: i64, limit: u32) -> StoreResult<Vec<Arc<User>>> {
            let s = self.state();
            let bits = s.users_at_any_depth(group);
            let mut iter = bits.iter();
            iter.advance_to(u64::try_from(after.saturating_add(1)).unwrap_or(0));
            Ok(iter
                .take(limit as usize)
                .filter_map(|num| i64::try_from(num).ok())
                .filter_map(|num| s.user_by_num(num))
                .filter_map(|id| s.user(id).cloned())
                .collect())
        }

        async fn count_members_transitively(&mut self, group: GroupId) -> StoreResult<i64> {
            let known = {
                let s = self.state();
                s.group(group).is_some().then(|| s.users_at_any_depth(group).len() as i64)
            };
            match known {
                Some(n) => Ok(n),
                None => self.store().await?.count_members_transitively(group).await,
            }
        }

        async fn list_groups_transitively(&mut self, user: UserId, after: i64, limit: u32) -> StoreResult<Vec<Arc<Group>>> {
            let s = self.state();
            let groups = s.groups_at_any_depth(user);
            Ok(groups.into_iter().filter(|g| g.num > after).take(limit as usize).cloned().collect())
        }

        async fn count_groups_transitively(&mut self, user: UserId) -> StoreResult<i64> {
            Ok(self.state().count_groups_at_any_depth(user) as i64)
        }
    }
    forward {
        fn insert_membership(&mut self, m: &Membership) -> i64;
        fn insert_memberships(&mut self, ms: &[Membership]) -> Vec<i64>;
        fn insert_membership_rows(&mut self, ms: &[Membership]) -> ();
        fn begin_bulk_memberships(&mut self) -> ();
        fn end_bulk_memberships(&mut self) -> ();
        fn add_edge_counts(&mut self, counts: &EdgeCounts, at: OffsetDateTime) -> ();
        fn rebuild_group_closure(&mut self) -> ();
        fn update_membership(&mut self, m: &Membership) -> ();
        fn delete_membership(&mut self, id: MembershipId) -> ();
        fn scan_memberships(&mut self, after: i64, limit: u32) -> Vec<Membership>;
    }
}

answer_or_forward! {
    impl CatalogStore {}
    forward {
        fn insert_role(&mut self, role: &Role) -> i64;
        fn update_role(&mut self, role: &Role) -> ();
        fn delete_role(&mut self, id: RoleId) -> ();
        fn get_role(&mut self, id: RoleId) -> Option<Role>;
        fn list_roles(&mut self, spec: &ListSpec) -> Vec<Role>;
        fn insert_org(&mut self, org: &Organization) -> i64;
        fn update_org(&mut self, org: &Organization) -> ();
        fn delete_org(&mut self, id: OrgId) -> ();
        fn get_org(&mut self, id: OrgId) -> Option<Organization>;
        fn org_exists(&mut self, id: OrgId) -> bool;
        fn list_orgs(&mut self, spec: &ListSpec) -> Vec<Organization>;
        fn insert_project(&mut self, project: &Project) -> i64;
        fn update_project(&mut self, project: &Project) -> ();
        fn delete_project(&mut self, id: ProjectId) -> ();
        fn get_project(&mut self, id: ProjectId) -> Option<Project>;
        fn get_project_by_name(&mut self, name: &str) -> Option<Project>;
        fn list_projects(&mut self, spec: &ListSpec) -> Vec<Project>;
        fn put_binding(&mut self, binding: &ProjectBinding) -> Option<String>;
        fn delete_binding(&mut self, project: ProjectId, principal: Grantee) -> bool;
        fn list_bindings(&mut self, project: ProjectId, after: i64, limit: u32) -> Vec<ProjectBinding>;
        fn count_bindings(&mut self, project: ProjectId) -> i64;
        fn bindings_of(&mut self, principal: Grantee, after: i64, limit: u32) -> Vec<ProjectBinding>;
        fn insert_job(&mut self, job: &Job) -> i64;
        fn get_job(&mut self, id: JobId) -> Option<Job>;
    }
}

answer_or_forward! {
    impl AccessStore {
        async fn find_share(&mut self, group: GroupId, grantee: Grantee) -> StoreResult<Option<Share>> {
            Ok(self.state().shares_of(group).iter().find(|s| s.grantee == grantee).cloned())
        }

        async fn list_shares(&mut self, group: GroupId, after: i64, limit: u32) -> StoreResult<Vec<Share>> {
            Ok(self.state().shares_of(group).iter().filter(|s| s.num > after).take(limit as usize).cloned().collect())
        }

        async fn count_shares(&mut self, group: GroupId) -> StoreResult<i64> {
            Ok(self.state().shares_of(group).len() as i64)
        }
    }
    forward {
        fn put_share(&mut self, share: &Share) -> Share;
        fn delete_share(&mut self, group: GroupId, grantee: Grantee) -> bool;
        fn shares_held_by_group(&mut self, group: GroupId) -> Vec<Share>;
        fn insert_key(&mut self, key: &ApiKey, digest: &str) -> i64;
        fn delete_key(&mut self, id: KeyId) -> ();
        fn get_key(&mut self, id: KeyId) -> Option<ApiKey>;
        fn find_key_by_digest(&mut self, digest: &str) -> Option<ApiKey>;
        fn list_keys(&mut self, user: Option<UserId>, after: i64, limit: u32) -> Vec<ApiKey>;
        fn count_user_keys(&mut self, user: UserId) -> i64;
        fn scan_shares(&mut self, after: i64, limit: u32) -> Vec<Share>;
        fn insert_web_session(&mut self, digest: &str, session: &WebSession) -> ();
        fn find_web_session(&mut self, digest: &str) -> Option<WebSession>;
        fn delete_web_session(&mut self, digest: &str) -> bool;
        fn delete_expired_web_sessions(&mut self, now: OffsetDateTime) -> u64;
    }
}

answer_or_forward! {
    impl EventStore {}
    forward {
        fn append_event(&mut self, event: &NewEvent) -> ();
        fn append_events(&mut self, events: &[NewEvent]) -> ();
        fn list_events(&mut self, after: i64, limit: u32) -> Vec<Event>;
    }
}

answer_or_forward! {
    impl WebhookStore {}
    forward {
        fn insert_webhook(&mut self, hook: &Webhook, secret: &WebhookSecret, cursor: i64) -> i64;
        fn update_webhook(&mut self, hook: &Webhook) -> ();
        fn delete_webhook(&mut self, id: WebhookId) -> ();
        fn get_webhook(&mut self, id: WebhookId) -> Option<Webhook>;
        fn list_webhooks(&mut self, after: i64, limit: u32) -> Vec<Webhook>;
        fn count_webhooks(&mut self) -> i64;
        fn webhook_secrets(&mut self, id: WebhookId) -> Option<WebhookSecrets>;
        fn set_webhook_secrets(&mut self, id: WebhookId, secrets: &WebhookSecrets) -> ();
        fn delivery_state(&mut self, id: WebhookId) -> Option<DeliveryState>;
        fn reset_delivery(&mut self, state: &DeliveryState) -> ();
        fn count_due_webhooks(&mut self, now: OffsetDateTime, head: i64) -> i64;
        fn lease_webhooks(&mut self, worker: &str, now: OffsetDateTime, until: OffsetDateTime, head: i64, limit: u32) -> Vec<(Webhook, DeliveryState)>;
        fn save_delivery(&mut self, worker: &str, state: &DeliveryState, until: Option<OffsetDateTime>) -> bool;
        fn disable_webhook(&mut self, id: WebhookId, reason: &str) -> ();
        fn insert_delivery_attempt(&mut self, attempt: &DeliveryAttempt) -> Option<i64>;
        fn list_delivery_attempts(&mut self, id: WebhookId, outcome: Option<Outcome>, before: i64, limit: u32) -> Vec<DeliveryAttempt>;
        fn count_delivery_attempts(&mut self, id: WebhookId, outcome: Option<Outcome>) -> i64;
        fn queue_redelivery(&mut self, id: WebhookId, seq: i64) -> ();
        fn queued_redeliveries(&mut self, id: WebhookId, limit: u32) -> Vec<i64>;
        fn drop_redelivery(&mut self, id: WebhookId, seq: i64) -> ();
        fn scoped_subscriptions(&mut self) -> Vec<(GroupId, Vec<String>)>;
        fn lock_watched_group(&mut self, group: GroupId) -> ();
    }
}
