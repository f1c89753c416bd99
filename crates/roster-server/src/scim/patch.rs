//! PATCH (RFC 7644 §3.5.2) as identity providers send it: `op` in any case
//! (Entra's `Add`/`Replace`/`Remove`), path-less ops whose value holds
//! dotted (`name.givenName`) or URN-qualified keys, value-filtered paths
//! (`emails[type eq "work"].value`, `members[value eq "…"]`), `remove` with
//! the members in `value`, string booleans.
//!
//! A user is patched as a JSON document (then validated and saved whole,
//! guarded by its version). A group's members are never loaded to be
//! patched: the member operations fold into one [`MemberEdit`] naming only
//! the members the request names, which the core applies in one
//! transaction. A PATCH never removes a member it does not name (except
//! `remove` of `members` with no value and no filter, which RFC 7644 says
//! removes them all, and `replace` of `members`).

use std::collections::HashSet;

use roster_core::{Member, MemberEdit};
use serde_json::{Map, Value};

use super::error::{ScimError, ScimResult};
use super::filter::{self, CaseRule, Filter, Op, PatchPath, get_ci, matches_item};
use super::map::normalize_value;
use super::schema::{self, Attr, Kind, Mutability, Target};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

#[derive(Clone, Debug)]
pub struct Operation {
    pub op: OpKind,
    pub path: Option<PatchPath>,
    pub raw_path: Option<String>,
    pub value: Option<Value>,
}

/// Reads a PatchOp body.
pub fn parse(body: &Map<String, Value>) -> ScimResult<Vec<Operation>> {
    let schemas = get_ci(&Value::Object(body.clone()), "schemas").cloned();
    let ok = schemas
        .as_ref()
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(schema::PATCH_OP))));
    if !ok {
        return Err(ScimError::invalid_syntax(format!("schemas: must contain {}", schema::PATCH_OP)));
    }
    let ops = body
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .and_then(|(_, v)| v.as_array())
        .ok_or_else(|| ScimError::invalid_syntax("Operations: required, a list"))?;
    let mut out = Vec::with_capacity(ops.len());
    for (i, o) in ops.iter().enumerate() {
        let field = |k: &str| get_ci(o, k);
        let op = match field("op").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
            Some("add") => OpKind::Add,
            Some("remove") => OpKind::Remove,
            Some("replace") => OpKind::Replace,
            other => {
                return Err(ScimError::invalid_syntax(format!(
                    "Operations[{i}].op: expected add, remove or replace, got {}",
                    other.unwrap_or("nothing")
                )));
            }
        };
        let raw_path = match field("path") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(ScimError::invalid_path(format!("Operations[{i}].path: expected a string"))),
        };
        let path = raw_path
            .as_deref()
            .map(filter::parse_path)
            .transpose()
            .map_err(|e| ScimError::invalid_path(format!("Operations[{i}].path: {}", e.0)))?;
        let value = field("value").cloned();
        if op != OpKind::Remove && value.is_none() {
            return Err(ScimError::invalid_value(format!("Operations[{i}].value: required for {op:?}")));
        }
        if op == OpKind::Remove && path.is_none() {
            return Err(ScimError::bad("noTarget", format!("Operations[{i}]: remove needs a path")));
        }
        out.push(Operation { op, path, raw_path, value });
    }
    Ok(out)
}

/// A path-less `add`/`replace` as one operation per key of its value.
fn expand(o: Operation) -> ScimResult<Vec<Operation>> {
    if o.path.is_some() {
        return Ok(vec![o]);
    }
    let Some(Value::Object(m)) = o.value else {
        return Err(ScimError::invalid_value("value: an operation without a path needs an object"));
    };
    let mut out = Vec::new();
    for (k, v) in m {
        // Okta's rename carries the id; scim-sanity-style bodies may carry schemas/meta.
        if ["id", "schemas", "meta"].iter().any(|s| s.eq_ignore_ascii_case(&k)) {
            continue;
        }
        // Dotted (`name.givenName`) and URN-qualified keys are paths; so is an extension's URN.
        let path = filter::parse_path(&k).map_err(|e| ScimError::invalid_path(format!("value.{k}: {}", e.0)))?;
        out.push(Operation { op: o.op, path: Some(path), raw_path: Some(k), value: Some(v) });
    }
    Ok(out)
}

fn key_of(m: &Map<String, Value>, name: &str) -> Option<String> {
    m.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// Applies every operation to a user document (its writable attributes).
pub fn apply_user(kind: &Kind, doc: &mut Map<String, Value>, ops: Vec<Operation>) -> ScimResult<()> {
    for o in ops {
        for o in expand(o)? {
            apply_one(kind, doc, o)?;
        }
    }
    Ok(())
}

fn apply_one(kind: &Kind, doc: &mut Map<String, Value>, o: Operation) -> ScimResult<()> {
    let Some(path) = o.path else { return Ok(()) };
    let raw = o.raw_path.unwrap_or_default();
    let unknown = || ScimError::invalid_path(format!("{raw}: unknown attribute"));
    let (container, attr): (Option<&'static str>, &Attr) = match kind.resolve(&path.attr).ok_or_else(unknown)? {
        Target::Core(a) => (None, a),
        Target::Extension(urn, a) => (Some(urn), a),
        Target::WholeExtension(urn) => return apply_whole_extension(kind, doc, urn, o.op, o.value, &raw),
    };
    if attr.mutability == Mutability::ReadOnly {
        return Err(ScimError::mutability(format!("{raw}: {} is read-only", attr.name)));
    }
    if attr.mutability == Mutability::WriteOnly {
        return Ok(()); // the password: accepted, never stored
    }
    let sub_name = path.attr.sub.clone().or(path.sub.clone());
    let sub = match &sub_name {
        Some(s) => Some(schema::find(attr.sub, s).ok_or_else(unknown)?),
        None => None,
    };
    if sub.is_some_and(|s| s.mutability == Mutability::ReadOnly) {
        return Err(ScimError::mutability(format!("{raw}: read-only")));
    }
    if path.filter.is_some() && !attr.multi {
        return Err(ScimError::invalid_path(format!("{raw}: a value filter needs a multi-valued attribute")));
    }
    let target = match container {
        None => doc,
        Some(urn) => {
            let k = key_of(doc, urn).unwrap_or_else(|| urn.to_owned());
            let e = doc.entry(k).or_insert_with(|| Value::Object(Map::new()));
            if !e.is_object() {
                *e = Value::Object(Map::new());
            }
            e.as_object_mut().ok_or_else(unknown)?
        }
    };
    let key = key_of(target, attr.name).unwrap_or_else(|| attr.name.to_owned());
    let display = raw.clone();
    match (&path.filter, sub) {
        (None, None) => {
            let value = match o.value {
                Some(v) => normalize_value(attr, &display, v)?,
                None => None,
            };
            match (o.op, value) {
                (OpKind::Remove, Some(Value::Array(gone))) if attr.multi => {
                    if let Some(Value::Array(items)) = target.get_mut(&key) {
                        items.retain(|i| !gone.iter().any(|g| same_item(i, g)));
                    }
                }
                (OpKind::Remove, _) => {
                    target.remove(&key);
                }
                (OpKind::Add, Some(Value::Array(new))) => {
                    let items = target.entry(key.clone()).or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(items) = items {
                        for n in new {
                            if !items.contains(&n) {
                                items.push(n);
                            }
                        }
                    }
                }
                (OpKind::Add, Some(Value::Object(new))) => {
                    let e = target.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
                    match e {
                        Value::Object(m) => m.extend(new),
                        e => *e = Value::Object(new),
                    }
                }
                (_, Some(v)) => {
                    target.insert(key, v);
                }
                (_, None) => {
                    target.remove(&key);
                }
            }
        }
        (None, Some(sub)) => {
            let v = match o.value {
                Some(v) => normalize_value(sub, &display, v)?,
                None => None,
            };
            let set = |m: &mut Map<String, Value>| {
                let k = key_of(m, sub.name).unwrap_or_else(|| sub.name.to_owned());
                match (&o.op, &v) {
                    (OpKind::Remove, _) | (_, None) => {
                        m.remove(&k);
                    }
                    (_, Some(v)) => {
                        m.insert(k, v.clone());
                    }
                }
            };
            match target.get_mut(&key) {
                Some(Value::Array(items)) => items.iter_mut().filter_map(Value::as_object_mut).for_each(set),
                Some(Value::Object(m)) => set(m),
                _ if o.op != OpKind::Remove && !attr.multi => {
                    let mut m = Map::new();
                    set(&mut m);
                    target.insert(key.clone(), Value::Object(m));
                }
                _ => {}
            }
            if matches!(target.get(&key), Some(Value::Object(m)) if m.is_empty()) {
                target.remove(&key);
            }
        }
        (Some(f), sub) => {
            let parent = path.attr.clone();
            let items = target.entry(key.clone()).or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(items) = items else {
                return Err(ScimError::invalid_path(format!("{raw}: not a list")));
            };
            let hit = |i: &Value| matches_item(f, i, &parent, kind as &dyn CaseRule);
            let any = items.iter().any(hit);
            match (o.op, sub) {
                (OpKind::Remove, None) => items.retain(|i| !hit(i)),
                (OpKind::Remove, Some(sub)) => {
                    for i in items.iter_mut().filter(|i| hit(i)).filter_map(Value::as_object_mut) {
                        i.retain(|k, _| !k.eq_ignore_ascii_case(sub.name));
                    }
                }
                (_, Some(sub)) => {
                    let v = normalize_value(sub, &display, o.value.unwrap_or(Value::Null))?;
                    if !any {
                        // Entra: `emails[type eq "work"].value` on a user without a work email.
                        let mut m =
                            seed_of(f).ok_or_else(|| ScimError::bad("noTarget", format!("{raw}: no value matches")))?;
                        if let Some(v) = v {
                            m.insert(sub.name.to_owned(), v);
                        }
                        items.push(Value::Object(m));
                    } else {
                        for m in items.iter_mut().filter(|i| hit(i)).filter_map(Value::as_object_mut) {
                            let k = key_of(m, sub.name).unwrap_or_else(|| sub.name.to_owned());
                            match &v {
                                Some(v) => m.insert(k, v.clone()),
                                None => m.remove(&k),
                            };
                        }
                    }
                }
                (_, None) => {
                    // The matching values take the sub-attributes given.
                    let v = normalize_value(attr, &display, o.value.unwrap_or(Value::Null))?;
                    let new = match v {
                        Some(Value::Array(mut a)) if a.len() == 1 => match a.remove(0) {
                            Value::Object(m) => m,
                            _ => return Err(ScimError::invalid_value(format!("{raw}: expected an object"))),
                        },
                        _ => return Err(ScimError::invalid_value(format!("{raw}: expected one object"))),
                    };
                    if !any {
                        let mut m =
                            seed_of(f).ok_or_else(|| ScimError::bad("noTarget", format!("{raw}: no value matches")))?;
                        m.extend(new);
                        items.push(Value::Object(m));
                    } else {
                        for m in items.iter_mut().filter(|i| hit(i)).filter_map(Value::as_object_mut) {
                            m.extend(new.clone());
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// The value a filter like `type eq "work"` describes, to create it.
fn seed_of(f: &Filter) -> Option<Map<String, Value>> {
    match f {
        Filter::Compare(p, Op::Eq, v) if p.sub.is_none() => {
            let mut m = Map::new();
            m.insert(p.attr.clone(), v.clone());
            Some(m)
        }
        Filter::And(a, b) => {
            let mut m = seed_of(a)?;
            m.extend(seed_of(b)?);
            Some(m)
        }
        _ => None,
    }
}

/// Two values of a multi-valued attribute are the same one when their
/// `value`s are equal (or, without `value`, when they are equal).
fn same_item(a: &Value, b: &Value) -> bool {
    match (get_ci(a, "value"), get_ci(b, "value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn apply_whole_extension(
    kind: &Kind,
    doc: &mut Map<String, Value>,
    urn: &'static str,
    op: OpKind,
    value: Option<Value>,
    raw: &str,
) -> ScimResult<()> {
    let key = key_of(doc, urn).unwrap_or_else(|| urn.to_owned());
    if op == OpKind::Remove {
        doc.remove(&key);
        return Ok(());
    }
    let mut wrapper = Map::new();
    wrapper.insert(urn.to_owned(), value.unwrap_or(Value::Null));
    let normalized =
        super::map::normalize(kind, wrapper).map_err(|e| ScimError::invalid_value(format!("{raw}: {}", e.detail)))?;
    let new = normalized.get(urn).and_then(Value::as_object).cloned().unwrap_or_default();
    match (op, doc.get_mut(&key)) {
        (OpKind::Add, Some(Value::Object(m))) => m.extend(new),
        _ => {
            doc.insert(key, Value::Object(new));
        }
    }
    Ok(())
}

/// A group PATCH, split: the changes to the group's own attributes, and the
/// membership changes as one [`MemberEdit`].
#[derive(Debug, Default)]
pub struct GroupChanges {
    pub display_name: Option<String>,
    /// `Some(None)` removes the external id.
    pub external_id: Option<Option<String>>,
    pub members: MemberFold,
}

/// Member operations folded in order into the final sets.
#[derive(Debug, Default)]
pub struct MemberFold {
    pub replace: bool,
    add: Vec<uuid::Uuid>,
    add_set: HashSet<uuid::Uuid>,
    remove: HashSet<uuid::Uuid>,
}

impl MemberFold {
    fn add(&mut self, ids: impl IntoIterator<Item = uuid::Uuid>) {
        for id in ids {
            self.remove.remove(&id);
            if self.add_set.insert(id) {
                self.add.push(id);
            }
        }
    }

    fn remove(&mut self, ids: impl IntoIterator<Item = uuid::Uuid>) {
        for id in ids {
            if self.add_set.remove(&id) {
                self.add.retain(|a| *a != id);
            }
            self.remove.insert(id);
        }
    }

    fn clear(&mut self) {
        self.replace = true;
        self.add.clear();
        self.add_set.clear();
        self.remove.clear();
    }

    pub fn into_edit(self) -> MemberEdit {
        MemberEdit { replace: self.replace, add: self.add, remove: self.remove.into_iter().collect() }
    }
}

/// The member ids in a `members` value: a list of `{"value": id}` (or one).
/// Values that are not UUIDs cannot name anything in Roster and are skipped
/// (scim-sanity adds `fake-member-id` and expects 200).
pub fn member_ids(v: &Value) -> ScimResult<Vec<uuid::Uuid>> {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        one => vec![one],
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let value = match item {
            Value::Object(_) => get_ci(item, "value"),
            _ => None,
        };
        match value.and_then(Value::as_str) {
            Some(s) => {
                if let Ok(id) = uuid::Uuid::parse_str(s.trim()) {
                    out.push(id);
                }
            }
            None => return Err(ScimError::invalid_value("members: each member needs a string \"value\"")),
        }
    }
    Ok(out)
}

/// The ids a member filter names when it is made only of `value eq "…"`
/// joined by `or` (the Okta and Entra form); `None` for other filters.
fn named_values(f: &Filter) -> Option<Vec<uuid::Uuid>> {
    match f {
        Filter::Compare(p, Op::Eq, Value::String(s)) if p.attr.eq_ignore_ascii_case("value") && p.sub.is_none() => {
            Some(uuid::Uuid::parse_str(s.trim()).map(|u| vec![u]).unwrap_or_default())
        }
        Filter::Or(a, b) => {
            let mut v = named_values(a)?;
            v.extend(named_values(b)?);
            Some(v)
        }
        _ => None,
    }
}

/// A member as the filter of `members[...]` sees it.
pub fn member_item(m: &Member) -> Value {
    match m {
        Member::User(u) => serde_json::json!({"value": u.to_string(), "type": "User"}),
        Member::Group(g) => serde_json::json!({"value": g.to_string(), "type": "Group"}),
    }
}

/// Folds a group PATCH. `current` loads the group's member refs, only
/// called for a member filter that is not a list of `value eq` (the one
/// case whose cost follows the group's size).
pub async fn fold_group<F, Fut>(kind: &Kind, ops: Vec<Operation>, current: F) -> ScimResult<GroupChanges>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ScimResult<Vec<Member>>>,
{
    let mut out = GroupChanges::default();
    for o in ops {
        for o in expand(o)? {
            let Some(path) = &o.path else { continue };
            let raw = o.raw_path.clone().unwrap_or_default();
            let target =
                kind.resolve(&path.attr).ok_or_else(|| ScimError::invalid_path(format!("{raw}: unknown attribute")))?;
            let Target::Core(attr) = target else {
                return Err(ScimError::invalid_path(format!("{raw}: unknown attribute")));
            };
            let sub = path.attr.sub.as_ref().or(path.sub.as_ref());
            match attr.name {
                "members" => {
                    if sub.is_some() {
                        return Err(ScimError::invalid_path(format!(
                            "{raw}: members are added, removed or replaced whole"
                        )));
                    }
                    match (o.op, &path.filter) {
                        (OpKind::Add, None) => out.members.add(member_ids(o.value.as_ref().unwrap_or(&Value::Null))?),
                        (OpKind::Replace, None) => {
                            out.members.clear();
                            out.members.add(member_ids(o.value.as_ref().unwrap_or(&Value::Null))?);
                        }
                        (OpKind::Remove, None) => match &o.value {
                            // Entra: `remove` with the members in `value`.
                            Some(v) if !v.is_null() => out.members.remove(member_ids(v)?),
                            _ => out.members.clear(),
                        },
                        (OpKind::Remove, Some(f)) => match named_values(f) {
                            Some(ids) => out.members.remove(ids),
                            None => {
                                let parent = path.attr.clone();
                                let ids: Vec<uuid::Uuid> = current()
                                    .await?
                                    .iter()
                                    .map(member_item)
                                    .filter(|i| matches_item(f, i, &parent, kind as &dyn CaseRule))
                                    .filter_map(|i| i["value"].as_str().and_then(|s| uuid::Uuid::parse_str(s).ok()))
                                    .collect();
                                out.members.remove(ids);
                            }
                        },
                        (_, Some(_)) => {
                            return Err(ScimError::invalid_path(format!(
                                "{raw}: a member filter only selects members to remove"
                            )));
                        }
                    }
                }
                "displayName" | "externalId" => {
                    if sub.is_some() || path.filter.is_some() {
                        return Err(ScimError::invalid_path(format!("{raw}: {} has no sub-attributes", attr.name)));
                    }
                    let value = match (o.op, o.value) {
                        (OpKind::Remove, _) | (_, None | Some(Value::Null)) => None,
                        (_, Some(Value::String(s))) => Some(s),
                        (_, Some(other)) => {
                            return Err(ScimError::invalid_value(format!(
                                "{}: expected a string, got {other}",
                                attr.name
                            )));
                        }
                    };
                    if attr.name == "displayName" {
                        out.display_name = Some(
                            value
                                .ok_or_else(|| ScimError::invalid_value("displayName: required, cannot be removed"))?,
                        );
                    } else {
                        out.external_id = Some(value);
                    }
                }
                _ => return Err(ScimError::mutability(format!("{raw}: {} is read-only", attr.name))),
            }
        }
    }
    Ok(out)
}
