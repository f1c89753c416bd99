//! `/api/user_groups`: create, list (`filter`, `sort`, `page`,
//! `include=users`), read, change and delete groups. The all-users group
//! is listed first and can be read, but never changed or deleted.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use roster_core::validate::fold;
use roster_core::{
    ALL_USERS_GROUP_ID, ALL_USERS_GROUP_NAME, CoreError, Group, GroupFilter, GroupId, GroupOrder, GroupPatch, JobSpec,
    NewGroup, PageRequest, Principal, SourceType, UserId, UserQuery, collect_all, collect_at_most, collect_window,
    list as lists,
};
use serde_json::{Map, Value, json};

use super::Body;
use super::auth::Auth;
use super::doc::{self, Incoming};
use super::error::{IgzResult, invalid, not_found};
use super::map;
use super::query::{ListQuery, Plan, SCAN_CAP};
use crate::http::AppState;

/// Attributes a list can be sorted by.
const SORTABLE: &[&str] = &["name", "gid", "description", "kind", "created_at", "updated_at", "data_access_mode"];

/// A group id from a path; an id that cannot be a group's is simply unknown.
fn group_id(raw: &str) -> IgzResult<GroupId> {
    raw.parse::<GroupId>().map_err(|_| not_found("user_group"))
}

/// Every user of the directory (the members of the all-users group).
async fn everyone(s: &AppState, p: &Principal) -> IgzResult<Vec<roster_core::User>> {
    let q = UserQuery::default();
    Ok(collect_all(lists::USERS, |req| {
        let q = &q;
        async move { s.directory.list_users(p, q, &req).await }
    })
    .await?)
}

/// The user members of a group, as `user` resources.
async fn members(s: &AppState, p: &Principal, id: GroupId) -> IgzResult<Vec<Value>> {
    if id == ALL_USERS_GROUP_ID {
        return Ok(everyone(s, p).await?.iter().map(map::user).collect());
    }
    let rows = collect_all(lists::MEMBERS, |req| async move { s.directory.list_members(p, id, &req).await }).await?;
    Ok(rows.iter().map(|(_, u)| map::user(u)).collect())
}

/// Sets the `users` relationship of a group resource; returns the users.
async fn with_members(s: &AppState, p: &Principal, res: &mut Value) -> IgzResult<Vec<Value>> {
    let id = group_id(res["id"].as_str().unwrap_or_default())?;
    let users = members(s, p, id).await?;
    let idents = users.iter().map(|u| doc::ident("user", u["id"].as_str().unwrap_or_default())).collect();
    doc::relate(res, "users", Value::Array(idents));
    Ok(users)
}

/// The groups a list covers, as resources, the all-users group first. By
/// exact name it is one lookup; in creation or name order the core reads
/// only the page asked for; any other filter or sort scans at most
/// [`SCAN_CAP`] groups and matches them here.
async fn listed(s: &AppState, p: &Principal, q: &ListQuery) -> IgzResult<Vec<Value>> {
    let list_groups = |filter: GroupFilter| {
        move |req: PageRequest| {
            let filter = filter.clone();
            async move { s.directory.list_groups(p, &filter, &req).await }
        }
    };
    match q.plan("name", &["created_at", "name"], &[], SORTABLE)? {
        Plan::Named(name) => {
            let mut found = Vec::new();
            if name == ALL_USERS_GROUP_NAME {
                found.push(map::all_users_group());
            } else {
                match s.directory.get_group_by_name(p, name).await {
                    Ok(g) if g.name == name => found.push(map::group(&g)),
                    Ok(_) | Err(CoreError::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            found.retain(|g| q.matches(g));
            Ok(q.window(found))
        }
        Plan::Ordered(attr, descending) => {
            let order = if attr == "name" { GroupOrder::Name } else { GroupOrder::Created };
            let filter = GroupFilter { order, descending, ..GroupFilter::default() };
            // Where the all-users group sorts: it predates every group, and
            // by name it sorts as its name does.
            let before_all_users = |g: &Group| match order {
                GroupOrder::Created => descending,
                GroupOrder::Name if descending => fold(&g.name).as_str() > ALL_USERS_GROUP_NAME,
                GroupOrder::Name => fold(&g.name).as_str() < ALL_USERS_GROUP_NAME,
            };
            let Some((number, size)) = q.page else {
                let groups = collect_all(lists::GROUPS, list_groups(filter)).await?;
                let at = groups.iter().take_while(|g| before_all_users(g)).count();
                let mut out: Vec<Value> = groups.iter().map(map::group).collect();
                out.insert(at, map::all_users_group());
                return Ok(out);
            };
            // The page of the list with the all-users group among the
            // stored ones: read from one stored group before the page, to
            // tell whether the all-users group falls before, in or after it.
            let start = number.saturating_mul(size);
            let read = if start == 0 {
                collect_window(0, size, list_groups(filter)).await?
            } else {
                collect_window(start - 1, size + 1, list_groups(filter)).await?
            };
            let before = read.iter().take_while(|g| before_all_users(g)).count();
            let mut out: Vec<Value> = read.iter().map(map::group).collect();
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            if start == 0 {
                if before < size {
                    out.insert(before, map::all_users_group());
                }
            } else if before > 0 {
                // The group read before the page sorts before the all-users
                // group, which therefore sits at or after the page's start.
                out.remove(0);
                if before <= size {
                    out.insert(before - 1, map::all_users_group());
                }
            }
            out.truncate(size);
            Ok(out)
        }
        Plan::Scan => {
            let groups = collect_at_most(lists::GROUPS, SCAN_CAP, list_groups(GroupFilter::default()))
                .await?
                .ok_or_else(|| q.too_many("name"))?;
            let mut out = vec![map::all_users_group()];
            out.extend(groups.iter().map(map::group));
            out.retain(|g| q.matches(g));
            q.sort(&mut out);
            Ok(q.window(out))
        }
    }
}

pub async fn list(State(s): State<AppState>, Auth(p): Auth, RawQuery(raw): RawQuery) -> IgzResult<Json<Value>> {
    let q = ListQuery::parse(raw.as_deref())?;
    let mut items = listed(&s, &p, &q).await?;
    if q.includes("users") {
        for item in &mut items {
            let users = with_members(&s, &p, item).await?;
            item["included"] = Value::Array(users);
        }
    }
    Ok(doc::list(items))
}

pub async fn get(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> IgzResult<Json<Value>> {
    let q = ListQuery::parse(raw.as_deref())?;
    let id = group_id(&id)?;
    let mut res = if id == ALL_USERS_GROUP_ID {
        map::all_users_group()
    } else {
        map::group(&s.directory.get_group(&p, id).await?)
    };
    let included = if q.includes("users") { with_members(&s, &p, &mut res).await? } else { Vec::new() };
    Ok(doc::single(res, included))
}

/// The Iguazio settings a request sets, over `current`.
fn settings(d: &Incoming, mut current: Map<String, Value>) -> IgzResult<Map<String, Value>> {
    if let Some(gid) = d.int("gid")? {
        if !(0..=i64::from(u32::MAX)).contains(&gid) {
            return Err(invalid("data.attributes.gid", "must be between 0 and 4294967295"));
        }
        current.insert("gid".into(), json!(gid));
    }
    if let Some(policies) = d.texts("assigned_policies", Some(map::POLICIES))? {
        current.insert("assigned_policies".into(), json!(policies));
    }
    if let Some(mode) = d.text("data_access_mode")? {
        current.insert("data_access_mode".into(), json!(mode));
    }
    Ok(current)
}

pub async fn create(State(s): State<AppState>, Auth(p): Auth, body: Body) -> IgzResult<impl IntoResponse> {
    let d = doc::incoming(body.into_inner())?;
    let name = d.text("name")?.ok_or_else(|| invalid("data.attributes.name", "is required"))?;
    let mut members = Vec::new();
    for raw in d.to_many("users")?.unwrap_or_default() {
        members.push(raw.parse::<UserId>().map_err(|_| not_found("user"))?);
    }
    let mut new = NewGroup::named(name, SourceType::Iguazio);
    new.description = d.text("description")?;
    new.attributes.insert("iguazio".into(), Value::Object(settings(&d, Map::new())?));
    new.members = members;
    let has_members = !new.members.is_empty();
    let group = s.directory.create_group(&p, new).await?;
    let mut res = map::group(&group);
    let included = if has_members { with_members(&s, &p, &mut res).await? } else { Vec::new() };
    Ok((StatusCode::CREATED, doc::single(res, included)))
}

pub async fn update(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Body,
) -> IgzResult<Json<Value>> {
    let id = group_id(&id)?;
    let mut d = doc::incoming(body.into_inner())?;
    if d.relationships.contains_key("users") {
        return Err(invalid(
            "data.relationships.users",
            "membership is changed through each user's user_groups (PUT /api/users/{id})",
        ));
    }
    // What the client read back is dropped as an echo; the all-users group
    // is compared with how it is shown, and the core refuses changing it.
    let shown = if id == ALL_USERS_GROUP_ID {
        map::all_users_group()
    } else {
        map::group(&s.directory.get_group(&p, id).await?)
    };
    d.keep_changed(&shown);
    // Only the settings named change (a merge patch applied by the core).
    let changed = settings(&d, Map::new())?;
    let attributes = (!changed.is_empty()).then(|| Map::from_iter([("iguazio".to_owned(), Value::Object(changed))]));
    let patch = GroupPatch {
        name: d.text("name")?,
        description: d.attributes.contains_key("description").then(|| d.text("description")).transpose()?,
        attributes,
        ..GroupPatch::default()
    };
    let group = s.directory.update_group(&p, id, patch).await?;
    Ok(doc::single(map::group(&group), Vec::new()))
}

/// Deletes the group and answers with the (finished) job that records it.
pub async fn delete(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> IgzResult<impl IntoResponse> {
    let id = group_id(&id)?;
    let job = JobSpec::completed("user_group.delete", json!({ "user_group_id": id.to_string() }));
    let job = s.directory.delete_group_as_job(&p, id, job).await?;
    Ok((StatusCode::ACCEPTED, Json(map::deletion_response(&job))))
}
