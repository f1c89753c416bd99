//! `POST /v1/import`: many records in one transaction (the bulk path of
//! `roster import`). A refused record names itself as `records[i]`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use roster_core::{CoreError, ImportRecord, MemberRole, SiteRole};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::wire::{ErrorBody, ImportBody, ImportResult, ImportWireRecord};
use super::{ApiError, ApiResult, Auth, Body};
use crate::http::AppState;
use crate::http::error::BadRequest;

/// The most records one request may carry.
pub const MAX_RECORDS: usize = 5000;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import))
}

/// An import record from its wire form, or the field at fault and why.
fn convert(r: ImportWireRecord) -> Result<ImportRecord, (&'static str, &'static str)> {
    Ok(match r {
        ImportWireRecord::User {
            username,
            email,
            first_name,
            last_name,
            display_name,
            external_id,
            active,
            site_role,
        } => {
            let site_role = site_role
                .map(|r| SiteRole::parse(&r).ok_or(("site_role", "must be \"admin\" or \"user\"")))
                .transpose()?;
            ImportRecord::User { username, email, first_name, last_name, display_name, external_id, active, site_role }
        }
        ImportWireRecord::Group { name, description, unique_id } => {
            ImportRecord::Group { name, description, unique_id }
        }
        ImportWireRecord::Member { group, user, role } => {
            let role = match role.as_deref() {
                None => MemberRole::Member,
                Some(r) => MemberRole::parse(r).ok_or(("role", "must be \"member\" or \"admin\""))?,
            };
            ImportRecord::Member { group, user, role }
        }
        ImportWireRecord::Child { parent, child } => ImportRecord::Child { parent, child },
    })
}

fn record(i: usize, r: ImportWireRecord) -> Result<ImportRecord, BadRequest> {
    convert(r).map_err(|(field, msg)| BadRequest::invalid(format!("records[{i}].{field}"), msg.to_owned()))
}

/// One record as `roster import` and `roster load` read it (a JSON object
/// tagged by `type`, the shape of `POST /v1/import`'s `records[i]`), or
/// why it is not one.
pub fn parse_record(value: serde_json::Value) -> Result<ImportRecord, String> {
    let wire: ImportWireRecord = serde_json::from_value(value).map_err(|e| e.to_string())?;
    convert(wire).map_err(|(field, msg)| format!("{field}: {msg}"))
}

/// The names a record gives for `what` (a user or a group), to say which is missing.
fn named(record: Option<&ImportRecord>, what: &str) -> String {
    match (record, what) {
        (Some(ImportRecord::Member { user, .. }), "user") => format!("{user:?}"),
        (Some(ImportRecord::Member { group, .. }), _) => format!("{group:?}"),
        (Some(ImportRecord::Child { parent, child }), _) => format!("{parent:?} or {child:?}"),
        _ => String::new(),
    }
}

/// Applies up to 5000 records (users, groups, memberships, nesting) in one
/// transaction: all or none. Users are keyed by username and groups by
/// name, so importing the same records again changes nothing. Site admins.
#[utoipa::path(post, path = "/v1/import", tag = "import", request_body = ImportBody,
    responses((status = 200, body = ImportResult), (status = 404, description = "a record names a user or group that does not exist", body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn import(State(s): State<AppState>, Auth(p): Auth, body: Body<ImportBody>) -> ApiResult<Json<ImportResult>> {
    let records = body.into_inner().records;
    if records.len() > MAX_RECORDS {
        return Err(BadRequest::invalid("records", format!("at most {MAX_RECORDS} per request")).into());
    }
    let records = records.into_iter().enumerate().map(|(i, r)| record(i, r)).collect::<Result<Vec<_>, _>>()?;
    match s.directory.import(&p, &records).await {
        Ok(summary) => {
            Ok(Json(ImportResult { created: summary.created, updated: summary.updated, unchanged: summary.unchanged }))
        }
        Err(failure) => {
            let i = failure.index;
            let error = match failure.error {
                CoreError::Invalid { field, reason } => {
                    CoreError::Invalid { field: format!("records[{i}].{field}"), reason }
                }
                CoreError::Conflict { field, reason } => {
                    CoreError::Conflict { field: Some(format!("records[{i}].{}", field.unwrap_or_default())), reason }
                }
                // A record naming a user or group the directory does not have.
                CoreError::NotFound { what } => {
                    let field = format!("records[{i}].{what}");
                    let message = format!("{field}: no {what} {}", named(records.get(i), what));
                    return Err(BadRequest { status: StatusCode::NOT_FOUND, field: Some(field), message }.into());
                }
                other => other,
            };
            Err(ApiError::Core(error))
        }
    }
}
