//! `/api/users` and `/api/self`. Membership changes arrive as a PUT of the
//! whole user with its complete `user_groups` list (dialects/iguazio.md §6);
//! the core replaces the user's groups in one transaction and refuses the
//! write when the `last_activity` stamp echoed back shows the list was
//! computed from a stale read.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use roster_core::{
    ALL_USERS_GROUP_ID, CoreError, Group, GroupId, JobSpec, NewUser, PageRequest, Principal, SiteRole, User,
    UserGroupsChange, UserId, UserPatch, UserQuery, collect_all, collect_at_most, collect_window, list as lists,
};
use serde_json::{Map, Value, json};

use super::Body;
use super::auth::Auth;
use super::doc::{self, Incoming};
use super::error::{IgzResult, invalid, not_found};
use super::map;
use super::query::{ListQuery, Plan, SCAN_CAP};
use crate::http::AppState;

const SORTABLE: &[&str] = &["username", "first_name", "last_name", "email", "uid", "created_at", "department"];

/// Profile attributes kept under their common names in the user's attributes.
const PROFILE: [(&str, &str); 3] =
    [("phone_number", "phone"), ("job_title", "job_title"), ("department", "department")];

fn user_id(raw: &str) -> IgzResult<UserId> {
    raw.parse::<UserId>().map_err(|_| not_found("user"))
}

fn group_ids(raw: Vec<String>) -> IgzResult<Vec<GroupId>> {
    raw.iter().map(|g| g.parse::<GroupId>().map_err(|_| not_found("user_group"))).collect()
}

/// The user's direct groups that the caller may see: all of them for the
/// user and site admins. Also what a PUT of the list may change.
async fn groups_of(s: &AppState, p: &Principal, id: UserId) -> IgzResult<Vec<Group>> {
    Ok(s.directory.visible_groups_of(p, id).await?)
}

/// Adds the relationships `include` asks for; returns the related resources.
async fn relate(s: &AppState, p: &Principal, u: &User, res: &mut Value, q: &ListQuery) -> IgzResult<Vec<Value>> {
    let mut included = Vec::new();
    if q.includes("user_groups") {
        let groups = groups_of(s, p, u.id).await?;
        let mut idents = vec![doc::ident("user_group", ALL_USERS_GROUP_ID)];
        idents.extend(groups.iter().map(|g| doc::ident("user_group", g.id)));
        doc::relate(res, "user_groups", Value::Array(idents));
        included.push(map::all_users_group());
        included.extend(groups.iter().map(map::group));
    }
    // Absent (never null) when unset: the SDK reads `data.id` of a present one.
    if q.includes("primary_group")
        && let Some(g) = u.primary_group
    {
        doc::relate(res, "primary_group", doc::ident("user_group", g));
    }
    Ok(included)
}

/// The users a list covers, each with its resource. By exact username it is
/// one lookup; in username order (with `admin_status`, which the core
/// filters) the core reads only the page asked for; any other filter or
/// sort scans at most [`SCAN_CAP`] users and matches them here.
async fn listed(s: &AppState, p: &Principal, q: &ListQuery) -> IgzResult<Vec<(Value, User)>> {
    let active = match q.filter("admin_status") {
        None => None,
        Some("up") => Some(true),
        Some("down") => Some(false),
        Some(_) => return Ok(Vec::new()),
    };
    let list_users = |query: UserQuery| {
        move |req: PageRequest| {
            let query = query.clone();
            async move { s.directory.list_users(p, &query, &req).await }
        }
    };
    let rendered = |users: Vec<User>| -> Vec<(Value, User)> {
        users.into_iter().map(|u| (map::user(&u), u)).filter(|(r, _)| q.matches(r)).collect()
    };
    match q.plan("username", &["username"], &["admin_status"], SORTABLE)? {
        Plan::Named(name) => {
            let found = match s.directory.get_user_by_username(p, name).await {
                Ok(u) if u.username == name => vec![u],
                Ok(_) | Err(CoreError::NotFound { .. }) => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            Ok(q.window(rendered(found)))
        }
        Plan::Ordered(_, descending) => {
            let query = UserQuery { active, descending, ..UserQuery::default() };
            let users = match q.page {
                None => collect_all(lists::USERS, list_users(query)).await?,
                Some((number, size)) => collect_window(number.saturating_mul(size), size, list_users(query)).await?,
            };
            Ok(rendered(users))
        }
        Plan::Scan => {
            let query = UserQuery { active, ..UserQuery::default() };
            let users = collect_at_most(lists::USERS, SCAN_CAP, list_users(query))
                .await?
                .ok_or_else(|| q.too_many("username"))?;
            let mut items = rendered(users);
            let mut resources: Vec<Value> = items.iter().map(|(r, _)| r.clone()).collect();
            q.sort(&mut resources);
            let mut out = Vec::new();
            for res in q.window(resources) {
                if let Some(pos) = items.iter().position(|(r, _)| r["id"] == res["id"]) {
                    out.push(items.swap_remove(pos));
                }
            }
            Ok(out)
        }
    }
}

pub async fn list(State(s): State<AppState>, Auth(p): Auth, RawQuery(raw): RawQuery) -> IgzResult<Json<Value>> {
    let q = ListQuery::parse(raw.as_deref())?;
    let items = listed(&s, &p, &q).await?;
    let mut out = Vec::with_capacity(items.len());
    for (mut res, u) in items {
        let included = relate(&s, &p, &u, &mut res, &q).await?;
        if !included.is_empty() {
            res["included"] = Value::Array(included);
        }
        out.push(res);
    }
    Ok(doc::list(out))
}

async fn render(s: &AppState, p: &Principal, u: &User, raw: Option<&str>) -> IgzResult<Json<Value>> {
    let q = ListQuery::parse(raw)?;
    let mut res = map::user(u);
    let included = relate(s, p, u, &mut res, &q).await?;
    Ok(doc::single(res, included))
}

pub async fn get(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> IgzResult<Json<Value>> {
    let u = s.directory.get_user(&p, user_id(&id)?).await?;
    render(&s, &p, &u, raw.as_deref()).await
}

/// `User.self`: the caller.
pub async fn me(State(s): State<AppState>, Auth(p): Auth, RawQuery(raw): RawQuery) -> IgzResult<Json<Value>> {
    let u = s.directory.get_user(&p, p.user).await?;
    render(&s, &p, &u, raw.as_deref()).await
}

/// Iguazio settings and shared profile fields from a request, over `current`.
fn attributes(d: &Incoming, mut current: Map<String, Value>) -> IgzResult<Map<String, Value>> {
    let mut settings = map::settings(&current);
    if let Some(uid) = d.int("uid")? {
        if !(0..=i64::from(u32::MAX)).contains(&uid) {
            return Err(invalid("data.attributes.uid", "must be between 0 and 4294967295"));
        }
        settings.insert("uid".into(), json!(uid));
    }
    if let Some(policies) = d.texts("assigned_policies", Some(map::POLICIES))? {
        settings.insert("assigned_policies".into(), json!(policies));
    }
    if let Some(methods) = d.texts("authentication_methods", Some(&["password", "sso"]))? {
        settings.insert("authentication_methods".into(), json!(methods));
    }
    if let Some(mode) = d.text("data_access_mode")? {
        settings.insert("data_access_mode".into(), json!(mode));
    }
    if !settings.is_empty() || current.contains_key("iguazio") {
        current.insert("iguazio".into(), Value::Object(settings));
    }
    for (wire, key) in PROFILE {
        match d.text(wire)? {
            Some(v) if v.is_empty() => {
                current.remove(key);
            }
            Some(v) => {
                current.insert(key.into(), json!(v));
            }
            None => {}
        }
    }
    Ok(current)
}

/// The site role the tenant roles imply (`IT Admin` is a site admin).
fn site_role(d: &Incoming) -> IgzResult<Option<SiteRole>> {
    let policies = d.texts("assigned_policies", Some(map::POLICIES))?;
    Ok(policies.map(|p| if p.iter().any(|r| r == map::ADMIN_POLICY) { SiteRole::Admin } else { SiteRole::User }))
}

fn active(d: &Incoming) -> IgzResult<Option<bool>> {
    match d.text("admin_status")?.as_deref() {
        None => Ok(None),
        Some("up") => Ok(Some(true)),
        Some("down") => Ok(Some(false)),
        Some(_) => Err(invalid("data.attributes.admin_status", "must be up or down")),
    }
}

/// A name attribute: `""` clears it.
fn name(d: &Incoming, field: &str) -> IgzResult<Option<Option<String>>> {
    Ok(d.text(field)?.map(|v| (!v.is_empty()).then_some(v)))
}

pub async fn create(State(s): State<AppState>, Auth(p): Auth, body: Body) -> IgzResult<impl IntoResponse> {
    let d = doc::incoming(body.into_inner())?;
    let username = d.text("username")?.ok_or_else(|| invalid("data.attributes.username", "is required"))?;
    let primary = d.to_one("primary_group")?.flatten();
    let mut listed = d.to_many("user_groups")?.unwrap_or_default();
    if let Some(primary) = &primary {
        drop_spelled_out(&mut listed, primary);
    }
    let mut groups = group_ids(listed)?;
    groups.retain(|g| *g != ALL_USERS_GROUP_ID);
    let primary_group = match primary {
        Some(g) => Some(g.parse::<GroupId>().map_err(|_| not_found("user_group"))?),
        None => None,
    };
    let new = NewUser {
        username,
        email: name(&d, "email")?.flatten(),
        first_name: name(&d, "first_name")?.flatten(),
        last_name: name(&d, "last_name")?.flatten(),
        active: active(&d)?,
        site_role: site_role(&d)?,
        password: d.text("password")?.filter(|p| !p.is_empty()),
        primary_group,
        groups,
        attributes: attributes(&d, Map::new())?,
        ..NewUser::default()
    };
    let user = s.directory.create_user(&p, new).await?;
    let q = ListQuery { include: vec!["user_groups".into(), "primary_group".into()], ..ListQuery::default() };
    let mut res = map::user(&user);
    let included = relate(&s, &p, &user, &mut res, &q).await?;
    Ok((StatusCode::CREATED, doc::single(res, included)))
}

/// `User.create(primary_group=g, groups=[…])` with `g` missing from the
/// list makes igz-mgmt 0.4.2 append `g`'s id to the list one character at a
/// time (`groups += id`). When the trailing one-character entries spell
/// out exactly the primary group's id, they are that group, which joins as
/// the primary group anyway; anything else stays an unknown id (404).
fn drop_spelled_out(listed: &mut Vec<String>, primary: &str) {
    let tail = listed.iter().rev().take_while(|id| id.chars().count() == 1).count();
    let start = listed.len() - tail;
    if tail > 0 && listed[start..].concat() == primary {
        listed.truncate(start);
    }
}

/// Only what differs from the user as stored goes into the patch, so that
/// echoing a user back unchanged needs no more rights than its group edits.
fn patch(d: &Incoming, current: &User) -> IgzResult<UserPatch> {
    fn changed<T: PartialEq>(new: Option<T>, old: &T) -> Option<T> {
        new.filter(|n| n != old)
    }
    let attributes = attributes(d, current.attributes.clone())?;
    Ok(UserPatch {
        username: changed(d.text("username")?, &current.username),
        email: changed(name(d, "email")?, &current.email),
        first_name: changed(name(d, "first_name")?, &current.first_name),
        last_name: changed(name(d, "last_name")?, &current.last_name),
        active: changed(active(d)?, &current.active),
        site_role: changed(site_role(d)?, &current.site_role),
        // Only what this request changed is sent, as a merge patch: a
        // concurrent change to another setting survives.
        attributes: Some(roster_core::attributes::diff(&current.attributes, &attributes)).filter(|d| !d.is_empty()),
        password: d.text("password")?.filter(|p| !p.is_empty()),
        ..UserPatch::default()
    })
}

pub async fn update(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Body,
) -> IgzResult<Json<Value>> {
    let id = user_id(&id)?;
    let mut d = doc::incoming(body.into_inner())?;
    let current = s.directory.get_user(&p, id).await?;
    let if_groups_at = match d.text("last_activity")?.filter(|t| !t.is_empty()) {
        Some(t) => Some(
            map::parse_time(&t)
                .ok_or_else(|| invalid("data.attributes.last_activity", "must be the value this server returned"))?,
        ),
        None => None,
    };
    d.keep_changed(&map::user(&current));
    let primary_group = match d.to_one("primary_group")? {
        None => None,
        Some(None) => Some(None),
        Some(Some(g)) => Some(Some(g.parse::<GroupId>().map_err(|_| not_found("user_group"))?)),
    };
    let change =
        UserGroupsChange { groups: d.to_many("user_groups")?.map(group_ids).transpose()?, primary_group, if_groups_at };
    let user = s.directory.replace_user(&p, id, patch(&d, &current)?, change).await?;
    let q = ListQuery { include: vec!["user_groups".into(), "primary_group".into()], ..ListQuery::default() };
    let mut res = map::user(&user);
    let included = relate(&s, &p, &user, &mut res, &q).await?;
    Ok(doc::single(res, included))
}

/// Deletes the user and answers with the (finished) job that records it.
pub async fn delete(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> IgzResult<impl IntoResponse> {
    let id = user_id(&id)?;
    let job = JobSpec::completed("user.delete", json!({ "user_id": id.to_string() }));
    let job = s.directory.delete_user_as_job(&p, id, job).await?;
    Ok((StatusCode::ACCEPTED, Json(map::deletion_response(&job))))
}

#[cfg(test)]
mod tests {
    use super::drop_spelled_out;

    #[test]
    fn a_primary_group_spelled_out_by_the_sdk_is_recognised() {
        let mut listed: Vec<String> = ["g1", "a", "b", "c"].map(String::from).to_vec();
        drop_spelled_out(&mut listed, "abc");
        assert_eq!(listed, ["g1"]);
        let mut other: Vec<String> = ["g1", "a", "b"].map(String::from).to_vec();
        drop_spelled_out(&mut other, "abc");
        assert_eq!(other.len(), 3, "not the primary group: left for the 404");
    }
}
