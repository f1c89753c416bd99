//! The event log as SQL: `EventStore`. Appended events wait in the
//! transaction and are written at commit, as its last statements. Where the
//! backend has one writer at a time (SQLite) they take their `seq` from the
//! `events` counter row there and then. Where writers commit side by side
//! (PostgreSQL, `dialect::EVENT_INBOX`) they go to `event_inbox` and are
//! numbered after the commit, in batches (`number_events`, migration 0009),
//! so no writer holds a row every other writer needs through its commit.
//! Either way the feed is gapless and in commit order.

use async_trait::async_trait;
use roster_core::store::StoreResult;
use roster_core::store::prelude::*;
use roster_core::*;
use sqlx::QueryBuilder;

use super::{CHUNK, Db, SqlTx, dialect, map, rows, ts};

/// Writes a committing transaction's events. Returns, where they go to the
/// inbox, the largest inbox `id` they took: what [`number_events`] must
/// have numbered before the write is answered.
pub(super) async fn insert_events(
    conn: &mut <Db as sqlx::Database>::Connection,
    events: &[NewEvent],
) -> StoreResult<Option<i64>> {
    if dialect::EVENT_INBOX {
        let mut upto = None;
        for chunk in events.chunks(CHUNK) {
            let mut qb = QueryBuilder::new("WITH v (i, at, actor, action, target_type, target_id, before, after) AS (");
            push_event_values(&mut qb, chunk, 0);
            qb.push(
                ") INSERT INTO event_inbox (at, actor, action, target_type, target_id, before, after) \
                 SELECT at, actor, action, target_type, target_id, before, after FROM v ORDER BY i RETURNING id",
            );
            let ids: Vec<i64> = qb.build_query_scalar().fetch_all(&mut *conn).await.map_err(map)?;
            upto = upto.max(ids.into_iter().max());
        }
        return Ok(upto);
    }
    // The counter row stays locked until COMMIT: writers append one after
    // another, so a reader that has seen `seq = n` never finds a smaller
    // one appear later.
    let n = events.len() as i64;
    let last: i64 = sqlx::query_scalar("UPDATE counters SET value = value + $1 WHERE name = 'events' RETURNING value")
        .bind(n)
        .fetch_one(&mut *conn)
        .await
        .map_err(map)?;
    let first = last - n + 1;
    for (c, chunk) in events.chunks(CHUNK).enumerate() {
        let mut qb =
            QueryBuilder::new("INSERT INTO events (seq, at, actor, action, target_type, target_id, before, after) ");
        push_event_values(&mut qb, chunk, first + (c * CHUNK) as i64);
        qb.build().execute(&mut *conn).await.map_err(map)?;
    }
    Ok(None)
}

/// Numbers the committed events of the inbox, at least those up to inbox
/// `id` `upto` (all when `None`), and returns the log's head. Runs on a
/// connection outside any transaction (see migration 0009); a no-op read
/// when there is nothing to number.
pub(crate) async fn number_events(pool: &sqlx::Pool<Db>, upto: Option<i64>) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT number_events($1)").bind(upto).fetch_one(pool).await.map_err(map)
}

/// `VALUES (seq, at, actor, action, target_type, target_id, before, after), …`
/// for `events`, numbered from `first` (for the inbox, the order in which
/// they were appended).
fn push_event_values(qb: &mut QueryBuilder<Db>, events: &[NewEvent], first: i64) {
    qb.push_values(events.iter().enumerate(), |mut b, (i, e)| {
        b.push_bind(first + i as i64)
            .push_bind(ts(e.at))
            .push_bind(e.actor.map(|a| a.0))
            .push_bind(e.action)
            .push_bind(e.target_type)
            .push_bind(e.target_id.clone())
            .push_bind(e.before.as_ref().map(|v| v.to_string()))
            .push_bind(e.after.as_ref().map(|v| v.to_string()));
    });
}

#[async_trait]
impl EventStore for SqlTx {
    async fn append_event(&mut self, e: &NewEvent) -> StoreResult<()> {
        self.events.push(e.clone());
        Ok(())
    }

    async fn append_events(&mut self, events: &[NewEvent]) -> StoreResult<()> {
        self.events.extend_from_slice(events);
        Ok(())
    }

    async fn list_events(&mut self, after: i64, limit: u32) -> StoreResult<Vec<Event>> {
        let q = sqlx::query("SELECT * FROM events WHERE seq > $1 ORDER BY seq LIMIT $2").bind(after).bind(limit as i64);
        self.fetch_all(q, rows::event).await
    }
}
