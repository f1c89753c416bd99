//! `users.*` (dialects/civis.md): list, read, create and `users/me`.
//! Translates only: every rule is the core's.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use roster_core::{NumKind, OrgId, OrgScope, UserQuery};

use super::Body;
use super::auth::Auth;
use super::error::CivisResult;
use super::ids::{group_ids, known_id, user_id};
use super::map::{self, Query, Render};
use super::rendering::paged;
use super::wire;
use crate::http::AppState;
use crate::http::error::BadRequest;

/// `users.list(...)`: active users by default, a bare array.
pub(super) async fn list_users(
    State(s): State<AppState>,
    Auth(p): Auth,
    RawQuery(raw): RawQuery,
) -> CivisResult<Response> {
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
    let org = match q.int("organization_id")? {
        Some(n) => match known_id(&s, NumKind::Organization, n).await? {
            Some(id) => Some(OrgScope::In(OrgId(id))),
            None => return Ok(empty()),
        },
        None => None,
    };
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
        org,
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

pub(super) async fn get_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> CivisResult<Json<wire::UserDetail>> {
    let id = user_id(&s, &id).await?;
    let u = s.directory.get_user(&p, id).await?;
    Ok(Json(Render::new(&s.directory, &p).user_detail(&u).await?))
}

pub(super) async fn me(State(s): State<AppState>, Auth(p): Auth) -> CivisResult<Json<wire::UserMe>> {
    let u = s.directory.whoami(&p).await?;
    Ok(Json(Render::new(&s.directory, &p).me(&u).await?))
}

/// `users.post(name, email, primary_group_id, user, ...)`: the user joins
/// the primary group (and `group_ids`) in the same transaction.
pub(super) async fn create_user(
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
