//! The Posit Connect front-end, mounted at `/posit/__api__` (the SDK
//! appends `/__api__` to `Client("http://HOST:PORT/posit", key)`).
//! Groups, group members and users as `posit-sdk` drives them
//! (dialects/posit-connect.md). Translates only: every rule is the core's.

mod error;
pub(crate) mod map;
pub(crate) mod wire;

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use roster_core::{GroupFilter, GroupId, MemberChange, Principal, SourceType, UserId, UserQuery};

use self::error::{Posit, PositError, PositResult};
use self::map::StatusFilter;
use crate::http::AppState;
use crate::http::error::BadRequest;
use crate::http::extract;
use crate::http::routes::Routes;

type Body<T> = extract::Json<T, Posit>;
type Params<T> = extract::Query<T, Posit>;

/// The version of the Connect API whose group and user behaviour this
/// front-end follows (read only by `client.version`).
const CONNECT_VERSION: &str = "2025.09.0";

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/server_settings", server_settings)
        .get("/v1/user", me)
        .get("/v1/users", list_users)
        .post("/v1/users", create_user)
        .get("/v1/users/{guid}", get_user)
        .put("/v1/users/{guid}", update_user)
        .post("/v1/users/{guid}/lock", lock_user)
        .get("/v1/groups", list_groups)
        .post("/v1/groups", create_group)
        .get("/v1/groups/{guid}", get_group)
        .delete("/v1/groups/{guid}", delete_group)
        .get("/v1/groups/{guid}/members", list_members)
        .post("/v1/groups/{guid}/members", add_member)
        .delete("/v1/groups/{guid}/members/{user_guid}", remove_member)
        .in_dialect::<Posit>()
}

/// The caller, from `Authorization: Key <key>` (§2).
struct Auth(Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = PositError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let key =
            crate::http::auth::authorization(&parts.headers, "key").ok_or(roster_core::CoreError::Unauthenticated)?;
        Ok(Auth(state.directory.authenticate(key, crate::http::auth::source(parts)).await?))
    }
}

/// A guid in a path: one that is not a UUID names nothing (404, §5).
fn guid<I: std::str::FromStr>(what: &str, value: &str) -> Result<I, BadRequest> {
    value
        .parse::<I>()
        .map_err(|_| BadRequest::new(StatusCode::NOT_FOUND, format!("The requested {what} does not exist.")))
}

async fn server_settings(_auth: Auth) -> Json<wire::ServerSettings> {
    Json(wire::ServerSettings { version: CONNECT_VERSION })
}

/// `client.me`: the key's owner.
async fn me(State(s): State<AppState>, Auth(p): Auth) -> PositResult<Json<wire::User>> {
    Ok(Json(map::user(&s.directory.whoami(&p).await?)))
}

/// `users.find` / `count` / `find_one`: `prefix` (username, first or last
/// name, ignoring case), `user_role` and `account_status` (`|` for or).
async fn list_users(
    State(s): State<AppState>,
    Auth(p): Auth,
    extract::Query(q, _): Params<wire::UserParams>,
) -> PositResult<Json<wire::Page<wire::User>>> {
    let (req, current_page) = map::page(q.page_number.as_deref(), q.page_size.as_deref())?;
    let roles = map::role_filter(q.user_role.as_deref())?;
    let active = match map::status_filter(q.account_status.as_deref())? {
        StatusFilter::Nobody => return Ok(Json(wire::Page { results: Vec::new(), current_page, total: 0 })),
        StatusFilter::Any => None,
        StatusFilter::Active(a) => Some(a),
    };
    let query = UserQuery { prefix: q.prefix, contains: None, active, roles, ..UserQuery::default() };
    let page = s.directory.list_users(&p, &query, &req).await?;
    Ok(Json(wire::Page { results: page.items.iter().map(map::user).collect(), current_page, total: page.total }))
}

async fn get_user(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> PositResult<Json<wire::User>> {
    let id = guid::<UserId>("user", &id)?;
    Ok(Json(map::user(&s.directory.get_user(&p, id).await?)))
}

/// `user.update(**kwargs)`: `PUT` with the fields to change; answers the user.
async fn update_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Body<wire::UserUpdate>,
) -> PositResult<Json<wire::User>> {
    let id = guid::<UserId>("user", &id)?;
    let b = body.into_inner();
    let mut patch = roster_core::UserPatch {
        username: b.username,
        email: b.email.map(Some),
        first_name: b.first_name.map(Some),
        last_name: b.last_name.map(Some),
        ..Default::default()
    };
    if let Some(role) = b.user_role.as_deref() {
        let (site_role, label) = map::new_user_role(Some(role))?;
        patch.site_role = Some(site_role);
        patch.role_label = Some(label);
    }
    Ok(Json(map::user(&s.directory.update_user(&p, id, patch).await?)))
}

/// `user.lock()` / `unlock()`: a locked user is inactive and cannot authenticate.
async fn lock_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Body<wire::Lock>,
) -> PositResult<StatusCode> {
    let id = guid::<UserId>("user", &id)?;
    let patch = roster_core::UserPatch { active: Some(!body.into_inner().locked), ..Default::default() };
    s.directory.update_user(&p, id, patch).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `users.create`: the kwargs verbatim. `unique_id` is the external id.
async fn create_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    body: Body<wire::NewUser>,
) -> PositResult<Json<wire::User>> {
    let b = body.into_inner();
    let (site_role, role_label) = map::new_user_role(b.user_role.as_deref())?;
    let new = roster_core::NewUser {
        username: b.username,
        email: b.email,
        first_name: b.first_name,
        last_name: b.last_name,
        display_name: None,
        active: None,
        site_role: Some(site_role),
        external_id: b.unique_id,
        role_label,
        password: b.password,
        primary_group: None,
        groups: Vec::new(),
        attributes: Default::default(),
    };
    if b.user_must_set_password == Some(true) && new.password.is_some() {
        return Err(BadRequest::invalid("user_must_set_password", "cannot be true when a password is given").into());
    }
    Ok(Json(map::user(&s.directory.create_user(&p, new).await?)))
}

/// `groups.find` / `count` / `find_one`: `prefix` of the name, ignoring case.
async fn list_groups(
    State(s): State<AppState>,
    Auth(p): Auth,
    extract::Query(q, _): Params<wire::GroupParams>,
) -> PositResult<Json<wire::Page<wire::Group>>> {
    let (req, current_page) = map::page(q.page_number.as_deref(), q.page_size.as_deref())?;
    let filter = GroupFilter { prefix: q.prefix, ..GroupFilter::default() };
    let page = s.directory.list_groups(&p, &filter, &req).await?;
    Ok(Json(wire::Page { results: page.items.into_iter().map(map::group).collect(), current_page, total: page.total }))
}

async fn get_group(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> PositResult<Json<wire::Group>> {
    let id = guid::<GroupId>("group", &id)?;
    Ok(Json(map::group(s.directory.get_group(&p, id).await?)))
}

/// `groups.create(name=…, unique_id=…)`.
async fn create_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    body: Body<wire::NewGroup>,
) -> PositResult<Json<wire::Group>> {
    let b = body.into_inner();
    let mut new = roster_core::NewGroup::named(b.name, SourceType::Posit);
    new.unique_id = b.unique_id;
    Ok(Json(map::group(s.directory.create_group(&p, new).await?)))
}

async fn delete_group(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> PositResult<StatusCode> {
    let id = guid::<GroupId>("group", &id)?;
    s.directory.delete_group(&p, id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `group.members.find` / `count`: the members as user objects.
async fn list_members(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    extract::Query(q, _): Params<wire::PageParams>,
) -> PositResult<Json<wire::Page<wire::User>>> {
    let id = guid::<GroupId>("group", &id)?;
    let (req, current_page) = map::page(q.page_number.as_deref(), q.page_size.as_deref())?;
    let page = s.directory.list_members(&p, id, &req).await?;
    let results = page.items.into_iter().map(|(_, u)| map::user(&u)).collect();
    Ok(Json(wire::Page { results, current_page, total: page.total }))
}

/// `group.members.add(user_guid=…)`: idempotent, answers 204.
async fn add_member(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Body<wire::AddMember>,
) -> PositResult<StatusCode> {
    let id = guid::<GroupId>("group", &id)?;
    let user = body
        .into_inner()
        .user_guid
        .parse::<UserId>()
        .map_err(|_| BadRequest::invalid("user_guid", "must be a user guid"))?;
    s.directory.put_member(&p, id, user, MemberChange::default()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_member(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, user)): Path<(String, String)>,
) -> PositResult<StatusCode> {
    let id = guid::<GroupId>("group", &id)?;
    let user = guid::<UserId>("user", &user)?;
    s.directory.remove_member(&p, id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}
