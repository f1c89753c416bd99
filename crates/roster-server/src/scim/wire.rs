//! The fixed SCIM messages (RFC 7644 §3.4.2, §3.12). Resources themselves
//! are built as JSON from the schema tables (`map.rs`), since which
//! attributes they carry is decided per request (`attributes=`).

use serde::Serialize;
use serde_json::Value;

/// `urn:ietf:params:scim:api:messages:2.0:Error`; `status` is a string.
#[derive(Serialize)]
pub struct Error {
    pub schemas: [&'static str; 1],
    pub status: String,
    #[serde(rename = "scimType", skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

/// `urn:ietf:params:scim:api:messages:2.0:ListResponse`.
#[derive(Serialize)]
pub struct ListResponse {
    pub schemas: [&'static str; 1],
    #[serde(rename = "totalResults")]
    pub total_results: i64,
    #[serde(rename = "startIndex")]
    pub start_index: i64,
    #[serde(rename = "itemsPerPage")]
    pub items_per_page: i64,
    #[serde(rename = "Resources")]
    pub resources: Vec<Value>,
}
