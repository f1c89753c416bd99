//! Webhooks end to end: a receiver on loopback (a small axum server in the
//! test) gets the change feed, signed as Standard Webhooks says, checked
//! here by an implementation of the signature of the test's own (HMAC-SHA256
//! and base64, computed directly); in order, with stable `webhook-id`s,
//! through a receiver that is down for a while, a 410, a `kill -9` of the
//! server and two servers on one database.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::net::TcpListener;

use crate::harness::TestServer;

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Vec<u8>,
    pub json: Value,
}

/// What the receiver answers.
#[derive(Clone, Copy)]
pub enum Answer {
    Ok,
    Status(u16),
    /// 200 after a pause.
    Slow(Duration),
    /// This status with `Retry-After: <seconds>`.
    RetryAfter(u16, u64),
}

#[derive(Clone)]
struct Shared {
    got: Arc<Mutex<Vec<Received>>>,
    answer: Arc<Mutex<Answer>>,
}

/// A webhook receiver on a loopback port.
pub struct Receiver {
    pub url: String,
    shared: Shared,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Receiver {
    pub async fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("bind receiver");
        Self::serve(listener, answer).await
    }

    /// A receiver on `port` (one a test reserved while the receiver was down).
    pub async fn start_on(port: u16, answer: Answer) -> Self {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await.expect("bind receiver port");
        Self::serve(listener, answer).await
    }

    async fn serve(listener: TcpListener, answer: Answer) -> Self {
        let addr = listener.local_addr().expect("addr");
        let shared = Shared { got: Arc::default(), answer: Arc::new(Mutex::new(answer)) };
        let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Self { url: format!("http://{addr}/hook"), shared, _stop: stop }
    }

    pub fn answer(&self, answer: Answer) {
        *self.shared.answer.lock().expect("answer") = answer;
    }

    pub fn got(&self) -> Vec<Received> {
        self.shared.got.lock().expect("got").clone()
    }

    /// Waits until `done` holds of what came, or fails after `limit`.
    pub async fn wait_for(&self, limit: Duration, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.got();
            if done(&got) {
                return got;
            }
            assert!(start.elapsed() < limit, "waited {limit:?} for {what}; got {:?}", types(&got));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receive(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> axum::response::Response {
    use axum::response::IntoResponse;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let answer = *s.answer.lock().expect("answer");
    if let Answer::Slow(pause) = answer {
        tokio::time::sleep(pause).await;
    }
    s.got.lock().expect("got").push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        body: body.to_vec(),
    });
    match answer {
        Answer::Ok | Answer::Slow(_) => StatusCode::OK.into_response(),
        Answer::Status(code) => StatusCode::from_u16(code).expect("status").into_response(),
        Answer::RetryAfter(code, secs) => {
            (StatusCode::from_u16(code).expect("status"), [("retry-after", secs.to_string())]).into_response()
        }
    }
}

/// The event types received, in order.
pub fn types(got: &[Received]) -> Vec<String> {
    got.iter().map(|r| r.json["type"].as_str().unwrap_or("?").to_owned()).collect()
}

/// Standard Webhooks' `v1` check, written here from the specification:
/// base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")) must be one of the
/// space-separated `v1,` entries, and the timestamp within 5 minutes.
pub fn verify(secret: &str, r: &Received) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").expect("whsec_ prefix")).expect("base64 secret");
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("hmac key");
    mac.update(format!("{}.{}.", r.id, r.timestamp).as_bytes());
    mac.update(&r.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let fresh = r.timestamp.parse::<i64>().is_ok_and(|t| (now - t).abs() <= 300);
    fresh && r.signature.split(' ').any(|s| s == expected)
}

/// Creates a subscription as the admin; returns (id, secret).
pub async fn subscribe(s: &TestServer, body: Value) -> (String, String) {
    let r = s.post("/v1/webhooks", body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    (r.id(), r.body["secret"].as_str().expect("secret").to_owned())
}

/// A subscription's delivery log once it holds at least `n` attempts.
async fn delivery_log(s: &TestServer, hook: &str, n: usize) -> Value {
    let start = Instant::now();
    loop {
        let r = s.get(&format!("/v1/webhooks/{hook}/deliveries")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        if r.body["items"].as_array().is_some_and(|i| i.len() >= n) {
            return r.body;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "fewer than {n} attempts logged: {}", r.body);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The seqs received, first arrival of each, in arrival order.
fn first_seqs(got: &[Received]) -> Vec<i64> {
    let mut seen = Vec::new();
    for r in got {
        let seq = r.json["seq"].as_i64().expect("seq");
        if !seen.contains(&seq) {
            seen.push(seq);
        }
    }
    seen
}

async fn signed_events_arrive_in_order(s: TestServer) {
    let rx = Receiver::start(Answer::Ok).await;
    let (hook, secret) =
        subscribe(&s, json!({ "url": rx.url, "event_types": ["membership.*", "group.created"], "description": "d" }))
            .await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    // Reads never show the secret.
    for path in [format!("/v1/webhooks/{hook}"), "/v1/webhooks".to_owned()] {
        let r = s.get(&path).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(!r.body.to_string().contains(&secret[6..]), "{path} shows the secret: {}", r.body);
        assert!(!r.body.to_string().contains("secret\":"), "{path}: {}", r.body);
    }
    let g = s.group("hooked").await;
    let (u1, u2) = (s.user("u1").await, s.user("u2").await);
    for u in [&u1, &u2] {
        assert_eq!(s.put(&format!("/v1/groups/{g}/members/{u}"), json!({})).await.status, 201);
    }
    assert_eq!(s.delete(&format!("/v1/groups/{g}/members/{u1}")).await.status, 204);
    let got = rx.wait_for(Duration::from_secs(20), "four events", |g| g.len() >= 4).await;
    assert_eq!(types(&got), ["group.created", "membership.created", "membership.created", "membership.deleted"]);
    let seqs: Vec<i64> = got.iter().map(|r| r.json["seq"].as_i64().expect("seq")).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in log order: {seqs:?}");
    for r in &got {
        assert!(verify(&secret, r), "signature of {} does not verify: {}", r.id, r.signature);
        assert_eq!(r.id, format!("msg_{}_{}", hook.replace('-', ""), r.json["seq"]));
    }
    let added = &got[1].json;
    assert_eq!(added["target_type"], "membership");
    assert_eq!(added["after"]["group_id"], g.as_str());
    assert_eq!(added["actor"].as_str().map(str::len), Some(36));
    assert!(added["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{added}");
    assert_eq!(got[3].json["before"]["member_id"], u1.as_str());
    // The ping reaches this subscription only, whatever its filters.
    assert_eq!(s.post(&format!("/v1/webhooks/{hook}/ping"), json!(null)).await.status, 202);
    let got = rx.wait_for(Duration::from_secs(20), "the ping", |g| g.len() >= 5).await;
    assert_eq!(got[4].json["type"], "webhook.ping");
    assert!(verify(&secret, &got[4]));
    // The delivery log, newest first (the attempt is saved once the answer is in).
    let log = delivery_log(&s, &hook, 5).await;
    let items = log["items"].as_array().expect("items");
    assert_eq!(items.len(), 5, "{log}");
    assert!(items.iter().all(|d| d["outcome"] == "delivered" && d["status"] == 200 && d["attempt"] == 1));
    assert_eq!(items[0]["message_id"], got[4].id.as_str());
    let metrics = crate::harness::http().get(format!("{}/metrics", s.base)).send().await.expect("metrics");
    let metrics = metrics.text().await.expect("text");
    assert!(metrics.contains("roster_webhook_attempts_total{outcome=\"delivered\"}"), "{metrics}");
    // Rotation: both secrets sign for the grace period.
    let r = s.post(&format!("/v1/webhooks/{hook}/rotate-secret"), json!({ "grace_seconds": 600 })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let new_secret = r.body["secret"].as_str().expect("secret").to_owned();
    assert_ne!(new_secret, secret);
    assert_eq!(s.post(&format!("/v1/webhooks/{hook}/ping"), json!(null)).await.status, 202);
    let got = rx.wait_for(Duration::from_secs(20), "the second ping", |g| g.len() >= 6).await;
    assert!(verify(&new_secret, &got[5]) && verify(&secret, &got[5]), "{}", got[5].signature);
    assert_eq!(got[5].signature.split(' ').count(), 2);
}

async fn a_receiver_down_then_up_gets_everything_in_order(s: TestServer) {
    // A port nobody listens on, for now.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let (hook, secret) =
        subscribe(&s, json!({ "url": format!("http://127.0.0.1:{port}/hook"), "event_types": ["user.created"] })).await;
    let mut users = Vec::new();
    for i in 0..5 {
        users.push(s.user(&format!("late{i}")).await);
    }
    // The first event is retried (immediately, 5 ms, 300 ms, …) and holds the others back.
    let start = Instant::now();
    let failed = loop {
        let log = s.get(&format!("/v1/webhooks/{hook}/deliveries")).await.body;
        let items = log["items"].as_array().cloned().unwrap_or_default();
        if items.len() >= 3 {
            break items;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no retries logged: {log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(failed.iter().all(|d| d["outcome"] == "failed" && d["status"].is_null()), "{failed:?}");
    let first_id = failed[0]["message_id"].as_str().expect("message id").to_owned();
    assert!(failed.iter().all(|d| d["message_id"] == first_id.as_str()), "one event, retried: {failed:?}");
    let state = s.get(&format!("/v1/webhooks/{hook}")).await;
    assert_eq!(state.body["enabled"], true);
    // Up again: everything, in order, the first with the id of its failed attempts.
    let rx = Receiver::start_on(port, Answer::Ok).await;
    let got = rx.wait_for(Duration::from_secs(30), "five users", |g| first_seqs(g).len() >= 5).await;
    let names: Vec<&str> = got.iter().map(|r| r.json["after"]["username"].as_str().unwrap_or("?")).collect();
    assert_eq!(names, ["late0", "late1", "late2", "late3", "late4"]);
    assert_eq!(got[0].id, first_id);
    assert!(got.iter().all(|r| verify(&secret, r)));
}

/// A redelivery asked for while a delivery is under way starts at once:
/// the running delivery stops at its next save, and the subscription is
/// taken again in the next round, not when the lease (20 s here) runs out.
async fn a_redelivery_during_a_delivery_starts_at_once(s: TestServer) {
    // Slow answers: the delivery under way outlives several rounds (100 ms apart).
    let rx = Receiver::start(Answer::Slow(Duration::from_millis(300))).await;
    let (hook, _) = subscribe(&s, json!({ "url": rx.url, "event_types": ["user.created"] })).await;
    for i in 0..8 {
        s.user(&format!("again{i}")).await;
    }
    let got = rx.wait_for(Duration::from_secs(20), "a few deliveries", |g| g.len() >= 2).await;
    let first = got[0].json["seq"].as_i64().expect("seq");
    let asked = Instant::now();
    let r = s.post(&format!("/v1/webhooks/{hook}/redeliver"), json!({ "after": first - 1 })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Every event once before the redelivery, then every event again.
    let got = rx
        .wait_for(Duration::from_secs(20), "all eight again", |g| {
            let again = g.iter().rposition(|r| r.json["seq"].as_i64() == Some(first));
            again.is_some_and(|k| k > 0 && g.len() - k >= 8)
        })
        .await;
    let again = got.iter().rposition(|r| r.json["seq"].as_i64() == Some(first)).expect("first again");
    let after: Vec<&str> = got[again..].iter().map(|r| r.json["after"]["username"].as_str().unwrap_or("?")).collect();
    let want: Vec<String> = (0..8).map(|i| format!("again{i}")).collect();
    assert!(after.len() >= 8, "{after:?}");
    assert!(after.iter().zip(&want).all(|(a, b)| a == b), "in order from the first: {after:?}");
    assert!(asked.elapsed() < Duration::from_secs(10), "waited {:?} for the lease", asked.elapsed());
}

/// A rotation without grace, answered while a delivery is under way: every
/// request sent after the answer signs with the new secret alone (the
/// worker keeps a subscription's secrets between requests, and must
/// notice the change).
async fn a_rotation_mid_delivery_signs_with_the_new_secret(s: TestServer) {
    let rx = Receiver::start(Answer::Slow(Duration::from_millis(100))).await;
    let (hook, secret) = subscribe(&s, json!({ "url": rx.url, "event_types": ["user.created"] })).await;
    for i in 0..10 {
        s.user(&format!("rot{i}")).await;
    }
    rx.wait_for(Duration::from_secs(20), "two deliveries", |g| g.len() >= 2).await;
    let r = s.post(&format!("/v1/webhooks/{hook}/rotate-secret"), json!({ "grace_seconds": 0 })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The request in flight at the answer may carry the old secret; every later one the new.
    let answered = rx.got().len() + 1;
    let new_secret = r.body["secret"].as_str().expect("secret").to_owned();
    let got = rx.wait_for(Duration::from_secs(20), "all ten", |g| first_seqs(g).len() >= 10).await;
    assert!(answered < got.len(), "the rotation came after every delivery");
    for r in &got[answered..] {
        assert!(verify(&new_secret, r) && !verify(&secret, r), "{}", r.signature);
    }
}

async fn gone_disables_the_subscription(s: TestServer) {
    let rx = Receiver::start(Answer::Status(410)).await;
    let (hook, _) = subscribe(&s, json!({ "url": rx.url, "event_types": ["group.*"] })).await;
    s.group("first").await;
    rx.wait_for(Duration::from_secs(20), "one attempt", |g| !g.is_empty()).await;
    let start = Instant::now();
    let hook_now = loop {
        let r = s.get(&format!("/v1/webhooks/{hook}")).await.body;
        if r["enabled"] == false {
            break r;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "still enabled: {r}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(hook_now["disabled_reason"].as_str().is_some_and(|r| r.contains("410")), "{hook_now}");
    let log = s.get(&format!("/v1/webhooks/{hook}/deliveries")).await.body;
    assert_eq!(log["items"][0]["outcome"], "gone", "{log}");
    // Nothing more reaches it while disabled.
    s.group("second").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.got().len(), 1);
    // Enabled again, it resumes with the event it was on.
    rx.answer(Answer::Ok);
    let r = s.patch(&format!("/v1/webhooks/{hook}"), json!({ "enabled": true })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["disabled_reason"].is_null());
    let got = rx.wait_for(Duration::from_secs(20), "both groups", |g| g.len() >= 3).await;
    let names: Vec<&str> = got.iter().map(|r| r.json["after"]["name"].as_str().unwrap_or("?")).collect();
    assert_eq!(names, ["first", "first", "second"]);
}

async fn a_group_scope_covers_nested_groups(s: TestServer) {
    let rx = Receiver::start(Answer::Ok).await;
    let (parent, child, other) = (s.group("eng").await, s.group("eng-web").await, s.group("sales").await);
    assert_eq!(s.put(&format!("/v1/groups/{parent}/children/{child}"), json!({})).await.status, 201);
    // A group admin of `eng` subscribes to it.
    let (boss, boss_key) = s.user_with_key("boss").await;
    let admin = json!({ "role": "admin" });
    assert_eq!(s.put(&format!("/v1/groups/{parent}/members/{boss}"), admin).await.status, 201);
    let body = json!({ "url": rx.url, "group_id": parent, "event_types": ["membership.created"] });
    let r = s.call(Method::POST, "/v1/webhooks", Some(&boss_key), Some(body.clone())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let hook = r.id();
    // Without a scope: site admins only. Another group: not theirs.
    let mut unscoped = body.clone();
    unscoped["group_id"] = Value::Null;
    assert_eq!(s.call(Method::POST, "/v1/webhooks", Some(&boss_key), Some(unscoped)).await.status, 403);
    let mut elsewhere = body;
    elsewhere["group_id"] = json!(other);
    assert_eq!(s.call(Method::POST, "/v1/webhooks", Some(&boss_key), Some(elsewhere)).await.status, 404);
    let listed = s.call(Method::GET, "/v1/webhooks", Some(&boss_key), None).await;
    assert_eq!(listed.body["total"], 1, "{}", listed.body);
    let u = s.user("newbie").await;
    for g in [&other, &child] {
        assert_eq!(s.put(&format!("/v1/groups/{g}/members/{u}"), json!({})).await.status, 201);
    }
    let got = rx.wait_for(Duration::from_secs(20), "the nested membership", |g| !g.is_empty()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got_now = rx.got();
    assert_eq!(got_now.len(), 1, "only the nested group's: {:?}", types(&got_now));
    assert_eq!(got[0].json["after"]["group_id"], child.as_str());
    let gone = s.call(Method::DELETE, &format!("/v1/webhooks/{hook}"), Some(&boss_key), None).await;
    assert_eq!(gone.status, 204);
}

/// With two servers on one database, each event is delivered once.
async fn two_servers_deliver_each_event_once(s: TestServer) {
    let twin = s.twin(true).await;
    let rx = Receiver::start(Answer::Ok).await;
    subscribe(&s, json!({ "url": rx.url, "event_types": ["user.created"] })).await;
    for i in 0..20 {
        let server = if i % 2 == 0 { &s } else { &twin };
        server.user(&format!("twin{i}")).await;
    }
    let got = rx.wait_for(Duration::from_secs(30), "twenty users", |g| first_seqs(g).len() >= 20).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = if rx.got().len() > got.len() { rx.got() } else { got };
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    for r in &got {
        *by_id.entry(r.id.as_str()).or_default() += 1;
    }
    assert!(by_id.values().all(|n| *n == 1), "delivered more than once: {by_id:?}");
    let seqs = first_seqs(&got);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
}

async fn urls_are_checked(s: TestServer) {
    for bad in ["ftp://x/", "http://user:pw@example.com/", "not a url", "http://ex ample.com/"] {
        let r = s.post("/v1/webhooks", json!({ "url": bad })).await;
        assert_eq!((r.status.as_u16(), r.field()), (400, Some("url")), "{bad}: {}", r.body);
    }
    let r = s.post("/v1/webhooks", json!({ "url": "https://example.com/", "event_types": ["nope"] })).await;
    assert_eq!((r.status.as_u16(), r.field()), (400, Some("event_types")), "{}", r.body);
}

/// `roster webhooks …` drives the whole life of a subscription.
async fn the_cli_manages_subscriptions(s: TestServer) {
    use crate::cli::{json_lines, roster};
    let key = Some(s.admin.as_str());
    let rx = Receiver::start(Answer::Ok).await;
    let g = s.group("cli-hooked").await;
    let args = ["webhooks", "create", &rx.url, "--group", &g, "--events", "group.*,membership.*", "-o", "json"];
    let made = roster(&s, key, &args).await;
    assert_eq!(made.code, 0, "{}", made.stderr);
    let row = &json_lines(&made.stdout)[0];
    let (id, secret) = (row["id"].as_str().expect("id").to_owned(), row["secret"].as_str().expect("secret").to_owned());
    let listed = roster(&s, key, &["webhooks", "list", "-o", "json"]).await;
    let rows = json_lines(&listed.stdout);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["event_types"], "group.*,membership.*");
    assert!(!listed.stdout.contains(&secret[6..]));
    assert_eq!(roster(&s, key, &["webhooks", "ping", &id]).await.code, 0);
    let got = rx.wait_for(Duration::from_secs(20), "the ping", |g| !g.is_empty()).await;
    assert!(verify(&secret, &got[0]));
    let disabled = roster(&s, key, &["webhooks", "disable", &id, "-o", "json"]).await;
    assert_eq!(json_lines(&disabled.stdout)[0]["enabled"], false, "{}", disabled.stderr);
    let enabled = roster(&s, key, &["webhooks", "enable", &id, "-o", "json"]).await;
    assert_eq!(json_lines(&enabled.stdout)[0]["enabled"], true);
    let rotated = roster(&s, key, &["webhooks", "rotate-secret", &id, "--grace", "0", "-o", "json"]).await;
    let new_secret = json_lines(&rotated.stdout)[0]["secret"].as_str().expect("secret").to_owned();
    assert_ne!(new_secret, secret);
    delivery_log(&s, &id, 1).await;
    let log = roster(&s, key, &["webhooks", "deliveries", &id, "-o", "json"]).await;
    let rows = json_lines(&log.stdout);
    assert_eq!(rows[0]["outcome"], "delivered", "{}", log.stdout);
    let seq = rows[0]["seq"].as_i64().expect("seq");
    let again = roster(&s, key, &["webhooks", "redeliver", &id, "--after", &(seq - 1).to_string()]).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    let got = rx.wait_for(Duration::from_secs(20), "the ping again", |g| g.len() >= 2).await;
    assert_eq!(got[1].id, got[0].id, "a redelivery keeps the webhook-id");
    assert!(verify(&new_secret, &got[1]) && !verify(&secret, &got[1]), "signed with the new secret alone");
    assert_eq!(roster(&s, key, &["webhooks", "delete", &id]).await.code, 0);
    assert_eq!(roster(&s, key, &["webhooks", "get", &id]).await.code, 3);
}

/// The users at any depth of `group` in a model of the graph: a walk
/// down the nesting edges, then the users of every group reached.
fn naive_members(group: usize, nested: &[(usize, usize)], users: &[(usize, usize)]) -> Vec<usize> {
    let mut reached = vec![group];
    let mut i = 0;
    while i < reached.len() {
        for (parent, child) in nested {
            if *parent == reached[i] && !reached.contains(child) {
                reached.push(*child);
            }
        }
        i += 1;
    }
    let mut found: Vec<usize> = users.iter().filter(|(g, _)| reached.contains(g)).map(|(_, u)| *u).collect();
    found.sort();
    found.dedup();
    found
}

/// `member.transitive_*` on a generated graph: random adds and removals of
/// users and nestings (cycles refused by the server and left out of the
/// model), deletions of users and of groups (made again as new ones), and
/// after each, exactly the users whose membership at any depth
/// of a watched group changed get an event about it, held to a naive walk
/// of a model of the graph; each subscription receives only its own
/// group's.
async fn transitive_events_match_a_naive_walk(s: TestServer) {
    const GROUPS: usize = 6;
    const USERS: usize = 5;
    let mut groups = Vec::new();
    for i in 0..GROUPS {
        groups.push(s.group(&format!("t{i}")).await);
    }
    let mut users = Vec::new();
    for i in 0..USERS {
        users.push(s.user(&format!("tu{i}")).await);
    }
    // Watched: t0 and t2.
    let watched = [0usize, 2];
    let mut receivers = Vec::new();
    for w in watched {
        let rx = Receiver::start(Answer::Ok).await;
        subscribe(&s, json!({ "url": rx.url, "group_id": groups[w], "event_types": ["member.*"] })).await;
        receivers.push(rx);
    }
    let mut nested: Vec<(usize, usize)> = Vec::new();
    let mut members: Vec<(usize, usize)> = Vec::new();
    let mut expected: Vec<Vec<(String, String)>> = vec![Vec::new(); watched.len()];
    let mut made = 0;
    // Within one change the server lists users in the order they were made.
    let mut born: HashMap<String, usize> = users.iter().enumerate().map(|(i, u)| (u.clone(), i)).collect();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: usize| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n
    };
    for _ in 0..120 {
        let before: Vec<Vec<usize>> = watched.iter().map(|w| naive_members(*w, &nested, &members)).collect();
        let (g, other, u) = (next(GROUPS), next(GROUPS), next(USERS));
        let ids_before = users.clone();
        match next(10) {
            8 => {
                assert_eq!(s.delete(&format!("/v1/users/{}", users[u])).await.status, 204);
                members.retain(|(_, m)| *m != u);
                made += 1;
                users[u] = s.user(&format!("tu-new{made}")).await;
                born.insert(users[u].clone(), USERS + made);
            }
            9 if !watched.contains(&g) => {
                assert_eq!(s.delete(&format!("/v1/groups/{}", groups[g])).await.status, 204);
                members.retain(|(m, _)| *m != g);
                nested.retain(|(parent, child)| *parent != g && *child != g);
                made += 1;
                groups[g] = s.group(&format!("t-new{made}")).await;
            }
            9 => continue,
            0 | 1 if !members.contains(&(g, u)) => {
                let r = s.put(&format!("/v1/groups/{}/members/{}", groups[g], users[u]), json!({})).await;
                assert_eq!(r.status, 201, "{}", r.body);
                members.push((g, u));
            }
            0 | 1 => {
                let r = s.delete(&format!("/v1/groups/{}/members/{}", groups[g], users[u])).await;
                assert_eq!(r.status, 204, "{}", r.body);
                members.retain(|m| *m != (g, u));
            }
            _ if g == other => continue,
            _ if nested.contains(&(g, other)) => {
                let r = s.delete(&format!("/v1/groups/{}/children/{}", groups[g], groups[other])).await;
                assert_eq!(r.status, 204, "{}", r.body);
                nested.retain(|e| *e != (g, other));
            }
            _ => {
                let r = s.put(&format!("/v1/groups/{}/children/{}", groups[g], groups[other]), json!({})).await;
                if r.status == 409 {
                    continue; // a cycle
                }
                assert_eq!(r.status, 201, "{}", r.body);
                nested.push((g, other));
            }
        }
        for (i, w) in watched.iter().enumerate() {
            let after = naive_members(*w, &nested, &members);
            let mut changed = Vec::new();
            for u in 0..USERS {
                match (before[i].contains(&u), after.contains(&u)) {
                    (false, true) => changed.push(("member.transitive_added".to_owned(), users[u].clone())),
                    (true, false) => changed.push(("member.transitive_removed".to_owned(), ids_before[u].clone())),
                    _ => {}
                }
            }
            changed.sort_by_key(|(_, id)| born[id]);
            expected[i].extend(changed);
        }
    }
    let log = s.get("/v1/events?after=0&limit=1000").await.body;
    for (i, w) in watched.iter().enumerate() {
        let got: Vec<(String, String)> = log["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|e| {
                e["target_id"] == groups[*w].as_str() && e["action"].as_str().is_some_and(|a| a.starts_with("member."))
            })
            .map(|e| {
                let data = if e["after"].is_null() { &e["before"] } else { &e["after"] };
                (e["action"].as_str().expect("action").to_owned(), data["user_id"].as_str().expect("user").to_owned())
            })
            .collect();
        assert_eq!(got, expected[i], "group t{w}: the log against the naive walk");
        let want = expected[i].len();
        let delivered =
            receivers[i].wait_for(Duration::from_secs(30), "every transitive event", |g| g.len() >= want).await;
        assert!(
            delivered.iter().all(|r| r.json["target_id"] == groups[*w].as_str()),
            "t{w} got another group's events"
        );
    }
    assert!(expected.iter().all(|e| !e.is_empty()), "the walk moved nobody: {expected:?}");
    assert!(made >= 2, "the walk deleted too little ({made})");
}

/// Two writes at once that each add (then each remove) one of a user's
/// two paths into a watched group, a user membership and a nesting, which
/// lock different rows and so run side by side on PostgreSQL: exactly one
/// event each way. The watched group's lock makes the second see the first.
async fn concurrent_paths_give_one_transitive_event(s: TestServer) {
    let root = s.group("w-root").await;
    let a = s.group("w-a").await;
    assert_eq!(s.put(&format!("/v1/groups/{root}/children/{a}"), json!({})).await.status, 201);
    subscribe(&s, json!({ "url": "http://127.0.0.1:9/", "group_id": root, "event_types": ["member.*"] })).await;
    let count = |log: &Value, action: &str, user: &str| {
        log["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|e| e["action"] == action && (e["after"]["user_id"] == user || e["before"]["user_id"] == user))
            .count()
    };
    for round in 0..8 {
        let u = s.user(&format!("racer{round}")).await;
        let c = s.group(&format!("w-c{round}")).await;
        assert_eq!(s.put(&format!("/v1/groups/{c}/members/{u}"), json!({})).await.status, 201);
        let (member, nest) = (format!("/v1/groups/{a}/members/{u}"), format!("/v1/groups/{root}/children/{c}"));
        let (ra, rb) = tokio::join!(s.put(&member, json!({})), s.put(&nest, json!({})));
        assert_eq!((ra.status.as_u16(), rb.status.as_u16()), (201, 201));
        let (ra, rb) = tokio::join!(s.delete(&member), s.delete(&nest));
        assert_eq!((ra.status.as_u16(), rb.status.as_u16()), (204, 204));
        let log = s.get("/v1/events?after=0&limit=1000").await.body;
        assert_eq!(count(&log, "member.transitive_added", &u), 1, "round {round}: one add");
        assert_eq!(count(&log, "member.transitive_removed", &u), 1, "round {round}: one removal");
    }
}

/// An import's memberships count as the same edges made one by one would.
async fn imports_give_transitive_events(s: TestServer) {
    let root = s.group("i-root").await;
    let (a, b) = (s.group("i-a").await, s.group("i-b").await);
    for child in [&a, &b] {
        assert_eq!(s.put(&format!("/v1/groups/{root}/children/{child}"), json!({})).await.status, 201);
    }
    let old = s.user("i-old").await;
    assert_eq!(s.put(&format!("/v1/groups/{a}/members/{old}"), json!({})).await.status, 201);
    subscribe(&s, json!({ "url": "http://127.0.0.1:9/", "group_id": root, "event_types": ["member.*"] })).await;
    let head = s.get("/v1/events?after=0&limit=1").await.body["total"].as_i64().expect("total");
    let records = json!({ "records": [
        { "type": "user", "username": "i-new" },
        { "type": "member", "group": "i-b", "user": "i-new" },
        { "type": "member", "group": "i-b", "user": "i-old" },
        { "type": "group", "name": "i-elsewhere" },
        { "type": "member", "group": "i-elsewhere", "user": "i-old" },
    ] });
    let r = s.post("/v1/import", records).await;
    assert!(r.status.is_success(), "{}", r.body);
    let log = s.get(&format!("/v1/events?after={head}&limit=1000")).await.body;
    let transitive: Vec<&Value> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["action"].as_str().is_some_and(|a| a.starts_with("member.")))
        .collect();
    assert_eq!(transitive.len(), 1, "only the new user joined i-root: {transitive:?}");
    let new = s.get("/v1/users?prefix=i-new").await.body["items"][0]["id"].clone();
    assert_eq!(transitive[0]["after"]["user_id"], new);
    assert_eq!(transitive[0]["after"]["via"]["import"], true);
}

crate::on_every_store!(
    imports_give_transitive_events,
    concurrent_paths_give_one_transitive_event,
    transitive_events_match_a_naive_walk,
    the_cli_manages_subscriptions,
    signed_events_arrive_in_order,
    a_receiver_down_then_up_gets_everything_in_order,
    a_redelivery_during_a_delivery_starts_at_once,
    a_rotation_mid_delivery_signs_with_the_new_secret,
    gone_disables_the_subscription,
    a_group_scope_covers_nested_groups,
    two_servers_deliver_each_event_once,
    urls_are_checked,
);

mod process {
    //! The real binary: `kill -9` mid-delivery loses nothing, and by
    //! default a delivery never reaches loopback.

    use std::time::Duration;

    use reqwest::Method;
    use serde_json::json;

    use super::{Answer, Receiver, first_seqs};
    use crate::process::{Options, call, start_with};

    const KEY: &str = "rst_webhook_process_test_key_0123456789";

    fn options(env: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut all = vec![("ROSTER_WEBHOOKS_RETRY_SCALE", "0.001"), ("ROSTER_WEBHOOKS_TIMEOUT", "1")];
        all.extend_from_slice(env);
        all
    }

    #[tokio::test]
    async fn kill_9_mid_delivery_loses_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("roster.db").display());
        let env = options(&[("ROSTER_WEBHOOKS_ALLOW", "127.0.0.0/8")]);
        let opts = Options { env: &env, ..Options::default() };
        let rx = Receiver::start(Answer::Slow(Duration::from_millis(150))).await;
        let mut p = start_with(&url, Some(KEY), &opts);
        let body = json!({ "url": rx.url, "event_types": ["user.created"] });
        let (status, _) = call(&p.base, Method::POST, "/v1/webhooks", KEY, Some(body)).await;
        assert_eq!(status, 201);
        for i in 0..10 {
            let (status, _) =
                call(&p.base, Method::POST, "/v1/users", KEY, Some(json!({ "username": format!("k{i}") }))).await;
            assert_eq!(status, 201);
        }
        rx.wait_for(Duration::from_secs(20), "three deliveries", |g| g.len() >= 3).await;
        p.child.kill().expect("kill -9");
        p.child.wait().expect("wait");
        let before = rx.got().len();
        assert!(before < 10, "the kill came after every delivery");
        let mut p = start_with(&url, Some(KEY), &opts);
        let got = rx.wait_for(Duration::from_secs(30), "all ten", |g| first_seqs(g).len() >= 10).await;
        let names: Vec<String> =
            got.iter().map(|r| r.json["after"]["username"].as_str().unwrap_or("?").to_owned()).collect();
        let mut firsts = names.clone();
        firsts.dedup();
        assert_eq!(firsts, (0..10).map(|i| format!("k{i}")).collect::<Vec<_>>(), "in order, none lost: {names:?}");
        // At-least-once: only the event in flight at the kill may come twice
        // (each answer takes longer than the worker lets a delivered event
        // go unsaved), with the same webhook-id.
        assert!(got.len() <= 11, "{names:?}");
        for pair in got.windows(2) {
            if pair[0].json["seq"] == pair[1].json["seq"] {
                assert_eq!(pair[0].id, pair[1].id);
            }
        }
        p.child.kill().expect("kill");
        p.child.wait().expect("wait");
    }

    /// The whole schedule, shortened 20 000 times (about 5 s): eight
    /// attempts, then a dead letter, and the next event goes; the dead
    /// letter can be delivered again. A `Retry-After` longer than the
    /// schedule's wait is honoured.
    #[tokio::test]
    async fn the_last_retry_dead_letters_and_redelivery_sends_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("roster.db").display());
        let env = [
            ("ROSTER_WEBHOOKS_RETRY_SCALE", "0.00005"),
            ("ROSTER_WEBHOOKS_TIMEOUT", "1"),
            ("ROSTER_WEBHOOKS_ALLOW", "127.0.0.0/8"),
        ];
        let rx = Receiver::start(Answer::RetryAfter(503, 1)).await;
        let mut p = start_with(&url, Some(KEY), &Options { env: &env, ..Options::default() });
        let body = json!({ "url": rx.url, "event_types": ["user.created"] });
        let (_, hook) = call(&p.base, Method::POST, "/v1/webhooks", KEY, Some(body)).await;
        let hook = hook["id"].as_str().expect("id").to_owned();
        let (_, doomed) = call(&p.base, Method::POST, "/v1/users", KEY, Some(json!({ "username": "doomed" }))).await;
        assert!(doomed["id"].is_string());
        let got = rx.wait_for(Duration::from_secs(20), "two attempts", |g| g.len() >= 2).await;
        let gap = got[1].timestamp.parse::<i64>().expect("ts") - got[0].timestamp.parse::<i64>().expect("ts");
        assert!(gap >= 1, "Retry-After: 1 was not honoured ({gap} s)");
        rx.answer(Answer::Status(500));
        let start = std::time::Instant::now();
        let dead = loop {
            let path = format!("/v1/webhooks/{hook}/deliveries?outcome=dead");
            let (_, dead) = call(&p.base, Method::GET, &path, KEY, None).await;
            if dead["total"] == 1 {
                break dead;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "no dead letter: {dead}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let letter = &dead["items"][0];
        assert_eq!((letter["attempt"].as_u64(), letter["status"].as_u64()), (Some(8), Some(500)), "{dead}");
        let seq = letter["seq"].as_i64().expect("seq");
        let (_, log) = call(&p.base, Method::GET, &format!("/v1/webhooks/{hook}/deliveries"), KEY, None).await;
        assert_eq!(log["total"], 8, "seven failures and the dead letter: {log}");
        assert_eq!(rx.got().len(), 8);
        // The next event goes.
        rx.answer(Answer::Ok);
        call(&p.base, Method::POST, "/v1/users", KEY, Some(json!({ "username": "next" }))).await;
        let got = rx.wait_for(Duration::from_secs(20), "the next event", |g| g.len() >= 9).await;
        assert_eq!(got[8].json["after"]["username"], "next");
        // Delivered again from the dead letter on, with the same ids.
        let (status, _) = call(
            &p.base,
            Method::POST,
            &format!("/v1/webhooks/{hook}/redeliver"),
            KEY,
            Some(json!({ "after": seq - 1 })),
        )
        .await;
        assert_eq!(status, 200);
        let got = rx.wait_for(Duration::from_secs(20), "both again", |g| g.len() >= 11).await;
        assert_eq!(got[9].id, got[0].id);
        assert_eq!(got[10].id, got[8].id);
        // Or the dead letter alone, once.
        let path = format!("/v1/webhooks/{hook}/redeliver/{seq}");
        let (status, _) = call(&p.base, Method::POST, &path, KEY, None).await;
        assert_eq!(status, 202);
        let got = rx.wait_for(Duration::from_secs(20), "the dead letter alone", |g| g.len() >= 12).await;
        assert_eq!(got[11].id, got[0].id);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(rx.got().len(), 12, "nothing after it");
        let (status, _) =
            call(&p.base, Method::POST, &format!("/v1/webhooks/{hook}/redeliver/999999"), KEY, None).await;
        assert_eq!(status, 404, "no such event");
        p.child.kill().expect("kill");
        p.child.wait().expect("wait");
    }

    #[tokio::test]
    async fn by_default_deliveries_do_not_reach_loopback() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("roster.db").display());
        let env = options(&[]);
        let rx = Receiver::start(Answer::Ok).await;
        let mut p = start_with(&url, Some(KEY), &Options { env: &env, ..Options::default() });
        // A name that resolves to loopback is refused as an address in the URL is.
        let named = rx.url.replace("127.0.0.1", "localhost");
        let mut hooks = Vec::new();
        for target in [&rx.url, &named] {
            let body = json!({ "url": target, "event_types": ["user.created"] });
            let (status, hook) = call(&p.base, Method::POST, "/v1/webhooks", KEY, Some(body)).await;
            assert_eq!(status, 201, "creation checks only the URL's form: {hook}");
            hooks.push(hook["id"].as_str().expect("id").to_owned());
        }
        let (status, _) = call(&p.base, Method::POST, "/v1/users", KEY, Some(json!({ "username": "x" }))).await;
        assert_eq!(status, 201);
        for hook in hooks {
            let start = std::time::Instant::now();
            let log = loop {
                let (_, log) = call(&p.base, Method::GET, &format!("/v1/webhooks/{hook}/deliveries"), KEY, None).await;
                if log["total"].as_i64().unwrap_or(0) > 0 {
                    break log;
                }
                assert!(start.elapsed() < Duration::from_secs(20), "no attempt logged");
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            let first = &log["items"][0];
            assert_eq!(first["outcome"], "failed", "{log}");
            assert!(first["detail"].as_str().is_some_and(|d| d.contains("ROSTER_WEBHOOKS_ALLOW")), "{log}");
        }
        assert!(rx.got().is_empty(), "a delivery reached loopback");
        p.child.kill().expect("kill");
        p.child.wait().expect("wait");
    }
}
