//! The authorization table: every route of every front-end (checked
//! against `roster_server::routes()`, both ways) against every kind of
//! caller, through one `check` helper. Reads are in it too: a stranger's
//! lists must not name the private group or count it.
//!
//! The web console's routes (`page` rows) are called with each caller's
//! session cookie instead of a key: sessions are made by signing in with
//! the caller's key (the revoked key's and the inactive user's before the
//! revocation and the deactivation), forms carry the session's CSRF token,
//! and every form is also posted once without it (403, before anything).
//!
//! Cells: `2` a 2xx, `0` 400, `1` 401, `3` 403, `4` 404, `9` 409. Columns,
//! in [`CALLERS`] order: admin | group admin with every permission, then
//! with add_members, remove_members, edit_memberships, manage_children off
//! | member | read, write, manage share | stranger | no key, revoked key,
//! inactive user's key.
//!
//! State is set up once per store. A write that succeeds is undone as the
//! admin (`undo`), or consumed a throw-away target (`<v…>` placeholders,
//! made again on first use), so every caller meets the same state; denied
//! attempts change nothing and need no reset. On a console row `2` is also
//! a redirect anywhere but the sign-in page (a form's success), and `1` is
//! the redirect to the sign-in page (no session, or one that has ended).

use std::collections::{BTreeSet, HashMap};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Reply, TestServer};

const CALLERS: [&str; 14] = [
    "admin", "ga", "ga-add", "ga-rm", "ga-edit", "ga-kids", "mem", "rd", "wr", "mg", "str", "none", "revoked",
    "inactive",
];

/// Any caller with a valid key.
const ANY: &str = "2 22222 2 222 2 111";
/// Anyone, without a key too.
const PUBLIC: &str = "2 22222 2 222 2 222";
/// Site admins only.
const ADMIN: &str = "2 33333 3 333 3 111";
/// Whoever may see the group (strangers: 404).
const SEE: &str = "2 22222 2 222 4 111";
/// Site admins, write and manage shares.
const WRITE: &str = "2 33333 3 322 4 111";
/// Site admins and manage shares.
const MANAGE: &str = "2 33333 3 332 4 111";
/// Group admins with add_members, manage shares, site admins.
const ADD: &str = "2 23222 3 332 4 111";
const REMOVE: &str = "2 22322 3 332 4 111";
const EDIT: &str = "2 22232 3 332 4 111";
const KIDS: &str = "2 22223 3 332 4 111";
/// Another user's key: invisible to all but site admins.
const OTHERS_404: &str = "2 44444 4 444 4 111";
/// Site admins, on a page of G (strangers: 404, the page is not theirs).
const SITE: &str = "2 33333 3 333 4 111";
/// Subscribing to G's changes: site admins, G's admins, manage shares.
const WATCH: &str = "2 22222 3 332 4 111";

/// What a list must not reveal to the stranger.
#[derive(Clone, Copy, PartialEq)]
enum Leak {
    None,
    /// A group list: the private group's name is absent and no count
    /// exceeds what `/v1/groups` gives the stranger.
    Groups,
    /// A list filtered by the private group: the stranger sees none of its
    /// members.
    Members,
}

struct Row {
    method: Method,
    path: &'static str,
    body: Option<&'static str>,
    expect: &'static str,
    /// Admin requests (native) that restore the state after a success.
    undo: &'static [(Method, &'static str, Option<&'static str>)],
    leak: Leak,
    /// A console route: a session cookie, and a form body (`a=1&b=<t>`).
    console: bool,
}

fn row(method: Method, path: &'static str, expect: &'static str) -> Row {
    Row { method, path, body: None, expect, undo: &[], leak: Leak::None, console: false }
}

/// A console route, called with each caller's session.
fn page(method: Method, path: &'static str, expect: &'static str) -> Row {
    Row { console: true, ..row(method, path, expect) }
}

impl Row {
    fn body(mut self, body: &'static str) -> Self {
        self.body = Some(body);
        self
    }
    fn undo(mut self, undo: &'static [(Method, &'static str, Option<&'static str>)]) -> Self {
        self.undo = undo;
        self
    }
    fn leak(mut self, leak: Leak) -> Self {
        self.leak = leak;
        self
    }
}

use Method as M;

const DEL: Method = Method::DELETE;
const PUT: Method = Method::PUT;

/// Placeholders: `<g>` the private group G; `<k>` a group everyone but the
/// stranger is in; `<c>` a child of G; `<z>` a group with a read share on G;
/// `<s>` the stranger's group; `<t>` a user outside G; `<x>` a plain member
/// of G; `<y>` a user with a read share on G; `<xm>` x's membership in G;
/// `<r>`, `<o>`, `<p>` a role (granted to G), an organization, a project
/// (G bound to it); `<v>`, `<vu>`, `<vk>`, `<vr>`, `<vo>`, `<vp>` throw-away
/// group, user, key, role, organization, project; `<n>` a fresh number;
/// `<job>` an Iguazio job of the admin's; `<w>` a webhook subscription
/// scoped to G, `<wu>` one without a scope, `<vw>` a throw-away one on G.
fn table() -> Vec<Row> {
    vec![
        // Operational.
        row(M::GET, "/healthz", PUBLIC),
        row(M::GET, "/readyz", PUBLIC),
        row(M::GET, "/metrics", PUBLIC),
        row(M::GET, "/openapi.json", PUBLIC),
        // Native: users.
        row(M::GET, "/v1/users", ANY),
        row(M::POST, "/v1/users", ADMIN).body(r#"{"username": "n<n>"}"#),
        row(M::GET, "/v1/users/<t>", ANY),
        row(M::PATCH, "/v1/users/<t>", ADMIN).body(r#"{"first_name": "f<n>"}"#),
        row(DEL, "/v1/users/<vu>", ADMIN),
        row(M::GET, "/v1/me", ANY),
        row(M::GET, "/v1/users/<t>/groups", ADMIN),
        // Native: groups.
        row(M::GET, "/v1/groups", ANY).leak(Leak::Groups),
        row(M::GET, "/v1/groups?q=secret", ANY).leak(Leak::Groups),
        row(M::POST, "/v1/groups", ADMIN).body(r#"{"name": "n<n>"}"#),
        row(M::GET, "/v1/groups/<g>", SEE),
        row(M::PATCH, "/v1/groups/<g>", WRITE).body(r#"{"description": "d<n>"}"#),
        row(DEL, "/v1/groups/<v>", MANAGE),
        row(M::GET, "/v1/groups/<g>/roles", SEE),
        row(PUT, "/v1/groups/<g>/roles/<vr>", ADMIN),
        row(DEL, "/v1/groups/<g>/roles/<r>", ADMIN).undo(&[(PUT, "/v1/groups/<g>/roles/<r>", None)]),
        // Native: members and nesting.
        row(M::GET, "/v1/groups/<g>/members", SEE),
        row(M::GET, "/v1/check?group=<g>&user=<x>", SEE),
        row(PUT, "/v1/groups/<g>/members/<t>", ADD).body("{}").undo(&[(DEL, "/v1/groups/<g>/members/<t>", None)]),
        row(DEL, "/v1/groups/<g>/members/<x>", REMOVE).undo(&[(PUT, "/v1/groups/<g>/members/<x>", Some("{}"))]),
        row(M::GET, "/v1/memberships/<xm>", SEE),
        row(M::PATCH, "/v1/memberships/<xm>", EDIT)
            .body(r#"{"permissions": null}"#)
            .undo(&[(M::PATCH, "/v1/memberships/<xm>", Some(r#"{"permissions": {}}"#))]),
        row(DEL, "/v1/memberships/<xm>", REMOVE).undo(&[(PUT, "/v1/groups/<g>/members/<x>", Some("{}"))]),
        row(M::GET, "/v1/groups/<g>/children", SEE),
        row(PUT, "/v1/groups/<g>/children/<k>", KIDS).undo(&[(DEL, "/v1/groups/<g>/children/<k>", None)]),
        row(DEL, "/v1/groups/<g>/children/<c>", KIDS).undo(&[(PUT, "/v1/groups/<g>/children/<c>", None)]),
        // Native: shares, keys, events, import.
        row(M::GET, "/v1/groups/<g>/shares", MANAGE),
        row(PUT, "/v1/groups/<g>/shares/users/<t>", MANAGE)
            .body(r#"{"level": "read"}"#)
            .undo(&[(DEL, "/v1/groups/<g>/shares/users/<t>", None)]),
        row(DEL, "/v1/groups/<g>/shares/users/<y>", MANAGE)
            .undo(&[(PUT, "/v1/groups/<g>/shares/users/<y>", Some(r#"{"level": "read"}"#))]),
        row(PUT, "/v1/groups/<g>/shares/groups/<k>", MANAGE)
            .body(r#"{"level": "read"}"#)
            .undo(&[(DEL, "/v1/groups/<g>/shares/groups/<k>", None)]),
        row(DEL, "/v1/groups/<g>/shares/groups/<z>", MANAGE)
            .undo(&[(PUT, "/v1/groups/<g>/shares/groups/<z>", Some(r#"{"level": "read"}"#))]),
        row(M::POST, "/v1/keys", ADMIN).body(r#"{"user_id": "<t>", "name": "k<n>"}"#),
        row(M::GET, "/v1/keys", ANY),
        row(M::GET, "/v1/keys?user_id=<t>", ADMIN),
        row(DEL, "/v1/keys/<vk>", OTHERS_404),
        row(M::GET, "/v1/events", ADMIN),
        row(M::GET, "/v1/events/stream?follow=false", ADMIN),
        row(M::POST, "/v1/import", ADMIN).body(r#"{"records": [{"type": "user", "username": "i<n>"}]}"#),
        // Native: webhooks (made disabled: nothing is delivered).
        row(M::GET, "/v1/webhooks", ANY),
        row(M::POST, "/v1/webhooks", WATCH).body(r#"{"url": "http://127.0.0.1:9/<n>", "group_id": "<g>", "enabled": false}"#),
        row(M::POST, "/v1/webhooks", ADMIN).body(r#"{"url": "http://127.0.0.1:9/<n>", "enabled": false}"#),
        row(M::GET, "/v1/webhooks/<w>", WATCH),
        row(M::GET, "/v1/webhooks/<wu>", OTHERS_404),
        row(M::PATCH, "/v1/webhooks/<w>", WATCH).body(r#"{"description": "d<n>"}"#),
        row(DEL, "/v1/webhooks/<vw>", WATCH),
        row(M::POST, "/v1/webhooks/<w>/rotate-secret", WATCH).body(r#"{"grace_seconds": 0}"#),
        row(M::POST, "/v1/webhooks/<w>/ping", WATCH),
        row(M::GET, "/v1/webhooks/<w>/deliveries", WATCH),
        row(M::POST, "/v1/webhooks/<w>/redeliver", WATCH).body(r#"{"after": 0}"#),
        row(M::POST, "/v1/webhooks/<w>/redeliver/1", WATCH),
        // Native: catalog.
        row(M::GET, "/v1/roles", ANY),
        row(M::POST, "/v1/roles", ADMIN).body(r#"{"name": "n<n>"}"#),
        row(M::GET, "/v1/roles/<r>", ANY),
        row(M::PATCH, "/v1/roles/<r>", ADMIN).body(r#"{"description": "d<n>"}"#),
        row(DEL, "/v1/roles/<vr>", ADMIN),
        row(M::GET, "/v1/organizations", ANY),
        row(M::POST, "/v1/organizations", ADMIN).body(r#"{"name": "n<n>"}"#),
        row(M::GET, "/v1/organizations/<o>", ANY),
        row(M::PATCH, "/v1/organizations/<o>", ADMIN).body(r#"{"name": "o<n>"}"#),
        row(DEL, "/v1/organizations/<vo>", ADMIN),
        row(M::GET, "/v1/projects", ANY),
        row(M::POST, "/v1/projects", ADMIN).body(r#"{"name": "n<n>"}"#),
        row(M::GET, "/v1/projects/<p>", ANY),
        row(M::PATCH, "/v1/projects/<p>", ADMIN).body(r#"{"description": "d<n>"}"#),
        row(DEL, "/v1/projects/<vp>", ADMIN),
        row(M::GET, "/v1/projects/<p>/bindings", ANY),
        row(PUT, "/v1/projects/<p>/groups/<k>", ADMIN)
            .body(r#"{"role": "R"}"#)
            .undo(&[(DEL, "/v1/projects/<p>/groups/<k>", None)]),
        row(DEL, "/v1/projects/<p>/groups/<g>", ADMIN)
            .undo(&[(PUT, "/v1/projects/<p>/groups/<g>", Some(r#"{"role": "R"}"#))]),
        row(PUT, "/v1/projects/<p>/users/<t>", ADMIN)
            .body(r#"{"role": "R"}"#)
            .undo(&[(DEL, "/v1/projects/<p>/users/<t>", None)]),
        row(DEL, "/v1/projects/<p>/users/<y>", ADMIN)
            .undo(&[(PUT, "/v1/projects/<p>/users/<y>", Some(r#"{"role": "R"}"#))]),
        // SCIM.
        row(M::GET, "/scim/v2/ServiceProviderConfig", ANY),
        row(M::GET, "/scim/v2/Schemas", ANY),
        row(M::GET, "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", ANY),
        row(M::GET, "/scim/v2/ResourceTypes", ANY),
        row(M::GET, "/scim/v2/ResourceTypes/User", ANY),
        row(M::GET, "/scim/v2/Users", ANY),
        row(M::POST, "/scim/v2/Users", ADMIN)
            .body(r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "n<n>"}"#),
        row(M::POST, "/scim/v2/Users/.search", ANY).body(r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}"#),
        row(M::GET, "/scim/v2/Users/<t>", ANY),
        row(PUT, "/scim/v2/Users/<t>", ADMIN)
            .body(r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "t", "displayName": "d<n>"}"#),
        row(M::PATCH, "/scim/v2/Users/<t>", ADMIN).body(
            r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "displayName", "value": "d<n>"}]}"#,
        ),
        row(DEL, "/scim/v2/Users/<vu>", ADMIN),
        row(M::GET, "/scim/v2/Groups", ANY).leak(Leak::Groups),
        row(M::GET, "/scim/v2/Groups?filter=displayName%20sw%20%22secret%22", ANY).leak(Leak::Groups),
        row(M::POST, "/scim/v2/Groups", ADMIN)
            .body(r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "n<n>"}"#),
        row(M::POST, "/scim/v2/Groups/.search", ANY)
            .body(r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}"#)
            .leak(Leak::Groups),
        row(M::GET, "/scim/v2/Groups/<g>", SEE),
        row(PUT, "/scim/v2/Groups/<g>", WRITE).body(
            r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "secret-g", "externalId": "e<n>",
                "members": [{"value": "<ga>"}, {"value": "<ga-add>"}, {"value": "<ga-rm>"}, {"value": "<ga-edit>"},
                    {"value": "<ga-kids>"}, {"value": "<mem>"}, {"value": "<x>"}, {"value": "<c>"}]}"#,
        ),
        row(M::PATCH, "/scim/v2/Groups/<g>", ADD)
            .body(
                r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "members", "value": [{"value": "<t>"}]}]}"#,
            )
            .undo(&[(DEL, "/v1/groups/<g>/members/<t>", None)]),
        row(M::PATCH, "/scim/v2/Groups/<g>", REMOVE)
            .body(
                r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "remove", "path": "members[value eq \"<x>\"]"}]}"#,
            )
            .undo(&[(PUT, "/v1/groups/<g>/members/<x>", Some("{}"))]),
        row(DEL, "/scim/v2/Groups/<v>", MANAGE),
        row(M::POST, "/scim/v2/.search", ANY)
            .body(r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "displayName sw \"secret\""}"#)
            .leak(Leak::Groups),
        row(M::POST, "/scim/v2/Bulk", "5 55555 5 555 5 111")
            .body(r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": []}"#),
        // Posit.
        row(M::GET, "/posit/__api__/server_settings", ANY),
        row(M::GET, "/posit/__api__/v1/user", ANY),
        row(M::GET, "/posit/__api__/v1/users", ANY),
        row(M::POST, "/posit/__api__/v1/users", ADMIN).body(r#"{"username": "n<n>"}"#),
        row(M::GET, "/posit/__api__/v1/users/<t>", ANY),
        row(PUT, "/posit/__api__/v1/users/<t>", ADMIN).body(r#"{"first_name": "f<n>"}"#),
        row(M::POST, "/posit/__api__/v1/users/<t>/lock", ADMIN)
            .body(r#"{"locked": true}"#)
            .undo(&[(M::PATCH, "/v1/users/<t>", Some(r#"{"active": true}"#))]),
        row(M::GET, "/posit/__api__/v1/groups", ANY).leak(Leak::Groups),
        row(M::GET, "/posit/__api__/v1/groups?prefix=secret", ANY).leak(Leak::Groups),
        row(M::POST, "/posit/__api__/v1/groups", ADMIN).body(r#"{"name": "n<n>"}"#),
        row(M::GET, "/posit/__api__/v1/groups/<g>", SEE),
        row(DEL, "/posit/__api__/v1/groups/<v>", MANAGE),
        row(M::GET, "/posit/__api__/v1/groups/<g>/members", SEE),
        row(M::POST, "/posit/__api__/v1/groups/<g>/members", ADD)
            .body(r#"{"user_guid": "<t>"}"#)
            .undo(&[(DEL, "/v1/groups/<g>/members/<t>", None)]),
        row(DEL, "/posit/__api__/v1/groups/<g>/members/<x>", REMOVE)
            .undo(&[(PUT, "/v1/groups/<g>/members/<x>", Some("{}"))]),
        // Civis.
        row(M::GET, "/civis/endpoints", ANY),
        row(M::GET, "/civis/groups", ANY).leak(Leak::Groups),
        row(M::GET, "/civis/groups?query=secret&include_members=true", ANY).leak(Leak::Groups),
        row(M::GET, "/civis/groups?user_ids[]=<x>", ANY).leak(Leak::Groups),
        row(M::POST, "/civis/groups", ADMIN).body(r#"{"name": "n<n>"}"#),
        row(M::GET, "/civis/groups/<g>", SEE),
        row(PUT, "/civis/groups/<g>", WRITE).body(r#"{"name": "secret-g", "description": "d<n>"}"#),
        row(M::PATCH, "/civis/groups/<g>", WRITE).body(r#"{"description": "d<n>"}"#),
        row(DEL, "/civis/groups/<v>", MANAGE),
        row(M::GET, "/civis/groups/<g>/shares", MANAGE),
        row(PUT, "/civis/groups/<g>/shares/users", MANAGE)
            .body(r#"{"user_ids": [<t>], "permission_level": "read"}"#)
            .undo(&[(DEL, "/v1/groups/<g>/shares/users/<t>", None)]),
        row(DEL, "/civis/groups/<g>/shares/users/<y>", MANAGE)
            .undo(&[(PUT, "/v1/groups/<g>/shares/users/<y>", Some(r#"{"level": "read"}"#))]),
        row(PUT, "/civis/groups/<g>/shares/groups", MANAGE)
            .body(r#"{"group_ids": [<k>], "permission_level": "read"}"#)
            .undo(&[(DEL, "/v1/groups/<g>/shares/groups/<k>", None)]),
        row(DEL, "/civis/groups/<g>/shares/groups/<z>", MANAGE)
            .undo(&[(PUT, "/v1/groups/<g>/shares/groups/<z>", Some(r#"{"level": "read"}"#))]),
        row(PUT, "/civis/groups/<g>/members/<t>", ADD).undo(&[(DEL, "/v1/groups/<g>/members/<t>", None)]),
        row(DEL, "/civis/groups/<g>/members/<x>", REMOVE).undo(&[(PUT, "/v1/groups/<g>/members/<x>", Some("{}"))]),
        row(M::GET, "/civis/groups/<g>/child_groups", SEE),
        row(M::GET, "/civis/users", ANY),
        row(M::GET, "/civis/users?group_id=<g>", ANY).leak(Leak::Members),
        row(M::GET, "/civis/users?group_ids[]=<g>", ANY).leak(Leak::Members),
        row(M::POST, "/civis/users", ADMIN)
            .body(r#"{"name": "N", "email": "n<n>@example.com", "primary_group_id": <k>, "user": "n<n>"}"#),
        row(M::GET, "/civis/users/me", ANY),
        row(M::GET, "/civis/users/<t>", ANY),
        // Box.
        row(M::POST, "/box/2.0/group_memberships", ADD)
            .body(r#"{"user": {"id": "<t>"}, "group": {"id": "<g>"}}"#)
            .undo(&[(DEL, "/v1/groups/<g>/members/<t>", None)]),
        row(M::GET, "/box/2.0/group_memberships/<xm>", SEE),
        row(PUT, "/box/2.0/group_memberships/<xm>", EDIT)
            .body(r#"{"configurable_permissions": null}"#)
            .undo(&[(M::PATCH, "/v1/memberships/<xm>", Some(r#"{"permissions": {}}"#))]),
        row(DEL, "/box/2.0/group_memberships/<xm>", REMOVE).undo(&[(PUT, "/v1/groups/<g>/members/<x>", Some("{}"))]),
        row(M::GET, "/box/2.0/groups", ANY).leak(Leak::Groups),
        row(M::GET, "/box/2.0/groups?filter_term=secret", ANY).leak(Leak::Groups),
        row(M::POST, "/box/2.0/groups", ADMIN).body(r#"{"name": "n<n>"}"#),
        row(M::GET, "/box/2.0/groups/<g>", SEE),
        row(PUT, "/box/2.0/groups/<g>", WRITE).body(r#"{"description": "d<n>"}"#),
        row(DEL, "/box/2.0/groups/<v>", MANAGE),
        row(M::GET, "/box/2.0/groups/<g>/memberships", SEE),
        row(M::GET, "/box/2.0/users", ANY),
        row(M::POST, "/box/2.0/users", ADMIN).body(r#"{"name": "N", "login": "n<n>@example.com"}"#),
        row(M::GET, "/box/2.0/users/me", ANY),
        row(M::GET, "/box/2.0/users/<t>", ANY),
        row(PUT, "/box/2.0/users/<t>", ADMIN).body(r#"{"job_title": "j<n>"}"#),
        row(DEL, "/box/2.0/users/<vu>", ADMIN),
        row(M::GET, "/box/2.0/users/<t>/memberships", ADMIN),
        // Compliance.
        row(M::GET, "/compliance/v1/compliance/groups", ANY).leak(Leak::Groups),
        row(M::GET, "/compliance/v1/compliance/groups/<g>", SEE),
        row(M::GET, "/compliance/v1/compliance/groups/<g>/members", SEE),
        // Iguazio.
        row(M::GET, "/iguazio/api/tunnel/t/external_versions/igz0", ANY),
        row(M::POST, "/iguazio/api/sessions/verifications/planes/control/internal", ANY),
        row(M::GET, "/iguazio/api/user_groups", ANY).leak(Leak::Groups),
        row(M::GET, "/iguazio/api/user_groups?include=users", ANY).leak(Leak::Groups),
        row(M::GET, "/iguazio/api/user_groups?filter[name]=secret-g", ANY).leak(Leak::Groups),
        row(M::POST, "/iguazio/api/user_groups", ADMIN)
            .body(r#"{"data": {"type": "user_group", "attributes": {"name": "n<n>"}}}"#),
        row(M::GET, "/iguazio/api/user_groups/<g>", SEE),
        row(M::GET, "/iguazio/api/user_groups/<g>?include=users", SEE),
        row(PUT, "/iguazio/api/user_groups/<g>", WRITE)
            .body(r#"{"data": {"type": "user_group", "attributes": {"description": "d<n>"}}}"#),
        row(DEL, "/iguazio/api/user_groups/<v>", MANAGE),
        row(M::GET, "/iguazio/api/users", ANY),
        row(M::GET, "/iguazio/api/users?include=user_groups", ANY).leak(Leak::Groups),
        row(M::POST, "/iguazio/api/users", ADMIN).body(
            r#"{"data": {"type": "user", "attributes": {"username": "n<n>", "email": "n<n>@example.com", "first_name": "N", "last_name": "N"}}}"#,
        ),
        row(M::GET, "/iguazio/api/users/<t>", ANY),
        row(M::GET, "/iguazio/api/users/<x>?include=user_groups", ANY).leak(Leak::Groups),
        row(PUT, "/iguazio/api/users/<t>", ADMIN)
            .body(r#"{"data": {"type": "user", "attributes": {"first_name": "f<n>"}}}"#),
        row(PUT, "/iguazio/api/users/<t>", ADD)
            .body(
                r#"{"data": {"type": "user", "attributes": {}, "relationships": {"user_groups": {"data": [{"type": "user_group", "id": "<g>"}]}}}}"#,
            )
            .undo(&[(DEL, "/v1/groups/<g>/members/<t>", None)]),
        row(DEL, "/iguazio/api/users/<vu>", ADMIN),
        row(M::GET, "/iguazio/api/self", ANY),
        row(M::POST, "/iguazio/api/self/get_or_create_access_key", ANY)
            .body(r#"{"data": {"type": "access_key", "attributes": {"label": "l", "plane": "control"}}}"#),
        row(M::GET, "/iguazio/api/access_keys", ANY),
        row(M::POST, "/iguazio/api/access_keys", ANY)
            .body(r#"{"data": {"type": "access_key", "attributes": {"label": "l<n>", "plane": "control"}}}"#),
        row(M::GET, "/iguazio/api/access_keys/<vk>", OTHERS_404),
        row(DEL, "/iguazio/api/access_keys/<vk>", OTHERS_404),
        row(M::GET, "/iguazio/api/jobs/<job>", OTHERS_404),
        row(M::GET, "/iguazio/api/projects", ANY),
        row(M::POST, "/iguazio/api/projects", ADMIN).body(r#"{"data": {"type": "project", "attributes": {"name": "n<n>"}}}"#),
        row(DEL, "/iguazio/api/projects", ADMIN).body(r#"{"data": {"type": "project", "attributes": {"name": "<vp>"}}}"#),
        row(M::GET, "/iguazio/api/projects/<p>", ANY),
        row(PUT, "/iguazio/api/projects/<p>", ADMIN)
            .body(r#"{"data": {"type": "project", "attributes": {"description": "d<n>"}}}"#),
        row(M::POST, "/iguazio/api/async_transactions", ADMIN).body(
            r#"{"data": {"attributes": {"requests": [{"method": "put", "resource": "project_authorization_roles/<p>:viewer",
                "body": {"data": {"attributes": {"name": "Viewer"}, "relationships": {"principal_user_groups": {"data": [{"type": "user_group", "id": "<g>"}]}}}}}]}}}"#,
        ),
        // The web console, with session cookies. Assets and the sign-in
        // form are for anyone; a sign-in without the form's nonce is refused.
        page(M::GET, "/assets/htmx-2.0.8.min.js", PUBLIC),
        page(M::GET, "/assets/console-1.css", PUBLIC),
        page(M::GET, "/sign-in", PUBLIC),
        page(M::POST, "/sign-in", "3 33333 3 333 3 333").body("key=rst_nope"),
        page(M::GET, "/", ANY),
        // The feed page says "not shown to you" to all but site admins;
        // its poll is the core's refusal.
        page(M::GET, "/events", ANY),
        page(M::GET, "/events/poll?after=0", ADMIN),
        page(M::GET, "/events/stream?follow=false", ADMIN),
        page(M::GET, "/assets/console-feed-1.js", PUBLIC),
        page(M::GET, "/keys", ANY),
        page(M::POST, "/keys", ANY).body("name=k<n>"),
        page(M::POST, "/keys/<vk>/delete", OTHERS_404),
        page(M::GET, "/users", ANY),
        page(M::POST, "/users", ADMIN).body("username=n<n>"),
        page(M::GET, "/users/<t>", ANY),
        page(M::POST, "/users/<t>", ADMIN).body("first_name=f<n>"),
        page(M::POST, "/users/<t>/active", ADMIN).body("active=true"),
        page(M::GET, "/groups", ANY).leak(Leak::Groups),
        page(M::GET, "/groups?q=secret", ANY).leak(Leak::Groups),
        page(M::POST, "/groups", ADMIN).body("name=n<n>"),
        page(M::GET, "/groups/<g>", SEE),
        page(M::POST, "/groups/<g>", WRITE).body("name=secret-g&description=d<n>"),
        page(M::GET, "/groups/<g>/delete", SEE),
        page(M::POST, "/groups/<v>/delete", MANAGE),
        page(M::GET, "/groups/<g>/all-members", SEE),
        page(M::GET, "/groups/<g>/tree", SEE),
        page(M::GET, "/groups/<g>/tree?up=1", SEE),
        page(M::POST, "/groups/<g>/members", ADD)
            .body("username=t&role=member")
            .undo(&[(DEL, "/v1/groups/<g>/members/<t>", None)]),
        page(M::POST, "/groups/<g>/memberships/<xm>/role", EDIT).body("role=member"),
        page(M::POST, "/groups/<g>/memberships/<xm>/permissions", EDIT)
            .body("add_members=on")
            .undo(&[(M::PATCH, "/v1/memberships/<xm>", Some(r#"{"permissions": {}}"#))]),
        page(M::POST, "/groups/<g>/members/<x>/remove", REMOVE)
            .undo(&[(PUT, "/v1/groups/<g>/members/<x>", Some("{}"))]),
        page(M::POST, "/groups/<g>/children", KIDS)
            .body("child=k")
            .undo(&[(DEL, "/v1/groups/<g>/children/<k>", None)]),
        page(M::POST, "/groups/<g>/children/<c>/remove", KIDS)
            .undo(&[(PUT, "/v1/groups/<g>/children/<c>", None)]),
        // A group's access on its page: shares as the API's; roles and
        // project roles for site admins (a stranger's refusal is the page's
        // 404: the page that would show it is not theirs to see).
        page(M::POST, "/groups/<g>/shares", MANAGE)
            .body("kind=user&grantee=t&level=read")
            .undo(&[(DEL, "/v1/groups/<g>/shares/users/<t>", None)]),
        page(M::POST, "/groups/<g>/shares/users/<y>/remove", MANAGE)
            .undo(&[(PUT, "/v1/groups/<g>/shares/users/<y>", Some(r#"{"level": "read"}"#))]),
        // (Earlier rows may leave G without R: the undo grants it again.)
        page(M::POST, "/groups/<g>/roles", SITE)
            .body("role=<vr>")
            .undo(&[(DEL, "/v1/groups/<g>/roles/<vr>", None), (PUT, "/v1/groups/<g>/roles/<r>", None)]),
        page(M::POST, "/groups/<g>/roles/<r>/remove", SITE).undo(&[(PUT, "/v1/groups/<g>/roles/<r>", None)]),
        page(M::POST, "/groups/<g>/projects", SITE)
            .body("project=P&role=R2")
            .undo(&[(PUT, "/v1/projects/<p>/groups/<g>", Some(r#"{"role": "R"}"#))]),
        page(M::POST, "/groups/<g>/projects/<p>/remove", SITE)
            .undo(&[(PUT, "/v1/projects/<p>/groups/<g>", Some(r#"{"role": "R"}"#))]),
        // Signing out answers everyone with the sign-in form and a cleared
        // cookie; `check` also sees that each session it ended is over (and
        // signs in again).
        page(M::POST, "/sign-out", "1 11111 1 111 1 111"),
    ]
}

/// How a front-end names things in paths and bodies.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Ids {
    Uuid,
    Num,
    Tagged,
}

fn ids_of(path: &str) -> Ids {
    if path.starts_with("/civis") || path.starts_with("/box") {
        Ids::Num
    } else if path.starts_with("/compliance") {
        Ids::Tagged
    } else {
        Ids::Uuid
    }
}

struct Fixture {
    http: reqwest::Client,
    keys: Vec<Option<String>>,
    /// Placeholder → native UUID (or name, for `<pn>`).
    uuid: HashMap<String, String>,
    /// (placeholder, id form) → id, dropped whenever state is restored.
    cache: HashMap<(String, Ids), String>,
    n: u64,
    /// The stranger's `/v1/groups` total.
    stranger_groups: i64,
    /// A client that shows redirects instead of following them.
    pages: reqwest::Client,
    /// Each caller's console session: (cookie, CSRF token).
    sessions: Vec<Option<(String, String)>>,
}

async fn ok(s: &TestServer, method: Method, path: &str, body: Value) -> Value {
    let r = s.call(method.clone(), path, Some(&s.admin), Some(body)).await;
    assert!(r.status.is_success(), "setup {method} {path}: {} {}", r.status, r.body);
    r.body
}

async fn key_of(s: &TestServer, user: &str) -> String {
    let b = ok(s, Method::POST, "/v1/keys", json!({ "user_id": user, "name": "k" })).await;
    b["key"].as_str().expect("key").to_owned()
}

const GROUP_ADMINS: [(&str, &str); 5] = [
    ("ga", "{}"),
    ("ga-add", r#"{"add_members": false}"#),
    ("ga-rm", r#"{"remove_members": false}"#),
    ("ga-edit", r#"{"edit_memberships": false}"#),
    ("ga-kids", r#"{"manage_children": false}"#),
];

impl Fixture {
    async fn new(s: &TestServer) -> Self {
        let mut f = Fixture {
            http: crate::harness::http(),
            keys: Vec::new(),
            uuid: HashMap::new(),
            cache: HashMap::new(),
            n: 0,
            stranger_groups: 0,
            pages: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
            sessions: Vec::new(),
        };
        for name in ["g", "k", "c", "z", "s"] {
            let id = s.group(if name == "g" { "secret-g" } else { name }).await;
            f.uuid.insert(name.into(), id);
        }
        for name in CALLERS.iter().skip(1).chain(["t", "x", "y"].iter()) {
            if *name == "none" {
                continue;
            }
            let id = s.user(name).await;
            f.uuid.insert((*name).into(), id);
        }
        let keys_needed: Vec<&str> = CALLERS.to_vec();
        for name in keys_needed {
            let key = match name {
                "admin" => Some(s.admin.clone()),
                "none" => None,
                _ => Some(key_of(s, &f.uuid[name]).await),
            };
            f.keys.push(key);
        }
        let g = f.uuid["g"].clone();
        f.relate(s, &g).await;
        for who in ["ga", "ga-add", "ga-rm", "ga-edit", "ga-kids", "mem", "rd", "wr", "mg"] {
            for group in ["k", "c"] {
                ok(s, PUT, &format!("/v1/groups/{}/members/{}", f.uuid[group], f.uuid[who]), json!({})).await;
            }
        }
        ok(s, PUT, &format!("/v1/groups/{g}/members/{}", f.uuid["x"]), json!({})).await;
        ok(s, PUT, &format!("/v1/groups/{g}/shares/users/{}", f.uuid["y"]), json!({ "level": "read" })).await;
        ok(s, PUT, &format!("/v1/groups/{g}/shares/groups/{}", f.uuid["z"]), json!({ "level": "read" })).await;
        ok(s, PUT, &format!("/v1/groups/{g}/children/{}", f.uuid["c"]), json!({})).await;
        ok(s, PUT, &format!("/v1/groups/{}/members/{}", f.uuid["s"], f.uuid["str"]), json!({})).await;
        let r = ok(s, Method::POST, "/v1/roles", json!({ "name": "R" })).await;
        f.uuid.insert("r".into(), r["id"].as_str().expect("id").into());
        ok(s, PUT, &format!("/v1/groups/{g}/roles/{}", f.uuid["r"]), json!({})).await;
        let o = ok(s, Method::POST, "/v1/organizations", json!({ "name": "O" })).await;
        f.uuid.insert("o".into(), o["id"].as_str().expect("id").into());
        let p = ok(s, Method::POST, "/v1/projects", json!({ "name": "P" })).await;
        f.uuid.insert("p".into(), p["id"].as_str().expect("id").into());
        ok(s, PUT, &format!("/v1/projects/{}/groups/{g}", f.uuid["p"]), json!({ "role": "R" })).await;
        ok(s, PUT, &format!("/v1/projects/{}/users/{}", f.uuid["p"], f.uuid["y"]), json!({ "role": "R" })).await;
        ok(
            s,
            Method::POST,
            "/iguazio/api/projects",
            json!({ "data": { "type": "project", "attributes": { "name": "jobbed" } } }),
        )
        .await;
        let jobbed =
            ok(s, DEL, "/iguazio/api/projects", json!({ "data": { "attributes": { "name": "jobbed" } } })).await;
        f.uuid.insert("job".into(), jobbed["data"]["id"].as_str().expect("job id").into());
        for (name, scope) in [("w", json!(g)), ("wu", Value::Null)] {
            let body = json!({ "url": "http://127.0.0.1:9/w", "group_id": scope, "enabled": false });
            let w = ok(s, Method::POST, "/v1/webhooks", body).await;
            f.uuid.insert(name.into(), w["id"].as_str().expect("webhook id").into());
        }
        // Console sessions, made while every key is valid and every user active.
        for key in f.keys.clone() {
            let session = match key {
                Some(k) => Some(sign_in(s, &f.pages, &k).await),
                None => None,
            };
            f.sessions.push(session);
        }
        // The revoked key and the inactive user.
        let revoked = s.get(&format!("/v1/keys?user_id={}", f.uuid["revoked"])).await;
        let key_id = revoked.body["items"][0]["id"].as_str().expect("key id").to_owned();
        ok(s, DEL, &format!("/v1/keys/{key_id}"), Value::Null).await;
        ok(s, Method::PATCH, &format!("/v1/users/{}", f.uuid["inactive"]), json!({ "active": false })).await;
        let mine = s.call(Method::GET, "/v1/groups", f.keys[10].as_deref(), None).await;
        f.stranger_groups = mine.body["total"].as_i64().expect("total");
        f
    }

    /// Gives `group` G's relations: the group admins, the member, the shares.
    async fn relate(&self, s: &TestServer, group: &str) {
        for (who, perms) in GROUP_ADMINS {
            let perms: Value = serde_json::from_str(perms).expect("json");
            let body = json!({ "role": "admin", "permissions": perms });
            ok(s, PUT, &format!("/v1/groups/{group}/members/{}", self.uuid[who]), body).await;
        }
        ok(s, PUT, &format!("/v1/groups/{group}/members/{}", self.uuid["mem"]), json!({})).await;
        for (who, level) in [("rd", "read"), ("wr", "write"), ("mg", "manage")] {
            let path = format!("/v1/groups/{group}/shares/users/{}", self.uuid[who]);
            ok(s, PUT, &path, json!({ "level": level })).await;
        }
    }

    /// The native id of a placeholder, making throw-away targets on demand.
    async fn native(&mut self, s: &TestServer, name: &str) -> String {
        if let Some(id) = self.uuid.get(name) {
            return id.clone();
        }
        self.n += 1;
        let n = self.n;
        let id = match name {
            "v" => {
                let id = s.group(&format!("victim-{n}")).await;
                self.relate(s, &id).await;
                id
            }
            "vu" => s.user(&format!("victim-{n}")).await,
            "vk" => {
                let b = ok(s, Method::POST, "/v1/keys", json!({ "user_id": self.uuid["t"], "name": "v" })).await;
                b["id"].as_str().expect("id").to_owned()
            }
            "vr" => ok(s, Method::POST, "/v1/roles", json!({ "name": format!("vr{n}") })).await["id"].to_string(),
            "vo" => {
                ok(s, Method::POST, "/v1/organizations", json!({ "name": format!("vo{n}") })).await["id"].to_string()
            }
            "vp" => ok(s, Method::POST, "/v1/projects", json!({ "name": format!("vp{n}") })).await["id"].to_string(),
            "vw" => {
                let body = json!({ "url": "http://127.0.0.1:9/v", "group_id": self.uuid["g"], "enabled": false });
                ok(s, Method::POST, "/v1/webhooks", body).await["id"].to_string()
            }
            "xm" => {
                let b = s.get(&format!("/v1/groups/{}/members?limit=1000", self.uuid["g"])).await.body;
                let items = b["items"].as_array().expect("items").clone();
                let x = &self.uuid["x"];
                let m = items.iter().find(|m| m["user"]["id"] == x.as_str()).expect("x in G");
                return m["membership"]["id"].as_str().expect("id").to_owned();
            }
            other => panic!("unknown placeholder <{other}>"),
        };
        let id = id.trim_matches('"').to_owned();
        self.uuid.insert(name.into(), id.clone());
        id
    }

    /// The id of a placeholder as the front-end of `path` writes it.
    async fn id(&mut self, s: &TestServer, name: &str, ids: Ids) -> String {
        if name == "n" {
            self.n += 1;
            return self.n.to_string();
        }
        if let Some(id) = self.cache.get(&(name.to_owned(), ids)) {
            return id.clone();
        }
        let uuid = self.native(s, name).await;
        let id = match ids {
            Ids::Uuid => uuid,
            Ids::Num => self.num(s, name, &uuid).await,
            Ids::Tagged => {
                let b = s.get("/compliance/v1/compliance/groups?limit=1000").await.body;
                let name = s.get(&format!("/v1/groups/{uuid}")).await.body["name"].clone();
                let g = b["data"].as_array().expect("data").iter().find(|g| g["name"] == name).cloned();
                g.expect("group in compliance list")["id"].as_str().expect("id").to_owned()
            }
        };
        self.cache.insert((name.to_owned(), ids), id.clone());
        id
    }

    /// The integer id Civis and Box show, found through Box as the admin.
    async fn num(&mut self, s: &TestServer, name: &str, uuid: &str) -> String {
        if name == "xm" {
            let g = Box::pin(self.id(s, "g", Ids::Num)).await;
            let b = s.get(&format!("/box/2.0/groups/{g}/memberships?limit=1000")).await.body;
            let m = b["entries"].as_array().expect("entries").iter().find(|m| m["user"]["login"] == "x").cloned();
            return m.expect("x in G")["id"].as_str().expect("id").to_owned();
        }
        let group = s.get(&format!("/v1/groups/{uuid}")).await;
        let (list, key, value) = if group.status.is_success() {
            ("groups", "name", group.body["name"].clone())
        } else {
            let user = s.get(&format!("/v1/users/{uuid}")).await.body;
            ("users", "login", user["username"].clone())
        };
        let term = value.as_str().expect("name").to_owned();
        let b = s.get(&format!("/box/2.0/{list}?filter_term={term}&limit=1000")).await.body;
        let entries = b["entries"].as_array().unwrap_or_else(|| panic!("no entries: {b}")).clone();
        let e = entries.iter().find(|e| e[key].as_str().is_some_and(|v| v.eq_ignore_ascii_case(&term)));
        e.unwrap_or_else(|| panic!("{term} not in {b}"))["id"].as_str().expect("id").to_owned()
    }

    /// `text` with each `<name>` replaced by its id in the front-end's form.
    async fn fill(&mut self, s: &TestServer, text: &str, ids: Ids) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find('<') {
            let Some(len) = rest[start..].find('>') else { break };
            out.push_str(&rest[..start]);
            let name = &rest[start + 1..start + len];
            out.push_str(&self.id(s, name, ids).await);
            rest = &rest[start + len + 1..];
        }
        out.push_str(rest);
        out
    }

    /// Forgets what a success used up or changed.
    fn consumed(&mut self, row: &Row) {
        for name in ["v", "vu", "vk", "vr", "vo", "vp", "vw", "xm"] {
            let tag = format!("<{name}>");
            if row.path.contains(&tag) || row.body.is_some_and(|b| b.contains(&tag)) || name == "xm" {
                self.uuid.remove(name);
                self.cache.retain(|(n, _), _| n != name);
            }
        }
    }
}

/// Signs in on the console with `key`: the session cookie and the
/// session's CSRF token (read from the overview's sign-out form).
async fn sign_in(s: &TestServer, http: &reqwest::Client, key: &str) -> (String, String) {
    let form = http.get(format!("{}/sign-in", s.base)).send().await.expect("sign-in form");
    let nonce_cookie = set_cookie(&form, "roster_sign_in");
    let html = form.text().await.expect("body");
    let nonce = hidden(&html, "nonce");
    let body = format!("key={}&nonce={nonce}", form_encode(key));
    let res = http
        .post(format!("{}/sign-in", s.base))
        .header("cookie", nonce_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("sign in");
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "sign in with {key}");
    let cookie = set_cookie(&res, "roster_session");
    let home = http.get(format!("{}/", s.base)).header("cookie", &cookie).send().await.expect("overview");
    let csrf = hidden(&home.text().await.expect("body"), "csrf");
    (cookie, csrf)
}

/// `name=value` of the response's `Set-Cookie` for `name`.
fn set_cookie(res: &reqwest::Response, name: &str) -> String {
    let prefix = format!("{name}=");
    let all = res.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok());
    let found = all.filter(|c| c.starts_with(&prefix)).find_map(|c| c.split(';').next());
    found.unwrap_or_else(|| panic!("no {name} cookie")).to_owned()
}

/// The value of the first hidden input named `name` in a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    html[at..].split('"').next().unwrap_or("").to_owned()
}

fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A console request as caller `i` (their session cookie, if any); a form
/// body gets the session's CSRF token unless `csrf` is false.
async fn send_page(s: &TestServer, f: &Fixture, method: Method, path: &str, i: usize, body: &str, csrf: bool) -> Reply {
    let mut req = f.pages.request(method.clone(), format!("{}{path}", s.base));
    let mut form = body.to_owned();
    if let Some((cookie, token)) = &f.sessions[i] {
        req = req.header("cookie", cookie);
        if csrf {
            form = if form.is_empty() { format!("csrf={token}") } else { format!("{form}&csrf={token}") };
        }
    }
    if method != Method::GET {
        req = req.header("content-type", "application/x-www-form-urlencoded").body(form);
    }
    // The page's text is the body, so that `leaks` reads what it shows.
    let res = req.send().await.expect("request");
    let (status, headers) = (res.status(), res.headers().clone());
    let text = res.text().await.expect("body");
    Reply { status, headers, raw_len: text.len(), body: Value::String(text) }
}

/// Whether a console answer is a trip to the sign-in page.
fn to_sign_in(r: &Reply) -> bool {
    r.status == StatusCode::SEE_OTHER
        && r.headers.get("location").and_then(|v| v.to_str().ok()).is_some_and(|l| l.starts_with("/sign-in"))
}

/// Runs one row as every caller and compares each status with its cell.
async fn check(s: &TestServer, f: &mut Fixture, row: &Row, failures: &mut Vec<String>) {
    let cells: Vec<char> = row.expect.chars().filter(|c| !c.is_whitespace()).collect();
    assert_eq!(cells.len(), CALLERS.len(), "{} {}: {} cells", row.method, row.path, cells.len());
    let ids = ids_of(row.path);
    if row.console && row.method == Method::POST && row.path != "/sign-in" {
        // Without the CSRF token, even the site admin's form is refused.
        let path = f.fill(s, row.path, ids).await;
        let body = f.fill(s, row.body.unwrap_or(""), ids).await;
        let r = send_page(s, f, row.method.clone(), &path, 0, &body, false).await;
        if r.status != StatusCode::FORBIDDEN {
            failures.push(format!("{} {} without the CSRF token: want 403, got {}", row.method, row.path, r.status));
        }
    }
    for (i, caller) in CALLERS.iter().enumerate() {
        let path = f.fill(s, row.path, ids).await;
        let r = if row.console {
            let body = f.fill(s, row.body.unwrap_or(""), ids).await;
            send_page(s, f, row.method.clone(), &path, i, &body, true).await
        } else {
            let body = match row.body {
                Some(b) => {
                    let text = f.fill(s, b, ids).await;
                    Some(serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{}: {e}: {text}", row.path)))
                }
                None => None,
            };
            let key = f.keys[i].clone();
            send(s, &f.http, row.method.clone(), &path, key.as_deref(), body).await
        };
        let got = r.status.as_u16();
        let fits = match cells[i] {
            '2' if row.console => r.status.is_success() || (r.status.is_redirection() && !to_sign_in(&r)),
            '1' if row.console => to_sign_in(&r),
            '2' => r.status.is_success(),
            '3' => got == 403,
            c => c.to_digit(10).is_some_and(|d| got == expected_status(d)),
        };
        if !fits {
            failures.push(format!("{} {} as {caller}: want {}, got {got} {}", row.method, row.path, cells[i], r.body));
        }
        if r.status.is_success() && *caller == "str" {
            leaks(f, row, &r.body, failures);
        }
        let done = r.status.is_success() || (row.console && r.status.is_redirection() && !to_sign_in(&r));
        if row.console && row.path == "/sign-out" && !matches!(*caller, "none" | "revoked" | "inactive") {
            // The session is over; a new one for the rows after this.
            let after = send_page(s, f, Method::GET, "/", i, "", false).await;
            if !to_sign_in(&after) {
                failures.push(format!("POST /sign-out as {caller}: the session goes on ({})", after.status));
            }
            let key = f.keys[i].clone().expect("a signed-in caller has a key");
            f.sessions[i] = Some(sign_in(s, &f.pages, &key).await);
        }
        if done && row.method != Method::GET {
            for (m, p, b) in row.undo {
                let p = f.fill(s, p, Ids::Uuid).await;
                let b = match b {
                    Some(b) => serde_json::from_str(&f.fill(s, b, Ids::Uuid).await).expect("undo json"),
                    None => Value::Null,
                };
                let undone = s.call(m.clone(), &p, Some(&s.admin), Some(b)).await;
                assert!(undone.status.is_success(), "undo {m} {p}: {}", undone.body);
            }
            f.consumed(row);
        }
    }
}

/// Sends a request with `key` in the header form the path's front-end reads.
async fn send(
    s: &TestServer,
    http: &reqwest::Client,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut req = http.request(method, format!("{}{path}", s.base));
    if let Some(k) = key {
        req = if path.starts_with("/posit") {
            req.header("authorization", format!("Key {k}"))
        } else if path.starts_with("/civis") {
            req.basic_auth(k, None::<&str>)
        } else if path.starts_with("/compliance") {
            req.header("x-api-key", k)
        } else if path.starts_with("/iguazio") {
            req.header("cookie", format!("session=j%3A%7B%22sid%22%3A%22{k}%22%7D"))
        } else {
            req.bearer_auth(k)
        };
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    Reply::read(req).await
}

fn expected_status(digit: u32) -> u16 {
    match digit {
        0 => 400,
        1 => 401,
        4 => 404,
        5 => 501,
        9 => 409,
        d => panic!("no status for cell {d}"),
    }
}

/// What the stranger got must not name or count the private group.
fn leaks(f: &Fixture, row: &Row, body: &Value, failures: &mut Vec<String>) {
    let text = body.to_string();
    let what = format!("{} {} as str", row.method, row.path);
    match row.leak {
        Leak::None => {}
        Leak::Groups => {
            if text.contains("secret-g") || text.contains(&f.uuid["g"]) {
                failures.push(format!("{what}: names the private group: {text}"));
            }
            for count in counts(body) {
                if count > f.stranger_groups.max(1) {
                    failures.push(format!("{what}: counts {count} > {}: {text}", f.stranger_groups));
                }
            }
        }
        Leak::Members => {
            if text.contains("\"x\"") || text.contains("\"mem\"") || text.contains("ga-add") {
                failures.push(format!("{what}: lists the private group's members: {text}"));
            }
            for count in counts(body) {
                if count > 0 {
                    failures.push(format!("{what}: counts {count} members: {text}"));
                }
            }
        }
    }
}

/// Every total a list body carries, whatever the dialect calls it.
fn counts(body: &Value) -> Vec<i64> {
    let mut out = Vec::new();
    if let Value::Object(map) = body {
        for k in ["total", "total_count", "totalResults", "count"] {
            if let Some(n) = map.get(k).and_then(Value::as_i64) {
                out.push(n);
            }
        }
        if let Some(n) = body.pointer("/meta/total_count").and_then(Value::as_i64) {
            out.push(n);
        }
    }
    out
}

/// A row's route: its path with placeholders as `{}` and no query.
fn template(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    path.split('/').map(|seg| if seg.starts_with('<') { "{}" } else { seg }).collect::<Vec<_>>().join("/")
}

/// A mounted route with its parameters as `{}`.
fn normalise(path: &str) -> String {
    path.split('/').map(|seg| if seg.starts_with('{') { "{}" } else { seg }).collect::<Vec<_>>().join("/")
}

/// Whether a row's path fits a mounted template (a row may name a literal
/// where the route has a parameter, like `/scim/v2/Schemas/urn:…`).
fn fits(row: &str, route: &str) -> bool {
    let (a, b): (Vec<&str>, Vec<&str>) = (row.split('/').collect(), route.split('/').collect());
    a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x == y || *y == "{}")
}

/// The table lists every route the server mounts, and nothing else.
#[test]
fn the_table_covers_every_route() {
    // The console's routes are in it too (`page` rows), each one of them.
    let console: BTreeSet<(String, String)> = roster_server::console::routes()
        .list()
        .into_iter()
        .map(|r| (r.method.to_string(), normalise(&r.path)))
        .collect();
    let mounted: BTreeSet<(String, String)> =
        roster_server::routes().into_iter().map(|(m, p)| (m.to_string(), normalise(&p))).collect();
    assert!(console.is_subset(&mounted), "the console's routes are mounted");
    let rows: Vec<(String, String)> = table().iter().map(|r| (r.method.to_string(), template(r.path))).collect();
    // A literal segment wins over a parameter, as in the router.
    let route_of = |(m, p): &(String, String)| {
        let exact = mounted.iter().find(|(rm, rp)| rm == m && rp == p);
        exact.or_else(|| mounted.iter().find(|(rm, rp)| rm == m && fits(p, rp))).cloned()
    };
    let mut missing: Vec<String> = Vec::new();
    let covered: BTreeSet<(String, String)> = rows.iter().filter_map(route_of).collect();
    for r in &rows {
        if route_of(r).is_none() {
            missing.push(format!("row without a route: {} {}", r.0, r.1));
        }
    }
    for r in mounted.difference(&covered) {
        missing.push(format!("route without a row: {} {}", r.0, r.1));
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

async fn authorization_table(s: TestServer) {
    let mut f = Fixture::new(&s).await;
    let mut failures = Vec::new();
    for row in table() {
        check(&s, &mut f, &row, &mut failures).await;
    }
    assert!(failures.is_empty(), "{} cells differ:\n{}", failures.len(), failures.join("\n"));
}

/// `Authorization` forms each front-end does not take are 401s, never a
/// way in; and every refusal carries the front-end's error body.
async fn keys_belong_to_their_users(s: TestServer) {
    let (_, alice) = s.user_with_key("alice").await;
    let (bob, _) = s.user_with_key("bob").await;
    let r = s.call(Method::POST, "/v1/keys", Some(&alice), Some(json!({ "user_id": bob, "name": "steal" }))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for header in ["Basic YWxpY2U6eA==", "Bearer ", "Bearer rst_nope", "Key rst_nope"] {
        let res = crate::harness::http()
            .get(format!("{}/v1/me", s.base))
            .header("authorization", header)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{header}");
        assert!(res.headers().contains_key("www-authenticate"));
    }
}

crate::on_every_store!(authorization_table, keys_belong_to_their_users);
