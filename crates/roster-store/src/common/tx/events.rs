//! The event log as SQL: `EventStore`. An append takes `seq` from the
//! `events` counter row, locked until commit, so the feed is gapless and in
//! commit order.

use async_trait::async_trait;
use roster_core::store::StoreResult;
use roster_core::store::prelude::*;
use roster_core::*;
use sqlx::QueryBuilder;

use super::{CHUNK, SqlTx, map, rows, ts};

#[async_trait]
impl EventStore for SqlTx {
    async fn append_event(&mut self, e: &NewEvent) -> StoreResult<i64> {
        self.append_events(std::slice::from_ref(e)).await
    }

    /// The sequence comes from the `events` counter row, which this update
    /// locks until commit: writers append one after another, so `seq` is
    /// gapless and in commit order, and a change-feed reader that has seen
    /// `seq = n` can never later find a smaller one appear.
    async fn append_events(&mut self, events: &[NewEvent]) -> StoreResult<i64> {
        let n = events.len() as i64;
        let last = self
            .scalar(sqlx::query("UPDATE counters SET value = value + $1 WHERE name = 'events' RETURNING value").bind(n))
            .await?;
        let first = last - n + 1;
        for (c, chunk) in events.chunks(CHUNK).enumerate() {
            let mut qb = QueryBuilder::new(
                "INSERT INTO events (seq, at, actor, action, target_type, target_id, before, after) ",
            );
            qb.push_values(chunk.iter().enumerate(), |mut b, (i, e)| {
                b.push_bind(first + (c * CHUNK + i) as i64)
                    .push_bind(ts(e.at))
                    .push_bind(e.actor.map(|a| a.0))
                    .push_bind(e.action)
                    .push_bind(e.target_type)
                    .push_bind(e.target_id.clone())
                    .push_bind(e.before.as_ref().map(|v| v.to_string()))
                    .push_bind(e.after.as_ref().map(|v| v.to_string()));
            });
            qb.build().execute(&mut *self.tx).await.map_err(map)?;
        }
        Ok(first)
    }

    async fn list_events(&mut self, after: i64, limit: u32) -> StoreResult<Vec<Event>> {
        let q = sqlx::query("SELECT * FROM events WHERE seq > $1 ORDER BY seq LIMIT $2").bind(after).bind(limit as i64);
        self.fetch_all(q, rows::event).await
    }
}
