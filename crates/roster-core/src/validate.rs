//! Input rules shared by every front-end: what a name, a username or an
//! email may be. Each check names the field it refuses.

use crate::error::CoreError;

pub const MAX_NAME_LEN: usize = 255;
pub const MAX_TEXT_LEN: usize = 4096;

/// The case-folded form under which names are compared, searched and sorted.
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// A display name: trimmed, 1–255 characters, no control characters.
pub fn name(field: &str, value: &str) -> Result<String, CoreError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(CoreError::invalid(field, "must not be empty"));
    }
    if v.chars().count() > MAX_NAME_LEN {
        return Err(CoreError::invalid(field, format!("must be at most {MAX_NAME_LEN} characters")));
    }
    if v.chars().any(char::is_control) {
        return Err(CoreError::invalid(field, "must not contain control characters"));
    }
    Ok(v.to_owned())
}

/// An optional short text (first name, external id): `None` stays `None`,
/// an empty string clears it.
pub fn optional_name(field: &str, value: Option<&str>) -> Result<Option<String>, CoreError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => name(field, v).map(Some),
    }
}

/// A free text such as a description: up to 4096 characters.
pub fn optional_text(field: &str, value: Option<&str>) -> Result<Option<String>, CoreError> {
    match value {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > MAX_TEXT_LEN => {
            Err(CoreError::invalid(field, format!("must be at most {MAX_TEXT_LEN} characters")))
        }
        Some(v) if v.contains('\0') => Err(CoreError::invalid(field, "must not contain NUL characters")),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

/// A username: 1–255 characters without whitespace or control characters.
pub fn username(value: &str) -> Result<String, CoreError> {
    let v = name("username", value)?;
    if v.chars().any(char::is_whitespace) {
        return Err(CoreError::invalid("username", "must not contain whitespace"));
    }
    Ok(v)
}

/// An email address: something@something, no whitespace, at most 255 characters.
pub fn email(value: Option<&str>) -> Result<Option<String>, CoreError> {
    let Some(v) = optional_name("email", value)? else {
        return Ok(None);
    };
    let ok = match v.split_once('@') {
        Some((local, domain)) => !local.is_empty() && !domain.is_empty() && !v.chars().any(char::is_whitespace),
        None => false,
    };
    if !ok {
        return Err(CoreError::invalid("email", "must be an email address"));
    }
    Ok(Some(v))
}

/// A password for a person: 8–1024 characters, returned as an argon2 hash.
pub fn password(value: &str) -> Result<String, CoreError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    use rand::RngCore;
    let n = value.chars().count();
    if !(8..=1024).contains(&n) {
        return Err(CoreError::invalid("password", "must be 8 to 1024 characters"));
    }
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let salt = SaltString::encode_b64(&bytes).map_err(|e| CoreError::Internal(format!("password salt: {e}")))?;
    argon2::Argon2::default()
        .hash_password(value.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CoreError::Internal(format!("hashing a password: {e}")))
}

/// A slug: 1–255 of `a-z`, `0-9`, `-`, `_`.
pub fn slug(field: &str, value: &str) -> Result<String, CoreError> {
    let v = name(field, value)?;
    if !v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_') {
        return Err(CoreError::invalid(field, "may contain only a-z, 0-9, '-' and '_'"));
    }
    Ok(v)
}

/// Derives a slug from a name (lowercase, runs of other characters become '-').
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() { "group".to_owned() } else { trimmed.chars().take(MAX_NAME_LEN).collect() }
}

/// A search string (prefix or substring): at most 255 characters, folded.
pub fn search(field: &str, value: Option<&str>) -> Result<Option<String>, CoreError> {
    match value {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > MAX_NAME_LEN => {
            Err(CoreError::invalid(field, format!("must be at most {MAX_NAME_LEN} characters")))
        }
        Some(v) if v.contains('\0') => Err(CoreError::invalid(field, "must not contain NUL characters")),
        Some(v) => Ok(Some(fold(v))),
    }
}

/// Free-form vendor attributes: any JSON object of at most 64 KiB.
/// Permissions name only known permissions ([`crate::model::permission::KNOWN`]).
pub fn permissions(p: &crate::model::Permissions) -> Result<(), CoreError> {
    if let crate::model::Permissions::Map(m) = p
        && let Some(name) = m.keys().find(|k| !crate::model::permission::KNOWN.contains(&k.as_str()))
    {
        return Err(CoreError::invalid(
            format!("permissions.{name}"),
            format!("unknown permission; one of {}", crate::model::permission::KNOWN.join(", ")),
        ));
    }
    Ok(())
}

pub fn attributes(
    field: &str,
    value: serde_json::Map<String, serde_json::Value>,
) -> Result<serde_json::Map<String, serde_json::Value>, CoreError> {
    let size = serde_json::to_vec(&value).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > 64 * 1024 {
        return Err(CoreError::invalid(field, "must be at most 64 KiB of JSON"));
    }
    Ok(value)
}

/// A group name: a [`name`] that is not the all-users group's reserved one
/// (that group exists for everyone, so the name is taken).
pub fn group_name(value: &str) -> Result<String, CoreError> {
    let name = name("name", value)?;
    if fold(&name) == crate::model::ALL_USERS_GROUP_NAME {
        return Err(CoreError::conflict("name", "all_users is the name of the group every user belongs to"));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(name("name", "  Eng  ").unwrap(), "Eng");
        assert!(name("name", "   ").is_err());
        assert!(name("name", &"x".repeat(256)).is_err());
        assert!(name("name", "a\u{0}b").is_err());
        assert_eq!(name("name", &"é".repeat(255)).unwrap().chars().count(), 255);
    }

    #[test]
    fn emails_and_slugs() {
        assert_eq!(email(Some("a@b")).unwrap().as_deref(), Some("a@b"));
        assert!(email(Some("nope")).is_err());
        assert_eq!(email(None).unwrap(), None);
        assert_eq!(slugify("Data Science & ML"), "data-science-ml");
        assert_eq!(slugify("!!!"), "group");
        assert!(slug("slug", "Bad Slug").is_err());
    }
}
