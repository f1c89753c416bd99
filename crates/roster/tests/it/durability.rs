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

/// Waits until the server's index is loaded; returns its revision.
async fn ready(base: &str) -> i64 {
    for _ in 0..1000 {
        if let Ok(r) = crate::harness::http().get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            let body: serde_json::Value = r.json().await.unwrap();
            return body["revision"].as_i64().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the index did not load");
}

/// Where the running server's index came from, as its log says.
fn loaded_from(p: &crate::process::Process) -> Vec<String> {
    let log = p.log.lock().unwrap().clone();
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "index loaded")
        .map(|v| v["fields"]["from"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn stop(p: &mut crate::process::Process) {
    let pid = p.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    for _ in 0..200 {
        if let Some(status) = p.child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("roster did not stop on SIGTERM");
}

/// A group "kept" with `n` new users in it, each a write of its own (two
/// events each, one for the group); its id.
async fn kept_group_of(base: &str, n: usize) -> String {
    let (status, g) = call(base, reqwest::Method::POST, "/v1/groups", KEY, Some(json!({ "name": "kept" }))).await;
    assert_eq!(status, 201);
    let g = g["id"].as_str().unwrap().to_owned();
    for i in 0..n {
        let (status, u) =
            call(base, reqwest::Method::POST, "/v1/users", KEY, Some(json!({ "username": format!("k{i}") }))).await;
        assert_eq!(status, 201);
        let path = format!("/v1/groups/{g}/members/{}", u["id"].as_str().unwrap());
        assert_eq!(call(base, reqwest::Method::PUT, &path, KEY, Some(json!({}))).await.0, 201);
    }
    g
}

/// A SQLite server keeps its index's snapshot beside the database: the
/// first load writes it, a start after `kill -9` reads it and replays the
/// log after it, a graceful stop writes it at the last revision (the next
/// start replays nothing), a damaged file is passed over, and `off` keeps
/// none.
#[tokio::test]
async fn the_index_starts_from_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("roster.db");
    let snapshot = dir.path().join("roster.db.index");
    let mut p = start(&sqlite(&db), Some(KEY));
    ready(&p.base).await;
    assert_eq!(loaded_from(&p), ["store"]);
    assert!(snapshot.exists(), "the first load wrote the snapshot");
    let g = kept_group_of(&p.base, 20).await;
    let members = format!("/v1/groups/{g}/members?limit=100");
    let (_, before) = call(&p.base, reqwest::Method::GET, &members, KEY, None).await;
    assert_eq!(before["items"].as_array().unwrap().len(), 20);
    p.child.kill().unwrap();
    p.child.wait().unwrap();

    // After kill -9: the snapshot of the first load, then the log after it.
    let mut p = start(&sqlite(&db), Some(KEY));
    let revision = ready(&p.base).await;
    assert_eq!(loaded_from(&p), ["snapshot"]);
    assert_eq!(call(&p.base, reqwest::Method::GET, &members, KEY, None).await.1, before);
    stop(&mut p);
    assert!(p.log.lock().unwrap().contains("index snapshot written"), "a stop writes the snapshot");

    // After a graceful stop: the snapshot is at the last revision.
    let mut p = start(&sqlite(&db), Some(KEY));
    assert_eq!(ready(&p.base).await, revision);
    assert_eq!(loaded_from(&p), ["snapshot"]);
    assert_eq!(call(&p.base, reqwest::Method::GET, &members, KEY, None).await.1, before);
    stop(&mut p);

    // Damaged: passed over, said so, and the store is read instead.
    let bytes = std::fs::read(&snapshot).unwrap();
    std::fs::write(&snapshot, &bytes[..bytes.len() - 7]).unwrap();
    let mut p = start(&sqlite(&db), Some(KEY));
    ready(&p.base).await;
    assert_eq!(loaded_from(&p), ["store"]);
    assert!(p.log.lock().unwrap().contains("index snapshot not used"));
    assert_eq!(call(&p.base, reqwest::Method::GET, &members, KEY, None).await.1, before);
    p.child.kill().unwrap();
    p.child.wait().unwrap();

    // Off: none read, none written.
    std::fs::remove_file(&snapshot).unwrap();
    let options = crate::process::Options { args: &["--index-snapshot", "off"], ..Default::default() };
    let mut p = crate::process::start_with(&sqlite(&db), Some(KEY), &options);
    ready(&p.base).await;
    stop(&mut p);
    assert!(!snapshot.exists(), "no snapshot when it is off");
}

/// How many events each load from a snapshot applied after it.
fn replayed(p: &crate::process::Process) -> Vec<i64> {
    let log = p.log.lock().unwrap().clone();
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "index loaded" && v["fields"]["from"] == "snapshot")
        .filter_map(|v| v["fields"]["replayed"].as_i64())
        .collect()
}

/// The revisions of the snapshots a running server wrote while serving,
/// as its log says.
fn rewritten_at(p: &crate::process::Process) -> Vec<i64> {
    let log = p.log.lock().unwrap().clone();
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "index snapshot written while serving")
        .filter_map(|v| v["fields"]["revision"].as_i64())
        .collect()
}

/// With `--index-snapshot-every`, the snapshot is written again while the
/// server serves (a write goes on meanwhile), so a start after `kill -9`
/// reads a recent one and replays only the log after it.
#[tokio::test]
async fn the_snapshot_is_written_again_while_serving() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("roster.db");
    let options = crate::process::Options { args: &["--index-snapshot-every", "25"], ..Default::default() };
    let mut p = crate::process::start_with(&sqlite(&db), Some(KEY), &options);
    let first = ready(&p.base).await;
    assert_eq!(loaded_from(&p), ["store"]);
    let g = kept_group_of(&p.base, 40).await;
    // 81 events past the first load: written again once 25 are applied
    // past the last file, each time the follower wakes (how many times
    // depends on how fast the writes came).
    let head = ready(&p.base).await;
    assert!(head >= first + 81);
    let mut written = Vec::new();
    for _ in 0..100 {
        written = rewritten_at(&p);
        if written.last().is_some_and(|r| head - *r < 25) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last = *written.last().expect("a snapshot written while serving");
    assert!(head - last < 25, "written at {written:?}, the log at {head}");
    let members = format!("/v1/groups/{g}/members?limit=100");
    let (_, before) = call(&p.base, reqwest::Method::GET, &members, KEY, None).await;
    assert_eq!(before["items"].as_array().unwrap().len(), 40);
    p.child.kill().unwrap();
    p.child.wait().unwrap();

    // The newest snapshot, and only the log after it.
    let p = crate::process::start_with(&sqlite(&db), Some(KEY), &options);
    assert_eq!(ready(&p.base).await, head);
    assert_eq!(loaded_from(&p), ["snapshot"]);
    assert_eq!(replayed(&p), [head - last]);
    assert_eq!(call(&p.base, reqwest::Method::GET, &members, KEY, None).await.1, before);
}
