//! The use-cases of the directory. Each public method is one use-case: it
//! validates its input, opens one store transaction, authorizes the caller
//! with [`crate::authz`], writes, appends exactly one event per change, and
//! commits. Nothing is half-written: an error drops the transaction.
//!
//! Every write use-case runs through [`Directory::retrying`]: a
//! transaction the store aborted to resolve contention (a deadlock or a
//! serialization failure, [`StoreError::Busy`](crate::StoreError::Busy))
//! is run again from the start, in a fresh transaction, a bounded number
//! of times, before `Busy` reaches a client.

mod audit;
mod catalog;
mod groups;
mod import;
mod import_batch;
mod jobs;
mod keys;
mod limits;
mod member_sets;
mod members;
mod offsets;
mod sessions;
mod shares;
mod steps;
mod transitive;
mod user_groups;
mod users;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

pub use catalog::{NewOrganization, NewProject, NewRole, OrganizationPatch, ProjectPatch, RoleHolders, RolePatch};
pub use groups::{GroupFilter, GroupPatch, NewGroup};
pub use import::{ImportFailure, ImportRecord, ImportSummary};
pub use jobs::JobSpec;
pub use keys::CreatedKey;
pub use limits::{
    DEFAULT_AUTH_FAILURE_BURST, DEFAULT_AUTH_FAILURE_RATE, DEFAULT_KEY_BURST, DEFAULT_KEY_RATE, Rate, RateLimits,
};
pub use member_sets::{MemberEdit, MemberEditOutcome};
pub use members::MembershipPatch;
pub use steps::MemberChange;
pub use transitive::MembershipCheck;
pub use user_groups::UserGroupsChange;
pub use users::{NewUser, OrgScope, UserPatch, UserQuery};

use crate::error::CoreError;
use crate::model::NewEvent;
use crate::store::{Store, Tx};

/// The directory: every rule of Roster, over a [`Store`].
#[derive(Clone)]
pub struct Directory {
    store: Arc<dyn Store>,
    offsets: offsets::OffsetIndex,
    sessions: sessions::Sessions,
    limiter: limits::Limiter,
}

impl Directory {
    /// A directory over `store` with the default [`RateLimits`].
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            offsets: offsets::OffsetIndex::new(),
            sessions: sessions::Sessions::new(),
            limiter: limits::Limiter::new(RateLimits::default()),
        }
    }

    /// The same directory enforcing `limits` instead.
    pub fn with_rate_limits(mut self, limits: RateLimits) -> Self {
        self.limiter = limits::Limiter::new(limits);
        self
    }

    async fn read(&self) -> Result<Box<dyn Tx>, CoreError> {
        Ok(self.store.read().await?)
    }

    /// A read whose statements need not see one snapshot (see
    /// [`Store::read_single`]).
    async fn read_single(&self) -> Result<Box<dyn Tx>, CoreError> {
        Ok(self.store.read_single().await?)
    }

    async fn write(&self) -> Result<Box<dyn Tx>, CoreError> {
        Ok(self.store.write().await?)
    }

    /// Runs a write use-case, and runs it again from the start while the
    /// store aborts its transaction as `Busy` (a deadlock, a serialization
    /// failure), at most [`RETRIES`] more times, after a short jittered
    /// pause that grows each time. `attempt` opens its own transaction, so
    /// each run decides afresh on what it reads; a run that failed wrote
    /// nothing. The one place a use-case is retried: front-ends never retry.
    pub(crate) async fn retrying<T, F, Fut>(&self, mut attempt: F) -> Result<T, CoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, CoreError>>,
    {
        let mut retries = 0;
        loop {
            match attempt().await {
                Err(CoreError::Busy) if retries < RETRIES => {
                    retries += 1;
                    tracing::debug!(retries, "transaction aborted by contention; running the use-case again");
                    tokio::time::sleep(backoff(retries)).await;
                }
                outcome => return outcome,
            }
        }
    }
}

/// How many times a use-case aborted by contention runs again.
pub(crate) const RETRIES: u32 = 5;

/// The pause before retry `n` (from 1): 2, 4, 8, 16, 32 ms on average,
/// each drawn from half to one and a half of that, so that transactions
/// that collided once do not collide again in step.
fn backoff(n: u32) -> Duration {
    use rand::Rng;
    let mean = 1000u64 << n.min(10);
    Duration::from_micros(rand::rng().random_range(mean / 2..mean + mean / 2))
}

/// The current time at the precision every store keeps (microseconds), so
/// a value read back equals the value written.
pub(crate) fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    let micros = t.microsecond();
    t.replace_nanosecond(micros * 1000).unwrap_or(t)
}

/// Builds the event of one change; `before`/`after` are the audit snapshots.
pub(crate) fn event(
    actor: Option<crate::ids::UserId>,
    action: &'static str,
    target_type: &'static str,
    target_id: impl ToString,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> NewEvent {
    NewEvent { at: now(), actor, action, target_type, target_id: target_id.to_string(), before, after }
}

/// Turns "no such row" into the use-case's 404.
pub(crate) fn found<T>(value: Option<T>, what: &'static str) -> Result<T, CoreError> {
    value.ok_or(CoreError::NotFound { what })
}
