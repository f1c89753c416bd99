//! The delivery worker ([`crate::Directory::deliver_webhooks`]), one per
//! server. It takes a lease on each subscription that has events after
//! its cursor and is due (a conditional UPDATE in the store: of several
//! servers on one database, one holds a subscription at a time), then
//! delivers that subscription's events one at a time in `seq` order: an
//! event that fails holds back the ones after it until it is delivered or
//! its last retry fails (then it is dead-lettered and the next one goes).
//! Where a subscription stands (the cursor, the attempt count, the next
//! attempt's time) and the attempts' log rows are saved in the store
//! together: at once after a failure, a dead letter or a 410, and after
//! delivered events once [`SAVE_EVERY`] are unsaved or the oldest is
//! [`SAVE_AFTER`] old, so a restart resumes where the last server stopped;
//! the events whose answers were not saved yet are sent again, with the
//! same `webhook-id`s (at-least-once). One transaction per delivery
//! would make every subscription a writer as busy as the directory's own.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;

use super::{Answer, DeliveryAttempt, DeliveryState, Outcome, Outgoing, PING, Sender, Webhook, WebhookSecrets};
use crate::Directory;
use crate::error::CoreError;
use crate::ids::{GroupId, UserId, WebhookId};
use crate::model::Event;
use crate::store::{Counter, Store};

/// The wait before each attempt at one event: immediately, then 5 s, 5 min,
/// 30 min, 2 h, 5 h, 10 h and 10 h (Svix's schedule), each with ±20 %
/// jitter. After the last, the event is dead-lettered.
pub const RETRY_SCHEDULE: [Duration; 8] = [
    Duration::ZERO,
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Events read from the log at a time for one subscription.
const BATCH: u32 = 100;

/// Delivered events saved in one transaction, at most.
const SAVE_EVERY: usize = 32;

/// How old the oldest delivered event may get before it is saved: the most
/// a crash can make a receiver see twice, in time.
const SAVE_AFTER: Duration = Duration::from_millis(100);

/// How the worker runs.
#[derive(Clone, Debug)]
pub struct DeliverySettings {
    /// This server's name in leases (unique per process).
    pub worker: String,
    /// Multiplies every wait of [`RETRY_SCHEDULE`] (`ROSTER_WEBHOOKS_RETRY_SCALE`):
    /// 1 in service, a small fraction in tests.
    pub retry_scale: f64,
    /// How long a lease lasts without being renewed; renewed at every
    /// saved step, so it must exceed the delivery timeout.
    pub lease: Duration,
    /// How often the worker looks for due subscriptions when no change
    /// wakes it.
    pub poll: Duration,
    /// Subscriptions delivered to at once by this server.
    pub concurrency: usize,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            worker: format!("roster-{}", uuid::Uuid::now_v7().simple()),
            retry_scale: 1.0,
            lease: Duration::from_secs(120),
            poll: Duration::from_secs(1),
            concurrency: 16,
        }
    }
}

impl DeliverySettings {
    /// The defaults, with the retry schedule multiplied by `retry_scale`
    /// (the poll shrinks with it, between 50 ms and 1 s) and leases of four
    /// times a request's `timeout` (so a server that died holds its
    /// subscriptions that long: one minute with the default 15 s).
    pub fn scaled(retry_scale: f64, timeout: Duration) -> Self {
        let poll = Duration::from_secs(5)
            .mul_f64(retry_scale.clamp(0.0, 1.0))
            .clamp(Duration::from_millis(50), Duration::from_secs(1));
        Self { retry_scale, poll, lease: (timeout * 4).max(Duration::from_secs(4)), ..Self::default() }
    }

    /// The wait before attempt `n` (from 1) at an event, jittered and scaled.
    fn wait_before(&self, n: u32) -> Duration {
        let Some(base) = RETRY_SCHEDULE.get(n.saturating_sub(1) as usize) else { return Duration::ZERO };
        let jitter = rand::rng().random_range(0.8..1.2);
        base.mul_f64((self.retry_scale * jitter).clamp(0.0, 1e6))
    }
}

#[derive(Clone)]
struct Worker {
    directory: Directory,
    store: Arc<dyn Store>,
    sender: Arc<dyn Sender>,
    settings: DeliverySettings,
    running: Arc<Mutex<HashSet<WebhookId>>>,
    /// Numbers this server's leases: each round's lease is its own, so a
    /// delivery still running on an earlier one (whose lease a use-case
    /// cleared) can no longer save over what the use-case set.
    rounds: Arc<std::sync::atomic::AtomicU64>,
}

impl Directory {
    /// Delivers every subscription's events, for ever: spawn it once per
    /// server, beside [`Directory::follow_changes`].
    pub fn deliver_webhooks(
        &self,
        sender: Arc<dyn Sender>,
        settings: DeliverySettings,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let worker = Worker {
            directory: self.clone(),
            store: self.store.clone(),
            sender,
            settings,
            running: Arc::new(Mutex::new(HashSet::new())),
            rounds: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        };
        worker.run()
    }
}

impl Worker {
    async fn run(self) {
        let mut revisions = self.directory.index().watch_revision();
        loop {
            if let Err(e) = self.round().await {
                tracing::warn!(error = %e, "webhook delivery round failed; trying again");
            }
            // A new revision (a write here or anywhere, through the log) or
            // the poll, whichever comes first.
            let _ = tokio::time::timeout(self.settings.poll, revisions.changed()).await;
        }
    }

    fn busy(&self) -> usize {
        self.running.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// Leases the subscriptions that are due, and starts a delivery for each.
    async fn round(&self) -> Result<(), CoreError> {
        let free = self.settings.concurrency.saturating_sub(self.busy());
        if free == 0 {
            return Ok(());
        }
        let now = crate::directory::now();
        let head = self.store.read().await?.count(Counter::Events).await?;
        if self.store.read().await?.count_due_webhooks(now, head).await? == 0 {
            return Ok(());
        }
        let until = now + self.settings.lease;
        let round = self.rounds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let lease: Arc<str> = format!("{}#{round}", self.settings.worker).into();
        let mut tx = self.store.write().await?;
        let leased = tx.lease_webhooks(&lease, now, until, head, free as u32).await?;
        tx.commit().await?;
        for (hook, state) in leased {
            let fresh = self.running.lock().map(|mut r| r.insert(hook.id)).unwrap_or(false);
            if !fresh {
                // Still delivering here on a lease a use-case cleared (a
                // redelivery, say): that delivery stops at its next save,
                // since the lease is not its own. Give this one back, as
                // read, so that a later round takes the subscription at
                // once instead of when the lease runs out.
                let mut tx = self.store.write().await?;
                tx.save_delivery(&lease, &state, None).await?;
                tx.commit().await?;
                continue;
            }
            let worker = self.clone();
            let lease = lease.clone();
            tokio::spawn(async move {
                let id = hook.id;
                if let Err(e) = worker.deliver(hook, state, &lease).await {
                    // Its lease runs out and a round (here or elsewhere) takes it again.
                    tracing::warn!(webhook = %id, error = %e, "webhook delivery stopped; it resumes when its lease runs out");
                }
                if let Ok(mut r) = worker.running.lock() {
                    r.remove(&id);
                }
            });
        }
        Ok(())
    }

    /// Saves the state and the attempts not saved yet (taken from
    /// `attempts`), while this server holds the lease (renewed, or released
    /// with `keep == false`). False when the lease was lost or the
    /// subscription disabled or deleted meanwhile: stop.
    async fn save(
        &self,
        lease: &str,
        state: &DeliveryState,
        attempts: &mut Vec<DeliveryAttempt>,
        keep: bool,
    ) -> Result<bool, CoreError> {
        let until = keep.then(|| crate::directory::now() + self.settings.lease);
        let mut tx = self.store.write().await?;
        for a in attempts.drain(..) {
            tx.insert_delivery_attempt(&a).await?;
        }
        let held = tx.save_delivery(lease, state, until).await?;
        tx.commit().await?;
        Ok(held)
    }

    /// Delivers one subscription's events from its cursor until the log
    /// ends (the lease released) or an event fails (its retry scheduled).
    async fn deliver(&self, hook: Webhook, mut state: DeliveryState, lease: &str) -> Result<(), CoreError> {
        if let Step::Stop = self.redeliver(&hook, &state, lease).await? {
            return Ok(());
        }
        // Delivered, not saved yet.
        let mut unsaved = Vec::new();
        // The subscription's secrets, as of a webhooks generation.
        let mut kept = None;
        loop {
            let events = self.store.read().await?.list_events(state.cursor, BATCH).await?;
            let Some(last) = events.last().map(|e| e.seq) else {
                state.next_attempt_at = None;
                self.save(lease, &state, &mut unsaved, false).await?;
                return Ok(());
            };
            // Scopes are read from the index: let it reach these events first.
            if self.directory.index().is_ready() {
                self.directory.index().wait_for(&*self.store, last, self.settings.lease / 4).await;
            }
            for e in events {
                if !self.wanted(&hook, &e).await? {
                    state.cursor = e.seq;
                    continue;
                }
                // Read again whenever a subscription changed: once a rotation
                // is answered, every request signs with the new secret.
                let secrets = match self.secrets(&hook, &mut kept).await? {
                    Some(secrets) => secrets,
                    None => return Ok(()),
                };
                match self.attempt(&hook, &secrets, &mut state, &e, &mut unsaved, lease).await? {
                    Step::Next => {}
                    Step::Stop => return Ok(()),
                }
            }
            if !self.save(lease, &state, &mut unsaved, true).await? {
                return Ok(());
            }
        }
    }

    /// The subscription's secrets: those in `kept` while no subscription
    /// changed since they were read (the index's webhooks generation: it
    /// moves before a rotation here is answered, and as soon as this
    /// server follows one made on another), else read from the store.
    /// `None`: the subscription is gone.
    async fn secrets(
        &self,
        hook: &Webhook,
        kept: &mut Option<(u64, Arc<WebhookSecrets>)>,
    ) -> Result<Option<Arc<WebhookSecrets>>, CoreError> {
        let index = self.directory.index();
        let generation = index.webhooks_generation();
        if let Some((at, secrets)) = kept.as_ref()
            && *at == generation
            && index.is_ready()
        {
            return Ok(Some(secrets.clone()));
        }
        let Some(secrets) = self.store.read().await?.webhook_secrets(hook.id).await? else {
            return Ok(None);
        };
        let secrets = Arc::new(secrets);
        *kept = Some((generation, secrets.clone()));
        Ok(Some(secrets))
    }

    /// Sends `e` once as attempt `n`: the attempt as the log keeps it, and
    /// the receiver's `Retry-After`.
    async fn send(
        &self,
        hook: &Webhook,
        secrets: &WebhookSecrets,
        e: &Event,
        n: u32,
    ) -> (DeliveryAttempt, Option<Duration>) {
        let id = super::message_id(hook.id, e.seq);
        let body = super::body(e);
        let now = crate::directory::now();
        let timestamp = now.unix_timestamp();
        let request = Outgoing {
            url: hook.url.clone(),
            headers: vec![
                ("webhook-id", id.clone()),
                ("webhook-timestamp", timestamp.to_string()),
                ("webhook-signature", secrets.signature(&id, timestamp, &body, now)),
                ("content-type", "application/json".to_owned()),
            ],
            body,
        };
        let started = Instant::now();
        let answer = self.sender.send(&request).await;
        let latency_ms = started.elapsed().as_millis().min(i64::MAX as u128) as i64;
        let (status, detail, retry_after) = match &answer {
            Answer::Status { status, retry_after, snippet } => (Some(*status), Some(snippet.clone()), *retry_after),
            Answer::Failed { reason } => (None, Some(reason.clone()), None),
        };
        let outcome = match status {
            Some(s) if (200..300).contains(&s) => Outcome::Delivered,
            Some(410) => Outcome::Gone,
            _ if n as usize >= RETRY_SCHEDULE.len() => Outcome::Dead,
            _ => Outcome::Failed,
        };
        tracing::debug!(webhook = %hook.id, seq = e.seq, attempt = n, status, outcome = outcome.as_str(), latency_ms, "webhook attempt");
        let labels = [("outcome", outcome.as_str())];
        metrics::counter!("roster_webhook_attempts_total", &labels).increment(1);
        metrics::histogram!("roster_webhook_attempt_duration_seconds", &labels).record(latency_ms as f64 / 1000.0);
        let record = DeliveryAttempt {
            num: 0,
            webhook: hook.id,
            seq: e.seq,
            message_id: id,
            attempt: n,
            at: now,
            status,
            latency_ms,
            outcome,
            detail: detail.map(|d| d.chars().take(SNIPPET).collect()),
        };
        (record, retry_after)
    }

    /// Disables a subscription whose receiver answered 410, with the
    /// attempts not saved yet (the 410 last).
    async fn gone(&self, hook: &Webhook, attempts: &[DeliveryAttempt]) -> Result<Step, CoreError> {
        let mut tx = self.store.write().await?;
        for a in attempts {
            tx.insert_delivery_attempt(a).await?;
        }
        tx.disable_webhook(hook.id, "the receiver answered 410 Gone").await?;
        tx.commit().await?;
        tracing::info!(webhook = %hook.id, "webhook disabled: the receiver answered 410 Gone");
        Ok(Step::Stop)
    }

    /// The events asked for again one at a time (`redeliver_webhook_event`):
    /// one attempt each, out of the cursor's order and without retries,
    /// logged like any other; a 410 disables as ever.
    async fn redeliver(&self, hook: &Webhook, state: &DeliveryState, lease: &str) -> Result<Step, CoreError> {
        let queued = self.store.read().await?.queued_redeliveries(hook.id, BATCH).await?;
        for seq in queued {
            let event = self.store.read().await?.list_events(seq - 1, 1).await?.into_iter().find(|e| e.seq == seq);
            let attempt = match event {
                Some(e) if self.wanted(hook, &e).await? => {
                    let Some(secrets) = self.store.read().await?.webhook_secrets(hook.id).await? else {
                        return Ok(Step::Stop);
                    };
                    let (record, _) = self.send(hook, &secrets, &e, 1).await;
                    if record.outcome == Outcome::Gone {
                        let mut tx = self.store.write().await?;
                        tx.drop_redelivery(hook.id, seq).await?;
                        tx.commit().await?;
                        return self.gone(hook, std::slice::from_ref(&record)).await;
                    }
                    // Once only: a failure stays failed, not dead.
                    Some(DeliveryAttempt {
                        outcome: if record.outcome == Outcome::Delivered {
                            Outcome::Delivered
                        } else {
                            Outcome::Failed
                        },
                        ..record
                    })
                }
                _ => None,
            };
            let mut tx = self.store.write().await?;
            if let Some(a) = &attempt {
                tx.insert_delivery_attempt(a).await?;
            }
            tx.drop_redelivery(hook.id, seq).await?;
            let held = tx.save_delivery(lease, state, Some(crate::directory::now() + self.settings.lease)).await?;
            tx.commit().await?;
            if !held {
                return Ok(Step::Stop);
            }
        }
        Ok(Step::Next)
    }

    /// One attempt at the event after the cursor, and what it changes;
    /// a delivered event joins `unsaved`, saved with the others when
    /// there are enough of them or the oldest is old enough.
    async fn attempt(
        &self,
        hook: &Webhook,
        secrets: &WebhookSecrets,
        state: &mut DeliveryState,
        e: &Event,
        unsaved: &mut Vec<DeliveryAttempt>,
        lease: &str,
    ) -> Result<Step, CoreError> {
        let n = state.attempts + 1;
        let (record, retry_after) = self.send(hook, secrets, e, n).await;
        match record.outcome {
            Outcome::Delivered | Outcome::Dead => {
                state.cursor = e.seq;
                state.attempts = 0;
                state.next_attempt_at = None;
                let dead = record.outcome == Outcome::Dead;
                unsaved.push(record);
                let old = unsaved.first().is_some_and(|a| crate::directory::now() - a.at >= SAVE_AFTER);
                if !dead && !old && unsaved.len() < SAVE_EVERY {
                    return Ok(Step::Next);
                }
                let held = self.save(lease, state, unsaved, true).await?;
                Ok(if held { Step::Next } else { Step::Stop })
            }
            Outcome::Gone => {
                unsaved.push(record);
                self.gone(hook, unsaved).await
            }
            Outcome::Failed => {
                let mut wait = self.settings.wait_before(n + 1);
                if let (Some(429 | 502 | 503 | 504), Some(asked)) = (record.status, retry_after) {
                    wait = wait.max(asked.min(MAX_RETRY_AFTER));
                }
                state.attempts = n;
                state.next_attempt_at = Some(record.at + wait);
                unsaved.push(record);
                self.save(lease, state, unsaved, false).await?;
                Ok(Step::Stop)
            }
        }
    }

    /// Whether `hook` takes `e`: the test ping only by the subscription it
    /// names; then the type patterns; then the group scope (the group and
    /// every group nested in it at any depth; for user events, its users at
    /// any depth), read from the directory as it is now (at least as new
    /// as the event).
    async fn wanted(&self, hook: &Webhook, e: &Event) -> Result<bool, CoreError> {
        if e.action == PING {
            return Ok(e.target_id == hook.id.to_string());
        }
        if !super::wants_type(&hook.event_types, &e.action) {
            return Ok(false);
        }
        let Some(scope) = hook.group else { return Ok(true) };
        // About the watched group itself: not for those watching groups above it.
        if e.action == super::TRANSITIVE_ADDED || e.action == super::TRANSITIVE_REMOVED {
            return Ok(e.target_id == scope.to_string());
        }
        let field = |name: &str| {
            e.after
                .as_ref()
                .or(e.before.as_ref())
                .and_then(|v| v[name].as_str())
                .and_then(|s| s.parse::<uuid::Uuid>().ok())
        };
        let target = e.target_id.parse::<uuid::Uuid>().ok();
        let mut tx = self.directory.read().await?;
        match e.target_type.as_str() {
            "group" => match target.map(GroupId) {
                Some(g) if g == scope => Ok(true),
                Some(g) => Ok(tx.group_reaches(scope, g).await?),
                None => Ok(false),
            },
            "membership" | "share" => match field("group_id").map(GroupId) {
                Some(g) if g == scope => Ok(true),
                Some(g) => Ok(tx.group_reaches(scope, g).await?),
                None => Ok(false),
            },
            "user" => match target.map(UserId) {
                Some(u) => Ok(tx.in_group_transitively(scope, u).await?),
                None => Ok(false),
            },
            _ => Ok(false),
        }
    }
}

/// Characters of a receiver's answer (or of a failure) the log keeps.
pub(crate) const SNIPPET: usize = 256;

enum Step {
    Next,
    Stop,
}
