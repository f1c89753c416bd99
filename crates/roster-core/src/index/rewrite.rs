//! The index's snapshot written again while the server serves, so that a
//! start after a crash (`kill -9`, a lost machine) replays a bounded tail
//! of the log instead of reading every table. Without it the file is as old
//! as the last load or graceful stop, and a log more than
//! [`Index::set_reload_after`] events past it means a load from the store:
//! a minute and more at 10^6 users.
//!
//! Writing the whole index under the applier would hold every write on this
//! server for seconds at that scale. Instead the rows are taken a bounded
//! step at a time under the read lock (reads go on throughout; a change
//! waits for one step), while the applier notes everything it changes
//! meanwhile. At the end, under the applier, the patch gives each of those
//! its current row or its removal. A row no change touched is the same at
//! every step and is written once ([`State::write_some`]), so rows then
//! patch are the index at the patch's event.
//!
//! [`State::write_some`]: super::state::State::write_some

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::refresh::Touched;
use super::snapshot::{Batch, SnapshotError, Writer};
use super::state::Cursor;
use super::{Index, mark_at};
use crate::store::Store;

/// Places one step looks at under the read lock: about a millisecond.
pub(super) const STEP: u32 = 4096;
/// Bytes gathered before they are hashed and written.
const FLUSH: usize = 1 << 20;

/// What the applier changed while a snapshot is being written.
#[derive(Default)]
pub(super) struct Changes {
    pub(super) touched: Touched,
    /// The index was loaded afresh meanwhile: the rows taken so far are of
    /// the index it replaced.
    pub(super) reloaded: bool,
}

/// How a snapshot's rows are taken: `step` places under the read lock at a
/// time, with `pause` between steps (tests slow it down so that changes
/// land in the middle).
#[derive(Clone, Copy, Debug)]
pub(super) struct Pace {
    pub(super) step: u32,
    pub(super) pause: Duration,
}

impl Default for Pace {
    fn default() -> Self {
        Self { step: STEP, pause: Duration::ZERO }
    }
}

/// A snapshot written.
#[derive(Clone, Copy, Debug)]
pub struct Saved {
    pub bytes: u64,
    /// The event its rows reach.
    pub revision: i64,
    /// Rows in its patch (the patch's mark, changes, removals, shares).
    pub patched: u64,
    /// How long the patch held the applier: the longest a change waited
    /// for the snapshot (beyond a step of rows).
    pub held: Duration,
    /// How long the patch waited for the applier to finish a change.
    pub waited: Duration,
}

/// Background work: on Linux the snapshot's thread gives the cores to
/// requests first (nice 10); running late only makes its file a little
/// older.
fn background_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: `gettid` and `setpriority` take and return plain integers;
    // the priority set is this thread's own (the thread ends with the write).
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10);
    }
}

/// Ends the noting of changes when a write ends, however it ends
/// (finished, failed, or dropped with a stopping server).
struct Noting<'a>(&'a Index);

impl Drop for Noting<'_> {
    fn drop(&mut self) {
        *self.0.changes() = None;
    }
}

impl Index {
    /// Writes the index to its snapshot while this server goes on serving
    /// (see the module's doc). Returns the file's size; `None` when there
    /// is nothing to do: no snapshot kept, the index not loaded, or the
    /// file already at this revision. One write at a time.
    pub async fn save_snapshot(self: &Arc<Self>, store: &dyn Store) -> Result<Option<Saved>, SnapshotError> {
        let Some(path) = self.snapshot_path() else { return Ok(None) };
        if !self.is_ready() {
            return Ok(None);
        }
        let _one = self.rewriting.lock().await;
        let (mut writer, noting) = {
            let _applying = self.applier.lock().await;
            let revision = self.read_state().revision;
            if revision == 0 || self.snapshot_at.load(Ordering::Acquire) == revision {
                return Ok(None);
            }
            let mut tx = store.read().await?;
            let mark = mark_at(&mut *tx, store, revision).await?.ok_or(SnapshotError::NotThisLog(revision))?;
            drop(tx);
            let writer = Writer::create(&path, &mark)?;
            *self.changes() = Some(Changes::default());
            (writer, Noting(self.as_ref()))
        };
        // Rows, a step at a time: seconds of encoding and hashing at full
        // scale, on a thread of their own that gives way to requests.
        let this = self.clone();
        let pace = *self.pace.lock().unwrap_or_else(|e| e.into_inner());
        let (done, rows) = tokio::sync::oneshot::channel();
        std::thread::Builder::new().name("index-snapshot".into()).spawn(move || {
            background_priority();
            let written = this.write_rows(&mut writer, pace);
            let _ = done.send((writer, written));
        })?;
        let mut writer = match rows.await {
            Ok((writer, Ok(()))) => writer,
            Ok((writer, Err(e))) => {
                writer.abandon();
                return Err(e);
            }
            Err(_) => return Err(SnapshotError::Io(std::io::Error::other("the snapshot's thread stopped"))),
        };
        // The patch, with no change applied meanwhile.
        let waited = Instant::now();
        let applying = self.applier.lock().await;
        let held = Instant::now();
        let changes = self.changes().take();
        drop(noting);
        let revision = self.read_state().revision;
        let patch = match changes {
            Some(c) if !c.reloaded => self.patch(store, revision, &c.touched).await,
            _ => Err(SnapshotError::Reloaded),
        };
        drop(applying);
        let held = held.elapsed();
        let waited = waited.elapsed().saturating_sub(held);
        let mut patch = match patch {
            Ok(p) => p,
            Err(e) => {
                writer.abandon();
                return Err(e);
            }
        };
        // Its fsync may take seconds on a slow disk: off the async workers.
        let patched = patch.rows();
        let bytes = tokio::task::spawn_blocking(move || match writer.append(&mut patch) {
            Ok(()) => writer.finish(),
            Err(e) => {
                writer.abandon();
                Err(e)
            }
        })
        .await
        .map_err(|e| SnapshotError::Io(std::io::Error::other(e.to_string())))??;
        self.snapshot_at.store(revision, Ordering::Release);
        Ok(Some(Saved { bytes, revision, patched, held, waited }))
    }

    /// The patch at `revision`, which the caller holds the index at.
    async fn patch(&self, store: &dyn Store, revision: i64, changed: &Touched) -> Result<Batch, SnapshotError> {
        let mut tx = store.read().await?;
        let mark = mark_at(&mut *tx, store, revision).await?.ok_or(SnapshotError::NotThisLog(revision))?;
        drop(tx);
        let mut patch = Batch::default();
        patch.patch(&mark);
        self.read_state().write_patch(changed, &mut patch);
        Ok(patch)
    }

    /// Every row, a step at a time under the read lock.
    fn write_rows(&self, w: &mut Writer, pace: Pace) -> Result<(), SnapshotError> {
        let mut at = Cursor::Users(0);
        let mut batch = Batch::default();
        while at != Cursor::Done {
            if self.changes().as_ref().is_none_or(|c| c.reloaded) {
                return Err(SnapshotError::Reloaded);
            }
            at = self.read_state().write_some(at, pace.step.max(1), &mut batch);
            if batch.bytes() >= FLUSH || at == Cursor::Done {
                w.append(&mut batch)?;
            }
            if !pace.pause.is_zero() {
                std::thread::sleep(pace.pause);
            }
        }
        Ok(())
    }

    /// Writes the snapshot again, in the background, once the index has
    /// applied [`Index::set_snapshot_every`] events past it (or past a
    /// failed attempt).
    pub(super) fn rewrite_if_due(self: &Arc<Self>, store: &Arc<dyn Store>) {
        let every = self.snapshot_every.load(Ordering::Relaxed);
        if every <= 0 || !self.is_ready() || self.snapshot_path().is_none() {
            return;
        }
        let since = self.snapshot_at.load(Ordering::Acquire).max(self.rewrite_failed_at.load(Ordering::Acquire));
        if self.revision() - since < every || self.rewrite_running.swap(true, Ordering::AcqRel) {
            return;
        }
        let (this, store) = (self.clone(), store.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            match this.save_snapshot(&*store).await {
                Ok(Some(Saved { bytes, revision, patched, held, waited })) => {
                    let ms = started.elapsed().as_millis() as u64;
                    let (held_us, waited_us) = (held.as_micros() as u64, waited.as_micros() as u64);
                    tracing::info!(
                        bytes,
                        revision,
                        ms,
                        patched,
                        held_us,
                        waited_us,
                        "index snapshot written while serving"
                    );
                }
                Ok(None) => {}
                Err(e) => {
                    this.rewrite_failed_at.store(this.revision(), Ordering::Release);
                    tracing::warn!(error = %e, every, "writing the index snapshot failed; trying again after that many events");
                }
            }
            this.rewrite_running.store(false, Ordering::Release);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::{Mark, Reader};
    use super::super::state::State;
    use super::*;
    use crate::ids::{GroupId, OrgId, UserId};
    use crate::model::{
        Grantee, Group, Member, MemberRole, Membership, Permissions, Share, ShareLevel, SourceType, User,
    };

    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((self.0 >> 33) as usize) % n.max(1)
        }
    }

    /// A directory changed at random, as a refresh changes the index: each
    /// change noted as the applier notes it (what the events name, and what
    /// a deletion cascades to).
    struct World {
        users: Vec<UserId>,
        groups: Vec<GroupId>,
        org: OrgId,
        next: i64,
    }

    fn now() -> time::OffsetDateTime {
        time::OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(1_700_000_000)
    }

    impl World {
        /// Eight users and five groups in `s`, each noted in `t`.
        fn seeded(s: &mut State, rng: &mut Lcg, t: &mut Touched) -> Self {
            let mut world = World { users: Vec::new(), groups: Vec::new(), org: OrgId::new(), next: 0 };
            for _ in 0..8 {
                world.new_user(s, rng, t);
            }
            for _ in 0..5 {
                world.new_group(s, t);
            }
            world
        }

        fn num(&mut self) -> i64 {
            self.next += 1;
            self.next
        }

        fn new_user(&mut self, s: &mut State, rng: &mut Lcg, t: &mut Touched) {
            let mut u = User::new(format!("u{}", self.next), now());
            u.num = self.num();
            if rng.below(2) == 0 {
                u.email = Some(format!("U{}@x.test", rng.below(4)));
            }
            t.user(u.id);
            self.users.push(u.id);
            s.put_user(u);
        }

        fn new_group(&mut self, s: &mut State, t: &mut Touched) {
            let mut g = Group::new(format!("g{}", self.next), self.org, SourceType::Scim, UserId::new(), now());
            g.num = self.num();
            t.group(g.id);
            self.groups.push(g.id);
            s.put_group(g);
        }

        fn pick<T: Copy>(list: &[T], rng: &mut Lcg) -> Option<T> {
            if list.is_empty() { None } else { Some(list[rng.below(list.len())]) }
        }

        fn change(&mut self, s: &mut State, rng: &mut Lcg, t: &mut Touched) {
            let (u, g, h) =
                (Self::pick(&self.users, rng), Self::pick(&self.groups, rng), Self::pick(&self.groups, rng));
            match rng.below(12) {
                0 => self.new_user(s, rng, t),
                1 => self.new_group(s, t),
                2 => {
                    // Renamed, another email, an external id moved.
                    let Some(u) = u else { return };
                    let Some(mut user) = s.user(u).map(|x| (**x).clone()) else { return };
                    match rng.below(3) {
                        0 => user.username = format!("r{}", self.num()),
                        1 => user.email = [None, Some("a@x.test".to_string())][rng.below(2)].clone(),
                        _ => user.first_name = Some(format!("F{}", rng.below(3))),
                    }
                    t.user(u);
                    s.put_user(user);
                }
                3 => {
                    let Some(g) = g else { return };
                    let Some(mut group) = s.group(g).map(|x| (**x).clone()) else { return };
                    group.name = format!("n{}", self.num());
                    group.version += 1;
                    t.group(g);
                    s.put_group(group);
                }
                4..=6 => {
                    // A user joins (or changes role, keeping the membership).
                    let (Some(g), Some(u)) = (g, u) else { return };
                    let m = match s.find_membership(g, Member::User(u)) {
                        Some(mut m) => {
                            m.role = MemberRole::Admin;
                            m
                        }
                        None => {
                            let mut m =
                                Membership::new(g, Member::User(u), MemberRole::Member, Permissions::default(), now());
                            m.num = self.num();
                            m
                        }
                    };
                    t.pair(g, Member::User(u));
                    s.put_membership(m);
                }
                7 => {
                    let (Some(g), Some(u)) = (g, u) else { return };
                    t.pair(g, Member::User(u));
                    let was = s.find_membership(g, Member::User(u));
                    s.remove_pair(g, Member::User(u));
                    // Sometimes another goes too and the pair comes back as
                    // a new membership: it lands in the other's slot, which
                    // the rows may reach after this pair's old one.
                    let Some(other) = Self::pick(&self.users, rng) else { return };
                    if was.is_none() || rng.below(2) == 0 {
                        return;
                    }
                    if let Some(h) = s.direct_groups(other).first().copied() {
                        t.pair(h, Member::User(other));
                        s.remove_pair(h, Member::User(other));
                    }
                    let mut m = Membership::new(g, Member::User(u), MemberRole::Member, Permissions::default(), now());
                    m.num = self.num();
                    s.put_membership(m);
                }
                8 => {
                    // Nesting, older groups under newer ones (no cycles).
                    let (Some(g), Some(h)) = (g, h) else { return };
                    let (Some(a), Some(b)) = (s.group(g).map(|x| x.num), s.group(h).map(|x| x.num)) else { return };
                    if a >= b {
                        return;
                    }
                    t.pair(h, Member::Group(g));
                    if s.find_membership(h, Member::Group(g)).is_some() {
                        s.remove_pair(h, Member::Group(g));
                    } else {
                        let mut m =
                            Membership::new(h, Member::Group(g), MemberRole::Member, Permissions::default(), now());
                        m.num = self.num();
                        s.put_membership(m);
                    }
                }
                9 => {
                    let Some(u) = u else { return };
                    t.user(u);
                    for g in s.direct_groups(u) {
                        t.group(g);
                    }
                    self.users.retain(|x| *x != u);
                    s.remove_user(u);
                }
                10 => {
                    let Some(g) = g else { return };
                    t.group(g);
                    for p in s.parents_of(g) {
                        t.group(p);
                    }
                    for u in s.direct_users(g) {
                        t.user(u);
                    }
                    self.groups.retain(|x| *x != g);
                    s.remove_group(g);
                }
                _ => {
                    let (Some(g), Some(h), Some(u)) = (g, h, u) else { return };
                    let share = |grantee| Share {
                        id: crate::ids::ShareId::new(),
                        num: 1,
                        group: g,
                        grantee,
                        level: ShareLevel::Read,
                        created_at: now(),
                    };
                    s.set_shares(g, vec![share(Grantee::User(u)), share(Grantee::Group(h))]);
                }
            }
        }
    }

    /// Rows taken a step at a time while the index changes, then the patch
    /// of what changed, read back: the index as it stands at the patch, for
    /// many interleavings (steps of one to three places, up to two changes
    /// between steps, removals and re-additions of the same pair).
    #[test]
    fn rows_then_patch_are_the_index_at_the_patch() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("index");
        for seed in 0..300 {
            let mut rng = Lcg(seed);
            let mut live = State::default();
            let mut ignored = Touched::default();
            let mut world = World::seeded(&mut live, &mut rng, &mut ignored);
            for _ in 0..40 {
                world.change(&mut live, &mut rng, &mut ignored);
            }
            let mut w = Writer::create(&path, &Mark::at_revision(10)).expect("create");
            let mut changed = Touched::default();
            let mut at = Cursor::Users(0);
            let mut batch = Batch::default();
            while at != Cursor::Done {
                at = live.write_some(at, 1 + rng.below(3) as u32, &mut batch);
                w.append(&mut batch).expect("append");
                for _ in 0..rng.below(3) {
                    world.change(&mut live, &mut rng, &mut changed);
                }
            }
            let mut patch = Batch::default();
            patch.patch(&Mark::at_revision(20));
            live.write_patch(&changed, &mut patch);
            w.append(&mut patch).expect("patch");
            w.finish().expect("finish");
            let reader = Reader::open(&path).expect("open").expect("a file");
            let (back, patched) = super::super::state_from(reader).expect("read");
            assert_eq!(patched, Some(Mark::at_revision(20)));
            assert_eq!(back.revision, 20);
            let (want, got) = (live.dump(), back.dump());
            for (a, b) in want.iter().zip(&got) {
                assert_eq!(a, b, "seed {seed}");
            }
            assert_eq!(want.len(), got.len(), "seed {seed}");
        }
    }

    /// Without the patch, the same rows are not the index (so the test
    /// above tests something): the changes made between steps show.
    #[test]
    fn rows_alone_miss_what_changed_under_them() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("index");
        let mut missed = 0;
        for seed in 0..20 {
            let mut rng = Lcg(seed);
            let mut live = State::default();
            let mut changed = Touched::default();
            let mut world = World::seeded(&mut live, &mut rng, &mut changed);
            let mut w = Writer::create(&path, &Mark::at_revision(10)).expect("create");
            let mut at = Cursor::Users(0);
            let mut batch = Batch::default();
            while at != Cursor::Done {
                at = live.write_some(at, 1, &mut batch);
                w.append(&mut batch).expect("append");
                world.change(&mut live, &mut rng, &mut changed);
            }
            w.finish().expect("finish");
            let (back, _) =
                super::super::state_from(Reader::open(&path).expect("open").expect("a file")).expect("read");
            if back.dump() != live.dump() {
                missed += 1;
            }
        }
        assert!(missed > 10, "only {missed} of 20 differ");
    }
}
