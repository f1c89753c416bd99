//! Webhook subscriptions: who may subscribe to what, and the secret.
//! A subscription without a group scope gets every event: site admins
//! only. One scoped to a group gets that group's events and those of the
//! groups nested in it: also that group's admins and its `manage` shares
//! (`authz::can_watch_group`). Others do not learn that a subscription
//! they may not manage exists (404), except where they may see its group
//! (403). The signing secret is shown once, at creation or rotation.

use std::time::Duration;

use time::OffsetDateTime;

use super::{Directory, event, found, now};
use crate::authz::{self, Principal};
use crate::cursor::{Keyset, Page, PageRequest, list};
use crate::error::CoreError;
use crate::ids::{GroupId, WebhookId};
use crate::store::{Counter, Tx};
use crate::validate;
use crate::webhooks::{
    self, DeliveryAttempt, DeliveryState, Outcome, Webhook, WebhookSecret, WebhookSecrets, check_event_types, check_url,
};

/// A subscription to create.
#[derive(Clone, Debug, Default)]
pub struct NewWebhook {
    pub url: String,
    pub event_types: Vec<String>,
    pub group: Option<GroupId>,
    pub description: Option<String>,
    /// `None`: enabled.
    pub enabled: Option<bool>,
}

/// A change to a subscription; `None` leaves a field as it is. The group
/// scope does not change (make a new subscription).
#[derive(Clone, Debug, Default)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

/// A subscription with its secret, shown this once.
#[derive(Clone, Debug)]
pub struct CreatedWebhook {
    pub webhook: Webhook,
    /// `whsec_` + base64.
    pub secret: String,
}

/// The longest grace period of a rotated secret.
pub const MAX_ROTATION_GRACE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Which of a subscription's delivery attempts to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryFilter {
    All,
    /// The dead letters: events whose last retry failed.
    Dead,
}

fn snapshot(w: &Webhook) -> serde_json::Value {
    serde_json::json!({
        "id": w.id.to_string(), "url": w.url, "event_types": w.event_types,
        "group_id": w.group.map(|g| g.to_string()), "description": w.description, "enabled": w.enabled,
    })
}

/// Whether `p` may manage a subscription scoped to `group` (`None`: every
/// event). Errors: `NotFound` for a group `p` may not see, `Forbidden`
/// where it may see the group but not watch it.
async fn authorize(tx: &mut Box<dyn Tx>, p: &Principal, group: Option<GroupId>) -> Result<(), CoreError> {
    let Some(g) = group else {
        return authz::require_admin(p);
    };
    if p.is_admin() {
        return Ok(());
    }
    let access = tx.group_access(g, p.user).await?;
    if !authz::can_read_group(p, &access) {
        return Err(CoreError::NotFound { what: "group" });
    }
    authz::require(authz::can_watch_group(p, &access), "requires a site admin, a group admin or a manage share")
}

/// The subscription `id`, if `p` may manage it. A caller who may not is
/// told it does not exist, unless it may see the subscription's group.
async fn manageable(tx: &mut Box<dyn Tx>, p: &Principal, id: WebhookId) -> Result<Webhook, CoreError> {
    let hook = found(tx.get_webhook(id).await?, "webhook")?;
    match authorize(tx, p, hook.group).await {
        Ok(()) => Ok(hook),
        Err(CoreError::Forbidden { .. }) if hook.group.is_none() => Err(CoreError::NotFound { what: "webhook" }),
        Err(CoreError::NotFound { .. }) => Err(CoreError::NotFound { what: "webhook" }),
        Err(e) => Err(e),
    }
}

impl Directory {
    /// Creates a subscription and its secret (shown this once). Its
    /// delivery starts after the latest event. Who: see the module.
    /// Errors: `Invalid` (url, event_types, description), `NotFound`
    /// (group), `Forbidden`.
    pub async fn create_webhook(&self, p: &Principal, mut new: NewWebhook) -> Result<CreatedWebhook, CoreError> {
        check_url(&new.url)?;
        check_event_types(&new.event_types)?;
        new.description = validate::optional_text("description", new.description.as_deref())?;
        self.retrying(|| self.create_webhook_once(p, &new)).await
    }

    async fn create_webhook_once(&self, p: &Principal, new: &NewWebhook) -> Result<CreatedWebhook, CoreError> {
        let mut tx = self.write().await?;
        authorize(&mut tx, p, new.group).await?;
        if let Some(g) = new.group {
            found(tx.get_group(g).await?, "group")?;
        }
        let t = now();
        let mut hook = Webhook {
            id: WebhookId::new(),
            num: 0,
            url: new.url.clone(),
            event_types: new.event_types.clone(),
            group: new.group,
            description: new.description.clone(),
            enabled: new.enabled.unwrap_or(true),
            disabled_reason: None,
            created_by: p.actor(),
            created_at: t,
            updated_at: t,
            previous_secret_until: None,
        };
        tx.append_event(&event(p.actor(), "webhook.created", "webhook", hook.id, None, Some(snapshot(&hook)))).await?;
        // Deliveries start after every event logged so far, this one included.
        let cursor = tx.count(Counter::Events).await?;
        let secret = WebhookSecret::generate();
        hook.num = tx.insert_webhook(&hook, &secret, cursor).await?;
        tx.commit().await?;
        Ok(CreatedWebhook { webhook: hook, secret: secret.shown() })
    }

    /// The subscriptions `p` may manage, by creation order. Site admins see
    /// all; others those scoped to groups they watch.
    pub async fn list_webhooks(&self, p: &Principal, req: &PageRequest) -> Result<Page<Webhook>, CoreError> {
        let mut tx = self.read_store().await?;
        let after = req.after.as_ref().map_or(0, |k| k.num);
        let key = |w: &Webhook| Keyset { key: String::new(), num: w.num };
        if p.is_admin() {
            let rows = tx.list_webhooks(after, req.limit + 1).await?;
            let total = tx.count_webhooks().await?;
            return Ok(Page::from_rows(list::WEBHOOKS, rows, req, total, key));
        }
        // Others: every subscription is looked at (there are few).
        let mut mine = Vec::new();
        let mut from = 0;
        loop {
            let rows = tx.list_webhooks(from, 1000).await?;
            let Some(last) = rows.last().map(|w| w.num) else { break };
            from = last;
            for w in rows {
                if let Some(g) = w.group
                    && authz::can_watch_group(p, &tx.group_access(g, p.user).await?)
                {
                    mine.push(w);
                }
            }
        }
        let total = mine.len() as i64;
        let rows: Vec<Webhook> = mine.into_iter().filter(|w| w.num > after).take(req.limit as usize + 1).collect();
        Ok(Page::from_rows(list::WEBHOOKS, rows, req, total, key))
    }

    /// One subscription (never its secret). Errors: `NotFound`, `Forbidden`.
    pub async fn get_webhook(&self, p: &Principal, id: WebhookId) -> Result<Webhook, CoreError> {
        let mut tx = self.read_store().await?;
        manageable(&mut tx, p, id).await
    }

    /// Changes a subscription. Enabling one (again) resets its retries:
    /// the next event is attempted at once. Errors: as `create_webhook`.
    pub async fn update_webhook(
        &self,
        p: &Principal,
        id: WebhookId,
        mut patch: WebhookPatch,
    ) -> Result<Webhook, CoreError> {
        if let Some(url) = &patch.url {
            check_url(url)?;
        }
        if let Some(types) = &patch.event_types {
            check_event_types(types)?;
        }
        if let Some(d) = &patch.description {
            patch.description = Some(validate::optional_text("description", d.as_deref())?);
        }
        self.retrying(|| self.update_webhook_once(p, id, &patch)).await
    }

    async fn update_webhook_once(
        &self,
        p: &Principal,
        id: WebhookId,
        patch: &WebhookPatch,
    ) -> Result<Webhook, CoreError> {
        let mut tx = self.write().await?;
        let mut hook = manageable(&mut tx, p, id).await?;
        let before = snapshot(&hook);
        let enabling = patch.enabled == Some(true) && !hook.enabled;
        if let Some(url) = &patch.url {
            hook.url = url.clone();
        }
        if let Some(types) = &patch.event_types {
            hook.event_types = types.clone();
        }
        if let Some(d) = &patch.description {
            hook.description = d.clone();
        }
        if let Some(e) = patch.enabled {
            hook.enabled = e;
            if e {
                hook.disabled_reason = None;
            }
        }
        hook.updated_at = now();
        tx.update_webhook(&hook).await?;
        if enabling && let Some(mut state) = tx.delivery_state(id).await? {
            state.attempts = 0;
            state.next_attempt_at = None;
            tx.reset_delivery(&state).await?;
        }
        tx.append_event(&event(p.actor(), "webhook.updated", "webhook", id, Some(before), Some(snapshot(&hook))))
            .await?;
        tx.commit().await?;
        Ok(hook)
    }

    /// Deletes a subscription and its delivery log. Errors: `NotFound`, `Forbidden`.
    pub async fn delete_webhook(&self, p: &Principal, id: WebhookId) -> Result<(), CoreError> {
        self.retrying(|| async {
            let mut tx = self.write().await?;
            let hook = manageable(&mut tx, p, id).await?;
            tx.delete_webhook(id).await?;
            tx.append_event(&event(p.actor(), "webhook.deleted", "webhook", id, Some(snapshot(&hook)), None)).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// A new secret (shown this once); the old one goes on signing beside
    /// it for `grace` (at most [`MAX_ROTATION_GRACE`]), so receivers can
    /// switch without losing a delivery. Errors: `Invalid` (grace),
    /// `NotFound`, `Forbidden`.
    pub async fn rotate_webhook_secret(
        &self,
        p: &Principal,
        id: WebhookId,
        grace: Duration,
    ) -> Result<String, CoreError> {
        if grace > MAX_ROTATION_GRACE {
            return Err(CoreError::invalid("grace_seconds", "at most 604800 (7 days)"));
        }
        self.retrying(|| async {
            let mut tx = self.write().await?;
            let mut hook = manageable(&mut tx, p, id).await?;
            let old = found(tx.webhook_secrets(id).await?, "webhook")?;
            let t = now();
            let until = t + grace;
            let secrets = WebhookSecrets { current: WebhookSecret::generate(), previous: Some((old.current, until)) };
            tx.set_webhook_secrets(id, &secrets).await?;
            let before = snapshot(&hook);
            hook.updated_at = t;
            hook.previous_secret_until = Some(until);
            tx.update_webhook(&hook).await?;
            let after =
                serde_json::json!({ "id": id.to_string(), "secret_rotated": true, "previous_secret_until": ts(until) });
            tx.append_event(&event(p.actor(), "webhook.updated", "webhook", id, Some(before), Some(after))).await?;
            tx.commit().await?;
            Ok(secrets.current.shown())
        })
        .await
    }

    /// Logs a `webhook.ping` event, which only this subscription receives
    /// (whatever its filters), in order with its other events; its
    /// delivery shows in the delivery log. Returns the event's position
    /// once the event is numbered (the revision). Errors: `NotFound`, `Forbidden`.
    pub async fn ping_webhook(&self, p: &Principal, id: WebhookId) -> Result<(), CoreError> {
        self.retrying(|| async {
            let mut tx = self.write().await?;
            manageable(&mut tx, p, id).await?;
            let data = serde_json::json!({ "webhook_id": id.to_string() });
            tx.append_event(&event(p.actor(), webhooks::PING, "webhook", id, None, Some(data))).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// A subscription's delivery log, newest first: every attempt kept
    /// (the recent ones), or the dead letters. Errors: `NotFound`, `Forbidden`.
    pub async fn list_webhook_deliveries(
        &self,
        p: &Principal,
        id: WebhookId,
        filter: DeliveryFilter,
        req: &PageRequest,
    ) -> Result<Page<DeliveryAttempt>, CoreError> {
        let mut tx = self.read_store().await?;
        manageable(&mut tx, p, id).await?;
        let outcome = match filter {
            DeliveryFilter::All => None,
            DeliveryFilter::Dead => Some(Outcome::Dead),
        };
        let before = req.after.as_ref().map_or(i64::MAX, |k| k.num);
        let rows = tx.list_delivery_attempts(id, outcome, before, req.limit + 1).await?;
        let total = tx.count_delivery_attempts(id, outcome).await?;
        Ok(Page::from_rows(list::DELIVERIES, rows, req, total, |a| Keyset { key: String::new(), num: a.num }))
    }

    /// Delivers again every event after `after` (`seq`) that the
    /// subscription takes, in order, from now on: one event is
    /// `after = seq - 1` (and those after it follow again too, since
    /// delivery is in order; receivers drop repeats by `webhook-id`).
    /// Errors: `Invalid` (a negative `after`), `NotFound`, `Forbidden`.
    pub async fn redeliver_webhook(
        &self,
        p: &Principal,
        id: WebhookId,
        after: i64,
    ) -> Result<DeliveryState, CoreError> {
        if after < 0 {
            return Err(CoreError::invalid("after", "must not be negative"));
        }
        self.retrying(|| async {
            let mut tx = self.write().await?;
            manageable(&mut tx, p, id).await?;
            let head = tx.count(Counter::Events).await?;
            // Beyond the latest event: nothing to deliver again.
            let state = DeliveryState { webhook: id, cursor: after.min(head), attempts: 0, next_attempt_at: None };
            tx.reset_delivery(&state).await?;
            tx.commit().await?;
            Ok(state)
        })
        .await
    }
}

impl Directory {
    /// Sends event `seq` to the subscription once more, on its own, out of
    /// order and without retries (GitHub's manual redelivery): for a dead
    /// letter, say. It goes the next time the subscription is due, if the
    /// subscription takes it; the attempt shows in the delivery log.
    /// Errors: `NotFound` (the subscription, or no such event), `Forbidden`.
    pub async fn redeliver_webhook_event(&self, p: &Principal, id: WebhookId, seq: i64) -> Result<(), CoreError> {
        self.retrying(|| async {
            let mut tx = self.write().await?;
            manageable(&mut tx, p, id).await?;
            if seq < 1 || seq > tx.count(Counter::Events).await? {
                return Err(CoreError::NotFound { what: "event" });
            }
            tx.queue_redelivery(id, seq).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}

fn ts(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
