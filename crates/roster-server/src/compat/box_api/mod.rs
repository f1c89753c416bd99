//! The Box front-end, mounted at `/box/2.0` (`BaseUrls(base_url=
//! "http://HOST:PORT/box")`): group memberships, groups and users as
//! `box-sdk-gen` drives them (dialects/box.md). Translates only.

mod error;
pub(crate) mod map;
pub(crate) mod wire;

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use roster_core::{
    GroupFilter, GroupId, MemberChange, MemberRole, MembershipId, MembershipPatch, NumKind, PageRequest, Principal,
    SiteRole, SourceType, UserId, UserQuery, list,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use self::error::{BoxDialect, BoxError, BoxResult};
use crate::http::AppState;
use crate::http::error::BadRequest;
use crate::http::extract;
use crate::http::routes::Routes;

type Body<T> = extract::Json<T, BoxDialect>;
type Params<T> = extract::Query<T, BoxDialect>;

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .post("/group_memberships", create_membership)
        .get("/group_memberships/{id}", get_membership)
        .put("/group_memberships/{id}", update_membership)
        .delete("/group_memberships/{id}", delete_membership)
        .get("/groups", list_groups)
        .post("/groups", create_group)
        .get("/groups/{id}", get_group)
        .put("/groups/{id}", update_group)
        .delete("/groups/{id}", delete_group)
        .get("/groups/{id}/memberships", group_memberships)
        .get("/users", list_users)
        .post("/users", create_user)
        .get("/users/me", me)
        .get("/users/{id}", get_user)
        .put("/users/{id}", update_user)
        .delete("/users/{id}", delete_user)
        .get("/users/{id}/memberships", user_memberships)
        .in_dialect::<BoxDialect>()
}

/// The caller, from `Authorization: Bearer <key>` (a developer token).
struct Auth(Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = BoxError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let key = crate::http::auth::authorization(&parts.headers, "bearer")
            .ok_or(roster_core::CoreError::Unauthenticated)?;
        let p = state.directory.authenticate(key, crate::http::auth::source(parts)).await?;
        // dialects/box.md §2: `As-User: <user id>` makes the call as that
        // user; the core decides who may (never silently ignored).
        let Some(as_user) = parts.headers.get("as-user") else { return Ok(Auth(p)) };
        let num = as_user
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .ok_or_else(|| BadRequest::invalid("As-User", "must be a user id"))?;
        let user = match state.directory.id_by_num(NumKind::User, num).await {
            Ok(id) => roster_core::UserId(id),
            Err(roster_core::CoreError::NotFound { .. }) => {
                return Err(roster_core::CoreError::invalid("As-User", "no active user with this id").into());
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Auth(state.directory.act_as(&p, user).await?))
    }
}

#[derive(Deserialize, Default)]
struct Q {
    fields: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
    filter_term: Option<String>,
    user_type: Option<String>,
    external_app_user_id: Option<String>,
    usemarker: Option<String>,
    marker: Option<String>,
    #[allow(dead_code)]
    notify: Option<String>,
    #[allow(dead_code)]
    force: Option<String>,
}

fn truthy(v: Option<&str>) -> bool {
    v.is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

async fn user_of(s: &AppState, p: &Principal, id: &str) -> BoxResult<roster_core::User> {
    let n = map::num("user", id)?;
    let id = s.directory.id_by_num(NumKind::User, n).await?;
    Ok(s.directory.get_user(p, UserId(id)).await?)
}

async fn group_id(s: &AppState, id: &str) -> BoxResult<GroupId> {
    let n = map::num("group", id)?;
    Ok(GroupId(s.directory.id_by_num(NumKind::Group, n).await?))
}

async fn membership_id(s: &AppState, id: &str) -> BoxResult<MembershipId> {
    let n = map::num("group membership", id)?;
    Ok(MembershipId(s.directory.id_by_num(NumKind::Membership, n).await?))
}

fn collection(entries: Vec<Value>, total: i64, limit: i64, offset: i64) -> Json<wire::Collection> {
    Json(wire::Collection {
        total_count: total,
        limit,
        offset,
        order: vec![wire::Order { by: "id", direction: "ASC" }],
        entries,
        next_marker: None,
    })
}

async fn render_membership(
    s: &AppState,
    p: &Principal,
    m: &roster_core::Membership,
    fields: Option<&str>,
) -> BoxResult<Value> {
    let roster_core::Member::User(uid) = m.member else {
        return Err(roster_core::CoreError::NotFound { what: "group membership" }.into());
    };
    let u = s.directory.get_user(p, uid).await?;
    let g = s.directory.get_group(p, m.group).await?;
    Ok(map::project(map::membership(m, &u, &g), fields))
}

/// `memberships.create_group_membership(user, group, role=, configurable_permissions=)`:
/// 201; a pair that already exists is a 409.
async fn create_membership(
    State(s): State<AppState>,
    Auth(p): Auth,
    extract::Query(q, _): Params<Q>,
    body: Body<wire::NewMembership>,
) -> BoxResult<Response> {
    let b = body.into_inner();
    let user = user_of(&s, &p, &b.user.id).await?;
    let group = group_id(&s, &b.group.id).await?;
    let change = MemberChange {
        role: map::member_role(b.role.as_deref())?.unwrap_or(MemberRole::Member),
        permissions: b.configurable_permissions.map(map::permissions).unwrap_or_default(),
    };
    let m = s.directory.add_member(&p, group, user.id, change).await?;
    let body = render_membership(&s, &p, &m, q.fields.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn get_membership(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    extract::Query(q, _): Params<Q>,
) -> BoxResult<Json<Value>> {
    let id = membership_id(&s, &id).await?;
    let m = s.directory.get_membership(&p, id).await?;
    Ok(Json(render_membership(&s, &p, &m, q.fields.as_deref()).await?))
}

/// `update_group_membership_by_id(id, role=, configurable_permissions=)`: only
/// the keys sent change; no body at all changes nothing.
async fn update_membership(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    extract::Query(q, _): Params<Q>,
    body: Option<Body<wire::MembershipUpdate>>,
) -> BoxResult<Json<Value>> {
    let id = membership_id(&s, &id).await?;
    let b = body.map(Body::into_inner).unwrap_or_default();
    let patch = MembershipPatch {
        role: map::member_role(b.role.as_deref())?,
        permissions: b.configurable_permissions.map(map::permissions),
    };
    let m = s.directory.update_membership(&p, id, patch).await?;
    Ok(Json(render_membership(&s, &p, &m, q.fields.as_deref()).await?))
}

async fn delete_membership(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> BoxResult<StatusCode> {
    let id = membership_id(&s, &id).await?;
    s.directory.delete_membership(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `memberships.get_group_memberships(group_id, limit=, offset=)`.
async fn group_memberships(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    extract::Query(q, _): Params<Q>,
) -> BoxResult<Json<wire::Collection>> {
    let gid = group_id(&s, &id).await?;
    let (req, limit, offset) = map::page(q.limit.as_deref(), q.offset.as_deref())?;
    let g = s.directory.get_group(&p, gid).await?;
    let page = s.directory.list_members(&p, gid, &req).await?;
    let entries =
        page.items.iter().map(|(m, u)| map::project(map::membership(m, u, &g), q.fields.as_deref())).collect();
    Ok(collection(entries, page.total, limit, offset))
}

/// `memberships.get_user_memberships(user_id, limit=, offset=)`.
async fn user_memberships(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    extract::Query(q, _): Params<Q>,
) -> BoxResult<Json<wire::Collection>> {
    let u = user_of(&s, &p, &id).await?;
    let (req, limit, offset) = map::page(q.limit.as_deref(), q.offset.as_deref())?;
    let page = s.directory.list_user_groups(&p, u.id, &req).await?;
    let entries =
        page.items.iter().map(|(m, g)| map::project(map::membership(m, &u, g), q.fields.as_deref())).collect();
    Ok(collection(entries, page.total, limit, offset))
}

/// `groups.get_groups(filter_term=, fields=, limit=, offset=)`: `filter_term`
/// is a case-insensitive prefix of the name.
async fn list_groups(
    State(s): State<AppState>,
    Auth(p): Auth,
    extract::Query(q, _): Params<Q>,
) -> BoxResult<Json<wire::Collection>> {
    let (req, limit, offset) = map::page(q.limit.as_deref(), q.offset.as_deref())?;
    let filter = GroupFilter { prefix: q.filter_term.clone(), ..GroupFilter::default() };
    let page = s.directory.list_groups(&p, &filter, &req).await?;
    let entries = page.items.iter().map(|g| map::project(map::group(g), q.fields.as_deref())).collect();
    Ok(collection(entries, page.total, limit, offset))
}

const LEVELS: [&str; 3] = ["admins_only", "admins_and_members", "all_managed_users"];

/// Box's group settings, as attribute changes (`null` removes).
fn group_settings(b: &wire::GroupBody) -> Result<Map<String, Value>, BadRequest> {
    let mut m = Map::new();
    if let Some(v) = &b.provenance {
        m.insert("provenance".into(), v.clone().map_or(Value::Null, Value::String));
    }
    for (key, value) in
        [("invitability_level", &b.invitability_level), ("member_viewability_level", &b.member_viewability_level)]
    {
        if let Some(v) = value {
            if let Some(level) = v.as_deref()
                && !LEVELS.contains(&level)
            {
                return Err(BadRequest::invalid(key, "must be admins_only, admins_and_members or all_managed_users"));
            }
            m.insert(key.into(), v.clone().map_or(Value::Null, Value::String));
        }
    }
    Ok(m)
}

/// `groups.create_group(name, ...)`: 201; a name in use is a 409.
async fn create_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    extract::Query(q, _): Params<Q>,
    body: Body<wire::GroupBody>,
) -> BoxResult<Response> {
    let b = body.into_inner();
    let name = b.name.clone().ok_or_else(|| BadRequest::invalid("name", "is required"))?;
    let mut new = roster_core::NewGroup::named(name, SourceType::Box);
    new.description = b.description.clone().flatten();
    new.unique_id = b.external_sync_identifier.clone().flatten();
    new.attributes = group_settings(&b)?.into_iter().filter(|(_, v)| !v.is_null()).collect();
    let g = s.directory.create_group(&p, new).await?;
    Ok((StatusCode::CREATED, Json(map::project(map::group(&g), q.fields.as_deref()))).into_response())
}

async fn get_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    extract::Query(q, _): Params<Q>,
) -> BoxResult<Json<Value>> {
    let id = group_id(&s, &id).await?;
    let g = s.directory.get_group(&p, id).await?;
    Ok(Json(map::project(map::group(&g), q.fields.as_deref())))
}

/// `groups.update_group_by_id(id, ...)`: the keys sent change.
async fn update_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    extract::Query(q, _): Params<Q>,
    body: Option<Body<wire::GroupBody>>,
) -> BoxResult<Json<Value>> {
    let id = group_id(&s, &id).await?;
    let b = body.map(Body::into_inner).unwrap_or_default();
    let settings = group_settings(&b)?;
    let patch = roster_core::GroupPatch {
        name: b.name.clone(),
        description: b.description.clone(),
        unique_id: b.external_sync_identifier.clone(),
        attributes: (!settings.is_empty()).then_some(settings),
        ..Default::default()
    };
    let g = s.directory.update_group(&p, id, patch).await?;
    Ok(Json(map::project(map::group(&g), q.fields.as_deref())))
}

async fn delete_group(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> BoxResult<StatusCode> {
    let id = group_id(&s, &id).await?;
    s.directory.delete_group(&p, id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn render_user(s: &AppState, p: &Principal, u: &roster_core::User, fields: Option<&str>) -> BoxResult<Value> {
    let org = s.directory.get_org(p, roster_core::DEFAULT_ORG_ID).await?;
    Ok(map::project(map::user(u, &org), fields))
}

/// `users.get_users(filter_term=, user_type=, external_app_user_id=, ...)`:
/// offset pages, or marker pages with `usemarker=True`.
async fn list_users(
    State(s): State<AppState>,
    Auth(p): Auth,
    extract::Query(q, _): Params<Q>,
) -> BoxResult<Json<wire::Collection>> {
    let (mut req, limit, offset) = map::page(q.limit.as_deref(), q.offset.as_deref())?;
    let marker = truthy(q.usemarker.as_deref());
    if marker {
        req = PageRequest::parse(list::USERS, Some(limit), q.marker.as_deref())
            .map_err(|_| BadRequest::invalid("marker", "not a marker issued by this server"))?;
    }
    let external_only = matches!(q.user_type.as_deref(), Some("external"));
    if let Some(t) = q.user_type.as_deref()
        && !["all", "managed", "external"].contains(&t)
    {
        return Err(BadRequest::invalid("user_type", "must be all, managed or external").into());
    }
    // Box's enterprise is Roster's default organization; external users
    // are those outside it (the core knows there are none).
    let query = UserQuery {
        prefix: q.filter_term.clone(),
        external_id: q.external_app_user_id.clone(),
        org: external_only.then_some(roster_core::OrgScope::Outside(roster_core::DEFAULT_ORG_ID)),
        ..UserQuery::default()
    };
    let page = s.directory.list_users(&p, &query, &req).await?;
    let mut entries = Vec::with_capacity(page.items.len());
    for u in &page.items {
        entries.push(render_user(&s, &p, u, q.fields.as_deref()).await?);
    }
    let mut out = collection(entries, page.total, limit, if marker { 0 } else { offset });
    if marker {
        out.0.next_marker = Some(page.next_cursor);
    }
    Ok(out)
}

async fn me(State(s): State<AppState>, Auth(p): Auth, extract::Query(q, _): Params<Q>) -> BoxResult<Json<Value>> {
    let u = s.directory.whoami(&p).await?;
    Ok(Json(render_user(&s, &p, &u, q.fields.as_deref()).await?))
}

async fn get_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    extract::Query(q, _): Params<Q>,
) -> BoxResult<Json<Value>> {
    let u = user_of(&s, &p, &id).await?;
    Ok(Json(render_user(&s, &p, &u, q.fields.as_deref()).await?))
}

/// Box profile keys without a column of their own.
fn user_attributes(b: &wire::UserBody) -> Map<String, Value> {
    let mut m = Map::new();
    let strings = [
        ("language", &b.language),
        ("timezone", &b.timezone),
        ("job_title", &b.job_title),
        ("phone", &b.phone),
        ("address", &b.address),
    ];
    for (k, v) in strings {
        if let Some(v) = v {
            m.insert(k.into(), Value::String(v.clone()));
        }
    }
    let flags = [
        ("is_platform_access_only", b.is_platform_access_only),
        ("is_sync_enabled", b.is_sync_enabled),
        ("can_see_managed_users", b.can_see_managed_users),
        ("is_external_collab_restricted", b.is_external_collab_restricted),
        ("is_exempt_from_device_limits", b.is_exempt_from_device_limits),
        ("is_exempt_from_login_verification", b.is_exempt_from_login_verification),
        ("is_password_reset_required", b.is_password_reset_required),
    ];
    for (k, v) in flags {
        if let Some(v) = v {
            m.insert(k.into(), Value::Bool(v));
        }
    }
    if let Some(v) = b.space_amount {
        m.insert("space_amount".into(), Value::from(v));
    }
    for (k, v) in [("tracking_codes", &b.tracking_codes), ("notification_email", &b.notification_email)] {
        if let Some(v) = v {
            m.insert(k.into(), v.clone());
        }
    }
    m
}

/// `status` as the active flag, keeping Box's two restricted states.
fn status(value: Option<&str>, attributes: &mut Map<String, Value>) -> Result<Option<bool>, BadRequest> {
    match value {
        None => Ok(None),
        Some("active") => {
            attributes.insert("box_status".into(), Value::Null);
            Ok(Some(true))
        }
        Some("inactive") => Ok(Some(false)),
        Some(v @ ("cannot_delete_edit" | "cannot_delete_edit_upload")) => {
            attributes.insert("box_status".into(), Value::String(v.into()));
            Ok(Some(true))
        }
        Some(_) => Err(BadRequest::invalid(
            "status",
            "must be active, inactive, cannot_delete_edit or cannot_delete_edit_upload",
        )),
    }
}

/// A Box name as first and last name too, so that a prefix of either finds the user.
fn split_name(name: &str) -> (Option<String>, Option<String>) {
    let mut words = name.split_whitespace();
    let first = words.next().map(str::to_owned);
    let rest: Vec<&str> = words.collect();
    (first, (!rest.is_empty()).then(|| rest.join(" ")))
}

/// `users.create_user(name, login=, ...)`: 201; `login` is the username and
/// email (a login in use is a 409); app users may go without one.
async fn create_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    extract::Query(q, _): Params<Q>,
    body: Body<wire::UserBody>,
) -> BoxResult<Response> {
    let b = body.into_inner();
    let name = b.name.clone().ok_or_else(|| BadRequest::invalid("name", "is required"))?;
    let app_user = b.is_platform_access_only == Some(true);
    let (username, email) = match (&b.login, app_user) {
        (Some(login), _) => (login.clone(), Some(login.clone())),
        (None, true) => (format!("appuser-{}", uuid::Uuid::new_v4().simple()), None),
        (None, false) => {
            return Err(BadRequest::invalid("login", "is required unless is_platform_access_only is true").into());
        }
    };
    let role_label = match b.role.as_deref() {
        None | Some("user") => None,
        Some("coadmin") => Some("coadmin".to_owned()),
        Some(_) => return Err(BadRequest::invalid("role", "must be coadmin or user").into()),
    };
    let mut attributes = user_attributes(&b);
    let active = status(b.status.as_deref(), &mut attributes)?;
    attributes.retain(|_, v| !v.is_null());
    let (first_name, last_name) = split_name(&name);
    let new = roster_core::NewUser {
        username,
        email,
        first_name,
        last_name,
        display_name: Some(name),
        active,
        site_role: Some(SiteRole::User),
        external_id: b.external_app_user_id.clone(),
        role_label,
        attributes,
        ..Default::default()
    };
    let u = s.directory.create_user(&p, new).await?;
    Ok((StatusCode::CREATED, Json(render_user(&s, &p, &u, q.fields.as_deref()).await?)).into_response())
}

/// `users.update_user_by_id(id, ...)`: the keys sent change.
async fn update_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    extract::Query(q, _): Params<Q>,
    body: Option<Body<wire::UserBody>>,
) -> BoxResult<Json<Value>> {
    let u = user_of(&s, &p, &id).await?;
    let b = body.map(Body::into_inner).unwrap_or_default();
    if b.enterprise.is_some() {
        return Err(BadRequest::invalid("enterprise", "every Roster user belongs to the one enterprise").into());
    }
    let mut attributes = user_attributes(&b);
    let active = status(b.status.as_deref(), &mut attributes)?;
    let mut patch =
        roster_core::UserPatch { active, external_id: b.external_app_user_id.clone().map(Some), ..Default::default() };
    if let Some(name) = &b.name {
        let (first, last) = split_name(name);
        patch.display_name = Some(Some(name.clone()));
        patch.first_name = Some(first);
        patch.last_name = Some(last);
    }
    if let Some(login) = &b.login {
        patch.username = Some(login.clone());
        patch.email = Some(Some(login.clone()));
    }
    match b.role.as_deref() {
        None => {}
        Some("user") => patch.role_label = Some(None),
        Some("coadmin") => patch.role_label = Some(Some("coadmin".into())),
        Some(_) => return Err(BadRequest::invalid("role", "must be coadmin or user").into()),
    }
    // Only the profile keys the request names change (a `null` clears
    // one), merged by the core into the row it locks.
    if !attributes.is_empty() {
        patch.attributes = Some(attributes);
    }
    let updated = s.directory.update_user(&p, u.id, patch).await?;
    Ok(Json(render_user(&s, &p, &updated, q.fields.as_deref()).await?))
}

/// `users.delete_user_by_id(id, notify=, force=)`: Roster holds no content
/// for a user, so `force` is never needed.
async fn delete_user(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> BoxResult<StatusCode> {
    let u = user_of(&s, &p, &id).await?;
    s.directory.delete_user(&p, u.id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
