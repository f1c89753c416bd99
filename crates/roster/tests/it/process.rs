//! The real `roster` binary as a child process, for tests that need a
//! whole server process: crashes, signals, several servers on one database.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

pub struct Process {
    pub child: Child,
    pub base: String,
    pub stdout: String,
    /// Everything the server wrote to standard error so far.
    pub log: Arc<Mutex<String>>,
}

/// Starts `roster serve` on a free port and waits until it listens.
pub fn start(database_url: &str, bootstrap: Option<&str>) -> Process {
    start_with(database_url, bootstrap, &Options::default())
}

/// What else a test may set on the server process.
#[derive(Default)]
pub struct Options<'a> {
    /// More `roster serve` arguments.
    pub args: &'a [&'a str],
    /// More environment variables.
    pub env: &'a [(&'a str, &'a str)],
    /// `text` instead of the default `json`.
    pub text_log: bool,
    /// The open-file limit of the server process (`ulimit -n`).
    pub max_open_files: Option<u32>,
}

/// [`start`] with `options`. The whole log is kept in [`Process::log`].
pub fn start_with(database_url: &str, bootstrap: Option<&str>, options: &Options) -> Process {
    let bin = env!("CARGO_BIN_EXE_roster");
    let mut cmd = match options.max_open_files {
        Some(n) => {
            let mut c = Command::new("sh");
            c.args(["-c", &format!("ulimit -n {n} && exec \"$0\" \"$@\""), bin]);
            c
        }
        None => Command::new(bin),
    };
    let format = if options.text_log { "text" } else { "json" };
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--log-format", format])
        .args(options.args)
        .env("ROSTER_DATABASE_URL", database_url)
        .env_remove("ROSTER_BOOTSTRAP_ADMIN_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in options.env {
        cmd.env(k, v);
    }
    if let Some(k) = bootstrap {
        cmd.env("ROSTER_BOOTSTRAP_ADMIN_KEY", k);
    }
    let mut child = cmd.spawn().expect("spawn roster");
    let log = Arc::new(Mutex::new(String::new()));
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut base = None;
    for line in stderr.by_ref() {
        let line = line.expect("log line");
        log.lock().expect("log").push_str(&format!("{line}\n"));
        if let Ok(v) = serde_json::from_str::<Value>(&line)
            && let Some(addr) = v["fields"]["addr"].as_str()
        {
            base = Some(format!("http://{addr}"));
            break;
        }
        if let Some(rest) = line.split("roster listening addr=").nth(1) {
            base = rest.split_whitespace().next().map(|addr| format!("http://{addr}"));
            break;
        }
    }
    let base = base.expect("roster did not report its address");
    // Keep reading the log so the server never writes into a closed pipe.
    let kept = log.clone();
    std::thread::spawn(move || {
        for line in stderr.map_while(Result::ok) {
            kept.lock().expect("log").push_str(&format!("{line}\n"));
        }
    });
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
    Process { child, base, stdout, log }
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
