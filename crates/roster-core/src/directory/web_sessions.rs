//! Sessions of the web console: a key (or a user's password) exchanged
//! once for a random session token, which the browser then presents in a
//! cookie. The store keeps only the token's digest, so sessions survive a
//! restart and any server on the same database accepts them.
//!
//! A session is worth exactly what the credential it came from is worth
//! now: every request re-reads the session, its key and its user, so
//! revoking the key, deactivating or deleting the user, signing out or the
//! session's expiry ends it on the next request, on every server.
//!
//! Sessions are credentials in use, not directory data: making and ending
//! one appends no event (the change feed and webhooks carry the directory,
//! and a sign-in is not a change of it).

use std::net::IpAddr;
use std::time::Duration;

use super::{Directory, now};
use crate::authz::Principal;
use crate::error::CoreError;
use crate::keys;
use crate::model::{Event, WebSession};

/// How long a console session lasts after sign-in.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);

/// What a person signs in with.
#[derive(Clone, Debug)]
pub enum SignIn<'a> {
    /// An API key.
    Key(&'a str),
    /// A username and the password Roster stores for that user.
    Password { username: &'a str, password: &'a str },
}

/// A session just made: the token for the cookie (shown to nobody else,
/// never stored) and who it acts for.
#[derive(Clone, Debug)]
pub struct StartedSession {
    pub token: String,
    pub principal: Principal,
}

impl Directory {
    /// Signs a person in: the credential is checked as every front-end
    /// checks it (a failure counts against `source`'s limit), then a
    /// session is stored for [`SESSION_TTL`]. Sessions that have expired
    /// are forgotten on the way. Errors: `Unauthenticated`, `RateLimited`.
    pub async fn start_session(&self, with: SignIn<'_>, source: Option<IpAddr>) -> Result<StartedSession, CoreError> {
        let principal = match with {
            SignIn::Key(secret) => self.authenticate(secret, source).await?,
            SignIn::Password { username, password } => self.authenticate_user(username, password, source).await?,
        };
        let token = keys::generate_session_token();
        let at = now();
        let session =
            WebSession { user: principal.user, key: principal.key, created_at: at, expires_at: at + SESSION_TTL };
        let digest = keys::digest(&token);
        self.retrying(|| async {
            let mut tx = self.write().await?;
            tx.delete_expired_web_sessions(at).await?;
            tx.insert_web_session(&digest, &session).await?;
            tx.commit().await?;
            Ok(())
        })
        .await?;
        Ok(StartedSession { token, principal })
    }

    /// The principal a session token acts for, decided afresh: the session
    /// must exist and not have expired, its key (if it came from one) must
    /// still exist and belong to its user, and the user must be active.
    /// The site role is the user's current one. A request counts against
    /// the key's rate limit as one made with the key would; an unknown or
    /// ended session counts as a failed authentication from `source`.
    /// Errors: `Unauthenticated`, `RateLimited`.
    pub async fn session_principal(&self, token: &str, source: Option<IpAddr>) -> Result<Principal, CoreError> {
        self.limiter.admit_source(source)?;
        let p = match self.resolve_session(token).await {
            Ok(p) => p,
            Err(CoreError::Unauthenticated) => return Err(self.limiter.failed(source)),
            Err(e) => return Err(e),
        };
        self.limiter.admit_key(p.key)?;
        Ok(p)
    }

    async fn resolve_session(&self, token: &str) -> Result<Principal, CoreError> {
        Ok(self.resolve_session_until(token).await?.0)
    }

    /// The session's principal and when the session expires.
    async fn resolve_session_until(&self, token: &str) -> Result<(Principal, time::OffsetDateTime), CoreError> {
        if token.is_empty() {
            return Err(CoreError::Unauthenticated);
        }
        // The session, its key and its user from one store snapshot: a key
        // revoked or a user deactivated through another server is seen here
        // even before this server's index has applied it.
        let mut tx = self.read_store().await?;
        let session = tx.find_web_session(&keys::digest(token)).await?.ok_or(CoreError::Unauthenticated)?;
        if session.expires_at <= now() {
            return Err(CoreError::Unauthenticated);
        }
        if let Some(key) = session.key {
            match tx.get_key(key).await? {
                Some(k) if k.user == session.user => {}
                _ => return Err(CoreError::Unauthenticated),
            }
        }
        let user = tx.get_user(session.user).await?.ok_or(CoreError::Unauthenticated)?;
        if !user.active {
            return Err(CoreError::Unauthenticated);
        }
        let principal = Principal { user: user.id, site_role: user.site_role, key: session.key, delegated_by: None };
        Ok((principal, session.expires_at))
    }

    /// The change feed for a console session: up to `limit` events after
    /// `after`, oldest first, as [`Directory::list_events`] gives them to the
    /// session's principal (site admins only), with that principal. When
    /// there are none yet it waits up to `wait` for the log to move, then
    /// looks again; the wait ends early when this server ends a session
    /// (sign-out) or when the session expires. The session is checked
    /// afresh before each look, so a stream built on calls to this ends with
    /// its session: sign-out, the key's revocation or the user's
    /// deactivation (both are events, which end the wait), expiry; a
    /// sign-out on another server within `wait`. The checks count against
    /// no rate limit (the stream's request did). Errors: `Unauthenticated`
    /// once the session has ended, `Forbidden`.
    pub async fn session_events(
        &self,
        token: &str,
        after: i64,
        limit: u32,
        wait: Duration,
    ) -> Result<(Principal, Vec<Event>), CoreError> {
        let mut ends = self.session_ends.subscribe();
        let (p, expires_at) = self.resolve_session_until(token).await?;
        let page = self.list_events(&p, after, limit).await?;
        if !page.items.is_empty() || wait.is_zero() {
            return Ok((p, page.items));
        }
        let left = Duration::try_from(expires_at - now()).unwrap_or(Duration::ZERO);
        tokio::select! {
            () = self.wait_for_events(after, wait.min(left)) => {}
            _ = ends.changed() => {}
        }
        let (p, _) = self.resolve_session_until(token).await?;
        let events = self.list_events(&p, after, limit).await?.items;
        Ok((p, events))
    }

    /// Signs a session out (nothing happens for an unknown token).
    pub async fn end_session(&self, token: &str) -> Result<(), CoreError> {
        if token.is_empty() {
            return Ok(());
        }
        let digest = keys::digest(token);
        self.retrying(|| async {
            let mut tx = self.write().await?;
            tx.delete_web_session(&digest).await?;
            tx.commit().await?;
            Ok(())
        })
        .await?;
        self.session_ends.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }
}
