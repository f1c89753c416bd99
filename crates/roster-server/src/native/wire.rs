//! The native API's JSON shapes: the only `Serialize` types of this
//! front-end, converted by hand from core types.

use std::collections::BTreeMap;

use roster_core as core;
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// Tells "absent" (outer `None`) from "null" (`Some(None)`) in PATCH bodies.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A JSON integer, also written with a zero fraction (`3.0`), as JSON
/// Schema's `integer` allows.
fn whole<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    whole_number(serde_json::Number::deserialize(d)?)
}

/// As [`whole`], `null` being absent.
fn whole_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Option::<serde_json::Number>::deserialize(d)?.map(whole_number).transpose()
}

fn whole_number<E: serde::de::Error>(n: serde_json::Number) -> Result<i64, E> {
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && (-9.0e18..=9.0e18).contains(&f) => Ok(f as i64),
        _ => Err(E::custom("expected a whole number within range")),
    }
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable: invalid_request, unauthenticated, forbidden, not_found, conflict, precondition_failed, …
    pub code: String,
    pub message: String,
    /// The request field at fault, when there is one.
    pub field: Option<String>,
}

/// Every list answers this envelope; pass `next_cursor` back as `cursor`.
#[derive(Serialize, ToSchema)]
pub struct List<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
    /// Exact number of items in the whole list (all pages).
    pub total: i64,
}

impl<T> List<T> {
    pub fn from_page<U>(page: core::Page<U>, f: impl FnMut(U) -> T) -> Self {
        let page = page.map(f);
        Self { items: page.items, next_cursor: page.next_cursor, total: page.total }
    }
}

#[derive(Deserialize, Default)]
pub struct ListParams {
    pub limit: Option<String>,
    pub cursor: Option<String>,
    pub prefix: Option<String>,
    pub q: Option<String>,
    /// See `native::fields`.
    pub fields: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct PageParams {
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// A page of a list whose items `fields` may narrow (`native::fields`).
#[derive(Deserialize, Default)]
pub struct SelectPageParams {
    pub limit: Option<String>,
    pub cursor: Option<String>,
    pub fields: Option<String>,
}

/// `fields` on a single item (`native::fields`).
#[derive(Deserialize, Default)]
pub struct FieldsParams {
    pub fields: Option<String>,
}

/// A page of a membership list, direct (default) or at any depth.
#[derive(Deserialize, Default)]
pub struct MembershipListParams {
    pub limit: Option<String>,
    pub cursor: Option<String>,
    pub transitive: Option<String>,
    /// See `native::fields`.
    pub fields: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct CheckParams {
    pub user: Option<String>,
    pub group: Option<String>,
}

/// Whether a user is in a group at any depth.
#[derive(Serialize, ToSchema)]
pub struct Check {
    pub member: bool,
    /// Group ids from the group down to the user's direct group; empty when
    /// not a member.
    pub path: Vec<Uuid>,
}

#[derive(Deserialize, Default)]
pub struct KeyListParams {
    pub limit: Option<String>,
    pub cursor: Option<String>,
    pub user_id: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct EventParams {
    pub after: Option<String>,
    pub limit: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct StreamParams {
    pub after: Option<String>,
    pub follow: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    /// `admin` or `user`.
    #[schema(schema_with = super::doc::site_role)]
    pub site_role: String,
    pub primary_group_id: Option<Uuid>,
    pub external_id: Option<String>,
    /// A finer role name some platforms show (e.g. `publisher`); informational.
    pub role_label: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: i64,
}

impl From<core::User> for User {
    fn from(u: core::User) -> Self {
        Self {
            id: u.id.0,
            username: u.username,
            email: u.email,
            first_name: u.first_name,
            last_name: u.last_name,
            display_name: u.display_name,
            active: u.active,
            site_role: u.site_role.as_str().to_owned(),
            primary_group_id: u.primary_group.map(|g| g.0),
            external_id: u.external_id,
            role_label: u.role_label,
            created_at: u.created_at,
            updated_at: u.updated_at,
            version: u.version,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[schema(schema_with = super::doc::username)]
    pub username: String,
    #[schema(schema_with = super::doc::email)]
    pub email: Option<String>,
    #[schema(schema_with = super::doc::optional_name)]
    pub first_name: Option<String>,
    #[schema(schema_with = super::doc::optional_name)]
    pub last_name: Option<String>,
    #[schema(schema_with = super::doc::optional_name)]
    pub display_name: Option<String>,
    pub active: Option<bool>,
    #[schema(schema_with = super::doc::site_role_or_null)]
    pub site_role: Option<String>,
    #[schema(schema_with = super::doc::optional_name)]
    pub external_id: Option<String>,
    #[schema(schema_with = super::doc::optional_name)]
    pub role_label: Option<String>,
    /// Write-only; stored as an argon2 hash.
    #[schema(schema_with = super::doc::password)]
    pub password: Option<String>,
}

/// Absent fields stay as they are; `null` clears a nullable field.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[schema(schema_with = super::doc::username_or_null)]
    pub username: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = super::doc::email)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = super::doc::optional_name)]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = super::doc::optional_name)]
    pub last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = super::doc::optional_name)]
    pub display_name: Option<Option<String>>,
    pub active: Option<bool>,
    #[schema(schema_with = super::doc::site_role_or_null)]
    pub site_role: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = super::doc::optional_name)]
    pub external_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = super::doc::optional_name)]
    pub role_label: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub primary_group_id: Option<Option<Uuid>>,
}

#[derive(Serialize, ToSchema)]
pub struct Group {
    pub id: Uuid,
    pub name: String,
    pub unique_id: Option<String>,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub organization_id: Uuid,
    /// How the group was created: api, scim, posit, civis, box, iguazio, import.
    #[schema(schema_with = super::doc::source_type)]
    pub source_type: String,
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Direct user members.
    pub member_count: i64,
    pub admin_count: i64,
    /// Directly nested groups.
    pub child_count: i64,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: i64,
}

impl From<core::Group> for Group {
    fn from(g: core::Group) -> Self {
        Self {
            id: g.id.0,
            name: g.name,
            unique_id: g.unique_id,
            slug: g.slug,
            description: g.description,
            organization_id: g.org.0,
            source_type: g.source_type.as_str().to_owned(),
            attributes: g.attributes,
            member_count: g.counts.members,
            admin_count: g.counts.admins,
            child_count: g.counts.children,
            created_by: g.created_by.map(|u| u.0),
            updated_by: g.updated_by.map(|u| u.0),
            created_at: g.created_at,
            updated_at: g.updated_at,
            version: g.version,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    #[schema(schema_with = super::doc::name)]
    pub name: String,
    #[schema(schema_with = super::doc::optional_name)]
    pub unique_id: Option<String>,
    #[schema(schema_with = super::doc::slug)]
    pub slug: Option<String>,
    #[schema(schema_with = super::doc::text)]
    pub description: Option<String>,
    pub organization_id: Option<Uuid>,
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct GroupPatch {
    #[schema(schema_with = super::doc::name_or_null)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = super::doc::optional_name)]
    pub unique_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = super::doc::slug)]
    pub slug: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = super::doc::text)]
    pub description: Option<Option<String>>,
    pub organization_id: Option<Uuid>,
    /// Merged into the stored attributes; a `null` value removes an entry.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A user's or group's place in a group.
#[derive(Serialize, ToSchema)]
pub struct Membership {
    pub id: Uuid,
    pub group_id: Uuid,
    pub user_id: Option<Uuid>,
    pub child_group_id: Option<Uuid>,
    /// `member` or `admin`.
    #[schema(schema_with = super::doc::member_role)]
    pub role: String,
    /// Name → enabled; `null` disables every permission. Unlisted names are enabled.
    #[schema(value_type = Option<Object>)]
    pub permissions: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<core::Membership> for Membership {
    fn from(m: core::Membership) -> Self {
        let (user_id, child_group_id) = match m.member {
            core::Member::User(u) => (Some(u.0), None),
            core::Member::Group(g) => (None, Some(g.0)),
        };
        Self {
            id: m.id.0,
            group_id: m.group.0,
            user_id,
            child_group_id,
            role: m.role.as_str().to_owned(),
            permissions: m.permissions.to_json(),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A member of a group: the membership and the user.
#[derive(Serialize, ToSchema)]
pub struct Member {
    /// The direct membership; absent in lists at any depth (`transitive=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub membership: Option<Membership>,
    pub user: User,
}

/// A group seen through a membership: a child of a group, or a group of a user.
#[derive(Serialize, ToSchema)]
pub struct GroupEdge {
    /// The direct membership; absent in lists at any depth (`transitive=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub membership: Option<Membership>,
    pub group: Group,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PutMember {
    /// `member` (default) or `admin`.
    #[schema(schema_with = super::doc::member_role_or_null)]
    pub role: Option<String>,
    /// Absent: every permission enabled. `null`: all disabled.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = super::doc::permissions)]
    pub permissions: Option<Option<BTreeMap<String, bool>>>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct MembershipPatch {
    #[schema(schema_with = super::doc::member_role_or_null)]
    pub role: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = super::doc::permissions)]
    pub permissions: Option<Option<BTreeMap<String, bool>>>,
}

#[derive(Serialize, ToSchema)]
pub struct Role {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<core::Role> for Role {
    fn from(r: core::Role) -> Self {
        Self {
            id: r.id.0,
            name: r.name,
            description: r.description,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRole {
    #[schema(schema_with = super::doc::name)]
    pub name: String,
    #[schema(schema_with = super::doc::text)]
    pub description: Option<String>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RolePatch {
    #[schema(schema_with = super::doc::name_or_null)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = super::doc::text)]
    pub description: Option<Option<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<core::Organization> for Organization {
    fn from(o: core::Organization) -> Self {
        Self { id: o.id.0, name: o.name, slug: o.slug, created_at: o.created_at, updated_at: o.updated_at }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganization {
    #[schema(schema_with = super::doc::name)]
    pub name: String,
    #[schema(schema_with = super::doc::slug)]
    pub slug: Option<String>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct OrganizationPatch {
    #[schema(schema_with = super::doc::name_or_null)]
    pub name: Option<String>,
    #[schema(schema_with = super::doc::slug)]
    pub slug: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Project {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub organization_id: Uuid,
    /// Settings other platforms keep on a project (labels, owner, …).
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<core::Project> for Project {
    fn from(p: core::Project) -> Self {
        Self {
            id: p.id.0,
            name: p.name,
            description: p.description,
            organization_id: p.org.0,
            attributes: p.attributes,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    #[schema(schema_with = super::doc::name)]
    pub name: String,
    #[schema(schema_with = super::doc::text)]
    pub description: Option<String>,
    pub organization_id: Option<Uuid>,
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ProjectPatch {
    #[schema(schema_with = super::doc::name_or_null)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = super::doc::text)]
    pub description: Option<Option<String>>,
    /// Replaces every attribute.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The role a user or a group holds in a project (exactly one of
/// `user_id` and `group_id` is set).
#[derive(Serialize, ToSchema)]
pub struct ProjectBinding {
    pub project_id: Uuid,
    pub user_id: Option<Uuid>,
    pub group_id: Option<Uuid>,
    pub role: String,
}

impl From<core::ProjectBinding> for ProjectBinding {
    fn from(b: core::ProjectBinding) -> Self {
        let (user_id, group_id) = match b.principal {
            core::Grantee::User(u) => (Some(u.0), None),
            core::Grantee::Group(g) => (None, Some(g.0)),
        };
        Self { project_id: b.project.0, user_id, group_id, role: b.role }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutBinding {
    /// e.g. `admin`, `editor`, `viewer`.
    #[schema(schema_with = super::doc::name)]
    pub role: String,
}

#[derive(Serialize, ToSchema)]
pub struct Share {
    pub id: Uuid,
    pub group_id: Uuid,
    /// `user` or `group`.
    #[schema(schema_with = super::doc::grantee_type)]
    pub grantee_type: String,
    pub grantee_id: Uuid,
    /// `read`, `write` or `manage`.
    #[schema(schema_with = super::doc::share_level)]
    pub level: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<core::Share> for Share {
    fn from(s: core::Share) -> Self {
        let (grantee_type, grantee_id) = match s.grantee {
            core::Grantee::User(u) => ("user", u.0),
            core::Grantee::Group(g) => ("group", g.0),
        };
        Self {
            id: s.id.0,
            group_id: s.group.0,
            grantee_type: grantee_type.to_owned(),
            grantee_id,
            level: s.level.as_str().to_owned(),
            created_at: s.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutShare {
    #[schema(schema_with = super::doc::share_level)]
    pub level: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    /// The first characters of the secret, to tell keys apart.
    pub prefix: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<core::ApiKey> for ApiKey {
    fn from(k: core::ApiKey) -> Self {
        Self { id: k.id.0, user_id: k.user.0, name: k.name, prefix: k.prefix, created_at: k.created_at }
    }
}

/// A key just created. `key` is the secret: it is shown this once only.
#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    pub key: String,
    #[serde(flatten)]
    pub record: ApiKey,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    pub user_id: Uuid,
    #[schema(schema_with = super::doc::name)]
    pub name: String,
}

/// One entry of the change feed.
#[derive(Serialize, ToSchema)]
pub struct Event {
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: Option<Uuid>,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

impl From<core::Event> for Event {
    fn from(e: core::Event) -> Self {
        Self {
            seq: e.seq,
            at: e.at,
            actor: e.actor.map(|a| a.0),
            action: e.action,
            target_type: e.target_type,
            target_id: e.target_id,
            before: e.before,
            after: e.after,
        }
    }
}

/// One frame of `/v1/events/stream` (described, never built: the frames
/// are written by axum's `Sse` from [`Event`]).
#[derive(Serialize, ToSchema)]
pub struct StreamedEvent {
    /// The event's `seq`: send it back as `Last-Event-ID` to resume after it.
    pub id: String,
    /// The event's action (`membership.created`, …).
    pub event: String,
    /// The event as JSON text, as `/v1/events` shows it ([`Event`]).
    pub data: String,
}

/// One record of an import, tagged by `type`.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ImportWireRecord {
    User {
        #[schema(schema_with = super::doc::username)]
        username: String,
        #[schema(schema_with = super::doc::email)]
        email: Option<String>,
        #[schema(schema_with = super::doc::optional_name)]
        first_name: Option<String>,
        #[schema(schema_with = super::doc::optional_name)]
        last_name: Option<String>,
        #[schema(schema_with = super::doc::optional_name)]
        display_name: Option<String>,
        #[schema(schema_with = super::doc::optional_name)]
        external_id: Option<String>,
        active: Option<bool>,
        #[schema(schema_with = super::doc::site_role_or_null)]
        site_role: Option<String>,
    },
    Group {
        #[schema(schema_with = super::doc::name)]
        name: String,
        #[schema(schema_with = super::doc::text)]
        description: Option<String>,
        #[schema(schema_with = super::doc::optional_name)]
        unique_id: Option<String>,
    },
    /// `user` (username) in `group` (name), role `member` (default) or `admin`.
    Member {
        group: String,
        user: String,
        #[schema(schema_with = super::doc::member_role_or_null)]
        role: Option<String>,
    },
    /// Group `child` nested in group `parent` (names).
    Child { parent: String, child: String },
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    #[schema(max_items = 5000)]
    pub records: Vec<ImportWireRecord>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportResult {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// A webhook subscription (its secret is never shown after creation).
#[derive(Serialize, ToSchema)]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    /// Patterns of the event types delivered; empty: every type.
    pub event_types: Vec<String>,
    /// Only events of this group and the groups nested in it; `null`: every event.
    pub group_id: Option<Uuid>,
    pub description: Option<String>,
    pub enabled: bool,
    /// Why the server disabled it (the receiver answered 410 Gone).
    pub disabled_reason: Option<String>,
    pub created_by: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Until when the secret replaced by the last rotation still signs too.
    #[serde(with = "time::serde::rfc3339::option")]
    pub previous_secret_until: Option<OffsetDateTime>,
}

impl From<core::webhooks::Webhook> for Webhook {
    fn from(w: core::webhooks::Webhook) -> Self {
        Self {
            id: w.id.0,
            url: w.url,
            event_types: w.event_types,
            group_id: w.group.map(|g| g.0),
            description: w.description,
            enabled: w.enabled,
            disabled_reason: w.disabled_reason,
            created_by: w.created_by.map(|u| u.0),
            created_at: w.created_at,
            updated_at: w.updated_at,
            previous_secret_until: w.previous_secret_until,
        }
    }
}

/// A subscription just created. `secret` (`whsec_` + base64) signs its
/// deliveries: it is shown this once only.
#[derive(Serialize, ToSchema)]
pub struct CreatedWebhook {
    pub secret: String,
    #[serde(flatten)]
    pub record: Webhook,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    #[schema(schema_with = super::doc::webhook_url)]
    pub url: String,
    /// Event types (`membership.created`), areas (`membership.*`) or `*`; absent or empty: every type.
    #[serde(default)]
    #[schema(schema_with = super::doc::event_types)]
    pub event_types: Vec<String>,
    /// Only events of this group and the groups nested in it (its admins
    /// and manage shares may subscribe); absent: every event (site admins).
    pub group_id: Option<Uuid>,
    #[schema(schema_with = super::doc::text)]
    pub description: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    #[schema(schema_with = super::doc::webhook_url_or_null)]
    pub url: Option<String>,
    #[schema(schema_with = super::doc::event_types_or_null)]
    pub event_types: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = super::doc::text)]
    pub description: Option<Option<String>>,
    /// Enabling again clears the retries: the next event is attempted at once.
    pub enabled: Option<bool>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the old secret goes on signing beside the new one (0–604800 s, default 86400).
    #[serde(default, deserialize_with = "whole_or_null")]
    #[schema(minimum = 0, maximum = 604800)]
    pub grace_seconds: Option<i64>,
}

/// The new secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct RotatedSecret {
    pub secret: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub previous_secret_until: Option<OffsetDateTime>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Redeliver {
    /// Deliver again every event after this `seq` (one event: its `seq` - 1;
    /// those after it follow again too, in order).
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 0, maximum = 9000000000000000000_i64)]
    pub after: i64,
}

/// Where a subscription's delivery stands.
#[derive(Serialize, ToSchema)]
pub struct DeliveryState {
    /// The last `seq` handled.
    pub cursor: i64,
    pub attempts: u32,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
}

impl From<core::webhooks::DeliveryState> for DeliveryState {
    fn from(s: core::webhooks::DeliveryState) -> Self {
        Self { cursor: s.cursor, attempts: s.attempts, next_attempt_at: s.next_attempt_at }
    }
}

/// One delivery attempt.
#[derive(Serialize, ToSchema)]
pub struct Delivery {
    pub seq: i64,
    /// The `webhook-id` sent.
    pub message_id: String,
    pub attempt: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The receiver's status, when it answered.
    pub status: Option<u16>,
    pub latency_ms: i64,
    /// `delivered`, `failed` (retried), `dead` (the last retry failed) or `gone` (410: disabled).
    pub outcome: String,
    /// The start of the receiver's answer, or why there was none.
    pub detail: Option<String>,
}

impl From<core::webhooks::DeliveryAttempt> for Delivery {
    fn from(a: core::webhooks::DeliveryAttempt) -> Self {
        Self {
            seq: a.seq,
            message_id: a.message_id,
            attempt: a.attempt,
            at: a.at,
            status: a.status,
            latency_ms: a.latency_ms,
            outcome: a.outcome.as_str().to_owned(),
            detail: a.detail,
        }
    }
}

#[derive(Deserialize, Default)]
pub struct DeliveryParams {
    pub limit: Option<String>,
    pub cursor: Option<String>,
    pub outcome: Option<String>,
}
