//! The Compliance front-end, mounted at `/compliance` (the SDK adds
//! `/v1/compliance`): read-only groups and members, as
//! `claude-compliance-sdk` reads them (dialects/compliance.md). Page tokens
//! are the core's keyset cursors, so a token can never make the server scan
//! from the start or repeat or skip an item. Translates only.

mod error;
mod map;
pub(crate) mod wire;

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use roster_core::{GroupFilter, PageRequest, Principal, list};

use self::error::{Compliance, ComplianceError, ComplianceResult};
use crate::http::AppState;
use crate::http::error::BadRequest;
use crate::http::extract;
use crate::http::routes::Routes;

type Params<T> = extract::Query<T, Compliance>;

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/v1/compliance/groups", list_groups)
        .get("/v1/compliance/groups/{group_id}", get_group)
        .get("/v1/compliance/groups/{group_id}/members", list_members)
        .in_dialect::<Compliance>()
}

/// The caller, from `x-api-key` (what the SDK sends) or `Authorization: Bearer`.
struct Auth(Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ComplianceError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let from_header = parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim);
        let bearer = crate::http::auth::authorization(&parts.headers, "bearer");
        let key = from_header.or(bearer).filter(|k| !k.is_empty()).ok_or(roster_core::CoreError::Unauthenticated)?;
        Ok(Auth(state.directory.authenticate(key, crate::http::auth::source(parts)).await?))
    }
}

/// A page request from `limit` and an opaque `page` token.
pub(crate) fn page(list: &str, q: &wire::PageParams) -> ComplianceResult<PageRequest> {
    let limit = map::limit(q.limit.as_deref())?;
    let req = PageRequest::parse(list, Some(limit), q.page.as_deref().filter(|p| !p.is_empty()))
        .map_err(|_| BadRequest::invalid("page", "not a page token issued by this server"))?;
    Ok(req)
}

fn envelope<T>(data: Vec<T>, next: Option<String>) -> wire::Page<T> {
    wire::Page { data, has_more: next.is_some(), next_page: next }
}

/// `groups.list` / `groups.iter`: the groups the caller may see, by name.
async fn list_groups(
    State(s): State<AppState>,
    Auth(p): Auth,
    extract::Query(q, _): Params<wire::PageParams>,
) -> ComplianceResult<Json<wire::Page<wire::Group>>> {
    let req = page(list::GROUPS, &q)?;
    let groups = s.directory.list_groups(&p, &GroupFilter::default(), &req).await?;
    let mut data = Vec::with_capacity(groups.items.len());
    for g in groups.items {
        let roles = s.directory.group_roles(&p, g.id).await?;
        data.push(map::group(g, &roles));
    }
    Ok(Json(envelope(data, groups.next_cursor)))
}

/// `groups.get`: the bare group object.
async fn get_group(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ComplianceResult<Json<wire::Group>> {
    let id = map::group_id(&id)?;
    let g = s.directory.get_group(&p, id).await?;
    let roles = s.directory.group_roles(&p, id).await?;
    Ok(Json(map::group(g, &roles)))
}

/// `groups.list_members` / `iter_members`: the users directly in the group,
/// in the order they joined.
async fn list_members(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    extract::Query(q, _): Params<wire::PageParams>,
) -> ComplianceResult<Json<wire::Page<wire::GroupMember>>> {
    let id = map::group_id(&id)?;
    let req = page(list::MEMBERS, &q)?;
    let members = s.directory.list_members(&p, id, &req).await?;
    let data = members.items.into_iter().map(|(m, u)| map::member(m, &u)).collect();
    Ok(Json(envelope(data, members.next_cursor)))
}
