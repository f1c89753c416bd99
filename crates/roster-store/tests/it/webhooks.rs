//! Webhook subscriptions in the store: secrets round-trip but never come
//! with a read of the subscription; a lease goes to one worker at a time
//! (concurrent workers on PostgreSQL included); progress is saved only
//! under the lease; the delivery log pages newest first and keeps dead
//! letters apart.

use std::time::Duration;

use roster_core::webhooks::{DeliveryAttempt, DeliveryState, Outcome, Webhook, WebhookSecret, WebhookSecrets};
use roster_core::*;
use time::OffsetDateTime;

use crate::backends;

fn hook() -> Webhook {
    let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
    Webhook {
        id: WebhookId::new(),
        num: 0,
        url: "https://example.com/hook".into(),
        event_types: vec!["membership.*".into()],
        group: Some(GroupId::new()),
        description: Some("d".into()),
        enabled: true,
        disabled_reason: None,
        created_by: None,
        created_at: t,
        updated_at: t,
        previous_secret_until: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_progress_and_the_delivery_log() {
    for b in backends().await {
        let w = hook();
        let secret = WebhookSecret::generate();
        let mut tx = b.store.write().await.unwrap();
        let num = tx.insert_webhook(&w, &secret, 0).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = b.store.read().await.unwrap();
        let read = tx.get_webhook(w.id).await.unwrap().unwrap();
        assert_eq!(read, Webhook { num, ..w.clone() }, "{}", b.name);
        let secrets = tx.webhook_secrets(w.id).await.unwrap().unwrap();
        assert_eq!(secrets.current, secret);
        assert!(secrets.previous.is_none());
        drop(tx);

        // No events beyond the cursor: nothing is due.
        let now = OffsetDateTime::now_utc();
        let until = now + Duration::from_secs(60);
        assert_eq!(b.store.read().await.unwrap().count_due_webhooks(now, 0).await.unwrap(), 0);
        assert_eq!(b.store.read().await.unwrap().count_due_webhooks(now, 3).await.unwrap(), 1);
        // Many workers at once: exactly one gets the lease.
        let mut tasks = Vec::new();
        for i in 0..6 {
            let store = b.store.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = store.write().await.unwrap();
                let got = tx.lease_webhooks(&format!("w{i}"), now, until, 3, 10).await.unwrap();
                tx.commit().await.unwrap();
                (i, got.len())
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            let (i, n) = t.await.unwrap();
            if n > 0 {
                winners.push(i);
            }
        }
        assert_eq!(winners.len(), 1, "{}: {winners:?}", b.name);
        let holder = format!("w{}", winners[0]);
        let other = if holder == "w0" { "w1" } else { "w0" };
        assert_eq!(b.store.read().await.unwrap().count_due_webhooks(now, 3).await.unwrap(), 0, "leased");

        // Only the holder saves; releasing makes it due again.
        let state = DeliveryState { webhook: w.id, cursor: 2, attempts: 1, next_attempt_at: None };
        let mut tx = b.store.write().await.unwrap();
        assert!(!tx.save_delivery(other, &state, Some(until)).await.unwrap());
        assert!(tx.save_delivery(&holder, &state, None).await.unwrap());
        tx.commit().await.unwrap();
        let mut tx = b.store.read().await.unwrap();
        assert_eq!(tx.delivery_state(w.id).await.unwrap().unwrap(), state);
        assert_eq!(tx.count_due_webhooks(now, 3).await.unwrap(), 1);
        drop(tx);

        // An event asked for again makes it due, whatever its cursor; asked twice, once.
        let mut tx = b.store.write().await.unwrap();
        tx.reset_delivery(&DeliveryState { webhook: w.id, cursor: 3, attempts: 0, next_attempt_at: None })
            .await
            .unwrap();
        tx.queue_redelivery(w.id, 2).await.unwrap();
        tx.queue_redelivery(w.id, 2).await.unwrap();
        tx.queue_redelivery(w.id, 1).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = b.store.read().await.unwrap();
        assert_eq!(tx.queued_redeliveries(w.id, 10).await.unwrap(), [1, 2], "{}", b.name);
        assert_eq!(tx.count_due_webhooks(now, 3).await.unwrap(), 1, "{}: due for its redeliveries", b.name);
        drop(tx);
        let mut tx = b.store.write().await.unwrap();
        tx.drop_redelivery(w.id, 1).await.unwrap();
        tx.drop_redelivery(w.id, 2).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(b.store.read().await.unwrap().count_due_webhooks(now, 3).await.unwrap(), 0);

        // A rotation keeps the old secret with its deadline.
        let rotated = WebhookSecrets { current: WebhookSecret::generate(), previous: Some((secret.clone(), until)) };
        let mut tx = b.store.write().await.unwrap();
        tx.set_webhook_secrets(w.id, &rotated).await.unwrap();
        // The log: newest first, dead letters apart.
        for (seq, outcome) in [(1, Outcome::Delivered), (2, Outcome::Failed), (2, Outcome::Dead), (3, Outcome::Gone)] {
            let a = DeliveryAttempt {
                num: 0,
                webhook: w.id,
                seq,
                message_id: format!("m{seq}"),
                attempt: 1,
                at: now,
                status: Some(500),
                latency_ms: 3,
                outcome,
                detail: Some("x".into()),
            };
            assert!(tx.insert_delivery_attempt(&a).await.unwrap().is_some());
        }
        tx.commit().await.unwrap();
        let mut tx = b.store.read().await.unwrap();
        let again = tx.webhook_secrets(w.id).await.unwrap().unwrap();
        assert_eq!(again.current, rotated.current);
        assert_eq!(again.previous.map(|(s, _)| s), Some(secret));
        let all = tx.list_delivery_attempts(w.id, None, i64::MAX, 10).await.unwrap();
        let outcomes: Vec<Outcome> = all.iter().map(|a| a.outcome).collect();
        assert_eq!(outcomes, [Outcome::Gone, Outcome::Dead, Outcome::Failed, Outcome::Delivered], "{}", b.name);
        let page = tx.list_delivery_attempts(w.id, None, all[1].num, 10).await.unwrap();
        assert_eq!(page.len(), 2);
        let dead = tx.list_delivery_attempts(w.id, Some(Outcome::Dead), i64::MAX, 10).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(tx.count_delivery_attempts(w.id, Some(Outcome::Dead)).await.unwrap(), 1);
        assert_eq!(all[0].status, Some(500));
        drop(tx);

        // Deleting the subscription takes its log along.
        let mut tx = b.store.write().await.unwrap();
        tx.delete_webhook(w.id).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = b.store.read().await.unwrap();
        assert_eq!(tx.count_delivery_attempts(w.id, None).await.unwrap(), 0);
        assert!(tx.get_webhook(w.id).await.unwrap().is_none());
        drop(tx);
        // An attempt that ends after the deletion is not logged, and is no error
        // (the worker was delivering when the subscription went).
        let mut tx = b.store.write().await.unwrap();
        let late = DeliveryAttempt {
            num: 0,
            webhook: w.id,
            seq: 4,
            message_id: "m4".into(),
            attempt: 1,
            at: now,
            status: Some(204),
            latency_ms: 1,
            outcome: Outcome::Delivered,
            detail: None,
        };
        assert_eq!(tx.insert_delivery_attempt(&late).await.unwrap(), None, "{}", b.name);
        tx.commit().await.unwrap();
        assert_eq!(b.store.read().await.unwrap().count_delivery_attempts(w.id, None).await.unwrap(), 0);
    }
}
