//! Compliance ↔ core: tagged ids (`rbac_group_`, `user_`, `rbac_role_` +
//! "01" + the UUID in 22 base62 characters, so they are stable and
//! reversible with no stored column), page tokens (the core's cursors).

use roster_core as core;
use roster_core::{GroupId, SourceType};
use time::format_description::well_known::Rfc3339;

use super::wire;
use crate::http::error::BadRequest;

pub const GROUP: &str = "rbac_group_";
pub const USER: &str = "user_";
pub const ROLE: &str = "rbac_role_";

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const TOKEN_LEN: usize = 22;

/// `prefix` + "01" + the id in base62 (22 characters, zero-padded).
pub fn tag(prefix: &str, id: uuid::Uuid) -> String {
    let mut n = id.as_u128();
    let mut digits = [b'0'; TOKEN_LEN];
    for slot in digits.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    format!("{prefix}01{}", String::from_utf8_lossy(&digits))
}

/// The UUID inside a tagged id of the given kind, if it is one.
pub fn untag(prefix: &str, tagged: &str) -> Option<uuid::Uuid> {
    let token = tagged.strip_prefix(prefix)?.strip_prefix("01")?;
    if token.len() != TOKEN_LEN {
        return None;
    }
    let mut n: u128 = 0;
    for b in token.bytes() {
        let digit = ALPHABET.iter().position(|c| *c == b)? as u128;
        n = n.checked_mul(62)?.checked_add(digit)?;
    }
    Some(uuid::Uuid::from_u128(n))
}

pub fn group_id(tagged: &str) -> Result<GroupId, BadRequest> {
    untag(GROUP, tagged)
        .map(GroupId)
        .ok_or_else(|| BadRequest::new(axum::http::StatusCode::NOT_FOUND, "group not found"))
}

fn time(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

pub fn group(g: core::Group, roles: &[core::Role]) -> wire::Group {
    wire::Group {
        id: tag(GROUP, g.id.0),
        name: g.name,
        description: g.description.unwrap_or_default(),
        source_type: if g.source_type == SourceType::Scim { "scim" } else { "direct" },
        created_at: time(g.created_at),
        updated_at: time(g.updated_at),
        roles: roles.iter().map(|r| tag(ROLE, r.id.0)).collect(),
        roster_source_type: g.source_type.as_str(),
    }
}

pub fn member(m: core::Membership, u: &core::User) -> wire::GroupMember {
    wire::GroupMember {
        user_id: tag(USER, u.id.0),
        email: u.email.clone().unwrap_or_default(),
        created_at: time(m.created_at),
        updated_at: time(m.updated_at),
    }
}

/// `limit` 1–1000, 500 by default (§4).
pub fn limit(value: Option<&str>) -> Result<i64, BadRequest> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(500),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (1..=1000).contains(&n) => Ok(n),
            _ => Err(BadRequest::invalid("limit", "must be an integer from 1 to 1000")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_and_keep_their_shape() {
        for id in [uuid::Uuid::nil(), uuid::Uuid::max(), uuid::Uuid::now_v7()] {
            let t = tag(GROUP, id);
            assert_eq!(t.len(), GROUP.len() + 2 + 22);
            assert!(t[GROUP.len()..].chars().all(|c| c.is_ascii_alphanumeric()));
            assert_eq!(untag(GROUP, &t), Some(id));
            assert_eq!(untag(USER, &t), None, "a group tag is not a user id");
        }
        assert_eq!(untag(GROUP, "rbac_group_01zzzzzzzzzzzzzzzzzzzzzz"), None, "overflows 128 bits");
        assert_eq!(untag(GROUP, "rbac_group_01short"), None);
        assert_eq!(untag(GROUP, "rbac_group_01!!!!!!!!!!!!!!!!!!!!!!"), None);
    }
}
