//! The storage contract. Shaped by the domain, not by SQL: the directory
//! opens one transaction per use-case, reads and writes through it, appends
//! the use-case's event, and commits. Implementations live in `roster-store`
//! and must pass its contract suite.
//!
//! Stores maintain the counters in [`crate::model::GroupCounts`] and the
//! table totals themselves, inside the same transaction as the write that
//! changes them.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::authz::GroupAccess;
use crate::cursor::Keyset;
use crate::error::StoreError;
use crate::ids::*;
use crate::model::*;
use crate::webhooks::{DeliveryAttempt, DeliveryState, Outcome, Webhook, WebhookSecret, WebhookSecrets};
use time::OffsetDateTime;

pub type StoreResult<T> = Result<T, StoreError>;

/// What a list asks of the store: rows strictly after `after` in the list's
/// order, at most `limit` of them, optionally filtered by a folded name
/// prefix or substring.
#[derive(Clone, Debug, Default)]
pub struct ListSpec {
    pub after: Option<Keyset>,
    pub limit: u32,
    /// Rows to skip first (only when `after` is `None`).
    pub offset: u64,
    pub prefix: Option<String>,
    pub contains: Option<String>,
}

impl ListSpec {
    pub fn is_filtered(&self) -> bool {
        self.prefix.is_some() || self.contains.is_some()
    }
}

/// What narrows a list of users, beyond [`ListSpec`] (whose `prefix` users
/// do not use: theirs is `name_prefix`). Text is already case-folded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// A prefix of the username, the first, last or display name.
    pub name_prefix: Option<String>,
    /// A piece of the username, the first, last or display name.
    pub name_contains: Option<String>,
    pub active: Option<bool>,
    /// Users matching any of these (no entries: any user).
    pub roles: Vec<RoleMatch>,
    /// Users directly in any of these groups (no entries: anywhere).
    pub in_groups: Vec<GroupId>,
    /// Username order, last first (offset pages only; cursors go forwards).
    pub descending: bool,
    /// Only the user with this external id.
    pub external_id: Option<String>,
}

impl UserFilter {
    pub fn is_filtered(&self) -> bool {
        self.name_prefix.is_some()
            || self.name_contains.is_some()
            || self.active.is_some()
            || !self.roles.is_empty()
            || !self.in_groups.is_empty()
            || self.external_id.is_some()
    }
}

/// The order of a group list. Keyset cursors exist for `Name` ascending;
/// the other orders serve offset pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GroupOrder {
    #[default]
    Name,
    Created,
}

/// Which groups a list covers, beyond [`ListSpec`]'s name filters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupScope {
    /// Only groups this user may see (`authz::can_read_group`: a member at
    /// any depth, or a share); `None`: all.
    pub visible_to: Option<UserId>,
    /// Only groups this user holds at least this share level on.
    pub shared_with: Option<(UserId, ShareLevel)>,
    /// Only groups that any of these users is directly in.
    pub members_any: Vec<UserId>,
    /// Only groups that any of these users is in at any depth (LDAP's
    /// in-chain `member`, for any caller: what it may see of them).
    pub members_at_any_depth: Vec<UserId>,
    /// Only groups that any of these groups is directly nested in: their
    /// parents (LDAP's `(member=<group DN>)`).
    pub children_any: Vec<GroupId>,
    pub org: Option<OrgId>,
    pub order: GroupOrder,
    pub descending: bool,
}

impl GroupScope {
    pub fn is_filtered(&self) -> bool {
        self.visible_to.is_some()
            || self.shared_with.is_some()
            || !self.members_any.is_empty()
            || !self.members_at_any_depth.is_empty()
            || !self.children_any.is_empty()
            || self.org.is_some()
    }
}

/// The kinds of entity that front-ends may name by their integer `num`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumKind {
    User,
    Group,
    Role,
    Organization,
    Membership,
}

/// One way a user's role can match a filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleMatch {
    /// A site admin.
    SiteAdmin,
    /// A non-admin with this role label (see [`crate::User::role_label`]);
    /// with `or_unlabelled`, also a non-admin without one.
    Label { label: String, or_unlabelled: bool },
}

/// Whole-table totals the store keeps as counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    Users,
    Groups,
    Roles,
    Organizations,
    Projects,
    Keys,
    Events,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A transaction that only reads (a consistent snapshot).
    async fn read(&self) -> StoreResult<Box<dyn Tx>>;
    /// For a read of one statement, which is atomic by itself: no
    /// transaction is opened, saving its round trips on the hottest reads.
    /// Each statement sees the latest commit, so a use-case that issues
    /// more than one must not need them to agree.
    async fn read_single(&self) -> StoreResult<Box<dyn Tx>> {
        self.read().await
    }
    /// A transaction that writes; writers are serialized or isolated so that
    /// no update is lost.
    async fn write(&self) -> StoreResult<Box<dyn Tx>>;
    /// Returns when another process may have appended events, or after
    /// `timeout`, whichever is first. A store without notifications just
    /// waits (its followers poll); a missed notification only delays. A
    /// store that numbers events after their commit (PostgreSQL) numbers,
    /// when the wait times out, those a writer left when it died.
    async fn wait_for_change(&self, timeout: std::time::Duration) {
        tokio::time::sleep(timeout).await;
    }
    /// The version of the last migration this store's schema is at (a
    /// process migrates it when it opens it). Whatever was kept of the
    /// store's rows under another version may no longer match them.
    fn schema_version(&self) -> i64;
    /// Closes the store's connections once the work in flight is done,
    /// so a process leaves its database tidy (SQLite: the last connection
    /// to close folds the write-ahead log into the file).
    async fn close(&self) {}
}

/// One transaction: every capability below, plus commit, the graph lock,
/// the table totals and the `num` lookups that span every kind of entity.
/// The capabilities' methods are callable on a `Box<dyn Tx>` as they are
/// (a trait object's supertraits need no import).
#[async_trait]
pub trait Tx:
    UserStore + GroupStore + MembershipStore + CatalogStore + AccessStore + EventStore + WebhookStore + Send
{
    /// Writes what every writer shares (the table totals, then the
    /// appended events, which take their `seq` here), as the last
    /// statements, then commits.
    async fn commit(self: Box<Self>) -> StoreResult<()>;
    /// Serializes changes to the nesting graph for the rest of this
    /// transaction, so two concurrent nestings cannot form a cycle together.
    /// Taken first, before any row lock (the lock order in ARCHITECTURE.md).
    async fn lock_graph(&mut self) -> StoreResult<()>;
    async fn count(&mut self, counter: Counter) -> StoreResult<i64>;
    /// The UUID of the entity of `kind` whose `num` is given.
    async fn id_by_num(&mut self, kind: NumKind, num: i64) -> StoreResult<Option<uuid::Uuid>>;
    /// The `num` of each entity of `kind` among `ids` that exists.
    async fn nums_of(&mut self, kind: NumKind, ids: &[uuid::Uuid]) -> StoreResult<Vec<(uuid::Uuid, i64)>>;
}

/// Users, ordered by folded username.
#[async_trait]
pub trait UserStore: Send {
    async fn insert_user(&mut self, user: &User) -> StoreResult<i64>;
    /// Inserts many users; returns their `num`s in order.
    async fn insert_users(&mut self, users: &[User]) -> StoreResult<Vec<i64>>;
    async fn update_user(&mut self, user: &User) -> StoreResult<()>;
    async fn delete_user(&mut self, id: UserId) -> StoreResult<()>;
    /// Stores an argon2 hash for the user's password (never read back by
    /// any listing).
    async fn set_password_hash(&mut self, id: UserId, hash: &str) -> StoreResult<()>;
    /// The user's password hash, if one is stored: only for checking a
    /// password (`Directory::authenticate_user`), never shown.
    async fn password_hash(&mut self, id: UserId) -> StoreResult<Option<String>>;
    async fn get_user(&mut self, id: UserId) -> StoreResult<Option<User>>;
    /// The users among `ids` that exist, in no particular order. Shared, as
    /// [`MembershipStore::list_members_transitively`]'s users: a member
    /// page costs no copy of its users.
    async fn get_users(&mut self, ids: &[UserId]) -> StoreResult<Vec<Arc<User>>>;
    async fn get_user_by_username(&mut self, username: &str) -> StoreResult<Option<User>>;
    /// The users whose email is `email`, ignoring case (`validate::fold`), in
    /// `num` order. The index answers from a map; the store's answer is a
    /// scan, for the moments before the index is loaded.
    async fn get_users_by_email(&mut self, email: &str) -> StoreResult<Vec<User>>;
    /// The users with any of these usernames (ignoring case), in no particular order.
    async fn get_users_by_usernames(&mut self, usernames: &[String]) -> StoreResult<Vec<User>>;
    async fn list_users(&mut self, spec: &ListSpec, filter: &UserFilter) -> StoreResult<Vec<User>>;
    async fn count_users_matching(&mut self, spec: &ListSpec, filter: &UserFilter) -> StoreResult<i64>;
    async fn count_site_admins(&mut self) -> StoreResult<i64>;
    /// Users by `num`, after `after`: a walk of the whole table, for
    /// loading the in-memory index.
    async fn scan_users(&mut self, after: i64, limit: u32) -> StoreResult<Vec<User>>;
}

/// Groups, ordered by folded name, with the roles a group holds and what
/// a user may do to a group (`group_access`).
#[async_trait]
pub trait GroupStore: Send {
    async fn insert_group(&mut self, group: &Group) -> StoreResult<i64>;
    /// Inserts many groups; returns their `num`s in order.
    async fn insert_groups(&mut self, groups: &[Group]) -> StoreResult<Vec<i64>>;
    async fn update_group(&mut self, group: &Group) -> StoreResult<()>;
    async fn delete_group(&mut self, id: GroupId) -> StoreResult<()>;
    async fn get_group(&mut self, id: GroupId) -> StoreResult<Option<Group>>;
    /// As [`GroupStore::get_group`], for a write that changes only the
    /// group's user memberships: the group is kept from changing or going
    /// away until the transaction ends (a shared lock, where `get_group`
    /// in a write takes an exclusive one), while other membership changes
    /// to it go on beside this one.
    async fn get_group_shared(&mut self, id: GroupId) -> StoreResult<Option<Group>>;
    /// The group with this name, ignoring case.
    async fn get_group_by_name(&mut self, name: &str) -> StoreResult<Option<Group>>;
    /// The groups with any of these names (ignoring case), in no particular order.
    async fn get_groups_by_names(&mut self, names: &[String]) -> StoreResult<Vec<Group>>;
    /// The groups among `ids` that exist, in no particular order.
    async fn get_groups(&mut self, ids: &[GroupId]) -> StoreResult<Vec<Group>>;
    /// The group whose `unique_id` is exactly this.
    async fn get_group_by_unique_id(&mut self, unique_id: &str) -> StoreResult<Option<Group>>;
    /// Groups visible to `visible_to` (member or share) when given, all otherwise.
    async fn list_groups(&mut self, spec: &ListSpec, scope: &GroupScope) -> StoreResult<Vec<Group>>;
    async fn count_groups_matching(&mut self, spec: &ListSpec, scope: &GroupScope) -> StoreResult<i64>;
    /// Direct members of each group that are active users.
    async fn count_active_members(&mut self, groups: &[GroupId]) -> StoreResult<Vec<(GroupId, i64)>>;
    async fn group_access(&mut self, group: GroupId, user: UserId) -> StoreResult<GroupAccess>;
    async fn group_roles(&mut self, group: GroupId) -> StoreResult<Vec<Role>>;
    async fn grant_group_role(&mut self, group: GroupId, role: RoleId) -> StoreResult<bool>;
    async fn revoke_group_role(&mut self, group: GroupId, role: RoleId) -> StoreResult<bool>;
    /// Groups by `num`, after `after` (loading the in-memory index).
    async fn scan_groups(&mut self, after: i64, limit: u32) -> StoreResult<Vec<Group>>;
}

/// What new edges add to the counters the store keeps on their ends: per
/// group (members, admins, children), per user the groups they are in
/// directly. One rule for a write of a few edges and for a bulk load.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EdgeCounts {
    pub groups: BTreeMap<GroupId, (i64, i64, i64)>,
    pub users: BTreeMap<UserId, i64>,
}

impl EdgeCounts {
    pub fn add(&mut self, m: &Membership) {
        let group = self.groups.entry(m.group).or_default();
        match m.member {
            Member::User(u) => {
                group.0 += 1;
                group.1 += i64::from(m.role == MemberRole::Admin);
                *self.users.entry(u).or_default() += 1;
            }
            Member::Group(_) => group.2 += 1,
        }
    }
}

/// Memberships, ordered by `num` (the order they were made), nesting, and
/// transitive membership: the direct edges joined to the nesting closure the
/// store keeps at write time (`group_closure`).
#[async_trait]
pub trait MembershipStore: Send {
    async fn insert_membership(&mut self, m: &Membership) -> StoreResult<i64>;
    /// Inserts many memberships (counters move once per group and user);
    /// returns their `num`s in order.
    async fn insert_memberships(&mut self, ms: &[Membership]) -> StoreResult<Vec<i64>>;
    /// Inserts edges as rows alone: no counter moves and, for nesting, no
    /// closure upkeep. A bulk load settles both once, after every row
    /// ([`Self::add_edge_counts`], [`Self::rebuild_group_closure`]).
    async fn insert_membership_rows(&mut self, ms: &[Membership]) -> StoreResult<()>;
    /// Before a bulk load's membership rows (the users and groups they
    /// name are in): the store readies itself for many rows at once. SQLite
    /// drops the indexes of an empty `memberships`, to build each in one
    /// pass after the rows; PostgreSQL takes the statistics of the tables
    /// just filled, so that the rows' key checks and the counters' updates
    /// are planned for their real size.
    async fn begin_bulk_memberships(&mut self) -> StoreResult<()>;
    /// Ends what [`Self::begin_bulk_memberships`] began (SQLite: makes the
    /// indexes again; at the commit at the latest).
    async fn end_bulk_memberships(&mut self) -> StoreResult<()>;
    /// Adds `counts` to the groups' and users' counters, stamping the
    /// users' groups as changed at `at`.
    async fn add_edge_counts(&mut self, counts: &EdgeCounts, at: OffsetDateTime) -> StoreResult<()>;
    /// Computes the nesting closure afresh from the nesting edges (which
    /// must hold no cycle), replacing what it held.
    async fn rebuild_group_closure(&mut self) -> StoreResult<()>;
    async fn update_membership(&mut self, m: &Membership) -> StoreResult<()>;
    async fn delete_membership(&mut self, id: MembershipId) -> StoreResult<()>;
    async fn get_membership(&mut self, id: MembershipId) -> StoreResult<Option<Membership>>;
    /// The membership as committed, without locking it (even in a write):
    /// to learn which group to lock first, before the membership itself.
    async fn peek_membership(&mut self, id: MembershipId) -> StoreResult<Option<Membership>>;
    async fn find_membership(&mut self, group: GroupId, member: Member) -> StoreResult<Option<Membership>>;
    /// The user memberships among these (group, user) pairs that exist.
    async fn find_user_memberships(&mut self, pairs: &[(GroupId, UserId)]) -> StoreResult<Vec<Membership>>;
    /// The memberships of `group` that name any of `members`, in no particular order.
    async fn find_memberships(&mut self, group: GroupId, members: &[Member]) -> StoreResult<Vec<Membership>>;
    /// Every direct member of a group (users and nested groups), in the order they joined.
    async fn group_member_refs(&mut self, group: GroupId) -> StoreResult<Vec<Member>>;
    /// The usernames of a group's direct user members and the names of its
    /// child groups, each in the order they joined: what a protocol that
    /// names members (LDAP's `member`) needs, without reading the users.
    async fn member_names(&mut self, group: GroupId) -> StoreResult<Arc<MemberNames>>;
    /// Direct user members (`children == false`) or child groups of a group.
    async fn list_group_memberships(
        &mut self,
        group: GroupId,
        children: bool,
        after: i64,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<Membership>>;
    /// Direct memberships of a user.
    async fn list_user_memberships(
        &mut self,
        user: UserId,
        after: i64,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<Membership>>;
    async fn count_user_memberships(&mut self, user: UserId) -> StoreResult<i64>;
    /// Whether `to` is `from` or nested (at any depth) below it.
    async fn group_reaches(&mut self, from: GroupId, to: GroupId) -> StoreResult<bool>;
    /// Whether the user is in the group at any depth.
    async fn in_group_transitively(&mut self, group: GroupId, user: UserId) -> StoreResult<bool>;
    /// One nesting path that puts the user in the group: from `group` down
    /// to one of the user's direct groups, both ends included (`[group]`
    /// for a direct member). Empty when the user is not in it at any depth.
    async fn membership_path(&mut self, group: GroupId, user: UserId) -> StoreResult<Vec<GroupId>>;
    /// Which of `users` are in the group at any depth (in no particular order).
    async fn users_in_group_among(&mut self, group: GroupId, users: &[UserId]) -> StoreResult<Vec<UserId>>;
    /// Users in the group at any depth, by their `num`, after `after`.
    /// Shared, as [`MembershipStore::list_groups_transitively`]'s groups.
    async fn list_members_transitively(
        &mut self,
        group: GroupId,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<Arc<User>>>;
    async fn count_members_transitively(&mut self, group: GroupId) -> StoreResult<i64>;
    /// Groups the user is in at any depth, by their `num`, after `after`.
    /// Shared rather than owned: the index hands out the groups it holds,
    /// so a page costs no copy of them.
    async fn list_groups_transitively(&mut self, user: UserId, after: i64, limit: u32) -> StoreResult<Vec<Arc<Group>>>;
    async fn count_groups_transitively(&mut self, user: UserId) -> StoreResult<i64>;
    /// Memberships by `num`, after `after` (loading the in-memory index).
    async fn scan_memberships(&mut self, after: i64, limit: u32) -> StoreResult<Vec<Membership>>;
}

/// Roles, organizations, projects with the role each user or group holds in
/// them (bindings), and jobs (append-only records of finished operations).
#[async_trait]
pub trait CatalogStore: Send {
    async fn insert_role(&mut self, role: &Role) -> StoreResult<i64>;
    async fn update_role(&mut self, role: &Role) -> StoreResult<()>;
    async fn delete_role(&mut self, id: RoleId) -> StoreResult<()>;
    async fn get_role(&mut self, id: RoleId) -> StoreResult<Option<Role>>;
    async fn list_roles(&mut self, spec: &ListSpec) -> StoreResult<Vec<Role>>;
    async fn insert_org(&mut self, org: &Organization) -> StoreResult<i64>;
    async fn update_org(&mut self, org: &Organization) -> StoreResult<()>;
    async fn delete_org(&mut self, id: OrgId) -> StoreResult<()>;
    async fn get_org(&mut self, id: OrgId) -> StoreResult<Option<Organization>>;
    /// Whether the organization exists, kept from deletion until commit but
    /// not locked against other writers: every group refers to one, most to
    /// the default organization, and creating groups must not queue on it.
    async fn org_exists(&mut self, id: OrgId) -> StoreResult<bool>;
    async fn list_orgs(&mut self, spec: &ListSpec) -> StoreResult<Vec<Organization>>;
    async fn insert_project(&mut self, project: &Project) -> StoreResult<i64>;
    async fn update_project(&mut self, project: &Project) -> StoreResult<()>;
    async fn delete_project(&mut self, id: ProjectId) -> StoreResult<()>;
    async fn get_project(&mut self, id: ProjectId) -> StoreResult<Option<Project>>;
    /// The project with this name, ignoring case.
    async fn get_project_by_name(&mut self, name: &str) -> StoreResult<Option<Project>>;
    async fn list_projects(&mut self, spec: &ListSpec) -> StoreResult<Vec<Project>>;
    /// Inserts or changes the binding; returns the previous role if any.
    async fn put_binding(&mut self, binding: &ProjectBinding) -> StoreResult<Option<String>>;
    async fn delete_binding(&mut self, project: ProjectId, principal: Grantee) -> StoreResult<bool>;
    async fn list_bindings(&mut self, project: ProjectId, after: i64, limit: u32) -> StoreResult<Vec<ProjectBinding>>;
    async fn count_bindings(&mut self, project: ProjectId) -> StoreResult<i64>;
    /// The bindings of one user or group, across projects, by `num`.
    async fn bindings_of(&mut self, principal: Grantee, after: i64, limit: u32) -> StoreResult<Vec<ProjectBinding>>;
    async fn insert_job(&mut self, job: &Job) -> StoreResult<i64>;
    async fn get_job(&mut self, id: JobId) -> StoreResult<Option<Job>>;
}

/// Shares of groups and API keys (the store only ever sees key digests).
#[async_trait]
pub trait AccessStore: Send {
    /// Inserts or changes the share for (group, grantee); returns it as stored.
    async fn put_share(&mut self, share: &Share) -> StoreResult<Share>;
    async fn find_share(&mut self, group: GroupId, grantee: Grantee) -> StoreResult<Option<Share>>;
    async fn delete_share(&mut self, group: GroupId, grantee: Grantee) -> StoreResult<bool>;
    async fn list_shares(&mut self, group: GroupId, after: i64, limit: u32) -> StoreResult<Vec<Share>>;
    async fn count_shares(&mut self, group: GroupId) -> StoreResult<i64>;
    /// The shares given to a group (what its members may reach through it).
    async fn shares_held_by_group(&mut self, group: GroupId) -> StoreResult<Vec<Share>>;
    async fn insert_key(&mut self, key: &ApiKey, digest: &str) -> StoreResult<i64>;
    async fn delete_key(&mut self, id: KeyId) -> StoreResult<()>;
    async fn get_key(&mut self, id: KeyId) -> StoreResult<Option<ApiKey>>;
    async fn find_key_by_digest(&mut self, digest: &str) -> StoreResult<Option<ApiKey>>;
    async fn list_keys(&mut self, user: Option<UserId>, after: i64, limit: u32) -> StoreResult<Vec<ApiKey>>;
    async fn count_user_keys(&mut self, user: UserId) -> StoreResult<i64>;
    /// Saves a console session under the digest of its token.
    async fn insert_web_session(&mut self, digest: &str, session: &WebSession) -> StoreResult<()>;
    async fn find_web_session(&mut self, digest: &str) -> StoreResult<Option<WebSession>>;
    /// Ends a session; false when there was none.
    async fn delete_web_session(&mut self, digest: &str) -> StoreResult<bool>;
    /// Forgets the sessions that expired before `now`; how many.
    async fn delete_expired_web_sessions(&mut self, now: OffsetDateTime) -> StoreResult<u64>;
    /// Shares by `num`, after `after` (loading the in-memory index).
    async fn scan_shares(&mut self, after: i64, limit: u32) -> StoreResult<Vec<Share>>;
}

/// The append-only event log.
#[async_trait]
pub trait EventStore: Send {
    /// Appends an event to the transaction; it is written, and takes its
    /// `seq` (gapless, in commit order), when the transaction commits, as its
    /// last write: the log is shared by every writer, so no writer holds it
    /// while it waits for anything else.
    async fn append_event(&mut self, event: &NewEvent) -> StoreResult<()>;
    /// Appends events in order, as [`EventStore::append_event`].
    async fn append_events(&mut self, events: &[NewEvent]) -> StoreResult<()>;
    /// Events with `seq > after`, oldest first.
    async fn list_events(&mut self, after: i64, limit: u32) -> StoreResult<Vec<Event>>;
}

/// Webhook subscriptions, their secrets, where each one's delivery stands
/// (with the lease a server holds on it while it delivers) and the log of
/// delivery attempts.
#[async_trait]
pub trait WebhookStore: Send {
    /// Inserts a subscription whose delivery starts after `seq` `cursor`.
    async fn insert_webhook(&mut self, hook: &Webhook, secret: &WebhookSecret, cursor: i64) -> StoreResult<i64>;
    /// Saves what a use-case changes: the URL, event types, description,
    /// `enabled` and its reason, `updated_at`. Never the delivery state.
    async fn update_webhook(&mut self, hook: &Webhook) -> StoreResult<()>;
    async fn delete_webhook(&mut self, id: WebhookId) -> StoreResult<()>;
    /// The subscription (locked in a write).
    async fn get_webhook(&mut self, id: WebhookId) -> StoreResult<Option<Webhook>>;
    /// Subscriptions by `num`, after `after`.
    async fn list_webhooks(&mut self, after: i64, limit: u32) -> StoreResult<Vec<Webhook>>;
    async fn count_webhooks(&mut self) -> StoreResult<i64>;
    /// The signing secrets: only for signing, and for showing once after a
    /// rotation.
    async fn webhook_secrets(&mut self, id: WebhookId) -> StoreResult<Option<WebhookSecrets>>;
    async fn set_webhook_secrets(&mut self, id: WebhookId, secrets: &WebhookSecrets) -> StoreResult<()>;
    async fn delivery_state(&mut self, id: WebhookId) -> StoreResult<Option<DeliveryState>>;
    /// Moves a subscription's delivery (a use-case: re-enabling, redelivering),
    /// whoever holds its lease.
    async fn reset_delivery(&mut self, state: &DeliveryState) -> StoreResult<()>;
    /// How many enabled subscriptions have events after their cursor (up to
    /// `head`) or events asked for again, are due at `now` and are not leased.
    async fn count_due_webhooks(&mut self, now: OffsetDateTime, head: i64) -> StoreResult<i64>;
    /// Leases up to `limit` of those to `worker` until `until`: a
    /// conditional UPDATE, so of several servers one gets each.
    async fn lease_webhooks(
        &mut self,
        worker: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        head: i64,
        limit: u32,
    ) -> StoreResult<Vec<(Webhook, DeliveryState)>>;
    /// Saves a delivery's progress while `worker` holds the lease and the
    /// subscription is enabled, renewing the lease until `until` or
    /// releasing it (`None`). False when it does not hold it any more (the
    /// lease lost, the subscription disabled or deleted): stop.
    async fn save_delivery(
        &mut self,
        worker: &str,
        state: &DeliveryState,
        until: Option<OffsetDateTime>,
    ) -> StoreResult<bool>;
    /// Disables a subscription from the delivery side (a 410), releasing its lease.
    async fn disable_webhook(&mut self, id: WebhookId, reason: &str) -> StoreResult<()>;
    /// Appends to the delivery log (keeping the recent rows of each
    /// subscription and every dead letter). `None`, and nothing written,
    /// when the subscription no longer exists (deleted during the attempt).
    async fn insert_delivery_attempt(&mut self, attempt: &DeliveryAttempt) -> StoreResult<Option<i64>>;
    /// A subscription's attempts, newest first, with `num < before`;
    /// only those with `outcome` when given.
    async fn list_delivery_attempts(
        &mut self,
        id: WebhookId,
        outcome: Option<Outcome>,
        before: i64,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryAttempt>>;
    async fn count_delivery_attempts(&mut self, id: WebhookId, outcome: Option<Outcome>) -> StoreResult<i64>;
    /// Asks for event `seq` to be delivered to the subscription once more
    /// (a second ask before it went is the same ask).
    async fn queue_redelivery(&mut self, id: WebhookId, seq: i64) -> StoreResult<()>;
    /// The events asked for again, oldest first.
    async fn queued_redeliveries(&mut self, id: WebhookId, limit: u32) -> StoreResult<Vec<i64>>;
    async fn drop_redelivery(&mut self, id: WebhookId, seq: i64) -> StoreResult<()>;
    /// The group scope and event types of every enabled subscription that has a scope.
    async fn scoped_subscriptions(&mut self) -> StoreResult<Vec<(GroupId, Vec<String>)>>;
    /// Serializes, until the transaction ends, the writes that compute
    /// changes at any depth of this watched group (where writers run side
    /// by side: PostgreSQL; taken after every row lock of the write).
    async fn lock_watched_group(&mut self, group: GroupId) -> StoreResult<()>;
}

/// Every store trait by name, for a backend implementing them.
pub mod prelude {
    pub use super::{
        AccessStore, CatalogStore, EventStore, GroupStore, MembershipStore, Store, Tx, UserStore, WebhookStore,
    };
}
