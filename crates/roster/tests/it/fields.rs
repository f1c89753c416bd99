//! `fields=` on the native lists and single reads: only the named fields
//! (and `id`) in each item, the page envelope as before, a 400 naming
//! `fields` for an unknown or empty selection, and cursors that page the
//! same with or without it.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::TestServer;

/// The keys of a JSON object.
fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().map(String::as_str).collect()
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

/// `n` users named `{prefix}{i:04}` put into the group named `group` by one import.
async fn import_members(s: &TestServer, group: &str, prefix: &str, n: usize) {
    let mut records = vec![json!({"type": "group", "name": group})];
    for i in 0..n {
        let username = format!("{prefix}{i:04}");
        records.push(json!({"type": "user", "username": username, "email": format!("{username}@example.com"),
            "first_name": "First", "last_name": "Last", "display_name": format!("Person {i}")}));
        records.push(json!({"type": "member", "group": group, "user": username}));
    }
    let r = s.post("/v1/import", json!({ "records": records })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

async fn group_id(s: &TestServer, name: &str) -> String {
    let r = s.get(&format!("/v1/groups?prefix={name}")).await;
    r.body["items"][0]["id"].as_str().expect("group").to_owned()
}

async fn only_the_selected_fields(s: TestServer) {
    let g = s.group("eng").await;
    let child = s.group("web").await;
    assert!(s.put(&format!("/v1/groups/{g}/children/{child}"), json!({})).await.status.is_success());
    let alice = s.user("alice").await;
    assert!(s.put(&format!("/v1/groups/{child}/members/{alice}"), json!({"role": "admin"})).await.status.is_success());
    let bob = s.user("bob").await;
    assert!(s.put(&format!("/v1/groups/{g}/members/{bob}"), json!({})).await.status.is_success());

    // Members, direct: the row keeps its shape; `id` is the user's and always there.
    let r = s.get(&format!("/v1/groups/{g}/members?fields=username")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(keys(&r.body), set(&["items", "next_cursor", "total"]));
    assert_eq!(r.body["total"], 1);
    assert_eq!(r.body["items"][0], json!({"user": {"id": bob, "username": "bob"}}));
    let r = s.get(&format!("/v1/groups/{g}/members?fields=id,user.username,membership.role,username")).await;
    let row = &r.body["items"][0];
    assert_eq!(keys(row), set(&["membership", "user"]));
    assert_eq!(keys(&row["membership"]), set(&["id", "role"]));
    assert_eq!(row["user"], json!({"id": bob, "username": "bob"}));
    // The whole membership and the whole user, as without `fields`.
    let whole = s.get(&format!("/v1/groups/{g}/members")).await.body;
    assert_eq!(s.get(&format!("/v1/groups/{g}/members?fields=membership,user")).await.body, whole);
    assert_eq!(keys(&whole["items"][0]["user"]).len(), 14, "the default row is the whole user");
    assert_eq!(keys(&whole["items"][0]["membership"]).len(), 8, "and the whole membership");

    // Members at any depth: no membership to show, even when asked for.
    let r = s.get(&format!("/v1/groups/{g}/members?transitive=true&fields=email,membership.role")).await;
    assert_eq!(r.body["total"], 2);
    for row in r.body["items"].as_array().expect("items") {
        assert_eq!(keys(row), set(&["user"]));
        assert_eq!(keys(&row["user"]), set(&["id", "email"]));
    }

    // A user's groups, direct and at any depth; children.
    let r = s.get(&format!("/v1/users/{alice}/groups?fields=name,membership.role")).await;
    assert_eq!(r.body["items"][0]["group"], json!({"id": child, "name": "web"}));
    assert_eq!(r.body["items"][0]["membership"]["role"], "admin");
    let r = s.get(&format!("/v1/users/{alice}/groups?transitive=true&fields=group.name")).await;
    let items = r.body["items"].as_array().expect("items");
    let names: BTreeSet<_> = items.iter().map(|e| e["group"]["name"].as_str().expect("name")).collect();
    assert_eq!(names, set(&["eng", "web"]));
    assert!(items.iter().all(|e| keys(&e["group"]) == set(&["id", "name"])));
    let r = s.get(&format!("/v1/groups/{g}/children?fields=member_count")).await;
    assert_eq!(r.body["items"][0], json!({"group": {"id": child, "member_count": 1}}));

    // Users and groups, listed and read one at a time.
    let r = s.get("/v1/users?prefix=ali&fields=username,active,username").await;
    assert_eq!(r.body["items"], json!([{"id": alice, "username": "alice", "active": true}]));
    let r = s.get("/v1/groups?prefix=eng&fields=child_count").await;
    assert_eq!(r.body["items"], json!([{"id": g, "child_count": 1}]));
    let r = s.get(&format!("/v1/users/{alice}?fields=email")).await;
    assert_eq!(r.body, json!({"id": alice, "email": null}));
    assert!(r.headers.contains_key("etag"), "a narrowed read keeps its ETag");
    let r = s.get(&format!("/v1/groups/{g}?fields=id")).await;
    assert_eq!(r.body, json!({"id": g}));
}

async fn unknown_or_empty_fields_are_refused(s: TestServer) {
    let g = s.group("eng").await;
    let u = s.user("alice").await;
    let cases = [
        format!("/v1/groups/{g}/members?fields=id,nope"),
        format!("/v1/groups/{g}/members?fields=membership.username"),
        format!("/v1/groups/{g}/members?transitive=true&fields="),
        format!("/v1/groups/{g}/members?fields=id,"),
        format!("/v1/groups/{g}/children?fields=username"),
        format!("/v1/users/{u}/groups?fields=user"),
        "/v1/users?fields=name".to_owned(),
        "/v1/groups?fields=username".to_owned(),
        format!("/v1/users/{u}?fields=id,%20email"),
        format!("/v1/groups/{g}?fields="),
    ];
    for path in cases {
        let r = s.get(&path).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.body);
        assert_eq!(r.body["error"]["code"], "invalid_request", "{path}");
        assert_eq!(r.field(), Some("fields"), "{path}: {}", r.body);
    }
    let r = s.get("/v1/users?fields=username,nope").await;
    let message = r.body["error"]["message"].as_str().expect("message");
    assert!(message.contains("\"nope\""), "the unknown name is named: {message}");
}

/// Cursor pages with `fields` serve the same members in the same order as
/// without, and each lean page says the same `total` and cursor.
async fn pages_with_fields_follow_the_cursor(s: TestServer) {
    import_members(&s, "paged", "pager", 25).await;
    let g = group_id(&s, "paged").await;
    let walk = |fields: &'static str| {
        let s = &s;
        let g = g.clone();
        async move {
            let (mut ids, mut cursors, mut cursor) = (Vec::new(), Vec::new(), String::new());
            loop {
                let r = s.get(&format!("/v1/groups/{g}/members?limit=7&cursor={cursor}{fields}")).await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.body);
                assert_eq!(r.body["total"], 25);
                for row in r.body["items"].as_array().expect("items") {
                    ids.push(row["user"]["id"].as_str().expect("id").to_owned());
                }
                match r.body["next_cursor"].as_str() {
                    Some(c) => {
                        cursor = c.to_owned();
                        cursors.push(cursor.clone());
                    }
                    None => return (ids, cursors),
                }
            }
        }
    };
    let whole = walk("").await;
    let lean = walk("&fields=id").await;
    assert_eq!(whole.0.len(), 25);
    assert_eq!(lean, whole, "the same members, order and cursors");
}

/// A page of 1000 members with `fields=id,username` is a small fraction of
/// the default page.
async fn a_lean_page_is_much_smaller(s: TestServer) {
    import_members(&s, "thousand", "member", 1000).await;
    let g = group_id(&s, "thousand").await;
    let whole = s.get(&format!("/v1/groups/{g}/members?limit=1000")).await;
    let lean = s.get(&format!("/v1/groups/{g}/members?limit=1000&fields=id,username")).await;
    assert_eq!(lean.body["items"].as_array().expect("items").len(), 1000);
    assert_eq!(lean.body["total"], 1000);
    assert_eq!(keys(&lean.body["items"][999]["user"]), set(&["id", "username"]));
    println!("1000 members: {} bytes whole, {} bytes with fields=id,username", whole.raw_len, lean.raw_len);
    assert!(lean.raw_len * 5 < whole.raw_len, "lean {} vs whole {}", lean.raw_len, whole.raw_len);
}

crate::on_every_store!(
    only_the_selected_fields,
    unknown_or_empty_fields_are_refused,
    pages_with_fields_follow_the_cursor,
    a_lean_page_is_much_smaller
);
