//! Nothing half-applied, and input refused rather than half-read: a request
//! of many changes is one transaction; the last site admin stays whatever
//! path a write takes; a body is one JSON value and nothing after it; a
//! permission is one Roster knows.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::TestServer;

/// `POST /iguazio/api/async_transactions` whose second request names an
/// unknown project changes nothing at all.
async fn iguazio_async_transaction_is_all_or_nothing(s: TestServer) {
    let made = s
        .post("/iguazio/api/projects", json!({ "data": { "type": "project", "attributes": { "name": "atomic" } } }))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let project = made.body["data"]["id"].as_str().expect("project id").to_owned();
    let u = s.user("bound").await;
    let put = |project: &str| {
        json!({ "method": "put", "resource": format!("project_authorization_roles/{project}:viewer"),
            "body": { "data": { "type": "project_authorization_role", "attributes": {},
                "relationships": { "principal_users": { "data": [{ "type": "user", "id": u }] } } } } })
    };
    let unknown = "00000000-0000-7000-8000-00000000dead";
    let tx = json!({ "data": { "attributes": { "requests": [put(&project), put(unknown)] } } });
    let r = s.post("/iguazio/api/async_transactions", tx).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let bindings = s.get(&format!("/v1/projects/{project}/bindings")).await;
    assert_eq!(bindings.body["total"], 0, "the first request was applied alone: {}", bindings.body);
    // The same without the unknown project is applied, with its job.
    let tx = json!({ "data": { "attributes": { "requests": [put(&project)] } } });
    let r = s.post("/iguazio/api/async_transactions", tx).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(s.get(&format!("/v1/projects/{project}/bindings")).await.body["total"], 1);
}

/// The import cannot demote or deactivate the last active site admin, in
/// one record or spread over a batch.
async fn import_keeps_the_last_site_admin(s: TestServer) {
    for record in [
        json!({ "type": "user", "username": "admin", "site_role": "user" }),
        json!({ "type": "user", "username": "admin", "active": false }),
    ] {
        let r = s.post("/v1/import", json!({ "records": [record] })).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        assert_eq!(r.field(), Some("records[0].site_role"), "{}", r.body);
    }
    let me = s.get("/v1/me").await;
    assert_eq!(me.body["site_role"], "admin");
    assert_eq!(me.body["active"], true);
    // Two admins demoted in one batch would leave none.
    let other = s.post("/v1/users", json!({ "username": "second", "site_role": "admin" })).await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.body);
    let both = json!({ "records": [
        { "type": "user", "username": "second", "site_role": "user" },
        { "type": "user", "username": "admin", "site_role": "user" },
    ] });
    let r = s.post("/v1/import", both).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(s.get("/v1/me").await.body["site_role"], "admin");
    // One of two may go.
    let one = json!({ "records": [{ "type": "user", "username": "second", "site_role": "user" }] });
    assert_eq!(s.post("/v1/import", one).await.status, StatusCode::OK);
}

/// Text after the JSON body is refused on every front-end that reads JSON.
async fn text_after_the_body_is_refused(s: TestServer) {
    let cases = [
        ("/v1/groups", r#"{"name":"tg1"} trailing"#),
        ("/v1/groups", r#"{"name":"tg2"}{"name":"tg3"}"#),
        ("/civis/groups", r#"{"name":"tg4"} x"#),
        ("/box/2.0/groups", r#"{"name":"tg5"} x"#),
        ("/scim/v2/Groups", r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"tg6"} x"#),
        ("/iguazio/api/user_groups", r#"{"data":{"type":"user_group","attributes":{"name":"tg7"}}} x"#),
    ];
    for (path, body) in cases {
        let r = s.raw(reqwest::Method::POST, path, "application/json", body.as_bytes().to_vec()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.body);
    }
    let listed = s.get("/v1/groups").await;
    assert_eq!(listed.body["total"], 0, "nothing was created: {}", listed.body);
    let ok = s.raw(reqwest::Method::POST, "/v1/groups", "application/json", b"{\"name\":\"fine\"} \n".to_vec()).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
}

/// A permission Roster does not know is refused with the field named.
async fn unknown_permissions_are_refused(s: TestServer) {
    let g = s.group("Perms").await;
    let u = s.user("p").await;
    let r =
        s.put(&format!("/v1/groups/{g}/members/{u}"), json!({ "role": "admin", "permissions": { "fly": true } })).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.field(), Some("permissions.fly"), "{}", r.body);
    let r = s
        .put(
            &format!("/v1/groups/{g}/members/{u}"),
            json!({ "role": "admin", "permissions": { "add_members": false } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let m = r.id();
    let r = s.patch(&format!("/v1/memberships/{m}"), json!({ "permissions": { "teleport": false } })).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let kept = s.get(&format!("/v1/memberships/{m}")).await;
    assert_eq!(kept.body["permissions"], json!({ "add_members": false }), "{}", kept.body);
    // Box's own names are known (stored, shown, not acted on).
    let r = s.patch(&format!("/v1/memberships/{m}"), json!({ "permissions": { "can_run_reports": true } })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// A NUL character, which no store keeps in text (PostgreSQL refuses it),
/// is refused with the field named, or names nothing, never a 500.
async fn a_nul_character_is_a_client_mistake(s: TestServer) {
    let g = s.group("Nul").await;
    let r = s.patch(&format!("/v1/groups/{g}"), json!({ "description": "a\u{0}b" })).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.field(), Some("description"));
    let r = s.get("/v1/users?prefix=a%00").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.field(), Some("prefix"));
    let records = json!({ "records": [
        { "type": "child", "parent": "Nul", "child": "x\u{0}" },
    ] });
    let r = s.post("/v1/import", records).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let records = json!({ "records": [{ "type": "member", "group": "Nul", "user": "\u{0}" }] });
    let r = s.post("/v1/import", records).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
}

crate::on_every_store!(
    a_nul_character_is_a_client_mistake,
    iguazio_async_transaction_is_all_or_nothing,
    import_keeps_the_last_site_admin,
    text_after_the_body_is_refused,
    unknown_permissions_are_refused,
);
