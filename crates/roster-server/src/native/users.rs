//! `/v1/users`: people in the directory.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use roster_core::{SiteRole, UserId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::wire::{self, ErrorBody, List, ListParams};
use super::{ApiResult, Auth, Body, Params, etag, fields, if_match, page};
use crate::http::AppState;
use crate::http::error::BadRequest;
use crate::http::extract::{self, id_param};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_user, list_users))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(me))
        .routes(routes!(list_user_groups))
}

fn site_role(value: Option<&str>) -> Result<Option<SiteRole>, BadRequest> {
    value
        .map(|v| SiteRole::parse(v).ok_or_else(|| BadRequest::invalid("site_role", "must be \"admin\" or \"user\"")))
        .transpose()
}

/// Create a user (site admins).
#[utoipa::path(post, path = "/v1/users", tag = "users", request_body = wire::NewUser,
    responses((status = 201, body = wire::User), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    body: Body<wire::NewUser>,
) -> ApiResult<impl IntoResponse> {
    let b = body.into_inner();
    let new = roster_core::NewUser {
        site_role: site_role(b.site_role.as_deref())?,
        username: b.username,
        email: b.email,
        first_name: b.first_name,
        last_name: b.last_name,
        display_name: b.display_name,
        active: b.active,
        external_id: b.external_id,
        role_label: b.role_label,
        password: b.password,
        primary_group: None,
        groups: Vec::new(),
        attributes: Default::default(),
    };
    let user = s.directory.create_user(&p, new).await?;
    Ok((StatusCode::CREATED, etag(user.version), Json(wire::User::from(user))))
}

/// List users by username; `prefix` (of the username, first or last name)
/// and `q` (a piece of the username, first, last or display name) ignore
/// case; `fields` narrows each user.
#[utoipa::path(get, path = "/v1/users", tag = "users",
    params(("prefix" = Option<String>, Query), ("q" = Option<String>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query),
        fields::Param<wire::User>),
    responses((status = 200, body = List<wire::User>), (status = 400, body = ErrorBody)))]
async fn list_users(
    State(s): State<AppState>,
    Auth(p): Auth,
    extract::Query(q, _): Params<ListParams>,
) -> ApiResult<fields::Page<wire::User>> {
    let sel = fields::parse::<wire::User>(q.fields.as_deref())?;
    let req = page("users", q.limit.as_deref(), q.cursor.as_deref())?;
    let query = roster_core::UserQuery { prefix: q.prefix, contains: q.q, ..Default::default() };
    let users = s.directory.list_users(&p, &query, &req).await?;
    Ok(fields::Page(List::from_page(users, wire::User::from), sel))
}

/// Read a user; `fields` narrows it.
#[utoipa::path(get, path = "/v1/users/{id}", tag = "users", params(("id" = uuid::Uuid, Path), fields::Param<wire::User>),
    responses((status = 200, body = wire::User), (status = 404, body = ErrorBody)))]
async fn get_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    extract::Query(q, _): Params<wire::FieldsParams>,
) -> ApiResult<impl IntoResponse> {
    let id = id_param::<UserId>("id", &id)?;
    let sel = fields::parse::<wire::User>(q.fields.as_deref())?;
    let user = s.directory.get_user(&p, id).await?;
    Ok((etag(user.version), Json(fields::One(wire::User::from(user), sel))))
}

/// Change a user; honours `If-Match`. Users may change their own names and email.
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "users", params(("id" = uuid::Uuid, Path)), request_body = wire::UserPatch,
    responses((status = 200, body = wire::User), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 412, body = ErrorBody)))]
async fn update_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body<wire::UserPatch>,
) -> ApiResult<impl IntoResponse> {
    let id = id_param::<UserId>("id", &id)?;
    let b = body.into_inner();
    let patch = roster_core::UserPatch {
        site_role: site_role(b.site_role.as_deref())?,
        username: b.username,
        email: b.email,
        first_name: b.first_name,
        last_name: b.last_name,
        display_name: b.display_name,
        active: b.active,
        external_id: b.external_id,
        role_label: b.role_label,
        attributes: None,
        primary_group: b.primary_group_id.map(|g| g.map(roster_core::GroupId)),
        password: None,
        if_version: if_match(&headers)?,
    };
    let user = s.directory.update_user(&p, id, patch).await?;
    Ok((etag(user.version), Json(wire::User::from(user))))
}

/// Delete a user with their memberships, shares and keys (site admins);
/// with `If-Match`, only if the user is still at that version.
#[utoipa::path(delete, path = "/v1/users/{id}", tag = "users", params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 412, body = ErrorBody)))]
async fn delete_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    s.directory.delete_user(&p, id_param::<UserId>("id", &id)?, if_match(&headers)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The user the presented key acts for.
#[utoipa::path(get, path = "/v1/me", tag = "users", responses((status = 200, body = wire::User), (status = 401, body = ErrorBody)))]
async fn me(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<wire::User>> {
    Ok(Json(s.directory.whoami(&p).await?.into()))
}

/// The groups a user belongs to (the user or site admins): directly, or
/// with `transitive=true` at any depth, in the order the groups were
/// created (no `membership` then). `fields` narrows each row.
#[utoipa::path(get, path = "/v1/users/{id}/groups", tag = "users",
    params(("id" = uuid::Uuid, Path), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query),
        ("transitive" = Option<bool>, Query), fields::Param<wire::GroupEdge>),
    responses((status = 200, body = List<wire::GroupEdge>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_user_groups(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    extract::Query(q, _): Params<wire::MembershipListParams>,
) -> ApiResult<axum::response::Response> {
    let id = id_param::<UserId>("id", &id)?;
    let sel = fields::parse::<wire::GroupEdge>(q.fields.as_deref())?;
    if super::members::transitive(q.transitive.as_deref())? {
        let req = page(roster_core::list::USER_GROUPS_TRANSITIVE, q.limit.as_deref(), q.cursor.as_deref())?;
        let groups = s.directory.list_user_groups_transitively(&p, id, &req).await?;
        if sel.is_none() {
            return Ok(s.rendered_groups.edges_page(groups)?);
        }
        let list = List::from_page(groups, |g| fields::SharedEdge::any_depth(fields::SharedGroup(g)));
        return Ok(fields::Page(list, sel).into_response());
    }
    let req = page(roster_core::list::USER_GROUPS, q.limit.as_deref(), q.cursor.as_deref())?;
    let groups = s.directory.list_user_groups(&p, id, &req).await?;
    let list = List::from_page(groups, |(m, g)| wire::GroupEdge { membership: Some(m.into()), group: g.into() });
    Ok(fields::Page(list, sel).into_response())
}
