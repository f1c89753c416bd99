//! The Iguazio front-end over HTTP, beyond what the SDK suite drives: its
//! error documents, authentication forms, the stale-write guard on a user's
//! group list (sequentially and under concurrent writers), atomic PUTs, and
//! who may do what.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Reply, TestServer};

const API: &str = "/iguazio/api";

async fn igz(s: &TestServer, method: Method, path: &str, body: Option<Value>) -> Reply {
    s.call(method, &format!("{API}{path}"), Some(&s.admin), body).await
}

fn doc(kind: &str, attributes: Value, relationships: Value) -> Value {
    json!({ "data": { "type": kind, "attributes": attributes, "relationships": relationships } })
}

fn groups_of(user: &Reply) -> Vec<String> {
    user.body["data"]["relationships"]["user_groups"]["data"]
        .as_array()
        .map(|a| a.iter().filter_map(|g| g["id"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// A PUT of `user` with `groups` as its complete list and `stamp` as the
/// `last_activity` read earlier.
fn put_groups(groups: &[String], stamp: &Value) -> Value {
    let data: Vec<Value> = groups.iter().map(|g| json!({ "type": "user_group", "id": g })).collect();
    doc("user", json!({ "last_activity": stamp }), json!({ "user_groups": { "data": data } }))
}

async fn new_group(s: &TestServer, name: &str) -> String {
    let r = igz(s, Method::POST, "/user_groups", Some(doc("user_group", json!({ "name": name }), json!({})))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["data"]["id"].as_str().unwrap().to_owned()
}

async fn iguazio_errors_are_jsonapi_documents(s: TestServer) {
    let error = |r: &Reply, status: u16| {
        assert_eq!(r.status.as_u16(), status, "{}", r.body);
        assert_eq!(r.body["errors"][0]["status"], status, "{}", r.body);
        r.body["errors"][0]["detail"].as_str().unwrap_or_default().to_owned()
    };
    let r = s.raw(Method::POST, &format!("{API}/user_groups"), "application/json", b"{\"data\": ".to_vec()).await;
    error(&r, 400);
    let r = s.raw(Method::POST, &format!("{API}/user_groups"), "text/plain", b"{}".to_vec()).await;
    error(&r, 415);
    let r = igz(&s, Method::POST, "/user_groups", Some(json!({ "data": { "attributes": {} } }))).await;
    assert!(error(&r, 400).contains("data.attributes.name"));
    let r = igz(&s, Method::POST, "/user_groups", Some(doc("user_group", json!({ "name": 7 }), json!({})))).await;
    assert!(error(&r, 400).contains("data.attributes.name"));
    let r = igz(&s, Method::POST, "/user_groups", Some(json!({ "data": [] }))).await;
    assert!(error(&r, 400).contains("data"));
    let bad_policy = doc("user_group", json!({ "name": "x", "assigned_policies": ["Root"] }), json!({}));
    assert!(error(&igz(&s, Method::POST, "/user_groups", Some(bad_policy)).await, 400).contains("assigned_policies"));
    let bad_rel = doc("user_group", json!({ "name": "x" }), json!({ "users": { "data": "everyone" } }));
    assert!(error(&igz(&s, Method::POST, "/user_groups", Some(bad_rel)).await, 400).contains("relationships.users"));
    error(&igz(&s, Method::GET, "/user_groups/not-an-id", None).await, 404);
    error(&igz(&s, Method::GET, "/users/01a204fd-80d0-728b-b339-be8a2b4e3400", None).await, 404);
    error(&igz(&s, Method::GET, "/jobs/01a204fd-80d0-728b-b339-be8a2b4e3400", None).await, 404);
    error(&igz(&s, Method::GET, "/user_groups?page%5Bsize%5D=0", None).await, 400);
    error(&igz(&s, Method::GET, "/user_groups?sort=shoe_size", None).await, 400);
    error(&igz(&s, Method::GET, "/nothing/here", None).await, 404);
    let r = s.call(Method::GET, &format!("{API}/user_groups"), None, None).await;
    error(&r, 401);
    let r = s.call(Method::GET, &format!("{API}/user_groups"), Some("wrong-key-0123456789"), None).await;
    error(&r, 401);
    let all_users = "00000000-0000-7000-8000-0000000000a1";
    error(&igz(&s, Method::DELETE, &format!("/user_groups/{all_users}"), None).await, 403);
    let dup = doc("project", json!({ "name": "p1" }), json!({}));
    assert_eq!(igz(&s, Method::POST, "/projects", Some(dup.clone())).await.status, StatusCode::CREATED);
    error(&igz(&s, Method::POST, "/projects", Some(dup)).await, 409);
    let bad_labels = doc("project", json!({ "name": "p2", "labels": [{ "name": "a" }] }), json!({}));
    assert!(error(&igz(&s, Method::POST, "/projects", Some(bad_labels)).await, 400).contains("labels"));
    let tx =
        json!({ "data": { "attributes": { "requests": [{ "method": "put", "resource": "nope/1", "body": {} }] } } });
    error(&igz(&s, Method::POST, "/async_transactions", Some(tx)).await, 400);
}

async fn iguazio_accepts_the_sdk_cookie_and_basic_auth(s: TestServer) {
    let http = crate::harness::http();
    let url = format!("{}{API}/sessions/verifications/planes/any/internal", s.base);
    let raw_cookie = format!("session=j:{{\"sid\": \"{}\"}}", s.admin);
    let encoded = format!("other=1; session=j%3A%7B%22sid%22%3A%20%22{}%22%7D", s.admin);
    for cookie in [raw_cookie, encoded] {
        let r = http.post(&url).header("cookie", cookie.as_str()).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{cookie}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["data"]["attributes"]["username"], "admin");
        assert!(
            body["data"]["attributes"]["context"]["authentication"]["tenant_id"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        );
    }
    let r = http.post(&url).basic_auth("admin", Some(&s.admin)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http.post(&url).header("cookie", "session=j:{\"sid\": \"nope\"}").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let version = format!("{}{API}/tunnel/igz0.version.0/external_versions/igz0", s.base);
    let r = http.get(&version).bearer_auth(&s.admin).send().await.unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"]["attributes"]["external"], "3.6.0");
}

async fn iguazio_refuses_a_stale_group_list(s: TestServer) {
    let (a, b) = (new_group(&s, "a").await, new_group(&s, "b").await);
    let user = s.user("una").await;
    let read = igz(&s, Method::GET, &format!("/users/{user}?include=user_groups"), None).await;
    let stamp = read.body["data"]["attributes"]["last_activity"].clone();
    let mut list = groups_of(&read);
    assert_eq!(list.len(), 1, "all_users only");
    // Someone else adds the user to `a` meanwhile (here: the native API).
    assert!(s.put(&format!("/v1/groups/{a}/members/{user}"), json!({})).await.status.is_success());
    list.push(b.clone());
    let r = igz(&s, Method::PUT, &format!("/users/{user}"), Some(put_groups(&list, &stamp))).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let now = igz(&s, Method::GET, &format!("/users/{user}?include=user_groups"), None).await;
    assert!(groups_of(&now).contains(&a) && !groups_of(&now).contains(&b), "nothing lost, nothing half-written");
    // A write that does not carry the group list is not held to the stamp.
    let disable = doc("user", json!({ "last_activity": stamp, "admin_status": "down" }), json!({}));
    let r = igz(&s, Method::PUT, &format!("/users/{user}"), Some(disable)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["attributes"]["admin_status"], "down");
    // Re-read, resend: accepted.
    let mut list = groups_of(&now);
    list.push(b.clone());
    let stamp = now.body["data"]["attributes"]["last_activity"].clone();
    let r = igz(&s, Method::PUT, &format!("/users/{user}"), Some(put_groups(&list, &stamp))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut got = groups_of(&r);
    got.sort();
    let mut want = list.clone();
    want.sort();
    assert_eq!(got, want);
    // An unknown group anywhere in the list: 404, and nothing of the PUT applied.
    let stamp = r.body["data"]["attributes"]["last_activity"].clone();
    let c = new_group(&s, "c").await;
    let bad = [c.clone(), "01a204fd-80d0-728b-b339-be8a2b4e3400".to_owned()];
    let r = igz(&s, Method::PUT, &format!("/users/{user}"), Some(put_groups(&bad, &stamp))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let after = igz(&s, Method::GET, &format!("/users/{user}?include=user_groups"), None).await;
    assert!(!groups_of(&after).contains(&c) && groups_of(&after).contains(&a));
    let r = igz(&s, Method::PUT, &format!("/users/{user}"), Some(put_groups(&[], &json!("yesterday")))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
}

/// Many writers each add the same user to their own group the way the SDK
/// does (read the list, PUT it back with one more), retrying on 409: no
/// membership is lost.
async fn iguazio_concurrent_group_edits_lose_nothing(s: TestServer) {
    let user = s.user("many").await;
    let mut groups = Vec::new();
    for i in 0..8 {
        groups.push(new_group(&s, &format!("w{i}")).await);
    }
    let s = std::sync::Arc::new(s);
    let mut tasks = Vec::new();
    for g in groups.clone() {
        let (s, user) = (s.clone(), user.clone());
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            loop {
                let read = igz(&s, Method::GET, &format!("/users/{user}?include=user_groups"), None).await;
                let mut list = groups_of(&read);
                list.push(g.clone());
                let stamp = read.body["data"]["attributes"]["last_activity"].clone();
                let r = igz(&s, Method::PUT, &format!("/users/{user}"), Some(put_groups(&list, &stamp))).await;
                match r.status {
                    StatusCode::OK => return conflicts,
                    StatusCode::CONFLICT | StatusCode::SERVICE_UNAVAILABLE => conflicts += 1,
                    other => panic!("{other}: {}", r.body),
                }
                assert!(conflicts < 200, "no progress");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let got = groups_of(&igz(&s, Method::GET, &format!("/users/{user}?include=user_groups"), None).await);
    for g in &groups {
        assert!(got.contains(g), "membership of {g} was lost: {got:?}");
    }
}

/// Authorization is the core's: a group admin edits their group's members
/// through the user resource, a member cannot, a stranger does not see it.
async fn iguazio_authorization_matrix(s: TestServer) {
    let g = new_group(&s, "guarded").await;
    let (boss, boss_key) = s.user_with_key("boss").await;
    let (member, member_key) = s.user_with_key("member").await;
    let (_, stranger_key) = s.user_with_key("stranger").await;
    let target = s.user("target").await;
    assert!(s.put(&format!("/v1/groups/{g}/members/{boss}"), json!({ "role": "admin" })).await.status.is_success());
    assert!(s.put(&format!("/v1/groups/{g}/members/{member}"), json!({})).await.status.is_success());
    let add = |key: String| {
        let (s, g, target) = (&s, g.clone(), target.clone());
        async move {
            let read =
                s.call(Method::GET, &format!("{API}/users/{target}?include=user_groups"), Some(&key), None).await;
            let mut list = groups_of(&read);
            list.push(g);
            let mut body = put_groups(&list, &read.body["data"]["attributes"]["last_activity"]);
            body["data"]["attributes"] = read.body["data"]["attributes"].clone();
            s.call(Method::PUT, &format!("{API}/users/{target}"), Some(&key), Some(body)).await.status
        }
    };
    assert_eq!(add(stranger_key.clone()).await, StatusCode::NOT_FOUND, "a stranger does not see the group");
    assert_eq!(add(member_key.clone()).await, StatusCode::FORBIDDEN, "a member cannot add");
    assert_eq!(add(boss_key.clone()).await, StatusCode::OK, "a group admin can, echoing the whole user back");
    let members = s.get(&format!("/v1/groups/{g}/members")).await.body;
    assert_eq!(members["total"], 3);
    let get = |key: String| {
        let (s, g) = (&s, g.clone());
        async move { s.call(Method::GET, &format!("{API}/user_groups/{g}?include=users"), Some(&key), None).await.status }
    };
    assert_eq!(get(member_key.clone()).await, StatusCode::OK);
    assert_eq!(get(stranger_key.clone()).await, StatusCode::NOT_FOUND);
    let r = s.call(Method::DELETE, &format!("{API}/user_groups/{g}"), Some(&boss_key), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "deleting needs a manage share or a site admin");
    let p = doc("project", json!({ "name": "theirs" }), json!({}));
    let r = s.call(Method::POST, &format!("{API}/projects"), Some(&member_key), Some(p)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

fn attr_list(r: &Reply, attr: &str) -> Vec<String> {
    r.body["data"]
        .as_array()
        .map(|a| a.iter().map(|d| d["attributes"][attr].as_str().unwrap_or("").to_owned()).collect())
        .unwrap_or_default()
}

/// Lists answered by the core's own orders and lookups (a page costs its
/// size): exact names, name and creation order both ways, numbered pages
/// with the all-users group at the first position, `admin_status`; and
/// everything else (other filters, other sorts) matched over a bounded scan.
async fn iguazio_lists_page_through_the_core(s: TestServer) {
    for name in ["delta", "alpha", "charlie", "bravo"] {
        new_group(&s, name).await;
    }
    let list = |q: &'static str| igz(&s, Method::GET, if q.is_empty() { "/user_groups" } else { q }, None);
    let r = list("").await;
    assert_eq!(attr_list(&r, "name"), ["all_users", "delta", "alpha", "charlie", "bravo"], "creation order by default");
    let r = list("/user_groups?sort=name").await;
    assert_eq!(attr_list(&r, "name"), ["all_users", "alpha", "bravo", "charlie", "delta"]);
    let r = list("/user_groups?sort=-name").await;
    assert_eq!(attr_list(&r, "name"), ["delta", "charlie", "bravo", "alpha", "all_users"]);
    // Pages of every size in both name orders put the all-users group where
    // it sorts, never twice, never missing.
    for (q, whole) in [
        ("name", ["all_users", "alpha", "bravo", "charlie", "delta"]),
        ("-name", ["delta", "charlie", "bravo", "alpha", "all_users"]),
    ] {
        for size in 1..=6 {
            let mut walked = Vec::new();
            for number in 0..=(5 / size) {
                let r = igz(
                    &s,
                    Method::GET,
                    &format!("/user_groups?sort={q}&page[number]={number}&page[size]={size}"),
                    None,
                )
                .await;
                walked.extend(attr_list(&r, "name"));
            }
            assert_eq!(walked, whole, "sort={q}, page size {size}");
        }
    }
    // The all-users group predates every group.
    let r = list("/user_groups?sort=-created_at&page[number]=0&page[size]=3").await;
    assert_eq!(attr_list(&r, "name"), ["bravo", "charlie", "alpha"]);
    let r = list("/user_groups?sort=-created_at&page[number]=1&page[size]=3").await;
    assert_eq!(attr_list(&r, "name"), ["delta", "all_users"]);
    let r = list("/user_groups?filter[name]=charlie").await;
    assert_eq!(attr_list(&r, "name"), ["charlie"]);
    let r = list("/user_groups?filter[name]=Charlie").await;
    assert!(attr_list(&r, "name").is_empty(), "names match exactly: {}", r.body);
    let r = list("/user_groups?filter[name]=all_users").await;
    assert_eq!(attr_list(&r, "name"), ["all_users"]);
    // Not in a kept order: matched and sorted here.
    let r = list("/user_groups?sort=-gid&page[number]=0&page[size]=2").await;
    assert_eq!(attr_list(&r, "name"), ["bravo", "charlie"], "{}", r.body);
    let r = list("/user_groups?sort=nonsense").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    for name in ["zed", "amy", "kim"] {
        let r = igz(
            &s,
            Method::POST,
            "/users",
            Some(doc("user", json!({ "username": name, "password": "Secret-12345" }), json!({}))),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let off = s.get("/v1/users?prefix=kim").await.body["items"][0]["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(s.patch(&format!("/v1/users/{off}"), json!({ "active": false })).await.status, StatusCode::OK);
    let users = |q: &'static str| igz(&s, Method::GET, q, None);
    let r = users("/users?page[number]=0&page[size]=2").await;
    assert_eq!(attr_list(&r, "username"), ["admin", "amy"]);
    let r = users("/users?sort=-username&page[number]=1&page[size]=2").await;
    assert_eq!(attr_list(&r, "username"), ["amy", "admin"]);
    let r = users("/users?filter[admin_status]=down").await;
    assert_eq!(attr_list(&r, "username"), ["kim"]);
    let r = users("/users?filter[admin_status]=up&sort=username").await;
    assert_eq!(attr_list(&r, "username"), ["admin", "amy", "zed"]);
    let r = users("/users?filter[username]=zed&include=user_groups").await;
    assert_eq!(attr_list(&r, "username"), ["zed"]);
    let r = users("/users?filter[username]=zed&filter[admin_status]=down").await;
    assert!(attr_list(&r, "username").is_empty());
    let r = users("/users?sort=-created_at&page[number]=0&page[size]=1").await;
    assert_eq!(attr_list(&r, "username"), ["kim"], "{}", r.body);
}

crate::on_every_store!(
    iguazio_lists_page_through_the_core,
    iguazio_errors_are_jsonapi_documents,
    iguazio_accepts_the_sdk_cookie_and_basic_auth,
    iguazio_refuses_a_stale_group_list,
    iguazio_concurrent_group_edits_lose_nothing,
    iguazio_authorization_matrix,
);
