//! Users: search by name or prefix, create, a user's page (edit,
//! deactivate, their groups directly and at any depth, their keys).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use roster_core::{CoreError, NewUser, PageRequest, SiteRole, UserId, UserPatch, UserQuery, list};
use serde::Deserialize;

use super::error::{ConsoleError, ConsoleResult};
use super::form::{Failed, Failure};
use super::session::{Post, Session};
use super::views::{Chrome, GroupRow, KeyRow, PAGE, Pager, Search, SearchParams, Shown, UserRow, html, search, shown};
use crate::http::AppState;
use crate::http::extract::id_param;

#[derive(Template)]
#[template(path = "console/users.html")]
struct Users {
    chrome: Chrome,
    q: String,
    users: Vec<UserRow>,
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
    let list = |prefix, req| async move { d.list_users(p, &UserQuery { prefix, ..UserQuery::default() }, &req).await };
    let found = search("/users", list::USERS, params, failed, status, list, |u| UserRow::from(u)).await?;
    let chrome = Chrome::of(state, session, "users").await?;
    let Search { q, rows: users, pager, failed, status } = found;
    html(status, &Users { chrome, q, users, pager, failed })
}

/// `GET /users?q=&cursor=`: users by name prefix, a page at a time.
pub(crate) async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<SearchParams>,
) -> ConsoleResult {
    list_page(&state, &session, &q, Failed::default(), StatusCode::OK).await
}

const USER_FIELDS: &[&str] = &["username", "email", "first_name", "last_name", "display_name", "password"];

/// `POST /users`: creates a user (site admins; the core decides).
pub(crate) async fn create(State(state): State<AppState>, post: Post) -> ConsoleResult {
    let Post { session, form } = post;
    let new = NewUser {
        username: form.text("username").to_owned(),
        email: form.optional("email"),
        display_name: form.optional("display_name"),
        password: Some(form.raw("password")).filter(|p| !p.is_empty()).map(str::to_owned),
        ..NewUser::default()
    };
    match state.directory.create_user(&session.principal, new).await {
        Ok(user) => Ok(Redirect::to(&format!("/users/{}", user.id)).into_response()),
        Err(e) => {
            let failed = Failed(Some(Failure::of("create-user", USER_FIELDS, form, e)?));
            list_page(&state, &session, &SearchParams::default(), failed, StatusCode::BAD_REQUEST).await
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct ShowParams {
    groups: Option<String>,
    all: Option<String>,
}

#[derive(Template)]
#[template(path = "console/user.html")]
struct UserPage {
    chrome: Chrome,
    user: UserRow,
    first_name: String,
    last_name: String,
    display_name: String,
    created: String,
    groups: Shown<(Vec<GroupRow>, Pager)>,
    all_groups: Shown<(Vec<GroupRow>, Pager)>,
    keys: Shown<Vec<KeyRow>>,
    keys_total: i64,
    failed: Failed,
}

async fn user_page(
    state: &AppState,
    session: &Session,
    id: UserId,
    params: &ShowParams,
    failed: Failed,
    status: StatusCode,
) -> ConsoleResult {
    let status = failed.status_or(status);
    let p = &session.principal;
    let d = &state.directory;
    let user = d.get_user(p, id).await?;
    let base = format!("/users/{id}?");
    let direct = PageRequest::parse(list::USER_GROUPS, Some(PAGE), params.groups.as_deref())?;
    let groups = shown(d.list_user_groups(p, id, &direct).await)?.map(|page| {
        let pager = Pager::of(&page, &base, "groups");
        (page.items.iter().map(|(_, g)| GroupRow::from(g)).collect(), pager)
    });
    let any = PageRequest::parse(list::USER_GROUPS_TRANSITIVE, Some(PAGE), params.all.as_deref())?;
    let all_groups = shown(d.list_user_groups_transitively(p, id, &any).await)?.map(|page| {
        let pager = Pager::of(&page, &base, "all");
        (page.items.iter().map(|g| GroupRow::from(&**g)).collect(), pager)
    });
    let keys_page = shown(d.list_keys(p, Some(id), &PageRequest::first(PAGE as u32)).await)?;
    let keys_total = keys_page.as_ref().map_or(0, |k| k.total);
    let keys = keys_page.map(|page| page.items.iter().map(KeyRow::from).collect());
    let chrome = Chrome::of(state, session, "users").await?;
    html(
        status,
        &UserPage {
            chrome,
            first_name: user.first_name.clone().unwrap_or_default(),
            last_name: user.last_name.clone().unwrap_or_default(),
            display_name: user.display_name.clone().unwrap_or_default(),
            created: super::views::when(user.created_at),
            user: UserRow::from(&user),
            groups,
            all_groups,
            keys,
            keys_total,
            failed,
        },
    )
}

fn user_id(id: &str) -> Result<UserId, ConsoleError> {
    Ok(id_param::<UserId>("id", id)?)
}

/// `GET /users/{id}`.
pub(crate) async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(q): Query<ShowParams>,
) -> ConsoleResult {
    user_page(&state, &session, user_id(&id)?, &q, Failed::default(), StatusCode::OK).await
}

/// An optional text field of an edit form: blank clears it.
fn set(value: Option<String>) -> Option<Option<String>> {
    Some(value)
}

/// `POST /users/{id}`: changes names, email and (site admins) the site role.
pub(crate) async fn edit(State(state): State<AppState>, Path(id): Path<String>, post: Post) -> ConsoleResult {
    let Post { session, form } = post;
    let id = user_id(&id)?;
    // The role is sent only when the form changed it, so that a person
    // editing their own names does not ask to set a role.
    let site_role = match form.text("site_role") {
        "" => None,
        role if role == form.text("site_role_was") => None,
        other => Some(SiteRole::parse(other).ok_or_else(|| CoreError::invalid("site_role", "must be admin or user"))),
    };
    let result = async {
        let patch = UserPatch {
            email: set(form.optional("email")),
            first_name: set(form.optional("first_name")),
            last_name: set(form.optional("last_name")),
            display_name: set(form.optional("display_name")),
            site_role: site_role.transpose()?,
            ..UserPatch::default()
        };
        state.directory.update_user(&session.principal, id, patch).await
    }
    .await;
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/users/{id}")).into_response()),
        Err(e) => {
            let fields = ["email", "first_name", "last_name", "display_name", "site_role"];
            let failed = Failed(Some(Failure::of("edit-user", &fields, form, e)?));
            user_page(&state, &session, id, &ShowParams::default(), failed, StatusCode::BAD_REQUEST).await
        }
    }
}

/// `POST /users/{id}/active`: deactivates (`active=false`) or reactivates.
pub(crate) async fn set_active(State(state): State<AppState>, Path(id): Path<String>, post: Post) -> ConsoleResult {
    let Post { session, form } = post;
    let id = user_id(&id)?;
    let active = match form.text("active") {
        "true" => true,
        "false" => false,
        _ => return Err(CoreError::invalid("active", "must be true or false").into()),
    };
    let patch = UserPatch { active: Some(active), ..UserPatch::default() };
    match state.directory.update_user(&session.principal, id, patch).await {
        Ok(_) => Ok(Redirect::to(&format!("/users/{id}")).into_response()),
        Err(e) => {
            let failed = Failed(Some(Failure::of("active", &[], form, e)?));
            user_page(&state, &session, id, &ShowParams::default(), failed, StatusCode::BAD_REQUEST).await
        }
    }
}
