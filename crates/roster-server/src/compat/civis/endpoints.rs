//! The endpoint table: each Civis endpoint once, with its description for
//! the SDK and its route. [`ENDPOINTS`] both mounts the routes and generates
//! the Swagger 2.0 document served at `/endpoints` (`spec.rs` builds it), so
//! the two cannot disagree. It holds no handler logic.

use axum::routing::{MethodRouter, delete, get, patch, post, put};

use super::groups::{
    child_groups, create_group, delete_group, delete_member, delete_shares_groups, delete_shares_users, get_group,
    list_groups, list_shares, patch_group, put_member, put_shares_groups, put_shares_users, replace_group,
};
use super::spec::{Operation, Param, path, query};
use super::users::{create_user, get_user, list_users, me};
use super::{schema, spec};
use crate::http::AppState;

/// One endpoint: its description for the SDK and its route.
pub(super) struct Endpoint {
    pub(super) op: Operation,
    pub(super) route: fn() -> MethodRouter<AppState>,
}

impl Endpoint {
    /// The method the endpoint's route serves.
    pub(super) fn method(&self) -> axum::http::Method {
        axum::http::Method::from_bytes(self.op.method.as_bytes())
            .unwrap_or_else(|_| panic!("ENDPOINTS: bad method {}", self.op.method))
    }
}

const ID: Param = path("id", "The group's number.");
const GROUP_LIST_PARAMS: &[Param] = &[
    query("query", "string", "A piece of the group name to look for, ignoring case."),
    query("permission", "string", "read, write or manage: only groups you hold at least this share on."),
    query("include_members", "boolean", "Whether to fill in the members of each group."),
    query("organization_id", "integer", "Only groups of this organization."),
    query("user_ids", "array", "Only groups that any of these users is in."),
    query("limit", "integer", "Groups per page: 1 to 1000, 50 by default."),
    query("page_num", "integer", "The page, from 1."),
    query("order", "string", "name (default) or created_at."),
    query("order_dir", "string", "asc (default) or desc."),
];
const USER_LIST_PARAMS: &[Param] = &[
    query("feature_flag", "string", "Accepted; Roster has no feature flags, so it matches nobody when given."),
    query("account_status", "string", "active (default), inactive or all."),
    query("query", "string", "A piece of the username or name to look for, ignoring case."),
    query("group_id", "integer", "Only members of this group."),
    query("group_ids", "array", "Only members of any of these groups."),
    query("organization_id", "integer", "Only users of this organization."),
    query("exclude_groups", "boolean", "Whether to leave out each user's groups."),
    query("limit", "integer", "Users per page: 1 to 10000, 20 by default."),
    query("page_num", "integer", "The page, from 1."),
    query("order", "string", "name (default) or user: both order by username."),
    query("order_dir", "string", "asc (default) or desc."),
];

pub(super) const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        op: Operation {
            method: "GET",
            path: "/groups/",
            summary: "List groups",
            params: GROUP_LIST_PARAMS,
            body: None,
            status: 200,
            response: Some("[@GroupSummary]"),
        },
        route: || get(list_groups),
    },
    Endpoint {
        op: Operation {
            method: "POST",
            path: "/groups/",
            summary: "Create a group",
            params: &[],
            body: Some(("GroupCreateRequest", true)),
            status: 201,
            response: Some("@Group"),
        },
        route: || post(create_group),
    },
    Endpoint {
        op: Operation {
            method: "GET",
            path: "/groups/{id}",
            summary: "Get a group",
            params: &[ID],
            body: None,
            status: 200,
            response: Some("@Group"),
        },
        route: || get(get_group),
    },
    Endpoint {
        op: Operation {
            method: "PUT",
            path: "/groups/{id}",
            summary: "Replace every setting of a group",
            params: &[ID],
            body: Some(("GroupUpdateRequest", true)),
            status: 200,
            response: Some("@Group"),
        },
        route: || put(replace_group),
    },
    Endpoint {
        op: Operation {
            method: "PATCH",
            path: "/groups/{id}",
            summary: "Change some settings of a group",
            params: &[ID],
            body: Some(("GroupPatchRequest", false)),
            status: 200,
            response: Some("@Group"),
        },
        route: || patch(patch_group),
    },
    Endpoint {
        op: Operation {
            method: "DELETE",
            path: "/groups/{id}",
            summary: "Delete a group",
            params: &[ID],
            body: None,
            status: 204,
            response: None,
        },
        route: || delete(delete_group),
    },
    Endpoint {
        op: Operation {
            method: "GET",
            path: "/groups/{id}/shares",
            summary: "List who the group is shared with",
            params: &[ID],
            body: None,
            status: 200,
            response: Some("[@ShareIndex]"),
        },
        route: || get(list_shares),
    },
    Endpoint {
        op: Operation {
            method: "PUT",
            path: "/groups/{id}/shares/users",
            summary: "Share the group with users",
            params: &[ID],
            body: Some(("ShareUsersUpdateRequest", true)),
            status: 200,
            response: Some("@ShareIndex"),
        },
        route: || put(put_shares_users),
    },
    Endpoint {
        op: Operation {
            method: "DELETE",
            path: "/groups/{id}/shares/users/{user_id}",
            summary: "Stop sharing the group with a user",
            params: &[ID, path("user_id", "The user's number.")],
            body: None,
            status: 204,
            response: None,
        },
        route: || delete(delete_shares_users),
    },
    Endpoint {
        op: Operation {
            method: "PUT",
            path: "/groups/{id}/shares/groups",
            summary: "Share the group with groups",
            params: &[ID],
            body: Some(("ShareGroupsUpdateRequest", true)),
            status: 200,
            response: Some("@ShareIndex"),
        },
        route: || put(put_shares_groups),
    },
    Endpoint {
        op: Operation {
            method: "DELETE",
            path: "/groups/{id}/shares/groups/{group_id}",
            summary: "Stop sharing the group with a group",
            params: &[ID, path("group_id", "The other group's number.")],
            body: None,
            status: 204,
            response: None,
        },
        route: || delete(delete_shares_groups),
    },
    Endpoint {
        op: Operation {
            method: "PUT",
            path: "/groups/{id}/members/{user_id}",
            summary: "Add a user to the group",
            params: &[ID, path("user_id", "The user's number.")],
            body: None,
            status: 200,
            response: Some("@Group"),
        },
        route: || put(put_member),
    },
    Endpoint {
        op: Operation {
            method: "DELETE",
            path: "/groups/{id}/members/{user_id}",
            summary: "Take a user out of the group",
            params: &[ID, path("user_id", "The user's number.")],
            body: None,
            status: 204,
            response: None,
        },
        route: || delete(delete_member),
    },
    Endpoint {
        op: Operation {
            method: "GET",
            path: "/groups/{id}/child_groups",
            summary: "Groups this group holds a share on",
            params: &[ID],
            body: None,
            status: 200,
            response: Some("@GroupChildren"),
        },
        route: || get(child_groups),
    },
    Endpoint {
        op: Operation {
            method: "GET",
            path: "/users/",
            summary: "List users",
            params: USER_LIST_PARAMS,
            body: None,
            status: 200,
            response: Some("[@UserSummary]"),
        },
        route: || get(list_users),
    },
    Endpoint {
        op: Operation {
            method: "POST",
            path: "/users/",
            summary: "Create a user",
            params: &[],
            body: Some(("UserCreateRequest", true)),
            status: 200,
            response: Some("@UserDetail"),
        },
        route: || post(create_user),
    },
    Endpoint {
        op: Operation {
            method: "GET",
            path: "/users/me",
            summary: "The user the key belongs to",
            params: &[],
            body: None,
            status: 200,
            response: Some("@UserMe"),
        },
        route: || get(me),
    },
    Endpoint {
        op: Operation {
            method: "GET",
            path: "/users/{id}",
            summary: "Get a user",
            params: &[path("id", "The user's number.")],
            body: None,
            status: 200,
            response: Some("@UserDetail"),
        },
        route: || get(get_user),
    },
];

/// The document the SDK builds itself from.
pub fn document() -> serde_json::Value {
    spec::document(ENDPOINTS.iter().map(|e| &e.op), schema::DEFINITIONS)
}
