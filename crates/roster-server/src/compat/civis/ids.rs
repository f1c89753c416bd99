//! Civis numbers → core ids: a path or body number is looked up through the
//! core's `num` index (`Directory::id_by_num`); an unknown number in a body
//! is a 400 naming its field. The other way, core ids → numbers, is
//! `map::Render`'s. No rendering and no decision here.

use roster_core::{CoreError, GroupId, NumKind, OrgId, RoleId, UserId};

use super::error::CivisResult;
use super::map;
use crate::http::AppState;
use crate::http::error::BadRequest;

pub(super) async fn group_id(s: &AppState, id: &str) -> CivisResult<GroupId> {
    Ok(GroupId(s.directory.id_by_num(NumKind::Group, map::num("group", id)?).await?))
}

/// The id numbered `num` when it exists (`None` for an unknown number, which
/// a filter treats as matching nothing); any other failure is an error.
pub(super) async fn known_id(s: &AppState, kind: NumKind, num: i64) -> CivisResult<Option<uuid::Uuid>> {
    match s.directory.id_by_num(kind, num).await {
        Ok(id) => Ok(Some(id)),
        Err(CoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn user_id(s: &AppState, id: &str) -> CivisResult<UserId> {
    Ok(UserId(s.directory.id_by_num(NumKind::User, map::num("user", id)?).await?))
}

/// The UUIDs of the entities of `kind` numbered `nums`; an unknown
/// number is a 400 naming `field`.
async fn ids_by_num(s: &AppState, kind: NumKind, field: &str, nums: &[i64]) -> CivisResult<Vec<uuid::Uuid>> {
    let mut out = Vec::with_capacity(nums.len());
    for n in nums {
        let id = match s.directory.id_by_num(kind, *n).await {
            Ok(id) => id,
            Err(CoreError::NotFound { .. }) => return Err(BadRequest::invalid(field, format!("no such id {n}")).into()),
            Err(e) => return Err(e.into()),
        };
        out.push(id);
    }
    Ok(out)
}

pub(super) async fn user_ids(s: &AppState, field: &str, nums: &[i64]) -> CivisResult<Vec<UserId>> {
    Ok(ids_by_num(s, NumKind::User, field, nums).await?.into_iter().map(UserId).collect())
}

pub(super) async fn group_ids(s: &AppState, field: &str, nums: &[i64]) -> CivisResult<Vec<GroupId>> {
    Ok(ids_by_num(s, NumKind::Group, field, nums).await?.into_iter().map(GroupId).collect())
}

pub(super) async fn role_ids(s: &AppState, nums: &[i64]) -> CivisResult<Vec<RoleId>> {
    Ok(ids_by_num(s, NumKind::Role, "role_ids", nums).await?.into_iter().map(RoleId).collect())
}

pub(super) async fn org_id(s: &AppState, num: Option<i64>) -> CivisResult<Option<OrgId>> {
    match num {
        None => Ok(None),
        Some(n) => match s.directory.id_by_num(NumKind::Organization, n).await {
            Ok(id) => Ok(Some(OrgId(id))),
            Err(CoreError::NotFound { .. }) => {
                Err(BadRequest::invalid("organization_id", format!("no organization {n}")).into())
            }
            Err(e) => Err(e.into()),
        },
    }
}
