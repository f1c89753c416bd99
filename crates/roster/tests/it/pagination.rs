//! Keyset pagination: walking every page of a large group returns each
//! member exactly once, in a stable order, even while members are added.

use std::collections::HashSet;

use futures_util::future::join_all;
use serde_json::json;

use crate::harness::TestServer;

async fn add_users(s: &TestServer, g: &str, from: usize, to: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for chunk in (from..to).collect::<Vec<_>>().chunks(16) {
        let made = join_all(chunk.iter().map(|i| async move {
            let u = s.user(&format!("user{i:05}")).await;
            let r = s.put(&format!("/v1/groups/{g}/members/{u}"), json!({})).await;
            assert!(r.status.is_success(), "{}", r.body);
            u
        }))
        .await;
        ids.extend(made);
    }
    ids
}

/// Walks `path` with `limit`, returning the user ids in the order served.
async fn walk(s: &TestServer, path: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}?limit={limit}&cursor={c}"),
            None => format!("{path}?limit={limit}"),
        };
        let page = s.get(&url).await.body;
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= limit);
        out.extend(items.iter().map(|m| m["user"]["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

async fn every_member_exactly_once_while_members_are_added(s: TestServer) {
    let g = s.group("big").await;
    let original = add_users(&s, &g, 0, 2500).await;
    let path = format!("/v1/groups/{g}/members");
    assert_eq!(s.get(&path).await.body["total"], 2500);

    let (seen, added) = tokio::join!(walk(&s, &path, 100), add_users(&s, &g, 2500, 2700));
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no member twice");
    let first: HashSet<_> = seen[..2500].iter().collect();
    assert_eq!(first, original.iter().collect::<HashSet<_>>(), "the original members first");
    let late: HashSet<_> = added.iter().collect();
    assert!(seen[2500..].iter().all(|u| late.contains(u)), "only new members after them");

    let again = walk(&s, &path, 1000).await;
    assert_eq!(again.len(), 2700);
    // What the first walk saw comes in the same order. A member added
    // during that walk may be missing from it on PostgreSQL: memberships
    // of one group are written side by side, and one whose `num` is lower
    // can commit after the walk passed a higher one (cursor.rs).
    let seen_set: HashSet<_> = seen.iter().collect();
    let kept: Vec<_> = again.iter().filter(|u| seen_set.contains(u)).collect();
    assert_eq!(kept, seen.iter().collect::<Vec<_>>(), "the order is stable");
    assert_eq!(&again[..2500], &seen[..2500], "the original members are where they were");
    assert_eq!(s.get(&path).await.body["total"], 2700);
}

/// Pages by number (Posit's `page_number`) resume from where the previous
/// page stopped: a member removed from an earlier page makes no later
/// member be skipped, as a plain SQL OFFSET would.
async fn numbered_pages_resume_where_the_last_one_stopped(s: TestServer) {
    let g = s.group("numbered").await;
    let members = add_users(&s, &g, 0, 30).await;
    let http = crate::harness::http();
    let page = |n: u32| {
        let http = http.clone();
        let url = format!("{}/posit/__api__/v1/groups/{g}/members?page_number={n}&page_size=10", s.base);
        let key = s.admin.clone();
        async move {
            let body: serde_json::Value =
                http.get(url).header("authorization", format!("Key {key}")).send().await.unwrap().json().await.unwrap();
            body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["guid"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let mut seen = page(1).await;
    // Someone removes a member the walk has already passed.
    let gone = seen[3].clone();
    assert_eq!(s.delete(&format!("/v1/groups/{g}/members/{gone}")).await.status, reqwest::StatusCode::NO_CONTENT);
    seen.extend(page(2).await);
    seen.extend(page(3).await);
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no member twice");
    let all: HashSet<_> = members.iter().collect();
    assert_eq!(unique, all, "every member seen, none skipped");
}

crate::on_every_store!(
    every_member_exactly_once_while_members_are_added,
    numbered_pages_resume_where_the_last_one_stopped
);
