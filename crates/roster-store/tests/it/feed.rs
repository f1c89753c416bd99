//! The change feed under concurrent writers: every committed event gets
//! exactly one `seq`, gapless, in each transaction's append order, and is in
//! the log by the time its commit returns (a server answers a write only
//! then, and reads its own writes from the log). On PostgreSQL, where
//! events are numbered after the commit (migration 0009), a writer that
//! dies between its commit and the numbering loses nothing: the next
//! numbering takes its events.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use roster_core::store::Counter;
use roster_core::*;
use sqlx::Connection;

use crate::backends;
use crate::contract::now;

const WRITERS: usize = 12;
const COMMITS: usize = 15;

fn event(target_id: String) -> NewEvent {
    NewEvent {
        at: now(),
        actor: None,
        action: "group.updated",
        target_type: "group",
        target_id,
        before: None,
        after: None,
    }
}

/// Every event in the log, in `seq` order.
async fn whole_log(store: &dyn Store) -> Vec<Event> {
    let mut tx = store.read().await.unwrap();
    let mut all = Vec::new();
    loop {
        let after = all.last().map_or(0, |e: &Event| e.seq);
        let page = tx.list_events(after, 1000).await.unwrap();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

/// One writer: commits of one to three events each; after each commit,
/// its events must already be in the log, in the order appended.
async fn writer(store: Arc<dyn Store>, w: usize) {
    for c in 0..COMMITS {
        let ids: Vec<String> = (0..1 + (w + c) % 3).map(|k| format!("w{w}-c{c}-e{k}")).collect();
        let mut tx = store.write().await.unwrap();
        for id in &ids {
            tx.append_event(&event(id.clone())).await.unwrap();
        }
        tx.commit().await.unwrap();
        let log = whole_log(&*store).await;
        let seqs: Vec<i64> =
            ids.iter().map(|id| log.iter().find(|e| &e.target_id == id).map(|e| e.seq).unwrap_or(-1)).collect();
        assert!(seqs.iter().all(|s| *s > 0), "writer {w}: events of a returned commit missing from the log: {ids:?}");
        assert!(
            seqs.windows(2).all(|p| p[1] == p[0] + 1),
            "writer {w}: one commit's events split or reordered: {seqs:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_commits_number_every_event_once_and_before_they_return() {
    for b in backends().await {
        let writers: Vec<_> = (0..WRITERS).map(|w| tokio::spawn(writer(b.store.clone(), w))).collect();
        for w in writers {
            w.await.unwrap();
        }
        let log = whole_log(&*b.store).await;
        let seqs: Vec<i64> = log.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=log.len() as i64).collect::<Vec<_>>(), "{}: gapless from 1", b.name);
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for e in &log {
            *seen.entry(&e.target_id).or_default() += 1;
        }
        assert!(seen.values().all(|n| *n == 1), "{}: an event numbered twice", b.name);
        let expected: usize = (0..WRITERS).map(|w| (0..COMMITS).map(|c| 1 + (w + c) % 3).sum::<usize>()).sum();
        assert_eq!(log.len(), expected, "{}: every event numbered", b.name);
        let mut tx = b.store.read().await.unwrap();
        assert_eq!(tx.count(Counter::Events).await.unwrap(), expected as i64, "{}: the head", b.name);
    }
}

/// Leaves an event in the inbox as a writer does that committed and died
/// before numbering it.
async fn orphan(url: &str, target_id: &str) {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query(
        "INSERT INTO event_inbox (at, action, target_type, target_id) VALUES (0, 'group.updated', 'group', $1)",
    )
    .bind(target_id)
    .execute(&mut conn)
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_writers_events_are_numbered_by_the_next_write_or_follower() {
    for b in backends().await.into_iter().filter(|b| b.name == "postgres") {
        let mut tx = b.store.write().await.unwrap();
        tx.append_event(&event("first".into())).await.unwrap();
        tx.commit().await.unwrap();

        // The next write numbers the orphan, before its own event.
        orphan(&b.url, "orphan-1").await;
        assert_eq!(whole_log(&*b.store).await.len(), 1, "not in the log before it is numbered");
        let mut tx = b.store.write().await.unwrap();
        tx.append_event(&event("second".into())).await.unwrap();
        tx.commit().await.unwrap();
        let ids: Vec<String> = whole_log(&*b.store).await.into_iter().map(|e| e.target_id).collect();
        assert_eq!(ids, ["first", "orphan-1", "second"]);

        // With no write coming, a follower's wait that times out numbers it.
        orphan(&b.url, "orphan-2").await;
        b.store.wait_for_change(Duration::from_millis(200)).await;
        let log = whole_log(&*b.store).await;
        assert_eq!(log.last().map(|e| (e.seq, e.target_id.as_str())), Some((4, "orphan-2")));
        let mut tx = b.store.read().await.unwrap();
        assert_eq!(tx.count(Counter::Events).await.unwrap(), 4);
    }
}
