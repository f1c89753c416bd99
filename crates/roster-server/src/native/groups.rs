//! `/v1/groups`: groups, their role grants.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use roster_core::{GroupFilter, GroupId, OrgId, RoleId, SourceType, list};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::wire::{self, ErrorBody, List, ListParams};
use super::{ApiResult, Auth, Body, Params, etag, fields, if_match, page};
use crate::http::AppState;
use crate::http::extract::{self, id_param};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_group, list_groups))
        .routes(routes!(get_group, update_group, delete_group))
        .routes(routes!(list_group_roles))
        .routes(routes!(grant_role, revoke_role))
}

/// Create a group (site admins). Names are unique, ignoring case.
#[utoipa::path(post, path = "/v1/groups", tag = "groups", request_body = wire::NewGroup,
    responses((status = 201, body = wire::Group), (status = 404, description = "no such organization", body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    body: Body<wire::NewGroup>,
) -> ApiResult<impl IntoResponse> {
    let b = body.into_inner();
    let new = roster_core::NewGroup {
        name: b.name,
        unique_id: b.unique_id,
        slug: b.slug,
        description: b.description,
        org: b.organization_id.map(OrgId),
        source_type: SourceType::Api,
        attributes: b.attributes.unwrap_or_default(),
        roles: Vec::new(),
        members: Vec::new(),
    };
    let group = s.directory.create_group(&p, new).await?;
    Ok((StatusCode::CREATED, etag(group.version), Json(wire::Group::from(group))))
}

/// List the groups the caller may see, by name; `prefix` and `q` (substring)
/// ignore case; `fields` narrows each group.
#[utoipa::path(get, path = "/v1/groups", tag = "groups",
    params(("prefix" = Option<String>, Query), ("q" = Option<String>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query),
        fields::Param<wire::Group>),
    responses((status = 200, body = List<wire::Group>), (status = 400, body = ErrorBody)))]
async fn list_groups(
    State(s): State<AppState>,
    Auth(p): Auth,
    extract::Query(q, _): Params<ListParams>,
) -> ApiResult<fields::Page<wire::Group>> {
    let sel = fields::parse::<wire::Group>(q.fields.as_deref())?;
    let req = page(list::GROUPS, q.limit.as_deref(), q.cursor.as_deref())?;
    let filter = GroupFilter { prefix: q.prefix, contains: q.q, ..GroupFilter::default() };
    let groups = s.directory.list_groups(&p, &filter, &req).await?;
    Ok(fields::Page(List::from_page(groups, wire::Group::from), sel))
}

/// Read a group the caller may see; `fields` narrows it.
#[utoipa::path(get, path = "/v1/groups/{id}", tag = "groups", params(("id" = uuid::Uuid, Path), fields::Param<wire::Group>),
    responses((status = 200, body = wire::Group), (status = 404, body = ErrorBody)))]
async fn get_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    extract::Query(q, _): Params<wire::FieldsParams>,
) -> ApiResult<impl IntoResponse> {
    let id = id_param::<GroupId>("id", &id)?;
    let sel = fields::parse::<wire::Group>(q.fields.as_deref())?;
    let group = s.directory.get_group(&p, id).await?;
    Ok((etag(group.version), Json(fields::One(wire::Group::from(group), sel))))
}

/// Change a group (site admins, write shares); honours `If-Match`.
#[utoipa::path(patch, path = "/v1/groups/{id}", tag = "groups", params(("id" = uuid::Uuid, Path)), request_body = wire::GroupPatch,
    responses((status = 200, body = wire::Group), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 412, body = ErrorBody)))]
async fn update_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body<wire::GroupPatch>,
) -> ApiResult<impl IntoResponse> {
    let id = id_param::<GroupId>("id", &id)?;
    let b = body.into_inner();
    let patch = roster_core::GroupPatch {
        name: b.name,
        unique_id: b.unique_id,
        slug: b.slug,
        description: b.description,
        org: b.organization_id.map(OrgId),
        attributes: b.attributes,
        roles: None,
        if_version: if_match(&headers)?,
    };
    let group = s.directory.update_group(&p, id, patch).await?;
    Ok((etag(group.version), Json(wire::Group::from(group))))
}

/// Delete a group with its memberships, nesting, shares and bindings (site
/// admins, manage shares); with `If-Match`, only if it is still at that version.
#[utoipa::path(delete, path = "/v1/groups/{id}", tag = "groups", params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 412, body = ErrorBody)))]
async fn delete_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    s.directory.delete_group(&p, id_param::<GroupId>("id", &id)?, if_match(&headers)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The roles granted to a group.
#[utoipa::path(get, path = "/v1/groups/{id}/roles", tag = "groups", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Vec<uuid::Uuid>), (status = 404, body = ErrorBody)))]
async fn list_group_roles(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<uuid::Uuid>>> {
    let roles = s.directory.group_roles(&p, id_param::<GroupId>("id", &id)?).await?;
    Ok(Json(roles.into_iter().map(|r| r.id.0).collect()))
}

/// Grant a role to a group (site admins; idempotent).
#[utoipa::path(put, path = "/v1/groups/{id}/roles/{role_id}", tag = "groups",
    params(("id" = uuid::Uuid, Path), ("role_id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn grant_role(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, role)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (id, role) = (id_param::<GroupId>("id", &id)?, id_param::<RoleId>("role_id", &role)?);
    s.directory.grant_group_role(&p, id, role).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Take a role from a group (site admins).
#[utoipa::path(delete, path = "/v1/groups/{id}/roles/{role_id}", tag = "groups",
    params(("id" = uuid::Uuid, Path), ("role_id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn revoke_role(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, role)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (id, role) = (id_param::<GroupId>("id", &id)?, id_param::<RoleId>("role_id", &role)?);
    s.directory.revoke_group_role(&p, id, role).await?;
    Ok(StatusCode::NO_CONTENT)
}
