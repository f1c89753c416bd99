//! Authenticated keys, remembered. Every request presents a key; resolving
//! it costs a store read of the key's digest, often more than the request
//! itself (a membership check is answered from memory). A resolved key is
//! kept until a change that could revoke or demote one (a key deleted; a
//! user changed, deactivated or deleted) is applied to this server's index,
//! from this server or from another through the event log: then all are
//! forgotten at once, so a revocation takes effect on the next request.
//! `TTL` only bounds memory and a follower that stopped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::sync::Cache;

use crate::authz::Principal;

/// How long a resolved key is kept at most.
pub const TTL: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub(crate) struct Sessions {
    /// By the secret's raw SHA-256 ([`crate::keys::raw_digest`]).
    by_digest: Cache<[u8; 32], Principal>,
    /// Moves on every `forget_all`, so a resolution that raced a
    /// revocation is not remembered after it.
    generation: Arc<AtomicU64>,
}

impl Sessions {
    pub(crate) fn new() -> Self {
        Self {
            by_digest: Cache::builder().max_capacity(100_000).time_to_live(TTL).build(),
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    pub(crate) fn get(&self, digest: &[u8; 32]) -> Option<Principal> {
        self.by_digest.get(digest)
    }

    /// The generation to pass to [`Sessions::remember`], taken before the
    /// store is read.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Remembers a resolution read while `generation` was current, unless a
    /// revocation was applied since.
    pub(crate) fn remember(&self, generation: u64, digest: [u8; 32], principal: Principal) {
        self.by_digest.insert(digest, principal);
        if self.generation() != generation {
            self.by_digest.invalidate(&digest);
        }
    }

    /// After a change that may revoke or demote a key.
    pub(crate) fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.by_digest.invalidate_all();
    }
}
