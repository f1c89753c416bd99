//! The SCIM 2.0 front-end (RFC 7643, RFC 7644), mounted at `/scim/v2`, for
//! identity providers (Entra ID, Okta) and the conformance testers
//! (dialects/scim.md). Bearer auth with Roster API keys. Translates only:
//! every rule, authorization included, is the core's; groups made here get
//! `source_type` scim.
//!
//! Lists push what the store can index down to it (`userName eq`, `id eq`,
//! `externalId eq`, `active eq`, `userName sw`, `displayName eq/sw/co`) and
//! evaluate the whole filter in Rust over the candidates. A filter nothing
//! can be pushed for scans the candidates in keyset pages, at most
//! [`SCAN_CAP`] of them, then answers `tooMany`.

mod error;
mod filter;
mod map;
mod patch;
mod schema;
mod wire;

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, OriginalUri, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use roster_core::{
    CoreError, GroupFilter, GroupId, GroupPatch, Member, MemberEdit, NewGroup, NewUser, PageRequest, Principal,
    SourceType, User, UserId, UserPatch, UserQuery, list,
};
use serde_json::{Map, Value};

use self::error::{ScimDialect, ScimError, ScimResult};
use self::filter::Filter;
use self::map::Projection;
use self::schema::Kind;
use crate::http::AppState;
use crate::http::extract;

pub const CONTENT_TYPE: &str = "application/scim+json";
/// The largest page served (`ServiceProviderConfig.filter.maxResults`).
pub const MAX_COUNT: i64 = 1000;
const DEFAULT_COUNT: i64 = 100;
/// How many candidates a filter that cannot use an index may examine.
pub const SCAN_CAP: usize = 100_000;
/// Attempts at a read-modify-write of a user that lost a race (no `If-Match`).
const RETRIES: usize = 3;

type Body_ = extract::Json<Value, ScimDialect>;

pub fn router(state: AppState) -> Router {
    let discovery = |h: axum::routing::MethodRouter<AppState>| h.fallback(not_allowed);
    Router::new()
        .route("/ServiceProviderConfig", discovery(get(service_provider_config)))
        .route("/Schemas", discovery(get(schemas)))
        .route("/Schemas/{id}", discovery(get(schema_by_id)))
        .route("/ResourceTypes", discovery(get(resource_types)))
        .route("/ResourceTypes/{id}", discovery(get(resource_type)))
        .route("/Users", get(list_users).post(create_user).fallback(not_allowed))
        .route("/Users/.search", post(search_users).fallback(not_allowed))
        .route(
            "/Users/{id}",
            get(get_user).put(replace_user).patch(patch_user).delete(delete_user).fallback(not_allowed),
        )
        .route("/Groups", get(list_groups).post(create_group).fallback(not_allowed))
        .route("/Groups/.search", post(search_groups).fallback(not_allowed))
        .route(
            "/Groups/{id}",
            get(get_group).put(replace_group).patch(patch_group).delete(delete_group).fallback(not_allowed),
        )
        .route("/.search", post(search_all).fallback(not_allowed))
        .route("/Bulk", axum::routing::any(bulk))
        .fallback(fallback)
        .with_state(state)
}

async fn fallback(OriginalUri(uri): OriginalUri) -> ScimError {
    ScimError::not_found(format!("no such endpoint: {}", uri.path()))
}

async fn not_allowed() -> ScimError {
    ScimError::new(StatusCode::METHOD_NOT_ALLOWED, None, "method not allowed here")
}

async fn bulk(_: Auth) -> ScimError {
    ScimError::new(StatusCode::NOT_IMPLEMENTED, None, "bulk operations are not supported")
}

/// The caller, from `Authorization: Bearer <key>`.
struct Auth(Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let key = crate::http::auth::authorization(&parts.headers, "bearer").ok_or(CoreError::Unauthenticated)?;
        Ok(Auth(state.directory.authenticate(key).await?))
    }
}

/// The base URL of this front-end as the client reached it, for `location`
/// and `$ref` (the testers take ids from them).
struct Base(String);

impl<S: Send + Sync> FromRequestParts<S> for Base {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .unwrap_or("localhost");
        let https = parts.headers.get("x-forwarded-proto").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
        Ok(Base(format!("{}://{host}/scim/v2", if https { "https" } else { "http" })))
    }
}

/// The query string as case-insensitive names (SCIM parameter names are
/// case-insensitive); repeated names are joined with commas.
struct Params(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let mut out: HashMap<String, String> = HashMap::new();
        for (k, v) in form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
            out.entry(k.to_ascii_lowercase())
                .and_modify(|e| {
                    e.push(',');
                    e.push_str(&v);
                })
                .or_insert_with(|| v.into_owned());
        }
        Ok(Params(out))
    }
}

impl Params {
    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(&k.to_ascii_lowercase()).map(String::as_str)
    }

    fn projection(&self, kind: &Kind) -> ScimResult<Projection> {
        let list = |k: &str| self.get(k).map(|v| vec![v.to_owned()]).unwrap_or_default();
        Projection::parse(kind, &list("attributes"), &list("excludedAttributes"), false)
    }

    fn search(&self) -> ScimResult<Search> {
        let int = |k: &str| -> ScimResult<Option<i64>> {
            match self.get(k) {
                None | Some("") => Ok(None),
                Some(v) => {
                    v.trim().parse().map(Some).map_err(|_| ScimError::invalid_value(format!("{k}: must be an integer")))
                }
            }
        };
        let list = |k: &str| self.get(k).map(|v| vec![v.to_owned()]).unwrap_or_default();
        Ok(Search {
            filter: self.get("filter").map(str::to_owned),
            sort_by: self.get("sortBy").map(str::to_owned),
            sort_order: self.get("sortOrder").map(str::to_owned),
            start_index: int("startIndex")?,
            count: int("count")?,
            attributes: list("attributes"),
            excluded: list("excludedAttributes"),
        })
    }
}

/// A search, from query parameters or a SearchRequest body.
#[derive(Default)]
struct Search {
    filter: Option<String>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    attributes: Vec<String>,
    excluded: Vec<String>,
}

impl Search {
    fn from_body(body: &Value) -> ScimResult<Self> {
        let schemas_ok = filter::get_ci(body, "schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(schema::SEARCH))));
        if !schemas_ok {
            return Err(ScimError::invalid_syntax(format!("schemas: must contain {}", schema::SEARCH)));
        }
        let text = |k: &str| -> ScimResult<Option<String>> {
            match filter::get_ci(body, k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ScimError::invalid_value(format!("{k}: expected a string"))),
            }
        };
        let int = |k: &str| -> ScimResult<Option<i64>> {
            match filter::get_ci(body, k) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => {
                    v.as_i64().map(Some).ok_or_else(|| ScimError::invalid_value(format!("{k}: expected an integer")))
                }
            }
        };
        let list = |k: &str| -> ScimResult<Vec<String>> {
            match filter::get_ci(body, k) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::String(s)) => Ok(vec![s.clone()]),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| ScimError::invalid_value(format!("{k}: expected strings")))
                    })
                    .collect(),
                Some(_) => Err(ScimError::invalid_value(format!("{k}: expected a list of strings"))),
            }
        };
        Ok(Search {
            filter: text("filter")?,
            sort_by: text("sortBy")?,
            sort_order: text("sortOrder")?,
            start_index: int("startIndex")?,
            count: int("count")?,
            attributes: list("attributes")?,
            excluded: list("excludedAttributes")?,
        })
    }

    fn start(&self) -> i64 {
        self.start_index.unwrap_or(1).max(1)
    }

    fn count(&self) -> i64 {
        self.count.unwrap_or(DEFAULT_COUNT).clamp(0, MAX_COUNT)
    }

    fn descending(&self) -> ScimResult<bool> {
        match self.sort_order.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("") | Some("ascending") => Ok(false),
            Some("descending") => Ok(true),
            Some(o) => Err(ScimError::invalid_value(format!("sortOrder: expected ascending or descending, got {o}"))),
        }
    }
}

fn with_type(mut res: Response) -> Response {
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    res
}

fn json(status: StatusCode, v: Value) -> Response {
    with_type((status, axum::Json(v)).into_response())
}

/// A resource answer with its `ETag` (and `Location` when created).
fn resource(status: StatusCode, v: Value) -> Response {
    let etag = v["meta"]["version"].as_str().and_then(|s| HeaderValue::from_str(s).ok());
    let location = v["meta"]["location"].as_str().and_then(|s| HeaderValue::from_str(s).ok());
    let mut res = json(status, v);
    if let Some(e) = etag {
        res.headers_mut().insert(header::ETAG, e);
    }
    if status == StatusCode::CREATED
        && let Some(l) = location
    {
        res.headers_mut().insert(header::LOCATION, l);
    }
    res
}

fn list_response(total: i64, start: i64, items: Vec<Value>) -> Response {
    let body = wire::ListResponse {
        schemas: [schema::LIST],
        total_results: total,
        start_index: start,
        items_per_page: items.len() as i64,
        resources: items,
    };
    with_type((StatusCode::OK, axum::Json(body)).into_response())
}

/// The version an `If-Match` names: `None` for no header or `*`; a tag we
/// never issue matches nothing.
fn if_match(headers: &HeaderMap) -> Option<i64> {
    let v = headers.get(header::IF_MATCH)?.to_str().unwrap_or("").trim();
    if v == "*" {
        return None;
    }
    let first = v.split(',').next().unwrap_or("").trim();
    let tag = first.strip_prefix("W/").unwrap_or(first).trim_matches('"');
    Some(tag.parse().unwrap_or(i64::MIN))
}

fn not_modified(headers: &HeaderMap, version: i64) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == map::etag(version) || t.trim() == "*"))
}

fn body_object(v: Value) -> ScimResult<Map<String, Value>> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(ScimError::invalid_syntax("body: must be a JSON object")),
    }
}

/// An id from the path; one that is not a UUID names nothing (404).
fn id<T: std::str::FromStr>(what: &str, s: &str) -> ScimResult<T> {
    s.parse().map_err(|_| ScimError::not_found(format!("{what} not found")))
}

// ---- discovery (dialects/scim.md §2 "Discovery") ----

async fn service_provider_config(_: Auth, Base(base): Base) -> Response {
    json(StatusCode::OK, schema::service_provider_config(&base))
}

async fn schemas(_: Auth, Base(base): Base) -> Response {
    let all = schema::schemas(&base);
    list_response(all.len() as i64, 1, all)
}

async fn schema_by_id(_: Auth, Base(base): Base, Path(id): Path<String>) -> ScimResult<Response> {
    schema::schemas(&base)
        .into_iter()
        .find(|s| s["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(&id)))
        .map(|s| json(StatusCode::OK, s))
        .ok_or_else(|| ScimError::not_found(format!("no schema {id}")))
}

async fn resource_types(_: Auth, Base(base): Base) -> Response {
    let all = vec![schema::USERS.resource_type(&base), schema::GROUPS.resource_type(&base)];
    list_response(2, 1, all)
}

async fn resource_type(_: Auth, Base(base): Base, Path(id): Path<String>) -> ScimResult<Response> {
    [&schema::USERS, &schema::GROUPS]
        .into_iter()
        .find(|k| k.name.eq_ignore_ascii_case(&id))
        .map(|k| json(StatusCode::OK, k.resource_type(&base)))
        .ok_or_else(|| ScimError::not_found(format!("no resource type {id}")))
}

// ---- users ----

async fn user_groups(s: &AppState, p: &Principal, u: UserId) -> ScimResult<Vec<(GroupId, String)>> {
    let page = s.directory.list_user_groups(p, u, &PageRequest::first(roster_core::cursor::MAX_LIMIT)).await?;
    Ok(page.items.into_iter().map(|(_, g)| (g.id, g.name)).collect())
}

async fn render_user(s: &AppState, p: &Principal, u: &User, base: &str, groups: bool) -> ScimResult<Value> {
    let groups = if groups { Some(user_groups(s, p, u.id).await?) } else { None };
    Ok(map::user_json(u, groups, base))
}

fn user_patch(f: map::UserFields, current: &User, if_version: Option<i64>) -> UserPatch {
    UserPatch {
        username: Some(f.username),
        email: Some(f.email),
        first_name: Some(f.first_name),
        last_name: Some(f.last_name),
        display_name: Some(f.display_name),
        active: Some(f.active),
        external_id: Some(f.external_id),
        attributes: Some(map::with_extras(&current.attributes, f.extras)),
        if_version,
        ..UserPatch::default()
    }
}

async fn create_user(State(s): State<AppState>, Auth(p): Auth, Base(base): Base, body: Body_) -> ScimResult<Response> {
    let body = body_object(body.into_inner())?;
    map::check_schemas(&schema::USERS, &body)?;
    let f = map::user_fields(map::normalize(&schema::USERS, body)?)?;
    let new = NewUser {
        username: f.username,
        email: f.email,
        first_name: f.first_name,
        last_name: f.last_name,
        display_name: f.display_name,
        active: Some(f.active),
        external_id: f.external_id,
        attributes: map::with_extras(&Map::new(), f.extras),
        ..NewUser::default()
    };
    let u = s.directory.create_user(&p, new).await?;
    Ok(resource(StatusCode::CREATED, map::user_json(&u, Some(Vec::new()), &base)))
}

async fn get_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    Path(uid): Path<String>,
    params: Params,
    headers: HeaderMap,
) -> ScimResult<Response> {
    let proj = params.projection(&schema::USERS)?;
    let u = s.directory.get_user(&p, id("user", &uid)?).await?;
    if not_modified(&headers, u.version) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let v = render_user(&s, &p, &u, &base, proj.wants(&schema::USERS, "groups")).await?;
    Ok(resource(StatusCode::OK, proj.apply(&schema::USERS, v)))
}

/// Saves a user computed from its current state, retrying when another
/// write got in first (only without `If-Match`, which pins the version).
async fn save_user(
    s: &AppState,
    p: &Principal,
    uid: UserId,
    pinned: Option<i64>,
    compute: impl Fn(&User) -> ScimResult<map::UserFields>,
) -> ScimResult<User> {
    let mut attempt = 0;
    loop {
        let current = s.directory.get_user(p, uid).await?;
        let fields = compute(&current)?;
        let version = pinned.or(Some(current.version));
        match s.directory.update_user(p, uid, user_patch(fields, &current, version)).await {
            Err(CoreError::Stale { .. }) if pinned.is_none() && attempt + 1 < RETRIES => attempt += 1,
            other => return Ok(other?),
        }
    }
}

async fn replace_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    Path(uid): Path<String>,
    params: Params,
    headers: HeaderMap,
    body: Body_,
) -> ScimResult<Response> {
    let proj = params.projection(&schema::USERS)?;
    let uid: UserId = id("user", &uid)?;
    let body = body_object(body.into_inner())?;
    map::check_schemas(&schema::USERS, &body)?;
    let doc = map::normalize(&schema::USERS, body)?;
    let u = save_user(&s, &p, uid, if_match(&headers), |_| map::user_fields(doc.clone())).await?;
    let v = render_user(&s, &p, &u, &base, proj.wants(&schema::USERS, "groups")).await?;
    Ok(resource(StatusCode::OK, proj.apply(&schema::USERS, v)))
}

async fn patch_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    Path(uid): Path<String>,
    params: Params,
    headers: HeaderMap,
    body: Body_,
) -> ScimResult<Response> {
    let proj = params.projection(&schema::USERS)?;
    let uid: UserId = id("user", &uid)?;
    let ops = patch::parse(&body_object(body.into_inner())?)?;
    let u = save_user(&s, &p, uid, if_match(&headers), |current| {
        let mut doc = map::user_doc(current);
        patch::apply_user(&schema::USERS, &mut doc, ops.clone())?;
        map::user_fields(map::normalize(&schema::USERS, doc)?)
    })
    .await?;
    let v = render_user(&s, &p, &u, &base, proj.wants(&schema::USERS, "groups")).await?;
    Ok(resource(StatusCode::OK, proj.apply(&schema::USERS, v)))
}

async fn delete_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(uid): Path<String>,
    headers: HeaderMap,
) -> ScimResult<Response> {
    let uid: UserId = id("user", &uid)?;
    if let Some(v) = if_match(&headers) {
        let u = s.directory.get_user(&p, uid).await?;
        if u.version != v {
            return Err(CoreError::Stale { reason: format!("user is at version {}, not {v}", u.version) }.into());
        }
    }
    s.directory.delete_user(&p, uid).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_users(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    params: Params,
) -> ScimResult<Response> {
    let q = params.search()?;
    let (total, items) = search_users_in(&s, &p, &base, &q, false).await?;
    Ok(list_response(total, q.start(), items))
}

async fn search_users(State(s): State<AppState>, Auth(p): Auth, Base(base): Base, body: Body_) -> ScimResult<Response> {
    let q = Search::from_body(&body.into_inner())?;
    let (total, items) = search_users_in(&s, &p, &base, &q, false).await?;
    Ok(list_response(total, q.start(), items))
}

/// What a filter lets the store do.
struct Plan {
    /// The filter, parsed (`None`: everything).
    filter: Option<Filter>,
    /// Look up exactly one candidate by this attribute and value.
    single: Option<(&'static str, String)>,
    /// Whether the store's answer is exactly the filter's (no evaluation).
    exact: bool,
}

fn compare_of(f: &Filter) -> Option<(String, filter::Op, &Value)> {
    match f {
        Filter::Compare(p, op, v) if p.sub.is_none() => Some((p.attr.to_ascii_lowercase(), *op, v)),
        _ => None,
    }
}

fn parse_filter(kind: &Kind, q: &Search, lenient: bool) -> ScimResult<Option<Option<Filter>>> {
    let Some(text) = q.filter.as_deref().filter(|t| !t.trim().is_empty()) else {
        return Ok(Some(None));
    };
    let f = filter::parse(text).map_err(|e| ScimError::invalid_filter(format!("filter: {}", e.0)))?;
    for path in f.paths() {
        if !kind.knows(&path) {
            if lenient {
                return Ok(None);
            }
            let name = match &path.sub {
                Some(s) => format!("{}.{s}", path.attr),
                None => path.attr.clone(),
            };
            return Err(ScimError::invalid_filter(format!("filter: unknown attribute {name}")));
        }
    }
    Ok(Some(Some(f)))
}

fn sort_key(kind: &Kind, q: &Search) -> ScimResult<Option<filter::AttrPath>> {
    let Some(s) = q.sort_by.as_deref().filter(|s| !s.trim().is_empty()) else { return Ok(None) };
    let p = filter::attr_path(s.trim()).map_err(|e| ScimError::invalid_value(format!("sortBy: {}", e.0)))?;
    if !kind.knows(&p) {
        return Err(ScimError::invalid_value(format!("sortBy: unknown attribute {s}")));
    }
    Ok(Some(p))
}

/// Sorts, then cuts the page (1-based `start`, `count` items).
fn page_of(
    kind: &Kind,
    mut all: Vec<Value>,
    sort: Option<&filter::AttrPath>,
    desc: bool,
    q: &Search,
) -> (i64, Vec<Value>) {
    if let Some(p) = sort {
        let key = |v: &Value| -> Option<String> {
            let scope = match &p.urn {
                Some(u) if !u.eq_ignore_ascii_case(kind.core) => filter::get_ci(v, u)?,
                _ => v,
            };
            let a = filter::get_ci(scope, &p.attr)?;
            let a = match a {
                Value::Array(items) => items.first()?,
                a => a,
            };
            let a = match &p.sub {
                Some(s) => filter::get_ci(a, s)?,
                None if a.is_object() => filter::get_ci(a, "value")?,
                None => a,
            };
            Some(match a {
                Value::String(s) => s.to_lowercase(),
                other => other.to_string(),
            })
        };
        // Missing values sort last either way.
        all.sort_by(|a, b| match (key(a), key(b)) {
            (Some(x), Some(y)) => {
                if desc {
                    y.cmp(&x)
                } else {
                    x.cmp(&y)
                }
            }
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
    }
    let total = all.len() as i64;
    let items = all.into_iter().skip((q.start() - 1) as usize).take(q.count() as usize).collect();
    (total, items)
}

async fn search_users_in(
    s: &AppState,
    p: &Principal,
    base: &str,
    q: &Search,
    lenient: bool,
) -> ScimResult<(i64, Vec<Value>)> {
    let kind = &schema::USERS;
    let Some(filter) = parse_filter(kind, q, lenient)? else { return Ok((0, Vec::new())) };
    let proj = Projection::parse(kind, &q.attributes, &q.excluded, lenient)?;
    let sort = sort_key(kind, q)?;
    let desc = q.descending()?;
    let mentions =
        |name: &str| filter.as_ref().is_some_and(|f| f.paths().iter().any(|p| p.attr.eq_ignore_ascii_case(name)));
    let groups_for_filter = mentions("groups");
    let groups_out = proj.names(kind, "groups");

    let mut query = UserQuery::default();
    let mut plan = Plan { filter, single: None, exact: true };
    if let Some(f) = &plan.filter {
        let conj = f.conjuncts();
        plan.exact = conj.len() == 1;
        for c in &conj {
            let pushed = match compare_of(c) {
                Some((a, filter::Op::Eq, Value::String(v))) if a == "username" => {
                    plan.single = Some(("userName", v.clone()));
                    false
                }
                Some((a, filter::Op::Eq, Value::String(v))) if a == "id" => {
                    plan.single = Some(("id", v.clone()));
                    false
                }
                Some((a, filter::Op::Eq, Value::String(v))) if a == "externalid" => {
                    query.external_id = Some(v.clone());
                    true
                }
                Some((a, filter::Op::Eq, Value::Bool(b))) if a == "active" => {
                    query.active = Some(*b);
                    true
                }
                Some((a, filter::Op::Sw, Value::String(v))) if a == "username" => {
                    query.prefix = Some(v.clone());
                    false
                }
                _ => false,
            };
            plan.exact &= pushed;
        }
    }
    let sorted_by_store = sort.as_ref().is_none_or(|p| p.attr.eq_ignore_ascii_case("userName") && p.sub.is_none());

    // Fast path: the store pages exactly what was asked.
    if plan.single.is_none() && plan.exact && sorted_by_store {
        query.descending = desc;
        let page = PageRequest::at_offset((q.start() - 1) as u64, q.count().max(1) as u32);
        let page = s.directory.list_users(p, &query, &page).await?;
        let mut items = Vec::new();
        for u in page.items.iter().take(q.count() as usize) {
            items.push(proj.apply(kind, render_user(s, p, u, base, groups_out).await?));
        }
        return Ok((page.total, items));
    }

    let candidates: Vec<User> = match &plan.single {
        Some((attr, v)) => {
            let found = if *attr == "id" {
                match v.parse::<UserId>() {
                    Ok(uid) => s.directory.get_user(p, uid).await,
                    Err(_) => Err(CoreError::NotFound { what: "user" }),
                }
            } else {
                s.directory.get_user_by_username(p, v).await
            };
            match found {
                Ok(u) => vec![u],
                Err(CoreError::NotFound { .. }) => Vec::new(),
                Err(e) => return Err(e.into()),
            }
        }
        None => scan_users(s, p, &query).await?,
    };
    let mut matched = Vec::new();
    for u in &candidates {
        let v = render_user(s, p, u, base, groups_for_filter || groups_out).await?;
        if plan.filter.as_ref().is_none_or(|f| filter::matches(f, &v, kind.core, kind)) {
            matched.push(v);
        }
    }
    let (total, items) = page_of(kind, matched, sort.as_ref(), desc, q);
    Ok((total, items.into_iter().map(|v| proj.apply(kind, v)).collect()))
}

/// Every row of a list, in keyset pages of the largest size, at most
/// [`SCAN_CAP`] of them.
async fn scan<T, F, Fut>(list_name: &str, mut fetch: F) -> ScimResult<Vec<T>>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<roster_core::Page<T>, CoreError>>,
{
    let limit = roster_core::cursor::MAX_LIMIT;
    let mut out = Vec::new();
    let mut page = PageRequest::first(limit);
    loop {
        let got = fetch(page).await?;
        out.extend(got.items);
        if out.len() > SCAN_CAP {
            return Err(too_many());
        }
        match got.next_cursor {
            Some(c) => page = PageRequest::parse(list_name, Some(i64::from(limit)), Some(&c))?,
            None => return Ok(out),
        }
    }
}

async fn scan_users(s: &AppState, p: &Principal, query: &UserQuery) -> ScimResult<Vec<User>> {
    scan(list::USERS, |page| async move { s.directory.list_users(p, query, &page).await }).await
}

fn too_many() -> ScimError {
    ScimError::bad(
        "tooMany",
        format!(
            "the filter would examine more than {SCAN_CAP} resources; filter on userName, externalId or displayName"
        ),
    )
}

// ---- groups ----

async fn render_group(
    s: &AppState,
    p: &Principal,
    g: &roster_core::Group,
    base: &str,
    members: bool,
) -> ScimResult<Value> {
    let refs = if members { Some(s.directory.member_refs(p, g.id).await?) } else { None };
    Ok(map::group_json(g, refs.as_deref(), base))
}

/// A group body's attributes and members.
struct GroupFields {
    name: String,
    external_id: Option<String>,
    members: Vec<uuid::Uuid>,
}

fn group_fields(body: Map<String, Value>) -> ScimResult<GroupFields> {
    map::check_schemas(&schema::GROUPS, &body)?;
    let doc = map::normalize(&schema::GROUPS, body)?;
    let name = doc
        .get("displayName")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_value("displayName: required"))?
        .to_owned();
    Ok(GroupFields {
        name,
        external_id: doc.get("externalId").and_then(Value::as_str).map(str::to_owned),
        members: match doc.get("members") {
            Some(v) => patch::member_ids(v)?,
            None => Vec::new(),
        },
    })
}

async fn create_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    params: Params,
    body: Body_,
) -> ScimResult<Response> {
    let proj = params.projection(&schema::GROUPS)?;
    let f = group_fields(body_object(body.into_inner())?)?;
    let new = NewGroup { unique_id: f.external_id, ..NewGroup::named(f.name, SourceType::Scim) };
    let (g, _) = s.directory.create_group_with_members(&p, new, f.members).await?;
    let v = render_group(&s, &p, &g, &base, proj.wants(&schema::GROUPS, "members")).await?;
    Ok(resource(StatusCode::CREATED, proj.apply(&schema::GROUPS, v)))
}

async fn get_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    Path(gid): Path<String>,
    params: Params,
    headers: HeaderMap,
) -> ScimResult<Response> {
    let proj = params.projection(&schema::GROUPS)?;
    let g = s.directory.get_group(&p, id("group", &gid)?).await?;
    if not_modified(&headers, g.version) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let v = render_group(&s, &p, &g, &base, proj.wants(&schema::GROUPS, "members")).await?;
    Ok(resource(StatusCode::OK, proj.apply(&schema::GROUPS, v)))
}

async fn replace_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    Path(gid): Path<String>,
    params: Params,
    headers: HeaderMap,
    body: Body_,
) -> ScimResult<Response> {
    let proj = params.projection(&schema::GROUPS)?;
    let gid: GroupId = id("group", &gid)?;
    let f = group_fields(body_object(body.into_inner())?)?;
    let patch = GroupPatch {
        name: Some(f.name),
        unique_id: Some(f.external_id),
        if_version: if_match(&headers),
        ..GroupPatch::default()
    };
    let edit = MemberEdit { replace: true, add: f.members, remove: Vec::new() };
    let (g, _) = s.directory.edit_group(&p, gid, patch, edit).await?;
    let v = render_group(&s, &p, &g, &base, proj.wants(&schema::GROUPS, "members")).await?;
    Ok(resource(StatusCode::OK, proj.apply(&schema::GROUPS, v)))
}

async fn patch_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    Path(gid): Path<String>,
    params: Params,
    headers: HeaderMap,
    body: Body_,
) -> ScimResult<Response> {
    let proj = params.projection(&schema::GROUPS)?;
    let gid: GroupId = id("group", &gid)?;
    let ops = patch::parse(&body_object(body.into_inner())?)?;
    let changes = patch::fold_group(&schema::GROUPS, ops, || async {
        Ok::<Vec<Member>, ScimError>(s.directory.member_refs(&p, gid).await?)
    })
    .await?;
    let patch = GroupPatch {
        name: changes.display_name,
        unique_id: changes.external_id,
        if_version: if_match(&headers),
        ..GroupPatch::default()
    };
    let (g, _) = s.directory.edit_group(&p, gid, patch, changes.members.into_edit()).await?;
    let v = render_group(&s, &p, &g, &base, proj.wants(&schema::GROUPS, "members")).await?;
    Ok(resource(StatusCode::OK, proj.apply(&schema::GROUPS, v)))
}

async fn delete_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(gid): Path<String>,
    headers: HeaderMap,
) -> ScimResult<Response> {
    let gid: GroupId = id("group", &gid)?;
    if let Some(v) = if_match(&headers) {
        let g = s.directory.get_group(&p, gid).await?;
        if g.version != v {
            return Err(CoreError::Stale { reason: format!("group is at version {}, not {v}", g.version) }.into());
        }
    }
    s.directory.delete_group(&p, gid).await?;
    Ok(Response::builder().status(StatusCode::NO_CONTENT).body(Body::empty()).unwrap_or_default())
}

async fn list_groups(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    params: Params,
) -> ScimResult<Response> {
    let q = params.search()?;
    let (total, items) = search_groups_in(&s, &p, &base, &q, false).await?;
    Ok(list_response(total, q.start(), items))
}

async fn search_groups(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    body: Body_,
) -> ScimResult<Response> {
    let q = Search::from_body(&body.into_inner())?;
    let (total, items) = search_groups_in(&s, &p, &base, &q, false).await?;
    Ok(list_response(total, q.start(), items))
}

async fn search_groups_in(
    s: &AppState,
    p: &Principal,
    base: &str,
    q: &Search,
    lenient: bool,
) -> ScimResult<(i64, Vec<Value>)> {
    let kind = &schema::GROUPS;
    let Some(filter) = parse_filter(kind, q, lenient)? else { return Ok((0, Vec::new())) };
    let proj = Projection::parse(kind, &q.attributes, &q.excluded, lenient)?;
    let sort = sort_key(kind, q)?;
    let desc = q.descending()?;
    let members_out = proj.wants(kind, "members");
    let members_for_filter =
        filter.as_ref().is_some_and(|f| f.paths().iter().any(|p| p.attr.eq_ignore_ascii_case("members")));

    let mut gf = GroupFilter::default();
    let mut plan = Plan { filter, single: None, exact: true };
    if let Some(f) = &plan.filter {
        let conj = f.conjuncts();
        plan.exact = conj.len() == 1;
        for c in &conj {
            let pushed = match compare_of(c) {
                Some((a, filter::Op::Eq, Value::String(v))) if a == "displayname" => {
                    plan.single = Some(("displayName", v.clone()));
                    false
                }
                Some((a, filter::Op::Eq, Value::String(v))) if a == "id" => {
                    plan.single = Some(("id", v.clone()));
                    false
                }
                Some((a, filter::Op::Eq, Value::String(v))) if a == "externalid" => {
                    plan.single = Some(("externalId", v.clone()));
                    false
                }
                Some((a, filter::Op::Sw, Value::String(v))) if a == "displayname" => {
                    gf.prefix = Some(v.clone());
                    true
                }
                Some((a, filter::Op::Co, Value::String(v))) if a == "displayname" => {
                    gf.contains = Some(v.clone());
                    true
                }
                _ => false,
            };
            plan.exact &= pushed;
        }
    }
    let sorted_by_store = sort.as_ref().is_none_or(|p| p.attr.eq_ignore_ascii_case("displayName") && p.sub.is_none());

    if plan.single.is_none() && plan.exact && sorted_by_store {
        gf.descending = desc;
        let page = PageRequest::at_offset((q.start() - 1) as u64, q.count().max(1) as u32);
        let page = s.directory.list_groups(p, &gf, &page).await?;
        let mut items = Vec::new();
        for g in page.items.iter().take(q.count() as usize) {
            items.push(proj.apply(kind, render_group(s, p, g, base, members_out).await?));
        }
        return Ok((page.total, items));
    }

    let candidates = match &plan.single {
        Some((attr, v)) => {
            let found = match *attr {
                "id" => match v.parse::<GroupId>() {
                    Ok(gid) => s.directory.get_group(p, gid).await,
                    Err(_) => Err(CoreError::NotFound { what: "group" }),
                },
                "externalId" => s.directory.get_group_by_unique_id(p, v).await,
                _ => s.directory.get_group_by_name(p, v).await,
            };
            match found {
                Ok(g) => vec![g],
                Err(CoreError::NotFound { .. }) => Vec::new(),
                Err(e) => return Err(e.into()),
            }
        }
        None => scan_groups(s, p, &gf).await?,
    };
    let mut matched = Vec::new();
    for g in &candidates {
        let v = render_group(s, p, g, base, members_for_filter).await?;
        if plan.filter.as_ref().is_none_or(|f| filter::matches(f, &v, kind.core, kind)) {
            matched.push((g, v));
        }
    }
    let by_id: HashMap<String, &roster_core::Group> = matched.iter().map(|(g, _)| (g.id.to_string(), *g)).collect();
    let (total, page) = page_of(kind, matched.iter().map(|(_, v)| v.clone()).collect(), sort.as_ref(), desc, q);
    let mut items = Vec::with_capacity(page.len());
    for v in page {
        // Members are loaded for the page only, not for every candidate.
        let v = match (members_out && !members_for_filter, v["id"].as_str().and_then(|i| by_id.get(i))) {
            (true, Some(g)) => render_group(s, p, g, base, true).await?,
            _ => v,
        };
        items.push(proj.apply(kind, v));
    }
    Ok((total, items))
}

async fn scan_groups(s: &AppState, p: &Principal, gf: &GroupFilter) -> ScimResult<Vec<roster_core::Group>> {
    scan(list::GROUPS, |page| async move { s.directory.list_groups(p, gf, &page).await }).await
}

/// `POST /.search`: users, then groups, as one list.
async fn search_all(State(s): State<AppState>, Auth(p): Auth, Base(base): Base, body: Body_) -> ScimResult<Response> {
    let q = Search::from_body(&body.into_inner())?;
    let (n_users, users) = search_users_in(&s, &p, &base, &q, true).await?;
    let start = q.start();
    let count = q.count();
    let rest = count - users.len() as i64;
    let group_q = Search {
        start_index: Some((start - n_users).max(1)),
        count: Some(rest.max(0)),
        filter: q.filter.clone(),
        sort_by: q.sort_by.clone(),
        sort_order: q.sort_order.clone(),
        attributes: q.attributes.clone(),
        excluded: q.excluded.clone(),
    };
    let (n_groups, groups) = search_groups_in(&s, &p, &base, &group_q, true).await?;
    let mut items = users;
    items.extend(groups);
    Ok(list_response(n_users + n_groups, start, items))
}
