//! Box ↔ core: decimal-string ids are the core's `num`s; a user's `login`
//! is their username (and email); Box-only profile keys live in user and
//! group attributes; `fields` projects an answer to the mini representation
//! plus what was asked (§5).

use std::collections::BTreeMap;

use roster_core as core;
use roster_core::{MemberRole, PageRequest, Permissions, SiteRole};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;

use super::wire;
use crate::http::error::BadRequest;

pub const MAX_OFFSET: i64 = 10_000;

pub fn time(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn attr_str(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k).and_then(Value::as_str).map(str::to_owned)
}

/// Box roles: `admin` is a site admin; `coadmin` and `user` are plain
/// users told apart by their role label.
pub fn user_role(u: &core::User) -> &'static str {
    match (u.site_role, u.role_label.as_deref()) {
        (SiteRole::Admin, _) => "admin",
        (SiteRole::User, Some("coadmin")) => "coadmin",
        (SiteRole::User, _) => "user",
    }
}

pub fn user(u: &core::User, org: &core::Organization) -> wire::User {
    let a = &u.attributes;
    let status =
        if u.active { attr_str(a, "box_status").unwrap_or_else(|| "active".into()) } else { "inactive".into() };
    wire::User {
        kind: "user",
        id: u.num.to_string(),
        name: u.display_name.clone().unwrap_or_else(|| u.username.clone()),
        login: u.email.clone().unwrap_or_else(|| u.username.clone()),
        created_at: time(u.created_at),
        modified_at: time(u.updated_at),
        language: attr_str(a, "language"),
        timezone: attr_str(a, "timezone"),
        space_amount: a.get("space_amount").and_then(Value::as_i64).unwrap_or(-1),
        space_used: 0,
        max_upload_size: 5_368_709_120,
        status,
        job_title: attr_str(a, "job_title"),
        phone: attr_str(a, "phone"),
        address: attr_str(a, "address"),
        avatar_url: None,
        role: user_role(u).to_owned(),
        is_platform_access_only: a.get("is_platform_access_only").and_then(Value::as_bool).unwrap_or(false),
        external_app_user_id: u.external_id.clone(),
        enterprise: wire::Enterprise { kind: "enterprise", id: org.num.to_string(), name: org.name.clone() },
    }
}

pub fn user_mini(u: &core::User) -> Value {
    serde_json::json!({
        "type": "user",
        "id": u.num.to_string(),
        "name": u.display_name.clone().unwrap_or_else(|| u.username.clone()),
        "login": u.email.clone().unwrap_or_else(|| u.username.clone()),
    })
}

pub fn group(g: &core::Group) -> wire::Group {
    let a = &g.attributes;
    wire::Group {
        kind: "group",
        id: g.num.to_string(),
        name: g.name.clone(),
        group_type: "managed_group",
        created_at: time(g.created_at),
        modified_at: time(g.updated_at),
        description: g.description.clone(),
        provenance: attr_str(a, "provenance"),
        external_sync_identifier: g.unique_id.clone(),
        invitability_level: attr_str(a, "invitability_level"),
        member_viewability_level: attr_str(a, "member_viewability_level"),
        permissions: wire::Permissions { can_invite_as_collaborator: true },
    }
}

pub fn group_mini(g: &core::Group) -> Value {
    serde_json::json!({ "type": "group", "id": g.num.to_string(), "name": g.name, "group_type": "managed_group" })
}

pub fn membership(m: &core::Membership, u: &core::User, g: &core::Group) -> wire::Membership {
    wire::Membership {
        kind: "group_membership",
        id: m.num.to_string(),
        user: user_mini(u),
        group: group_mini(g),
        role: m.role.as_str(),
        configurable_permissions: m.permissions.to_json(),
        created_at: time(m.created_at),
        modified_at: time(m.updated_at),
    }
}

/// The keys every projection keeps (Box's mini representation).
fn mini_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "user" => &["type", "id", "name", "login"],
        "group" => &["type", "id", "name", "group_type"],
        _ => &["type", "id"],
    }
}

/// `fields=a,b`: the mini keys plus those asked for; everything without it.
pub fn project(value: impl serde::Serialize, fields: Option<&str>) -> Value {
    let full = serde_json::to_value(value).unwrap_or(Value::Null);
    let Some(fields) = fields.filter(|f| !f.trim().is_empty()) else { return full };
    let Value::Object(map) = full else { return full };
    let kind = map.get("type").and_then(Value::as_str).unwrap_or("").to_owned();
    let wanted: Vec<&str> = fields.split(',').map(str::trim).collect();
    Value::Object(
        map.into_iter()
            .filter(|(k, _)| mini_keys(&kind).contains(&k.as_str()) || wanted.contains(&k.as_str()))
            .collect(),
    )
}

/// `limit` (default 100, larger values served as 1000) and `offset`
/// (0 to 10 000; more is a 400, as on Box).
pub fn page(limit: Option<&str>, offset: Option<&str>) -> Result<(PageRequest, i64, i64), BadRequest> {
    let limit = match limit.filter(|v| !v.is_empty()) {
        None => 100,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| BadRequest::invalid("limit", "must be a positive integer"))?,
    }
    .min(1000);
    let offset = match offset.filter(|v| !v.is_empty()) {
        None => 0,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| BadRequest::invalid("offset", "must be a non-negative integer"))?,
    };
    if offset > MAX_OFFSET {
        return Err(BadRequest::invalid("offset", format!("must be at most {MAX_OFFSET}")));
    }
    Ok((PageRequest::at_offset(offset as u64, limit as u32), limit, offset))
}

pub fn member_role(value: Option<&str>) -> Result<Option<MemberRole>, BadRequest> {
    value
        .map(|v| MemberRole::parse(v).ok_or_else(|| BadRequest::invalid("role", "must be member or admin")))
        .transpose()
}

/// Box semantics: `null` disables every permission; a map sets those named
/// (unnamed ones stay enabled).
pub fn permissions(value: Option<BTreeMap<String, bool>>) -> Permissions {
    value.map_or(Permissions::Disabled, Permissions::Map)
}

/// A decimal id in a path or body.
pub fn num(what: &'static str, value: &str) -> Result<i64, BadRequest> {
    value.trim().parse::<i64>().map_err(|_| {
        BadRequest::new(axum::http::StatusCode::NOT_FOUND, format!("Could not find the specified {what}."))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_limits() {
        assert_eq!(page(None, None).unwrap().1, 100);
        assert_eq!(page(Some("5000"), None).unwrap().1, 1000);
        assert!(page(None, Some("10000")).is_ok());
        assert!(page(None, Some("10001")).is_err());
        assert!(page(Some("x"), None).is_err());
        assert!(page(None, Some("-1")).is_err());
    }

    #[test]
    fn projection_keeps_mini_keys() {
        let v = serde_json::json!({ "type": "group", "id": "1", "name": "a", "group_type": "managed_group", "description": "d", "provenance": "p" });
        let p = project(v, Some("description"));
        assert_eq!(
            p.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["type", "id", "name", "group_type", "description"]
        );
    }
}
