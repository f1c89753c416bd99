//! A group's access on its page: shares (to a user or a group, at a
//! level), roles granted to it, and the role it holds in projects. Each
//! form calls one core use-case; who may do it is the core's answer
//! (site admins and the group's managers share it; only site admins grant
//! roles and set project roles), shown by the form when refused.

use axum::extract::{Path, State};
use roster_core::{CoreError, Grantee, ProjectId, RoleId, ShareLevel};

use super::error::{ConsoleError, ConsoleResult};
use super::form::{NO_GROUP, NO_USER, named};
use super::groups::{GroupForm, answer, group_id};
use super::session::Post;
use crate::http::AppState;
use crate::http::extract::id_param;

const SHARE: GroupForm = GroupForm::new("share", &["grantee", "level", "kind"]);
const REMOVE_SHARE: GroupForm = GroupForm::new("remove-share", &[]);
const GRANT_ROLE: GroupForm = GroupForm::new("grant-role", &["role"]);
const REVOKE_ROLE: GroupForm = GroupForm::new("revoke-role", &[]);
const PROJECT: GroupForm = GroupForm::new("project", &["project", "role"]);
const REMOVE_PROJECT: GroupForm = GroupForm::new("remove-project", &[]);

/// `POST /groups/{id}/shares`: shares the group with a user or a group,
/// named, at a level (again: changes the level).
pub(crate) async fn put_share(State(state): State<AppState>, Path(id): Path<String>, post: Post) -> ConsoleResult {
    let id = group_id(&id)?;
    let (d, p, form) = (&state.directory, &post.session.principal, &post.form);
    let result = async {
        let level = ShareLevel::parse(form.text("level"))
            .ok_or_else(|| CoreError::invalid("level", "must be read, write or manage"))?;
        let name = form.required("grantee")?;
        let grantee = match form.text("kind") {
            "group" => {
                Grantee::Group(d.get_group_by_name(p, name).await.map_err(|e| named(e, "grantee", NO_GROUP))?.id)
            }
            "user" | "" => {
                Grantee::User(d.get_user_by_username(p, name).await.map_err(|e| named(e, "grantee", NO_USER))?.id)
            }
            _ => return Err(CoreError::invalid("kind", "must be user or group")),
        };
        d.put_share(p, id, grantee, level).await
    }
    .await;
    answer(&state, post, id, SHARE, result).await
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
    let result = state.directory.delete_share(&post.session.principal, id, grantee).await;
    answer(&state, post, id, REMOVE_SHARE, result).await
}

/// `POST /groups/{id}/roles`: grants it a role (by id, from the list).
pub(crate) async fn grant_role(State(state): State<AppState>, Path(id): Path<String>, post: Post) -> ConsoleResult {
    let id = group_id(&id)?;
    let result = async {
        let role = post.form.required("role")?;
        let role = role.parse::<RoleId>().map_err(|_| CoreError::invalid("role", "choose a role from the list"))?;
        state.directory.grant_group_role(&post.session.principal, id, role).await
    }
    .await;
    answer(&state, post, id, GRANT_ROLE, result).await
}

/// `POST /groups/{id}/roles/{role}/remove`: takes a role away.
pub(crate) async fn revoke_role(
    State(state): State<AppState>,
    Path((id, role)): Path<(String, String)>,
    post: Post,
) -> ConsoleResult {
    let (id, role) = (group_id(&id)?, id_param::<RoleId>("role", &role)?);
    let result = state.directory.revoke_group_role(&post.session.principal, id, role).await;
    answer(&state, post, id, REVOKE_ROLE, result).await
}

/// `POST /groups/{id}/projects`: the group's role in a project, named
/// (replacing the role it held there).
pub(crate) async fn put_project_role(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: Post,
) -> ConsoleResult {
    let id = group_id(&id)?;
    let (d, p, form) = (&state.directory, &post.session.principal, &post.form);
    let result = async {
        let name = form.required("project")?;
        let project =
            d.get_project_by_name(p, name).await.map_err(|e| named(e, "project", "no project has this name"))?;
        d.put_project_binding(p, project.id, Grantee::Group(id), form.text("role")).await
    }
    .await;
    answer(&state, post, id, PROJECT, result).await
}

/// `POST /groups/{id}/projects/{project}/remove`: takes the group out of a
/// project.
pub(crate) async fn remove_project_role(
    State(state): State<AppState>,
    Path((id, project)): Path<(String, String)>,
    post: Post,
) -> ConsoleResult {
    let (id, project) = (group_id(&id)?, id_param::<ProjectId>("project", &project)?);
    let result = state.directory.remove_project_binding(&post.session.principal, project, Grantee::Group(id)).await;
    answer(&state, post, id, REMOVE_PROJECT, result).await
}
