//! `GET /v1/events/stream`: the change feed as Server-Sent Events, replayed
//! from `after` or `Last-Event-ID` and followed as it grows, for those who
//! may read `/v1/events` alone; and `roster events --follow`, which reads it.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::harness::TestServer;

/// (id, event, data) of each frame that carries data.
fn frames(text: &str) -> Vec<(i64, String, Value)> {
    text.split("\n\n")
        .filter_map(|frame| {
            let field =
                |name: &str| frame.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim_start().to_owned());
            let data = field("data:")?;
            let id = field("id:")?.parse().expect("numeric id");
            Some((id, field("event:").unwrap_or_default(), serde_json::from_str(&data).expect("JSON data")))
        })
        .collect()
}

async fn read_stream(s: &TestServer, path: &str, last_event_id: Option<&str>) -> (StatusCode, String) {
    let mut req = crate::harness::http().get(format!("{}{path}", s.base)).bearer_auth(&s.admin);
    if let Some(id) = last_event_id {
        req = req.header("last-event-id", id);
    }
    let res = req.send().await.expect("stream");
    let status = res.status();
    (status, res.text().await.expect("body"))
}

async fn the_stream_replays_and_follows(s: TestServer) {
    for i in 0..3 {
        s.user(&format!("streamed{i}")).await;
    }
    let listed = s.get("/v1/events?after=0&limit=1000").await.body;
    let items = listed["items"].as_array().expect("items").clone();
    let (status, text) = read_stream(&s, "/v1/events/stream?follow=false", None).await;
    assert_eq!(status, 200, "{text}");
    let all = frames(&text);
    assert_eq!(all.len(), items.len(), "{text}");
    for ((id, event, data), item) in all.iter().zip(&items) {
        assert_eq!((Some(*id), event.as_str()), (item["seq"].as_i64(), item["action"].as_str().expect("action")));
        assert_eq!(data, item, "the data is the event as /v1/events shows it");
    }
    // Resuming: Last-Event-ID wins over `after`.
    let last = all[all.len() - 3].0;
    let (_, text) = read_stream(&s, "/v1/events/stream?follow=false&after=0", Some(&last.to_string())).await;
    let resumed = frames(&text);
    assert_eq!(resumed.iter().map(|f| f.0).collect::<Vec<_>>(), [last + 1, last + 2], "{text}");
    let (_, text) = read_stream(&s, &format!("/v1/events/stream?follow=false&after={}", last + 1), None).await;
    assert_eq!(frames(&text).len(), 1);

    // Following: an event made after the stream opened arrives on it.
    let head = all.last().expect("events").0;
    let mut res = crate::harness::http()
        .get(format!("{}/v1/events/stream?after={head}", s.base))
        .bearer_auth(&s.admin)
        .send()
        .await
        .expect("stream");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    s.user("late-streamed").await;
    let start = Instant::now();
    let mut text = String::new();
    while frames(&text).is_empty() {
        let chunk = tokio::time::timeout(Duration::from_secs(10), res.chunk()).await.expect("an event in time");
        text.push_str(&String::from_utf8_lossy(&chunk.expect("chunk").expect("open")));
        assert!(start.elapsed() < Duration::from_secs(10));
    }
    let got = frames(&text);
    assert_eq!(got[0].0, head + 1);
    assert_eq!(got[0].2["after"]["username"], "late-streamed");

    // Only who may read /v1/events; a Last-Event-ID this stream never sent is refused.
    let (_, key) = s.user_with_key("nosy").await;
    let r = s.call(Method::GET, "/v1/events/stream?follow=false", Some(&key), None).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let (status, text) = read_stream(&s, "/v1/events/stream", Some("-1")).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("Last-Event-ID"), "{text}");
}

/// `roster events --follow` prints each event as it happens.
async fn the_cli_follows_the_stream(s: TestServer) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["events", "--follow", "-o", "json"])
        .env("ROSTER_URL", &s.base)
        .env("ROSTER_KEY", &s.admin)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("roster events --follow");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    s.user("followed").await;
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(15), async {
        while let Ok(Some(line)) = lines.next_line().await {
            let v: Value = serde_json::from_str(&line).expect("a JSON line");
            seen.push(v.clone());
            if v["action"] == "user.created" && seen.len() > 1 {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{seen:?}");
    let seqs: Vec<i64> = seen.iter().map(|v| v["seq"].as_i64().expect("seq")).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "from the start, in order");
    child.kill().await.expect("kill");
}

crate::on_every_store!(the_stream_replays_and_follows, the_cli_follows_the_stream);
