//! Core entities as Iguazio resources, and the values Iguazio keeps that
//! Roster has no column for. Profile fields other platforms share sit in
//! the entity's attributes under their common names (`job_title`, `phone`,
//! `department`); settings only Iguazio has sit under one `iguazio` key.

use roster_core::{ALL_USERS_GROUP_ID, ALL_USERS_GROUP_NAME, Group, Job, Project, ProjectBinding, SiteRole, User};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::doc::{self, Attrs, put_str};

/// Where Roster-assigned `gid`s and `uid`s start, above any id a person
/// would pick by hand; the all-users group has the base itself.
pub const ID_BASE: i64 = 65_536;

/// The tenant every caller belongs to (Roster has one).
pub const TENANT_ID: &str = "00000000-0000-7000-8000-000000000001";

/// Tenant roles (`assigned_policies`), exactly as the SDK spells them.
pub const POLICIES: &[&str] = &[
    "IT Admin",
    "IT Admin Read Only",
    "Application Admin",
    "Security Admin",
    "Project Security Admin",
    "Project Read Only",
    "Application Read Only",
    "Data",
    "Tenant Admin",
    "Developer",
    "Service Admin",
    "System Admin",
];

/// The policy that makes a user a site admin, and that site admins show.
pub const ADMIN_POLICY: &str = "IT Admin";

/// Project roles as the SDK names them, with the core's role names.
pub const PROJECT_ROLES: [(&str, &str); 3] = [("Admin", "admin"), ("Editor", "editor"), ("Viewer", "viewer")];

pub fn time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Reads back a time this module wrote.
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// The `iguazio` settings object of an entity's attributes.
pub fn settings(attributes: &Map<String, Value>) -> Map<String, Value> {
    attributes.get("iguazio").and_then(Value::as_object).cloned().unwrap_or_default()
}

fn policies(settings: &Map<String, Value>) -> Vec<Value> {
    settings.get("assigned_policies").and_then(Value::as_array).cloned().unwrap_or_default()
}

pub fn gid(g: &Group) -> i64 {
    settings(&g.attributes).get("gid").and_then(Value::as_i64).unwrap_or(ID_BASE + g.num)
}

pub fn group(g: &Group) -> Value {
    let s = settings(&g.attributes);
    let mut a = Attrs::new();
    a.insert("name".into(), json!(g.name));
    a.insert("description".into(), json!(g.description));
    a.insert("data_access_mode".into(), s.get("data_access_mode").cloned().unwrap_or_else(|| json!("enabled")));
    a.insert("gid".into(), json!(gid(g)));
    a.insert("kind".into(), json!("local"));
    a.insert("assigned_policies".into(), Value::Array(policies(&s)));
    a.insert("system_provided".into(), json!(false));
    a.insert("created_at".into(), json!(time(g.created_at)));
    a.insert("updated_at".into(), json!(time(g.updated_at)));
    doc::resource("user_group", g.id, a)
}

/// The all-users group: everyone is in it, nobody can leave or delete it.
pub fn all_users_group() -> Value {
    let mut a = Attrs::new();
    a.insert("name".into(), json!(ALL_USERS_GROUP_NAME));
    a.insert("description".into(), json!("Every user"));
    a.insert("data_access_mode".into(), json!("enabled"));
    a.insert("gid".into(), json!(ID_BASE));
    a.insert("kind".into(), json!("local"));
    a.insert("assigned_policies".into(), json!([]));
    a.insert("system_provided".into(), json!(true));
    doc::resource("user_group", ALL_USERS_GROUP_ID, a)
}

pub fn user(u: &User) -> Value {
    let s = settings(&u.attributes);
    let mut a = Attrs::new();
    a.insert("username".into(), json!(u.username));
    put_str(&mut a, "first_name", u.first_name.as_deref());
    put_str(&mut a, "last_name", u.last_name.as_deref());
    put_str(&mut a, "email", u.email.as_deref());
    a.insert("uid".into(), json!(s.get("uid").and_then(Value::as_i64).unwrap_or(ID_BASE + u.num)));
    a.insert("created_at".into(), json!(time(u.created_at)));
    a.insert("data_access_mode".into(), s.get("data_access_mode").cloned().unwrap_or_else(|| json!("enabled")));
    a.insert("authentication_scheme".into(), json!("local"));
    a.insert(
        "authentication_methods".into(),
        s.get("authentication_methods").cloned().unwrap_or_else(|| json!(["password"])),
    );
    a.insert("send_password_on_creation".into(), json!(false));
    let mut roles = policies(&s);
    if u.site_role == SiteRole::Admin && !roles.iter().any(|r| r == ADMIN_POLICY) {
        roles.insert(0, json!(ADMIN_POLICY));
    }
    a.insert("assigned_policies".into(), Value::Array(roles));
    a.insert("operational_status".into(), json!("up"));
    a.insert("admin_status".into(), json!(if u.active { "up" } else { "down" }));
    for (wire, key) in [("phone_number", "phone"), ("job_title", "job_title"), ("department", "department")] {
        put_str(&mut a, wire, u.attributes.get(key).and_then(Value::as_str));
    }
    // The stamp of the user's groups: the SDK echoes it back on PUT, which
    // lets a group list computed from a stale read be refused.
    a.insert("last_activity".into(), json!(time(u.groups_stamp())));
    doc::resource("user", u.id, a)
}

pub fn project(p: &Project) -> Value {
    let s = settings(&p.attributes);
    let mut a = Attrs::new();
    a.insert("name".into(), json!(p.name));
    a.insert("description".into(), json!(p.description.clone().unwrap_or_default()));
    a.insert("created_at".into(), json!(time(p.created_at)));
    a.insert("updated_at".into(), json!(time(p.updated_at)));
    a.insert("admin_status".into(), json!("online"));
    a.insert("operational_status".into(), json!("online"));
    for key in ["labels", "annotations", "default_function_node_selector"] {
        a.insert(key.into(), s.get(key).cloned().unwrap_or_else(|| json!([])));
    }
    let mut res = doc::resource("project", p.id, a);
    if let Some(owner) = s.get("owner").and_then(Value::as_str) {
        doc::relate(&mut res, "owner", doc::ident("user", owner));
    }
    res
}

/// The id of one of a project's three roles: the project's id and the role.
pub fn role_id(project: &Project, core_role: &str) -> String {
    format!("{}:{core_role}", project.id)
}

/// The three role resources of a project, each listing its holders.
pub fn project_roles(project: &Project, bindings: &[ProjectBinding]) -> Vec<Value> {
    PROJECT_ROLES
        .iter()
        .map(|(name, core_role)| {
            let mut res = doc::resource("project_authorization_role", role_id(project, core_role), {
                let mut a = Attrs::new();
                a.insert("name".into(), json!(name));
                a
            });
            let held = bindings.iter().filter(|b| b.role == *core_role);
            let (mut users, mut groups) = (Vec::new(), Vec::new());
            for b in held {
                match b.principal {
                    roster_core::Grantee::User(u) => users.push(doc::ident("user", u)),
                    roster_core::Grantee::Group(g) => groups.push(doc::ident("user_group", g)),
                }
            }
            doc::relate(&mut res, "project", doc::ident("project", project.id));
            doc::relate(&mut res, "principal_users", Value::Array(users));
            doc::relate(&mut res, "principal_user_groups", Value::Array(groups));
            res
        })
        .collect()
}

pub fn job(j: &Job) -> Value {
    let mut a = Attrs::new();
    a.insert("kind".into(), json!(j.kind));
    a.insert("state".into(), json!(j.state.as_str()));
    a.insert("params".into(), json!(j.params.to_string()));
    if let Some(r) = &j.result {
        a.insert("result".into(), json!(r.to_string()));
    }
    a.insert("created_at".into(), json!(time(j.created_at)));
    a.insert("updated_at".into(), json!(time(j.updated_at)));
    a.insert("handler".into(), json!("roster"));
    a.insert("max_total_execution_time".into(), json!(0));
    doc::resource("job", j.id, a)
}

/// `{"data": {"type": "deletion_response", …}}` pointing at the job that
/// recorded a deletion.
pub fn deletion_response(job: &Job) -> Value {
    let mut res = doc::resource("deletion_response", job.id, Attrs::new());
    doc::relate(&mut res, "jobs", json!([doc::ident("job", job.id)]));
    json!({ "data": res })
}
