//! The Compliance API's JSON, as `claude-compliance-sdk` reads it
//! (dialects/compliance.md §3–5).

use serde::{Deserialize, Serialize};

/// Every list: `next_page` is JSON null on the last page (never ""), and
/// `has_more` says the same.
#[derive(Serialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub has_more: bool,
    pub next_page: Option<String>,
}

#[derive(Serialize)]
pub struct Group {
    pub id: String,
    pub name: String,
    /// Always a string, "" when empty.
    pub description: String,
    /// `direct` or `scim`: the two values the API defines.
    pub source_type: &'static str,
    pub created_at: String,
    pub updated_at: String,
    pub roles: Vec<String>,
    /// How Roster's own records say the group was made (api, scim, posit,
    /// civis, box, iguazio, import); the SDK keeps it in `extra`.
    pub roster_source_type: &'static str,
}

#[derive(Serialize)]
pub struct GroupMember {
    pub user_id: String,
    /// Always a string, "" when the user has no email.
    pub email: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Deserialize, Default)]
pub struct PageParams {
    pub limit: Option<String>,
    pub page: Option<String>,
}

#[derive(Serialize)]
pub struct Error {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub error: ErrorDetail,
}

#[derive(Serialize)]
pub struct ErrorDetail {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub message: String,
}
