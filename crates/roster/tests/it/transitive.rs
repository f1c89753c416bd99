//! Membership at any depth over HTTP: `/v1/check` with its path, members
//! and groups with `transitive=true` (each once, even through diamonds),
//! kept exact as edges come and go, and who may ask.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::TestServer;

fn ids(body: &Value, key: &str) -> Vec<String> {
    body["items"].as_array().unwrap().iter().map(|i| i[key]["id"].as_str().unwrap().to_owned()).collect()
}

async fn transitive_membership_over_http(s: TestServer) {
    // top ⊃ left, right; left ⊃ leaf; right ⊃ leaf (a diamond); ann in leaf, bob in right.
    let (top, left, right, leaf) =
        (s.group("top").await, s.group("left").await, s.group("right").await, s.group("leaf").await);
    for (p, c) in [(&top, &left), (&top, &right), (&left, &leaf), (&right, &leaf)] {
        let r = s.put(&format!("/v1/groups/{p}/children/{c}"), json!({})).await;
        assert!(r.status.is_success(), "{}", r.body);
    }
    let (ann, ann_key) = s.user_with_key("ann").await;
    let bob = s.user("bob").await;
    let (_, eve_key) = s.user_with_key("eve").await;
    assert!(s.put(&format!("/v1/groups/{leaf}/members/{ann}"), json!({})).await.status.is_success());
    assert!(s.put(&format!("/v1/groups/{right}/members/{bob}"), json!({})).await.status.is_success());

    let check = s.get(&format!("/v1/check?user={ann}&group={top}")).await;
    assert_eq!(check.status, StatusCode::OK, "{}", check.body);
    assert_eq!(check.body["member"], true);
    let path: Vec<&str> = check.body["path"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(path.len(), 3, "top, left or right, leaf: {path:?}");
    assert_eq!((path[0], path[2]), (top.as_str(), leaf.as_str()));
    let direct = s.get(&format!("/v1/check?user={bob}&group={right}")).await.body;
    assert_eq!(direct, json!({ "member": true, "path": [right] }));
    let no = s.get(&format!("/v1/check?user={bob}&group={leaf}")).await.body;
    assert_eq!(no, json!({ "member": false, "path": [] }));

    let members = s.get(&format!("/v1/groups/{top}/members?transitive=true&limit=1")).await;
    assert_eq!(members.body["total"], 2, "ann once, through two paths; bob");
    let first = ids(&members.body, "user");
    let cursor = members.body["next_cursor"].as_str().unwrap().to_owned();
    let second = s.get(&format!("/v1/groups/{top}/members?transitive=true&limit=1&cursor={cursor}")).await;
    assert_eq!([first, ids(&second.body, "user")].concat(), [ann.clone(), bob.clone()]);
    assert!(second.body["items"][0].get("membership").is_none(), "no direct membership at any depth");
    let direct_members = s.get(&format!("/v1/groups/{top}/members")).await.body;
    assert_eq!(direct_members["total"], 0, "the direct list is unchanged");

    let groups = s.get(&format!("/v1/users/{ann}/groups?transitive=true")).await.body;
    let mut got = ids(&groups, "group");
    got.sort();
    let mut want = vec![top.clone(), left.clone(), right.clone(), leaf.clone()];
    want.sort();
    assert_eq!(got, want);
    // Ann belongs to every group her transitive list names, so she reads
    // each of them (and lists them), though she is directly only in leaf;
    // she changes none of them.
    let as_ann = |path: String| {
        let (s, key) = (&s, ann_key.clone());
        async move { s.call(Method::GET, &path, Some(&key), None).await }
    };
    let mine = as_ann(format!("/v1/users/{ann}/groups?transitive=true")).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);
    for g in &want {
        let r = as_ann(format!("/v1/groups/{g}")).await;
        assert_eq!(r.status, StatusCode::OK, "{g}: {}", r.body);
    }
    let mut listed: Vec<String> = as_ann("/v1/groups".to_owned()).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    assert_eq!(listed, want);
    let add = s.call(Method::PUT, &format!("/v1/groups/{top}/members/{bob}"), Some(&ann_key), Some(json!({}))).await;
    assert_eq!(add.status, StatusCode::FORBIDDEN, "{}", add.body);

    // Cutting one side of the diamond keeps ann in top; cutting both removes her.
    assert_eq!(s.delete(&format!("/v1/groups/{left}/children/{leaf}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(s.get(&format!("/v1/check?user={ann}&group={top}")).await.body["member"], true);
    assert_eq!(s.get(&format!("/v1/check?user={ann}&group={left}")).await.body["member"], false);
    assert_eq!(s.delete(&format!("/v1/groups/{right}/children/{leaf}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(s.get(&format!("/v1/check?user={ann}&group={top}")).await.body["member"], false);
    assert_eq!(s.get(&format!("/v1/groups/{top}/members?transitive=true")).await.body["total"], 1);
    let gone = s.call(Method::GET, &format!("/v1/groups/{top}"), Some(&ann_key), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "out of top at every depth, ann no longer sees it");
    // Deleting a group in the middle takes its paths with it.
    assert_eq!(s.delete(&format!("/v1/groups/{right}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(s.get(&format!("/v1/check?user={bob}&group={top}")).await.body["member"], false);

    // Who may ask: the user about themselves; a stranger neither sees the group nor lists.
    let mine = s.call(Method::GET, &format!("/v1/check?user={ann}&group={leaf}"), Some(&ann_key), None).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.body["member"], true);
    let theirs = s.call(Method::GET, &format!("/v1/check?user={ann}&group={top}"), Some(&eve_key), None).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let list = s.call(Method::GET, &format!("/v1/users/{ann}/groups?transitive=true"), Some(&eve_key), None).await;
    assert_eq!(list.status, StatusCode::FORBIDDEN);
    for bad in [
        format!("/v1/check?user={ann}"),
        format!("/v1/check?user=nope&group={top}"),
        format!("/v1/groups/{top}/members?transitive=maybe"),
    ] {
        let r = s.get(&bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
    }
}

crate::on_every_store!(transitive_membership_over_http);
