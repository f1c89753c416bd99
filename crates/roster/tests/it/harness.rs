//! A real Roster on a free loopback port, in-process, on a fresh SQLite
//! file; and helpers to talk to it over HTTP.

use std::net::SocketAddr;

use reqwest::{Method, StatusCode};
use roster_core::{AnonymousRead, Directory, RateLimits};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const ADMIN_KEY: &str = "rst_test_admin_key_0123456789abcdef";

/// Test servers deliver webhooks to loopback (only), on a retry schedule a
/// thousand times shorter than in service: 5 ms, 300 ms, 1.8 s, 7.2 s, …
pub const WEBHOOK_ALLOW: &str = "127.0.0.0/8";
pub const WEBHOOK_RETRY_SCALE: f64 = 0.001;

pub struct TestServer {
    pub base: String,
    /// The same server's LDAP listener, `ldap://127.0.0.1:PORT`.
    pub ldap: String,
    /// Its LDAPS listener, `ldaps://127.0.0.1:PORT`, when TLS is configured.
    pub ldaps: Option<String>,
    pub admin: String,
    /// The store the server runs on, for tests that reach under it.
    pub url: String,
    /// The server's directory, for tests that look at its index.
    pub directory: Directory,
    http: reqwest::Client,
    _stop: oneshot::Sender<()>,
    // Declared last: the database outlives the server that uses it.
    _guard: Guard,
}

/// Keeps a test database alive for as long as its server.
pub enum Guard {
    Sqlite(#[allow(dead_code)] TempDir),
    Postgres(#[allow(dead_code)] roster_store::testing::PgDatabase),
    /// A second server on another's database (which holds the real guard).
    Shared,
}

/// The LDAP side of a test server: its listener's settings (with TLS, an
/// LDAPS listener is bound too) and the directory's anonymous-read policy.
#[derive(Clone, Debug, Default)]
pub struct LdapOptions {
    pub config: roster_server::ldap::LdapConfig,
    pub anonymous_read: AnonymousRead,
}

/// A response: the status and the JSON body (`Null` when empty).
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
    /// The length of the body as sent (a non-JSON body reads as `Null`).
    pub raw_len: usize,
}

impl Reply {
    /// Sends a request and reads its answer.
    pub async fn read(req: reqwest::RequestBuilder) -> Self {
        let res = req.send().await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, body, headers, raw_len: bytes.len() }
    }

    pub fn id(&self) -> String {
        self.body["id"].as_str().unwrap_or_else(|| panic!("no id in {}", self.body)).to_owned()
    }

    /// The `error.field` of an error body.
    pub fn field(&self) -> Option<&str> {
        self.body["error"]["field"].as_str()
    }
}

impl TestServer {
    /// A server on a fresh SQLite file.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("roster.db").display());
        Self::on(&url, Guard::Sqlite(dir)).await
    }

    /// A server on a throw-away PostgreSQL database, or `None` (said on
    /// standard error) when there is none (see `roster_store::testing::postgres`).
    pub async fn postgres(test: &str) -> Option<Self> {
        let db = roster_store::testing::postgres(test).await?;
        let url = db.url.clone();
        Some(Self::on(&url, Guard::Postgres(db)).await)
    }

    /// A server on a fresh SQLite file that enforces `limits` (every other
    /// test server enforces none: tests send many requests fast, and the
    /// authorization table fails authentication on purpose).
    pub async fn sqlite_limited(limits: RateLimits) -> Self {
        Self::sqlite_with(limits, roster_server::Limits::default()).await
    }

    /// A server on a fresh SQLite file with these connection and request limits.
    pub async fn sqlite_with(limits: RateLimits, server_limits: roster_server::Limits) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("roster.db").display());
        Self::start(&url, Guard::Sqlite(dir), limits, server_limits).await
    }

    /// A server on a fresh SQLite file whose LDAP listener has these settings.
    pub async fn sqlite_with_ldap(ldap: roster_server::ldap::LdapConfig) -> Self {
        Self::sqlite_with_ldap_options(LdapOptions { config: ldap, ..LdapOptions::default() }).await
    }

    /// A server on a fresh SQLite file with these LDAP settings and
    /// anonymous-read policy; with TLS configured, an LDAPS listener too.
    pub async fn sqlite_with_ldap_options(ldap: LdapOptions) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("roster.db").display());
        let (limits, server_limits) = (RateLimits::off(), roster_server::Limits::default());
        Self::start_with(&url, Guard::Sqlite(dir), limits, server_limits, ldap, true, None).await
    }

    async fn on(url: &str, guard: Guard) -> Self {
        Self::start(url, guard, RateLimits::off(), roster_server::Limits::default()).await
    }

    /// Another server on this one's database: with its own index, as a
    /// second `roster serve` would be, or with none (every read goes to
    /// the store: what the index must agree with).
    pub async fn twin(&self, index: bool) -> Self {
        let ldap = LdapOptions::default();
        let limits = roster_server::Limits::default();
        Self::start_with(&self.url, Guard::Shared, RateLimits::off(), limits, ldap, index, None).await
    }

    /// Another server on this one's database, keeping its index's
    /// snapshot at `path` (and so loading from it, when it fits).
    pub async fn twin_with_snapshot(&self, path: &std::path::Path) -> Self {
        let ldap = LdapOptions::default();
        let limits = roster_server::Limits::default();
        Self::start_with(&self.url, Guard::Shared, RateLimits::off(), limits, ldap, true, Some(path.to_owned())).await
    }

    async fn start(url: &str, guard: Guard, limits: RateLimits, server_limits: roster_server::Limits) -> Self {
        Self::start_with(url, guard, limits, server_limits, LdapOptions::default(), true, None).await
    }

    /// `index`: follow the log in an index (else every read goes to the
    /// store); `snapshot`: where that index keeps its snapshot.
    async fn start_with(
        url: &str,
        guard: Guard,
        limits: RateLimits,
        server_limits: roster_server::Limits,
        ldap_options: LdapOptions,
        index: bool,
        snapshot: Option<std::path::PathBuf>,
    ) -> Self {
        let LdapOptions { config: ldap_config, anonymous_read } = ldap_options;
        let store = roster_store::connect(url).await.expect("store");
        let directory = Directory::new(store)
            .with_rate_limits(limits)
            .with_anonymous_read(anonymous_read)
            .with_index_snapshot(snapshot);
        directory.bootstrap(Some(ADMIN_KEY)).await.expect("bootstrap");
        if index {
            // Tests read through the index, as a server in service does.
            tokio::spawn(directory.follow_changes());
            while !directory.index().is_ready() {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        }
        // Webhook deliveries, as `roster serve` runs them.
        let allow = roster_core::webhooks::AllowList::parse(WEBHOOK_ALLOW).expect("allow list");
        let timeout = std::time::Duration::from_secs(5);
        let sender = roster_server::outbound::HttpSender::new(allow, timeout).expect("webhook sender");
        let mut delivery = roster_core::webhooks::DeliverySettings::scaled(WEBHOOK_RETRY_SCALE, timeout);
        delivery.poll = std::time::Duration::from_millis(100);
        tokio::spawn(directory.deliver_webhooks(std::sync::Arc::new(sender), delivery));
        // Bind first, then spawn: the port is ready before any request.
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        // LDAP beside HTTP, on the same directory, stopped with it.
        let ldap = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("bind ldap");
        let ldap_addr = ldap.local_addr().expect("ldap addr");
        let ldaps = match ldap_config.tls {
            Some(_) => Some(TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("bind ldaps")),
            None => None,
        };
        let ldaps_url = ldaps.as_ref().map(|l| format!("ldaps://{}", l.local_addr().expect("ldaps addr")));
        let listeners = roster_server::ldap::LdapListeners { ldap: Some(ldap), ldaps };
        let (ldap_stop, ldap_stopped) = oneshot::channel::<()>();
        tokio::spawn(roster_server::ldap::serve_ldap(listeners, directory.clone(), ldap_config, async move {
            let _ = ldap_stopped.await;
        }));
        let app = roster_server::app_with(directory.clone(), &server_limits);
        tokio::spawn(roster_server::serve(listener, app, server_limits, async move {
            let _ = stopped.await;
            let _ = ldap_stop.send(());
        }));
        Self {
            base: format!("http://{addr}"),
            ldap: format!("ldap://{ldap_addr}"),
            ldaps: ldaps_url,
            admin: ADMIN_KEY.to_owned(),
            url: url.to_owned(),
            directory,
            http: crate::harness::http(),
            _stop: stop,
            _guard: guard,
        }
    }

    /// Sends `method path` with `key` (if any) and a JSON `body` (if any).
    pub async fn call(&self, method: Method, path: &str, key: Option<&str>, body: Option<Value>) -> Reply {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let reply = Reply::read(req).await;
        assert!(reply.body != Value::Null || reply.raw_len == 0, "{}: the body is not JSON", reply.status);
        reply
    }

    /// Sends raw bytes with a content type, for malformed-input tests. A
    /// client of its own: the server may close a connection whose body it
    /// refused unread, and that connection must not go back to the pool.
    pub async fn raw(&self, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let req = crate::harness::http()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.admin)
            .header("content-type", content_type)
            .body(body);
        Reply::read(req).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, Some(&self.admin), None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(&self.admin), Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(&self.admin), Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(&self.admin), Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, Some(&self.admin), None).await
    }

    /// Creates a user and returns its id.
    pub async fn user(&self, username: &str) -> String {
        let r = self.post("/v1/users", json!({ "username": username })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.id()
    }

    /// Creates a user with a key and returns (id, key).
    pub async fn user_with_key(&self, username: &str) -> (String, String) {
        let id = self.user(username).await;
        let r = self.post("/v1/keys", json!({ "user_id": id, "name": "test" })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        (id, r.body["key"].as_str().expect("key").to_owned())
    }

    /// Creates a group and returns its id.
    pub async fn group(&self, name: &str) -> String {
        let r = self.post("/v1/groups", json!({ "name": name })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.id()
    }
}

impl TestServer {
    /// Sends `method path` with exactly these headers (authentication
    /// included, in whatever form the front-end reads) and a JSON body.
    pub async fn send(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Option<Value>) -> Reply {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Reply::read(req).await
    }

    /// Sends a JSON request as the admin with one extra header.
    pub async fn http_with_header(&self, method: Method, path: &str, name: &str, value: &str, body: Value) -> Reply {
        let req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.admin)
            .header(name, value)
            .json(&body);
        Reply::read(req).await
    }
}

impl TestServer {
    /// Makes every statement that touches `table` fail from now on (the
    /// table is renamed away), to see what a use-case does when its store
    /// fails: an error must surface as an error, never as "not found" or
    /// an empty list, and nothing may be half-written.
    pub async fn break_table(&self, table: &str) {
        self.sql(&format!("ALTER TABLE {table} RENAME TO {table}_broken")).await;
    }

    /// Runs the `roster` binary against this server: its URL and key for
    /// the commands that talk to a server, its database for `load`.
    pub async fn roster(&self, args: &[&str]) -> (i32, String, String) {
        run_roster(args, &[("ROSTER_URL", &self.base), ("ROSTER_KEY", &self.admin), ("ROSTER_DATABASE_URL", &self.url)])
            .await
    }

    /// Runs one statement on the server's database, underneath it.
    pub async fn sql(&self, sql: &str) {
        use sqlx::Executor;
        let sql = sql.to_owned();
        if self.url.starts_with("postgres") {
            let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&self.url).await.expect("connect");
            c.execute(sqlx::AssertSqlSafe(sql)).await.expect("statement");
        } else {
            let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(&self.url).await.expect("connect");
            c.execute(sqlx::AssertSqlSafe(sql)).await.expect("statement");
        }
    }
}

/// Runs the `roster` binary with `args` and these environment variables:
/// (exit code, -1 for a signal; standard output; standard error).
pub async fn run_roster(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .await
        .expect("run roster");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An HTTP client for tests. reqwest is built with rustls and no default
/// crypto provider (the `roster-client` crate brings its own TLS), so the
/// provider is installed first, once.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
