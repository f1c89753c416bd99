//! The native API end to end: each resource through create, read, change,
//! list and delete, with counters and events checked along the way.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::TestServer;

async fn users_crud_with_etags(s: TestServer) {
    let r =
        s.post("/v1/users", json!({ "username": "Alice", "email": "alice@example.com", "first_name": "Alice" })).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.id();
    assert_eq!(r.body["site_role"], "user");
    assert_eq!(r.body["version"], 1);

    let r = s.get(&format!("/v1/users/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["etag"], "W/\"1\"");
    assert_eq!(r.body["email"], "alice@example.com");

    // Usernames are unique ignoring case.
    let r = s.post("/v1/users", json!({ "username": "alice" })).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.field(), Some("username"));

    // PATCH: absent fields stay, null clears.
    let r = s.patch(&format!("/v1/users/{id}"), json!({ "email": null, "last_name": "Liddell" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["email"], serde_json::Value::Null);
    assert_eq!(r.body["first_name"], "Alice");
    assert_eq!(r.body["last_name"], "Liddell");
    assert_eq!(r.body["version"], 2);

    // A stale If-Match is refused, a fresh one accepted.
    let stale = s
        .http_with_header(
            Method::PATCH,
            &format!("/v1/users/{id}"),
            "if-match",
            "W/\"1\"",
            json!({ "first_name": "A" }),
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let fresh = s
        .http_with_header(
            Method::PATCH,
            &format!("/v1/users/{id}"),
            "if-match",
            "W/\"2\"",
            json!({ "first_name": "A" }),
        )
        .await;
    assert_eq!(fresh.status, StatusCode::OK);

    // Prefix and substring search ignore case.
    s.user("bob").await;
    s.user("alfred").await;
    let r = s.get("/v1/users?prefix=AL").await;
    let names: Vec<_> = r.body["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["alfred", "Alice"]);
    assert_eq!(r.body["total"], 2);
    let r = s.get("/v1/users?q=LIC").await;
    assert_eq!(r.body["total"], 1);
    let r = s.get("/v1/users?q=ddel").await;
    assert_eq!(r.body["total"], 1, "a piece of the last name");
    assert_eq!(s.get("/v1/users").await.body["total"], 4, "admin + 3");

    assert_eq!(s.delete(&format!("/v1/users/{id}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(s.get(&format!("/v1/users/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(s.get("/v1/users").await.body["total"], 3);
}

async fn the_last_admin_stays(s: TestServer) {
    let me = s.get("/v1/me").await;
    let id = me.id();
    let r = s.patch(&format!("/v1/users/{id}"), json!({ "site_role": "user" })).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(s.delete(&format!("/v1/users/{id}")).await.status, StatusCode::CONFLICT);
}

async fn groups_members_and_counts(s: TestServer) {
    let g = s.group("Engineering").await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;

    let r = s.call(Method::PUT, &format!("/v1/groups/{g}/members/{alice}"), Some(&s.admin), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["role"], "member");
    let membership = r.id();
    // Idempotent: the same PUT again changes nothing.
    let again = s.call(Method::PUT, &format!("/v1/groups/{g}/members/{alice}"), Some(&s.admin), None).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.id(), membership);

    let r = s
        .put(
            &format!("/v1/groups/{g}/members/{bob}"),
            json!({ "role": "admin", "permissions": { "remove_members": false } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["permissions"]["remove_members"], false);

    let group = s.get(&format!("/v1/groups/{g}")).await.body;
    assert_eq!((group["member_count"].as_i64(), group["admin_count"].as_i64()), (Some(2), Some(1)));

    let members = s.get(&format!("/v1/groups/{g}/members")).await.body;
    assert_eq!(members["total"], 2);
    assert_eq!(members["items"][0]["user"]["username"], "alice");
    assert_eq!(members["items"][1]["membership"]["role"], "admin");

    let groups_of_alice = s.get(&format!("/v1/users/{alice}/groups")).await.body;
    assert_eq!(groups_of_alice["total"], 1);
    assert_eq!(groups_of_alice["items"][0]["group"]["name"], "Engineering");

    // Membership by id: read, demote, delete.
    assert_eq!(s.get(&format!("/v1/memberships/{membership}")).await.body["user_id"], alice.as_str());
    let bobs = s.get(&format!("/v1/groups/{g}/members")).await.body["items"][1]["membership"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s.patch(&format!("/v1/memberships/{bobs}"), json!({ "role": "member" })).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(s.get(&format!("/v1/groups/{g}")).await.body["admin_count"], 0);
    assert_eq!(s.delete(&format!("/v1/memberships/{bobs}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(s.delete(&format!("/v1/groups/{g}/members/{alice}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(s.delete(&format!("/v1/groups/{g}/members/{alice}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(s.get(&format!("/v1/groups/{g}")).await.body["member_count"], 0);

    // Deleting a user keeps counters exact.
    s.put(&format!("/v1/groups/{g}/members/{alice}"), json!({ "role": "admin" })).await;
    s.delete(&format!("/v1/users/{alice}")).await;
    let group = s.get(&format!("/v1/groups/{g}")).await.body;
    assert_eq!((group["member_count"].as_i64(), group["admin_count"].as_i64()), (Some(0), Some(0)));
}

async fn group_names_are_unique_ignoring_case_and_patchable(s: TestServer) {
    let g = s.group("Data Science").await;
    let r = s.post("/v1/groups", json!({ "name": "DATA SCIENCE" })).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.field(), Some("name"));
    let r =
        s.patch(&format!("/v1/groups/{g}"), json!({ "description": "models", "attributes": { "tz": "UTC" } })).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["attributes"]["tz"], "UTC");
    assert_eq!(r.body["slug"], "data-science");
    let r = s.patch(&format!("/v1/groups/{g}"), json!({ "attributes": { "tz": null } })).await;
    assert_eq!(r.body["attributes"], json!({}));
    s.group("Design").await;
    let r = s.get("/v1/groups?prefix=d&limit=1").await;
    assert_eq!(r.body["total"], 2);
    assert_eq!(r.body["items"][0]["name"], "Data Science");
    let next = r.body["next_cursor"].as_str().unwrap().to_owned();
    let r = s.get(&format!("/v1/groups?prefix=d&limit=1&cursor={next}")).await;
    assert_eq!(r.body["items"][0]["name"], "Design");
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
    assert_eq!(s.delete(&format!("/v1/groups/{g}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(s.get("/v1/groups").await.body["total"], 1);
}

async fn nesting_refuses_cycles(s: TestServer) {
    let (a, b, c) = (s.group("a").await, s.group("b").await, s.group("c").await);
    let put = |p: &str, c: &str| format!("/v1/groups/{p}/children/{c}");
    assert_eq!(s.call(Method::PUT, &put(&a, &b), Some(&s.admin), None).await.status, StatusCode::CREATED);
    assert_eq!(s.call(Method::PUT, &put(&b, &c), Some(&s.admin), None).await.status, StatusCode::CREATED);
    assert_eq!(s.call(Method::PUT, &put(&a, &b), Some(&s.admin), None).await.status, StatusCode::OK, "idempotent");
    for (p, ch) in [(&c, &a), (&b, &a), (&a, &a), (&c, &b)] {
        let r = s.call(Method::PUT, &put(p, ch), Some(&s.admin), None).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{p} <- {ch}");
        assert_eq!(r.field(), Some("child_id"));
    }
    // A diamond is fine: a → c directly as well as through b.
    assert_eq!(s.call(Method::PUT, &put(&a, &c), Some(&s.admin), None).await.status, StatusCode::CREATED);
    let children = s.get(&format!("/v1/groups/{a}/children")).await.body;
    assert_eq!(children["total"], 2);
    assert_eq!(children["items"][0]["group"]["name"], "b");
    assert_eq!(s.get(&format!("/v1/groups/{a}")).await.body["child_count"], 2);
    assert_eq!(s.delete(&put(&a, &b)).await.status, StatusCode::NO_CONTENT);
    // Deleting a child group keeps the parent's counter exact.
    s.delete(&format!("/v1/groups/{c}")).await;
    assert_eq!(s.get(&format!("/v1/groups/{a}")).await.body["child_count"], 0);
}

async fn roles_orgs_projects_shares(s: TestServer) {
    let g = s.group("ops").await;

    let role = s.post("/v1/roles", json!({ "name": "auditor", "description": "reads logs" })).await;
    assert_eq!(role.status, StatusCode::CREATED);
    let role = role.id();
    assert_eq!(s.post("/v1/roles", json!({ "name": "AUDITOR" })).await.status, StatusCode::CONFLICT);
    assert_eq!(
        s.call(Method::PUT, &format!("/v1/groups/{g}/roles/{role}"), Some(&s.admin), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(s.get(&format!("/v1/groups/{g}/roles")).await.body, json!([role]));
    assert_eq!(s.patch(&format!("/v1/roles/{role}"), json!({ "name": "auditors" })).await.body["name"], "auditors");
    assert_eq!(s.get("/v1/roles").await.body["total"], 1);
    assert_eq!(s.delete(&format!("/v1/roles/{role}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(s.get(&format!("/v1/groups/{g}/roles")).await.body, json!([]));

    let org = s.post("/v1/organizations", json!({ "name": "Acme Corp" })).await;
    assert_eq!(org.status, StatusCode::CREATED);
    assert_eq!(org.body["slug"], "acme-corp");
    let org = org.id();
    assert_eq!(s.get("/v1/organizations").await.body["total"], 2, "default + acme");
    let project = s.post("/v1/projects", json!({ "name": "atlas", "organization_id": org })).await;
    assert_eq!(project.status, StatusCode::CREATED);
    let project = project.id();
    assert_eq!(
        s.delete(&format!("/v1/organizations/{org}")).await.status,
        StatusCode::CONFLICT,
        "still holds a project"
    );

    let r = s.put(&format!("/v1/projects/{project}/groups/{g}"), json!({ "role": "editor" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    s.put(&format!("/v1/projects/{project}/groups/{g}"), json!({ "role": "viewer" })).await;
    let bindings = s.get(&format!("/v1/projects/{project}/bindings")).await.body;
    assert_eq!(bindings["total"], 1);
    assert_eq!(bindings["items"][0]["role"], "viewer");
    let dave = s.user("dave").await;
    let r = s.put(&format!("/v1/projects/{project}/users/{dave}"), json!({ "role": "admin" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["user_id"], dave.to_string());
    assert!(r.body["group_id"].is_null());
    let bindings = s.get(&format!("/v1/projects/{project}/bindings")).await.body;
    assert_eq!(bindings["total"], 2, "a user and a group");
    assert_eq!(s.delete(&format!("/v1/projects/{project}/users/{dave}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(s.delete(&format!("/v1/projects/{project}/users/{dave}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(s.delete(&format!("/v1/projects/{project}/groups/{g}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(s.delete(&format!("/v1/projects/{project}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(s.delete(&format!("/v1/organizations/{org}")).await.status, StatusCode::NO_CONTENT);

    let carol = s.user("carol").await;
    let r = s.put(&format!("/v1/groups/{g}/shares/users/{carol}"), json!({ "level": "read" })).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = s.put(&format!("/v1/groups/{g}/shares/users/{carol}"), json!({ "level": "manage" })).await;
    assert_eq!(r.body["level"], "manage");
    let other = s.group("platform").await;
    s.put(&format!("/v1/groups/{g}/shares/groups/{other}"), json!({ "level": "write" })).await;
    let shares = s.get(&format!("/v1/groups/{g}/shares")).await.body;
    assert_eq!(shares["total"], 2);
    assert_eq!(s.delete(&format!("/v1/groups/{g}/shares/users/{carol}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(s.delete(&format!("/v1/groups/{g}/shares/users/{carol}")).await.status, StatusCode::NOT_FOUND);
}

async fn keys_are_shown_once_and_revocable(s: TestServer) {
    let (dave, key) = s.user_with_key("dave").await;
    assert!(key.starts_with("rst_"));
    let me = s.call(Method::GET, "/v1/me", Some(&key), None).await;
    assert_eq!(me.body["username"], "dave");
    let keys = s.call(Method::GET, "/v1/keys", Some(&key), None).await.body;
    assert_eq!(keys["total"], 1);
    assert!(keys["items"][0].get("key").is_none(), "the secret is never listed");
    assert_eq!(keys["items"][0]["user_id"], dave.as_str());
    let kid = keys["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        s.call(Method::DELETE, &format!("/v1/keys/{kid}"), Some(&key), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(s.call(Method::GET, "/v1/me", Some(&key), None).await.status, StatusCode::UNAUTHORIZED);
    // Deactivated users cannot authenticate.
    let (eve, eve_key) = s.user_with_key("eve").await;
    s.patch(&format!("/v1/users/{eve}"), json!({ "active": false })).await;
    assert_eq!(s.call(Method::GET, "/v1/me", Some(&eve_key), None).await.status, StatusCode::UNAUTHORIZED);
}

async fn every_write_lands_in_the_change_feed(s: TestServer) {
    let start = s.get("/v1/events?limit=1000").await.body;
    let after = start["items"].as_array().unwrap().last().unwrap()["seq"].as_i64().unwrap();
    let g = s.group("feed").await;
    let u = s.user("frank").await;
    s.put(&format!("/v1/groups/{g}/members/{u}"), json!({})).await;
    s.delete(&format!("/v1/groups/{g}/members/{u}")).await;
    // A failed write leaves no event.
    assert_eq!(s.post("/v1/groups", json!({ "name": "FEED" })).await.status, StatusCode::CONFLICT);
    let feed = s.get(&format!("/v1/events?after={after}")).await.body;
    let actions: Vec<_> = feed["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["group.created", "user.created", "membership.created", "membership.deleted"]);
    let seqs: Vec<_> = feed["items"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    let page = s.get(&format!("/v1/events?after={after}&limit=2")).await.body;
    assert_eq!(page["next_cursor"], seqs[1].to_string());
}

async fn operational_endpoints(s: TestServer) {
    let health = s.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.body["status"], "ok");
    let api = s.call(Method::GET, "/openapi.json", None, None).await.body;
    assert!(api["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in ["/v1/users", "/v1/groups/{id}/members/{user_id}", "/v1/events", "/v1/keys"] {
        assert!(api["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
    }
    s.get("/v1/users").await;
    // A method no standard names is counted under one label, not its own.
    let odd = reqwest::Method::from_bytes(b"FROBNICATE").unwrap();
    let r = crate::harness::http().request(odd, format!("{}/v1/users", s.base)).send().await.unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let metrics = crate::harness::http().get(format!("{}/metrics", s.base)).send().await.unwrap().text().await.unwrap();
    let line = |method: &str, status: u16| {
        format!(r#"roster_http_requests_total{{method="{method}",route="/v1/users",status="{status}"}}"#)
    };
    assert!(metrics.contains(&line("GET", 200)), "{metrics}");
    assert!(metrics.contains(&line("other", 405)), "{metrics}");
    assert!(!metrics.contains("FROBNICATE"), "{metrics}");
    let r = s.get("/v1/nothing-here").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["code"], "not_found");
    assert!(r.headers.contains_key("x-request-id"));
}

crate::on_every_store!(
    users_crud_with_etags,
    the_last_admin_stays,
    groups_members_and_counts,
    group_names_are_unique_ignoring_case_and_patchable,
    nesting_refuses_cycles,
    roles_orgs_projects_shares,
    keys_are_shown_once_and_revocable,
    every_write_lands_in_the_change_feed,
    operational_endpoints,
);
