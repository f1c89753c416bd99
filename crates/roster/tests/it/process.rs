//! The real `roster` binary as a child process, for tests that need a
//! whole server process: crashes, signals, several servers on one database.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub struct Process {
    pub child: Child,
    pub base: String,
    pub stdout: String,
}

/// Starts `roster serve` on a free port and waits until it listens.
pub fn start(database_url: &str, bootstrap: Option<&str>) -> Process {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_roster"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .env("ROSTER_DATABASE_URL", database_url)
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

pub async fn call(base: &str, method: reqwest::Method, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = crate::harness::http().request(method, format!("{base}{path}")).bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
