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
mod rewrite;
mod snapshot;
mod state;
pub(crate) mod tx;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, watch};

use crate::error::StoreError;
use crate::ids::GroupId;
use crate::model::Share;
use crate::store::{Counter, Store, Tx};
pub use rewrite::Saved;
pub use snapshot::SnapshotError;
use snapshot::{Mark, Reader, Row, Writer};
pub(crate) use state::State;
pub(crate) use tx::IndexTx;

/// How many events one catch-up step reads.
const BATCH: u32 = 1000;
/// By default, a follower this many events behind loads afresh instead of
/// replaying (see [`Index::set_reload_after`]).
pub const RELOAD_AFTER: i64 = 100_000;
/// How long a follower sleeps when nothing wakes it.
pub const POLL: Duration = Duration::from_millis(500);
/// By default, the snapshot is written again (while serving) once the
/// index has applied this many events past it: a start after a crash then
/// replays at most about this many, well under [`RELOAD_AFTER`].
pub const SNAPSHOT_EVERY: i64 = 50_000;
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
    /// Of those, the loads from the snapshot.
    snapshot_loads: AtomicU64,
    /// Called when an applied change may revoke or demote a key.
    on_credentials: Box<dyn Fn() + Send + Sync>,
    /// Moves on every applied change of a webhook subscription (and every
    /// load): the delivery worker keeps a subscription's secrets while it
    /// stands still.
    webhooks_changed: AtomicU64,
    /// Where this server keeps a snapshot of the index, if anywhere (see
    /// [`snapshot`]): read at start, written by every load from the store
    /// and by [`Index::save_snapshot`].
    snapshot: std::sync::Mutex<Option<PathBuf>>,
    /// The revision of the snapshot on disk, as far as this server knows
    /// (0: none).
    snapshot_at: AtomicI64,
    /// Write the snapshot again once this many events past it (0: only at
    /// a load from the store and at a graceful stop).
    snapshot_every: AtomicI64,
    /// The revision at which writing it last failed: the next attempt
    /// waits as many events again.
    rewrite_failed_at: AtomicI64,
    /// A write in the background is running (see [`Index::rewrite_if_due`]).
    rewrite_running: AtomicBool,
    /// One snapshot write at a time.
    rewriting: Mutex<()>,
    /// While a snapshot is written: what the applier changed since it
    /// began (see [`rewrite`]).
    changes: std::sync::Mutex<Option<rewrite::Changes>>,
    pace: std::sync::Mutex<rewrite::Pace>,
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
            snapshot_loads: AtomicU64::new(0),
            caught_up_by: AtomicU64::new(0),
            revision: watch::channel(0).0,
            on_credentials,
            webhooks_changed: AtomicU64::new(0),
            snapshot: std::sync::Mutex::new(None),
            snapshot_at: AtomicI64::new(0),
            snapshot_every: AtomicI64::new(SNAPSHOT_EVERY),
            rewrite_failed_at: AtomicI64::new(0),
            rewrite_running: AtomicBool::new(false),
            rewriting: Mutex::new(()),
            changes: std::sync::Mutex::new(None),
            pace: std::sync::Mutex::new(rewrite::Pace::default()),
        }
    }

    /// Writes the snapshot again while serving once the index has applied
    /// `events` past it; 0: only at a load from the store and at a
    /// graceful stop.
    pub fn set_snapshot_every(&self, events: i64) {
        self.snapshot_every.store(events.max(0), Ordering::Relaxed);
    }

    /// How a snapshot written while serving takes its rows: `step` places
    /// under the read lock at a time, `pause` between steps (tests slow it
    /// down so that changes land in the middle of it).
    pub fn set_snapshot_pace(&self, step: u32, pause: Duration) {
        *self.pace.lock().unwrap_or_else(|e| e.into_inner()) = rewrite::Pace { step: step.max(1), pause };
    }

    fn changes(&self) -> std::sync::MutexGuard<'_, Option<rewrite::Changes>> {
        self.changes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps a snapshot of the index at `path` (`None`: nowhere). Set it
    /// before [`Index::follow`] starts: the first load looks there.
    pub fn keep_snapshot_at(&self, path: Option<PathBuf>) {
        *self.snapshot.lock().unwrap_or_else(|e| e.into_inner()) = path;
    }

    fn snapshot_path(&self) -> Option<PathBuf> {
        self.snapshot.lock().unwrap_or_else(|e| e.into_inner()).clone()
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

    /// How many of [`Index::loads`] read the snapshot, not the store.
    pub fn snapshot_loads(&self) -> u64 {
        self.snapshot_loads.load(Ordering::Relaxed)
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
        let started = Instant::now();
        let mut tx = store.read().await?;
        let mut state = State::loading();
        state.revision = tx.count(Counter::Events).await?;
        let writer = match self.snapshot_path() {
            Some(path) => mark_at(&mut *tx, store, state.revision).await?.and_then(|m| start_snapshot(&path, &m)),
            None => None,
        };
        let writer = load_all(tx, &mut state, writer).await?;
        if let Some(w) = writer {
            // Its fsync may take seconds on a slow disk: off the async workers.
            let revision = state.revision;
            match tokio::task::spawn_blocking(move || finish_snapshot(w, revision)).await {
                Ok(true) => self.snapshot_at.store(revision, Ordering::Release),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "writing the index snapshot failed; the next start loads from the store")
                }
            }
        }
        self.install(state);
        self.ready(started, "store");
        Ok(())
    }

    /// Puts a loaded `state` in place (not yet ready: see [`Index::ready`]).
    fn install(&self, state: State) {
        let revision = state.revision;
        if let Some(c) = self.changes().as_mut() {
            c.reloaded = true;
        }
        *self.write_state() = state;
        give_back_free_memory();
        self.revision.send_replace(revision);
    }

    /// Lets reads use the index as it stands, and says so.
    fn ready(&self, started: Instant, from: &'static str) {
        self.webhooks_changed.fetch_add(1, Ordering::AcqRel);
        self.ready.store(true, Ordering::Release);
        self.loads.fetch_add(1, Ordering::Relaxed);
        if from == "snapshot" {
            self.snapshot_loads.fetch_add(1, Ordering::Relaxed);
        }
        (self.on_credentials)();
        let (users, groups, memberships) = self.read_state().counts();
        let revision = self.revision();
        let ms = started.elapsed().as_millis() as u64;
        // From a snapshot: how much of the log it replayed after it.
        let replayed = if from == "snapshot" { revision - self.snapshot_at.load(Ordering::Acquire) } else { 0 };
        tracing::info!(users, groups, memberships, revision, replayed, ms, from, "index loaded");
    }

    /// Loads the index from its snapshot, if there is one that fits the
    /// store's log and the log is not too far ahead of it. `Ok(false)`:
    /// no snapshot kept, or no file yet; an error says why the file
    /// cannot stand in for the store. Either way the index is then to be
    /// loaded from the store.
    pub async fn load_snapshot(&self, store: &dyn Store) -> Result<bool, SnapshotError> {
        let Some(path) = self.snapshot_path() else { return Ok(false) };
        self.try_snapshot(store, &path).await.inspect_err(|e| {
            tracing::info!(path = %path.display(), error = %e, "index snapshot not used; loading from the store");
        })
    }

    async fn try_snapshot(&self, store: &dyn Store, path: &Path) -> Result<bool, SnapshotError> {
        let _applying = self.applier.lock().await;
        let started = Instant::now();
        let Some(reader) = Reader::open(path)? else { return Ok(false) };
        let mark = reader.mark.clone();
        let schema = store.schema_version();
        if mark.schema != schema {
            return Err(SnapshotError::OtherSchema { taken: mark.schema, now: schema });
        }
        // The store's log must hold the very event the snapshot was taken
        // at: otherwise it is another database's, or an older copy's.
        let mut tx = store.read().await?;
        let head = tx.count(Counter::Events).await?;
        let at_mark = mark_at(&mut *tx, store, mark.revision).await?;
        drop(tx);
        if at_mark.as_ref() != Some(&mark) {
            return Err(SnapshotError::NotThisLog(mark.revision));
        }
        let behind = head - mark.revision;
        if behind > self.reload_after.load(Ordering::Relaxed) {
            return Err(SnapshotError::FarBehind(behind));
        }
        // Seconds of decoding at full scale: off the async workers.
        let (state, patched) = tokio::task::spawn_blocking(move || state_from(reader))
            .await
            .map_err(|e| SnapshotError::Io(std::io::Error::other(e.to_string())))??;
        // A patch names the event its rows reach: this log must hold it too
        // (an older copy of this database may hold the first mark only).
        let reached = match patched {
            Some(patch) => {
                let mut tx = store.read().await?;
                let at_patch = mark_at(&mut *tx, store, patch.revision).await?;
                if at_patch.as_ref() != Some(&patch) {
                    return Err(SnapshotError::NotThisLog(patch.revision));
                }
                patch.revision
            }
            None => mark.revision,
        };
        // Ready only once the log after the snapshot is applied: a start
        // never answers from an older directory than the store holds.
        self.install(state);
        self.snapshot_at.store(reached, Ordering::Release);
        loop {
            match self.apply_next(store, false).await? {
                Next::Applied { more: true, .. } => {}
                Next::BulkLoaded(seq) => return Err(SnapshotError::BulkLoaded(seq)),
                _ => break,
            }
        }
        self.ready(started, "snapshot");
        Ok(true)
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
            match self.apply_next(store, true).await? {
                Next::Applied { last, all_read, more } => {
                    if all_read {
                        self.caught_up_by.store(this, Ordering::SeqCst);
                    }
                    if !more {
                        return Ok(last);
                    }
                }
                Next::Nothing { from, all_read } => {
                    if all_read {
                        self.caught_up_by.store(this, Ordering::SeqCst);
                    }
                    return Ok(from);
                }
                Next::FarBehind(behind) => {
                    drop(_applying);
                    return self.reload(store, &format!("{behind} events behind the log")).await;
                }
                Next::BulkLoaded(seq) => {
                    drop(_applying);
                    return self.reload(store, &format!("the directory was bulk loaded at event {seq}")).await;
                }
            }
        }
    }

    /// Loads afresh from the store, saying `why`; the caller no longer
    /// holds `applier` (the load takes it). Returns the revision reached.
    async fn reload(&self, store: &dyn Store, why: &str) -> Result<i64, StoreError> {
        tracing::info!(why, "loading the index afresh");
        self.load(store).await?;
        Ok(self.revision())
    }

    /// Reads the events after the index's revision (a batch of them, up to
    /// the first gap) and applies them. The caller holds `applier`.
    /// `far_check`: first compare the log's head with `reload_after`.
    async fn apply_next(&self, store: &dyn Store, far_check: bool) -> Result<Next, StoreError> {
        let from = self.revision();
        let mut tx = store.read().await?;
        let events = tx.list_events(from, BATCH).await?;
        // Stop at a gap: the number is taken by a commit not yet visible.
        let contiguous = events.iter().zip(from + 1..).take_while(|(e, n)| e.seq == *n).count();
        // The last read: once these are applied, so is all the log held.
        let all_read = contiguous == events.len() && events.len() < BATCH as usize;
        let events = &events[..contiguous];
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(Next::Nothing { from, all_read });
        };
        // Far behind: what this read holds, or else the log's head, is
        // more than `reload_after` ahead.
        let reload_after = self.reload_after.load(Ordering::Relaxed);
        let behind = if far_check && (last - from > reload_after || contiguous as u32 == BATCH) {
            tx.count(Counter::Events).await? - from
        } else {
            0
        };
        if behind > reload_after {
            return Ok(Next::FarBehind(behind));
        }
        // A bulk load logs one event for every row it wrote: read them all.
        if let Some(e) = events.iter().find(|e| e.action == crate::directory::LOADED) {
            return Ok(Next::BulkLoaded(e.seq));
        }
        let mut touched = refresh::Touched::default();
        for e in events {
            touched.note(e);
        }
        refresh::cascades(&self.read_state(), events, &mut touched);
        // A snapshot being written patches what changes under it.
        if let Some(c) = self.changes().as_mut() {
            c.touched.absorb(&touched);
        }
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
        Ok(Next::Applied { last, all_read, more: contiguous as u32 == BATCH })
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
        let from_snapshot = matches!(self.load_snapshot(&*store).await, Ok(true));
        while !from_snapshot && let Err(e) = self.load(&*store).await {
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
            self.rewrite_if_due(&store);
        }
    }
}

/// What one step of following the log did.
enum Next {
    /// Applied events up to `last`; `all_read`: the log held no more;
    /// `more`: the batch was full, so there may be more.
    Applied { last: i64, all_read: bool, more: bool },
    /// Nothing to apply after `from`.
    Nothing { from: i64, all_read: bool },
    /// The log's head is this far ahead: load afresh instead.
    FarBehind(i64),
    /// The log holds a bulk load (at this `seq`), whose rows have no
    /// events of their own: load afresh.
    BulkLoaded(i64),
}

/// The index a snapshot holds, and the mark of its patch if it has one
/// (its rows then reach that event, not the header's).
fn state_from(reader: Reader) -> Result<(State, Option<Mark>), SnapshotError> {
    let first = reader.mark.revision;
    let mut state = State::loading();
    let mut shares: HashMap<GroupId, Vec<Share>> = HashMap::new();
    let mut patch = None;
    reader.rows(|row| match row {
        Row::User(u) => state.put_user(u),
        Row::Group(g) => state.put_group(g),
        Row::Membership(m) => state.put_membership(m),
        Row::Share(s) => shares.entry(s.group).or_default().push(s),
        // The patch changes rows already put: as a refresh does, on an
        // index whose name orders are built.
        Row::Patch(mark) => {
            state.finish_load();
            patch = Some(mark);
        }
        Row::UserGone(id) => state.remove_user(id),
        Row::GroupGone(id) => state.remove_group(id),
        Row::PairGone(group, member) => state.remove_pair(group, member),
    })?;
    for (group, list) in shares {
        if state.group(group).is_some() {
            state.set_shares(group, list);
        }
    }
    state.finish_load();
    state.revision = patch.as_ref().map_or(first, |m: &Mark| m.revision);
    Ok((state, patch))
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
async fn load_all(
    mut tx: Box<dyn Tx>,
    state: &mut State,
    writer: Option<Writer>,
) -> Result<Option<Writer>, StoreError> {
    let (send, mut pages) = tokio::sync::mpsc::channel::<Page>(PAGES_AHEAD);
    let reader = tokio::spawn(async move {
        scan_all!(tx, scan_users, Page::Users, send);
        scan_all!(tx, scan_groups, Page::Groups, send);
        scan_all!(tx, scan_memberships, Page::Memberships, send);
        scan_all!(tx, scan_shares, Page::Shares, send);
        Ok::<(), StoreError>(())
    });
    let mut snapshot = Tee(writer);
    let mut shares: HashMap<GroupId, Vec<Share>> = Default::default();
    while let Some(page) = pages.recv().await {
        match page {
            Page::Users(rows) => {
                snapshot.each(&rows, Writer::user);
                rows.into_iter().for_each(|u| state.put_user(u))
            }
            Page::Groups(rows) => {
                snapshot.each(&rows, Writer::group);
                rows.into_iter().for_each(|g| state.put_group(g))
            }
            Page::Memberships(rows) => {
                snapshot.each(&rows, Writer::membership);
                rows.into_iter().for_each(|m| state.put_membership(m))
            }
            Page::Shares(rows) => {
                snapshot.each(&rows, Writer::share);
                rows.into_iter().for_each(|s| shares.entry(s.group).or_default().push(s))
            }
        }
    }
    // The reader ended: every page is in, or it failed (and said why).
    let ended = match reader.await {
        Ok(result) => result,
        Err(e) => Err(StoreError::Other(format!("the index's reader stopped: {e}"))),
    };
    if let Err(e) = ended {
        if let Some(w) = snapshot.0 {
            w.abandon();
        }
        return Err(e);
    }
    for (group, list) in shares {
        state.set_shares(group, list);
    }
    state.finish_load();
    Ok(snapshot.0)
}

/// The snapshot a load from the store writes as it goes, given up (and
/// said so) at its first failure: a snapshot is never worth a failed load.
struct Tee(Option<Writer>);

impl Tee {
    fn each<T>(&mut self, rows: &[T], write: fn(&mut Writer, &T) -> std::io::Result<()>) {
        let Some(w) = &mut self.0 else { return };
        if let Err(e) = rows.iter().try_for_each(|r| write(w, r)) {
            tracing::warn!(error = %e, "writing the index snapshot failed; the next start loads from the store");
            if let Some(w) = self.0.take() {
                w.abandon();
            }
        }
    }
}

/// The mark of a snapshot taken at `revision`: the store's schema version
/// and the event at that `seq`, as `tx` sees them. `None` at revision 0
/// (no event to name) or when the log holds no such event.
async fn mark_at(tx: &mut dyn Tx, store: &dyn Store, revision: i64) -> Result<Option<Mark>, StoreError> {
    if revision <= 0 {
        return Ok(None);
    }
    let events = tx.list_events(revision - 1, 1).await?;
    Ok(events.first().filter(|e| e.seq == revision).map(|e| Mark::of(store.schema_version(), e)))
}

fn start_snapshot(path: &Path, mark: &Mark) -> Option<Writer> {
    match Writer::create(path, mark) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the index snapshot");
            None
        }
    }
}

/// Whether the snapshot is now in place.
fn finish_snapshot(w: Writer, revision: i64) -> bool {
    match w.finish() {
        Ok(bytes) => {
            tracing::info!(bytes, revision, "index snapshot written");
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "writing the index snapshot failed; the next start loads from the store");
            false
        }
    }
}
