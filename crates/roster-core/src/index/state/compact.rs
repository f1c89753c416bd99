//! How the index keeps its many small things small: users and groups at
//! dense integer handles, and each membership as one fixed-size record in a
//! slab that points at those handles.
//!
//! Memberships outnumber everything else (ten to a user is ordinary), so
//! their size is the index's size. The store's `Membership` is about 130
//! bytes behind its own allocation, and the old index kept it beside a map
//! by id, a map by pair and a B-tree entry on each side: about 400 bytes
//! each. Here a membership is a 48-byte `Link`, 4–9 bytes of id table, and
//! a 4-byte handle in each side's list.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;
use roaring::{MultiOps, RoaringTreemap};
use time::OffsetDateTime;

use super::HashMap;
use crate::ids::MembershipId;
use crate::model::{MemberRole, Membership, Permissions};

/// Takes `handle` out of a table of handles, `hash` being the hash of the
/// key it went in under.
pub(super) fn remove_handle(table: &mut HashTable<u32>, hash: u64, handle: u32) {
    if let Ok(entry) = table.find_entry(hash, |h| *h == handle) {
        entry.remove();
    }
}

/// What a slab entry is found by: its entity's id, read from the entity.
pub(super) trait Keyed<K> {
    fn key(&self) -> K;
}

/// Entities by id, each at a handle (an index into `slots`) that stays
/// theirs until they are removed; a removed entity's handle is reused.
/// The table by id holds handles only and compares the id each entity
/// carries: 5 bytes a bucket, where a map from id to handle takes 21.
pub(super) struct Slab<K, T> {
    handles: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    slots: Vec<Option<T>>,
    free: Vec<u32>,
    key: std::marker::PhantomData<K>,
}

impl<K, T> Default for Slab<K, T> {
    fn default() -> Self {
        Self {
            handles: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            slots: Vec::new(),
            free: Vec::new(),
            key: std::marker::PhantomData,
        }
    }
}

impl<K: Hash + Eq + Copy, T: Keyed<K>> Slab<K, T> {
    pub(super) fn handle(&self, key: &K) -> Option<u32> {
        let slots = &self.slots;
        let holds = |h: &u32| slots.get(*h as usize).and_then(Option::as_ref).is_some_and(|t| t.key() == *key);
        self.handles.find(self.hasher.hash_one(key), holds).copied()
    }

    pub(super) fn get(&self, key: &K) -> Option<&T> {
        self.handle(key).and_then(|h| self.at(h))
    }

    pub(super) fn get_mut(&mut self, key: &K) -> Option<&mut T> {
        let h = self.handle(key)?;
        self.at_mut(h)
    }

    pub(super) fn at(&self, handle: u32) -> Option<&T> {
        self.slots.get(handle as usize).and_then(Option::as_ref)
    }

    pub(super) fn at_mut(&mut self, handle: u32) -> Option<&mut T> {
        self.slots.get_mut(handle as usize).and_then(Option::as_mut)
    }

    pub(super) fn contains(&self, key: &K) -> bool {
        self.handle(key).is_some()
    }

    pub(super) fn len(&self) -> usize {
        self.handles.len()
    }

    /// Puts `value` (whose key is `value.key()`) at its key's handle, or at
    /// a new one.
    pub(super) fn insert(&mut self, value: T) -> u32 {
        let key = value.key();
        if let Some(h) = self.handle(&key) {
            self.slots[h as usize] = Some(value);
            return h;
        }
        let h = match self.free.pop() {
            Some(h) => {
                self.slots[h as usize] = Some(value);
                h
            }
            None => {
                self.slots.push(Some(value));
                (self.slots.len() - 1) as u32
            }
        };
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.handles.insert_unique(hasher.hash_one(key), h, |h| {
            slots.get(*h as usize).and_then(Option::as_ref).map_or(0, |t| hasher.hash_one(t.key()))
        });
        h
    }

    pub(super) fn remove(&mut self, key: &K) -> Option<T> {
        let h = self.handle(key)?;
        remove_handle(&mut self.handles, self.hasher.hash_one(key), h);
        self.free.push(h);
        self.slots[h as usize].take()
    }

    /// One past the highest handle in use or free.
    pub(super) fn bound(&self) -> u32 {
        self.slots.len() as u32
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().flatten()
    }

    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.slots.iter_mut().flatten()
    }

    /// Gives back what the load's growth left unused.
    pub(super) fn shrink(&mut self) {
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.handles
            .shrink_to_fit(|h| slots.get(*h as usize).and_then(Option::as_ref).map_or(0, |t| hasher.hash_one(t.key())));
        self.slots.shrink_to_fit();
    }
}

/// A membership as the index keeps it, in 40 bytes: its group and member
/// as handles, its creation time as nanoseconds, its kind and role as the
/// top bits of the handles. Kept aside (`Links::updated`,
/// `Links::permissions`, `Links::times`): a change time other than the
/// creation time (most memberships never change), permissions other than
/// the default, and times that are not UTC nanoseconds an `i64` holds.
#[derive(Clone, Copy)]
pub(super) struct Link {
    pub(super) id: MembershipId,
    pub(super) num: i64,
    created: i64,
    /// The group's handle below `FLAGS`, `UPDATED_ASIDE` above.
    group_and_flags: u32,
    /// The member's handle (a user's, or a group's with `TO_GROUP`) below
    /// `FLAGS`, the other flags above.
    member_and_flags: u32,
}

const _: () = assert!(std::mem::size_of::<Link>() == 40);

/// The bits of `member_and_flags` that hold flags; the handles below them
/// leave room for 2^28 users, far past what one server's memory holds.
const FLAGS: u32 = 0xF000_0000;
pub(super) const MAX_HANDLE: u32 = !FLAGS;
const TO_GROUP: u32 = 1 << 28;
const ADMIN: u32 = 1 << 29;
const OWN_PERMISSIONS: u32 = 1 << 30;
const OWN_TIMES: u32 = 1 << 31;
/// In `group_and_flags`.
const UPDATED_ASIDE: u32 = 1 << 28;

impl Link {
    pub(super) fn is_to_group(&self) -> bool {
        self.member_and_flags & TO_GROUP != 0
    }

    pub(super) fn member(&self) -> u32 {
        self.member_and_flags & !FLAGS
    }

    pub(super) fn group(&self) -> u32 {
        self.group_and_flags & !FLAGS
    }

    fn has(&self, flag: u32) -> bool {
        self.member_and_flags & flag != 0
    }
}

/// Every membership's `Link`, found by id through a table of slot numbers
/// (hashed by the id the slot holds: 4 bytes an entry, not 20).
#[derive(Default)]
pub(super) struct Links {
    slots: Vec<Link>,
    free: Vec<u32>,
    by_id: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    updated: HashMap<u32, i64>,
    permissions: HashMap<u32, Permissions>,
    times: HashMap<u32, (OffsetDateTime, OffsetDateTime)>,
}

/// An instant as UTC nanoseconds, when an `i64` holds it exactly.
fn nanos(t: OffsetDateTime) -> Option<i64> {
    if t.offset().is_utc() { i64::try_from(t.unix_timestamp_nanos()).ok() } else { None }
}

/// What a map aside holds for `slot`, looked up only when its flag is set.
fn aside<T: Clone>(map: &HashMap<u32, T>, slot: u32, flagged: bool) -> Option<T> {
    if flagged { map.get(&slot).cloned() } else { None }
}

fn instant(nanos: i64) -> OffsetDateTime {
    // Every i64 of nanoseconds is within the years `time` represents.
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl Links {
    pub(super) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// The slots, for the lists that order them by `num`.
    pub(super) fn all(&self) -> &[Link] {
        &self.slots
    }

    pub(super) fn get(&self, slot: u32) -> &Link {
        &self.slots[slot as usize]
    }

    /// Whether `slot` holds a membership (a freed slot keeps its last one,
    /// which the table by id no longer points at).
    pub(super) fn is_live(&self, slot: u32) -> bool {
        self.slots.get(slot as usize).is_some_and(|l| self.find(l.id) == Some(slot))
    }

    pub(super) fn find(&self, id: MembershipId) -> Option<u32> {
        let slots = &self.slots;
        self.by_id.find(self.hasher.hash_one(id), |s| slots[*s as usize].id == id).copied()
    }

    /// Keeps `m`, whose group and member are at the handles given (each at
    /// most `MAX_HANDLE`).
    pub(super) fn insert(&mut self, m: &Membership, group: u32, member: u32) -> u32 {
        let mut flags = member & !FLAGS;
        if matches!(m.member, crate::model::Member::Group(_)) {
            flags |= TO_GROUP;
        }
        if m.role == MemberRole::Admin {
            flags |= ADMIN;
        }
        if m.permissions != Permissions::default() {
            flags |= OWN_PERMISSIONS;
        }
        let (created, updated) = match (nanos(m.created_at), nanos(m.updated_at)) {
            (Some(c), Some(u)) => (c, u),
            _ => {
                flags |= OWN_TIMES;
                (0, 0)
            }
        };
        let mut group_and_flags = group & !FLAGS;
        if updated != created {
            group_and_flags |= UPDATED_ASIDE;
        }
        let link = Link { id: m.id, num: m.num, created, group_and_flags, member_and_flags: flags };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = link;
                s
            }
            None => {
                self.slots.push(link);
                (self.slots.len() - 1) as u32
            }
        };
        if updated != created {
            self.updated.insert(slot, updated);
        }
        if flags & OWN_PERMISSIONS != 0 {
            self.permissions.insert(slot, m.permissions.clone());
        }
        if flags & OWN_TIMES != 0 {
            self.times.insert(slot, (m.created_at, m.updated_at));
        }
        let slots = &self.slots;
        let hasher = &self.hasher;
        self.by_id.insert_unique(hasher.hash_one(m.id), slot, |s| hasher.hash_one(slots[*s as usize].id));
        slot
    }

    /// Forgets the membership at `slot`, which is then reused.
    pub(super) fn remove(&mut self, slot: u32) {
        remove_handle(&mut self.by_id, self.hasher.hash_one(self.slots[slot as usize].id), slot);
        self.updated.remove(&slot);
        self.permissions.remove(&slot);
        self.times.remove(&slot);
        self.free.push(slot);
    }

    /// The membership at `slot` as the store gives it, with the ids of
    /// the group and member at its handles.
    pub(super) fn membership(&self, slot: u32, group: crate::ids::GroupId, member: crate::model::Member) -> Membership {
        let l = &self.slots[slot as usize];
        // The flags say which of the maps aside hold something for it, so
        // most memberships are rebuilt without a lookup.
        let (created_at, updated_at) = match aside(&self.times, slot, l.has(OWN_TIMES)) {
            Some(t) => t,
            None => {
                let updated = aside(&self.updated, slot, l.group_and_flags & UPDATED_ASIDE != 0).unwrap_or(l.created);
                (instant(l.created), instant(updated))
            }
        };
        Membership {
            id: l.id,
            num: l.num,
            group,
            member,
            role: self.role(slot),
            permissions: self.permissions(slot),
            created_at,
            updated_at,
        }
    }

    pub(super) fn role(&self, slot: u32) -> MemberRole {
        if self.slots[slot as usize].has(ADMIN) { MemberRole::Admin } else { MemberRole::Member }
    }

    pub(super) fn permissions(&self, slot: u32) -> Permissions {
        aside(&self.permissions, slot, self.slots[slot as usize].has(OWN_PERMISSIONS)).unwrap_or_default()
    }

    pub(super) fn shrink(&mut self) {
        self.slots.shrink_to_fit();
        let slots = &self.slots;
        let hasher = &self.hasher;
        self.by_id.shrink_to_fit(|s| hasher.hash_one(slots[*s as usize].id));
    }
}

/// One side's memberships (a user's groups, a group's users or child
/// groups) as slots in `num` order, the order their lists page in. Most
/// lists are short and kept as a sorted vector of slots; one that grows
/// past `MANY` becomes a B-tree by `num`, so that taking one of a million
/// members out costs a tree step, not a move of the rest.
pub(super) enum Edges {
    Few(Vec<u32>),
    Many(BTreeMap<i64, u32>),
}

const MANY: usize = 512;

impl Default for Edges {
    fn default() -> Self {
        Self::Few(Vec::new())
    }
}

impl Edges {
    pub(super) fn len(&self) -> usize {
        match self {
            Self::Few(v) => v.len(),
            Self::Many(m) => m.len(),
        }
    }

    pub(super) fn insert(&mut self, num: i64, slot: u32, links: &[Link]) {
        match self {
            Self::Few(v) => {
                // Nums mostly arrive in order (a load reads them so): then
                // this is a push, without a search through the slots.
                let at = match v.last() {
                    Some(last) if links[*last as usize].num > num => {
                        v.partition_point(|s| links[*s as usize].num < num)
                    }
                    _ => v.len(),
                };
                grow_by_a_quarter(v);
                v.insert(at, slot);
                if v.len() > MANY {
                    *self = Self::Many(v.iter().map(|s| (links[*s as usize].num, *s)).collect());
                }
            }
            Self::Many(m) => {
                m.insert(num, slot);
            }
        }
    }

    pub(super) fn remove(&mut self, num: i64, links: &[Link]) {
        match self {
            Self::Few(v) => {
                let at = v.partition_point(|s| links[*s as usize].num < num);
                if v.get(at).is_some_and(|s| links[*s as usize].num == num) {
                    v.remove(at);
                }
                if v.is_empty() {
                    *v = Vec::new();
                }
            }
            Self::Many(m) => {
                m.remove(&num);
            }
        }
    }

    pub(super) fn iter(&self) -> EdgeIter<'_> {
        match self {
            Self::Few(v) => EdgeIter::Few(v.iter()),
            Self::Many(m) => EdgeIter::Many(m.range(..)),
        }
    }

    /// The slots whose `num` is past `after`.
    pub(super) fn after(&self, after: i64, links: &[Link]) -> EdgeIter<'_> {
        match self {
            Self::Few(v) => {
                let at = v.partition_point(|s| links[*s as usize].num <= after);
                EdgeIter::Few(v[at..].iter())
            }
            Self::Many(m) => EdgeIter::Many(m.range(after.saturating_add(1)..)),
        }
    }

    pub(super) fn shrink(&mut self) {
        if let Self::Few(v) = self {
            v.shrink_to_fit();
        }
    }
}

/// A group's direct users as their user `num`s, kept with its `Edges`: a
/// sorted vector while the group is small (a bitmap of 90 scattered
/// numbers takes 1.5 KB, the vector 360 bytes), a bitmap past `MANY`.
pub(super) enum UserNums {
    Few(Vec<u32>),
    Many(RoaringTreemap),
}

impl Default for UserNums {
    fn default() -> Self {
        Self::Few(Vec::new())
    }
}

impl UserNums {
    pub(super) fn contains(&self, num: u64) -> bool {
        match self {
            Self::Few(v) => u32::try_from(num).is_ok_and(|n| v.binary_search(&n).is_ok()),
            Self::Many(b) => b.contains(num),
        }
    }

    pub(super) fn insert(&mut self, num: u64) {
        match self {
            Self::Few(v) => match u32::try_from(num) {
                Ok(n) if v.len() < MANY => {
                    if let Err(at) = v.binary_search(&n) {
                        grow_by_a_quarter(v);
                        v.insert(at, n);
                    }
                }
                // Past the vector's size, or a number it cannot hold.
                _ => {
                    let mut bits: RoaringTreemap = v.iter().map(|n| u64::from(*n)).collect();
                    bits.insert(num);
                    *self = Self::Many(bits);
                }
            },
            Self::Many(b) => {
                b.insert(num);
            }
        }
    }

    pub(super) fn remove(&mut self, num: u64) {
        match self {
            Self::Few(v) => {
                if let Ok(n) = u32::try_from(num)
                    && let Ok(at) = v.binary_search(&n)
                {
                    v.remove(at);
                }
            }
            Self::Many(b) => {
                b.remove(num);
            }
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        match self {
            Self::Few(v) => v.is_empty(),
            Self::Many(b) => b.is_empty(),
        }
    }
}

/// The union of many groups' direct users: the bitmaps merged container by
/// container, the vectors' numbers sorted once and added as one bitmap.
pub(super) fn union<'a>(sets: impl Iterator<Item = &'a UserNums>) -> RoaringTreemap {
    let mut bitmaps: Vec<&RoaringTreemap> = Vec::new();
    let mut nums: Vec<u64> = Vec::new();
    for set in sets {
        match set {
            UserNums::Few(v) => nums.extend(v.iter().map(|n| u64::from(*n))),
            UserNums::Many(b) => bitmaps.push(b),
        }
    }
    nums.sort_unstable();
    nums.dedup();
    // Sorted and without repeats, so `from_sorted_iter` cannot refuse them.
    let few = RoaringTreemap::from_sorted_iter(nums).unwrap_or_default();
    match bitmaps.as_slice() {
        [] => few,
        [one] if few.is_empty() => (*one).clone(),
        many => std::iter::once(&few).chain(many.iter().copied()).union(),
    }
}

/// Room for one more, a quarter more at a time when full: most lists stay
/// short, and a vector that doubles holds a third more than it uses on
/// average.
fn grow_by_a_quarter(v: &mut Vec<u32>) {
    if v.len() == v.capacity() {
        v.reserve_exact((v.len() / 4).max(1));
    }
}

pub(super) enum EdgeIter<'a> {
    Few(std::slice::Iter<'a, u32>),
    Many(std::collections::btree_map::Range<'a, i64, u32>),
}

impl Iterator for EdgeIter<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        match self {
            Self::Few(i) => i.next().copied(),
            Self::Many(r) => r.next().map(|(_, s)| *s),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use time::{OffsetDateTime, UtcOffset};

    use super::*;
    use crate::ids::{GroupId, UserId};
    use crate::model::Member;

    fn membership(num: i64) -> Membership {
        Membership {
            id: MembershipId::new(),
            num,
            group: GroupId::new(),
            member: Member::User(UserId::new()),
            role: MemberRole::Member,
            permissions: Permissions::default(),
            created_at: OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).expect("a time"),
            updated_at: OffsetDateTime::from_unix_timestamp_nanos(1_800_000_000_987_654_321).expect("a time"),
        }
    }

    #[test]
    fn a_membership_comes_back_as_it_went_in() {
        let mut links = Links::default();
        let plain = membership(1);
        let admin = Membership {
            role: MemberRole::Admin,
            permissions: Permissions::Map(BTreeMap::from([("edit".to_owned(), true)])),
            member: Member::Group(GroupId::new()),
            ..membership(2)
        };
        let disabled = Membership {
            permissions: Permissions::Disabled,
            // Changed since made: a change time of its own.
            updated_at: OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).expect("a time"),
            ..membership(3)
        };
        // Not UTC, and past what an i64 of nanoseconds holds: kept aside, as given.
        let odd = Membership {
            created_at: OffsetDateTime::UNIX_EPOCH.to_offset(UtcOffset::from_hms(2, 0, 0).expect("an offset")),
            updated_at: OffsetDateTime::from_unix_timestamp(10_000_000_000_000 / 1_000).expect("a time")
                + time::Duration::days(365 * 300),
            ..membership(4)
        };
        for (i, m) in [&plain, &admin, &disabled, &odd].into_iter().enumerate() {
            let slot = links.insert(m, 7, i as u32 + 1);
            assert_eq!(links.find(m.id), Some(slot));
            let back = links.membership(slot, m.group, m.member);
            assert_eq!(&back, m);
            assert_eq!(back.created_at.offset(), m.created_at.offset());
            assert_eq!(links.get(slot).member(), i as u32 + 1);
            assert_eq!(links.get(slot).is_to_group(), matches!(m.member, Member::Group(_)));
            assert_eq!(links.role(slot), m.role);
        }
        assert_eq!(links.len(), 4);
        // A slot given back is reused, and only the new id finds it.
        let slot = links.find(admin.id).expect("admin's slot");
        links.remove(slot);
        assert_eq!(links.find(admin.id), None);
        let next = membership(5);
        assert_eq!(links.insert(&next, 1, 1), slot);
        assert_eq!(links.find(next.id), Some(slot));
        assert_eq!(links.membership(slot, next.group, next.member), next);
        assert_eq!(links.len(), 4);
    }

    /// Slots in `num` order whichever form the list takes, across the
    /// change from a vector to a tree.
    #[test]
    fn edges_keep_num_order_past_the_change_of_form() {
        let mut links = Links::default();
        let mut edges = Edges::default();
        let mut model: BTreeMap<i64, u32> = BTreeMap::new();
        // Nums arrive out of order (as another server's commits can).
        let mut x: u64 = 7;
        for _ in 0..(MANY * 3) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let num = (x >> 40) as i64;
            if model.contains_key(&num) {
                continue;
            }
            let slot = links.insert(&membership(num), 0, 0);
            edges.insert(num, slot, links.all());
            model.insert(num, slot);
            if model.len() == MANY {
                assert!(matches!(edges, Edges::Few(_)));
            }
        }
        assert!(matches!(edges, Edges::Many(_)));
        let check = |edges: &Edges, model: &BTreeMap<i64, u32>, links: &Links| {
            assert_eq!(edges.len(), model.len());
            assert_eq!(edges.iter().collect::<Vec<_>>(), model.values().copied().collect::<Vec<_>>());
            for after in [0, 1, *model.keys().nth(model.len() / 2).unwrap_or(&0), i64::MAX] {
                let want: Vec<u32> = model.range(after.saturating_add(1)..).map(|(_, s)| *s).collect();
                assert_eq!(edges.after(after, links.all()).collect::<Vec<_>>(), want);
            }
        };
        check(&edges, &model, &links);
        // Every other one out, and a num never in.
        let gone: Vec<i64> = model.keys().step_by(2).copied().collect();
        for num in gone {
            edges.remove(num, links.all());
            model.remove(&num);
        }
        edges.remove(-5, links.all());
        check(&edges, &model, &links);

        // The same on a short list.
        let mut few = Edges::default();
        let mut small: BTreeMap<i64, u32> = BTreeMap::new();
        for (num, slot) in model.iter().rev().take(20) {
            few.insert(*num, *slot, links.all());
            small.insert(*num, *slot);
        }
        assert!(matches!(few, Edges::Few(_)));
        check(&few, &small, &links);
        let (first, _) = small.pop_first().expect("twenty");
        few.remove(first, links.all());
        check(&few, &small, &links);
    }

    /// Whichever form a group's numbers take, they hold and unite as a set.
    #[test]
    fn user_nums_are_a_set_in_either_form() {
        let mut model: Vec<std::collections::BTreeSet<u64>> = vec![Default::default(); 3];
        let mut sets: Vec<UserNums> = (0..3).map(|_| UserNums::default()).collect();
        let mut x: u64 = 11;
        // One small set, one past the vector's size, one with a number past u32.
        for (i, count) in [(0, 40), (1, MANY * 2), (2, 10)] {
            for _ in 0..count {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let n = (x >> 44) % 5_000;
                sets[i].insert(n);
                model[i].insert(n);
            }
        }
        sets[2].insert(u64::from(u32::MAX) + 7);
        model[2].insert(u64::from(u32::MAX) + 7);
        assert!(matches!(sets[0], UserNums::Few(_)));
        assert!(matches!(sets[1], UserNums::Many(_)));
        assert!(matches!(sets[2], UserNums::Many(_)));
        for (set, want) in sets.iter_mut().zip(model.iter_mut()) {
            let some: Vec<u64> = want.iter().step_by(3).copied().collect();
            for n in some {
                set.remove(n);
                want.remove(&n);
            }
            for n in 0..5_000 {
                assert_eq!(set.contains(n), want.contains(&n));
            }
        }
        let all: Vec<u64> =
            model.iter().flatten().copied().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        assert_eq!(union(sets.iter()).iter().collect::<Vec<_>>(), all);
        assert_eq!(union(sets[..1].iter()).iter().collect::<Vec<_>>(), model[0].iter().copied().collect::<Vec<_>>());
        assert_eq!(union(sets[1..2].iter()).iter().collect::<Vec<_>>(), model[1].iter().copied().collect::<Vec<_>>());
        assert!(union(std::iter::empty()).is_empty());
    }
}
