//! `fields=`: lean answers (Graph's `$select`, Box's `fields`). A list of
//! users, groups, members or a user's groups, and a single user or group,
//! may name the fields each item carries; the rest are not serialized (they
//! are left out while writing, never built and then stripped).
//!
//! The names are the item's top-level field names, comma-separated, exact
//! (no spaces); duplicates are fine; `id` is always included. An empty
//! value or an unknown name is a 400 naming the field `fields`.
//!
//! A membership row (`{"membership": …, "user": …}`, `{"membership": …,
//! "group": …}`) keeps its shape, so a field is at the same place with or
//! without `fields`: a bare name (`username`) or its path (`user.username`)
//! picks a field of the user (the group); `membership.role` picks a field
//! of the membership; `user`, `group` and `membership` pick the whole
//! object. `id` is always the user's (the group's); the membership's `id`
//! is included whenever one of its fields is, and `membership` is left out
//! when none is. Without `fields`, every field of both, as before.

use std::sync::Arc;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use roster_core::CoreError;
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeStruct, Serializer};
use time::OffsetDateTime;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};

use super::ApiError;
use super::wire::{self, List};
use crate::http::error::BadRequest;

/// A wire type whose top-level fields a client may pick, in serialization
/// order; `NAMES[0]` is `id`.
pub trait Fields: Serialize {
    const NAMES: &'static [&'static str];
    /// Writes the field `name` (one of `NAMES`) into `map`.
    fn field<M: SerializeMap>(&self, name: &str, map: &mut M) -> Result<(), M::Error>;
}

/// Which fields to write: one bit per name of [`Fields::NAMES`], for the
/// item and for its membership (rows of a membership list).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    item: u64,
    membership: u64,
}

impl Selection {
    fn union(self, other: Self) -> Self {
        Self { item: self.item | other.item, membership: self.membership | other.membership }
    }
}

/// An item of a list that `fields` applies to.
pub trait Row: Serialize {
    /// Every name `fields` accepts, in the order the document lists them.
    fn names() -> Vec<String>;
    /// What `name` selects; `None` when it is not a field of this row.
    fn pick(name: &str) -> Option<Selection>;
    /// `sel` with the ids every selection carries.
    fn with_ids(sel: Selection) -> Selection;
    /// Writes only the selected fields.
    fn serialize_selected<S: Serializer>(&self, sel: Selection, s: S) -> Result<S::Ok, S::Error>;
}

/// Reads `fields`: absent is every field (`None`); empty or naming an
/// unknown field is refused, naming `fields`.
pub fn parse<T: Row>(value: Option<&str>) -> Result<Option<Selection>, BadRequest> {
    let Some(value) = value else { return Ok(None) };
    if value.is_empty() {
        return Err(BadRequest::invalid("fields", "must name at least one field"));
    }
    let mut sel = Selection::default();
    for name in value.split(',') {
        let Some(picked) = T::pick(name) else {
            let shown: String = name.chars().take(64).collect();
            return Err(BadRequest::invalid(
                "fields",
                format!("unknown field \"{shown}\"; known: {}", T::names().join(", ")),
            ));
        };
        sel = sel.union(picked);
    }
    Ok(Some(T::with_ids(sel)))
}

/// One item, whole or narrowed to a selection.
pub struct One<T>(pub T, pub Option<Selection>);

impl<T: Row> Serialize for One<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.1 {
            None => self.0.serialize(s),
            Some(sel) => self.0.serialize_selected(sel, s),
        }
    }
}

/// A list page (the usual envelope) whose items are narrowed to a selection.
pub struct Page<T>(pub List<T>, pub Option<Selection>);

impl<T: Row> Serialize for Page<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(sel) = self.1 else { return self.0.serialize(s) };
        let mut list = s.serialize_struct("List", 3)?;
        list.serialize_field("items", &Items(&self.0.items, sel))?;
        list.serialize_field("next_cursor", &self.0.next_cursor)?;
        list.serialize_field("total", &self.0.total)?;
        list.end()
    }
}

/// Written into a buffer sized once, from the length of the first row: a
/// page of a thousand members is most of a megabyte, and a buffer grown by
/// doubling copies all of it again (about a tenth of such a page's cost).
impl<T: Row> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        let rows = self.0.items.len();
        // A short page is not worth measuring.
        let row = match (self.0.items.first(), self.1) {
            (Some(first), None) if rows >= 8 => serialized_len(first),
            (Some(first), Some(sel)) if rows >= 8 => serialized_len(&Selected(first, sel)),
            _ => 0,
        };
        // Capped: one large first row (a group's attributes) must not
        // reserve a thousand times its size.
        let mut body = Vec::with_capacity((256 + row.saturating_mul(rows) / 8 * 9).min(PRESIZE_CAP));
        match serde_json::to_writer(&mut body, &self) {
            Ok(()) => json_response(body),
            Err(e) => ApiError::from(CoreError::Internal(format!("writing a page: {e}"))).into_response(),
        }
    }
}

/// A 200 whose body is JSON already written.
pub fn json_response(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

/// The most a page's buffer is sized for up front (a 1 000-member page of
/// whole members is about 660 KB); past it, it grows as it is written.
const PRESIZE_CAP: usize = 4 << 20;

/// How many bytes `value` takes as JSON, written nowhere.
fn serialized_len<T: Serialize>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value).map_or(0, |()| count.0)
}

struct Items<'a, T>(&'a [T], Selection);

impl<T: Row> Serialize for Items<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|item| Selected(item, self.1)))
    }
}

struct Selected<'a, T>(&'a T, Selection);

impl<T: Row> Serialize for Selected<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_selected(self.1, s)
    }
}

/// The fields of `T` whose bits are set in `mask`.
struct Projected<'a, T>(&'a T, u64);

impl<T: Fields> Serialize for Projected<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.1.count_ones() as usize))?;
        for (i, name) in T::NAMES.iter().enumerate() {
            if self.1 & (1 << i) != 0 {
                self.0.field(name, &mut map)?;
            }
        }
        map.end()
    }
}

fn all<T: Fields>() -> u64 {
    (1u64 << T::NAMES.len()) - 1
}

fn bit<T: Fields>(name: &str) -> Option<u64> {
    T::NAMES.iter().position(|n| *n == name).map(|i| 1 << i)
}

/// A timestamp as `wire` writes it (RFC 3339).
struct Rfc3339<'a>(&'a OffsetDateTime);

impl Serialize for Rfc3339<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        time::serde::rfc3339::serialize(self.0, s)
    }
}

/// Implements [`Fields`] for a wire type: its fields in serialization
/// order, each written as is or through a wrapper (`as Rfc3339`). A unit
/// test holds each list to the type's own `Serialize`.
macro_rules! fields {
    ($ty:ty: $($name:ident $(as $wrap:ident)?),+ $(,)?) => {
        impl Fields for $ty {
            const NAMES: &'static [&'static str] = &[$(stringify!($name)),+];
            fn field<M: SerializeMap>(&self, name: &str, map: &mut M) -> Result<(), M::Error> {
                match name {
                    $(stringify!($name) => map.serialize_entry(name, &$($wrap)?(&self.$name)),)+
                    _ => Ok(()),
                }
            }
        }
    };
}

fields!(wire::User: id, username, email, first_name, last_name, display_name, active, site_role,
    primary_group_id, external_id, role_label, created_at as Rfc3339, updated_at as Rfc3339, version);
fields!(wire::Group: id, name, unique_id, slug, description, organization_id, source_type, attributes,
    member_count, admin_count, child_count, created_by, updated_by, created_at as Rfc3339,
    updated_at as Rfc3339, version);
fields!(wire::Membership: id, group_id, user_id, child_group_id, role, permissions,
    created_at as Rfc3339, updated_at as Rfc3339);

/// A group the index shares, written as `wire::Group` writes it (the same
/// names, each read from the core group) without a copy of the group.
pub struct SharedGroup(pub Arc<roster_core::Group>);

impl Fields for SharedGroup {
    const NAMES: &'static [&'static str] = <wire::Group as Fields>::NAMES;
    fn field<M: SerializeMap>(&self, name: &str, map: &mut M) -> Result<(), M::Error> {
        let g = &*self.0;
        match name {
            "id" => map.serialize_entry(name, &g.id.0),
            "name" => map.serialize_entry(name, &g.name),
            "unique_id" => map.serialize_entry(name, &g.unique_id),
            "slug" => map.serialize_entry(name, &g.slug),
            "description" => map.serialize_entry(name, &g.description),
            "organization_id" => map.serialize_entry(name, &g.org.0),
            "source_type" => map.serialize_entry(name, g.source_type.as_str()),
            "attributes" => map.serialize_entry(name, &g.attributes),
            "member_count" => map.serialize_entry(name, &g.counts.members),
            "admin_count" => map.serialize_entry(name, &g.counts.admins),
            "child_count" => map.serialize_entry(name, &g.counts.children),
            "created_by" => map.serialize_entry(name, &g.created_by.map(|u| u.0)),
            "updated_by" => map.serialize_entry(name, &g.updated_by.map(|u| u.0)),
            "created_at" => map.serialize_entry(name, &Rfc3339(&g.created_at)),
            "updated_at" => map.serialize_entry(name, &Rfc3339(&g.updated_at)),
            "version" => map.serialize_entry(name, &g.version),
            _ => Ok(()),
        }
    }
}

impl Serialize for SharedGroup {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Projected(self, all::<Self>()).serialize(s)
    }
}

/// A user the index shares, written as `wire::User` writes it (as
/// [`SharedGroup`]).
pub struct SharedUser(pub Arc<roster_core::User>);

impl Fields for SharedUser {
    const NAMES: &'static [&'static str] = <wire::User as Fields>::NAMES;
    fn field<M: SerializeMap>(&self, name: &str, map: &mut M) -> Result<(), M::Error> {
        let u = &*self.0;
        match name {
            "id" => map.serialize_entry(name, &u.id.0),
            "username" => map.serialize_entry(name, &u.username),
            "email" => map.serialize_entry(name, &u.email),
            "first_name" => map.serialize_entry(name, &u.first_name),
            "last_name" => map.serialize_entry(name, &u.last_name),
            "display_name" => map.serialize_entry(name, &u.display_name),
            "active" => map.serialize_entry(name, &u.active),
            "site_role" => map.serialize_entry(name, u.site_role.as_str()),
            "primary_group_id" => map.serialize_entry(name, &u.primary_group.map(|g| g.0)),
            "external_id" => map.serialize_entry(name, &u.external_id),
            "role_label" => map.serialize_entry(name, &u.role_label),
            "created_at" => map.serialize_entry(name, &Rfc3339(&u.created_at)),
            "updated_at" => map.serialize_entry(name, &Rfc3339(&u.updated_at)),
            "version" => map.serialize_entry(name, &u.version),
            _ => Ok(()),
        }
    }
}

impl Serialize for SharedUser {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Projected(self, all::<Self>()).serialize(s)
    }
}

/// An item the index shares, and the key a membership row carries it under.
pub trait Shared: Fields {
    const KEY: &'static str;
}

impl Shared for SharedGroup {
    const KEY: &'static str = "group";
}

impl Shared for SharedUser {
    const KEY: &'static str = "user";
}

/// A row of a membership list whose item the index shares: a
/// `wire::GroupEdge` or `wire::Member` written without a copy of the group
/// or user. At any depth there is no membership.
pub struct SharedEdge<I> {
    pub membership: Option<wire::Membership>,
    pub item: I,
}

impl<I> SharedEdge<I> {
    /// A row of a list at any depth.
    pub fn any_depth(item: I) -> Self {
        Self { membership: None, item }
    }

    /// A row of a direct list: the membership and what it puts in the group.
    pub fn direct(membership: wire::Membership, item: I) -> Self {
        Self { membership: Some(membership), item }
    }
}

impl<I: Shared> Edge for SharedEdge<I> {
    type Item = I;
    const KEY: &'static str = I::KEY;
    fn parts(&self) -> (Option<&wire::Membership>, &I) {
        (self.membership.as_ref(), &self.item)
    }
}

impl<I: Shared> Serialize for SharedEdge<I> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let membership = if self.membership.is_some() { all::<wire::Membership>() } else { 0 };
        edge_serialize(self, Selection { item: all::<I>(), membership }, s)
    }
}

/// A plain item (a user, a group): its own names.
macro_rules! plain_row {
    ($ty:ty) => {
        impl Row for $ty {
            fn names() -> Vec<String> {
                <$ty as Fields>::NAMES.iter().map(|n| (*n).to_owned()).collect()
            }
            fn pick(name: &str) -> Option<Selection> {
                bit::<$ty>(name).map(|item| Selection { item, membership: 0 })
            }
            fn with_ids(sel: Selection) -> Selection {
                Selection { item: sel.item | 1, membership: 0 }
            }
            fn serialize_selected<S: Serializer>(&self, sel: Selection, s: S) -> Result<S::Ok, S::Error> {
                Projected(self, sel.item).serialize(s)
            }
        }
    };
}

plain_row!(wire::User);
plain_row!(wire::Group);

/// A row of a membership list: the membership (absent at any depth) and
/// the item it puts in (or under) the group, under the key `KEY`.
trait Edge {
    type Item: Fields;
    const KEY: &'static str;
    fn parts(&self) -> (Option<&wire::Membership>, &Self::Item);
}

impl Edge for wire::Member {
    type Item = wire::User;
    const KEY: &'static str = "user";
    fn parts(&self) -> (Option<&wire::Membership>, &wire::User) {
        (self.membership.as_ref(), &self.user)
    }
}

impl Edge for wire::GroupEdge {
    type Item = wire::Group;
    const KEY: &'static str = "group";
    fn parts(&self) -> (Option<&wire::Membership>, &wire::Group) {
        (self.membership.as_ref(), &self.group)
    }
}

fn edge_names<E: Edge>() -> Vec<String> {
    let item = E::Item::NAMES.iter().map(|n| (*n).to_owned());
    let paths = E::Item::NAMES.iter().map(|n| format!("{}.{n}", E::KEY));
    let membership = wire::Membership::NAMES.iter().map(|n| format!("membership.{n}"));
    item.chain([E::KEY.to_owned()]).chain(paths).chain(["membership".to_owned()]).chain(membership).collect()
}

fn edge_pick<E: Edge>(name: &str) -> Option<Selection> {
    let item = |item| Selection { item, membership: 0 };
    let membership = |membership| Selection { item: 0, membership };
    if name == E::KEY {
        return Some(item(all::<E::Item>()));
    }
    if name == "membership" {
        return Some(membership(all::<wire::Membership>()));
    }
    if let Some(field) = name.strip_prefix("membership.") {
        return bit::<wire::Membership>(field).map(membership);
    }
    let field = name.strip_prefix(E::KEY).and_then(|rest| rest.strip_prefix('.')).unwrap_or(name);
    bit::<E::Item>(field).map(item)
}

fn edge_ids(sel: Selection) -> Selection {
    Selection { item: sel.item | 1, membership: if sel.membership == 0 { 0 } else { sel.membership | 1 } }
}

fn edge_serialize<E: Edge, S: Serializer>(edge: &E, sel: Selection, s: S) -> Result<S::Ok, S::Error> {
    let (membership, item) = edge.parts();
    let membership = membership.filter(|_| sel.membership != 0);
    let mut map = s.serialize_map(Some(1 + usize::from(membership.is_some())))?;
    if let Some(m) = membership {
        map.serialize_entry("membership", &Projected(m, sel.membership))?;
    }
    map.serialize_entry(E::KEY, &Projected(item, sel.item))?;
    map.end()
}

macro_rules! edge_row {
    ($ty:ty $(where $($bound:tt)+)?) => {
        impl$(<$($bound)+>)? Row for $ty {
            fn names() -> Vec<String> {
                edge_names::<$ty>()
            }
            fn pick(name: &str) -> Option<Selection> {
                edge_pick::<$ty>(name)
            }
            fn with_ids(sel: Selection) -> Selection {
                edge_ids(sel)
            }
            fn serialize_selected<S: Serializer>(&self, sel: Selection, s: S) -> Result<S::Ok, S::Error> {
                edge_serialize(self, sel, s)
            }
        }
    };
}

edge_row!(wire::Member);
edge_row!(wire::GroupEdge);
edge_row!(SharedEdge<I> where I: Shared);

/// The `fields` query parameter of an operation answering `T`s, for
/// `#[utoipa::path(params(…))]`: its pattern admits exactly the lists of
/// names [`parse`] accepts.
pub struct Param<T>(std::marker::PhantomData<T>);

impl<T: Row> IntoParams for Param<T> {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let names = T::names();
        let one = names.iter().map(|n| n.replace('.', r"\.")).collect::<Vec<_>>().join("|");
        let pattern = format!("^(?:{one})(?:,(?:{one}))*$");
        let description = format!(
            "Only these fields in each item, comma-separated (`id` is always included): {}. \
             In a membership row, a bare name or `user.`/`group.` path is a field of the user \
             (group), `membership.<name>` a field of the membership, and `user`, `group`, \
             `membership` the whole object; the row keeps its shape. Absent: every field.",
            names.join(", ")
        );
        vec![
            ParameterBuilder::new()
                .name("fields")
                .parameter_in(ParameterIn::Query)
                .required(utoipa::openapi::Required::False)
                .description(Some(description))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String).pattern(Some(pattern))))
                .build(),
        ]
    }
}

/// Where a reference to a component schema points.
const REFS: &str = "#/components/schemas/";

/// The schemas an answer narrowed by `fields` is read with.
const SELECTABLE: [&str; 5] = ["User", "Group", "Membership", "Member", "GroupEdge"];

/// Makes the document describe narrowed answers: each schema of
/// [`SELECTABLE`] (and its `List_`) gets a lean copy (`LeanUser`,
/// `List_LeanMember`, …) where a user's, group's or membership's fields
/// but `id` are optional, and every operation that takes `fields` answers
/// with those; other operations (creates, updates) keep the whole schemas.
pub fn document(openapi: &mut utoipa::openapi::OpenApi) {
    let Some(components) = openapi.components.as_mut() else { return };
    let names = SELECTABLE.iter().flat_map(|n| [(*n).to_owned(), format!("List_{n}")]);
    for name in names.collect::<Vec<_>>() {
        let Some(schema) = components.schemas.get(&name) else { continue };
        let Ok(mut value) = serde_json::to_value(schema) else { continue };
        lean_refs(&mut value);
        if let Some(item) = name.strip_prefix("List_") {
            // utoipa inlines a generic's item; the lean list refers to the lean item.
            value["properties"]["items"]["items"] = serde_json::json!({ "$ref": format!("{REFS}{}", lean_name(item)) });
        }
        if ["User", "Group", "Membership"].contains(&name.as_str()) {
            value["required"] = serde_json::json!(["id"]);
            value["description"] = serde_json::json!(format!(
                "A {} as a read that may take `fields` answers it: every field, or only those `fields` names and `id`.",
                name.to_lowercase()
            ));
        }
        if let Ok(lean) = serde_json::from_value(value) {
            components.schemas.insert(lean_name(&name), lean);
        }
    }
    for item in openapi.paths.paths.values_mut() {
        let Some(op) = item.get.as_mut() else { continue };
        let takes_fields =
            op.parameters.iter().flatten().any(|p| matches!(p, utoipa::openapi::RefOr::T(p) if p.name == "fields"));
        let Some(utoipa::openapi::RefOr::T(ok)) = op.responses.responses.get_mut("200") else { continue };
        if !takes_fields {
            continue;
        }
        for content in ok.content.values_mut() {
            let utoipa::openapi::RefOr::T(content) = content else { continue };
            let Some(schema) = content.schema.as_mut() else { continue };
            let Ok(mut value) = serde_json::to_value(&*schema) else { continue };
            lean_refs(&mut value);
            if let Ok(lean) = serde_json::from_value(value) {
                *schema = lean;
            }
        }
    }
    unused_originals(openapi);
}

/// Drops the whole schemas (`List_User`, `Member`, …) no answer refers to
/// any more, so the document lists only what it uses.
fn unused_originals(openapi: &mut utoipa::openapi::OpenApi) {
    let Ok(text) = serde_json::to_string(&*openapi) else { return };
    let Some(components) = openapi.components.as_mut() else { return };
    for name in SELECTABLE.iter().flat_map(|n| [(*n).to_owned(), format!("List_{n}")]) {
        if !text.contains(&format!("\"{REFS}{name}\"")) {
            components.schemas.remove(&name);
        }
    }
}

/// `User` → `LeanUser`, `List_Member` → `List_LeanMember`.
fn lean_name(name: &str) -> String {
    match name.strip_prefix("List_") {
        Some(item) => format!("List_Lean{item}"),
        None => format!("Lean{name}"),
    }
}

/// Points every reference to a [`SELECTABLE`] schema at its lean copy.
fn lean_refs(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let target = v.as_str().and_then(|r| r.strip_prefix(REFS)).filter(|_| key == "$ref");
                let lean = target.filter(|t| SELECTABLE.contains(&t.trim_start_matches("List_")));
                match lean.map(lean_name) {
                    Some(lean) => *v = serde_json::Value::String(format!("{REFS}{lean}")),
                    None => lean_refs(v),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(lean_refs),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;

    fn user() -> wire::User {
        wire::User {
            id: Uuid::from_u128(1),
            username: "alice".into(),
            email: Some("alice@example.com".into()),
            first_name: None,
            last_name: Some("A".into()),
            display_name: None,
            active: true,
            site_role: "user".into(),
            primary_group_id: None,
            external_id: None,
            role_label: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
            version: 3,
        }
    }

    fn group() -> wire::Group {
        wire::Group {
            id: Uuid::from_u128(2),
            name: "eng".into(),
            unique_id: None,
            slug: Some("eng".into()),
            description: None,
            organization_id: Uuid::from_u128(3),
            source_type: "api".into(),
            attributes: serde_json::Map::from_iter([("k".to_owned(), serde_json::json!([1]))]),
            member_count: 1,
            admin_count: 0,
            child_count: 0,
            created_by: None,
            updated_by: Some(Uuid::from_u128(1)),
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
            version: 1,
        }
    }

    fn membership() -> wire::Membership {
        wire::Membership {
            id: Uuid::from_u128(4),
            group_id: Uuid::from_u128(2),
            user_id: Some(Uuid::from_u128(1)),
            child_group_id: None,
            role: "member".into(),
            permissions: serde_json::json!({"add_members": false}),
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn text<T: Serialize>(v: &T) -> String {
        serde_json::to_string(v).expect("serialize")
    }

    fn lean<T: Row>(v: T, fields: &str) -> String {
        text(&One(v, parse::<T>(Some(fields)).expect("known fields")))
    }

    /// Every field selected writes exactly what the type's own `Serialize`
    /// writes: the lists in `fields!` are complete and in order.
    #[test]
    fn every_field_is_the_whole_item() {
        assert_eq!(text(&Projected(&user(), all::<wire::User>())), text(&user()));
        assert_eq!(text(&Projected(&group(), all::<wire::Group>())), text(&group()));
        assert_eq!(text(&Projected(&membership(), all::<wire::Membership>())), text(&membership()));
        let member = || wire::Member { membership: Some(membership()), user: user() };
        assert_eq!(lean(member(), "user,membership"), text(&member()));
        let edge = || wire::GroupEdge { membership: None, group: group() };
        assert_eq!(lean(edge(), "group"), text(&edge()));
    }

    /// A group the index shares is written as its `wire::Group` copy is,
    /// whole and field by field.
    #[test]
    fn a_shared_group_is_written_as_its_copy() {
        use roster_core::{GroupCounts, GroupId, OrgId, SourceType, UserId};
        let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time") + time::Duration::microseconds(5);
        let core = roster_core::Group {
            id: GroupId(Uuid::from_u128(2)),
            num: 9,
            name: "eng \"core\"".into(),
            unique_id: Some("u-1".into()),
            slug: Some("eng".into()),
            description: None,
            org: OrgId(Uuid::from_u128(3)),
            source_type: SourceType::Scim,
            attributes: serde_json::Map::from_iter([("k".to_owned(), serde_json::json!({"a": [1, null]}))]),
            created_by: None,
            updated_by: Some(UserId(Uuid::from_u128(1))),
            created_at: at,
            updated_at: at + time::Duration::seconds(1),
            version: 4,
            counts: GroupCounts { members: 5, admins: 1, children: 2 },
        };
        let shared = || SharedGroup(Arc::new(core.clone()));
        let copy = || wire::Group::from(core.clone());
        assert_eq!(text(&shared()), text(&copy()));
        for name in <wire::Group as Fields>::NAMES {
            assert_eq!(
                text(&Projected(&shared(), bit::<SharedGroup>(name).expect("name"))),
                text(&Projected(&copy(), bit::<wire::Group>(name).expect("name"))),
                "{name}"
            );
        }
        let edge = || wire::GroupEdge { membership: None, group: copy() };
        assert_eq!(text(&SharedEdge::any_depth(shared())), text(&edge()));
        for fields in ["name", "group", "id,membership.role,child_count", "group.created_at,membership"] {
            assert_eq!(lean(SharedEdge::any_depth(shared()), fields), lean(edge(), fields), "{fields}");
        }
        let nested = || wire::GroupEdge { membership: Some(membership()), group: copy() };
        let direct = || SharedEdge::direct(membership(), shared());
        assert_eq!(text(&direct()), text(&nested()));
        for fields in ["name", "group", "id,membership.role,child_count", "group.created_at,membership"] {
            assert_eq!(lean(direct(), fields), lean(nested(), fields), "{fields}");
        }
    }

    /// As [`a_shared_group_is_written_as_its_copy`], for a user.
    #[test]
    fn a_shared_user_is_written_as_its_copy() {
        use roster_core::{GroupId, SiteRole, UserId};
        let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time") + time::Duration::nanoseconds(120);
        let mut core = roster_core::User::new("ann\u{e9}".into(), at);
        core.id = UserId(Uuid::from_u128(1));
        core.email = Some("ann@example.com".into());
        core.last_name = Some("A \"B\"".into());
        core.site_role = SiteRole::Admin;
        core.primary_group = Some(GroupId(Uuid::from_u128(2)));
        core.external_id = Some("x-1".into());
        core.active = false;
        core.version = 3;
        let shared = || SharedUser(Arc::new(core.clone()));
        let copy = || wire::User::from(core.clone());
        assert_eq!(text(&shared()), text(&copy()));
        for name in <wire::User as Fields>::NAMES {
            let (ours, theirs) = (bit::<SharedUser>(name).expect("name"), bit::<wire::User>(name).expect("name"));
            assert_eq!(text(&Projected(&shared(), ours)), text(&Projected(&copy(), theirs)), "{name}");
        }
        let member = || wire::Member { membership: None, user: copy() };
        assert_eq!(text(&SharedEdge::any_depth(shared())), text(&member()));
        for fields in ["username", "user", "id,membership.role,email", "user.updated_at,membership"] {
            assert_eq!(lean(SharedEdge::any_depth(shared()), fields), lean(member(), fields), "{fields}");
        }
        let direct = || SharedEdge::direct(membership(), shared());
        let member = || wire::Member { membership: Some(membership()), user: copy() };
        assert_eq!(text(&direct()), text(&member()));
        for fields in ["username", "user", "id,membership.role,email", "user.updated_at,membership", "membership"] {
            assert_eq!(lean(direct(), fields), lean(member(), fields), "{fields}");
        }
    }

    #[test]
    fn only_the_named_fields_and_the_id() {
        assert_eq!(lean(user(), "username"), r#"{"id":"00000000-0000-0000-0000-000000000001","username":"alice"}"#);
        assert_eq!(lean(user(), "version,id,version"), r#"{"id":"00000000-0000-0000-0000-000000000001","version":3}"#);
        let member = || wire::Member { membership: Some(membership()), user: user() };
        let alice = r#""user":{"id":"00000000-0000-0000-0000-000000000001","username":"alice"}"#;
        assert_eq!(lean(member(), "id,username"), format!("{{{alice}}}"));
        assert_eq!(lean(member(), "user.username"), format!("{{{alice}}}"));
        assert_eq!(
            lean(member(), "username,membership.role"),
            format!(r#"{{"membership":{{"id":"00000000-0000-0000-0000-000000000004","role":"member"}},{alice}}}"#)
        );
        let transitive = wire::Member { membership: None, user: user() };
        assert_eq!(lean(transitive, "username,membership.role"), format!("{{{alice}}}"));
        assert_eq!(lean(group(), "name"), r#"{"id":"00000000-0000-0000-0000-000000000002","name":"eng"}"#);
    }

    #[test]
    fn refusals_name_the_field() {
        for bad in ["", "nope", "id,", ",id", "id, username", "membership.username", "user.role", "group", "ID"] {
            let err = parse::<wire::Member>(Some(bad)).expect_err(bad);
            assert_eq!(err.field.as_deref(), Some("fields"), "{bad}");
        }
        let err = parse::<wire::User>(Some("username,nope")).expect_err("unknown");
        assert!(err.message.contains("\"nope\""), "{}", err.message);
        assert_eq!(parse::<wire::User>(None), Ok(None));
    }
}
