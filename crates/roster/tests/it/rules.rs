//! Rules that every front-end shares, each decided once in the core: share
//! levels of site admins, attribute changes that merge, version checks in
//! the transaction that acts, lists that are never cut short, store errors
//! that stay errors, acting as another user, the all-users group, and jobs
//! recorded with the change they record.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Reply, TestServer};

const SCIM_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

fn names(r: &Reply) -> Vec<String> {
    r.body
        .as_array()
        .map(|a| a.iter().filter_map(|g| g["name"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

async fn civis_groups(s: &TestServer, key: &str, query: &str) -> Vec<String> {
    let r = s.send(Method::GET, &format!("/civis/groups?{query}"), &[("authorization", &bearer(key))], None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    names(&r)
}

/// A site admin holds every share level on every group; a share holder
/// sees the groups at or above the level asked.
async fn civis_permission_filter_counts_site_admins(s: TestServer) {
    let g = s.group("Made-By-Admin").await;
    let (u, key) = s.user_with_key("reader").await;
    for level in ["read", "write", "manage"] {
        let listed = civis_groups(&s, &s.admin, &format!("permission={level}")).await;
        assert_eq!(listed, ["Made-By-Admin"], "site admin, permission={level}");
    }
    let share = s.put(&format!("/v1/groups/{g}/shares/users/{u}"), json!({ "level": "write" })).await;
    assert!(share.status.is_success(), "{}", share.body);
    assert_eq!(civis_groups(&s, &key, "permission=read").await, ["Made-By-Admin"]);
    assert_eq!(civis_groups(&s, &key, "permission=write").await, ["Made-By-Admin"]);
    assert!(civis_groups(&s, &key, "permission=manage").await.is_empty());
}

/// Two front-ends' updates of different profile fields of one user, sent
/// at the same time, both survive (the core merges into the row it locks).
async fn concurrent_profile_updates_keep_both(s: TestServer) {
    let created = s.post("/box/2.0/users", json!({ "login": "pat@example.com", "name": "Pat" })).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().expect("box id").to_owned();
    let path = format!("/box/2.0/users/{id}");
    for round in 0..12 {
        let title = format!("title-{round}");
        let phone = format!("555-{round:04}");
        let (a, b) =
            tokio::join!(s.put(&path, json!({ "job_title": title })), s.put(&path, json!({ "phone": phone })),);
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_eq!(b.status, StatusCode::OK, "{}", b.body);
        let now = s.get(&format!("{path}?fields=job_title,phone")).await;
        assert_eq!(now.body["job_title"], title, "round {round}: {}", now.body);
        assert_eq!(now.body["phone"], phone, "round {round}: {}", now.body);
    }
}

async fn scim_user(s: &TestServer, name: &str) -> String {
    let r = s.post("/scim/v2/Users", json!({ "schemas": [SCIM_USER], "userName": name })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.id()
}

/// `DELETE` with `If-Match` checks the version in the transaction that
/// deletes: a stale version is refused with nothing deleted, and a write
/// that lands between a check and the delete can never be lost.
async fn scim_conditional_delete_is_one_step(s: TestServer) {
    let u = scim_user(&s, "deleted-once").await;
    let stale =
        s.http_with_header(Method::DELETE, &format!("/scim/v2/Users/{u}"), "if-match", "W/\"7\"", json!({})).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED, "{}", stale.body);
    assert_eq!(s.get(&format!("/scim/v2/Users/{u}")).await.status, StatusCode::OK);
    let g = s
        .post(
            "/scim/v2/Groups",
            json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Once" }),
        )
        .await;
    let g = g.id();
    let stale =
        s.http_with_header(Method::DELETE, &format!("/scim/v2/Groups/{g}"), "if-match", "W/\"9\"", json!({})).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED, "{}", stale.body);
    assert_eq!(s.get(&format!("/scim/v2/Groups/{g}")).await.status, StatusCode::OK);

    // Races: a PATCH that moves the version against a DELETE pinned to the
    // version before it. Never may both succeed.
    let patch = json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "replace", "path": "displayName", "value": "moved" }] });
    for round in 0..10 {
        let u = scim_user(&s, &format!("raced-{round}")).await;
        let path = format!("/scim/v2/Users/{u}");
        let (p, d) = tokio::join!(
            s.patch(&path, patch.clone()),
            s.http_with_header(Method::DELETE, &path, "if-match", "W/\"1\"", json!({})),
        );
        let both = p.status == StatusCode::OK && d.status == StatusCode::NO_CONTENT;
        assert!(!both, "round {round}: the PATCH and the DELETE pinned before it both succeeded");
    }
}

/// A user in more groups than one page holds sees every one of them in
/// SCIM's `groups` and in Civis's user rendering.
async fn a_users_groups_are_never_cut_short(s: TestServer) {
    const N: usize = 1005;
    let mut records = vec![json!({ "type": "user", "username": "joiner" })];
    for i in 0..N {
        records.push(json!({ "type": "group", "name": format!("many-{i:04}") }));
        records.push(json!({ "type": "member", "group": format!("many-{i:04}"), "user": "joiner" }));
    }
    let r = s.post("/v1/import", json!({ "records": records })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let users = s.get("/v1/users?prefix=joiner").await;
    let id = users.body["items"][0]["id"].as_str().expect("user").to_owned();
    let scim = s.get(&format!("/scim/v2/Users/{id}")).await;
    assert_eq!(scim.body["groups"].as_array().map(Vec::len), Some(N), "SCIM groups");
    let civis = s.get("/civis/users?query=joiner").await;
    let num = civis.body[0]["id"].as_i64().expect("civis id");
    let civis = s.get(&format!("/civis/users/{num}")).await;
    assert_eq!(civis.body["groups"].as_array().map(Vec::len), Some(N), "Civis groups");
}

/// A failing store is an error in the front-end's format, never "not
/// found", "not visible" or an empty list.
async fn store_failures_are_not_absence(s: TestServer) {
    // A server without an index reads the store for every list.
    let plain = s.twin(false).await;
    let g = s.group("Shared").await;
    let (u, key) = s.user_with_key("member").await;
    let joined = s.put(&format!("/v1/groups/{g}/members/{u}"), json!({})).await;
    assert_eq!(joined.status, StatusCode::CREATED);
    let membership = joined.id();
    // Lists of visible groups read the shares table from the store; with
    // the index they, a group and a membership by id are answered from
    // memory (no store read to fail).
    s.break_table("shares").await;
    let auth = bearer(&key);
    let get = |server: &'static str, path: String| {
        let auth = auth.clone();
        let at = if server == "plain" { &plain } else { &s };
        async move { at.send(Method::GET, &path, &[("authorization", &auth)], None).await }
    };
    let r = get("plain", "/v1/groups".into()).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "native: {}", r.body);
    let r = get("plain", "/civis/groups".into()).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "civis: {}", r.body);
    assert!(r.body["error"].is_string(), "civis error body: {}", r.body);
    let r = get("plain", "/scim/v2/Groups".into()).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "scim: {}", r.body);
    for path in ["/v1/groups", "/civis/groups", "/scim/v2/Groups"] {
        let r = get("indexed", path.into()).await;
        assert_eq!(r.status, StatusCode::OK, "{path}, from the index: {}", r.body);
    }
    let r = get("indexed", format!("/v1/groups/{g}")).await;
    assert_eq!((r.status, r.body["id"].as_str()), (StatusCode::OK, Some(g.as_str())), "from the index: {}", r.body);
    // A membership of a group the caller could see, by id.
    let r = get("indexed", format!("/v1/memberships/{membership}")).await;
    assert_eq!(r.status, StatusCode::OK, "membership, from the index: {}", r.body);
}

/// `As-User` makes a Box call as that user when a site admin sends it, and
/// is refused otherwise: it is never silently ignored.
async fn box_as_user_acts_as_that_user(s: TestServer) {
    let created = s.post("/box/2.0/users", json!({ "login": "sam@example.com", "name": "Sam" })).await;
    let sam = created.body["id"].as_str().expect("box id").to_owned();
    let admin = bearer(&s.admin);
    let me = s.send(Method::GET, "/box/2.0/users/me", &[("authorization", &admin), ("as-user", &sam)], None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["id"], sam.as_str());
    assert_eq!(me.body["login"], "sam@example.com");
    // Acting as a plain user, the admin's rights are gone.
    let r = s
        .send(
            Method::POST,
            "/box/2.0/groups",
            &[("authorization", &admin), ("as-user", &sam)],
            Some(json!({ "name": "X" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // A plain user may not act as anyone else.
    let (_, key) = s.user_with_key("plain").await;
    let plain = bearer(&key);
    let r = s.send(Method::GET, "/box/2.0/users/me", &[("authorization", &plain), ("as-user", &sam)], None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.body["type"], "error", "{}", r.body);
    for bad in ["not-a-number", "999999"] {
        let r = s.send(Method::GET, "/box/2.0/users/me", &[("authorization", &admin), ("as-user", bad)], None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
    }
    // Sam may change his own name; the change log names the admin who acted.
    let r = s
        .send(
            Method::PUT,
            &format!("/box/2.0/users/{sam}"),
            &[("authorization", &admin), ("as-user", &sam)],
            Some(json!({ "name": "Sam Acted" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let admin_id = s.get("/v1/me").await.id();
    let events = s.get("/v1/events?limit=1000").await;
    let last = events.body["items"].as_array().and_then(|a| a.last()).cloned().unwrap_or(Value::Null);
    assert_eq!(last["action"], "user.updated", "{last}");
    assert_eq!(last["actor"], admin_id.as_str(), "{last}");
}

/// The all-users group is refused every change through every front-end,
/// by the core; users belong to the default organization only.
async fn all_users_group_and_organizations(s: TestServer) {
    const ALL_USERS: &str = "00000000-0000-7000-8000-0000000000a1";
    let u = s.user("someone").await;
    let r = s.put(&format!("/v1/groups/{ALL_USERS}/members/{u}"), json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = s.patch(&format!("/v1/groups/{ALL_USERS}"), json!({ "name": "renamed" })).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = s.delete(&format!("/v1/groups/{ALL_USERS}")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = s.delete(&format!("/iguazio/api/user_groups/{ALL_USERS}")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    // The default organization is the first (number 1); "Elsewhere" the second.
    let other = s.post("/v1/organizations", json!({ "name": "Elsewhere" })).await;
    assert!(other.status.is_success(), "{}", other.body);
    let listed = s.get("/civis/users?organization_id=1").await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(2), "{}", listed.body);
    for n in [2, 999_999] {
        let listed = s.get(&format!("/civis/users?organization_id={n}")).await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
        assert_eq!(listed.body, json!([]), "organization {n} has no users");
    }
    let external = s.get("/box/2.0/users?user_type=external").await;
    assert_eq!(external.body["total_count"], 0, "{}", external.body);
    let all = s.get("/box/2.0/users?user_type=all").await;
    assert_eq!(all.body["total_count"], 2, "{}", all.body);
}

/// A deletion that a platform records as a job is one transaction with its
/// record: when the record cannot be written, nothing is deleted.
async fn deletion_and_its_job_are_one_transaction(s: TestServer) {
    let u = s.user("kept").await;
    let g = s.group("Kept").await;
    s.break_table("jobs").await;
    let r = s.delete(&format!("/iguazio/api/users/{u}")).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.body);
    assert_eq!(s.get(&format!("/v1/users/{u}")).await.status, StatusCode::OK, "the user was deleted without its job");
    let r = s.delete(&format!("/iguazio/api/user_groups/{g}")).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.body);
    assert_eq!(s.get(&format!("/v1/groups/{g}")).await.status, StatusCode::OK, "the group was deleted without its job");
}

/// Locking and unlocking a Posit user leaves the `updated_time` Posit
/// clients read back, as Connect does; a profile change moves it.
async fn posit_lock_keeps_updated_time(s: TestServer) {
    let u = s.user("lockable").await;
    let key = format!("Key {}", s.admin);
    let (user_path, auth) = (format!("/posit/__api__/v1/users/{u}"), [("authorization", key.as_str())]);
    let read = || s.send(Method::GET, &user_path, &auth, None);
    let before = read().await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    for locked in [true, false] {
        let path = format!("/posit/__api__/v1/users/{u}/lock");
        let r = s.send(Method::POST, &path, &[("authorization", &key)], Some(json!({ "locked": locked }))).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        let after = read().await;
        assert_eq!(after.body["locked"], locked, "{}", after.body);
        assert_eq!(after.body["updated_time"], before.body["updated_time"], "lock={locked}");
    }
    assert_eq!(s.patch(&format!("/v1/users/{u}"), json!({ "email": "l@example.com" })).await.status, StatusCode::OK);
    assert_ne!(read().await.body["updated_time"], before.body["updated_time"], "a profile change moves it");
}

crate::on_every_store!(
    posit_lock_keeps_updated_time,
    civis_permission_filter_counts_site_admins,
    concurrent_profile_updates_keep_both,
    scim_conditional_delete_is_one_step,
    a_users_groups_are_never_cut_short,
    store_failures_are_not_absence,
    box_as_user_acts_as_that_user,
    all_users_group_and_organizations,
    deletion_and_its_job_are_one_transaction,
);
