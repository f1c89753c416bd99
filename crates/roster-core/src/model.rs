//! The entities of the directory. These are domain types, not wire types:
//! they are not `Serialize`; each front-end converts them into its own shapes.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::ids::*;

/// A user's site-wide role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteRole {
    Admin,
    User,
}

impl SiteRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "user" => Some(Self::User),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: UserId,
    /// Small integer id assigned by the store, for front-ends whose clients
    /// expect numbers. Stable for the life of the user.
    pub num: i64,
    pub username: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    pub site_role: SiteRole,
    pub primary_group: Option<GroupId>,
    pub external_id: Option<String>,
    /// A finer role name than `site_role` that some platforms show and
    /// filter by (Posit's `publisher`/`viewer`). Informational only:
    /// authorization looks at `site_role` alone.
    pub role_label: Option<String>,
    /// Vendor profile fields that have no column of their own, typed by the
    /// front-end that owns them.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Bumped on every change; the basis of ETags and stale-write checks.
    pub version: i64,
    /// When the user's direct groups last changed (the store moves it, always
    /// forwards, with every membership it makes or removes for the user).
    pub groups_changed_at: OffsetDateTime,
    /// When anything but the account's status (`active`) last changed:
    /// the modification time of platforms that leave it alone when an
    /// account is locked or unlocked (Posit's `updated_time`).
    pub profile_changed_at: OffsetDateTime,
}

impl User {
    /// An active site admin: what the last-admin rule keeps at least one of.
    pub fn is_active_admin(&self) -> bool {
        self.site_role == SiteRole::Admin && self.active
    }

    /// A new active, non-admin user with nothing but a username, made at `at`.
    pub fn new(username: String, at: OffsetDateTime) -> Self {
        Self {
            id: UserId::new(),
            num: 0,
            username,
            email: None,
            first_name: None,
            last_name: None,
            display_name: None,
            active: true,
            site_role: SiteRole::User,
            primary_group: None,
            external_id: None,
            role_label: None,
            attributes: serde_json::Map::new(),
            created_at: at,
            updated_at: at,
            version: 1,
            groups_changed_at: at,
            profile_changed_at: at,
        }
    }

    /// The name the user goes by: the display name, else first and last
    /// name together, else the username. One rule for every front-end that
    /// shows a single name (LDAP's `cn`).
    pub fn full_name(&self) -> String {
        let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        if let Some(display) = given(&self.display_name) {
            return display;
        }
        match (given(&self.first_name), given(&self.last_name)) {
            (Some(first), Some(last)) => format!("{first} {last}"),
            _ => self.username.clone(),
        }
    }

    /// Records a change from `before` made at `at`: the version moves by
    /// one and `updated_at` with it; `profile_changed_at` too, unless only
    /// the account's status changed.
    pub fn mark_changed(&mut self, before: &User, at: OffsetDateTime) {
        let status_only = User { active: before.active, ..self.clone() } == *before;
        self.version = before.version + 1;
        self.updated_at = at;
        if !status_only {
            self.profile_changed_at = at;
        }
    }

    /// A stamp of the user's set of direct groups: it moves whenever a
    /// membership of the user is made or removed, and only then. A client
    /// echoes it back with a new group list so that a list computed from a
    /// stale read is refused rather than written over someone else's change.
    pub fn groups_stamp(&self) -> OffsetDateTime {
        self.created_at.max(self.groups_changed_at)
    }
}

/// How a group came to exist; kept so that readers (Compliance) can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceType {
    Api,
    Scim,
    Posit,
    Civis,
    Box,
    Iguazio,
    Import,
}

impl SourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Scim => "scim",
            Self::Posit => "posit",
            Self::Civis => "civis",
            Self::Box => "box",
            Self::Iguazio => "iguazio",
            Self::Import => "import",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "api" => Self::Api,
            "scim" => Self::Scim,
            "posit" => Self::Posit,
            "civis" => Self::Civis,
            "box" => Self::Box,
            "iguazio" => Self::Iguazio,
            "import" => Self::Import,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub id: GroupId,
    pub num: i64,
    pub name: String,
    /// An identifier given by the system that created the group (SCIM
    /// externalId, Posit unique_id); unique when present.
    pub unique_id: Option<String>,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub org: OrgId,
    pub source_type: SourceType,
    /// Vendor settings that have no column of their own, typed by the
    /// front-end that owns them.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub created_by: Option<UserId>,
    pub updated_by: Option<UserId>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub version: i64,
    /// Maintained counters (never `COUNT(*)`).
    pub counts: GroupCounts,
}

impl Group {
    /// A new group named `name`, its slug derived from the name, made by
    /// `by` at `at` in `org`; nothing else set.
    pub fn new(name: String, org: OrgId, source_type: SourceType, by: UserId, at: OffsetDateTime) -> Self {
        Self {
            id: GroupId::new(),
            num: 0,
            slug: Some(crate::validate::slugify(&name)),
            name,
            unique_id: None,
            description: None,
            org,
            source_type,
            attributes: serde_json::Map::new(),
            created_by: Some(by),
            updated_by: Some(by),
            created_at: at,
            updated_at: at,
            version: 1,
            counts: GroupCounts::default(),
        }
    }
}

/// A group's direct members by name: its users' usernames and its child
/// groups' names, each in the order they joined. What a protocol that
/// names members (LDAP's `member`) needs, without the entities; shared
/// (`Arc`), so a server that keeps it need not copy a large group's names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberNames {
    pub users: Vec<String>,
    pub groups: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupCounts {
    /// Direct user members, admins included.
    pub members: i64,
    /// Direct user members whose role is admin.
    pub admins: i64,
    /// Direct child groups.
    pub children: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberRole {
    Member,
    Admin,
}

impl MemberRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "member" => Some(Self::Member),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// The configurable permissions of a group admin.
///
/// Semantics (shared by every front-end): `Disabled` turns every permission
/// off; in `Map`, a permission is on unless it is named with `false`.
/// Permissions only matter for admins; a plain member has none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Permissions {
    Disabled,
    Map(BTreeMap<String, bool>),
}

impl Default for Permissions {
    fn default() -> Self {
        Self::Map(BTreeMap::new())
    }
}

impl Permissions {
    pub fn allows(&self, permission: &str) -> bool {
        match self {
            Self::Disabled => false,
            Self::Map(m) => m.get(permission).copied().unwrap_or(true),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Disabled => serde_json::Value::Null,
            Self::Map(m) => {
                serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), serde_json::Value::Bool(*v))).collect())
            }
        }
    }
}

/// Names of the permissions the core itself consults for group admins.
pub mod permission {
    /// Add users to the group.
    pub const ADD_MEMBERS: &str = "add_members";
    /// Remove users from the group.
    pub const REMOVE_MEMBERS: &str = "remove_members";
    /// Change the role or permissions of a membership.
    pub const EDIT_MEMBERSHIPS: &str = "edit_memberships";
    /// Nest groups under the group and take them out.
    pub const MANAGE_CHILDREN: &str = "manage_children";

    /// Every permission a membership may name: the core's own, and those
    /// platforms store and show for group admins without Roster acting on
    /// them (Box's). Any other name is refused, never silently kept.
    pub const KNOWN: [&str; 8] = [
        ADD_MEMBERS,
        REMOVE_MEMBERS,
        EDIT_MEMBERSHIPS,
        MANAGE_CHILDREN,
        "can_run_reports",
        "can_instant_login",
        "can_create_accounts",
        "can_edit_accounts",
    ];
}

/// Who or what sits inside a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Member {
    User(UserId),
    Group(GroupId),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Membership {
    pub id: MembershipId,
    pub num: i64,
    pub group: GroupId,
    pub member: Member,
    pub role: MemberRole,
    pub permissions: Permissions,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Membership {
    /// A new edge made at `t` (its `num` comes from the store).
    pub fn new(group: GroupId, member: Member, role: MemberRole, permissions: Permissions, t: OffsetDateTime) -> Self {
        Self { id: MembershipId::new(), num: 0, group, member, role, permissions, created_at: t, updated_at: t }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Role {
    pub id: RoleId,
    pub num: i64,
    pub name: String,
    pub description: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Organization {
    pub id: OrgId,
    pub num: i64,
    pub name: String,
    pub slug: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// The organization that exists from the first start; groups created
/// without an organization belong to it.
pub const DEFAULT_ORG_ID: OrgId = OrgId(uuid::Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0001));

#[derive(Clone, Debug, PartialEq)]
pub struct Project {
    pub id: ProjectId,
    pub num: i64,
    pub name: String,
    pub description: Option<String>,
    pub org: OrgId,
    /// Vendor settings (labels, owner, …), typed by the front-end that owns them.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// The role one user or group holds in one project (at most one each).
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectBinding {
    pub project: ProjectId,
    pub principal: Grantee,
    pub num: i64,
    pub role: String,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ShareLevel {
    Read,
    Write,
    Manage,
}

impl ShareLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Manage => "manage",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            "manage" => Some(Self::Manage),
            _ => None,
        }
    }
}

/// Who receives a share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grantee {
    User(UserId),
    Group(GroupId),
}

/// A group shared with a user or group at a level.
#[derive(Clone, Debug, PartialEq)]
pub struct Share {
    pub id: ShareId,
    pub num: i64,
    pub group: GroupId,
    pub grantee: Grantee,
    pub level: ShareLevel,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ApiKey {
    pub id: KeyId,
    pub num: i64,
    pub user: UserId,
    pub name: String,
    /// The first characters of the secret, to tell keys apart in listings.
    pub prefix: String,
    pub created_at: OffsetDateTime,
}

/// A signed-in browser session of the web console: made from a key (or a
/// user's password, `key` then `None`), known to the store only by the
/// digest of its token, ended by sign-out, by `expires_at`, or by the key
/// or user it came from going away or being deactivated.
#[derive(Clone, Debug, PartialEq)]
pub struct WebSession {
    pub user: UserId,
    pub key: Option<KeyId>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// One entry of the append-only change log.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub seq: i64,
    pub at: OffsetDateTime,
    pub actor: Option<UserId>,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// An event about to be appended (the store assigns `seq`).
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub at: OffsetDateTime,
    pub actor: Option<UserId>,
    pub action: &'static str,
    pub target_type: &'static str,
    pub target_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// How a job ended. Roster runs every job to its end before answering, so
/// a job is recorded already finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    Completed,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "completed" => Some(Self::Completed),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// The record of an operation that some platforms run as a job their
/// clients poll (deleting a group, changing project roles): what was asked,
/// by whom, and how it ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub num: i64,
    pub kind: String,
    pub state: JobState,
    pub params: serde_json::Value,
    pub result: Option<serde_json::Value>,
    pub actor: Option<UserId>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// The group every user belongs to, by definition: not stored, never empty,
/// never deleted. Its name is reserved, and front-ends that show it (Iguazio)
/// use this id for it.
pub const ALL_USERS_GROUP_ID: GroupId = GroupId(uuid::Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_00a1));
/// The reserved name of [`ALL_USERS_GROUP_ID`].
pub const ALL_USERS_GROUP_NAME: &str = "all_users";

/// What anyone may read of a user when anonymous reads are on (see
/// [`crate::PublicReader`]): names and number, nothing else. The subset is
/// this type, so no front-end can show more: no email, no timestamps, no
/// role, no attributes, nothing a key would reveal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUser {
    pub id: UserId,
    pub num: i64,
    pub username: String,
    /// [`User::full_name`].
    pub full_name: String,
}

impl From<User> for PublicUser {
    fn from(u: User) -> Self {
        let full_name = u.full_name();
        Self { id: u.id, num: u.num, username: u.username, full_name }
    }
}

impl From<&User> for PublicUser {
    fn from(u: &User) -> Self {
        Self { id: u.id, num: u.num, username: u.username.clone(), full_name: u.full_name() }
    }
}

/// What anyone may read of a group when anonymous reads are on: its name
/// and number (and, through [`crate::PublicReader`], who is in it); not its
/// description, attributes, shares or timestamps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicGroup {
    pub id: GroupId,
    pub num: i64,
    pub name: String,
}

impl From<Group> for PublicGroup {
    fn from(g: Group) -> Self {
        Self { id: g.id, num: g.num, name: g.name }
    }
}

impl From<&Group> for PublicGroup {
    fn from(g: &Group) -> Self {
        Self { id: g.id, num: g.num, name: g.name.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_name_and_the_public_shape() {
        let mut u = User::new("ann".into(), OffsetDateTime::UNIX_EPOCH);
        assert_eq!(u.full_name(), "ann");
        u.first_name = Some("Ann".into());
        assert_eq!(u.full_name(), "ann", "one name alone is not a full name");
        u.last_name = Some("Lee".into());
        assert_eq!(u.full_name(), "Ann Lee");
        u.display_name = Some("  ".into());
        assert_eq!(u.full_name(), "Ann Lee", "a blank display name is none");
        u.display_name = Some("Dr. Lee".into());
        u.email = Some("ann@example.org".into());
        let public = PublicUser::from(u.clone());
        assert_eq!(public, PublicUser { id: u.id, num: u.num, username: "ann".into(), full_name: "Dr. Lee".into() });
    }
}
