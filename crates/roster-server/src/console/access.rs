//! A group's access on its page: shares (to a user or a group, at a
//! level), roles granted to it, and the role it holds in projects. Each
//! form calls one core use-case; who may do it is the core's answer
//! (site admins and the group's managers share it; only site admins grant
//! roles and set project roles), shown by the form when refused.

use axum::extract::{Path, State};
use roster_core::{CoreError, Grantee, GroupId, ProjectId, RoleId, ShareLevel};

use super::error::{ConsoleError, ConsoleResult};
use super::groups::{back_to, failed_on_page, group_id};
use super::session::Post;
use crate::http::AppState;
use crate::http::extract::id_param;

/// `POST /groups/{id}/shares`: shares the group with a user or a group,
/// named, at a level (again: changes the level).
pub(crate) async fn put_share(State(state): State<AppState>, Path(id): Path<String>, post: Post) -> ConsoleResult {
    let Post { session, form } = post;
    let id = group_id(&id)?;
    let p = &session.principal;
    let d = &state.directory;
    let result = async {
        let level = ShareLevel::parse(form.text("level"))
            .ok_or_else(|| CoreError::invalid("level", "must be read, write or manage"))?;
        let name = form.required("grantee")?;
        let grantee = match form.text("kind") {
            "group" => Grantee::Group(
                d.get_group_by_name(p, name)
                    .await
                    .map_err(|e| not_found_as(e, "grantee", "no group you can see has this name"))?
                    .id,
            ),
            "user" | "" => Grantee::User(
                d.get_user_by_username(p, name)
                    .await
                    .map_err(|e| not_found_as(e, "grantee", "no user has this username"))?
                    .id,
            ),
            _ => return Err(CoreError::invalid("kind", "must be user or group")),
        };
        d.put_share(p, id, grantee, level).await
    }
    .await;
    match result {
        Ok(_) => back_to(id),
        Err(e) => failed_on_page(&state, &session, id, "share", &["grantee", "level", "kind"], form, e).await,
    }
}

/// A lookup's `NotFound` as the form's field error.
fn not_found_as(e: CoreError, field: &'static str, reason: &'static str) -> CoreError {
    match e {
        CoreError::NotFound { .. } => CoreError::invalid(field, reason),
        other => other,
    }
}

/// `POST /groups/{id}/shares/{kind}/{grantee}/remove`: stops sharing it.
pub(crate) async fn delete_share(
    State(state): State<AppState>,
    Path((id, kind, grantee)): Path<(String, String, String)>,
    post: Post,
) -> ConsoleResult {
    let id = group_id(&id)?;
    let grantee = match kind.as_str() {
        "users" => Grantee::User(id_param("grantee", &grantee)?),
        "groups" => Grantee::Group(id_param("grantee", &grantee)?),
        _ => return Err(ConsoleError::BadRequest("a share is of users or groups".into())),
    };
    match state.directory.delete_share(&post.session.principal, id, grantee).await {
        Ok(()) => back_to(id),
        Err(e) => failed_on_page(&state, &post.session, id, "remove-share", &[], post.form, e).await,
    }
}

/// `POST /groups/{id}/roles`: grants it a role (by id, from the list).
pub(crate) async fn grant_role(State(state): State<AppState>, Path(id): Path<String>, post: Post) -> ConsoleResult {
    let Post { session, form } = post;
    let id = group_id(&id)?;
    let result = match form
        .required("role")
        .and_then(|r| r.parse::<RoleId>().map_err(|_| CoreError::invalid("role", "choose a role from the list")))
    {
        Ok(role) => state.directory.grant_group_role(&session.principal, id, role).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => back_to(id),
        Err(e) => failed_on_page(&state, &session, id, "grant-role", &["role"], form, e).await,
    }
}

/// `POST /groups/{id}/roles/{role}/remove`: takes a role away.
pub(crate) async fn revoke_role(
    State(state): State<AppState>,
    Path((id, role)): Path<(String, String)>,
    post: Post,
) -> ConsoleResult {
    let id = group_id(&id)?;
    let role = id_param::<RoleId>("role", &role)?;
    match state.directory.revoke_group_role(&post.session.principal, id, role).await {
        Ok(()) => back_to(id),
        Err(e) => failed_on_page(&state, &post.session, id, "revoke-role", &[], post.form, e).await,
    }
}

/// `POST /groups/{id}/projects`: the group's role in a project, named
/// (replacing the role it held there).
pub(crate) async fn put_project_role(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: Post,
) -> ConsoleResult {
    let Post { session, form } = post;
    let id = group_id(&id)?;
    let p = &session.principal;
    let result = async {
        let name = form.required("project")?;
        let project = state
            .directory
            .get_project_by_name(p, name)
            .await
            .map_err(|e| not_found_as(e, "project", "no project has this name"))?;
        state.directory.put_project_binding(p, project.id, Grantee::Group(id), form.text("role")).await
    }
    .await;
    match result {
        Ok(_) => back_to(id),
        Err(e) => failed_on_page(&state, &session, id, "project", &["project", "role"], form, e).await,
    }
}

/// `POST /groups/{id}/projects/{project}/remove`: takes the group out of a
/// project.
pub(crate) async fn remove_project_role(
    State(state): State<AppState>,
    Path((id, project)): Path<(String, String)>,
    post: Post,
) -> ConsoleResult {
    let id: GroupId = group_id(&id)?;
    let project = id_param::<ProjectId>("project", &project)?;
    match state.directory.remove_project_binding(&post.session.principal, project, Grantee::Group(id)).await {
        Ok(()) => back_to(id),
        Err(e) => failed_on_page(&state, &post.session, id, "remove-project", &[], post.form, e).await,
    }
}
