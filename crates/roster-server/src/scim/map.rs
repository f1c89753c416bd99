//! SCIM JSON ↔ core. A user's SCIM-only attributes (every attribute but
//! `userName`, `displayName`, `active`, `externalId`, and the parts of
//! `name` and `emails` the core keeps as columns) are kept exactly as sent
//! in the user's `attributes` under [`SCIM_KEY`], so they read back
//! byte for byte. Groups map to core groups (`displayName` → name,
//! `externalId` → unique id) and their members are memberships.

use roster_core::{Group, Member, User};
use serde_json::{Map, Value, json};
use time::format_description::well_known::Rfc3339;

use super::error::{ScimError, ScimResult};
use super::filter::{AttrPath, get_ci};
use super::schema::{self, Attr, Kind, Mutability, Target, Ty};

/// Where a user's SCIM-only attributes live in `User::attributes`.
pub const SCIM_KEY: &str = "scim";

/// Marks, in the blob, a user whose `active` was removed: the core keeps
/// them active (the default) and SCIM shows no `active` until it is set.
const ACTIVE_UNSET: &str = "__activeUnset";

/// Attributes kept in core columns, never in the SCIM blob.
const USER_COLUMNS: &[&str] = &["userName", "displayName", "active", "externalId"];

/// Attributes a client may send but that are never written: server-owned
/// ones (ignored, as Okta and scim-sanity send them in PUT bodies) and the
/// password (Roster authenticates with API keys; accepted, never stored).
const IGNORED: &[&str] = &["id", "meta", "schemas", "groups", "password"];

pub fn time(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

fn meta(kind: &str, location: String, created: time::OffsetDateTime, modified: time::OffsetDateTime, v: i64) -> Value {
    json!({
        "resourceType": kind,
        "created": time(created),
        "lastModified": time(modified),
        "location": location,
        "version": etag(v),
    })
}

pub fn user_location(base: &str, id: impl std::fmt::Display) -> String {
    format!("{base}/Users/{id}")
}

pub fn group_location(base: &str, id: impl std::fmt::Display) -> String {
    format!("{base}/Groups/{id}")
}

fn blob(u: &User) -> Map<String, Value> {
    match u.attributes.get(SCIM_KEY) {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    }
}

/// The writable part of a user as SCIM JSON: what PATCH operates on.
pub fn user_doc(u: &User) -> Map<String, Value> {
    let extras = blob(u);
    let mut out = Map::new();
    if let Some(x) = &u.external_id {
        out.insert("externalId".into(), json!(x));
    }
    out.insert("userName".into(), json!(u.username));
    // `name`: the stored object, with the columns the core owns.
    let mut name = match extras.get("name") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    for (key, column) in [("givenName", &u.first_name), ("familyName", &u.last_name)] {
        match column {
            Some(v) => name.insert(key.into(), json!(v)),
            None => name.remove(key),
        };
    }
    if !name.is_empty() {
        out.insert("name".into(), Value::Object(name));
    }
    if let Some(d) = &u.display_name {
        out.insert("displayName".into(), json!(d));
    }
    if !u.active || !extras.contains_key(ACTIVE_UNSET) {
        out.insert("active".into(), json!(u.active));
    }
    // `emails`: the stored list while its primary value is the user's email.
    let stored = extras.get("emails").filter(|e| primary_email(e).as_deref() == u.email.as_deref());
    match (stored, &u.email) {
        (Some(e), _) => {
            out.insert("emails".into(), e.clone());
        }
        (None, Some(email)) => {
            out.insert("emails".into(), json!([{ "value": email, "primary": true }]));
        }
        (None, None) => {}
    }
    for (k, v) in extras {
        if k != "name" && k != "emails" && k != ACTIVE_UNSET {
            out.insert(k, v);
        }
    }
    out
}

/// The whole user resource.
pub fn user_json(u: &User, groups: Option<Vec<(roster_core::GroupId, String)>>, base: &str) -> Value {
    let doc = user_doc(u);
    let mut schemas = vec![json!(schema::USER)];
    if doc.contains_key(schema::ENTERPRISE) {
        schemas.push(json!(schema::ENTERPRISE));
    }
    let mut out = Map::new();
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), json!(u.id.to_string()));
    out.extend(doc);
    if let Some(groups) = groups {
        let items: Vec<Value> = groups
            .into_iter()
            .map(|(id, name)| {
                json!({"value": id.to_string(), "$ref": group_location(base, id), "display": name, "type": "direct"})
            })
            .collect();
        out.insert("groups".into(), Value::Array(items));
    }
    out.insert("meta".into(), meta("User", user_location(base, u.id), u.created_at, u.updated_at, u.version));
    Value::Object(out)
}

/// The whole group resource; `members` only when they were loaded.
pub fn group_json(g: &Group, members: Option<&[Member]>, base: &str) -> Value {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([schema::GROUP]));
    out.insert("id".into(), json!(g.id.to_string()));
    if let Some(x) = &g.unique_id {
        out.insert("externalId".into(), json!(x));
    }
    out.insert("displayName".into(), json!(g.name));
    if let Some(members) = members {
        let items: Vec<Value> = members
            .iter()
            .map(|m| match m {
                Member::User(u) => json!({"value": u.to_string(), "$ref": user_location(base, u), "type": "User"}),
                Member::Group(c) => json!({"value": c.to_string(), "$ref": group_location(base, c), "type": "Group"}),
            })
            .collect();
        out.insert("members".into(), Value::Array(items));
    }
    out.insert("meta".into(), meta("Group", group_location(base, g.id), g.created_at, g.updated_at, g.version));
    Value::Object(out)
}

/// The primary email's value, else the first one's.
fn primary_email(emails: &Value) -> Option<String> {
    let items = emails.as_array()?;
    let primary = items.iter().find(|e| get_ci(e, "primary").and_then(Value::as_bool) == Some(true));
    primary.or(items.first()).and_then(|e| get_ci(e, "value")).and_then(Value::as_str).map(str::to_owned)
}

/// Reads `"True"`/`"false"` as booleans (Entra sends them as strings).
fn boolean(path: &str, v: Value) -> ScimResult<Value> {
    match v {
        Value::Bool(_) => Ok(v),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
        other => Err(ScimError::invalid_value(format!("{path}: expected a boolean, got {other}"))),
    }
}

/// Checks one value against its attribute and returns it in canonical
/// form: sub-attribute names spelled as the schema spells them, `null`s
/// dropped, string booleans read, a lone value of a multi-valued
/// attribute put in a list and a one-element list of a single complex
/// value unwrapped (Entra's `manager`).
pub fn normalize_value(a: &Attr, path: &str, v: Value) -> ScimResult<Option<Value>> {
    if v.is_null() {
        return Ok(None);
    }
    if a.multi {
        let items = match v {
            Value::Array(items) => items,
            one => vec![one],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(item) = normalize_single(a, path, item)? {
                out.push(item);
            }
        }
        return Ok(Some(Value::Array(out)));
    }
    let v = match v {
        Value::Array(mut items) if a.ty == Ty::Complex && items.len() == 1 => items.remove(0),
        v => v,
    };
    normalize_single(a, path, v)
}

fn normalize_single(a: &Attr, path: &str, v: Value) -> ScimResult<Option<Value>> {
    match (a.ty, v) {
        (_, Value::Null) => Ok(None),
        (Ty::Complex, Value::Object(m)) => {
            let mut out = Map::new();
            for (k, v) in m {
                let Some(sub) = schema::find(a.sub, &k) else {
                    return Err(ScimError::invalid_value(format!("{path}.{k}: unknown attribute")));
                };
                if sub.mutability == Mutability::ReadOnly {
                    continue;
                }
                if let Some(v) = normalize_single(sub, &format!("{path}.{}", sub.name), v)? {
                    out.insert(sub.name.to_owned(), v);
                }
            }
            Ok((!out.is_empty()).then_some(Value::Object(out)))
        }
        (Ty::Complex, other) => Err(ScimError::invalid_value(format!("{path}: expected an object, got {other}"))),
        (Ty::Boolean, v) => boolean(path, v).map(Some),
        (_, Value::String(s)) => Ok(Some(Value::String(s))),
        (_, other) => Err(ScimError::invalid_value(format!("{path}: expected a string, got {other}"))),
    }
}

/// Validates a resource body (POST, PUT, or a document after PATCH) against
/// `kind` and returns its writable attributes in canonical form. Ignored
/// and read-only attributes are dropped; an unknown one is an error.
pub fn normalize(kind: &Kind, body: Map<String, Value>) -> ScimResult<Map<String, Value>> {
    let mut out = Map::new();
    for (k, v) in body {
        if IGNORED.iter().any(|i| i.eq_ignore_ascii_case(&k)) {
            continue;
        }
        if let Some((urn, attrs)) = kind.extension(&k) {
            let Value::Object(m) = v else {
                if v.is_null() {
                    continue;
                }
                return Err(ScimError::invalid_value(format!("{k}: expected an object")));
            };
            let mut ext = Map::new();
            for (ek, ev) in m {
                if ek.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                let a = schema::find(attrs, &ek)
                    .ok_or_else(|| ScimError::invalid_value(format!("{urn}:{ek}: unknown attribute")))?;
                if a.mutability == Mutability::ReadOnly {
                    continue;
                }
                if let Some(v) = normalize_value(a, &format!("{urn}:{}", a.name), ev)? {
                    ext.insert(a.name.to_owned(), v);
                }
            }
            if !ext.is_empty() {
                out.insert(urn.to_owned(), Value::Object(ext));
            }
            continue;
        }
        let path = super::filter::attr_path(&k).ok();
        let a = match path.as_ref().and_then(|p| if p.sub.is_none() { kind.resolve(p) } else { None }) {
            Some(Target::Core(a)) => a,
            _ => return Err(ScimError::invalid_value(format!("{k}: unknown attribute"))),
        };
        if a.mutability == Mutability::ReadOnly {
            continue;
        }
        if let Some(v) = normalize_value(a, a.name, v)? {
            out.insert(a.name.to_owned(), v);
        }
    }
    Ok(out)
}

/// Checks a body's `schemas`: present, naming the resource's core schema,
/// and nothing but it and its extensions.
pub fn check_schemas(kind: &Kind, body: &Map<String, Value>) -> ScimResult<()> {
    let Some(list) = body.iter().find(|(k, _)| k.eq_ignore_ascii_case("schemas")).map(|(_, v)| v) else {
        return Err(ScimError::invalid_syntax("schemas: required"));
    };
    let Some(list) = list.as_array() else {
        return Err(ScimError::invalid_syntax("schemas: expected a list of schema URNs"));
    };
    let mut has_core = false;
    for s in list {
        let s = s.as_str().unwrap_or_default();
        if s.eq_ignore_ascii_case(kind.core) {
            has_core = true;
        } else if kind.extension(s).is_none() {
            return Err(ScimError::invalid_value(format!("schemas: {s} is not a schema of {}", kind.name)));
        }
    }
    if !has_core {
        return Err(ScimError::invalid_value(format!("schemas: must contain {}", kind.core)));
    }
    Ok(())
}

/// A user as the core sees it, from a normalized document.
pub struct UserFields {
    pub username: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    pub external_id: Option<String>,
    /// The SCIM-only attributes, stored as sent.
    pub extras: Map<String, Value>,
}

pub fn user_fields(doc: Map<String, Value>) -> ScimResult<UserFields> {
    let text = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_owned);
    let username = text("userName").ok_or_else(|| ScimError::invalid_value("userName: required"))?;
    let name = doc.get("name");
    let sub = |k: &str| name.and_then(|n| n.get(k)).and_then(Value::as_str).map(str::to_owned);
    let mut extras = Map::new();
    for (k, v) in &doc {
        if !USER_COLUMNS.contains(&k.as_str()) {
            extras.insert(k.clone(), v.clone());
        }
    }
    if !doc.contains_key("active") {
        extras.insert(ACTIVE_UNSET.into(), Value::Bool(true));
    }
    Ok(UserFields {
        email: doc.get("emails").and_then(primary_email),
        first_name: sub("givenName"),
        last_name: sub("familyName"),
        display_name: text("displayName"),
        active: doc.get("active").and_then(Value::as_bool).unwrap_or(true),
        external_id: text("externalId"),
        username,
        extras,
    })
}

/// The user's `attributes` with the SCIM blob replaced (other front-ends'
/// keys kept).
pub fn with_extras(attributes: &Map<String, Value>, extras: Map<String, Value>) -> Map<String, Value> {
    let mut out = attributes.clone();
    if extras.is_empty() {
        out.remove(SCIM_KEY);
    } else {
        out.insert(SCIM_KEY.into(), Value::Object(extras));
    }
    out
}

/// What `attributes=` / `excludedAttributes=` ask for.
#[derive(Clone, Debug, Default)]
pub struct Projection {
    pub include: Vec<AttrPath>,
    pub exclude: Vec<AttrPath>,
}

impl Projection {
    /// Parses the comma-separated lists. Unknown attributes are an error,
    /// unless `lenient` (a search over several resource types).
    pub fn parse(kind: &Kind, include: &[String], exclude: &[String], lenient: bool) -> ScimResult<Self> {
        let read = |items: &[String]| -> ScimResult<Vec<AttrPath>> {
            let mut out = Vec::new();
            for item in items.iter().flat_map(|s| s.split(',')).map(str::trim).filter(|s| !s.is_empty()) {
                let p = super::filter::attr_path(item)
                    .map_err(|e| ScimError::invalid_path(format!("attributes: {}", e.0)))?;
                if kind.knows(&p) {
                    out.push(p);
                } else if !lenient {
                    return Err(ScimError::invalid_path(format!("attributes: unknown attribute {item}")));
                }
            }
            Ok(out)
        };
        Ok(Self { include: read(include)?, exclude: read(exclude)? })
    }

    /// Whether the attribute named `name` (top level, core schema) is wanted.
    pub fn wants(&self, kind: &Kind, name: &str) -> bool {
        let named =
            |p: &AttrPath| matches!(kind.resolve(p), Some(Target::Core(a)) if a.name.eq_ignore_ascii_case(name));
        if !self.include.is_empty() {
            return self.include.iter().any(named);
        }
        !self.exclude.iter().any(|p| named(p) && p.sub.is_none())
    }

    /// Whether `name` was asked for by name in `attributes=`.
    pub fn names(&self, kind: &Kind, name: &str) -> bool {
        self.include
            .iter()
            .any(|p| matches!(kind.resolve(p), Some(Target::Core(a)) if a.name.eq_ignore_ascii_case(name)))
    }

    pub fn apply(&self, kind: &Kind, resource: Value) -> Value {
        let Value::Object(mut obj) = resource else {
            return resource;
        };
        if !self.include.is_empty() {
            let mut out = Map::new();
            for key in ["schemas", "id"] {
                if let Some(v) = obj.get(key) {
                    out.insert(key.into(), v.clone());
                }
            }
            for p in &self.include {
                copy_path(kind, &obj, &mut out, p);
            }
            return Value::Object(out);
        }
        for p in &self.exclude {
            remove_path(kind, &mut obj, p);
        }
        Value::Object(obj)
    }
}

/// The object a path's attribute lives in, and the attribute's key in it.
fn locate(kind: &Kind, p: &AttrPath) -> Option<(Option<&'static str>, &'static str)> {
    match kind.resolve(p)? {
        Target::Core(a) => Some((None, a.name)),
        Target::Extension(urn, a) => Some((Some(urn), a.name)),
        Target::WholeExtension(urn) => Some((None, urn)),
    }
}

fn copy_path(kind: &Kind, from: &Map<String, Value>, to: &mut Map<String, Value>, p: &AttrPath) {
    let Some((container, key)) = locate(kind, p) else { return };
    let (src, dst) = match container {
        None => (Some(from), to),
        Some(urn) => {
            let src = from.get(urn).and_then(Value::as_object);
            let dst = to.entry(urn.to_owned()).or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(dst) = dst else { return };
            (src, dst)
        }
    };
    let Some(v) = src.and_then(|s| s.get(key)) else { return };
    match &p.sub {
        None => {
            dst.insert(key.to_owned(), v.clone());
        }
        Some(sub) => {
            let pick = |item: &Value| -> Option<(String, Value)> {
                item.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(sub)).map(|(k, v)| (k.clone(), v.clone()))
            };
            let picked = match v {
                Value::Array(items) => {
                    Value::Array(items.iter().filter_map(|i| pick(i).map(|(k, v)| json!({ k: v }))).collect::<Vec<_>>())
                }
                item => match pick(item) {
                    Some((k, sv)) => {
                        let mut m = match dst.get(key) {
                            Some(Value::Object(m)) => m.clone(),
                            _ => Map::new(),
                        };
                        m.insert(k, sv);
                        Value::Object(m)
                    }
                    None => return,
                },
            };
            dst.insert(key.to_owned(), picked);
        }
    }
}

fn remove_path(kind: &Kind, obj: &mut Map<String, Value>, p: &AttrPath) {
    let Some((container, key)) = locate(kind, p) else { return };
    if key == "id" || key == "schemas" {
        return;
    }
    let target = match container {
        None => Some(obj),
        Some(urn) => obj.get_mut(urn).and_then(Value::as_object_mut),
    };
    let Some(target) = target else { return };
    match &p.sub {
        None => {
            target.remove(key);
        }
        Some(sub) => match target.get_mut(key) {
            Some(Value::Array(items)) => {
                for i in items.iter_mut().filter_map(Value::as_object_mut) {
                    i.retain(|k, _| !k.eq_ignore_ascii_case(sub));
                }
            }
            Some(Value::Object(m)) => m.retain(|k, _| !k.eq_ignore_ascii_case(sub)),
            _ => {}
        },
    }
}
