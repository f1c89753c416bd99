//! The real binary: first start prints an admin key once, SIGTERM shuts
//! down cleanly, and an acknowledged write survives `kill -9`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::process::{call, start};

fn sqlite(db: &Path) -> String {
    format!("sqlite://{}", db.display())
}

const KEY: &str = "rst_durability_test_key_0123456789";

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("roster.db");
    let mut p = start(&sqlite(&db), Some(KEY));
    let (status, g) = call(&p.base, reqwest::Method::POST, "/v1/groups", KEY, Some(json!({ "name": "durable" }))).await;
    assert_eq!(status, 201);
    let g = g["id"].as_str().unwrap().to_owned();
    let mut users = Vec::new();
    for i in 0..50 {
        let (status, u) =
            call(&p.base, reqwest::Method::POST, "/v1/users", KEY, Some(json!({ "username": format!("u{i}") }))).await;
        assert_eq!(status, 201);
        let u = u["id"].as_str().unwrap().to_owned();
        let (status, _) =
            call(&p.base, reqwest::Method::PUT, &format!("/v1/groups/{g}/members/{u}"), KEY, Some(json!({}))).await;
        assert_eq!(status, 201);
        users.push(u);
    }
    // SIGKILL: no shutdown, no checkpoint, no flush beyond what was acknowledged.
    p.child.kill().expect("kill -9");
    p.child.wait().unwrap();

    let mut p = start(&sqlite(&db), Some(KEY));
    let (status, group) = call(&p.base, reqwest::Method::GET, &format!("/v1/groups/{g}"), KEY, None).await;
    assert_eq!(status, 200);
    assert_eq!(group["member_count"], 50);
    let (_, members) =
        call(&p.base, reqwest::Method::GET, &format!("/v1/groups/{g}/members?limit=1000"), KEY, None).await;
    let ids: Vec<_> =
        members["items"].as_array().unwrap().iter().map(|m| m["user"]["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, users);
    p.child.kill().unwrap();
    p.child.wait().unwrap();
}

#[tokio::test]
async fn first_start_prints_a_key_once_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("roster.db");
    let mut p = start(&sqlite(&db), None);
    let key = p.stdout.lines().find(|l| l.starts_with("rst_")).expect("printed key").to_owned();
    let (status, me) = call(&p.base, reqwest::Method::GET, "/v1/me", &key, None).await;
    assert_eq!(status, 200);
    assert_eq!(me["site_role"], "admin");
    let pid = p.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let mut waited = 0;
    let exit = loop {
        if let Some(status) = p.child.try_wait().unwrap() {
            break status;
        }
        assert!(waited < 100, "roster did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
        waited += 1;
    };
    assert!(exit.success(), "{exit:?}");

    // The second start on the same database prints nothing: the key is not shown again.
    let mut p = start(&sqlite(&db), None);
    assert!(!p.stdout.contains("rst_"), "{}", p.stdout);
    let (status, _) = call(&p.base, reqwest::Method::GET, "/v1/me", &key, None).await;
    assert_eq!(status, 200);
    p.child.kill().unwrap();
    p.child.wait().unwrap();
}
