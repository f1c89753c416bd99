//! The real binary: first start prints an admin key once, SIGTERM shuts
//! down cleanly, and an acknowledged write survives `kill -9`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const KEY: &str = "rst_durability_test_key_0123456789";

struct Process {
    child: Child,
    base: String,
    stdout: String,
}

/// Starts `roster serve` on a free port and waits until it listens.
fn start(db: &Path, bootstrap: Option<&str>) -> Process {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_roster"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .env("ROSTER_DATABASE_URL", format!("sqlite://{}", db.display()))
        .env_remove("ROSTER_BOOTSTRAP_ADMIN_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(k) = bootstrap {
        cmd.env("ROSTER_BOOTSTRAP_ADMIN_KEY", k);
    }
    let mut child = cmd.spawn().expect("spawn roster");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut base = None;
    for line in stderr.by_ref() {
        let line = line.expect("log line");
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if let Some(addr) = v["fields"]["addr"].as_str() {
            base = Some(format!("http://{addr}"));
            break;
        }
    }
    let base = base.expect("roster did not report its address");
    // Keep draining the log so the server never writes into a closed pipe.
    std::thread::spawn(move || stderr.for_each(drop));
    // What the server prints to stdout comes before it listens, so it is in
    // the pipe already: read what is there without waiting for more.
    let (tx, rx) = std::sync::mpsc::channel();
    let out = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut stdout = String::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(300)) {
        stdout.push_str(&line);
        stdout.push('\n');
    }
    Process { child, base, stdout }
}

async fn call(base: &str, method: reqwest::Method, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{base}{path}")).bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("roster.db");
    let mut p = start(&db, Some(KEY));
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

    let mut p = start(&db, Some(KEY));
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
    let mut p = start(&db, None);
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
    let mut p = start(&db, None);
    assert!(!p.stdout.contains("rst_"), "{}", p.stdout);
    let (status, _) = call(&p.base, reqwest::Method::GET, "/v1/me", &key, None).await;
    assert_eq!(status, 200);
    p.child.kill().unwrap();
    p.child.wait().unwrap();
}
