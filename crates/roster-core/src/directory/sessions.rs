//! Authenticated keys, remembered briefly. Every request presents a key;
//! resolving it costs a transaction with two reads, often more than the
//! request itself (a membership check is one index probe). A resolved key is
//! kept for `TTL`: within this process, any change that could revoke or
//! demote one (a key deleted; a user changed, deactivated or deleted) forgets
//! them all at once; another process's such change is seen within `TTL`.

use std::time::Duration;

use moka::sync::Cache;

use crate::authz::Principal;

/// How long another process's revocation may go unnoticed here.
pub const TTL: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub(crate) struct Sessions {
    by_digest: Cache<String, Principal>,
}

impl Sessions {
    pub(crate) fn new() -> Self {
        Self { by_digest: Cache::builder().max_capacity(100_000).time_to_live(TTL).build() }
    }

    pub(crate) fn get(&self, digest: &str) -> Option<Principal> {
        self.by_digest.get(digest)
    }

    pub(crate) fn remember(&self, digest: String, principal: Principal) {
        self.by_digest.insert(digest, principal);
    }

    /// After a change that may revoke or demote a key.
    pub(crate) fn forget_all(&self) {
        self.by_digest.invalidate_all();
    }
}
