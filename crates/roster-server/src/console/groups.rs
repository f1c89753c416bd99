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
use super::form::{Failed, Failure, NO_GROUP, NO_USER, named};
use super::pages::from_htmx;
use super::session::{Post, Session};
use super::views::{
    Chrome, GroupRow, MemberRow, PAGE, Pager, Search, SearchParams, Shown, UserRow, html, search, shown, when,
};
use crate::http::AppState;
use crate::http::extract::id_param;

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
    params: &SearchParams,
    failed: Failed,
    status: StatusCode,
) -> ConsoleResult {
    let (d, p) = (&state.directory, &session.principal);
    let list =
        |prefix, req| async move { d.list_groups(p, &GroupFilter { prefix, ..GroupFilter::default() }, &req).await };
    let found = search("/groups", list::GROUPS, params, failed, status, list, |g| GroupRow::from(g)).await?;
    let chrome = Chrome::of(state, session, "groups").await?;
    let Search { q, rows: groups, pager, failed, status } = found;
    html(status, &Groups { chrome, q, groups, pager, failed })
}

/// `GET /groups?q=&cursor=`: the groups this person may see, by name prefix.
pub(crate) async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<SearchParams>,
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
            list_page(&state, &session, &SearchParams::default(), failed, StatusCode::BAD_REQUEST).await
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

/// A form on a group's page: its name (the page looks its errors up by it)
/// and the fields an error may name (another field's error is shown atop
/// the form).
pub(super) struct GroupForm {
    name: &'static str,
    fields: &'static [&'static str],
}

impl GroupForm {
    pub(super) const fn new(name: &'static str, fields: &'static [&'static str]) -> Self {
        Self { name, fields }
    }
}

const EDIT: GroupForm = GroupForm::new("edit-group", &["name", "description"]);
const DELETE: GroupForm = GroupForm::new("delete", &[]);
const ADD_MEMBER: GroupForm = GroupForm::new("add-member", &["username", "role"]);
const ROLE: GroupForm = GroupForm::new("role", &[]);
const REMOVE: GroupForm = GroupForm::new("remove", &[]);
const ADD_CHILD: GroupForm = GroupForm::new("add-child", &["child"]);
const REMOVE_CHILD: GroupForm = GroupForm::new("remove-child", &[]);

/// How every form on a group's page ends: back to the page (to `then`
/// instead, if given), or the page again, with the status the API would
/// answer and the error by the field the core named.
pub(super) async fn answer<T>(
    state: &AppState,
    post: Post,
    id: GroupId,
    form: GroupForm,
    result: Result<T, CoreError>,
) -> ConsoleResult {
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/groups/{id}")).into_response()),
        Err(e) => {
            let failed = Failed(Some(Failure::of(form.name, form.fields, post.form, e)?));
            group_page(state, &post.session, id, &ShowParams::default(), failed, StatusCode::BAD_REQUEST).await
        }
    }
}

/// `POST /groups/{id}`: renames it or changes its description.
pub(crate) async fn edit(State(state): State<AppState>, Path(id): Path<String>, post: Post) -> ConsoleResult {
    let id = group_id(&id)?;
    let form = &post.form;
    let version = crate::http::extract::int_param("version", Some(form.text("version")))?;
    let patch = GroupPatch {
        name: Some(form.text("name").to_owned()),
        description: Some(form.optional("description")),
        if_version: version,
        ..GroupPatch::default()
    };
    let result = state.directory.update_group(&post.session.principal, id, patch).await;
    answer(&state, post, id, EDIT, result).await
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

/// `POST /groups/{id}/delete`: to the list of groups once it is gone.
pub(crate) async fn delete(State(state): State<AppState>, Path(id): Path<String>, post: Post) -> ConsoleResult {
    let id = group_id(&id)?;
    match state.directory.delete_group(&post.session.principal, id, None).await {
        Ok(()) => Ok(Redirect::to("/groups").into_response()),
        Err(e) => answer(&state, post, id, DELETE, Err::<(), _>(e)).await,
    }
}

fn role(value: &str) -> Result<MemberRole, CoreError> {
    MemberRole::parse(value).ok_or_else(|| CoreError::invalid("role", "must be member or admin"))
}

/// `POST /groups/{id}/members`: adds a user by username, with a role.
pub(crate) async fn add_member(State(state): State<AppState>, Path(id): Path<String>, post: Post) -> ConsoleResult {
    let id = group_id(&id)?;
    let (d, p, form) = (&state.directory, &post.session.principal, &post.form);
    let result = async {
        let role = role(form.text("role"))?;
        let username = form.required("username")?;
        let user = d.get_user_by_username(p, username).await.map_err(|e| named(e, "username", NO_USER))?;
        d.put_member(p, id, user.id, MemberChange { role, ..MemberChange::default() }).await
    }
    .await;
    answer(&state, post, id, ADD_MEMBER, result).await
}

/// `POST /groups/{id}/memberships/{membership}/role`: makes a member an
/// admin or back; their permissions stay as they are.
pub(crate) async fn set_role(
    State(state): State<AppState>,
    Path((id, membership)): Path<(String, String)>,
    post: Post,
) -> ConsoleResult {
    let id = group_id(&id)?;
    let membership = id_param::<MembershipId>("membership", &membership)?;
    let result = async {
        let patch = MembershipPatch { role: Some(role(post.form.text("role"))?), permissions: None };
        state.directory.update_membership(&post.session.principal, membership, patch).await
    }
    .await;
    answer(&state, post, id, ROLE, result).await
}

/// `POST /groups/{id}/memberships/{membership}/permissions`: the admin
/// permissions, each checked box on and every other known one off.
pub(crate) async fn set_permissions(
    State(state): State<AppState>,
    Path((id, membership)): Path<(String, String)>,
    post: Post,
) -> ConsoleResult {
    let id = group_id(&id)?;
    let membership = id_param::<MembershipId>("membership", &membership)?;
    let on = |name: &&str| (name.to_string(), post.form.text(name) == "on");
    let map = roster_core::permission::KNOWN.iter().map(on).collect();
    let patch = MembershipPatch { role: None, permissions: Some(roster_core::Permissions::Map(map)) };
    let result = state.directory.update_membership(&post.session.principal, membership, patch).await;
    answer(&state, post, id, ROLE, result).await
}

/// `POST /groups/{id}/members/{user}/remove`.
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    Path((id, user)): Path<(String, String)>,
    post: Post,
) -> ConsoleResult {
    let (id, user) = (group_id(&id)?, id_param::<UserId>("user", &user)?);
    let result = state.directory.remove_member(&post.session.principal, id, user).await;
    answer(&state, post, id, REMOVE, result).await
}

/// `POST /groups/{id}/children`: nests a group, named, inside this one.
pub(crate) async fn add_child(State(state): State<AppState>, Path(id): Path<String>, post: Post) -> ConsoleResult {
    let id = group_id(&id)?;
    let (d, p, form) = (&state.directory, &post.session.principal, &post.form);
    let result = async {
        let name = form.required("child")?;
        let child = d.get_group_by_name(p, name).await.map_err(|e| named(e, "child", NO_GROUP))?;
        d.add_child(p, id, child.id).await
    }
    .await
    .map_err(|e| {
        if e.is_cycle() { CoreError::invalid("child", "nesting this group here would create a cycle") } else { e }
    });
    answer(&state, post, id, ADD_CHILD, result).await
}

/// `POST /groups/{id}/children/{child}/remove`.
pub(crate) async fn remove_child(
    State(state): State<AppState>,
    Path((id, child)): Path<(String, String)>,
    post: Post,
) -> ConsoleResult {
    let (id, child) = (group_id(&id)?, id_param::<GroupId>("child", &child)?);
    let result = state.directory.remove_child(&post.session.principal, id, child).await;
    answer(&state, post, id, REMOVE_CHILD, result).await
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
    let users = page.items.iter().map(|u| UserRow::from(&**u)).collect();
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
