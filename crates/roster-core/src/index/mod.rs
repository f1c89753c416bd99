//! The directory in this server's memory: users, groups, memberships both
//! ways, nesting, shares, and membership at any depth, answering the hot
//! reads with no store round trip (see [`IndexTx`]).
//!
//! The ordered event log stays the one record of change order; the index
//! follows it. It is loaded from one read snapshot together with the log's
//! position (its *revision*), then applies events strictly in `seq` order,
//! never passing a gap (`seq` is gapless and in commit order, so a missing
//! number is a commit not yet visible: the index waits for it). The server
//! that commits a write applies it before answering
//! ([`Index::catch_up`], called by `Directory::retrying`); every server
//! also follows the log in the background ([`Index::follow`]), woken by the
//! store's notifications (PostgreSQL `LISTEN`) or by polling, so a lost
//! notification delays but never loses. A server too far behind loads
//! afresh rather than replaying.
//!
//! Until it is loaded the index is not *ready*: reads go to the store and
//! `/readyz` answers 503.

mod refresh;
mod state;
pub(crate) mod tx;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{Mutex, watch};

use crate::error::StoreError;
use crate::store::{Counter, Store, Tx};
pub(crate) use state::State;
pub(crate) use tx::IndexTx;

/// How many events one catch-up step reads.
const BATCH: u32 = 1000;
/// By default, a follower this many events behind loads afresh instead of
/// replaying (see [`Index::set_reload_after`]).
pub const RELOAD_AFTER: i64 = 100_000;
/// How long a follower sleeps when nothing wakes it.
pub const POLL: Duration = Duration::from_millis(500);
/// Rows per statement while loading.
const LOAD_PAGE: u32 = 5000;

/// The index of one server, shared by every request.
pub struct Index {
    state: RwLock<State>,
    ready: AtomicBool,
    /// One applier at a time; the others find the work done.
    applier: Mutex<()>,
    /// Catch-ups begun: each takes the next number, under `applier`,
    /// before it reads the log.
    catch_ups_begun: AtomicU64,
    /// The number of the last catch-up that applied everything the log
    /// held when it read it.
    caught_up_by: AtomicU64,
    revision: watch::Sender<i64>,
    /// How far behind the log a catch-up loads afresh instead.
    reload_after: AtomicI64,
    /// Loads done (the first, and each afresh after falling behind).
    loads: AtomicU64,
    /// Called when an applied change may revoke or demote a key.
    on_credentials: Box<dyn Fn() + Send + Sync>,
    /// Moves on every applied change of a webhook subscription (and every
    /// load): the delivery worker keeps a subscription's secrets while it
    /// stands still.
    webhooks_changed: AtomicU64,
}

impl Index {
    pub(crate) fn new(on_credentials: Box<dyn Fn() + Send + Sync>) -> Self {
        Self {
            state: RwLock::new(State::default()),
            ready: AtomicBool::new(false),
            applier: Mutex::new(()),
            catch_ups_begun: AtomicU64::new(0),
            reload_after: AtomicI64::new(RELOAD_AFTER),
            loads: AtomicU64::new(0),
            caught_up_by: AtomicU64::new(0),
            revision: watch::channel(0).0,
            on_credentials,
            webhooks_changed: AtomicU64::new(0),
        }
    }

    /// Whether the index has been loaded (reads answer from it).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Loads afresh, rather than replay, when a catch-up finds the log more
    /// than `events` ahead: replaying costs a store read per batch of
    /// changes, a load one pass over every table.
    pub fn set_reload_after(&self, events: i64) {
        self.reload_after.store(events.max(1), Ordering::Relaxed);
    }

    /// How many times the index was loaded: once at start, then once per
    /// fall too far behind the log.
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    /// The `seq` of the last event applied here.
    pub fn revision(&self) -> i64 {
        *self.revision.borrow()
    }

    /// A number that moves whenever a webhook subscription changed, as far
    /// as this index has applied the log (and at every load).
    pub(crate) fn webhooks_generation(&self) -> u64 {
        self.webhooks_changed.load(Ordering::Acquire)
    }

    /// Tells of every new revision (the delivery worker waits on it).
    pub(crate) fn watch_revision(&self) -> watch::Receiver<i64> {
        self.revision.subscribe()
    }

    pub(crate) fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Loads everything from one read snapshot, with the log position it
    /// is at, and replaces what the index held.
    pub async fn load(&self, store: &dyn Store) -> Result<(), StoreError> {
        let _applying = self.applier.lock().await;
        let started = std::time::Instant::now();
        let mut tx = store.read().await?;
        let mut state = State::loading();
        state.revision = tx.count(Counter::Events).await?;
        load_all(tx, &mut state).await?;
        let (users, groups, memberships) = state.counts();
        let revision = state.revision;
        *self.write_state() = state;
        give_back_free_memory();
        self.revision.send_replace(revision);
        self.webhooks_changed.fetch_add(1, Ordering::AcqRel);
        self.ready.store(true, Ordering::Release);
        self.loads.fetch_add(1, Ordering::Relaxed);
        (self.on_credentials)();
        tracing::info!(users, groups, memberships, revision, ms = started.elapsed().as_millis() as u64, "index loaded");
        Ok(())
    }

    /// Applies every event committed before this call that the index has
    /// not, in order; loads afresh when too far behind. Returns the
    /// revision reached.
    ///
    /// Calls that arrive while another applies wait for it, then find
    /// their work done when a catch-up that began after they arrived has
    /// applied everything it found: many writers committing at once cost
    /// one or two reads of the log, not one each.
    pub async fn catch_up(&self, store: &dyn Store) -> Result<i64, StoreError> {
        let arrived = self.catch_ups_begun.load(Ordering::SeqCst);
        // Taken before looking at readiness: a load in progress holds it, so
        // a write committed while it loads is applied once it is done.
        let _applying = self.applier.lock().await;
        if !self.is_ready() {
            return Ok(self.revision());
        }
        if self.caught_up_by.load(Ordering::SeqCst) > arrived {
            return Ok(self.revision());
        }
        let this = self.catch_ups_begun.fetch_add(1, Ordering::SeqCst) + 1;
        loop {
            let from = self.revision();
            let mut tx = store.read().await?;
            let events = tx.list_events(from, BATCH).await?;
            // Stop at a gap: the number is taken by a commit not yet visible.
            let contiguous = events.iter().zip(from + 1..).take_while(|(e, n)| e.seq == *n).count();
            // The last read: once these are applied, so is all the log held.
            let all_read = contiguous == events.len() && events.len() < BATCH as usize;
            let events = &events[..contiguous];
            let Some(last) = events.last().map(|e| e.seq) else {
                if all_read {
                    self.caught_up_by.store(this, Ordering::SeqCst);
                }
                return Ok(from);
            };
            // Far behind: what this read holds, or else the log's head, is
            // more than `reload_after` ahead.
            let reload_after = self.reload_after.load(Ordering::Relaxed);
            let behind = if last - from > reload_after || contiguous as u32 == BATCH {
                tx.count(Counter::Events).await? - from
            } else {
                0
            };
            if behind > reload_after {
                drop(tx);
                drop(_applying);
                tracing::info!(behind, "index far behind the event log; loading afresh");
                self.load(store).await?;
                return Ok(self.revision());
            }
            let mut touched = refresh::Touched::default();
            for e in events {
                touched.note(e);
            }
            refresh::cascades(&self.read_state(), events, &mut touched);
            if !touched.is_empty() {
                let fresh = refresh::Fresh::read(&mut *tx, &touched).await?;
                drop(tx);
                let mut state = self.write_state();
                fresh.apply(&mut state);
                state.revision = last;
            } else {
                self.write_state().revision = last;
            }
            if touched.webhooks {
                self.webhooks_changed.fetch_add(1, Ordering::AcqRel);
            }
            self.revision.send_replace(last);
            if touched.credentials {
                (self.on_credentials)();
            }
            if all_read {
                self.caught_up_by.store(this, Ordering::SeqCst);
            }
            if (contiguous as u32) < BATCH {
                return Ok(last);
            }
        }
    }

    /// Waits until the index has applied `revision`, catching up at once
    /// and then as the log moves, for at most `timeout`. False when it did
    /// not get there in time.
    pub async fn wait_for(&self, store: &dyn Store, revision: i64, timeout: Duration) -> bool {
        if self.revision() >= revision {
            return true;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut seen = self.revision.subscribe();
        loop {
            if let Err(e) = self.catch_up(store).await {
                tracing::warn!(error = %e, "index catch-up failed");
            }
            if self.revision() >= revision {
                return true;
            }
            // Woken by another applier, or look again shortly: the commit
            // may be visible to the store before anyone applies it.
            let wait = tokio::time::timeout_at(deadline, async {
                tokio::select! {
                    _ = seen.changed() => {}
                    _ = tokio::time::sleep(Duration::from_millis(5)) => {}
                }
            });
            if wait.await.is_err() {
                return self.revision() >= revision;
            }
        }
    }

    /// Loads the index (retrying while the store fails), then follows the
    /// event log for ever: woken by the store's notifications, or every
    /// [`POLL`]. Spawned once per server.
    pub async fn follow(self: Arc<Self>, store: Arc<dyn Store>) {
        let mut pause = Duration::from_millis(100);
        while let Err(e) = self.load(&*store).await {
            tracing::warn!(error = %e, "loading the index failed; trying again");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
        loop {
            store.wait_for_change(POLL).await;
            if let Err(e) = self.catch_up(&*store).await {
                tracing::warn!(error = %e, "following the event log failed; trying again");
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

/// A page of rows read while loading, in the order they must be put.
enum Page {
    Users(Vec<crate::model::User>),
    Groups(Vec<crate::model::Group>),
    Memberships(Vec<crate::model::Membership>),
    Shares(Vec<crate::model::Share>),
}

/// Pages read ahead of the one being put: enough to keep the reader busy
/// while the index takes a page, few enough to bound what waits in memory.
const PAGES_AHEAD: usize = 2;

/// Walks a whole table in `num` order, a page of [`LOAD_PAGE`] rows at a
/// time, sending each page as `$page` (and stopping quietly if nobody
/// takes them any more: the load has failed).
macro_rules! scan_all {
    ($tx:expr, $scan:ident, $page:path, $send:expr) => {{
        let mut after = 0;
        loop {
            let page = $tx.$scan(after, LOAD_PAGE).await?;
            let Some(last) = page.last().map(|row| row.num) else { break };
            after = last;
            if $send.send($page(page)).await.is_err() {
                return Ok(());
            }
        }
    }};
}

/// Hands the allocator's free pages back to the system. A load frees as
/// much as it keeps (every row the store decoded, the growth of every
/// list, an earlier index on a reload); glibc keeps freed memory in its
/// arenas, resident, unless asked.
fn give_back_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` takes no pointers; it only walks the
    // allocator's own free lists, under the allocator's locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Reads every user, group, membership and share, by `num`, from one read
/// snapshot. The reading (the store's statements and the decoding of rows)
/// runs as its own task, a few pages ahead of the putting, so that on
/// several cores the two overlap instead of taking turns.
async fn load_all(mut tx: Box<dyn Tx>, state: &mut State) -> Result<(), StoreError> {
    let (send, mut pages) = tokio::sync::mpsc::channel::<Page>(PAGES_AHEAD);
    let reader = tokio::spawn(async move {
        scan_all!(tx, scan_users, Page::Users, send);
        scan_all!(tx, scan_groups, Page::Groups, send);
        scan_all!(tx, scan_memberships, Page::Memberships, send);
        scan_all!(tx, scan_shares, Page::Shares, send);
        Ok::<(), StoreError>(())
    });
    let mut shares: std::collections::HashMap<crate::ids::GroupId, Vec<crate::model::Share>> = Default::default();
    while let Some(page) = pages.recv().await {
        match page {
            Page::Users(rows) => rows.into_iter().for_each(|u| state.put_user(u)),
            Page::Groups(rows) => rows.into_iter().for_each(|g| state.put_group(g)),
            Page::Memberships(rows) => rows.into_iter().for_each(|m| state.put_membership(m)),
            Page::Shares(rows) => rows.into_iter().for_each(|s| shares.entry(s.group).or_default().push(s)),
        }
    }
    // The reader ended: every page is in, or it failed (and said why).
    match reader.await {
        Ok(result) => result?,
        Err(e) => return Err(StoreError::Other(format!("the index's reader stopped: {e}"))),
    }
    for (group, list) in shares {
        state.set_shares(group, list);
    }
    state.finish_load();
    Ok(())
}
