//! API keys and authentication. A key belongs to a user and acts as them;
//! its secret is returned once, at creation, and stored only as a digest.

use std::net::IpAddr;

use super::{Directory, audit, event, found, now};
use crate::authz::{self, Principal};
use crate::cursor::{Keyset, Page, PageRequest, list};
use crate::error::CoreError;
use crate::ids::{KeyId, UserId};
use crate::keys;
use crate::model::{ApiKey, SiteRole, User};
use crate::store::Counter;
use crate::validate;

/// A key just made: the record and the secret, which is never shown again.
#[derive(Clone, Debug)]
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: String,
}

/// The username of the admin that bootstrap creates when none exists.
pub const BOOTSTRAP_ADMIN: &str = "admin";

impl Directory {
    /// Resolves a presented secret to the principal it acts for (remembered
    /// for a moment, see `sessions`), counting the request against the
    /// key's rate limit and a failure against `source`'s (the caller's
    /// address, when the front-end knows it). Errors: `Unauthenticated` for
    /// an unknown key or an inactive user; `RateLimited` for a key over its
    /// request rate or a source that failed too often (refused before its
    /// key is looked up).
    pub async fn authenticate(&self, secret: &str, source: Option<IpAddr>) -> Result<Principal, CoreError> {
        self.limiter.admit_source(source)?;
        let p = match self.resolve(secret).await {
            Ok(p) => p,
            Err(CoreError::Unauthenticated) => return Err(self.limiter.failed(source)),
            Err(e) => return Err(e),
        };
        self.limiter.admit_key(p.key)?;
        Ok(p)
    }

    /// Resolves a user named by a front-end (an LDAP bind's DN) and a secret
    /// presented for them: an API key of that user, or the user's password
    /// where one is stored. Anything else is one failure against `source`,
    /// without telling which part was wrong. Errors: `Unauthenticated`
    /// (unknown user, wrong secret, another user's key, an inactive user);
    /// `RateLimited` as [`Directory::authenticate`].
    pub async fn authenticate_user(
        &self,
        username: &str,
        secret: &str,
        source: Option<IpAddr>,
    ) -> Result<Principal, CoreError> {
        self.limiter.admit_source(source)?;
        let p = match self.resolve_user(username, secret).await {
            Ok(p) => p,
            Err(CoreError::Unauthenticated) => return Err(self.limiter.failed(source)),
            Err(e) => return Err(e),
        };
        self.limiter.admit_key(p.key)?;
        Ok(p)
    }

    async fn resolve_user(&self, username: &str, secret: &str) -> Result<Principal, CoreError> {
        if secret.is_empty() {
            return Err(CoreError::Unauthenticated);
        }
        match self.resolve(secret).await {
            Ok(p) => {
                let user = self.read_store().await?.get_user(p.user).await?.ok_or(CoreError::Unauthenticated)?;
                return if validate::fold(&user.username) == validate::fold(username) {
                    Ok(p)
                } else {
                    Err(CoreError::Unauthenticated)
                };
            }
            Err(CoreError::Unauthenticated) => {}
            Err(e) => return Err(e),
        }
        let mut tx = self.read_store().await?;
        let user = tx.get_user_by_username(username).await?;
        let hash = match &user {
            Some(u) => tx.password_hash(u.id).await?,
            None => None,
        };
        drop(tx);
        // A hash is checked whether or not there is one, so the time taken
        // does not tell which usernames exist.
        let matched = keys::password_matches(secret, hash.as_deref().unwrap_or_else(|| keys::decoy_hash())).await;
        match user {
            Some(u) if matched && hash.is_some() && u.active => {
                Ok(Principal { user: u.id, site_role: u.site_role, key: None, delegated_by: None })
            }
            _ => Err(CoreError::Unauthenticated),
        }
    }

    async fn resolve(&self, secret: &str) -> Result<Principal, CoreError> {
        // A client's token covers its key too: a key revoked at that
        // revision is refused here, not only the reads after.
        self.await_wanted().await?;
        let raw = keys::raw_digest(secret);
        if let Some(p) = self.sessions.get(&raw) {
            return Ok(p);
        }
        let digest = hex::encode(raw);
        let generation = self.sessions.generation();
        // The key and its user from one store snapshot: the index may not
        // have applied yet a key's user made through another server.
        let mut tx = self.read_store().await?;
        let key = tx.find_key_by_digest(&digest).await?.ok_or(CoreError::Unauthenticated)?;
        let user = tx.get_user(key.user).await?.ok_or(CoreError::Unauthenticated)?;
        if !user.active {
            return Err(CoreError::Unauthenticated);
        }
        let p = Principal { user: user.id, site_role: user.site_role, key: Some(key.id), delegated_by: None };
        self.sessions.remember(generation, raw, p.clone());
        Ok(p)
    }

    /// The caller acting as `user`: what follows is decided as if `user`
    /// had called (so a client may act with less privilege than its key
    /// has), and the change log records the caller. Site admins only;
    /// `user` must be an active user. Errors: `Forbidden`, `Invalid`
    /// (field `As-User`: no such active user).
    pub async fn act_as(&self, p: &Principal, user: UserId) -> Result<Principal, CoreError> {
        if user == p.user {
            return Ok(p.clone());
        }
        authz::require(authz::can_act_as_another(p), "only site admins act as other users")?;
        let target = self.read().await?.get_user(user).await?;
        match target {
            Some(u) if u.active => {
                Ok(Principal { user: u.id, site_role: u.site_role, key: p.key, delegated_by: Some(p.user) })
            }
            _ => Err(CoreError::invalid("As-User", "no active user with this id")),
        }
    }

    /// The user behind a principal.
    pub async fn whoami(&self, p: &Principal) -> Result<User, CoreError> {
        found(self.read().await?.get_user(p.user).await?, "user")
    }

    /// Makes a key for `user`. Users make their own keys; site admins make
    /// anyone's. Errors: `Invalid`, `NotFound`, `Forbidden`.
    pub async fn create_key(&self, p: &Principal, user: UserId, name: &str) -> Result<CreatedKey, CoreError> {
        self.retrying(|| self.create_key_once(p, user, name)).await
    }

    /// One run of [`Self::create_key`], in one transaction.
    async fn create_key_once(&self, p: &Principal, user: UserId, name: &str) -> Result<CreatedKey, CoreError> {
        authz::require(authz::can_act_for_user(p, user), "only the user or a site admin")?;
        let name = validate::name("name", name)?;
        let secret = keys::generate();
        let mut key =
            ApiKey { id: KeyId::new(), num: 0, user, name, prefix: keys::visible_prefix(&secret), created_at: now() };
        let mut tx = self.write().await?;
        found(tx.get_user(user).await?, "user")?;
        key.num = tx.insert_key(&key, &keys::digest(&secret)).await?;
        tx.append_event(&event(p.actor(), "key.created", "key", key.id, None, Some(audit::key(&key)))).await?;
        tx.commit().await?;
        Ok(CreatedKey { key, secret })
    }

    /// Lists keys: a user's own, or (site admins) anyone's or everyone's.
    pub async fn list_keys(
        &self,
        p: &Principal,
        user: Option<UserId>,
        page: &PageRequest,
    ) -> Result<Page<ApiKey>, CoreError> {
        let user = match user {
            Some(u) => Some(u),
            None if authz::sees_everything(p) => None,
            None => Some(p.user),
        };
        if let Some(u) = user {
            authz::require(authz::can_act_for_user(p, u), "only the user or a site admin")?;
        }
        let mut tx = self.read().await?;
        let after = page.after.as_ref().map_or(0, |k| k.num);
        let rows = tx.list_keys(user, after, page.limit + 1).await?;
        let total = match user {
            Some(u) => tx.count_user_keys(u).await?,
            None => tx.count(Counter::Keys).await?,
        };
        Ok(Page::from_rows(list::KEYS, rows, page, total, |k| Keyset { key: String::new(), num: k.num }))
    }

    /// One key's record (never its secret), for its owner or a site admin.
    /// Errors: `NotFound`.
    pub async fn get_key(&self, p: &Principal, id: KeyId) -> Result<ApiKey, CoreError> {
        let key = found(self.read().await?.get_key(id).await?, "key")?;
        if !authz::can_act_for_user(p, key.user) {
            return Err(CoreError::NotFound { what: "key" });
        }
        Ok(key)
    }

    /// Revokes a key. Its owner or a site admin. Errors: `NotFound`.
    pub async fn delete_key(&self, p: &Principal, id: KeyId) -> Result<(), CoreError> {
        self.retrying(|| self.delete_key_once(p, id)).await
    }

    /// One run of [`Self::delete_key`], in one transaction.
    async fn delete_key_once(&self, p: &Principal, id: KeyId) -> Result<(), CoreError> {
        let mut tx = self.write().await?;
        let key = found(tx.get_key(id).await?, "key")?;
        if !authz::can_act_for_user(p, key.user) {
            return Err(CoreError::NotFound { what: "key" });
        }
        tx.delete_key(id).await?;
        tx.append_event(&event(p.actor(), "key.deleted", "key", id, Some(audit::key(&key)), None)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes sure the directory can be administered, at start-up.
    ///
    /// With `secret`, an active site admin holds that key afterwards: the
    /// key's owner if it exists (promoted if need be), else the `admin` user,
    /// created if missing. Without, and only on an empty directory, an
    /// `admin` user and a fresh key are created and the secret returned so
    /// the operator can see it once. Idempotent.
    pub async fn bootstrap(&self, secret: Option<&str>) -> Result<Option<String>, CoreError> {
        // Servers starting together on one database race here; the loser
        // of a uniqueness race finds the winner's work on the next attempt.
        let mut attempt = 0;
        loop {
            match self.bootstrap_once(secret).await {
                Err(CoreError::Conflict { .. }) if attempt < 3 => attempt += 1,
                outcome => return outcome,
            }
        }
    }

    async fn bootstrap_once(&self, secret: Option<&str>) -> Result<Option<String>, CoreError> {
        if let Some(s) = secret
            && s.chars().count() < 16
        {
            return Err(CoreError::invalid("ROSTER_BOOTSTRAP_ADMIN_KEY", "must be at least 16 characters"));
        }
        let mut tx = self.write().await?;
        let existing = match secret {
            Some(s) => tx.find_key_by_digest(&keys::digest(s)).await?,
            None if tx.count(Counter::Users).await? > 0 => return Ok(None),
            None => None,
        };
        let t = now();
        let owner = match existing.as_ref() {
            Some(k) => tx.get_user(k.user).await?,
            None => tx.get_user_by_username(BOOTSTRAP_ADMIN).await?,
        };
        let admin = match owner {
            Some(u) if u.is_active_admin() => u,
            Some(before) => {
                let mut u = before.clone();
                u.site_role = SiteRole::Admin;
                u.active = true;
                u.mark_changed(&before, t);
                tx.update_user(&u).await?;
                tx.append_event(&event(
                    None,
                    "user.updated",
                    "user",
                    u.id,
                    Some(audit::user(&before)),
                    Some(audit::user(&u)),
                ))
                .await?;
                u
            }
            None => {
                let mut u = User {
                    display_name: Some("Administrator".to_owned()),
                    site_role: SiteRole::Admin,
                    ..User::new(BOOTSTRAP_ADMIN.to_owned(), t)
                };
                u.num = tx.insert_user(&u).await?;
                tx.append_event(&event(None, "user.created", "user", u.id, None, Some(audit::user(&u)))).await?;
                u
            }
        };
        let printed = if existing.is_some() {
            None
        } else {
            let secret = secret.map_or_else(keys::generate, str::to_owned);
            let mut key = ApiKey {
                id: KeyId::new(),
                num: 0,
                user: admin.id,
                name: "bootstrap".to_owned(),
                prefix: keys::visible_prefix(&secret),
                created_at: t,
            };
            key.num = tx.insert_key(&key, &keys::digest(&secret)).await?;
            tx.append_event(&event(None, "key.created", "key", key.id, None, Some(audit::key(&key)))).await?;
            Some(secret)
        };
        tx.commit().await?;
        Ok(if secret.is_none() { printed } else { None })
    }

    /// Returns once this server has seen the log pass `after` (its index
    /// applied a later event), or after `timeout`: how a stream of the
    /// change feed waits for the next event without asking the store.
    /// Before the index is loaded it just waits (at most a second).
    pub async fn wait_for_events(&self, after: i64, timeout: std::time::Duration) {
        if !self.index.is_ready() {
            tokio::time::sleep(timeout.min(std::time::Duration::from_secs(1))).await;
            return;
        }
        let mut revisions = self.index.watch_revision();
        let _ = tokio::time::timeout(timeout, revisions.wait_for(|r| *r > after)).await;
    }

    /// The change feed: events after `after`, oldest first. Site admins only.
    pub async fn list_events(&self, p: &Principal, after: i64, limit: u32) -> Result<Page<crate::Event>, CoreError> {
        authz::require_admin(p)?;
        let req = PageRequest::first(limit);
        let mut tx = self.read().await?;
        let rows = tx.list_events(after, limit + 1).await?;
        let total = tx.count(Counter::Events).await?;
        Ok(Page::from_rows(list::EVENTS, rows, &req, total, |e| Keyset { key: String::new(), num: e.seq }))
    }
}
