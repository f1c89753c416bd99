//! `/Users` (dialects/scim.md): create, read, replace, PATCH, delete, list
//! and `.search`. A replace or PATCH is computed from the user's current
//! state and only what it changes is sent to the core, which applies it to
//! the row it locks. Translates only: every rule is the core's.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_core::{
    CoreError, GroupId, NewUser, PageRequest, Principal, User, UserId, UserPatch, UserQuery, attributes, list,
};
use serde_json::{Map, Value};

use super::error::ScimResult;
use super::filter;
use super::map::{self, Projection};
use super::patch;
use super::request::{Auth, Base, Body_, Params, body_object, id, if_match, not_modified};
use super::responses::{list_response, resource};
use super::schema;
use super::search::{Plan, Search, compare_of, page_of, parse_filter, scan, sort_key};
use crate::http::AppState;

/// Every group the user is directly in that the caller may see (a page at
/// a time: none is left out). The user and site admins see them all.
async fn user_groups(s: &AppState, p: &Principal, u: UserId) -> ScimResult<Vec<(GroupId, String)>> {
    Ok(s.directory.visible_groups_of(p, u).await?.into_iter().map(|g| (g.id, g.name)).collect())
}

async fn render_user(s: &AppState, p: &Principal, u: &User, base: &str, groups: bool) -> ScimResult<Value> {
    let groups = if groups { Some(user_groups(s, p, u.id).await?) } else { None };
    Ok(map::user_json(u, groups, base))
}

/// What a request changes of the user it read: only the fields that differ,
/// and the SCIM-only attributes as a merge patch.
fn user_patch(f: map::UserFields, current: &User, if_version: Option<i64>) -> UserPatch {
    fn changed<T: PartialEq>(new: T, old: &T) -> Option<T> {
        (new != *old).then_some(new)
    }
    let attributes = attributes::diff(&current.attributes, &map::with_extras(&current.attributes, f.extras));
    UserPatch {
        username: changed(f.username, &current.username),
        email: changed(f.email, &current.email),
        first_name: changed(f.first_name, &current.first_name),
        last_name: changed(f.last_name, &current.last_name),
        display_name: changed(f.display_name, &current.display_name),
        active: changed(f.active, &current.active),
        external_id: changed(f.external_id, &current.external_id),
        attributes: (!attributes.is_empty()).then_some(attributes),
        if_version,
        ..UserPatch::default()
    }
}

pub(super) async fn create_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    body: Body_,
) -> ScimResult<Response> {
    let body = body_object(body.into_inner())?;
    map::check_schemas(&schema::USERS, &body)?;
    let f = map::user_fields(map::normalize(&schema::USERS, body)?)?;
    let new = NewUser {
        username: f.username,
        email: f.email,
        first_name: f.first_name,
        last_name: f.last_name,
        display_name: f.display_name,
        active: Some(f.active),
        external_id: f.external_id,
        attributes: map::with_extras(&Map::new(), f.extras),
        ..NewUser::default()
    };
    let u = s.directory.create_user(&p, new).await?;
    Ok(resource(StatusCode::CREATED, map::user_json(&u, Some(Vec::new()), &base)))
}

pub(super) async fn get_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    Path(uid): Path<String>,
    params: Params,
    headers: HeaderMap,
) -> ScimResult<Response> {
    let proj = params.projection(&schema::USERS)?;
    let u = s.directory.get_user(&p, id("user", &uid)?).await?;
    if not_modified(&headers, u.version) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let v = render_user(&s, &p, &u, &base, proj.wants(&schema::USERS, "groups")).await?;
    Ok(resource(StatusCode::OK, proj.apply(&schema::USERS, v)))
}

/// Saves a user computed from the state it read: what differs from that
/// state is applied by the core to the row it locks, so a concurrent change
/// to anything else survives (`If-Match` pins the whole version instead).
async fn save_user(
    s: &AppState,
    p: &Principal,
    uid: UserId,
    pinned: Option<i64>,
    compute: impl FnOnce(&User) -> ScimResult<map::UserFields>,
) -> ScimResult<User> {
    let current = s.directory.get_user(p, uid).await?;
    let fields = compute(&current)?;
    Ok(s.directory.update_user(p, uid, user_patch(fields, &current, pinned)).await?)
}

pub(super) async fn replace_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    Path(uid): Path<String>,
    params: Params,
    headers: HeaderMap,
    body: Body_,
) -> ScimResult<Response> {
    let proj = params.projection(&schema::USERS)?;
    let uid: UserId = id("user", &uid)?;
    let body = body_object(body.into_inner())?;
    map::check_schemas(&schema::USERS, &body)?;
    let doc = map::normalize(&schema::USERS, body)?;
    let u = save_user(&s, &p, uid, if_match(&headers), |_| map::user_fields(doc.clone())).await?;
    let v = render_user(&s, &p, &u, &base, proj.wants(&schema::USERS, "groups")).await?;
    Ok(resource(StatusCode::OK, proj.apply(&schema::USERS, v)))
}

pub(super) async fn patch_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    Path(uid): Path<String>,
    params: Params,
    headers: HeaderMap,
    body: Body_,
) -> ScimResult<Response> {
    let proj = params.projection(&schema::USERS)?;
    let uid: UserId = id("user", &uid)?;
    let ops = patch::parse(&body_object(body.into_inner())?)?;
    let u = save_user(&s, &p, uid, if_match(&headers), |current| {
        let mut doc = map::user_doc(current);
        patch::apply_user(&schema::USERS, &mut doc, ops)?;
        map::user_fields(map::normalize(&schema::USERS, doc)?)
    })
    .await?;
    let v = render_user(&s, &p, &u, &base, proj.wants(&schema::USERS, "groups")).await?;
    Ok(resource(StatusCode::OK, proj.apply(&schema::USERS, v)))
}

pub(super) async fn delete_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(uid): Path<String>,
    headers: HeaderMap,
) -> ScimResult<Response> {
    let uid: UserId = id("user", &uid)?;
    s.directory.delete_user(&p, uid, if_match(&headers)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn list_users(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    params: Params,
) -> ScimResult<Response> {
    let q = params.search()?;
    let (total, items) = search_users_in(&s, &p, &base, &q, false).await?;
    Ok(list_response(total, q.start(), items))
}

pub(super) async fn search_users(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    body: Body_,
) -> ScimResult<Response> {
    let q = Search::from_body(&body.into_inner())?;
    let (total, items) = search_users_in(&s, &p, &base, &q, false).await?;
    Ok(list_response(total, q.start(), items))
}

pub(super) async fn search_users_in(
    s: &AppState,
    p: &Principal,
    base: &str,
    q: &Search,
    lenient: bool,
) -> ScimResult<(i64, Vec<Value>)> {
    let kind = &schema::USERS;
    let Some(filter) = parse_filter(kind, q, lenient)? else { return Ok((0, Vec::new())) };
    let proj = Projection::parse(kind, &q.attributes, &q.excluded, lenient)?;
    let sort = sort_key(kind, q)?;
    let desc = q.descending()?;
    let mentions =
        |name: &str| filter.as_ref().is_some_and(|f| f.paths().iter().any(|p| p.attr.eq_ignore_ascii_case(name)));
    let groups_for_filter = mentions("groups");
    let groups_out = proj.names(kind, "groups");

    let mut query = UserQuery::default();
    let mut plan = Plan { filter, single: None, exact: true };
    if let Some(f) = &plan.filter {
        let conj = f.conjuncts();
        plan.exact = conj.len() == 1;
        for c in &conj {
            let pushed = match compare_of(c) {
                Some((a, filter::Op::Eq, Value::String(v))) if a == "username" => {
                    plan.single = Some(("userName", v.clone()));
                    false
                }
                Some((a, filter::Op::Eq, Value::String(v))) if a == "id" => {
                    plan.single = Some(("id", v.clone()));
                    false
                }
                Some((a, filter::Op::Eq, Value::String(v))) if a == "externalid" => {
                    query.external_id = Some(v.clone());
                    true
                }
                Some((a, filter::Op::Eq, Value::Bool(b))) if a == "active" => {
                    query.active = Some(*b);
                    true
                }
                Some((a, filter::Op::Sw, Value::String(v))) if a == "username" => {
                    query.prefix = Some(v.clone());
                    false
                }
                _ => false,
            };
            plan.exact &= pushed;
        }
    }
    let sorted_by_store = sort.as_ref().is_none_or(|p| p.attr.eq_ignore_ascii_case("userName") && p.sub.is_none());

    // Fast path: the store pages exactly what was asked.
    if plan.single.is_none() && plan.exact && sorted_by_store {
        query.descending = desc;
        let page = PageRequest::at_offset((q.start() - 1) as u64, q.count().max(1) as u32);
        let page = s.directory.list_users(p, &query, &page).await?;
        let mut items = Vec::new();
        for u in page.items.iter().take(q.count() as usize) {
            items.push(proj.apply(kind, render_user(s, p, u, base, groups_out).await?));
        }
        return Ok((page.total, items));
    }

    let candidates: Vec<User> = match &plan.single {
        Some((attr, v)) => {
            let found = if *attr == "id" {
                match v.parse::<UserId>() {
                    Ok(uid) => s.directory.get_user(p, uid).await,
                    Err(_) => Err(CoreError::NotFound { what: "user" }),
                }
            } else {
                s.directory.get_user_by_username(p, v).await
            };
            match found {
                Ok(u) => vec![u],
                Err(CoreError::NotFound { .. }) => Vec::new(),
                Err(e) => return Err(e.into()),
            }
        }
        None => scan_users(s, p, &query).await?,
    };
    let mut matched = Vec::new();
    for u in &candidates {
        let v = render_user(s, p, u, base, groups_for_filter || groups_out).await?;
        if plan.filter.as_ref().is_none_or(|f| filter::matches(f, &v, kind.core, kind)) {
            matched.push(v);
        }
    }
    let (total, items) = page_of(kind, matched, sort.as_ref(), desc, q);
    Ok((total, items.into_iter().map(|v| proj.apply(kind, v)).collect()))
}

async fn scan_users(s: &AppState, p: &Principal, query: &UserQuery) -> ScimResult<Vec<User>> {
    scan(list::USERS, |page| async move { s.directory.list_users(p, query, &page).await }).await
}
