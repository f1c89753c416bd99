//! Posit ↔ core: guids are the core's UUIDs, roles map to the site role
//! plus a role label, pages by number map to offsets.

use roster_core as core;
use roster_core::{PageRequest, RoleMatch, SiteRole};
use time::format_description::well_known::Rfc3339;

use super::wire;
use crate::http::error::BadRequest;
use crate::http::extract::int_param;

/// The SDK asks for 500 and pages on; larger requests are served 500 at a time.
pub const MAX_PAGE_SIZE: i64 = 500;
const DEFAULT_PAGE_SIZE: i64 = 20;

pub const ADMINISTRATOR: &str = "administrator";
pub const PUBLISHER: &str = "publisher";
pub const VIEWER: &str = "viewer";

fn time(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

pub fn group(g: core::Group) -> wire::Group {
    wire::Group { guid: g.id.to_string(), name: g.name, owner_guid: g.created_by.map(|u| u.to_string()) }
}

/// Posit's role of a user: administrators are site admins; others are
/// publishers or (by default) viewers, from the role label.
pub fn user_role(u: &core::User) -> &'static str {
    match (u.site_role, u.role_label.as_deref()) {
        (SiteRole::Admin, _) => ADMINISTRATOR,
        (SiteRole::User, Some(PUBLISHER)) => PUBLISHER,
        (SiteRole::User, _) => VIEWER,
    }
}

pub fn user(u: &core::User) -> wire::User {
    wire::User {
        user_role: user_role(u).to_owned(),
        guid: u.id.to_string(),
        username: u.username.clone(),
        email: u.email.clone().unwrap_or_default(),
        first_name: u.first_name.clone().unwrap_or_default(),
        last_name: u.last_name.clone().unwrap_or_default(),
        created_time: time(u.created_at),
        // Connect leaves it alone when an account is locked or unlocked.
        updated_time: time(u.profile_changed_at),
        active_time: None,
        confirmed: true,
        locked: !u.active,
    }
}

/// `page_number` (1-based) and `page_size` as an offset page; returns the
/// page number to echo as `current_page`.
pub fn page(number: Option<&str>, size: Option<&str>) -> Result<(PageRequest, u64), BadRequest> {
    let number = int_param("page_number", number)?.unwrap_or(1);
    if number < 1 {
        return Err(BadRequest::invalid("page_number", "must be 1 or more"));
    }
    let size = int_param("page_size", size)?.unwrap_or(DEFAULT_PAGE_SIZE);
    if size < 1 {
        return Err(BadRequest::invalid("page_size", "must be 1 or more"));
    }
    let size = size.min(MAX_PAGE_SIZE) as u64;
    let offset = (number as u64 - 1).saturating_mul(size);
    Ok((PageRequest::at_offset(offset, size as u32), number as u64))
}

/// The site role and role label a new user gets for a Posit `user_role`.
pub fn new_user_role(role: Option<&str>) -> Result<(SiteRole, Option<String>), BadRequest> {
    match role {
        None => Ok((SiteRole::User, None)),
        Some(ADMINISTRATOR) => Ok((SiteRole::Admin, None)),
        Some(r @ (PUBLISHER | VIEWER)) => Ok((SiteRole::User, Some(r.to_owned()))),
        Some(_) => Err(BadRequest::invalid("user_role", "must be administrator, publisher or viewer")),
    }
}

/// `user_role=viewer|publisher` as role matches (viewers include users
/// without a label, as they are shown as viewers).
pub fn role_filter(value: Option<&str>) -> Result<Vec<RoleMatch>, BadRequest> {
    let Some(value) = value.filter(|v| !v.is_empty()) else { return Ok(Vec::new()) };
    value
        .split('|')
        .map(|r| match r.trim() {
            ADMINISTRATOR => Ok(RoleMatch::SiteAdmin),
            PUBLISHER => Ok(RoleMatch::Label { label: PUBLISHER.into(), or_unlabelled: false }),
            VIEWER => Ok(RoleMatch::Label { label: VIEWER.into(), or_unlabelled: true }),
            _ => Err(BadRequest::invalid("user_role", "must be administrator, publisher or viewer, joined by |")),
        })
        .collect()
}

/// What `account_status=locked|licensed|inactive` selects. Roster keeps no
/// login history, so every active user counts as licensed and none as
/// inactive.
#[derive(Debug, PartialEq, Eq)]
pub enum StatusFilter {
    Any,
    Active(bool),
    Nobody,
}

pub fn status_filter(value: Option<&str>) -> Result<StatusFilter, BadRequest> {
    let Some(value) = value.filter(|v| !v.is_empty()) else { return Ok(StatusFilter::Any) };
    let (mut locked, mut licensed) = (false, false);
    for s in value.split('|') {
        match s.trim() {
            "locked" => locked = true,
            "licensed" => licensed = true,
            "inactive" => {}
            _ => {
                return Err(BadRequest::invalid("account_status", "must be locked, licensed or inactive, joined by |"));
            }
        }
    }
    Ok(match (locked, licensed) {
        (true, true) => StatusFilter::Any,
        (true, false) => StatusFilter::Active(false),
        (false, true) => StatusFilter::Active(true),
        (false, false) => StatusFilter::Nobody,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_map_to_offsets() {
        let (req, n) = page(Some("3"), Some("500")).unwrap();
        assert_eq!((req.offset, req.limit, n), (1000, 500, 3));
        let (req, _) = page(None, Some("5000")).unwrap();
        assert_eq!(req.limit, 500);
        assert!(page(Some("0"), None).is_err());
        assert!(page(Some("x"), None).is_err());
        assert!(page(None, Some("0")).is_err());
    }

    #[test]
    fn statuses_and_roles() {
        assert_eq!(status_filter(Some("locked|licensed")).unwrap(), StatusFilter::Any);
        assert_eq!(status_filter(Some("locked")).unwrap(), StatusFilter::Active(false));
        assert_eq!(status_filter(Some("inactive")).unwrap(), StatusFilter::Nobody);
        assert!(status_filter(Some("gone")).is_err());
        assert_eq!(role_filter(Some("administrator|publisher")).unwrap().len(), 2);
        assert!(role_filter(Some("owner")).is_err());
        assert_eq!(new_user_role(Some("administrator")).unwrap(), (SiteRole::Admin, None));
    }
}
