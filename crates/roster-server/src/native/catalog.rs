//! `/v1/roles`, `/v1/organizations`, `/v1/projects`: site-wide catalogs, and
//! the role each user or group holds in a project.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use roster_core::{Grantee, GroupId, OrgId, ProjectId, RoleId, UserId, list};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::wire::{self, ErrorBody, List, PageParams};
use super::{ApiResult, Auth, Body, Params, page};
use crate::http::AppState;
use crate::http::extract::{self, id_param};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_role, list_roles))
        .routes(routes!(get_role, update_role, delete_role))
        .routes(routes!(create_org, list_orgs))
        .routes(routes!(get_org, update_org, delete_org))
        .routes(routes!(create_project, list_projects))
        .routes(routes!(get_project, update_project, delete_project))
        .routes(routes!(list_project_bindings))
        .routes(routes!(put_project_group, remove_project_group))
        .routes(routes!(put_project_user, remove_project_user))
}

/// Create a role (site admins).
#[utoipa::path(post, path = "/v1/roles", tag = "roles", request_body = wire::NewRole,
    responses((status = 201, body = wire::Role), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_role(
    State(s): State<AppState>,
    Auth(p): Auth,
    body: Body<wire::NewRole>,
) -> ApiResult<impl IntoResponse> {
    let b = body.into_inner();
    let role = s.directory.create_role(&p, roster_core::NewRole { name: b.name, description: b.description }).await?;
    Ok((StatusCode::CREATED, Json(wire::Role::from(role))))
}

/// List roles by name.
#[utoipa::path(get, path = "/v1/roles", tag = "roles", params(("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = List<wire::Role>)))]
async fn list_roles(
    State(s): State<AppState>,
    Auth(p): Auth,
    extract::Query(q, _): Params<PageParams>,
) -> ApiResult<Json<List<wire::Role>>> {
    let req = page(list::ROLES, q.limit.as_deref(), q.cursor.as_deref())?;
    Ok(Json(List::from_page(s.directory.list_roles(&p, &req).await?, wire::Role::from)))
}

/// Read a role.
#[utoipa::path(get, path = "/v1/roles/{id}", tag = "roles", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = wire::Role), (status = 404, body = ErrorBody)))]
async fn get_role(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<Json<wire::Role>> {
    Ok(Json(s.directory.get_role(&p, id_param::<RoleId>("id", &id)?).await?.into()))
}

/// Change a role (site admins).
#[utoipa::path(patch, path = "/v1/roles/{id}", tag = "roles", params(("id" = uuid::Uuid, Path)), request_body = wire::RolePatch,
    responses((status = 200, body = wire::Role), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_role(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Body<wire::RolePatch>,
) -> ApiResult<Json<wire::Role>> {
    let b = body.into_inner();
    let patch = roster_core::RolePatch { name: b.name, description: b.description };
    Ok(Json(s.directory.update_role(&p, id_param::<RoleId>("id", &id)?, patch).await?.into()))
}

/// Delete a role and its grants (site admins).
#[utoipa::path(delete, path = "/v1/roles/{id}", tag = "roles", params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_role(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.directory.delete_role(&p, id_param::<RoleId>("id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create an organization (site admins).
#[utoipa::path(post, path = "/v1/organizations", tag = "organizations", request_body = wire::NewOrganization,
    responses((status = 201, body = wire::Organization), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_org(
    State(s): State<AppState>,
    Auth(p): Auth,
    body: Body<wire::NewOrganization>,
) -> ApiResult<impl IntoResponse> {
    let b = body.into_inner();
    let org = s.directory.create_org(&p, roster_core::NewOrganization { name: b.name, slug: b.slug }).await?;
    Ok((StatusCode::CREATED, Json(wire::Organization::from(org))))
}

/// List organizations by name.
#[utoipa::path(get, path = "/v1/organizations", tag = "organizations", params(("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = List<wire::Organization>)))]
async fn list_orgs(
    State(s): State<AppState>,
    Auth(p): Auth,
    extract::Query(q, _): Params<PageParams>,
) -> ApiResult<Json<List<wire::Organization>>> {
    let req = page(list::ORGS, q.limit.as_deref(), q.cursor.as_deref())?;
    Ok(Json(List::from_page(s.directory.list_orgs(&p, &req).await?, wire::Organization::from)))
}

/// Read an organization.
#[utoipa::path(get, path = "/v1/organizations/{id}", tag = "organizations", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = wire::Organization), (status = 404, body = ErrorBody)))]
async fn get_org(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<wire::Organization>> {
    Ok(Json(s.directory.get_org(&p, id_param::<OrgId>("id", &id)?).await?.into()))
}

/// Change an organization (site admins).
#[utoipa::path(patch, path = "/v1/organizations/{id}", tag = "organizations", params(("id" = uuid::Uuid, Path)), request_body = wire::OrganizationPatch,
    responses((status = 200, body = wire::Organization), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_org(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Body<wire::OrganizationPatch>,
) -> ApiResult<Json<wire::Organization>> {
    let b = body.into_inner();
    let patch = roster_core::OrganizationPatch { name: b.name, slug: b.slug };
    Ok(Json(s.directory.update_org(&p, id_param::<OrgId>("id", &id)?, patch).await?.into()))
}

/// Delete an empty organization (site admins).
#[utoipa::path(delete, path = "/v1/organizations/{id}", tag = "organizations", params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_org(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.directory.delete_org(&p, id_param::<OrgId>("id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create a project (site admins).
#[utoipa::path(post, path = "/v1/projects", tag = "projects", request_body = wire::NewProject,
    responses((status = 201, body = wire::Project), (status = 404, description = "no such organization", body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_project(
    State(s): State<AppState>,
    Auth(p): Auth,
    body: Body<wire::NewProject>,
) -> ApiResult<impl IntoResponse> {
    let b = body.into_inner();
    let new = roster_core::NewProject {
        name: b.name,
        description: b.description,
        org: b.organization_id.map(OrgId),
        attributes: b.attributes.unwrap_or_default(),
    };
    let project = s.directory.create_project(&p, new).await?;
    Ok((StatusCode::CREATED, Json(wire::Project::from(project))))
}

/// List projects by name.
#[utoipa::path(get, path = "/v1/projects", tag = "projects", params(("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = List<wire::Project>)))]
async fn list_projects(
    State(s): State<AppState>,
    Auth(p): Auth,
    extract::Query(q, _): Params<PageParams>,
) -> ApiResult<Json<List<wire::Project>>> {
    let req = page(list::PROJECTS, q.limit.as_deref(), q.cursor.as_deref())?;
    Ok(Json(List::from_page(s.directory.list_projects(&p, &req).await?, wire::Project::from)))
}

/// Read a project.
#[utoipa::path(get, path = "/v1/projects/{id}", tag = "projects", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = wire::Project), (status = 404, body = ErrorBody)))]
async fn get_project(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<wire::Project>> {
    Ok(Json(s.directory.get_project(&p, id_param::<ProjectId>("id", &id)?).await?.into()))
}

/// Change a project (site admins).
#[utoipa::path(patch, path = "/v1/projects/{id}", tag = "projects", params(("id" = uuid::Uuid, Path)), request_body = wire::ProjectPatch,
    responses((status = 200, body = wire::Project), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_project(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Body<wire::ProjectPatch>,
) -> ApiResult<Json<wire::Project>> {
    let b = body.into_inner();
    let patch = roster_core::ProjectPatch { name: b.name, description: b.description, attributes: b.attributes };
    Ok(Json(s.directory.update_project(&p, id_param::<ProjectId>("id", &id)?, patch).await?.into()))
}

/// Delete a project and its bindings (site admins).
#[utoipa::path(delete, path = "/v1/projects/{id}", tag = "projects", params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_project(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.directory.delete_project(&p, id_param::<ProjectId>("id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The users and groups bound to a project, with their roles.
#[utoipa::path(get, path = "/v1/projects/{id}/bindings", tag = "projects",
    params(("id" = uuid::Uuid, Path), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = List<wire::ProjectBinding>), (status = 404, body = ErrorBody)))]
async fn list_project_bindings(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    extract::Query(q, _): Params<PageParams>,
) -> ApiResult<Json<List<wire::ProjectBinding>>> {
    let req = page(list::BINDINGS, q.limit.as_deref(), q.cursor.as_deref())?;
    let bindings = s.directory.list_project_bindings(&p, id_param::<ProjectId>("id", &id)?, &req).await?;
    Ok(Json(List::from_page(bindings, wire::ProjectBinding::from)))
}

/// Give a group a role in a project (site admins; replaces its earlier role).
#[utoipa::path(put, path = "/v1/projects/{id}/groups/{group_id}", tag = "projects",
    params(("id" = uuid::Uuid, Path), ("group_id" = uuid::Uuid, Path)), request_body = wire::PutBinding,
    responses((status = 200, body = wire::ProjectBinding), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn put_project_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, group)): Path<(String, String)>,
    body: Body<wire::PutBinding>,
) -> ApiResult<Json<wire::ProjectBinding>> {
    let (id, group) = (id_param::<ProjectId>("id", &id)?, id_param::<GroupId>("group_id", &group)?);
    let (binding, _) = s.directory.put_project_binding(&p, id, Grantee::Group(group), &body.into_inner().role).await?;
    Ok(Json(binding.into()))
}

/// Take a group out of a project (site admins).
#[utoipa::path(delete, path = "/v1/projects/{id}/groups/{group_id}", tag = "projects",
    params(("id" = uuid::Uuid, Path), ("group_id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn remove_project_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, group)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (id, group) = (id_param::<ProjectId>("id", &id)?, id_param::<GroupId>("group_id", &group)?);
    s.directory.remove_project_binding(&p, id, Grantee::Group(group)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give a user a role in a project (site admins; replaces their earlier role).
#[utoipa::path(put, path = "/v1/projects/{id}/users/{user_id}", tag = "projects",
    params(("id" = uuid::Uuid, Path), ("user_id" = uuid::Uuid, Path)), request_body = wire::PutBinding,
    responses((status = 200, body = wire::ProjectBinding), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn put_project_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, user)): Path<(String, String)>,
    body: Body<wire::PutBinding>,
) -> ApiResult<Json<wire::ProjectBinding>> {
    let (id, user) = (id_param::<ProjectId>("id", &id)?, id_param::<UserId>("user_id", &user)?);
    let (binding, _) = s.directory.put_project_binding(&p, id, Grantee::User(user), &body.into_inner().role).await?;
    Ok(Json(binding.into()))
}

/// Take a user out of a project (site admins).
#[utoipa::path(delete, path = "/v1/projects/{id}/users/{user_id}", tag = "projects",
    params(("id" = uuid::Uuid, Path), ("user_id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn remove_project_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (id, user) = (id_param::<ProjectId>("id", &id)?, id_param::<UserId>("user_id", &user)?);
    s.directory.remove_project_binding(&p, id, Grantee::User(user)).await?;
    Ok(StatusCode::NO_CONTENT)
}
