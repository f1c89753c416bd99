//! Civis's JSON, as the `civis` SDK reads and sends it (dialects/civis.md
//! §3–5): camelCase answers with integer ids, snake_case request bodies.

use serde::{Deserialize, Deserializer, Serialize};

/// Tells "absent" (outer `None`) from "null" (`Some(None)`).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Error {
    pub error: &'static str,
    pub error_description: String,
    pub code: u16,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct SimpleUser {
    pub id: i64,
    pub name: String,
    pub username: String,
    pub initials: String,
    pub online: bool,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct MemberDetail {
    pub id: i64,
    pub name: String,
    pub username: String,
    pub initials: String,
    pub online: bool,
    pub email: Option<String>,
    pub primary_group_id: Option<i64>,
    pub active: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupSummary {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
    pub description: Option<String>,
    pub slug: Option<String>,
    pub organization_id: i64,
    pub organization_name: String,
    pub member_count: i64,
    pub total_member_count: i64,
    pub last_updated_by_id: Option<i64>,
    pub created_by_id: Option<i64>,
    pub members: Vec<SimpleUser>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
    pub description: Option<String>,
    pub slug: Option<String>,
    pub organization_id: i64,
    pub organization_name: String,
    pub member_count: i64,
    pub total_member_count: i64,
    pub default_otp_required_for_login: bool,
    pub role_ids: Vec<i64>,
    pub default_time_zone: Option<String>,
    pub default_jobs_label: Option<String>,
    pub default_notebooks_label: Option<String>,
    pub default_services_label: Option<String>,
    pub last_updated_by_id: Option<i64>,
    pub created_by_id: Option<i64>,
    pub members: Vec<MemberDetail>,
}

#[derive(Serialize, Clone)]
pub struct IdName {
    pub id: i64,
    pub name: String,
}

#[derive(Serialize, Default)]
pub struct GroupChildren {
    pub manageable: Vec<IdName>,
    pub writeable: Vec<IdName>,
    pub readable: Vec<IdName>,
}

#[derive(Serialize, Default)]
pub struct ShareSet {
    pub users: Vec<IdName>,
    pub groups: Vec<IdName>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ShareIndex {
    pub readers: ShareSet,
    pub writers: ShareSet,
    pub owners: ShareSet,
    pub total_user_shares: i64,
    pub total_group_shares: i64,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct UserGroup {
    pub id: i64,
    pub name: String,
    pub slug: Option<String>,
    pub organization_id: i64,
    pub organization_name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSummary {
    pub id: i64,
    pub user: String,
    pub name: String,
    pub email: Option<String>,
    pub active: bool,
    pub primary_group_id: Option<i64>,
    pub groups: Vec<UserGroup>,
    pub created_at: String,
    pub current_sign_in_at: Option<String>,
    pub updated_at: String,
    pub last_seen_at: Option<String>,
    pub suspended: bool,
    pub created_by_id: Option<i64>,
    pub last_updated_by_id: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDetail {
    #[serde(flatten)]
    pub summary: UserSummary,
    pub city: Option<String>,
    pub state: Option<String>,
    pub time_zone: Option<String>,
    pub initials: String,
    pub department: Option<String>,
    pub title: Option<String>,
    pub prefers_sms_otp: bool,
    pub vpn_enabled: bool,
    pub sso_disabled: bool,
    pub otp_required_for_login: bool,
    pub exempt_from_org_sms_otp_disabled: bool,
    pub robot: bool,
    pub account_status: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserMe {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub username: String,
    pub initials: String,
    pub feature_flags: serde_json::Map<String, serde_json::Value>,
    pub roles: Vec<String>,
    pub preferences: serde_json::Map<String, serde_json::Value>,
    pub primary_group_id: Option<i64>,
    pub groups: Vec<UserGroup>,
    pub organization_name: String,
    pub organization_slug: String,
    pub created_at: String,
}

/// `groups.post` / `put` / `patch` bodies (snake_case, §3). `null` clears.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct GroupBody {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub slug: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub organization_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    pub default_otp_required_for_login: Option<Option<bool>>,
    #[serde(default, deserialize_with = "nullable")]
    pub role_ids: Option<Option<Vec<i64>>>,
    #[serde(default, deserialize_with = "nullable")]
    pub default_time_zone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub default_jobs_label: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub default_notebooks_label: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub default_services_label: Option<Option<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareUsersBody {
    pub user_ids: Vec<i64>,
    pub permission_level: String,
    /// Accepted and ignored: Roster sends no email.
    #[allow(dead_code)]
    pub share_email_body: Option<String>,
    #[allow(dead_code)]
    pub send_shared_email: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareGroupsBody {
    pub group_ids: Vec<i64>,
    pub permission_level: String,
    /// Accepted and ignored: Roster sends no email.
    #[allow(dead_code)]
    pub share_email_body: Option<String>,
    #[allow(dead_code)]
    pub send_shared_email: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserCreateBody {
    pub name: String,
    pub email: String,
    pub primary_group_id: i64,
    pub user: String,
    pub active: Option<bool>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub time_zone: Option<String>,
    pub initials: Option<String>,
    pub department: Option<String>,
    pub title: Option<String>,
    pub prefers_sms_otp: Option<bool>,
    pub group_ids: Option<Vec<i64>>,
    pub vpn_enabled: Option<bool>,
    pub sso_disabled: Option<bool>,
    pub otp_required_for_login: Option<bool>,
    pub exempt_from_org_sms_otp_disabled: Option<bool>,
    pub robot: Option<bool>,
    /// Accepted and ignored: Roster sends no email.
    #[allow(dead_code)]
    pub send_email: Option<bool>,
}
