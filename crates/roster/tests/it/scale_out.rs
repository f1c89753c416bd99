//! Two `roster serve` processes on one PostgreSQL database: what one writes
//! the other reads at once, and concurrent writers through both never lose
//! an update, never double-count and never close a nesting cycle.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::process::{Process, call, start};

const KEY: &str = "rst_scale_out_test_key_0123456789";

async fn two_servers(test: &str) -> Option<(Process, Process, roster_store::testing::PgDatabase)> {
    let db = roster_store::testing::postgres(test).await?;
    // Both start at once: migrations must be applied exactly once.
    let (url_a, url_b) = (db.url.clone(), db.url.clone());
    let a = std::thread::spawn(move || start(&url_a, Some(KEY)));
    let b = std::thread::spawn(move || start(&url_b, Some(KEY)));
    Some((a.join().expect("server a"), b.join().expect("server b"), db))
}

async fn id(base: &str, path: &str, body: Value) -> String {
    let (status, v) = call(base, Method::POST, path, KEY, Some(body)).await;
    assert_eq!(status, 201, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_your_writes_across_servers() {
    let Some((a, b, _db)) = two_servers("scale_out::read_your_writes_across_servers").await else { return };
    let (a, b) = (a.base.as_str(), b.base.as_str());

    let u = id(a, "/v1/users", json!({ "username": "ann" })).await;
    assert_eq!(call(b, Method::GET, &format!("/v1/users/{u}"), KEY, None).await.1["username"], "ann");
    let g = id(b, "/v1/groups", json!({ "name": "shared" })).await;
    let child = id(a, "/v1/groups", json!({ "name": "child" })).await;
    assert_eq!(call(a, Method::GET, &format!("/v1/groups/{g}"), KEY, None).await.0, 200);

    assert_eq!(call(a, Method::PUT, &format!("/v1/groups/{g}/members/{u}"), KEY, Some(json!({}))).await.0, 201);
    let members = call(b, Method::GET, &format!("/v1/groups/{g}/members"), KEY, None).await.1;
    assert_eq!(members["total"], 1);
    assert_eq!(members["items"][0]["user"]["id"], u.as_str());

    assert_eq!(call(b, Method::PUT, &format!("/v1/groups/{g}/children/{child}"), KEY, None).await.0, 201);
    assert_eq!(call(a, Method::GET, &format!("/v1/groups/{g}/children"), KEY, None).await.1["total"], 1);
    assert_eq!(call(a, Method::PUT, &format!("/v1/groups/{child}/children/{g}"), KEY, None).await.0, 409);

    // One change feed, in the same order from both servers.
    let feed_a = call(a, Method::GET, "/v1/events?limit=1000", KEY, None).await.1;
    let feed_b = call(b, Method::GET, "/v1/events?limit=1000", KEY, None).await.1;
    assert_eq!(feed_a["items"], feed_b["items"]);
    let actions: Vec<_> = feed_a["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.ends_with(&["group.created", "membership.created", "membership.created"]), "{actions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_on_one_group() {
    let Some((a, b, _db)) = two_servers("scale_out::concurrent_writers_on_one_group").await else { return };
    let (a, b) = (a.base.as_str(), b.base.as_str());
    let g = id(a, "/v1/groups", json!({ "name": "contended" })).await;
    let users: Vec<String> = join_all(
        (0..40).map(|i| id(if i % 2 == 0 { a } else { b }, "/v1/users", json!({ "username": format!("w{i}") }))),
    )
    .await;

    // Every user is added through both servers at once (idempotent PUTs
    // racing), then the even ones are removed through both at once.
    let adds = users.iter().flat_map(|u| {
        let path = format!("/v1/groups/{g}/members/{u}");
        [a, b].map(move |base| {
            let path = path.clone();
            async move { call(base, Method::PUT, &path, KEY, Some(json!({}))).await.0 }
        })
    });
    let statuses = join_all(adds).await;
    assert!(statuses.iter().all(|s| *s == 200 || *s == 201), "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 40, "each membership created exactly once");

    let removes = users.iter().step_by(2).flat_map(|u| {
        let path = format!("/v1/groups/{g}/members/{u}");
        [a, b].map(move |base| {
            let path = path.clone();
            async move { call(base, Method::DELETE, &path, KEY, None).await.0 }
        })
    });
    let statuses = join_all(removes).await;
    assert_eq!(statuses.iter().filter(|s| **s == 204).count(), 20, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 204 || *s == 404), "{statuses:?}");

    for base in [a, b] {
        let group = call(base, Method::GET, &format!("/v1/groups/{g}"), KEY, None).await.1;
        assert_eq!(group["member_count"], 20, "the counter is exact");
        let members = call(base, Method::GET, &format!("/v1/groups/{g}/members?limit=1000"), KEY, None).await.1;
        assert_eq!(members["items"].as_array().unwrap().len(), 20);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_nesting_never_closes_a_cycle() {
    let Some((a, b, _db)) = two_servers("scale_out::concurrent_nesting_never_closes_a_cycle").await else { return };
    let (a, b) = (a.base.as_str(), b.base.as_str());
    for round in 0..10 {
        let x = id(a, "/v1/groups", json!({ "name": format!("x{round}") })).await;
        let y = id(b, "/v1/groups", json!({ "name": format!("y{round}") })).await;
        let (xy, yx) = (format!("/v1/groups/{x}/children/{y}"), format!("/v1/groups/{y}/children/{x}"));
        let (one, two) = tokio::join!(call(a, Method::PUT, &xy, KEY, None), call(b, Method::PUT, &yx, KEY, None));
        let mut statuses = [one.0, two.0];
        statuses.sort();
        assert_eq!(statuses, [201, 409], "round {round}: exactly one nesting wins");
    }
}
