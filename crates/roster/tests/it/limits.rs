//! Limits and timeouts (issue 15): rate limits per key and per source of
//! failed authentication, answered 429 with `Retry-After` in each
//! front-end's format; slow and idle connections closed; a connection cap;
//! an accept loop that outlives running out of file descriptors.

use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::{Method, StatusCode};
use roster_core::{Rate, RateLimits};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{ADMIN_KEY, Reply, TestServer};
use crate::process;

fn limited(per_key: Option<Rate>, failures: Option<Rate>) -> RateLimits {
    RateLimits { per_key, failed_auth_per_source: failures }
}

fn retry_after(r: &Reply) -> u64 {
    r.headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a 429 without Retry-After: {:?}", r.headers))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_requests_on_one_key_get_429_beyond_the_limit() {
    let s = TestServer::sqlite_limited(limited(Rate::per_second(20, 100), None)).await;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let base = s.base.clone();
        tasks.push(tokio::spawn(async move {
            let http = crate::harness::http();
            let mut seen = Vec::new();
            for _ in 0..250 {
                let r = Reply::read(http.get(format!("{base}/v1/me")).bearer_auth(ADMIN_KEY)).await;
                if r.status == StatusCode::TOO_MANY_REQUESTS {
                    assert!(retry_after(&r) >= 1);
                    assert_eq!(r.body["error"]["code"], "rate_limited", "{}", r.body);
                }
                seen.push(r.status);
            }
            seen
        }));
    }
    let mut ok = 0;
    let mut limited = 0;
    for t in tasks {
        for status in t.await.expect("task") {
            match status {
                StatusCode::OK => ok += 1,
                StatusCode::TOO_MANY_REQUESTS => limited += 1,
                other => panic!("unexpected {other}"),
            }
        }
    }
    let allowed = 100.0 + 20.0 * start.elapsed().as_secs_f64() + 1.0;
    assert_eq!(ok + limited, 2000);
    assert!(f64::from(ok) <= allowed, "{ok} answered, at most {allowed} allowed");
    assert!(limited > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_guesses_from_one_address_get_429_after_the_limit() {
    let s = TestServer::sqlite_limited(limited(None, Rate::per_minute(10, 20))).await;
    let mut statuses = Vec::new();
    for i in 0..500 {
        let r = s.call(Method::GET, "/v1/me", Some(&format!("rst_guess_{i:040}")), None).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(retry_after(&r) >= 1);
            assert_eq!(r.body["error"]["code"], "rate_limited");
        }
        statuses.push(r.status);
    }
    let unauthorized = statuses.iter().take_while(|s| **s == StatusCode::UNAUTHORIZED).count();
    assert_eq!(unauthorized, 20, "the burst, then 429");
    assert!(statuses[20..].iter().all(|s| *s == StatusCode::TOO_MANY_REQUESTS));
    // While refused, the address learns nothing: a right key is refused too.
    let r = s.get("/v1/me").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

/// Whether an error body has a front-end's shape.
type Shape = fn(&Value) -> bool;

/// Every front-end answers a key over its limit with 429, `Retry-After` and
/// its own error body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_front_end_answers_429_in_its_own_format() {
    let s = TestServer::sqlite_limited(limited(Rate::per_minute(1, 1), None)).await;
    let http = crate::harness::http();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{ADMIN_KEY}:"));
    let first = s.get("/v1/me").await;
    assert_eq!(first.status, StatusCode::OK, "the burst");
    let get = |path: &str| http.get(format!("{}{path}", s.base));
    let cases: Vec<(&str, reqwest::RequestBuilder, Shape)> = vec![
        ("native", get("/v1/me").bearer_auth(ADMIN_KEY), |b| b["error"]["code"] == "rate_limited"),
        ("scim", get("/scim/v2/Users").bearer_auth(ADMIN_KEY), |b| {
            b["schemas"][0] == "urn:ietf:params:scim:api:messages:2.0:Error" && b["status"] == "429"
        }),
        ("posit", get("/posit/__api__/v1/user").header("authorization", format!("Key {ADMIN_KEY}")), |b| {
            b["code"].is_u64() && b["error"].is_string()
        }),
        ("civis", get("/civis/users/me").header("authorization", format!("Basic {basic}")), |b| {
            b["code"] == 429 && b["error"] == "rate_limited" && b["errorDescription"].is_string()
        }),
        ("box", get("/box/2.0/users/me").bearer_auth(ADMIN_KEY), |b| {
            b["type"] == "error" && b["status"] == 429 && b["code"] == "rate_limit_exceeded"
        }),
        ("compliance", get("/compliance/v1/compliance/groups").header("x-api-key", ADMIN_KEY), |b| {
            b["type"] == "error" && b["error"]["type"] == "rate_limit_error"
        }),
        ("iguazio", get("/iguazio/api/self").bearer_auth(ADMIN_KEY), |b| b["errors"][0]["status"] == 429),
    ];
    for (name, req, shaped) in cases {
        let r = Reply::read(req).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{name}: {}", r.body);
        assert!(retry_after(&r) >= 1, "{name}");
        assert!(shaped(&r.body), "{name}: {}", r.body);
    }
}

fn quick(header: f64, body_idle: f64, body: f64, max_connections: usize) -> roster_server::Limits {
    roster_server::Limits {
        header_timeout: Duration::from_secs_f64(header),
        body_idle_timeout: Duration::from_secs_f64(body_idle),
        body_timeout: Duration::from_secs_f64(body),
        max_connections,
    }
}

fn addr(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection; what it sent, and when.
async fn read_until_closed(conn: &mut TcpStream, within: Duration) -> Option<(String, Instant)> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some((String::from_utf8_lossy(&got).into_owned(), Instant::now())),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_sending_headers_slowly_are_cut_off() {
    let s = TestServer::sqlite_with(RateLimits::off(), quick(1.0, 10.0, 60.0, 512)).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let addr = addr(&s.base);
        tasks.push(tokio::spawn(async move {
            let start = Instant::now();
            let mut conn = TcpStream::connect(&addr).await.expect("connect");
            let request =
                b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
            for b in request {
                if conn.write_all(&[*b]).await.is_err() {
                    return start.elapsed();
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            panic!("the server waited {:?} for the headers", start.elapsed());
        }));
    }
    for t in tasks {
        let held = t.await.expect("task");
        assert!(held < Duration::from_secs(4), "held {held:?}");
    }
    assert_eq!(s.call(Method::GET, "/healthz", None, None).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_or_trickles_is_refused_in_time() {
    let s = TestServer::sqlite_with(RateLimits::off(), quick(10.0, 1.0, 2.5, 512)).await;
    // Announces 10 000 bytes, sends one, then nothing.
    let mut conn = TcpStream::connect(addr(&s.base)).await.expect("connect");
    let head = format!(
        "POST /v1/groups HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_KEY}\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n{{"
    );
    conn.write_all(head.as_bytes()).await.expect("write");
    let (answer, _) = read_until_closed(&mut conn, Duration::from_secs(5)).await.expect("closed in time");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");

    // Sends a byte every 300 ms: never idle for long, but the whole body is late.
    let mut conn = TcpStream::connect(addr(&s.base)).await.expect("connect");
    conn.write_all(head.as_bytes()).await.expect("write");
    let start = Instant::now();
    let trickle = async {
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if conn.write_all(b" ").await.is_err() {
                break;
            }
            if start.elapsed() > Duration::from_secs(8) {
                break;
            }
        }
    };
    trickle.await;
    assert!(start.elapsed() < Duration::from_secs(6), "the trickle was held {:?}", start.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let s = TestServer::sqlite_with(RateLimits::off(), quick(1.0, 10.0, 60.0, 512)).await;
    let mut conn = TcpStream::connect(addr(&s.base)).await.expect("connect");
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
    let start = Instant::now();
    let (answer, closed) = read_until_closed(&mut conn, Duration::from_secs(5)).await.expect("closed in time");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed - start < Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_and_are_served_when_idle_ones_close() {
    let s = TestServer::sqlite_with(RateLimits::off(), quick(1.0, 10.0, 60.0, 10)).await;
    let mut idle = Vec::new();
    for _ in 0..25 {
        idle.push(TcpStream::connect(addr(&s.base)).await.expect("connect"));
    }
    let start = Instant::now();
    let r = s.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(start.elapsed() < Duration::from_secs(8), "{:?}", start.elapsed());
}

/// More idle connections than the process may open files: accepting fails
/// for a while, and the server backs off, keeps serving, and never exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_descriptors_does_not_stop_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("roster.db").display());
    let mut p = process::start_with(
        &url,
        Some(ADMIN_KEY),
        &process::Options {
            args: &["--header-timeout", "1", "--max-connections", "1000"],
            max_open_files: Some(64),
            ..Default::default()
        },
    );
    let target = addr(&p.base);
    let mut idle = Vec::new();
    for _ in 0..150 {
        if let Ok(c) = TcpStream::connect(&target).await {
            idle.push(c);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start = Instant::now();
    let http = crate::harness::http();
    let healthz = http.get(format!("{}/healthz", p.base)).timeout(Duration::from_secs(10)).send().await;
    assert_eq!(healthz.expect("healthz answered").status(), StatusCode::OK);
    assert!(start.elapsed() < Duration::from_secs(8), "{:?}", start.elapsed());
    drop(idle);
    assert!(p.child.try_wait().expect("wait").is_none(), "the server exited");
    let log = p.log.lock().expect("log").clone();
    assert!(log.contains("accept failed"), "no accept failure was seen; the test proves nothing:\n{log}");
}
