//! Posit Connect's JSON, exactly as `posit-sdk` reads and sends it
//! (dialects/posit-connect.md §3–4).

use serde::{Deserialize, Serialize};

/// A page. Exactly these three keys: the SDK builds a dataclass from them
/// and fails on any other key.
#[derive(Serialize)]
pub struct Page<T> {
    pub results: Vec<T>,
    pub current_page: u64,
    pub total: i64,
}

#[derive(Serialize)]
pub struct Group {
    pub guid: String,
    pub name: String,
    pub owner_guid: Option<String>,
}

#[derive(Serialize)]
pub struct User {
    pub guid: String,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// `administrator`, `publisher` or `viewer`.
    pub user_role: String,
    pub created_time: String,
    pub updated_time: String,
    pub active_time: Option<String>,
    pub confirmed: bool,
    pub locked: bool,
}

#[derive(Deserialize, Default)]
pub struct PageParams {
    pub page_number: Option<String>,
    pub page_size: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct GroupParams {
    pub prefix: Option<String>,
    pub page_number: Option<String>,
    pub page_size: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct UserParams {
    pub prefix: Option<String>,
    pub user_role: Option<String>,
    pub account_status: Option<String>,
    pub page_number: Option<String>,
    pub page_size: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    pub name: String,
    #[serde(default)]
    pub unique_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub password: Option<String>,
    pub user_must_set_password: Option<bool>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub user_role: Option<String>,
    pub unique_id: Option<String>,
}

/// `user.update(**kwargs)`: any subset.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub username: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub user_role: Option<String>,
}

/// `user.lock()` / `user.unlock()`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    pub locked: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    pub user_guid: String,
}

#[derive(Serialize)]
pub struct ServerSettings {
    pub version: &'static str,
}
