//! `/v1/groups/{id}/members`, `/v1/groups/{id}/children`, `/v1/memberships`:
//! who is in a group and which groups are nested in it.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use roster_core::{GroupId, MemberChange, MemberRole, MembershipId, MembershipPatch, Permissions, UserId, list};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::wire::{self, ErrorBody, List};
use super::{ApiResult, Auth, Body, Params, fields, page};
use crate::http::AppState;
use crate::http::error::BadRequest;
use crate::http::extract::{self, id_param};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members))
        .routes(routes!(check))
        .routes(routes!(put_member, remove_member))
        .routes(routes!(get_membership, update_membership, delete_membership))
        .routes(routes!(list_children))
        .routes(routes!(add_child, remove_child))
}

fn role(value: Option<&str>) -> Result<Option<MemberRole>, BadRequest> {
    value
        .map(|v| MemberRole::parse(v).ok_or_else(|| BadRequest::invalid("role", "must be \"member\" or \"admin\"")))
        .transpose()
}

/// Absent → every permission enabled; `null` → all disabled; a map → as listed.
fn permissions(value: Option<Option<BTreeMap<String, bool>>>) -> Option<Permissions> {
    value.map(|v| v.map_or(Permissions::Disabled, Permissions::Map))
}

/// Reads `transitive=true|false` (default false).
pub(super) fn transitive(value: Option<&str>) -> Result<bool, BadRequest> {
    match value {
        None | Some("false") | Some("") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(BadRequest::invalid("transitive", "must be true or false")),
    }
}

/// User members of a group: direct ones in the order they joined, or with
/// `transitive=true` every user at any depth, once each, in the order the
/// users were created (no `membership` then). `fields` narrows each row.
#[utoipa::path(get, path = "/v1/groups/{id}/members", tag = "members",
    params(("id" = uuid::Uuid, Path), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query),
        ("transitive" = Option<bool>, Query), fields::Param<wire::Member>),
    responses((status = 200, body = List<wire::Member>), (status = 404, body = ErrorBody)))]
async fn list_members(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    extract::Query(q, _): Params<wire::MembershipListParams>,
) -> ApiResult<axum::response::Response> {
    let id = id_param::<GroupId>("id", &id)?;
    let sel = fields::parse::<wire::Member>(q.fields.as_deref())?;
    if transitive(q.transitive.as_deref())? {
        let req = page(list::MEMBERS_TRANSITIVE, q.limit.as_deref(), q.cursor.as_deref())?;
        let users = s.directory.list_members_transitively(&p, id, &req).await?;
        let list = List::from_page(users, |u| fields::SharedEdge::any_depth(fields::SharedUser(u)));
        return Ok(fields::Page(list, sel).into_response());
    }
    let req = page(list::MEMBERS, q.limit.as_deref(), q.cursor.as_deref())?;
    let members = s.directory.list_members(&p, id, &req).await?;
    let list = List::from_page(members, |(m, u)| fields::SharedEdge::direct(m.into(), fields::SharedUser(u)));
    Ok(fields::Page(list, sel).into_response())
}

/// Whether a user is in a group at any depth, with one path that makes it
/// so (from the group down to the user's direct group).
#[utoipa::path(get, path = "/v1/check", tag = "members",
    params(("user" = uuid::Uuid, Query), ("group" = uuid::Uuid, Query)),
    responses((status = 200, body = wire::Check), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn check(
    State(s): State<AppState>,
    Auth(p): Auth,
    extract::Query(q, _): Params<wire::CheckParams>,
) -> ApiResult<Json<wire::Check>> {
    let user =
        id_param::<UserId>("user", q.user.as_deref().ok_or_else(|| BadRequest::invalid("user", "is required"))?)?;
    let group =
        id_param::<GroupId>("group", q.group.as_deref().ok_or_else(|| BadRequest::invalid("group", "is required"))?)?;
    let c = s.directory.check_membership(&p, user, group).await?;
    Ok(Json(wire::Check { member: c.member, path: c.path.into_iter().map(|g| g.0).collect() }))
}

/// Put a user in a group with a role and permissions (idempotent): 201 when
/// the membership is new, 200 when it existed.
#[utoipa::path(put, path = "/v1/groups/{id}/members/{user_id}", tag = "members",
    params(("id" = uuid::Uuid, Path), ("user_id" = uuid::Uuid, Path)), request_body = Option<wire::PutMember>,
    responses((status = 200, body = wire::Membership), (status = 201, body = wire::Membership), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn put_member(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, user)): Path<(String, String)>,
    body: Option<Body<wire::PutMember>>,
) -> ApiResult<impl IntoResponse> {
    let (id, user) = (id_param::<GroupId>("id", &id)?, id_param::<UserId>("user_id", &user)?);
    let b = body.map(Body::into_inner).unwrap_or_default();
    let change = MemberChange {
        role: role(b.role.as_deref())?.unwrap_or(MemberRole::Member),
        permissions: permissions(b.permissions).unwrap_or_default(),
    };
    let (m, created) = s.directory.put_member(&p, id, user, change).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(wire::Membership::from(m))))
}

/// Take a user out of a group.
#[utoipa::path(delete, path = "/v1/groups/{id}/members/{user_id}", tag = "members",
    params(("id" = uuid::Uuid, Path), ("user_id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove_member(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (id, user) = (id_param::<GroupId>("id", &id)?, id_param::<UserId>("user_id", &user)?);
    s.directory.remove_member(&p, id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Read a membership.
#[utoipa::path(get, path = "/v1/memberships/{id}", tag = "members", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = wire::Membership), (status = 404, body = ErrorBody)))]
async fn get_membership(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<wire::Membership>> {
    Ok(Json(s.directory.get_membership(&p, id_param::<MembershipId>("id", &id)?).await?.into()))
}

/// Change a membership's role or permissions.
#[utoipa::path(patch, path = "/v1/memberships/{id}", tag = "members", params(("id" = uuid::Uuid, Path)), request_body = wire::MembershipPatch,
    responses((status = 200, body = wire::Membership), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_membership(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Body<wire::MembershipPatch>,
) -> ApiResult<Json<wire::Membership>> {
    let id = id_param::<MembershipId>("id", &id)?;
    let b = body.into_inner();
    let patch = MembershipPatch { role: role(b.role.as_deref())?, permissions: permissions(b.permissions) };
    Ok(Json(s.directory.update_membership(&p, id, patch).await?.into()))
}

/// Delete a membership (of a user or of a nested group).
#[utoipa::path(delete, path = "/v1/memberships/{id}", tag = "members", params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_membership(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.directory.delete_membership(&p, id_param::<MembershipId>("id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Groups nested directly in a group; `fields` narrows each row.
#[utoipa::path(get, path = "/v1/groups/{id}/children", tag = "members",
    params(("id" = uuid::Uuid, Path), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query),
        fields::Param<wire::GroupEdge>),
    responses((status = 200, body = List<wire::GroupEdge>), (status = 404, body = ErrorBody)))]
async fn list_children(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    extract::Query(q, _): Params<wire::SelectPageParams>,
) -> ApiResult<fields::Page<wire::GroupEdge>> {
    let id = id_param::<GroupId>("id", &id)?;
    let sel = fields::parse::<wire::GroupEdge>(q.fields.as_deref())?;
    let req = page(list::CHILDREN, q.limit.as_deref(), q.cursor.as_deref())?;
    let children = s.directory.list_children(&p, id, &req).await?;
    let list = List::from_page(children, |(m, g)| wire::GroupEdge { membership: Some(m.into()), group: g.into() });
    Ok(fields::Page(list, sel))
}

/// Nest a group in another (idempotent; a cycle is refused with 409).
#[utoipa::path(put, path = "/v1/groups/{id}/children/{child_id}", tag = "members",
    params(("id" = uuid::Uuid, Path), ("child_id" = uuid::Uuid, Path)),
    responses((status = 200, body = wire::Membership), (status = 201, body = wire::Membership), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn add_child(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, child)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    let (id, child) = (id_param::<GroupId>("id", &id)?, id_param::<GroupId>("child_id", &child)?);
    let (m, created) = s.directory.add_child(&p, id, child).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(wire::Membership::from(m))))
}

/// Take a nested group out.
#[utoipa::path(delete, path = "/v1/groups/{id}/children/{child_id}", tag = "members",
    params(("id" = uuid::Uuid, Path), ("child_id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn remove_child(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, child)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (id, child) = (id_param::<GroupId>("id", &id)?, id_param::<GroupId>("child_id", &child)?);
    s.directory.remove_child(&p, id, child).await?;
    Ok(StatusCode::NO_CONTENT)
}
