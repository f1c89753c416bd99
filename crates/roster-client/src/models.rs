//! The native API's resources, as the client sees them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One page of a list; follow `next_cursor` for the next.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct List<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
    pub total: i64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    pub site_role: String,
    pub primary_group_id: Option<Uuid>,
    pub external_id: Option<String>,
    pub role_label: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

/// A user to create; only `username` is required.
#[derive(Debug, Clone, Serialize, Default)]
pub struct NewUser {
    pub username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

impl NewUser {
    pub fn named(username: impl Into<String>) -> Self {
        Self { username: username.into(), ..Self::default() }
    }
}

/// Changes to a user: `None` leaves a field alone.
#[derive(Debug, Clone, Serialize, Default)]
pub struct UserPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_role: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Group {
    pub id: Uuid,
    pub name: String,
    pub unique_id: Option<String>,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub organization_id: Uuid,
    pub source_type: String,
    pub member_count: i64,
    pub admin_count: i64,
    pub child_count: i64,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

/// A group to create; only `name` is required.
#[derive(Debug, Clone, Serialize, Default)]
pub struct NewGroup {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique_id: Option<String>,
}

impl NewGroup {
    pub fn named(name: impl Into<String>) -> Self {
        Self { name: name.into(), ..Self::default() }
    }
}

/// Changes to a group: `None` leaves a field alone.
#[derive(Debug, Clone, Serialize, Default)]
pub struct GroupPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A membership's role.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Admin,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Membership {
    pub id: Uuid,
    pub group_id: Uuid,
    pub user_id: Option<Uuid>,
    pub child_group_id: Option<Uuid>,
    pub role: Role,
    pub permissions: Option<serde_json::Value>,
    pub created_at: String,
    pub updated_at: String,
}

/// A member of a group: the membership and the user.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Member {
    pub membership: Membership,
    pub user: User,
}

/// A user in a group at any depth (no direct membership to show).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct TransitiveMember {
    pub user: User,
}

/// A group a user is in at any depth.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct TransitiveGroup {
    pub group: Group,
}

/// Whether a user is in a group at any depth, and through which groups.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Check {
    pub member: bool,
    /// From the group down to the user's direct group; empty when not a member.
    pub path: Vec<Uuid>,
}

/// A group seen through a membership (a child, or a group of a user).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct GroupEdge {
    pub membership: Membership,
    pub group: Group,
}

/// A key just made: `key` is the secret, shown this once.
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedKey {
    pub key: String,
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub prefix: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub seq: i64,
    pub at: String,
    pub actor: Option<Uuid>,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// A key as listed (never with its secret).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ApiKey {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub created_at: String,
}

/// A role, organization or project: the fields they share.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Named {
    pub id: Uuid,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub slug: Option<String>,
}

/// The role a user or a group holds in a project (exactly one of
/// `user_id` and `group_id` is set).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Binding {
    pub project_id: Uuid,
    #[serde(default)]
    pub user_id: Option<Uuid>,
    #[serde(default)]
    pub group_id: Option<Uuid>,
    pub role: String,
}

/// Who a group is shared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grantee {
    User(Uuid),
    Group(Uuid),
}

impl Grantee {
    pub(crate) fn path(self) -> String {
        match self {
            Grantee::User(u) => format!("users/{u}"),
            Grantee::Group(g) => format!("groups/{g}"),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Share {
    pub id: Uuid,
    pub group_id: Uuid,
    pub grantee_type: String,
    pub grantee_id: Uuid,
    pub level: String,
}

/// What an import call did.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
pub struct ImportResult {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// A webhook subscription (never with its secret).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    pub event_types: Vec<String>,
    pub group_id: Option<Uuid>,
    pub description: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub previous_secret_until: Option<String>,
}

/// A subscription to create.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NewWebhook {
    pub url: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub event_types: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A change to a subscription; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WebhookPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_types: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A subscription just made: `secret` (`whsec_…`) is shown this once.
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedWebhook {
    pub secret: String,
    #[serde(flatten)]
    pub webhook: Webhook,
}

/// A rotated secret, shown this once; the old one signs too until `previous_secret_until`.
#[derive(Debug, Clone, Deserialize)]
pub struct RotatedSecret {
    pub secret: String,
    pub previous_secret_until: Option<String>,
}

/// One delivery attempt.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Delivery {
    pub seq: i64,
    pub message_id: String,
    pub attempt: u32,
    pub at: String,
    pub status: Option<u16>,
    pub latency_ms: i64,
    pub outcome: String,
    pub detail: Option<String>,
}

/// Where a subscription's delivery stands.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct DeliveryState {
    pub cursor: i64,
    pub attempts: u32,
    pub next_attempt_at: Option<String>,
}
