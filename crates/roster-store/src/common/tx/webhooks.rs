//! Webhook subscriptions, their delivery state and lease, and the delivery
//! log as SQL: `WebhookStore`. A lease is taken by a conditional UPDATE
//! (free or expired, re-checked by PostgreSQL on the row it waited for),
//! so of several servers one delivers each subscription at a time.

use async_trait::async_trait;
use roster_core::store::StoreResult;
use roster_core::store::prelude::*;
use roster_core::webhooks::{DeliveryAttempt, DeliveryState, Outcome, Webhook, WebhookSecret, WebhookSecrets};
use roster_core::*;
use time::OffsetDateTime;

use super::{SqlTx, dialect, rows, ts};

/// The subscriptions due at `$1` with events up to `$2` and no live lease.
const DUE: &str = "enabled AND (delivered_seq < $2 \
     OR EXISTS (SELECT 1 FROM webhook_redeliveries r WHERE r.webhook_id = webhooks.id)) \
     AND (next_attempt_at IS NULL OR next_attempt_at <= $1) AND (leased_until IS NULL OR leased_until < $1)";

/// Attempts kept per subscription besides its dead letters.
const KEEP_ATTEMPTS: i64 = 1000;

fn types_text(types: &[String]) -> String {
    serde_json::Value::from(types.to_vec()).to_string()
}

#[async_trait]
impl WebhookStore for SqlTx {
    async fn insert_webhook(&mut self, w: &Webhook, secret: &WebhookSecret, cursor: i64) -> StoreResult<i64> {
        let q = sqlx::query(
            "INSERT INTO webhooks (id, url, event_types, group_id, description, enabled, disabled_reason, created_by, \
             created_at, updated_at, secret, delivered_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             RETURNING num",
        )
        .bind(w.id.0)
        .bind(w.url.clone())
        .bind(types_text(&w.event_types))
        .bind(w.group.map(|g| g.0))
        .bind(w.description.clone())
        .bind(w.enabled)
        .bind(w.disabled_reason.clone())
        .bind(w.created_by.map(|u| u.0))
        .bind(ts(w.created_at))
        .bind(ts(w.updated_at))
        .bind(rows::secret_text(secret))
        .bind(cursor);
        self.scalar(q).await
    }

    async fn update_webhook(&mut self, w: &Webhook) -> StoreResult<()> {
        let q = sqlx::query(
            "UPDATE webhooks SET url = $2, event_types = $3, description = $4, enabled = $5, disabled_reason = $6, \
             updated_at = $7 WHERE id = $1",
        )
        .bind(w.id.0)
        .bind(w.url.clone())
        .bind(types_text(&w.event_types))
        .bind(w.description.clone())
        .bind(w.enabled)
        .bind(w.disabled_reason.clone())
        .bind(ts(w.updated_at));
        match self.exec(q).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    async fn delete_webhook(&mut self, id: WebhookId) -> StoreResult<()> {
        match self.exec(sqlx::query("DELETE FROM webhooks WHERE id = $1").bind(id.0)).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    async fn get_webhook(&mut self, id: WebhookId) -> StoreResult<Option<Webhook>> {
        let sql = format!("SELECT {} FROM webhooks WHERE id = $1{}", rows::WEBHOOK_COLS, self.lock());
        self.fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.0), rows::webhook).await
    }

    async fn list_webhooks(&mut self, after: i64, limit: u32) -> StoreResult<Vec<Webhook>> {
        let sql = format!("SELECT {} FROM webhooks WHERE num > $1 ORDER BY num LIMIT $2", rows::WEBHOOK_COLS);
        self.fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(after).bind(limit as i64), rows::webhook).await
    }

    async fn count_webhooks(&mut self) -> StoreResult<i64> {
        self.scalar(sqlx::query("SELECT COUNT(*) FROM webhooks")).await
    }

    async fn webhook_secrets(&mut self, id: WebhookId) -> StoreResult<Option<WebhookSecrets>> {
        let q = sqlx::query("SELECT secret, previous_secret, previous_secret_until FROM webhooks WHERE id = $1");
        self.fetch_optional(q.bind(id.0), rows::webhook_secrets).await
    }

    async fn set_webhook_secrets(&mut self, id: WebhookId, s: &WebhookSecrets) -> StoreResult<()> {
        let q = sqlx::query(
            "UPDATE webhooks SET secret = $2, previous_secret = $3, previous_secret_until = $4 WHERE id = $1",
        )
        .bind(id.0)
        .bind(rows::secret_text(&s.current))
        .bind(s.previous.as_ref().map(|(p, _)| rows::secret_text(p)))
        .bind(s.previous.as_ref().map(|(_, until)| ts(*until)));
        self.exec(q).await.map(|_| ())
    }

    async fn delivery_state(&mut self, id: WebhookId) -> StoreResult<Option<DeliveryState>> {
        let q = sqlx::query("SELECT id, delivered_seq, attempts, next_attempt_at FROM webhooks WHERE id = $1");
        self.fetch_optional(q.bind(id.0), rows::delivery_state).await
    }

    async fn reset_delivery(&mut self, s: &DeliveryState) -> StoreResult<()> {
        // The lease goes too: a delivery in flight finds it lost and stops
        // rather than write its own position over this one.
        let q = sqlx::query(
            "UPDATE webhooks SET delivered_seq = $2, attempts = $3, next_attempt_at = $4, leased_by = NULL, \
             leased_until = NULL WHERE id = $1",
        )
        .bind(s.webhook.0)
        .bind(s.cursor)
        .bind(i64::from(s.attempts))
        .bind(s.next_attempt_at.map(ts));
        self.exec(q).await.map(|_| ())
    }

    async fn count_due_webhooks(&mut self, now: OffsetDateTime, head: i64) -> StoreResult<i64> {
        let sql = format!("SELECT COUNT(*) FROM webhooks WHERE {DUE}");
        self.scalar(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ts(now)).bind(head)).await
    }

    async fn lease_webhooks(
        &mut self,
        worker: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        head: i64,
        limit: u32,
    ) -> StoreResult<Vec<(Webhook, DeliveryState)>> {
        // The outer condition is checked again on each row as it is
        // updated: a row another server leased meanwhile is left alone.
        let sql = format!(
            "UPDATE webhooks SET leased_by = $3, leased_until = $4 WHERE id IN \
             (SELECT id FROM webhooks WHERE {DUE} ORDER BY COALESCE(next_attempt_at, 0), num LIMIT $5) AND {DUE} \
             RETURNING {}",
            rows::WEBHOOK_COLS
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ts(now))
            .bind(head)
            .bind(worker.to_owned())
            .bind(ts(until))
            .bind(limit as i64);
        self.fetch_all(q, |row| Ok((rows::webhook(row)?, rows::delivery_state(row)?))).await
    }

    async fn save_delivery(
        &mut self,
        worker: &str,
        s: &DeliveryState,
        until: Option<OffsetDateTime>,
    ) -> StoreResult<bool> {
        let lease = if until.is_some() { "leased_until = $5" } else { "leased_by = NULL, leased_until = $5" };
        let sql = format!(
            "UPDATE webhooks SET delivered_seq = $3, attempts = $4, next_attempt_at = $6, {lease} \
             WHERE id = $1 AND leased_by = $2 AND enabled"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(s.webhook.0)
            .bind(worker.to_owned())
            .bind(s.cursor)
            .bind(i64::from(s.attempts))
            .bind(until.map(ts))
            .bind(s.next_attempt_at.map(ts));
        Ok(self.exec(q).await? == 1)
    }

    async fn disable_webhook(&mut self, id: WebhookId, reason: &str) -> StoreResult<()> {
        let q = sqlx::query(
            "UPDATE webhooks SET enabled = $2, disabled_reason = $3, leased_by = NULL, leased_until = NULL \
             WHERE id = $1",
        )
        .bind(id.0)
        .bind(false)
        .bind(reason.to_owned());
        self.exec(q).await.map(|_| ())
    }

    async fn insert_delivery_attempt(&mut self, a: &DeliveryAttempt) -> StoreResult<Option<i64>> {
        // Nothing when the subscription was deleted meanwhile (its log went with it).
        let q = sqlx::query(
            "INSERT INTO webhook_attempts (webhook_id, seq, message_id, attempt, at, status, latency_ms, outcome, detail) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = $1) \
             RETURNING num",
        )
        .bind(a.webhook.0)
        .bind(a.seq)
        .bind(a.message_id.clone())
        .bind(i64::from(a.attempt))
        .bind(ts(a.at))
        .bind(a.status.map(i64::from))
        .bind(a.latency_ms)
        .bind(a.outcome.as_str())
        .bind(a.detail.clone());
        let Some(num) = self
            .fetch_optional(q, |row| {
                use sqlx::Row;
                row.try_get::<i64, _>("num").map_err(|e| StoreError::Other(e.to_string()))
            })
            .await?
        else {
            return Ok(None);
        };
        if num % 64 == 0 {
            let prune = sqlx::query(
                "DELETE FROM webhook_attempts WHERE webhook_id = $1 AND outcome <> 'dead' AND num <= \
                 (SELECT num FROM webhook_attempts WHERE webhook_id = $1 AND outcome <> 'dead' \
                 ORDER BY num DESC LIMIT 1 OFFSET $2)",
            )
            .bind(a.webhook.0)
            .bind(KEEP_ATTEMPTS);
            self.exec(prune).await?;
        }
        Ok(Some(num))
    }

    async fn list_delivery_attempts(
        &mut self,
        id: WebhookId,
        outcome: Option<Outcome>,
        before: i64,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryAttempt>> {
        let q = sqlx::query(
            "SELECT * FROM webhook_attempts WHERE webhook_id = $1 AND ($2 = '' OR outcome = $2) AND num < $3 \
             ORDER BY num DESC LIMIT $4",
        )
        .bind(id.0)
        .bind(outcome.map_or("", Outcome::as_str))
        .bind(before)
        .bind(limit as i64);
        self.fetch_all(q, rows::delivery_attempt).await
    }

    async fn count_delivery_attempts(&mut self, id: WebhookId, outcome: Option<Outcome>) -> StoreResult<i64> {
        let q =
            sqlx::query("SELECT COUNT(*) FROM webhook_attempts WHERE webhook_id = $1 AND ($2 = '' OR outcome = $2)")
                .bind(id.0)
                .bind(outcome.map_or("", Outcome::as_str));
        self.scalar(q).await
    }

    async fn queue_redelivery(&mut self, id: WebhookId, seq: i64) -> StoreResult<()> {
        let q = sqlx::query(
            "INSERT INTO webhook_redeliveries (webhook_id, seq) VALUES ($1, $2) ON CONFLICT (webhook_id, seq) DO NOTHING",
        );
        self.exec(q.bind(id.0).bind(seq)).await.map(|_| ())
    }

    async fn queued_redeliveries(&mut self, id: WebhookId, limit: u32) -> StoreResult<Vec<i64>> {
        let q = sqlx::query("SELECT seq FROM webhook_redeliveries WHERE webhook_id = $1 ORDER BY seq LIMIT $2");
        self.fetch_all(q.bind(id.0).bind(limit as i64), |row| {
            use sqlx::Row;
            row.try_get::<i64, _>("seq").map_err(|e| StoreError::Other(e.to_string()))
        })
        .await
    }

    async fn drop_redelivery(&mut self, id: WebhookId, seq: i64) -> StoreResult<()> {
        let q = sqlx::query("DELETE FROM webhook_redeliveries WHERE webhook_id = $1 AND seq = $2");
        self.exec(q.bind(id.0).bind(seq)).await.map(|_| ())
    }

    async fn scoped_subscriptions(&mut self) -> StoreResult<Vec<(GroupId, Vec<String>)>> {
        let q = sqlx::query("SELECT group_id, event_types FROM webhooks WHERE enabled AND group_id IS NOT NULL");
        self.fetch_all(q, |row| {
            use sqlx::Row;
            let group: uuid::Uuid = row.try_get("group_id").map_err(|e| StoreError::Other(e.to_string()))?;
            let types: String = row.try_get("event_types").map_err(|e| StoreError::Other(e.to_string()))?;
            let types = serde_json::from_str(&types).map_err(|e| StoreError::Other(format!("event_types: {e}")))?;
            Ok((GroupId(group), types))
        })
        .await
    }

    async fn lock_watched_group(&mut self, group: GroupId) -> StoreResult<()> {
        if let Some(sql) = dialect::LOCK_WATCHED {
            // A 32-bit key from the id (collisions only serialize more).
            let b = group.0.as_bytes();
            let key = i32::from_le_bytes([b[12] ^ b[0], b[13] ^ b[1], b[14] ^ b[2], b[15] ^ b[3]]);
            self.exec(sqlx::query(sql).bind(key)).await?;
        }
        Ok(())
    }
}
