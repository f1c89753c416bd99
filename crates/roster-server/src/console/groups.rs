//! Groups: search, create, a group's page (edit, delete with confirmation,
//! members a cursor page at a time with their roles and permissions, add,
//! remove, change role; nested groups as a tree that loads a level at a
//! time; parents; members at any depth; shares; roles).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use roster_core::{
    CoreError, GroupFilter, GroupId, GroupPatch, MemberChange, MemberRole, MembershipId, MembershipPatch, NewGroup,
    PageRequest, SourceType, UserId, list,
};
use serde::Deserialize;

use super::error::{ConsoleError, ConsoleResult};
use super::form::{Failed, Failure, FormData};
use super::pages::from_htmx;
use super::session::{Post, Session};
use super::views::{Chrome, GroupRow, MemberRow, PAGE, Pager, Shown, UserRow, encode, html, shown, when};
use crate::http::AppState;
use crate::http::extract::id_param;

#[derive(Deserialize, Default)]
pub(crate) struct ListParams {
    q: Option<String>,
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "console/groups.html")]
struct Groups {
    chrome: Chrome,
    q: String,
    groups: Vec<GroupRow>,
    pager: Pager,
    failed: Failed,
}

async fn list_page(
    state: &AppState,
    session: &Session,
    params: &ListParams,
    failed: Failed,
    status: StatusCode,
) -> ConsoleResult {
    let status = failed.status_or(status);
    let q = params.q.as_deref().unwrap_or("").trim().to_owned();
    let filter = GroupFilter { prefix: Some(q.clone()).filter(|q| !q.is_empty()), ..GroupFilter::default() };
    let req = PageRequest::parse(list::GROUPS, Some(PAGE), params.cursor.as_deref())?;
    let page = match state.directory.list_groups(&session.principal, &filter, &req).await {
        Ok(page) => page,
        Err(e @ CoreError::Invalid { .. }) if !failed.any() => {
            let failed = Failed(Some(Failure::of("search", &["prefix"], FormData::default(), e)?));
            return Box::pin(list_page(state, session, &ListParams::default(), failed, StatusCode::BAD_REQUEST)).await;
        }
        Err(e) => return Err(e.into()),
    };
    let pager = Pager::of(&page, &format!("/groups?q={}&", encode(&q)), "cursor");
    let chrome = Chrome::of(state, session, "groups").await?;
    html(status, &Groups { chrome, q, groups: page.items.iter().map(GroupRow::from).collect(), pager, failed })
}

/// `GET /groups?q=&cursor=`: the groups this person may see, by name prefix.
pub(crate) async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<ListParams>,
) -> ConsoleResult {
    list_page(&state, &session, &q, Failed::default(), StatusCode::OK).await
}

/// `POST /groups`: creates a group (site admins; the core decides).
pub(crate) async fn create(State(state): State<AppState>, post: Post) -> ConsoleResult {
    let Post { session, form } = post;
    let mut new = NewGroup::named(form.text("name"), SourceType::Api);
    new.description = form.optional("description");
    match state.directory.create_group(&session.principal, new).await {
        Ok(group) => Ok(Redirect::to(&format!("/groups/{}", group.id)).into_response()),
        Err(e) => {
            let failed = Failed(Some(Failure::of("create-group", &["name", "description"], form, e)?));
            list_page(&state, &session, &ListParams::default(), failed, StatusCode::BAD_REQUEST).await
        }
    }
}

pub(super) fn group_id(id: &str) -> Result<GroupId, ConsoleError> {
    Ok(id_param::<GroupId>("id", id)?)
}

#[derive(Deserialize, Default)]
pub(crate) struct ShowParams {
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "console/group.html")]
struct GroupPage {
    chrome: Chrome,
    group: GroupRow,
    created: String,
    version: i64,
    admins: i64,
    members: Vec<MemberRow>,
    pager: Pager,
    children: Vec<GroupRow>,
    children_more: bool,
    parents: Vec<GroupRow>,
    parents_total: i64,
    roles: Vec<NamedRow>,
    /// The roles offered by the grant form (the first page, by name).
    all_roles: Vec<NamedRow>,
    all_roles_more: bool,
    /// (project id, project name, the group's role in it).
    projects: Vec<(String, String, String)>,
    projects_more: bool,
    shares: Shown<Vec<ShareRow>>,
    failed: Failed,
}

/// A role (its id for forms, and name).
struct NamedRow {
    id: String,
    name: String,
}

/// A share as the group's page shows it: the grantee's name, link, kind
/// (`users` or `groups`, as in the path that removes it) and id, and the level.
struct ShareRow {
    name: String,
    link: String,
    kind: &'static str,
    id: String,
    level: &'static str,
}

async fn group_page(
    state: &AppState,
    session: &Session,
    id: GroupId,
    params: &ShowParams,
    failed: Failed,
    status: StatusCode,
) -> ConsoleResult {
    let status = failed.status_or(status);
    let p = &session.principal;
    let d = &state.directory;
    let group = d.get_group(p, id).await?;
    let req = PageRequest::parse(list::MEMBERS, Some(PAGE), params.cursor.as_deref())?;
    let members = d.list_members(p, id, &req).await?;
    let pager = Pager::of(&members, &format!("/groups/{id}?"), "cursor");
    let children = d.list_children(p, id, &PageRequest::first(PAGE as u32)).await?;
    let parent_filter = GroupFilter { children_any: vec![id], ..GroupFilter::default() };
    let parents = d.list_groups(p, &parent_filter, &PageRequest::first(PAGE as u32)).await?;
    let role_row = |r: roster_core::Role| NamedRow { id: r.id.to_string(), name: r.name };
    let roles = d.group_roles(p, id).await?.into_iter().map(role_row).collect();
    let all_roles = d.list_roles(p, &PageRequest::first(PAGE as u32)).await?;
    let all_roles_more = all_roles.next_cursor.is_some();
    let all_roles = all_roles.items.into_iter().map(role_row).collect();
    let (projects, projects_more) = d.group_projects(p, id, PAGE as u32).await?;
    let projects = projects.into_iter().map(|(project, role)| (project.id.to_string(), project.name, role)).collect();
    let shares = shown(d.list_shares(p, id, &PageRequest::first(PAGE as u32)).await)?;
    let shares = match shares {
        Ok(page) => Ok(share_rows(state, session, &page.items).await?),
        Err(reason) => Err(reason),
    };
    let chrome = Chrome::of(state, session, "groups").await?;
    html(
        status,
        &GroupPage {
            chrome,
            created: when(group.created_at),
            version: group.version,
            admins: group.counts.admins,
            group: GroupRow::from(&group),
            members: members.items.iter().map(|(m, u)| MemberRow::of(m, u)).collect(),
            pager,
            children_more: children.next_cursor.is_some(),
            children: children.items.iter().map(|(_, g)| GroupRow::from(g)).collect(),
            parents_total: parents.total,
            parents: parents.items.iter().map(GroupRow::from).collect(),
            roles,
            all_roles,
            all_roles_more,
            projects,
            projects_more,
            shares,
            failed,
        },
    )
}

/// Each share with its grantee's name (its id when the grantee is gone or
/// not visible to this person).
async fn share_rows(
    state: &AppState,
    session: &Session,
    shares: &[roster_core::Share],
) -> Result<Vec<ShareRow>, CoreError> {
    let mut rows = Vec::with_capacity(shares.len());
    for s in shares {
        let (name, kind, id) = match s.grantee {
            roster_core::Grantee::User(u) => match state.directory.get_user(&session.principal, u).await {
                Ok(user) => (user.username, "users", u.to_string()),
                Err(CoreError::NotFound { .. }) => (u.to_string(), "users", u.to_string()),
                Err(e) => return Err(e),
            },
            roster_core::Grantee::Group(g) => match state.directory.get_group(&session.principal, g).await {
                Ok(group) => (group.name, "groups", g.to_string()),
                Err(CoreError::NotFound { .. }) => (g.to_string(), "groups", g.to_string()),
                Err(e) => return Err(e),
            },
        };
        rows.push(ShareRow { link: format!("/{kind}/{id}"), name, kind, id, level: s.level.as_str() });
    }
    Ok(rows)
}

/// `GET /groups/{id}?cursor=`: the group, one page of its members.
pub(crate) async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(q): Query<ShowParams>,
) -> ConsoleResult {
    group_page(&state, &session, group_id(&id)?, &q, Failed::default(), StatusCode::OK).await
}

/// What a failed form on a group's page shows: the page again, with the
/// error by its field.
pub(super) async fn failed_on_page(
    state: &AppState,
    session: &Session,
    id: GroupId,
    form_name: &'static str,
    fields: &[&str],
    form: FormData,
    e: CoreError,
) -> ConsoleResult {
    let failed = Failed(Some(Failure::of(form_name, fields, form, e)?));
    group_page(state, session, id, &ShowParams::default(), failed, StatusCode::BAD_REQUEST).await
}

pub(super) fn back_to(id: GroupId) -> ConsoleResult {
    Ok(Redirect::to(&format!("/groups/{id}")).into_response())
}

/// `POST /groups/{id}`: renames it or changes its description.
pub(crate) async fn edit(State(state): State<AppState>, Path(id): Path<String>, post: Post) -> ConsoleResult {
    let Post { session, form } = post;
    let id = group_id(&id)?;
    let version = crate::http::extract::int_param("version", Some(form.text("version")))?;
    let patch = GroupPatch {
        name: Some(form.text("name").to_owned()),
        description: Some(form.optional("description")),
        if_version: version,
        ..GroupPatch::default()
    };
    match state.directory.update_group(&session.principal, id, patch).await {
        Ok(_) => back_to(id),
        Err(e) => failed_on_page(&state, &session, id, "edit-group", &["name", "description"], form, e).await,
    }
}

#[derive(Template)]
#[template(path = "console/group_delete.html")]
struct ConfirmDelete {
    chrome: Chrome,
    group: GroupRow,
}

/// `GET /groups/{id}/delete`: asks before deleting.
pub(crate) async fn confirm_delete(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> ConsoleResult {
    let group = state.directory.get_group(&session.principal, group_id(&id)?).await?;
    let chrome = Chrome::of(&state, &session, "groups").await?;
    html(StatusCode::OK, &ConfirmDelete { chrome, group: GroupRow::from(&group) })
}

/// `POST /groups/{id}/delete`.
pub(crate) async fn delete(State(state): State<AppState>, Path(id): Path<String>, post: Post) -> ConsoleResult {
    let id = group_id(&id)?;
    match state.directory.delete_group(&post.session.principal, id, None).await {
        Ok(()) => Ok(Redirect::to("/groups").into_response()),
        Err(e) => failed_on_page(&state, &post.session, id, "delete", &[], post.form, e).await,
    }
}

fn role(value: &str) -> Result<MemberRole, CoreError> {
    MemberRole::parse(value).ok_or_else(|| CoreError::invalid("role", "must be member or admin"))
}

/// `POST /groups/{id}/members`: adds a user by username, with a role.
pub(crate) async fn add_member(State(state): State<AppState>, Path(id): Path<String>, post: Post) -> ConsoleResult {
    let Post { session, form } = post;
    let id = group_id(&id)?;
    let p = &session.principal;
    let result = async {
        let role = role(form.text("role"))?;
        let username = form.required("username")?;
        let user = state.directory.get_user_by_username(p, username).await.map_err(|e| match e {
            CoreError::NotFound { .. } => CoreError::invalid("username", "no user has this username"),
            other => other,
        })?;
        let change = MemberChange { role, ..MemberChange::default() };
        state.directory.put_member(p, id, user.id, change).await
    }
    .await;
    match result {
        Ok(_) => back_to(id),
        Err(e) => failed_on_page(&state, &session, id, "add-member", &["username", "role"], form, e).await,
    }
}

fn user_id(id: &str) -> Result<UserId, ConsoleError> {
    Ok(id_param::<UserId>("user", id)?)
}

/// `POST /groups/{id}/memberships/{membership}/role`: makes a member an
/// admin or back; their permissions stay as they are.
pub(crate) async fn set_role(
    State(state): State<AppState>,
    Path((id, membership)): Path<(String, String)>,
    post: Post,
) -> ConsoleResult {
    let Post { session, form } = post;
    let id = group_id(&id)?;
    let membership = id_param::<MembershipId>("membership", &membership).map_err(ConsoleError::from)?;
    let result = async {
        let patch = MembershipPatch { role: Some(role(form.text("role"))?), permissions: None };
        state.directory.update_membership(&session.principal, membership, patch).await
    }
    .await;
    match result {
        Ok(_) => back_to(id),
        Err(e) => failed_on_page(&state, &session, id, "role", &[], form, e).await,
    }
}

/// `POST /groups/{id}/memberships/{membership}/permissions`: the admin
/// permissions, each checked box on and every other known one off.
pub(crate) async fn set_permissions(
    State(state): State<AppState>,
    Path((id, membership)): Path<(String, String)>,
    post: Post,
) -> ConsoleResult {
    let Post { session, form } = post;
    let id = group_id(&id)?;
    let membership = id_param::<MembershipId>("membership", &membership).map_err(ConsoleError::from)?;
    let map = roster_core::permission::KNOWN.iter().map(|name| (name.to_string(), form.text(name) == "on")).collect();
    let patch = MembershipPatch { role: None, permissions: Some(roster_core::Permissions::Map(map)) };
    match state.directory.update_membership(&session.principal, membership, patch).await {
        Ok(_) => back_to(id),
        Err(e) => failed_on_page(&state, &session, id, "role", &[], form, e).await,
    }
}

/// `POST /groups/{id}/members/{user}/remove`.
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    Path((id, user)): Path<(String, String)>,
    post: Post,
) -> ConsoleResult {
    let (id, user) = (group_id(&id)?, user_id(&user)?);
    match state.directory.remove_member(&post.session.principal, id, user).await {
        Ok(()) => back_to(id),
        Err(e) => failed_on_page(&state, &post.session, id, "remove", &[], post.form, e).await,
    }
}

/// `POST /groups/{id}/children`: nests a group, named, inside this one.
pub(crate) async fn add_child(State(state): State<AppState>, Path(id): Path<String>, post: Post) -> ConsoleResult {
    let Post { session, form } = post;
    let id = group_id(&id)?;
    let p = &session.principal;
    let result = async {
        let name = form.required("child")?;
        let child = state.directory.get_group_by_name(p, name).await.map_err(|e| match e {
            CoreError::NotFound { .. } => CoreError::invalid("child", "no group you can see has this name"),
            other => other,
        })?;
        state.directory.add_child(p, id, child.id).await
    }
    .await;
    match result {
        Ok(_) => back_to(id),
        Err(e) if e.is_cycle() => {
            let e = CoreError::invalid("child", "nesting this group here would create a cycle");
            failed_on_page(&state, &session, id, "add-child", &["child"], form, e).await
        }
        Err(e) => failed_on_page(&state, &session, id, "add-child", &["child"], form, e).await,
    }
}

/// `POST /groups/{id}/children/{child}/remove`.
pub(crate) async fn remove_child(
    State(state): State<AppState>,
    Path((id, child)): Path<(String, String)>,
    post: Post,
) -> ConsoleResult {
    let id = group_id(&id)?;
    let child = id_param::<GroupId>("child", &child).map_err(ConsoleError::from)?;
    match state.directory.remove_child(&post.session.principal, id, child).await {
        Ok(()) => back_to(id),
        Err(e) => failed_on_page(&state, &post.session, id, "remove-child", &[], post.form, e).await,
    }
}

#[derive(Template)]
#[template(path = "console/group_members_all.html")]
struct AllMembers {
    chrome: Chrome,
    group: GroupRow,
    users: Vec<UserRow>,
    pager: Pager,
}

/// `GET /groups/{id}/all-members?cursor=`: the users in it at any depth.
pub(crate) async fn all_members(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(q): Query<ShowParams>,
) -> ConsoleResult {
    let id = group_id(&id)?;
    let p = &session.principal;
    let group = state.directory.get_group(p, id).await?;
    let req = PageRequest::parse(list::MEMBERS_TRANSITIVE, Some(PAGE), q.cursor.as_deref())?;
    let page = state.directory.list_members_transitively(p, id, &req).await?;
    let pager = Pager::of(&page, &format!("/groups/{id}/all-members?"), "cursor");
    let chrome = Chrome::of(&state, &session, "groups").await?;
    let users = page.items.iter().map(UserRow::from).collect();
    html(StatusCode::OK, &AllMembers { chrome, group: GroupRow::from(&group), users, pager })
}

#[derive(Deserialize, Default)]
pub(crate) struct TreeParams {
    cursor: Option<String>,
    /// Set: the groups it is nested in, rather than those nested in it.
    up: Option<String>,
}

#[derive(Template)]
#[template(path = "console/tree.html")]
struct Tree {
    chrome: Option<Chrome>,
    group: GroupRow,
    children: Vec<GroupRow>,
    up: bool,
    pager: Pager,
}

/// `GET /groups/{id}/tree?cursor=[&up=1]`: the groups nested directly in it
/// (or, with `up`, those it is directly nested in), each able to open its
/// own level: a fragment for htmx, else a page.
pub(crate) async fn tree(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<TreeParams>,
) -> ConsoleResult {
    let id = group_id(&id)?;
    let p = &session.principal;
    let group = state.directory.get_group(p, id).await?;
    let up = q.up.as_deref().is_some_and(|v| !v.is_empty());
    let (children, pager) = if up {
        let req = PageRequest::parse(list::GROUPS, Some(PAGE), q.cursor.as_deref())?;
        let filter = GroupFilter { children_any: vec![id], ..GroupFilter::default() };
        let page = state.directory.list_groups(p, &filter, &req).await?;
        let pager = Pager::of(&page, &format!("/groups/{id}/tree?up=1&"), "cursor");
        (page.items.iter().map(GroupRow::from).collect(), pager)
    } else {
        let req = PageRequest::parse(list::CHILDREN, Some(PAGE), q.cursor.as_deref())?;
        let page = state.directory.list_children(p, id, &req).await?;
        let pager = Pager::of(&page, &format!("/groups/{id}/tree?"), "cursor");
        (page.items.iter().map(|(_, g)| GroupRow::from(g)).collect(), pager)
    };
    let chrome = if from_htmx(&headers) { None } else { Some(Chrome::of(&state, &session, "groups").await?) };
    html(StatusCode::OK, &Tree { chrome, group: GroupRow::from(&group), children, up, pager })
}
