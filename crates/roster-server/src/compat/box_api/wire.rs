//! Box's JSON, as `box-sdk-gen` reads and sends it (dialects/box.md §5–7).
//! Ids are decimal strings.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// Tells "absent" (outer `None`) from "null" (`Some(None)`).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Serialize)]
pub struct Error {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub context_info: serde_json::Value,
    pub help_url: &'static str,
    pub request_id: String,
}

#[derive(Serialize)]
pub struct Enterprise {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    pub name: String,
}

#[derive(Serialize)]
pub struct User {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    pub name: String,
    pub login: String,
    pub created_at: String,
    pub modified_at: String,
    pub language: Option<String>,
    pub timezone: Option<String>,
    pub space_amount: i64,
    pub space_used: i64,
    pub max_upload_size: i64,
    pub status: String,
    pub job_title: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub avatar_url: Option<String>,
    pub role: String,
    pub is_platform_access_only: bool,
    pub external_app_user_id: Option<String>,
    pub enterprise: Enterprise,
}

#[derive(Serialize)]
pub struct Permissions {
    pub can_invite_as_collaborator: bool,
}

#[derive(Serialize)]
pub struct Group {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    pub name: String,
    pub group_type: &'static str,
    pub created_at: String,
    pub modified_at: String,
    pub description: Option<String>,
    pub provenance: Option<String>,
    pub external_sync_identifier: Option<String>,
    pub invitability_level: Option<String>,
    pub member_viewability_level: Option<String>,
    pub permissions: Permissions,
}

#[derive(Serialize)]
pub struct Membership {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    pub user: serde_json::Value,
    pub group: serde_json::Value,
    pub role: &'static str,
    pub configurable_permissions: serde_json::Value,
    pub created_at: String,
    pub modified_at: String,
}

#[derive(Serialize)]
pub struct Order {
    pub by: &'static str,
    pub direction: &'static str,
}

#[derive(Serialize)]
pub struct Collection {
    pub total_count: i64,
    pub limit: i64,
    pub offset: i64,
    pub order: Vec<Order>,
    pub entries: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<Option<String>>,
}

#[derive(Deserialize)]
pub struct IdRef {
    pub id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMembership {
    pub user: IdRef,
    pub group: IdRef,
    pub role: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub configurable_permissions: Option<Option<BTreeMap<String, bool>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MembershipUpdate {
    pub role: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub configurable_permissions: Option<Option<BTreeMap<String, bool>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct GroupBody {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub provenance: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub external_sync_identifier: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub invitability_level: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub member_viewability_level: Option<Option<String>>,
}

/// `users.create_user` and `update_user_by_id`: the profile keys Box
/// defines. Those without a column live in the user's attributes.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    pub name: Option<String>,
    pub login: Option<String>,
    pub is_platform_access_only: Option<bool>,
    pub role: Option<String>,
    pub language: Option<String>,
    pub is_sync_enabled: Option<bool>,
    pub job_title: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub space_amount: Option<i64>,
    pub tracking_codes: Option<serde_json::Value>,
    pub can_see_managed_users: Option<bool>,
    pub timezone: Option<String>,
    pub is_external_collab_restricted: Option<bool>,
    pub is_exempt_from_device_limits: Option<bool>,
    pub is_exempt_from_login_verification: Option<bool>,
    pub status: Option<String>,
    pub external_app_user_id: Option<String>,
    pub notification_email: Option<serde_json::Value>,
    /// Only `null` (leave the enterprise) exists; Roster has one enterprise
    /// that every user belongs to, so it is refused.
    pub enterprise: Option<serde_json::Value>,
    pub is_password_reset_required: Option<bool>,
    /// Accepted and ignored: Roster sends no email.
    #[allow(dead_code)]
    pub notify: Option<bool>,
}
