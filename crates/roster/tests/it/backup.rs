//! Backups as README describes them: `roster backup` copies a SQLite
//! database while a server keeps writing to it, and a server started on the
//! copy serves a consistent directory; PostgreSQL is dumped and restored with
//! its own tools.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use reqwest::Method;
use serde_json::json;

use crate::process::{call, start};

const KEY: &str = "rst_backup_test_key_0123456789";

fn roster() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_roster"));
    cmd.env_remove("ROSTER_DATABASE_URL");
    cmd
}

async fn users_total(base: &str) -> i64 {
    let (status, body) = call(base, Method::GET, "/v1/users?limit=1", KEY, None).await;
    assert_eq!(status, 200, "{body}");
    body["total"].as_i64().expect("total")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_backup_is_consistent_while_the_server_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("live.db").display());
    let server = start(&url, Some(KEY));
    for i in 0..20 {
        let (status, body) =
            call(&server.base, Method::POST, "/v1/users", KEY, Some(json!({ "username": format!("before{i}") }))).await;
        assert_eq!(status, 201, "{body}");
    }
    // A writer keeps creating users, each then put in a group, while the
    // backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (base, stop, written) = (server.base.clone(), stop.clone(), written.clone());
        tokio::spawn(async move {
            let (_, g) = call(&base, Method::POST, "/v1/groups", KEY, Some(json!({ "name": "during" }))).await;
            let group = g["id"].as_str().unwrap_or_default().to_owned();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let body = json!({ "username": format!("during{i}") });
                let (status, user) = call(&base, Method::POST, "/v1/users", KEY, Some(body)).await;
                assert_eq!(status, 201);
                let user = user["id"].as_str().unwrap_or_default().to_owned();
                let (status, _) =
                    call(&base, Method::PUT, &format!("/v1/groups/{group}/members/{user}"), KEY, Some(json!({}))).await;
                assert_eq!(status, 201);
                written.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        })
    };
    while written.load(Ordering::Relaxed) < 5 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let copy = dir.path().join("copy.db");
    let out = roster().args(["backup", "--database", &url, "--to"]).arg(&copy).output().expect("run roster backup");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    stop.store(true, Ordering::Relaxed);
    writer.await.expect("writer");
    let after = users_total(&server.base).await;
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "a partial copy was left behind");

    // A server on the copy: every user up to some point, each with its
    // membership, and the counters agree with the rows.
    let restored = start(&format!("sqlite://{}", copy.display()), None);
    let total = users_total(&restored.base).await;
    assert!((21..=after).contains(&total), "the copy holds {total} users; 21..={after} expected");
    let (_, groups) = call(&restored.base, Method::GET, "/v1/groups?prefix=during", KEY, None).await;
    let group = groups["items"][0]["id"].as_str().expect("the group made before the backup").to_owned();
    let (_, members) =
        call(&restored.base, Method::GET, &format!("/v1/groups/{group}/members?limit=1000"), KEY, None).await;
    let listed = members["items"].as_array().map(Vec::len).unwrap_or_default() as i64;
    assert_eq!(members["total"].as_i64(), Some(listed), "member counter and rows agree");
    // The writer makes a user, then its membership: the snapshot may fall
    // between the two for the last user, never anywhere else.
    assert!((total - 22..=total - 21).contains(&listed), "{listed} members for {total} users");

    // An existing target is never overwritten; PostgreSQL is pg_dump's job.
    let again = roster().args(["backup", "--database", &url, "--to"]).arg(&copy).output().expect("run");
    assert_eq!(again.status.code(), Some(2), "{}", String::from_utf8_lossy(&again.stderr));
    let pg = roster()
        .args(["backup", "--database", "postgres://u@127.0.0.1:1/x", "--to"])
        .arg(dir.path().join("pg.db"))
        .output()
        .expect("run");
    assert_eq!(pg.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&pg.stderr).contains("pg_dump"));
    let missing = roster()
        .args(["backup", "--database", &format!("sqlite://{}", dir.path().join("nope.db").display()), "--to"])
        .arg(dir.path().join("nope-copy.db"))
        .output()
        .expect("run");
    assert!(!missing.status.success(), "a missing database is an error, not a new empty one");
    assert!(!dir.path().join("nope.db").exists());
}

/// README's PostgreSQL recipe, once: `pg_dump -Fc`, `pg_restore` into an
/// empty database, a server on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_database_restores_from_pg_dump() {
    let Some(source) = roster_store::testing::postgres("backup::pg_dump::source").await else { return };
    let Some(target) = roster_store::testing::postgres("backup::pg_dump::target").await else { return };
    let server = start(&source.url, Some(KEY));
    let (status, _) = call(&server.base, Method::POST, "/v1/users", KEY, Some(json!({ "username": "dumped" }))).await;
    assert_eq!(status, 201);
    drop(server);
    let dir = tempfile::tempdir().expect("tempdir");
    let dump = dir.path().join("roster.dump");
    let out = Command::new("pg_dump").args(["-Fc", "-d", &source.url, "-f"]).arg(&dump).output().expect("pg_dump");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out =
        Command::new("pg_restore").args(["--no-owner", "-d", &target.url]).arg(&dump).output().expect("pg_restore");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let restored = start(&target.url, None);
    let (_, users) = call(&restored.base, Method::GET, "/v1/users?prefix=dumped", KEY, None).await;
    assert_eq!(users["total"], 1, "{users}");
}
