//! The Civis front-end, mounted at `/civis` (`CIVIS_API_ENDPOINT=
//! http://HOST:PORT/civis/`). The `civis` SDK builds its methods from the
//! document served at `/endpoints`, which [`ENDPOINTS`] generates along with
//! the routes (dialects/civis.md). Translates only: every rule is the core's.

mod error;
mod map;
mod schema;
mod spec;
mod wire;

use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, OriginalUri, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use base64::Engine;
use roster_core::{
    Grantee, GroupFilter, GroupId, GroupOrder, MemberChange, NumKind, OrgId, Principal, RoleId, ShareLevel, SourceType,
    UserId, UserQuery,
};

use self::error::{Civis, CivisError, CivisResult};
use self::map::{Query, Render, attr};
use self::spec::{Operation, Param, path, query};
use crate::http::AppState;
use crate::http::error::BadRequest;
use crate::http::extract;

type Body<T> = extract::Json<T, Civis>;

/// One endpoint: its description for the SDK and its route.
struct Endpoint {
    op: Operation,
    route: fn() -> MethodRouter<AppState>,
}

const ID: Param = path("id", "The group's number.");
const GROUP_LIST_PARAMS: &[Param] = &[
    query("query", "string", "A piece of the group name to look for, ignoring case."),
    query("permission", "string", "read, write or manage: only groups you hold at least this share on."),
    query("include_members", "boolean", "Whether to fill in the members of each group."),
    query("organization_id", "integer", "Only groups of this organization."),
    query("user_ids", "array", "Only groups that any of these users is in."),
    query("limit", "integer", "Groups per page: 1 to 1000, 50 by default."),
    query("page_num", "integer", "The page, from 1."),
    query("order", "string", "name (default) or created_at."),
    query("order_dir", "string", "asc (default) or desc."),
];
const USER_LIST_PARAMS: &[Param] = &[
    query("feature_flag", "string", "Accepted; Roster has no feature flags, so it matches nobody when given."),
    query("account_status", "string", "active (default), inactive or all."),
    query("query", "string", "A piece of the username or name to look for, ignoring case."),
    query("group_id", "integer", "Only members of this group."),
    query("group_ids", "array", "Only members of any of these groups."),
    query("organization_id", "integer", "Only users of this organization."),
    query("exclude_groups", "boolean", "Whether to leave out each user's groups."),
    query("limit", "integer", "Users per page: 1 to 10000, 20 by default."),
    query("page_num", "integer", "The page, from 1."),
    query("order", "string", "name (default) or user: both order by username."),
    query("order_dir", "string", "asc (default) or desc."),
];

const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        op: Operation {
            method: "GET",
            path: "/groups/",
            summary: "List groups",
            params: GROUP_LIST_PARAMS,
            body: None,
            status: 200,
            response: Some("[@GroupSummary]"),
        },
        route: || get(list_groups),
    },
    Endpoint {
        op: Operation {
            method: "POST",
            path: "/groups/",
            summary: "Create a group",
            params: &[],
            body: Some(("GroupCreateRequest", true)),
            status: 201,
            response: Some("@Group"),
        },
        route: || post(create_group),
    },
    Endpoint {
        op: Operation {
            method: "GET",
            path: "/groups/{id}",
            summary: "Get a group",
            params: &[ID],
            body: None,
            status: 200,
            response: Some("@Group"),
        },
        route: || get(get_group),
    },
    Endpoint {
        op: Operation {
            method: "PUT",
            path: "/groups/{id}",
            summary: "Replace every setting of a group",
            params: &[ID],
            body: Some(("GroupUpdateRequest", true)),
            status: 200,
            response: Some("@Group"),
        },
        route: || put(replace_group),
    },
    Endpoint {
        op: Operation {
            method: "PATCH",
            path: "/groups/{id}",
            summary: "Change some settings of a group",
            params: &[ID],
            body: Some(("GroupPatchRequest", false)),
            status: 200,
            response: Some("@Group"),
        },
        route: || patch(patch_group),
    },
    Endpoint {
        op: Operation {
            method: "DELETE",
            path: "/groups/{id}",
            summary: "Delete a group",
            params: &[ID],
            body: None,
            status: 204,
            response: None,
        },
        route: || delete(delete_group),
    },
    Endpoint {
        op: Operation {
            method: "GET",
            path: "/groups/{id}/shares",
            summary: "List who the group is shared with",
            params: &[ID],
            body: None,
            status: 200,
            response: Some("[@ShareIndex]"),
        },
        route: || get(list_shares),
    },
    Endpoint {
        op: Operation {
            method: "PUT",
            path: "/groups/{id}/shares/users",
            summary: "Share the group with users",
            params: &[ID],
            body: Some(("ShareUsersUpdateRequest", true)),
            status: 200,
            response: Some("@ShareIndex"),
        },
        route: || put(put_shares_users),
    },
    Endpoint {
        op: Operation {
            method: "DELETE",
            path: "/groups/{id}/shares/users/{user_id}",
            summary: "Stop sharing the group with a user",
            params: &[ID, path("user_id", "The user's number.")],
            body: None,
            status: 204,
            response: None,
        },
        route: || delete(delete_shares_users),
    },
    Endpoint {
        op: Operation {
            method: "PUT",
            path: "/groups/{id}/shares/groups",
            summary: "Share the group with groups",
            params: &[ID],
            body: Some(("ShareGroupsUpdateRequest", true)),
            status: 200,
            response: Some("@ShareIndex"),
        },
        route: || put(put_shares_groups),
    },
    Endpoint {
        op: Operation {
            method: "DELETE",
            path: "/groups/{id}/shares/groups/{group_id}",
            summary: "Stop sharing the group with a group",
            params: &[ID, path("group_id", "The other group's number.")],
            body: None,
            status: 204,
            response: None,
        },
        route: || delete(delete_shares_groups),
    },
    Endpoint {
        op: Operation {
            method: "PUT",
            path: "/groups/{id}/members/{user_id}",
            summary: "Add a user to the group",
            params: &[ID, path("user_id", "The user's number.")],
            body: None,
            status: 200,
            response: Some("@Group"),
        },
        route: || put(put_member),
    },
    Endpoint {
        op: Operation {
            method: "DELETE",
            path: "/groups/{id}/members/{user_id}",
            summary: "Take a user out of the group",
            params: &[ID, path("user_id", "The user's number.")],
            body: None,
            status: 204,
            response: None,
        },
        route: || delete(delete_member),
    },
    Endpoint {
        op: Operation {
            method: "GET",
            path: "/groups/{id}/child_groups",
            summary: "Groups this group holds a share on",
            params: &[ID],
            body: None,
            status: 200,
            response: Some("@GroupChildren"),
        },
        route: || get(child_groups),
    },
    Endpoint {
        op: Operation {
            method: "GET",
            path: "/users/",
            summary: "List users",
            params: USER_LIST_PARAMS,
            body: None,
            status: 200,
            response: Some("[@UserSummary]"),
        },
        route: || get(list_users),
    },
    Endpoint {
        op: Operation {
            method: "POST",
            path: "/users/",
            summary: "Create a user",
            params: &[],
            body: Some(("UserCreateRequest", true)),
            status: 200,
            response: Some("@UserDetail"),
        },
        route: || post(create_user),
    },
    Endpoint {
        op: Operation {
            method: "GET",
            path: "/users/me",
            summary: "The user the key belongs to",
            params: &[],
            body: None,
            status: 200,
            response: Some("@UserMe"),
        },
        route: || get(me),
    },
    Endpoint {
        op: Operation {
            method: "GET",
            path: "/users/{id}",
            summary: "Get a user",
            params: &[path("id", "The user's number.")],
            body: None,
            status: 200,
            response: Some("@UserDetail"),
        },
        route: || get(get_user),
    },
];

pub fn router(state: AppState) -> Router {
    let mut router = Router::new().route("/endpoints", get(endpoints));
    for e in ENDPOINTS {
        let route_path = e.op.path.trim_end_matches('/');
        router = router.route(route_path, (e.route)());
    }
    router.fallback(fallback).with_state(state)
}

/// The document the SDK builds itself from.
pub fn document() -> serde_json::Value {
    spec::document(ENDPOINTS.iter().map(|e| &e.op), schema::DEFINITIONS)
}

async fn endpoints(_auth: Auth) -> Json<serde_json::Value> {
    Json(document())
}

async fn fallback(method: axum::http::Method, OriginalUri(uri): OriginalUri) -> Response {
    CivisError::Request(BadRequest::new(StatusCode::NOT_FOUND, format!("No such endpoint: {method} {}", uri.path())))
        .into_response()
}

/// The caller: HTTP Basic with the key as user name (what the SDK sends),
/// or `Bearer <key>` (what Civis documents for other clients).
struct Auth(Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = CivisError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let basic = crate::http::auth::authorization(&parts.headers, "basic")
            .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .map(|creds| creds.split(':').next().unwrap_or("").to_owned());
        let key = basic.or_else(|| crate::http::auth::authorization(&parts.headers, "bearer").map(str::to_owned));
        let key = key.filter(|k| !k.is_empty()).ok_or(roster_core::CoreError::Unauthenticated)?;
        Ok(Auth(state.directory.authenticate(&key).await?))
    }
}

async fn group_id(s: &AppState, id: &str) -> CivisResult<GroupId> {
    Ok(GroupId(s.directory.id_by_num(NumKind::Group, map::num("group", id)?).await?))
}

async fn user_id(s: &AppState, id: &str) -> CivisResult<UserId> {
    Ok(UserId(s.directory.id_by_num(NumKind::User, map::num("user", id)?).await?))
}

/// The UUIDs of the entities of `kind` numbered `nums`; an unknown
/// number is a 400 naming `field`.
async fn ids_by_num(s: &AppState, kind: NumKind, field: &str, nums: &[i64]) -> CivisResult<Vec<uuid::Uuid>> {
    let mut out = Vec::with_capacity(nums.len());
    for n in nums {
        let id =
            s.directory.id_by_num(kind, *n).await.map_err(|_| BadRequest::invalid(field, format!("no such id {n}")))?;
        out.push(id);
    }
    Ok(out)
}

async fn user_ids(s: &AppState, field: &str, nums: &[i64]) -> CivisResult<Vec<UserId>> {
    Ok(ids_by_num(s, NumKind::User, field, nums).await?.into_iter().map(UserId).collect())
}

async fn group_ids(s: &AppState, field: &str, nums: &[i64]) -> CivisResult<Vec<GroupId>> {
    Ok(ids_by_num(s, NumKind::Group, field, nums).await?.into_iter().map(GroupId).collect())
}

/// Bare-array pages carry Civis's pagination headers.
fn paged<T: serde::Serialize>(items: Vec<T>, total: i64, limit: i64, page_num: i64) -> Response {
    let mut res = Json(items).into_response();
    let pages = if total == 0 { 0 } else { (total + limit - 1) / limit };
    let h = res.headers_mut();
    for (name, value) in [
        ("x-pagination-current-page", page_num),
        ("x-pagination-per-page", limit),
        ("x-pagination-total-entries", total),
        ("x-pagination-total-pages", pages),
    ] {
        h.insert(name, HeaderValue::from(value));
    }
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(
            "X-Pagination-Current-Page, X-Pagination-Per-Page, X-Pagination-Total-Entries, X-Pagination-Total-Pages",
        ),
    );
    res
}

fn level(value: &str) -> Result<ShareLevel, BadRequest> {
    ShareLevel::parse(value).ok_or_else(|| BadRequest::invalid("permission_level", "must be read, write or manage"))
}

/// `groups.list(...)` (dialects/civis.md §5): a bare array, `[]` past the end.
async fn list_groups(State(s): State<AppState>, Auth(p): Auth, RawQuery(raw): RawQuery) -> CivisResult<Response> {
    let q = Query::parse(raw.as_deref());
    let (req, limit, page_num) = map::page(&q, 1000)?;
    let order = match q.str("order") {
        None | Some("name") => GroupOrder::Name,
        Some("created_at") => GroupOrder::Created,
        Some(_) => return Err(BadRequest::invalid("order", "must be name or created_at").into()),
    };
    let descending = match q.str("order_dir") {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(BadRequest::invalid("order_dir", "must be asc or desc").into()),
    };
    let shared_at_least = q
        .str("permission")
        .map(|v| ShareLevel::parse(v).ok_or_else(|| BadRequest::invalid("permission", "must be read, write or manage")))
        .transpose()?;
    let org = match q.int("organization_id")? {
        Some(n) => match s.directory.id_by_num(NumKind::Organization, n).await {
            Ok(id) => Some(OrgId(id)),
            Err(_) => return Ok(paged(Vec::<wire::GroupSummary>::new(), 0, limit, page_num)),
        },
        None => None,
    };
    let wanted = q.ints("user_ids")?;
    let mut members_any = Vec::new();
    for n in &wanted {
        if let Ok(id) = s.directory.id_by_num(NumKind::User, *n).await {
            members_any.push(UserId(id));
        }
    }
    if !wanted.is_empty() && members_any.is_empty() {
        return Ok(paged(Vec::<wire::GroupSummary>::new(), 0, limit, page_num));
    }
    let filter = GroupFilter {
        prefix: None,
        contains: q.str("query").map(str::to_owned),
        shared_at_least,
        members_any,
        org,
        order,
        descending,
    };
    let page = s.directory.list_groups(&p, &filter, &req).await?;
    let with_members = q.bool("include_members")?.unwrap_or(false);
    let items = Render::new(&s.directory, &p).summaries(page.items, with_members).await?;
    Ok(paged(items, page.total, limit, page_num))
}

async fn render_group(s: &AppState, p: &Principal, id: GroupId) -> CivisResult<Json<wire::Group>> {
    let g = s.directory.get_group(p, id).await?;
    Ok(Json(Render::new(&s.directory, p).group(g).await?))
}

async fn get_group(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> CivisResult<Json<wire::Group>> {
    let id = group_id(&s, &id).await?;
    render_group(&s, &p, id).await
}

/// Settings from a body: `Some(None)` clears, `None` leaves alone.
fn settings(b: &wire::GroupBody) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    let mut set = |k: &str, v: Option<serde_json::Value>| {
        m.insert(k.to_owned(), v.unwrap_or(serde_json::Value::Null));
    };
    if let Some(v) = &b.default_otp_required_for_login {
        set(attr::OTP, v.map(serde_json::Value::Bool));
    }
    for (key, value) in [
        (attr::TIME_ZONE, &b.default_time_zone),
        (attr::JOBS_LABEL, &b.default_jobs_label),
        (attr::NOTEBOOKS_LABEL, &b.default_notebooks_label),
        (attr::SERVICES_LABEL, &b.default_services_label),
    ] {
        if let Some(v) = value {
            set(key, v.clone().map(serde_json::Value::String));
        }
    }
    m
}

async fn role_ids(s: &AppState, nums: &[i64]) -> CivisResult<Vec<RoleId>> {
    Ok(ids_by_num(s, NumKind::Role, "role_ids", nums).await?.into_iter().map(RoleId).collect())
}

async fn org_id(s: &AppState, num: Option<i64>) -> CivisResult<Option<OrgId>> {
    match num {
        None => Ok(None),
        Some(n) => Ok(Some(OrgId(
            s.directory
                .id_by_num(NumKind::Organization, n)
                .await
                .map_err(|_| BadRequest::invalid("organization_id", format!("no organization {n}")))?,
        ))),
    }
}

/// `groups.post(name, ...)`: 201 with the group.
async fn create_group(State(s): State<AppState>, Auth(p): Auth, body: Body<wire::GroupBody>) -> CivisResult<Response> {
    let b = body.into_inner();
    let name = b.name.clone().ok_or_else(|| BadRequest::invalid("name", "is required"))?;
    let mut new = roster_core::NewGroup::named(name, SourceType::Civis);
    new.description = b.description.clone().flatten();
    new.slug = b.slug.clone().flatten();
    new.org = org_id(&s, b.organization_id.flatten()).await?;
    new.roles = role_ids(&s, &b.role_ids.clone().flatten().unwrap_or_default()).await?;
    new.attributes = settings(&b).into_iter().filter(|(_, v)| !v.is_null()).collect();
    let g = s.directory.create_group(&p, new).await?;
    let body = Render::new(&s.directory, &p).group(g).await?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn update(
    s: &AppState,
    p: &Principal,
    id: GroupId,
    b: wire::GroupBody,
    replace: bool,
) -> CivisResult<Json<wire::Group>> {
    let mut patch = roster_core::GroupPatch { name: b.name.clone(), ..Default::default() };
    let mut attributes = settings(&b);
    if replace {
        // PUT replaces every attribute: what is not given goes back to its default.
        patch.description = Some(b.description.clone().flatten());
        patch.slug = Some(b.slug.clone().flatten());
        patch.org = Some(org_id(s, b.organization_id.flatten()).await?.unwrap_or(roster_core::DEFAULT_ORG_ID));
        patch.roles = Some(role_ids(s, &b.role_ids.clone().flatten().unwrap_or_default()).await?);
        for key in [attr::OTP, attr::TIME_ZONE, attr::JOBS_LABEL, attr::NOTEBOOKS_LABEL, attr::SERVICES_LABEL] {
            attributes.entry(key.to_owned()).or_insert(serde_json::Value::Null);
        }
    } else {
        patch.description = b.description.clone();
        patch.slug = b.slug.clone();
        if let Some(org) = b.organization_id {
            patch.org = Some(org_id(s, org).await?.unwrap_or(roster_core::DEFAULT_ORG_ID));
        }
        if let Some(roles) = &b.role_ids {
            patch.roles = Some(role_ids(s, &roles.clone().unwrap_or_default()).await?);
        }
    }
    if !attributes.is_empty() {
        patch.attributes = Some(attributes);
    }
    let g = s.directory.update_group(p, id, patch).await?;
    Ok(Json(Render::new(&s.directory, p).group(g).await?))
}

/// `groups.put(id, name, ...)`: replaces every setting.
async fn replace_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Body<wire::GroupBody>,
) -> CivisResult<Json<wire::Group>> {
    let id = group_id(&s, &id).await?;
    let b = body.into_inner();
    if b.name.is_none() {
        return Err(BadRequest::invalid("name", "is required").into());
    }
    update(&s, &p, id, b, true).await
}

/// `groups.patch(id, ...)`: changes what is given.
async fn patch_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Option<Body<wire::GroupBody>>,
) -> CivisResult<Json<wire::Group>> {
    let id = group_id(&s, &id).await?;
    update(&s, &p, id, body.map(Body::into_inner).unwrap_or_default(), false).await
}

async fn delete_group(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> CivisResult<StatusCode> {
    let id = group_id(&s, &id).await?;
    s.directory.delete_group(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `groups.put_members(id, user_id)`: idempotent; answers the group.
async fn put_member(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, user)): Path<(String, String)>,
) -> CivisResult<Json<wire::Group>> {
    let id = group_id(&s, &id).await?;
    let user = user_id(&s, &user).await?;
    s.directory.put_member(&p, id, user, MemberChange::default()).await?;
    render_group(&s, &p, id).await
}

async fn delete_member(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, user)): Path<(String, String)>,
) -> CivisResult<StatusCode> {
    let id = group_id(&s, &id).await?;
    let user = user_id(&s, &user).await?;
    s.directory.remove_member(&p, id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `groups.get_child_groups(id)`: the groups this group holds a share on.
async fn child_groups(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> CivisResult<Json<wire::GroupChildren>> {
    let id = group_id(&s, &id).await?;
    let mut out = wire::GroupChildren::default();
    for (g, level) in s.directory.groups_shared_with_group(&p, id).await? {
        let entry = wire::IdName { id: g.num, name: g.name };
        match level {
            ShareLevel::Manage => out.manageable.push(entry),
            ShareLevel::Write => out.writeable.push(entry),
            ShareLevel::Read => out.readable.push(entry),
        }
    }
    Ok(Json(out))
}

async fn share_index(s: &AppState, p: &Principal, id: GroupId) -> CivisResult<wire::ShareIndex> {
    let dir = &s.directory;
    let shares =
        roster_core::collect_all(roster_core::list::SHARES, |req| async move { dir.list_shares(p, id, &req).await })
            .await?;
    Render::new(&s.directory, p).share_index(shares).await
}

/// `groups.list_shares(id)`: an array of one index.
async fn list_shares(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> CivisResult<Json<Vec<wire::ShareIndex>>> {
    let id = group_id(&s, &id).await?;
    Ok(Json(vec![share_index(&s, &p, id).await?]))
}

/// `groups.put_shares_users(id, user_ids, permission_level)`: one
/// transaction; an unknown id changes nothing.
async fn put_shares_users(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Body<wire::ShareUsersBody>,
) -> CivisResult<Json<wire::ShareIndex>> {
    let id = group_id(&s, &id).await?;
    let b = body.into_inner();
    let level = level(&b.permission_level)?;
    let grantees: Vec<Grantee> = user_ids(&s, "user_ids", &b.user_ids).await?.into_iter().map(Grantee::User).collect();
    s.directory.put_shares(&p, id, &grantees, level).await?;
    Ok(Json(share_index(&s, &p, id).await?))
}

/// `groups.put_shares_groups(id, group_ids, permission_level)`.
async fn put_shares_groups(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Body<wire::ShareGroupsBody>,
) -> CivisResult<Json<wire::ShareIndex>> {
    let id = group_id(&s, &id).await?;
    let b = body.into_inner();
    let level = level(&b.permission_level)?;
    let grantees: Vec<Grantee> =
        group_ids(&s, "group_ids", &b.group_ids).await?.into_iter().map(Grantee::Group).collect();
    s.directory.put_shares(&p, id, &grantees, level).await?;
    Ok(Json(share_index(&s, &p, id).await?))
}

async fn delete_shares_users(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, user)): Path<(String, String)>,
) -> CivisResult<StatusCode> {
    let id = group_id(&s, &id).await?;
    let user = user_id(&s, &user).await?;
    s.directory.delete_share(&p, id, Grantee::User(user)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_shares_groups(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, other)): Path<(String, String)>,
) -> CivisResult<StatusCode> {
    let id = group_id(&s, &id).await?;
    let other = group_id(&s, &other).await?;
    s.directory.delete_share(&p, id, Grantee::Group(other)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `users.list(...)`: active users by default, a bare array.
async fn list_users(State(s): State<AppState>, Auth(p): Auth, RawQuery(raw): RawQuery) -> CivisResult<Response> {
    let q = Query::parse(raw.as_deref());
    // Civis lists 20 users per page unless asked otherwise.
    let (req, limit, page_num) = map::page_with_default(&q, 20, 10_000)?;
    let active = match q.str("account_status") {
        None | Some("active") => Some(true),
        Some("inactive") => Some(false),
        Some("all") => None,
        Some(_) => return Err(BadRequest::invalid("account_status", "must be active, inactive or all").into()),
    };
    let empty = || paged(Vec::<wire::UserSummary>::new(), 0, limit, page_num);
    if q.str("feature_flag").is_some() {
        return Ok(empty());
    }
    match q.str("order") {
        None | Some("name") | Some("user") => {}
        Some(_) => return Err(BadRequest::invalid("order", "must be name or user").into()),
    }
    let descending = match q.str("order_dir") {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(BadRequest::invalid("order_dir", "must be asc or desc").into()),
    };
    if let Some(n) = q.int("organization_id")? {
        let default_org = s.directory.get_org(&p, roster_core::DEFAULT_ORG_ID).await?;
        if n != default_org.num {
            return Ok(empty());
        }
    }
    let single = q.int("group_id")?;
    let many = q.ints("group_ids")?;
    if single.is_some() && !many.is_empty() {
        return Err(BadRequest::invalid("group_ids", "give group_id or group_ids, not both").into());
    }
    let in_groups = group_ids(&s, "group_ids", &single.into_iter().chain(many).collect::<Vec<_>>()).await?;
    let query = UserQuery {
        prefix: None,
        contains: q.str("query").map(str::to_owned),
        active,
        in_groups,
        descending,
        ..UserQuery::default()
    };
    let page = s.directory.list_users(&p, &query, &req).await?;
    let with_groups = !q.bool("exclude_groups")?.unwrap_or(false);
    let mut render = Render::new(&s.directory, &p);
    let mut items = Vec::with_capacity(page.items.len());
    for u in &page.items {
        items.push(render.user_summary(u, with_groups).await?);
    }
    Ok(paged(items, page.total, limit, page_num))
}

async fn get_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> CivisResult<Json<wire::UserDetail>> {
    let id = user_id(&s, &id).await?;
    let u = s.directory.get_user(&p, id).await?;
    Ok(Json(Render::new(&s.directory, &p).user_detail(&u).await?))
}

async fn me(State(s): State<AppState>, Auth(p): Auth) -> CivisResult<Json<wire::UserMe>> {
    let u = s.directory.whoami(&p).await?;
    Ok(Json(Render::new(&s.directory, &p).me(&u).await?))
}

/// `users.post(name, email, primary_group_id, user, ...)`: the user joins
/// the primary group (and `group_ids`) in the same transaction.
async fn create_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    body: Body<wire::UserCreateBody>,
) -> CivisResult<Json<wire::UserDetail>> {
    let b = body.into_inner();
    let primary = group_ids(&s, "primary_group_id", &[b.primary_group_id]).await?;
    let groups = group_ids(&s, "group_ids", &b.group_ids.clone().unwrap_or_default()).await?;
    let mut attributes = serde_json::Map::new();
    for (k, v) in [
        ("city", &b.city),
        ("state", &b.state),
        ("time_zone", &b.time_zone),
        ("initials", &b.initials),
        ("department", &b.department),
        ("title", &b.title),
    ] {
        if let Some(v) = v {
            attributes.insert(k.into(), serde_json::Value::String(v.clone()));
        }
    }
    for (k, v) in [
        ("prefers_sms_otp", b.prefers_sms_otp),
        ("vpn_enabled", b.vpn_enabled),
        ("sso_disabled", b.sso_disabled),
        ("otp_required_for_login", b.otp_required_for_login),
        ("exempt_from_org_sms_otp_disabled", b.exempt_from_org_sms_otp_disabled),
        ("robot", b.robot),
    ] {
        if let Some(v) = v {
            attributes.insert(k.into(), serde_json::Value::Bool(v));
        }
    }
    let new = roster_core::NewUser {
        username: b.user,
        email: Some(b.email),
        display_name: Some(b.name),
        active: b.active,
        primary_group: primary.first().copied(),
        groups,
        attributes,
        ..Default::default()
    };
    let u = s.directory.create_user(&p, new).await?;
    Ok(Json(Render::new(&s.directory, &p).user_detail(&u).await?))
}
