//! Webhooks: the change feed pushed to subscribers, as the Standard
//! Webhooks specification describes it (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`).
//!
//! This module holds the rules of a subscription (which events it gets,
//! what a target URL may be, the retry schedule, which addresses a delivery
//! may reach) and the delivery worker ([`worker`]). It sends nothing itself:
//! the worker hands each request to a [`Sender`] the binary wires in (an
//! HTTP client), so the core keeps no HTTP dependency.

pub mod allow;
pub(crate) mod worker;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::Sha256;
use time::OffsetDateTime;

pub use allow::AllowList;
pub use worker::{DeliverySettings, RETRY_SCHEDULE};

use crate::error::CoreError;
use crate::ids::{GroupId, UserId, WebhookId};
use crate::model::Event;

/// A subscription: where to push which events. Its signing secret is
/// never part of it (see [`WebhookSecret`]): a read cannot show it.
#[derive(Clone, Debug, PartialEq)]
pub struct Webhook {
    pub id: WebhookId,
    pub num: i64,
    pub url: String,
    /// Patterns of the event types wanted (`membership.created`,
    /// `membership.*`); empty: every type.
    pub event_types: Vec<String>,
    /// Only events about this group and the groups nested in it (and its
    /// users at any depth); `None`: every event (site admins only).
    pub group: Option<GroupId>,
    pub description: Option<String>,
    pub enabled: bool,
    /// Why the server disabled it (a `410 Gone`), if it did.
    pub disabled_reason: Option<String>,
    pub created_by: Option<UserId>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Until when the secret before the last rotation still signs too.
    pub previous_secret_until: Option<OffsetDateTime>,
}

/// Where a subscription's delivery stands, kept in the store so that a
/// restart (or a `kill -9`) resumes exactly there.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryState {
    pub webhook: WebhookId,
    /// The last `seq` handled: delivered, not wanted, or dead-lettered.
    pub cursor: i64,
    /// Failed attempts at the event after `cursor`.
    pub attempts: u32,
    /// Not before this time (a retry's wait); `None`: as soon as there is
    /// an event.
    pub next_attempt_at: Option<OffsetDateTime>,
}

/// How one attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer within the timeout.
    Delivered,
    /// Anything else; retried on the schedule.
    Failed,
    /// The last attempt of the schedule failed: the event is set aside
    /// (the dead-letter list) and later events go on.
    Dead,
    /// The receiver answered 410 Gone: the subscription was disabled.
    Gone,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Dead => "dead",
            Self::Gone => "gone",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "delivered" => Self::Delivered,
            "failed" => Self::Failed,
            "dead" => Self::Dead,
            "gone" => Self::Gone,
            _ => return None,
        })
    }
}

/// One attempt to deliver one event, as the delivery log keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryAttempt {
    pub num: i64,
    pub webhook: WebhookId,
    pub seq: i64,
    /// The `webhook-id` header sent (the same on every attempt).
    pub message_id: String,
    /// 1 for the first attempt at this event.
    pub attempt: u32,
    pub at: OffsetDateTime,
    /// The receiver's status, when it answered.
    pub status: Option<u16>,
    pub latency_ms: i64,
    pub outcome: Outcome,
    /// The start of the receiver's answer, or why there was none.
    pub detail: Option<String>,
}

/// A signing secret: random bytes, shown to the client once as `whsec_` +
/// base64. It is stored as it is (the server must sign with it, so a
/// digest would not do), never returned by a read and never logged: its
/// `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

/// What a shown secret starts with (Standard Webhooks' convention).
pub const SECRET_PREFIX: &str = "whsec_";

impl WebhookSecret {
    /// 32 bytes from the OS random source.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// `whsec_` + base64: the form clients (and the reference libraries) take.
    pub fn shown(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// The `v1` signature of a message: base64 of HMAC-SHA256 over
    /// `{id}.{timestamp}.{body}`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) else {
            // HMAC takes a key of any length; unreachable.
            return String::new();
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        STANDARD.encode(mac.finalize().into_bytes())
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

/// A subscription's secrets: the current one, and the one before the last
/// rotation with the time it stops signing.
#[derive(Clone, Debug)]
pub struct WebhookSecrets {
    pub current: WebhookSecret,
    pub previous: Option<(WebhookSecret, OffsetDateTime)>,
}

impl WebhookSecrets {
    /// The `webhook-signature` header: `v1,<sig>` with the current secret,
    /// then one with the previous secret while its grace period lasts.
    pub fn signature(&self, id: &str, timestamp: i64, body: &[u8], now: OffsetDateTime) -> String {
        let mut header = format!("v1,{}", self.current.sign(id, timestamp, body));
        if let Some((old, until)) = &self.previous
            && now < *until
        {
            header.push_str(&format!(" v1,{}", old.sign(id, timestamp, body)));
        }
        header
    }
}

/// One request the worker asks the [`Sender`] to make: a POST of `body`
/// (JSON) to `url` with `headers`.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// What came of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The receiver answered (whatever the status).
    Status {
        status: u16,
        /// A `Retry-After` in seconds, when the answer carried one.
        retry_after: Option<Duration>,
        /// The start of the body, for the delivery log.
        snippet: String,
    },
    /// No answer: refused by the allow list, unreachable, timed out, a
    /// redirect not followed… (the reason says which).
    Failed { reason: String },
}

/// Makes the HTTP requests of deliveries. The binary provides one (an
/// HTTP client that follows no redirect, checks every address it connects
/// to against the [`AllowList`] and gives up after the timeout).
#[async_trait]
pub trait Sender: Send + Sync {
    async fn send(&self, request: &Outgoing) -> Answer;
}

/// The event types a subscription may name (and `area.*`, and `*`).
pub const EVENT_TYPES: &[&str] = &[
    "user.created",
    "user.updated",
    "user.deleted",
    "group.created",
    "group.updated",
    "group.deleted",
    "group.role_granted",
    "group.role_revoked",
    "membership.created",
    "membership.updated",
    "membership.deleted",
    "share.put",
    "share.deleted",
    "key.created",
    "key.deleted",
    "role.created",
    "role.updated",
    "role.deleted",
    "organization.created",
    "organization.updated",
    "organization.deleted",
    "project.created",
    "project.updated",
    "project.deleted",
    "project.bound",
    "project.unbound",
    "job.recorded",
    "webhook.created",
    "webhook.updated",
    "webhook.deleted",
    "webhook.ping",
    "member.transitive_added",
    "member.transitive_removed",
    "directory.loaded",
];

/// A user became a member at any depth of a watched group (see
/// `directory::watched`): delivered only to subscriptions scoped to that
/// very group (and to unscoped ones).
pub const TRANSITIVE_ADDED: &str = "member.transitive_added";
/// A user stopped being a member at any depth of a watched group.
pub const TRANSITIVE_REMOVED: &str = "member.transitive_removed";

/// The test ping's type: delivered only to the subscription it names,
/// whatever its filters.
pub const PING: &str = "webhook.ping";

/// Checks a subscription's event type patterns: each an exact type, an
/// `area.*` of a known area, or `*`.
pub fn check_event_types(patterns: &[String]) -> Result<(), CoreError> {
    if patterns.len() > 64 {
        return Err(CoreError::invalid("event_types", "at most 64 patterns"));
    }
    for p in patterns {
        let known = p == "*"
            || EVENT_TYPES.contains(&p.as_str())
            || p.strip_suffix(".*").is_some_and(|area| EVENT_TYPES.iter().any(|t| t.split('.').next() == Some(area)));
        if !known {
            return Err(CoreError::invalid(
                "event_types",
                format!("unknown event type {p:?} (a type such as \"membership.created\", \"membership.*\" or \"*\")"),
            ));
        }
    }
    Ok(())
}

/// Whether a subscription's patterns take an event of type `action`.
pub fn wants_type(patterns: &[String], action: &str) -> bool {
    patterns.is_empty()
        || patterns.iter().any(|p| {
            p == "*" || p == action || p.strip_suffix(".*").is_some_and(|area| action.split('.').next() == Some(area))
        })
}

/// Checks a target URL at creation: `http` or `https`, a host name (ASCII
/// letters, digits, dots, hyphens) or a bracketed IPv6 address, an
/// optional port, then printable ASCII; so no credentials (they would
/// reach logs) and no whitespace. The same rule as [`URL_PATTERN`]. The
/// address it resolves to is checked at each delivery (see [`AllowList`]).
pub fn check_url(url: &str) -> Result<(), CoreError> {
    let bad = |reason: &str| Err(CoreError::invalid("url", reason.to_owned()));
    if url.len() > MAX_URL_LEN {
        return bad("at most 2048 characters");
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return bad("must be an absolute http or https URL");
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return bad("the scheme must be http or https");
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if !tail.chars().all(|c| c.is_ascii_graphic()) {
        return bad("the path must be printable ASCII without spaces (percent-encode the rest)");
    }
    let (host_ok, port) = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, after)) => (
                !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.'),
                match after {
                    "" => None,
                    a => match a.strip_prefix(':') {
                        Some(p) => Some(p),
                        None => return bad("must name a host, then an optional :port"),
                    },
                },
            ),
            None => return bad("has a malformed IPv6 address"),
        }
    } else {
        let (h, p) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        (!h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'), p)
    };
    if !host_ok {
        return bad("must name a host (letters, digits, dots and hyphens, or [an IPv6 address]); no credentials");
    }
    if let Some(p) = port {
        let digits = !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit());
        let in_range = p.len() < 5 || (!p.starts_with('0') && p.parse::<u32>().is_ok_and(|n| n <= 65535));
        if !(digits && in_range) {
            return bad("has a malformed port");
        }
    }
    Ok(())
}

/// The longest target URL.
pub const MAX_URL_LEN: usize = 2048;

/// [`check_url`] as a regular expression (for the API's description).
pub const URL_PATTERN: &str = "^[Hh][Tt][Tt][Pp][Ss]?://(?:[A-Za-z0-9.-]+|\\[[0-9A-Fa-f:.]+\\])\
     (?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(?:[/?#][!-~]*)?$";

/// The `webhook-id` of an event for a subscription: the same on every
/// attempt and redelivery, so receivers can drop duplicates.
pub fn message_id(webhook: WebhookId, seq: i64) -> String {
    format!("msg_{}_{seq}", webhook.0.simple())
}

/// The JSON body of an event's delivery.
pub fn body(e: &Event) -> Vec<u8> {
    let time = e.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    let v = serde_json::json!({
        "seq": e.seq,
        "type": e.action,
        "time": time,
        "actor": e.actor.map(|a| a.to_string()),
        "target_type": e.target_type,
        "target_id": e.target_id,
        "before": e.before,
        "after": e.after,
    });
    v.to_string().into_bytes()
}

#[cfg(test)]
mod tests;
