//! The event log as SQL: `EventStore`. Appended events wait in the
//! transaction; at commit, as its last statements, they take their `seq`
//! from the `events` counter row, locked until the COMMIT, so the feed is
//! gapless and in commit order while no writer holds that row for longer
//! than its commit.

use async_trait::async_trait;
use roster_core::store::StoreResult;
use roster_core::store::prelude::*;
use roster_core::*;
use sqlx::QueryBuilder;

use super::{CHUNK, Db, SqlTx, dialect, map, rows, ts};

/// Writes a committing transaction's events. The sequence comes from the
/// `events` counter row, which this update locks until commit (in the
/// same statement as the insert where the backend can, `SEQ_IN_INSERT`,
/// so the row is held one round trip less): writers
/// append one after another, so `seq` is gapless and in commit order, and a
/// change-feed reader that has seen `seq = n` can never later find a
/// smaller one appear.
pub(super) async fn insert_events(
    conn: &mut <Db as sqlx::Database>::Connection,
    events: &[NewEvent],
) -> StoreResult<()> {
    let n = events.len() as i64;
    if dialect::SEQ_IN_INSERT && events.len() <= CHUNK {
        // One statement (the notification too, joined in as a row of its
        // own), so the row is held for one round trip and the COMMIT.
        let mut qb = QueryBuilder::new("WITH c AS (UPDATE counters SET value = value + ");
        qb.push_bind(n);
        qb.push(
            " WHERE name = 'events' RETURNING value) \
             INSERT INTO events (seq, at, actor, action, target_type, target_id, before, after) \
             SELECT c.value - ",
        );
        qb.push_bind(n);
        qb.push(" + v.i, v.at, v.actor, v.action, v.target_type, v.target_id, v.before, v.after FROM c, (");
        push_event_values(&mut qb, events, 1);
        qb.push(") AS v (i, at, actor, action, target_type, target_id, before, after)");
        if let Some(sql) = dialect::NOTIFY_EVENTS {
            qb.push(format!(", ({sql}) AS notified"));
        }
        qb.build().execute(&mut *conn).await.map_err(map)?;
        return Ok(());
    }
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
    if let Some(sql) = dialect::NOTIFY_EVENTS {
        sqlx::query(sql).execute(&mut *conn).await.map_err(map)?;
    }
    Ok(())
}

/// `VALUES (seq, at, actor, action, target_type, target_id, before, after), …`
/// for `events`, numbered from `first`.
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
