//! The use-cases of the directory. Each public method is one use-case: it
//! validates its input, opens one store transaction, authorizes the caller
//! with [`crate::authz`], writes, appends exactly one event per change, and
//! commits. Nothing is half-written: an error drops the transaction. (The
//! bulk load, `load.rs`, is the one exception to "an event per change": it
//! logs one event for all its rows.)
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
mod load;
mod member_sets;
mod members;
mod offsets;
mod public;
mod sessions;
mod shares;
mod steps;
mod transitive;
mod user_groups;
mod users;
mod watched;
mod web_sessions;
mod webhooks;

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
pub use load::{LOADED, Load, LoadFailure, LoadSummary};
pub use member_sets::{MemberEdit, MemberEditOutcome};
pub use members::MembershipPatch;
pub use public::PublicReader;
pub use steps::MemberChange;
pub use transitive::MembershipCheck;
pub use user_groups::UserGroupsChange;
pub use users::{NewUser, OrgScope, UserPatch, UserQuery};
pub use web_sessions::{SESSION_TTL, SignIn, StartedSession};
pub use webhooks::{CreatedWebhook, DeliveryFilter, MAX_ROTATION_GRACE, NewWebhook, WebhookPatch};

use crate::error::CoreError;
use crate::index::{Index, IndexTx, tx::Fallback};
use crate::model::NewEvent;
use crate::revision::{self, Wanted};
use crate::store::{Counter, Store, Tx};

/// The directory: every rule of Roster, over a [`Store`], reading through
/// this server's [`Index`] once it is loaded.
#[derive(Clone)]
pub struct Directory {
    pub(crate) store: Arc<dyn Store>,
    index: Arc<Index>,
    offsets: offsets::OffsetIndex,
    sessions: sessions::Sessions,
    limiter: limits::Limiter,
    anonymous_read: crate::authz::AnonymousRead,
    /// Moves whenever this server ends a console session (sign-out), so a
    /// session's change feed waiting here re-checks its session at once.
    session_ends: Arc<tokio::sync::watch::Sender<u64>>,
}

/// How long a read that asked for a revision this server has not applied
/// yet waits for it before answering `Busy`.
pub const REVISION_WAIT: Duration = Duration::from_secs(2);

/// The name clients know the minimum-revision token by (a header).
pub const MIN_REVISION_FIELD: &str = "Roster-Min-Revision";

impl Directory {
    /// A directory over `store` with the default [`RateLimits`]. Its index
    /// is empty (reads go to the store) until [`Directory::follow_changes`]
    /// has loaded it.
    pub fn new(store: Arc<dyn Store>) -> Self {
        let sessions = sessions::Sessions::new();
        let forget = sessions.clone();
        Self {
            store,
            index: Arc::new(Index::new(Box::new(move || forget.forget_all()))),
            offsets: offsets::OffsetIndex::new(),
            sessions,
            limiter: limits::Limiter::new(RateLimits::default()),
            anonymous_read: crate::authz::AnonymousRead::Off,
            session_ends: Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }

    /// Closes the store (see [`crate::Store::close`]): the last thing a
    /// process that wrote to it does.
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// This server's index of the directory.
    pub fn index(&self) -> &Arc<Index> {
        &self.index
    }

    /// Loads the index, then keeps it current from the event log, for
    /// ever: spawn it once per server.
    pub fn follow_changes(&self) -> impl Future<Output = ()> + Send + 'static {
        self.index.clone().follow(self.store.clone())
    }

    /// Waits, once per request, for the revision its client asked for.
    async fn await_wanted(&self) -> Result<(), CoreError> {
        match revision::take_wanted() {
            Wanted::Any => Ok(()),
            Wanted::Unreadable(reason) => Err(CoreError::invalid(MIN_REVISION_FIELD, reason)),
            Wanted::AtLeast(r) if !self.index.is_ready() || self.index.revision() >= r => Ok(()),
            Wanted::AtLeast(r) => {
                // A revision no write has reached yet is the client's
                // mistake, not something to wait for.
                let head = self.store.read().await?.count(Counter::Events).await?;
                if r > head {
                    return Err(CoreError::invalid(
                        MIN_REVISION_FIELD,
                        format!("is ahead of every change made so far (the latest is {head})"),
                    ));
                }
                if self.index.wait_for(&*self.store, r, REVISION_WAIT).await { Ok(()) } else { Err(CoreError::Busy) }
            }
        }
    }

    /// The same directory, whose index loads afresh rather than replays
    /// when it finds itself more than `events` behind the log.
    pub fn with_index_reload_after(self, events: i64) -> Self {
        self.index.set_reload_after(events);
        self
    }

    /// The same directory enforcing `limits` instead.
    pub fn with_rate_limits(mut self, limits: RateLimits) -> Self {
        self.limiter = limits::Limiter::new(limits);
        self
    }

    /// The same directory, letting callers without credentials read what
    /// `policy` allows (see [`Directory::public_reader`]).
    pub fn with_anonymous_read(mut self, policy: crate::authz::AnonymousRead) -> Self {
        self.anonymous_read = policy;
        self
    }

    /// The same directory, keeping a snapshot of its index at `path`, so
    /// that a start reads one file rather than every table (`None`: no
    /// snapshot; see `index::snapshot`).
    pub fn with_index_snapshot(self, path: Option<std::path::PathBuf>) -> Self {
        self.index.keep_snapshot_at(path);
        self
    }

    /// The same directory, writing its index's snapshot again while serving
    /// once the index has applied `events` past it (0: only at a load from
    /// the store and at a graceful stop; see `index::rewrite`).
    pub fn with_index_snapshot_every(self, events: i64) -> Self {
        self.index.set_snapshot_every(events);
        self
    }

    /// Writes the index's snapshot as it stands, for a server about to
    /// stop: its next start then reads the file and replays nothing. Says
    /// what it did in the log (a failure only costs the next start time)
    /// and returns the file's size when it wrote one.
    pub async fn save_index_snapshot(&self) -> Option<u64> {
        let started = std::time::Instant::now();
        match self.index.save_snapshot(&*self.store).await {
            Ok(Some(saved)) => {
                let ms = started.elapsed().as_millis() as u64;
                tracing::info!(bytes = saved.bytes, ms, revision = saved.revision, "index snapshot written");
                Some(saved.bytes)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "writing the index snapshot failed; the next start loads from the store");
                None
            }
        }
    }

    /// A read: from the index once it is loaded (what it cannot answer
    /// goes to a store snapshot opened on first use), else the store.
    pub(crate) async fn read(&self) -> Result<Box<dyn Tx>, CoreError> {
        self.await_wanted().await?;
        if self.index.is_ready() {
            return Ok(Box::new(IndexTx::new(self.index.clone(), self.store.clone(), Fallback::Snapshot)));
        }
        Ok(self.store.read().await?)
    }

    /// A read from a store snapshot, past the index: for the few reads that
    /// must agree with a row the index does not hold.
    async fn read_store(&self) -> Result<Box<dyn Tx>, CoreError> {
        self.await_wanted().await?;
        Ok(self.store.read().await?)
    }

    /// A read whose statements need not see one snapshot (see
    /// [`Store::read_single`]).
    async fn read_single(&self) -> Result<Box<dyn Tx>, CoreError> {
        self.await_wanted().await?;
        if self.index.is_ready() {
            return Ok(Box::new(IndexTx::new(self.index.clone(), self.store.clone(), Fallback::Single)));
        }
        Ok(self.store.read_single().await?)
    }

    /// After a write committed: its changes go into this server's index
    /// before the caller hears of it (reads here see their own writes), and
    /// the revision reached is recorded as the request's token. Applying a
    /// change that may revoke or demote a key forgets the resolved keys
    /// (the index's `on_credentials`); while the index is still loading, or
    /// when applying fails (the write is committed, the index behind: the
    /// follower catches up), every write forgets them here instead.
    async fn applied(&self) {
        if !self.index.is_ready() {
            self.sessions.forget_all();
        }
        match self.index.catch_up(&*self.store).await {
            Ok(r) => revision::record_written(r),
            Err(e) => {
                self.sessions.forget_all();
                tracing::warn!(error = %e, "applying a write to the index failed; the follower will");
            }
        }
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
                Ok(out) => {
                    self.applied().await;
                    return Ok(out);
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
