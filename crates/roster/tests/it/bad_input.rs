//! Bad input gets the right 4xx and a JSON error naming the field, and
//! nothing is half-written.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::TestServer;

async fn malformed_bodies_name_the_field(s: TestServer) {
    let cases: Vec<(&str, Vec<u8>, u16, Option<&str>)> = vec![
        ("application/json", b"{\"username\": ".to_vec(), 400, Some("username")),
        ("application/json", b"[1, 2]".to_vec(), 400, Some("body")),
        ("application/json", b"{\"username\": 5}".to_vec(), 400, Some("username")),
        ("application/json", b"{\"username\": \"x\", \"active\": \"yes\"}".to_vec(), 400, Some("active")),
        ("application/json", b"{\"username\": \"x\", \"admin\": true}".to_vec(), 400, Some("admin")),
        ("application/json", b"{}".to_vec(), 400, Some("username")),
        ("application/json", b"\xff\xfe".to_vec(), 400, Some("body")),
        ("text/plain", b"{\"username\": \"x\"}".to_vec(), 415, None),
    ];
    for (ct, body, status, field) in cases {
        let r = s.raw(Method::POST, "/v1/users", ct, body.clone()).await;
        assert_eq!(r.status.as_u16(), status, "{}: {}", String::from_utf8_lossy(&body), r.body);
        assert_eq!(r.field(), field, "{}: {}", String::from_utf8_lossy(&body), r.body);
        assert!(r.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let big = vec![b' '; 2 * 1024 * 1024];
    assert_eq!(s.raw(Method::POST, "/v1/users", "application/json", big).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(s.get("/v1/users").await.body["total"], 1, "nothing was written");
}

async fn names_are_checked(s: TestServer) {
    let long = "x".repeat(10 * 1024);
    for (body, field) in [
        (json!({ "name": "" }), "name"),
        (json!({ "name": "   " }), "name"),
        (json!({ "name": long }), "name"),
        (json!({ "name": "a\u{0007}b" }), "name"),
        (json!({ "name": "ok", "slug": "Not A Slug" }), "slug"),
        (json!({ "name": "ok", "description": long.repeat(2) }), "description"),
    ] {
        let r = s.post("/v1/groups", body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(r.field(), Some(field), "{body}");
    }
    for (body, field) in [
        (json!({ "username": "" }), "username"),
        (json!({ "username": "two words" }), "username"),
        (json!({ "username": long }), "username"),
        (json!({ "username": "u", "email": "not-an-email" }), "email"),
        (json!({ "username": "u", "site_role": "root" }), "site_role"),
    ] {
        let r = s.post("/v1/users", body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(r.field(), Some(field), "{body}");
    }
    assert_eq!(s.get("/v1/groups").await.body["total"], 0);
    assert_eq!(s.get("/v1/events?limit=1000").await.body["total"], 2, "only the bootstrap events");
}

async fn unknown_and_malformed_ids(s: TestServer) {
    let g = s.group("G").await;
    let nobody = "01234567-89ab-7def-8123-456789abcdef";
    for path in [
        format!("/v1/users/{nobody}"),
        format!("/v1/groups/{nobody}"),
        format!("/v1/groups/{nobody}/members"),
        format!("/v1/memberships/{nobody}"),
        format!("/v1/roles/{nobody}"),
        format!("/v1/projects/{nobody}"),
        format!("/v1/organizations/{nobody}"),
    ] {
        let r = s.get(&path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.body["error"]["code"], "not_found");
    }
    let r = s.put(&format!("/v1/groups/{g}/members/{nobody}"), json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(s.get(&format!("/v1/groups/{g}")).await.body["member_count"], 0);
    let r = s.get("/v1/groups/not-a-uuid").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.field(), Some("id"));
    let r = s.put(&format!("/v1/groups/{g}/members/zzz"), json!({})).await;
    assert_eq!(r.field(), Some("user_id"));
    let r = s.put(&format!("/v1/groups/{g}/members/{nobody}"), json!({ "role": "owner" })).await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, Some("role")));
    let r = s.put(&format!("/v1/groups/{g}/members/{nobody}"), json!({ "permissions": { "x": "yes" } })).await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, Some("permissions.x")));
}

async fn bad_paging_parameters(s: TestServer) {
    let g = s.group("G").await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=5000", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("cursor=forged", "cursor"),
        ("cursor=Z3JvdXBzCm5vdGFudW1iZXIKeA", "cursor"),
    ] {
        let r = s.get(&format!("/v1/groups?{query}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.body);
        assert_eq!(r.field(), Some(field), "{query}");
    }
    // A cursor from one list is refused by another.
    s.group("H").await;
    let cursor = s.get("/v1/groups?limit=1").await.body["next_cursor"].as_str().unwrap().to_owned();
    let r = s.get(&format!("/v1/users?cursor={cursor}")).await;
    assert_eq!(r.field(), Some("cursor"));
    let r = s.get(&format!("/v1/groups/{g}/members?cursor={cursor}")).await;
    assert_eq!(r.field(), Some("cursor"));
    let r = s.get("/v1/events?after=-5").await;
    assert_eq!(r.field(), Some("after"));
    let r = s.get(&format!("/v1/groups?prefix={}", "p".repeat(300))).await;
    assert_eq!(r.field(), Some("prefix"));
}

async fn conflicts_are_409_and_leave_no_trace(s: TestServer) {
    let a = s.group("a").await;
    let b = s.group("b").await;
    s.call(Method::PUT, &format!("/v1/groups/{a}/children/{b}"), Some(&s.admin), None).await;
    let r = s.call(Method::PUT, &format!("/v1/groups/{b}/children/{a}"), Some(&s.admin), None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(s.get(&format!("/v1/groups/{b}")).await.body["child_count"], 0);
    let r = s.patch(&format!("/v1/groups/{b}"), json!({ "name": "A" })).await;
    assert_eq!((r.status, r.field()), (StatusCode::CONFLICT, Some("name")));
    assert_eq!(s.get(&format!("/v1/groups/{b}")).await.body["name"], "b");
    s.user("dup").await;
    let r = s.post("/v1/users", json!({ "username": "DUP" })).await;
    assert_eq!((r.status, r.field()), (StatusCode::CONFLICT, Some("username")));
    s.post("/v1/users", json!({ "username": "ext1", "external_id": "E-1" })).await;
    let r = s.post("/v1/users", json!({ "username": "ext2", "external_id": "E-1" })).await;
    assert_eq!((r.status, r.field()), (StatusCode::CONFLICT, Some("external_id")));
}

crate::on_every_store!(
    malformed_bodies_name_the_field,
    names_are_checked,
    unknown_and_malformed_ids,
    bad_paging_parameters,
    conflicts_are_409_and_leave_no_trace,
);
