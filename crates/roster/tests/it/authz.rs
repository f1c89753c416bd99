//! The authorization matrix: admin, group admin, member, stranger and no key,
//! against every kind of group operation, through one `check` helper.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::TestServer;

struct Actors {
    admin: String,
    group_admin: String,
    member: String,
    stranger: String,
}

/// One group `G` with a group admin and a member; `T` a user outside it.
async fn setup(s: &TestServer) -> (Actors, String, String) {
    let g = s.group("G").await;
    s.group("Other").await;
    let (ga, group_admin) = s.user_with_key("group-admin").await;
    let (m, member) = s.user_with_key("member").await;
    let (_, stranger) = s.user_with_key("stranger").await;
    let t = s.user("target").await;
    assert_eq!(
        s.put(&format!("/v1/groups/{g}/members/{ga}"), json!({ "role": "admin" })).await.status,
        StatusCode::CREATED
    );
    assert_eq!(s.put(&format!("/v1/groups/{g}/members/{m}"), json!({})).await.status, StatusCode::CREATED);
    (Actors { admin: s.admin.clone(), group_admin, member, stranger }, g, t)
}

/// Runs `method path body` as each actor and compares the statuses, in the
/// order admin, group admin, member, stranger, anonymous. `reset` runs as
/// the admin before each actor's attempt to restore the starting state.
async fn check(
    s: &TestServer,
    actors: &Actors,
    method: Method,
    path: &str,
    body: Option<Value>,
    reset: Option<(Method, &str)>,
    expected: [u16; 5],
) {
    let keys = [Some(&actors.admin), Some(&actors.group_admin), Some(&actors.member), Some(&actors.stranger), None];
    let names = ["admin", "group admin", "member", "stranger", "anonymous"];
    for ((key, name), want) in keys.into_iter().zip(names).zip(expected) {
        if let Some((m, p)) = &reset {
            s.call(m.clone(), p, Some(&s.admin), None).await;
        }
        let r = s.call(method.clone(), path, key.map(String::as_str), body.clone()).await;
        assert_eq!(r.status.as_u16(), want, "{name}: {method} {path} -> {}", r.body);
        if want >= 400 {
            assert!(r.body["error"]["code"].is_string(), "{name}: error body {}", r.body);
        }
    }
}

async fn group_operations_matrix(s: TestServer) {
    let (a, g, t) = setup(&s).await;
    let member_path = format!("/v1/groups/{g}/members/{t}");
    let remove = Some((Method::DELETE, member_path.as_str()));
    let add = Some((Method::PUT, member_path.as_str()));

    check(&s, &a, Method::GET, &format!("/v1/groups/{g}"), None, None, [200, 200, 200, 404, 401]).await;
    check(&s, &a, Method::GET, &format!("/v1/groups/{g}/members"), None, None, [200, 200, 200, 404, 401]).await;
    check(&s, &a, Method::GET, &format!("/v1/groups/{g}/children"), None, None, [200, 200, 200, 404, 401]).await;
    check(&s, &a, Method::PUT, &member_path, Some(json!({})), remove.clone(), [201, 201, 403, 404, 401]).await;
    check(
        &s,
        &a,
        Method::PUT,
        &member_path,
        Some(json!({ "role": "admin" })),
        remove.clone(),
        [201, 403, 403, 404, 401],
    )
    .await;
    check(&s, &a, Method::DELETE, &member_path, None, add, [204, 204, 403, 404, 401]).await;
    check(
        &s,
        &a,
        Method::PATCH,
        &format!("/v1/groups/{g}"),
        Some(json!({ "description": "x" })),
        None,
        [200, 403, 403, 404, 401],
    )
    .await;
    check(&s, &a, Method::GET, &format!("/v1/groups/{g}/shares"), None, None, [200, 403, 403, 404, 401]).await;
    check(&s, &a, Method::POST, "/v1/groups", Some(json!({ "name": "new" })), None, [201, 403, 403, 403, 401]).await;
    check(&s, &a, Method::POST, "/v1/users", Some(json!({ "username": "new" })), None, [201, 403, 403, 403, 401]).await;
    check(&s, &a, Method::GET, "/v1/events", None, None, [200, 403, 403, 403, 401]).await;
    check(&s, &a, Method::GET, &format!("/v1/users/{t}/groups"), None, None, [200, 403, 403, 403, 401]).await;
    check(&s, &a, Method::POST, "/v1/roles", Some(json!({ "name": "r" })), None, [201, 403, 403, 403, 401]).await;
    // Deleting goes last, and the admin last of all.
    for (key, want) in [(&a.group_admin, 403), (&a.member, 403), (&a.stranger, 404), (&a.admin, 204)] {
        let r = s.call(Method::DELETE, &format!("/v1/groups/{g}"), Some(key), None).await;
        assert_eq!(r.status.as_u16(), want, "{}", r.body);
    }
}

async fn group_lists_show_only_what_a_caller_may_see(s: TestServer) {
    let (a, _, _) = setup(&s).await;
    let total = |key: String| {
        let s = &s;
        async move { s.call(Method::GET, "/v1/groups", Some(&key), None).await.body["total"].as_i64() }
    };
    assert_eq!(total(a.admin.clone()).await, Some(2));
    assert_eq!(total(a.member.clone()).await, Some(1));
    assert_eq!(total(a.stranger.clone()).await, Some(0));
}

async fn configurable_permissions_limit_group_admins(s: TestServer) {
    let g = s.group("G").await;
    let (ga, key) = s.user_with_key("limited").await;
    let t = s.user("target").await;
    s.put(&format!("/v1/groups/{g}/members/{ga}"), json!({ "role": "admin", "permissions": { "add_members": false } }))
        .await;
    let add = s.call(Method::PUT, &format!("/v1/groups/{g}/members/{t}"), Some(&key), Some(json!({}))).await;
    assert_eq!(add.status, StatusCode::FORBIDDEN);
    s.put(&format!("/v1/groups/{g}/members/{t}"), json!({})).await;
    let remove = s.call(Method::DELETE, &format!("/v1/groups/{g}/members/{t}"), Some(&key), None).await;
    assert_eq!(remove.status, StatusCode::NO_CONTENT, "remove_members is still on");
    // null disables every permission.
    s.put(&format!("/v1/groups/{g}/members/{ga}"), json!({ "role": "admin", "permissions": null })).await;
    s.put(&format!("/v1/groups/{g}/members/{t}"), json!({})).await;
    let remove = s.call(Method::DELETE, &format!("/v1/groups/{g}/members/{t}"), Some(&key), None).await;
    assert_eq!(remove.status, StatusCode::FORBIDDEN);
}

async fn shares_grant_access(s: TestServer) {
    let g = s.group("G").await;
    let (u, key) = s.user_with_key("reader").await;
    assert_eq!(s.call(Method::GET, &format!("/v1/groups/{g}"), Some(&key), None).await.status, StatusCode::NOT_FOUND);
    s.put(&format!("/v1/groups/{g}/shares/users/{u}"), json!({ "level": "read" })).await;
    assert_eq!(s.call(Method::GET, &format!("/v1/groups/{g}"), Some(&key), None).await.status, StatusCode::OK);
    let patch = json!({ "description": "d" });
    assert_eq!(
        s.call(Method::PATCH, &format!("/v1/groups/{g}"), Some(&key), Some(patch.clone())).await.status,
        StatusCode::FORBIDDEN
    );
    // A write share held through a group the user belongs to.
    let team = s.group("team").await;
    s.put(&format!("/v1/groups/{team}/members/{u}"), json!({})).await;
    s.put(&format!("/v1/groups/{g}/shares/groups/{team}"), json!({ "level": "write" })).await;
    assert_eq!(s.call(Method::PATCH, &format!("/v1/groups/{g}"), Some(&key), Some(patch)).await.status, StatusCode::OK);
    assert_eq!(
        s.call(Method::DELETE, &format!("/v1/groups/{g}"), Some(&key), None).await.status,
        StatusCode::FORBIDDEN
    );
}

async fn keys_belong_to_their_users(s: TestServer) {
    let (_, alice) = s.user_with_key("alice").await;
    let (bob, _) = s.user_with_key("bob").await;
    let r = s.call(Method::POST, "/v1/keys", Some(&alice), Some(json!({ "user_id": bob, "name": "steal" }))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = s.call(Method::GET, &format!("/v1/keys?user_id={bob}"), Some(&alice), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let bobs = s.get(&format!("/v1/keys?user_id={bob}")).await.body["items"][0]["id"].as_str().unwrap().to_owned();
    let r = s.call(Method::DELETE, &format!("/v1/keys/{bobs}"), Some(&alice), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Wrong schemes and garbage keys are 401s.
    for header in ["Basic YWxpY2U6eA==", "Bearer ", "Bearer rst_nope", "Key rst_nope"] {
        let res = crate::harness::http()
            .get(format!("{}/v1/me", s.base))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{header}");
        assert!(res.headers().contains_key("www-authenticate"));
    }
}

crate::on_every_store!(
    group_operations_matrix,
    group_lists_show_only_what_a_caller_may_see,
    configurable_permissions_limit_group_admins,
    shares_grant_access,
    keys_belong_to_their_users,
);
