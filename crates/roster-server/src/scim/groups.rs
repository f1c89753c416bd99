//! `/Groups` (dialects/scim.md): create, read, replace, PATCH, delete, list
//! and `.search`. Members are memberships: a replace or PATCH becomes one
//! `MemberEdit` (`Directory::edit_group`), never a load of every member.
//! Translates only: every rule is the core's.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_core::{
    CoreError, GroupFilter, GroupId, GroupPatch, Member, MemberEdit, NewGroup, PageRequest, Principal, SourceType, list,
};
use serde_json::{Map, Value};

use super::error::{ScimError, ScimResult};
use super::filter;
use super::map::{self, Projection};
use super::patch;
use super::request::{Auth, Base, Body_, Params, body_object, id, if_match, not_modified};
use super::responses::{list_response, resource};
use super::schema;
use super::search::{Plan, Search, compare_of, page_of, parse_filter, scan, sort_key};
use crate::http::AppState;

async fn render_group(
    s: &AppState,
    p: &Principal,
    g: &roster_core::Group,
    base: &str,
    members: bool,
) -> ScimResult<Value> {
    let refs = if members { Some(s.directory.member_refs(p, g.id).await?) } else { None };
    Ok(map::group_json(g, refs.as_deref(), base))
}

/// A group body's attributes and members.
struct GroupFields {
    name: String,
    external_id: Option<String>,
    members: Vec<uuid::Uuid>,
}

fn group_fields(body: Map<String, Value>) -> ScimResult<GroupFields> {
    map::check_schemas(&schema::GROUPS, &body)?;
    let doc = map::normalize(&schema::GROUPS, body)?;
    let name = doc
        .get("displayName")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_value("displayName: required"))?
        .to_owned();
    Ok(GroupFields {
        name,
        external_id: doc.get("externalId").and_then(Value::as_str).map(str::to_owned),
        members: match doc.get("members") {
            Some(v) => patch::member_ids(v)?,
            None => Vec::new(),
        },
    })
}

pub(super) async fn create_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    params: Params,
    body: Body_,
) -> ScimResult<Response> {
    let proj = params.projection(&schema::GROUPS)?;
    let f = group_fields(body_object(body.into_inner())?)?;
    let new = NewGroup { unique_id: f.external_id, ..NewGroup::named(f.name, SourceType::Scim) };
    let (g, _) = s.directory.create_group_with_members(&p, new, f.members).await?;
    let v = render_group(&s, &p, &g, &base, proj.wants(&schema::GROUPS, "members")).await?;
    Ok(resource(StatusCode::CREATED, proj.apply(&schema::GROUPS, v)))
}

pub(super) async fn get_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    Path(gid): Path<String>,
    params: Params,
    headers: HeaderMap,
) -> ScimResult<Response> {
    let proj = params.projection(&schema::GROUPS)?;
    let g = s.directory.get_group(&p, id("group", &gid)?).await?;
    if not_modified(&headers, g.version) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let v = render_group(&s, &p, &g, &base, proj.wants(&schema::GROUPS, "members")).await?;
    Ok(resource(StatusCode::OK, proj.apply(&schema::GROUPS, v)))
}

pub(super) async fn replace_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    Path(gid): Path<String>,
    params: Params,
    headers: HeaderMap,
    body: Body_,
) -> ScimResult<Response> {
    let proj = params.projection(&schema::GROUPS)?;
    let gid: GroupId = id("group", &gid)?;
    let f = group_fields(body_object(body.into_inner())?)?;
    let patch = GroupPatch {
        name: Some(f.name),
        unique_id: Some(f.external_id),
        if_version: if_match(&headers),
        ..GroupPatch::default()
    };
    let edit = MemberEdit { replace: true, add: f.members, remove: Vec::new() };
    let (g, _) = s.directory.edit_group(&p, gid, patch, edit).await?;
    let v = render_group(&s, &p, &g, &base, proj.wants(&schema::GROUPS, "members")).await?;
    Ok(resource(StatusCode::OK, proj.apply(&schema::GROUPS, v)))
}

pub(super) async fn patch_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    Path(gid): Path<String>,
    params: Params,
    headers: HeaderMap,
    body: Body_,
) -> ScimResult<Response> {
    let proj = params.projection(&schema::GROUPS)?;
    let gid: GroupId = id("group", &gid)?;
    let ops = patch::parse(&body_object(body.into_inner())?)?;
    let changes = patch::fold_group(&schema::GROUPS, ops, || async {
        Ok::<Vec<Member>, ScimError>(s.directory.member_refs(&p, gid).await?)
    })
    .await?;
    let patch = GroupPatch {
        name: changes.display_name,
        unique_id: changes.external_id,
        if_version: if_match(&headers),
        ..GroupPatch::default()
    };
    let (g, _) = s.directory.edit_group(&p, gid, patch, changes.members.into_edit()).await?;
    let v = render_group(&s, &p, &g, &base, proj.wants(&schema::GROUPS, "members")).await?;
    Ok(resource(StatusCode::OK, proj.apply(&schema::GROUPS, v)))
}

pub(super) async fn delete_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(gid): Path<String>,
    headers: HeaderMap,
) -> ScimResult<Response> {
    let gid: GroupId = id("group", &gid)?;
    s.directory.delete_group(&p, gid, if_match(&headers)).await?;
    Ok(Response::builder().status(StatusCode::NO_CONTENT).body(Body::empty()).unwrap_or_default())
}

pub(super) async fn list_groups(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    params: Params,
) -> ScimResult<Response> {
    let q = params.search()?;
    let (total, items) = search_groups_in(&s, &p, &base, &q, false).await?;
    Ok(list_response(total, q.start(), items))
}

pub(super) async fn search_groups(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    body: Body_,
) -> ScimResult<Response> {
    let q = Search::from_body(&body.into_inner())?;
    let (total, items) = search_groups_in(&s, &p, &base, &q, false).await?;
    Ok(list_response(total, q.start(), items))
}

pub(super) async fn search_groups_in(
    s: &AppState,
    p: &Principal,
    base: &str,
    q: &Search,
    lenient: bool,
) -> ScimResult<(i64, Vec<Value>)> {
    let kind = &schema::GROUPS;
    let Some(filter) = parse_filter(kind, q, lenient)? else { return Ok((0, Vec::new())) };
    let proj = Projection::parse(kind, &q.attributes, &q.excluded, lenient)?;
    let sort = sort_key(kind, q)?;
    let desc = q.descending()?;
    let members_out = proj.wants(kind, "members");
    let members_for_filter =
        filter.as_ref().is_some_and(|f| f.paths().iter().any(|p| p.attr.eq_ignore_ascii_case("members")));

    let mut gf = GroupFilter::default();
    let mut plan = Plan { filter, single: None, exact: true };
    if let Some(f) = &plan.filter {
        let conj = f.conjuncts();
        plan.exact = conj.len() == 1;
        for c in &conj {
            let pushed = match compare_of(c) {
                Some((a, filter::Op::Eq, Value::String(v))) if a == "displayname" => {
                    plan.single = Some(("displayName", v.clone()));
                    false
                }
                Some((a, filter::Op::Eq, Value::String(v))) if a == "id" => {
                    plan.single = Some(("id", v.clone()));
                    false
                }
                Some((a, filter::Op::Eq, Value::String(v))) if a == "externalid" => {
                    plan.single = Some(("externalId", v.clone()));
                    false
                }
                Some((a, filter::Op::Sw, Value::String(v))) if a == "displayname" => {
                    gf.prefix = Some(v.clone());
                    true
                }
                Some((a, filter::Op::Co, Value::String(v))) if a == "displayname" => {
                    gf.contains = Some(v.clone());
                    true
                }
                _ => false,
            };
            plan.exact &= pushed;
        }
    }
    let sorted_by_store = sort.as_ref().is_none_or(|p| p.attr.eq_ignore_ascii_case("displayName") && p.sub.is_none());

    if plan.single.is_none() && plan.exact && sorted_by_store {
        gf.descending = desc;
        let page = PageRequest::at_offset((q.start() - 1) as u64, q.count().max(1) as u32);
        let page = s.directory.list_groups(p, &gf, &page).await?;
        let mut items = Vec::new();
        for g in page.items.iter().take(q.count() as usize) {
            items.push(proj.apply(kind, render_group(s, p, g, base, members_out).await?));
        }
        return Ok((page.total, items));
    }

    let candidates = match &plan.single {
        Some((attr, v)) => {
            let found = match *attr {
                "id" => match v.parse::<GroupId>() {
                    Ok(gid) => s.directory.get_group(p, gid).await,
                    Err(_) => Err(CoreError::NotFound { what: "group" }),
                },
                "externalId" => s.directory.get_group_by_unique_id(p, v).await,
                _ => s.directory.get_group_by_name(p, v).await,
            };
            match found {
                Ok(g) => vec![g],
                Err(CoreError::NotFound { .. }) => Vec::new(),
                Err(e) => return Err(e.into()),
            }
        }
        None => scan_groups(s, p, &gf).await?,
    };
    let mut matched = Vec::new();
    for g in &candidates {
        let v = render_group(s, p, g, base, members_for_filter).await?;
        if plan.filter.as_ref().is_none_or(|f| filter::matches(f, &v, kind.core, kind)) {
            matched.push((g, v));
        }
    }
    let by_id: HashMap<String, &roster_core::Group> = matched.iter().map(|(g, _)| (g.id.to_string(), *g)).collect();
    let (total, page) = page_of(kind, matched.iter().map(|(_, v)| v.clone()).collect(), sort.as_ref(), desc, q);
    let mut items = Vec::with_capacity(page.len());
    for v in page {
        // Members are loaded for the page only, not for every candidate.
        let v = match (members_out && !members_for_filter, v["id"].as_str().and_then(|i| by_id.get(i))) {
            (true, Some(g)) => render_group(s, p, g, base, true).await?,
            _ => v,
        };
        items.push(proj.apply(kind, v));
    }
    Ok((total, items))
}

async fn scan_groups(s: &AppState, p: &Principal, gf: &GroupFilter) -> ScimResult<Vec<roster_core::Group>> {
    scan(list::GROUPS, |page| async move { s.directory.list_groups(p, gf, &page).await }).await
}
