//! Snapshots of entities as they are recorded in the event log. This is the
//! log's own format (stable, documented with the change feed), not any
//! front-end's wire format.

use serde_json::{Value, json};

use crate::ids::ProjectId;
use crate::model::*;

fn ts(t: time::OffsetDateTime) -> Value {
    Value::String(t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default())
}

pub(crate) fn user(u: &User) -> Value {
    json!({
        "id": u.id.to_string(), "username": u.username, "email": u.email,
        "first_name": u.first_name, "last_name": u.last_name, "display_name": u.display_name,
        "active": u.active, "site_role": u.site_role.as_str(), "external_id": u.external_id,
        "primary_group_id": u.primary_group.map(|g| g.to_string()), "version": u.version,
        "updated_at": ts(u.updated_at),
    })
}

pub(crate) fn group(g: &Group) -> Value {
    json!({
        "id": g.id.to_string(), "name": g.name, "unique_id": g.unique_id, "slug": g.slug,
        "description": g.description, "organization_id": g.org.to_string(),
        "source_type": g.source_type.as_str(), "attributes": g.attributes, "version": g.version,
        "updated_at": ts(g.updated_at),
    })
}

pub(crate) fn membership(m: &Membership) -> Value {
    let (kind, id) = match m.member {
        Member::User(u) => ("user", u.to_string()),
        Member::Group(g) => ("group", g.to_string()),
    };
    json!({
        "id": m.id.to_string(), "group_id": m.group.to_string(), "member_type": kind, "member_id": id,
        "role": m.role.as_str(), "permissions": m.permissions.to_json(),
    })
}

pub(crate) fn role(r: &Role) -> Value {
    json!({ "id": r.id.to_string(), "name": r.name, "description": r.description })
}

pub(crate) fn org(o: &Organization) -> Value {
    json!({ "id": o.id.to_string(), "name": o.name, "slug": o.slug })
}

pub(crate) fn project(p: &Project) -> Value {
    json!({ "id": p.id.to_string(), "name": p.name, "description": p.description,
            "organization_id": p.org.to_string(), "attributes": p.attributes })
}

/// Who a binding is for, as `{project_id, user_id | group_id}`.
pub(crate) fn principal_of(project: ProjectId, principal: Grantee) -> Value {
    match principal {
        Grantee::User(u) => json!({ "project_id": project.to_string(), "user_id": u.to_string() }),
        Grantee::Group(g) => json!({ "project_id": project.to_string(), "group_id": g.to_string() }),
    }
}

pub(crate) fn binding(b: &ProjectBinding) -> Value {
    let mut v = principal_of(b.project, b.principal);
    v["role"] = json!(b.role);
    v
}

pub(crate) fn share(s: &Share) -> Value {
    let (kind, id) = match s.grantee {
        Grantee::User(u) => ("user", u.to_string()),
        Grantee::Group(g) => ("group", g.to_string()),
    };
    json!({ "id": s.id.to_string(), "group_id": s.group.to_string(), "grantee_type": kind, "grantee_id": id, "level": s.level.as_str() })
}

/// Keys are logged by id, owner and name: no part of the secret (not even
/// the listing's prefix) nor its digest, since the event log is kept and
/// copied for ever.
pub(crate) fn key(k: &ApiKey) -> Value {
    json!({ "id": k.id.to_string(), "user_id": k.user.to_string(), "name": k.name })
}

pub(crate) fn job(j: &Job) -> Value {
    json!({ "id": j.id.to_string(), "kind": j.kind, "state": j.state.as_str() })
}
