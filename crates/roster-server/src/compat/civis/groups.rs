//! `groups.*` (dialects/civis.md): list, create, read, replace, patch and
//! delete groups, their members, their shares and the groups they hold a
//! share on. Translates only: every rule is the core's.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roster_core::{
    Grantee, GroupFilter, GroupId, GroupOrder, MemberChange, NumKind, OrgId, Principal, ShareLevel, SourceType, UserId,
};

use super::Body;
use super::auth::Auth;
use super::error::CivisResult;
use super::ids::{group_id, group_ids, known_id, org_id, role_ids, user_id, user_ids};
use super::map::{self, Query, Render, attr};
use super::rendering::{paged, render_group, share_index};
use super::wire;
use crate::http::AppState;
use crate::http::error::BadRequest;

fn level(value: &str) -> Result<ShareLevel, BadRequest> {
    ShareLevel::parse(value).ok_or_else(|| BadRequest::invalid("permission_level", "must be read, write or manage"))
}

/// `groups.list(...)` (dialects/civis.md §5): a bare array, `[]` past the end.
pub(super) async fn list_groups(
    State(s): State<AppState>,
    Auth(p): Auth,
    RawQuery(raw): RawQuery,
) -> CivisResult<Response> {
    let q = Query::parse(raw.as_deref());
    let (req, limit, page_num) = map::page(&q, 1000)?;
    let order = match q.str("order") {
        None | Some("name") => GroupOrder::Name,
        Some("created_at") => GroupOrder::Created,
        Some(_) => return Err(BadRequest::invalid("order", "must be name or created_at").into()),
    };
    let descending = match q.str("order_dir") {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(BadRequest::invalid("order_dir", "must be asc or desc").into()),
    };
    let shared_at_least = q
        .str("permission")
        .map(|v| ShareLevel::parse(v).ok_or_else(|| BadRequest::invalid("permission", "must be read, write or manage")))
        .transpose()?;
    let org = match q.int("organization_id")? {
        Some(n) => match known_id(&s, NumKind::Organization, n).await? {
            Some(id) => Some(OrgId(id)),
            None => return Ok(paged(Vec::<wire::GroupSummary>::new(), 0, limit, page_num)),
        },
        None => None,
    };
    let wanted = q.ints("user_ids")?;
    let mut members_any = Vec::new();
    for n in &wanted {
        if let Some(id) = known_id(&s, NumKind::User, *n).await? {
            members_any.push(UserId(id));
        }
    }
    if !wanted.is_empty() && members_any.is_empty() {
        return Ok(paged(Vec::<wire::GroupSummary>::new(), 0, limit, page_num));
    }
    let filter = GroupFilter {
        prefix: None,
        contains: q.str("query").map(str::to_owned),
        shared_at_least,
        members_any,
        org,
        order,
        descending,
        ..GroupFilter::default()
    };
    let page = s.directory.list_groups(&p, &filter, &req).await?;
    let with_members = q.bool("include_members")?.unwrap_or(false);
    let items = Render::new(&s.directory, &p).summaries(page.items, with_members).await?;
    Ok(paged(items, page.total, limit, page_num))
}

pub(super) async fn get_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> CivisResult<Json<wire::Group>> {
    let id = group_id(&s, &id).await?;
    render_group(&s, &p, id).await
}

/// Settings from a body: `Some(None)` clears, `None` leaves alone.
pub(super) fn settings(b: &wire::GroupBody) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    let mut set = |k: &str, v: Option<serde_json::Value>| {
        m.insert(k.to_owned(), v.unwrap_or(serde_json::Value::Null));
    };
    if let Some(v) = &b.default_otp_required_for_login {
        set(attr::OTP, v.map(serde_json::Value::Bool));
    }
    for (key, value) in [
        (attr::TIME_ZONE, &b.default_time_zone),
        (attr::JOBS_LABEL, &b.default_jobs_label),
        (attr::NOTEBOOKS_LABEL, &b.default_notebooks_label),
        (attr::SERVICES_LABEL, &b.default_services_label),
    ] {
        if let Some(v) = value {
            set(key, v.clone().map(serde_json::Value::String));
        }
    }
    m
}

/// `groups.post(name, ...)`: 201 with the group.
pub(super) async fn create_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    body: Body<wire::GroupBody>,
) -> CivisResult<Response> {
    let b = body.into_inner();
    let name = b.name.clone().ok_or_else(|| BadRequest::invalid("name", "is required"))?;
    let mut new = roster_core::NewGroup::named(name, SourceType::Civis);
    new.description = b.description.clone().flatten();
    new.slug = b.slug.clone().flatten();
    new.org = org_id(&s, b.organization_id.flatten()).await?;
    new.roles = role_ids(&s, &b.role_ids.clone().flatten().unwrap_or_default()).await?;
    new.attributes = settings(&b).into_iter().filter(|(_, v)| !v.is_null()).collect();
    let g = s.directory.create_group(&p, new).await?;
    let body = Render::new(&s.directory, &p).group(g).await?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn update(
    s: &AppState,
    p: &Principal,
    id: GroupId,
    b: wire::GroupBody,
    replace: bool,
) -> CivisResult<Json<wire::Group>> {
    let mut patch = roster_core::GroupPatch { name: b.name.clone(), ..Default::default() };
    let mut attributes = settings(&b);
    if replace {
        // PUT replaces every attribute: what is not given goes back to its default.
        patch.description = Some(b.description.clone().flatten());
        patch.slug = Some(b.slug.clone().flatten());
        patch.org = Some(org_id(s, b.organization_id.flatten()).await?.unwrap_or(roster_core::DEFAULT_ORG_ID));
        patch.roles = Some(role_ids(s, &b.role_ids.clone().flatten().unwrap_or_default()).await?);
        for key in [attr::OTP, attr::TIME_ZONE, attr::JOBS_LABEL, attr::NOTEBOOKS_LABEL, attr::SERVICES_LABEL] {
            attributes.entry(key.to_owned()).or_insert(serde_json::Value::Null);
        }
    } else {
        patch.description = b.description.clone();
        patch.slug = b.slug.clone();
        if let Some(org) = b.organization_id {
            patch.org = Some(org_id(s, org).await?.unwrap_or(roster_core::DEFAULT_ORG_ID));
        }
        if let Some(roles) = &b.role_ids {
            patch.roles = Some(role_ids(s, &roles.clone().unwrap_or_default()).await?);
        }
    }
    if !attributes.is_empty() {
        patch.attributes = Some(attributes);
    }
    let g = s.directory.update_group(p, id, patch).await?;
    Ok(Json(Render::new(&s.directory, p).group(g).await?))
}

/// `groups.put(id, name, ...)`: replaces every setting.
pub(super) async fn replace_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Body<wire::GroupBody>,
) -> CivisResult<Json<wire::Group>> {
    let id = group_id(&s, &id).await?;
    let b = body.into_inner();
    if b.name.is_none() {
        return Err(BadRequest::invalid("name", "is required").into());
    }
    update(&s, &p, id, b, true).await
}

/// `groups.patch(id, ...)`: changes what is given.
pub(super) async fn patch_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Option<Body<wire::GroupBody>>,
) -> CivisResult<Json<wire::Group>> {
    let id = group_id(&s, &id).await?;
    update(&s, &p, id, body.map(Body::into_inner).unwrap_or_default(), false).await
}

pub(super) async fn delete_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> CivisResult<StatusCode> {
    let id = group_id(&s, &id).await?;
    s.directory.delete_group(&p, id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `groups.put_members(id, user_id)`: idempotent; answers the group.
pub(super) async fn put_member(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, user)): Path<(String, String)>,
) -> CivisResult<Json<wire::Group>> {
    let id = group_id(&s, &id).await?;
    let user = user_id(&s, &user).await?;
    s.directory.put_member(&p, id, user, MemberChange::default()).await?;
    render_group(&s, &p, id).await
}

pub(super) async fn delete_member(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, user)): Path<(String, String)>,
) -> CivisResult<StatusCode> {
    let id = group_id(&s, &id).await?;
    let user = user_id(&s, &user).await?;
    s.directory.remove_member(&p, id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `groups.get_child_groups(id)`: the groups this group holds a share on.
pub(super) async fn child_groups(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> CivisResult<Json<wire::GroupChildren>> {
    let id = group_id(&s, &id).await?;
    let mut out = wire::GroupChildren::default();
    for (g, level) in s.directory.groups_shared_with_group(&p, id).await? {
        let entry = wire::IdName { id: g.num, name: g.name };
        match level {
            ShareLevel::Manage => out.manageable.push(entry),
            ShareLevel::Write => out.writeable.push(entry),
            ShareLevel::Read => out.readable.push(entry),
        }
    }
    Ok(Json(out))
}

/// `groups.list_shares(id)`: an array of one index.
pub(super) async fn list_shares(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> CivisResult<Json<Vec<wire::ShareIndex>>> {
    let id = group_id(&s, &id).await?;
    Ok(Json(vec![share_index(&s, &p, id).await?]))
}

/// `groups.put_shares_users(id, user_ids, permission_level)`: one
/// transaction; an unknown id changes nothing.
pub(super) async fn put_shares_users(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Body<wire::ShareUsersBody>,
) -> CivisResult<Json<wire::ShareIndex>> {
    let id = group_id(&s, &id).await?;
    let b = body.into_inner();
    let level = level(&b.permission_level)?;
    let grantees: Vec<Grantee> = user_ids(&s, "user_ids", &b.user_ids).await?.into_iter().map(Grantee::User).collect();
    s.directory.put_shares(&p, id, &grantees, level).await?;
    Ok(Json(share_index(&s, &p, id).await?))
}

/// `groups.put_shares_groups(id, group_ids, permission_level)`.
pub(super) async fn put_shares_groups(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Body<wire::ShareGroupsBody>,
) -> CivisResult<Json<wire::ShareIndex>> {
    let id = group_id(&s, &id).await?;
    let b = body.into_inner();
    let level = level(&b.permission_level)?;
    let grantees: Vec<Grantee> =
        group_ids(&s, "group_ids", &b.group_ids).await?.into_iter().map(Grantee::Group).collect();
    s.directory.put_shares(&p, id, &grantees, level).await?;
    Ok(Json(share_index(&s, &p, id).await?))
}

pub(super) async fn delete_shares_users(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, user)): Path<(String, String)>,
) -> CivisResult<StatusCode> {
    let id = group_id(&s, &id).await?;
    let user = user_id(&s, &user).await?;
    s.directory.delete_share(&p, id, Grantee::User(user)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn delete_shares_groups(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, other)): Path<(String, String)>,
) -> CivisResult<StatusCode> {
    let id = group_id(&s, &id).await?;
    let other = group_id(&s, &other).await?;
    s.directory.delete_share(&p, id, Grantee::Group(other)).await?;
    Ok(StatusCode::NO_CONTENT)
}
