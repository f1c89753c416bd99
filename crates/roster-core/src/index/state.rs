//! What the index holds, and the questions it answers without the store.
//!
//! Users and groups are kept as the store returns them (`Arc`s, so a read
//! clones a pointer), each at a small integer handle; memberships are
//! compact records between those handles (`compact`), listed on both
//! sides in the order the store's lists order them (by membership `num`),
//! so a page here is the page the store would give. Membership at any
//! depth is not stored per pair: a user's groups at any depth are a walk
//! up from their direct groups (a few dozen steps in practice), and a
//! group's users at any depth are a bitmap of user `num`s, the union of
//! the direct users' nums (kept with every edge) of the group and the
//! groups below it, built on first use and kept until an edge below the
//! group changes.

use std::collections::{BTreeMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use hashbrown::HashTable;
use roaring::RoaringTreemap;

use super::refresh::Touched;
use super::snapshot::Batch;
use crate::authz::GroupAccess;
use crate::ids::{GroupId, MembershipId, UserId};
use crate::model::{Grantee, Group, Member, MemberNames, Membership, Share, User};
use crate::validate::fold;
use compact::{Edges, Keyed, Links, Slab, UserNums, remove_handle};
use groups::{GroupSet, Parents, Seen, Walk};

mod compact;
mod groups;
mod lists;

/// The index's hash maps and sets. Their keys are ids and folded names, and
/// a load or a refresh does several lookups per row: foldhash costs a
/// fraction of the standard library's SipHash per lookup and is still seeded
/// per process, so a client cannot aim names at one bucket in advance.
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub(crate) type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// A key of the name orders: the folded name, and the `num` that orders
/// equal names, as the store's `ORDER BY name_key, num`. The maps by name
/// are most of what a user costs beyond the user: a boxed name and a
/// handle keep an entry at 28 bytes (a `String` and an id took 48).
pub(crate) type Key = (Box<str>, i64);

fn key(name: &str, num: i64) -> Key {
    (fold(name).into_boxed_str(), num)
}

#[derive(Default)]
pub(crate) struct State {
    /// The `seq` of the last event whose changes are in here.
    pub(crate) revision: i64,
    users: Slab<UserId, UserEntry>,
    /// Users' handles by `num`.
    /// (Hashed by the `num`, compared on the user: no copy of it is kept.)
    user_nums: HashTable<u32>,
    /// Users in list order: (folded username, `num`), as the store orders them.
    user_names: BTreeMap<Key, u32>,
    /// Users by their other folded names (first, last, display), which a
    /// name prefix also matches.
    other_names: [BTreeMap<Key, u32>; 3],
    /// Users by external id (unique in the store, compared as stored).
    external_ids: HashMap<String, UserId>,
    /// Users by folded email (not unique): their handles, hashed by the
    /// folded email and compared on the user itself, so no copy of the
    /// email is kept (a B-tree of them took 90 bytes a user).
    emails: HashTable<u32>,
    /// Hashes the keys of `user_nums` and `emails`.
    hasher: foldhash::fast::RandomState,
    groups: Slab<GroupId, GroupEntry>,
    /// Groups by `num`: creation order, which group lists also page in.
    group_nums: BTreeMap<i64, GroupId>,
    /// Groups in list order: (folded name, `num`).
    group_names: BTreeMap<Key, GroupId>,
    /// Each group's key in `group_names`: a list of given groups (a user's
    /// groups, say) sorts by it without folding each name again.
    group_keys: HashMap<GroupId, Key>,
    /// Groups by unique id (unique in the store, compared as stored).
    unique_ids: HashMap<String, GroupId>,
    /// Every membership, between the handles of its group and member.
    links: Links,
    /// The groups a group is directly nested in.
    parents: HashMap<GroupId, Parents>,
    /// The shares of each group.
    shares: HashMap<GroupId, Vec<Share>>,
    /// While loading: the users' name-order entries, built into their
    /// maps at the end (`finish_load`).
    loading: Option<Box<LoadedNames>>,
    /// A group's users at any depth, as user `num`s, built on first use.
    closure: Mutex<HashMap<GroupId, Arc<RoaringTreemap>>>,
    /// A group's direct members by name, built on first use and dropped
    /// when its edges or a member's name change: a large group's names
    /// are then one shared list, not a lookup per member.
    names: Mutex<NameCache>,
}

/// Where [`State::write_some`] goes on: a handle or slot of each table in
/// turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cursor {
    Users(u32),
    Groups(u32),
    Memberships(u32),
    Done,
}

/// What a walk up from a group, one parent at a time, came to.
enum Chain {
    /// The target: the chain holds the groups from the start up to it.
    Reaches,
    /// A group with no parent, below the target.
    Ends,
    /// A group with several parents: only a walk of every branch can say.
    Branches,
}

/// The entries of the users' name orders, gathered during a load: a
/// B-tree built from sorted entries has full nodes, one grown an entry at
/// a time about half-full ones.
#[derive(Default)]
struct LoadedNames {
    user_names: Vec<(Key, u32)>,
    other_names: [Vec<(Key, u32)>; 3],
}

/// A user and their direct memberships, by `num`.
struct UserEntry {
    user: Arc<User>,
    groups: Edges,
}

/// A group and its direct members, by membership `num`.
struct GroupEntry {
    group: Arc<Group>,
    users: Edges,
    children: Edges,
    /// The direct users' `num`s, kept with `users`: a group's users at any
    /// depth are the union of these over its subtree, not two lookups per
    /// membership; and whether a user is directly in it is one test.
    user_nums: UserNums,
}

impl Keyed<UserId> for UserEntry {
    fn key(&self) -> UserId {
        self.user.id
    }
}

impl Keyed<GroupId> for GroupEntry {
    fn key(&self) -> GroupId {
        self.group.id
    }
}

impl GroupEntry {
    fn new(group: Arc<Group>) -> Self {
        Self { group, users: Edges::default(), children: Edges::default(), user_nums: UserNums::default() }
    }
}

/// The member names kept, within a budget of names in all (a few large
/// groups, or many small ones); past it, the cache starts over.
#[derive(Default)]
struct NameCache {
    groups: HashMap<GroupId, Arc<MemberNames>>,
    held: usize,
}

/// How many member names the cache holds at most (about 40 bytes each).
const NAME_BUDGET: usize = 4_000_000;

impl State {
    pub(crate) fn user(&self, id: UserId) -> Option<&Arc<User>> {
        self.users.get(&id).map(|e| &e.user)
    }

    pub(crate) fn group(&self, id: GroupId) -> Option<&Arc<Group>> {
        self.groups.get(&id).map(|e| &e.group)
    }

    pub(crate) fn user_by_num(&self, num: i64) -> Option<UserId> {
        let users = &self.users;
        let holds = |h: &u32| users.at(*h).is_some_and(|e| e.user.num == num);
        self.user_nums.find(self.hasher.hash_one(num), holds).and_then(|h| self.user_at(*h)).map(|u| u.id)
    }

    pub(crate) fn group_by_num(&self, num: i64) -> Option<GroupId> {
        self.group_nums.get(&num).copied()
    }

    pub(crate) fn membership(&self, id: MembershipId) -> Option<Membership> {
        self.links.find(id).and_then(|slot| self.membership_at(slot))
    }

    pub(crate) fn find_membership(&self, group: GroupId, member: Member) -> Option<Membership> {
        self.find_slot(group, member).and_then(|slot| self.membership_at(slot))
    }

    pub(crate) fn counts(&self) -> (usize, usize, usize) {
        (self.users.len(), self.groups.len(), self.links.len())
    }

    /// An empty index to load into (`finish_load` when everything is in).
    pub(crate) fn loading() -> Self {
        Self { loading: Some(Box::default()), ..Self::default() }
    }

    /// Builds the users' name orders from the load's entries, and gives
    /// back what the load's growth left unused (the slabs and tables grow
    /// by doubling: at 10^7 memberships that is hundreds of megabytes).
    pub(crate) fn finish_load(&mut self) {
        if let Some(l) = self.loading.take() {
            let l = *l;
            self.user_names = l.user_names.into_iter().collect();
            for (map, list) in self.other_names.iter_mut().zip(l.other_names) {
                *map = list.into_iter().collect();
            }
        }
        self.users.shrink();
        self.groups.shrink();
        self.links.shrink();
        for e in self.users.values_mut() {
            e.groups.shrink();
        }
        for e in self.groups.values_mut() {
            e.users.shrink();
            e.children.shrink();
        }
    }

    // ---- handles -------------------------------------------------------

    /// The id of the user at `handle`.
    fn user_id_at(&self, handle: u32) -> Option<UserId> {
        self.user_at(handle).map(|u| u.id)
    }

    /// The user at a membership's member handle.
    fn user_at(&self, handle: u32) -> Option<&Arc<User>> {
        self.users.at(handle).map(|e| &e.user)
    }

    /// The group at a membership's group (or member) handle.
    fn group_at(&self, handle: u32) -> Option<&Arc<Group>> {
        self.groups.at(handle).map(|e| &e.group)
    }

    /// The group a membership is in.
    fn group_of(&self, slot: u32) -> Option<GroupId> {
        self.group_at(self.links.get(slot).group()).map(|g| g.id)
    }

    /// A membership's member.
    fn member_of(&self, slot: u32) -> Option<Member> {
        let l = self.links.get(slot);
        if l.is_to_group() {
            self.group_at(l.member()).map(|g| Member::Group(g.id))
        } else {
            self.user_at(l.member()).map(|u| Member::User(u.id))
        }
    }

    /// The membership at `slot` as the store gives it. Both ends are always
    /// known: a membership is kept only between a user or group the index
    /// holds, and goes before they do.
    fn membership_at(&self, slot: u32) -> Option<Membership> {
        Some(self.links.membership(slot, self.group_of(slot)?, self.member_of(slot)?))
    }

    /// The slot of `member`'s direct membership in `group`.
    fn find_slot(&self, group: GroupId, member: Member) -> Option<u32> {
        let gh = self.groups.handle(&group)?;
        let g = self.groups.at(gh)?;
        let links = self.links.all();
        match member {
            Member::User(u) => {
                let uh = self.users.handle(&u)?;
                let user = self.users.at(uh)?;
                // The bitmap says no at once; a yes is found on the shorter side.
                if !g.user_nums.contains(user.user.num as u64) {
                    return None;
                }
                if user.groups.len() <= g.users.len() {
                    user.groups.iter().find(|s| links[*s as usize].group() == gh)
                } else {
                    g.users.iter().find(|s| links[*s as usize].member() == uh)
                }
            }
            Member::Group(c) => {
                if !self.parents.get(&c).is_some_and(|p| p.contains(&group)) {
                    return None;
                }
                let ch = self.groups.handle(&c)?;
                g.children.iter().find(|s| links[*s as usize].member() == ch)
            }
        }
    }

    /// Whether `user` is directly in `group`.
    fn is_direct_user(&self, group: GroupId, user: UserId) -> bool {
        match (self.groups.get(&group), self.users.get(&user)) {
            (Some(g), Some(u)) => g.user_nums.contains(u.user.num as u64),
            _ => false,
        }
    }

    // ---- changes -------------------------------------------------------

    pub(crate) fn put_user(&mut self, user: User) {
        let old = self.user(user.id).cloned();
        if let Some(old) = &old {
            self.forget_names(old);
        }
        // The groups that name this user by its old name (or not at all).
        if old.is_none_or(|o| o.username != user.username) {
            for g in self.direct_groups(user.id) {
                self.forget_member_names(g);
            }
        }
        if let Some(x) = &user.external_id {
            self.external_ids.insert(x.clone(), user.id);
        }
        let (id, num) = (user.id, user.num);
        let names = key(&user.username, num);
        let others = other_names(&user).map(|name| name.map(|n| key(n, num)));
        let email = user.email.as_deref().map(|e| self.hasher.hash_one(fold(e)));
        // A user's `num` never changes: only a new user is added by it.
        let handle = match self.users.handle(&id) {
            Some(h) => {
                if let Some(e) = self.users.at_mut(h) {
                    e.user = Arc::new(user);
                }
                h
            }
            None => {
                let h = self.users.insert(UserEntry { user: Arc::new(user), groups: Edges::default() });
                let (users, hasher) = (&self.users, &self.hasher);
                self.user_nums.insert_unique(hasher.hash_one(num), h, |h| {
                    users.at(*h).map_or(0, |e| hasher.hash_one(e.user.num))
                });
                h
            }
        };
        if let Some(hash) = email {
            let (users, hasher) = (&self.users, &self.hasher);
            self.emails.insert_unique(hash, handle, |h| {
                let email = users.at(*h).and_then(|e| e.user.email.as_deref());
                email.map_or(0, |e| hasher.hash_one(fold(e)))
            });
        }
        if let Some(l) = self.loading.as_deref_mut() {
            l.user_names.push((names, handle));
            for (list, k) in l.other_names.iter_mut().zip(others) {
                list.extend(k.map(|k| (k, handle)));
            }
            return;
        }
        self.user_names.insert(names, handle);
        for (map, k) in self.other_names.iter_mut().zip(others) {
            if let Some(k) = k {
                map.insert(k, handle);
            }
        }
    }

    fn forget_names(&mut self, user: &User) {
        self.user_names.remove(&key(&user.username, user.num));
        for (map, name) in self.other_names.iter_mut().zip(other_names(user)) {
            if let Some(name) = name {
                map.remove(&key(name, user.num));
            }
        }
        if let Some(e) = &user.email
            && let Some(h) = self.users.handle(&user.id)
        {
            remove_handle(&mut self.emails, self.hasher.hash_one(fold(e)), h);
        }
        // Only if it is still this user's: within a batch, another user
        // may already hold the id this one gave up.
        if let Some(x) = &user.external_id
            && self.external_ids.get(x) == Some(&user.id)
        {
            self.external_ids.remove(x);
        }
    }

    /// A user gone from the store: with them went their memberships and
    /// the shares given to them.
    pub(crate) fn remove_user(&mut self, id: UserId) {
        // The memberships first, while the user's handle and `num` are known.
        let slots: Vec<u32> = self.users.get(&id).map(|e| e.groups.iter().collect()).unwrap_or_default();
        for slot in slots {
            self.remove_link(slot);
        }
        // The names and the num while the handle is known (those tables
        // hold handles).
        if let Some(h) = self.users.handle(&id)
            && let Some(user) = self.user_at(h).cloned()
        {
            self.forget_names(&user);
            remove_handle(&mut self.user_nums, self.hasher.hash_one(user.num), h);
            self.users.remove(&id);
        }
        for list in self.shares.values_mut() {
            list.retain(|s| s.grantee != Grantee::User(id));
        }
    }

    pub(crate) fn put_group(&mut self, group: Group) {
        let old = self.group(group.id).cloned();
        if let Some(old) = &old {
            self.forget_group_names(old);
        }
        if old.is_none_or(|o| o.name != group.name) {
            for p in self.parents.get(&group.id).cloned().unwrap_or_default().iter().copied() {
                self.forget_member_names(p);
            }
        }
        self.group_nums.insert(group.num, group.id);
        let k = key(&group.name, group.num);
        self.group_names.insert(k.clone(), group.id);
        self.group_keys.insert(group.id, k);
        if let Some(x) = &group.unique_id {
            self.unique_ids.insert(x.clone(), group.id);
        }
        match self.groups.get_mut(&group.id) {
            Some(e) => e.group = Arc::new(group),
            None => {
                self.groups.insert(GroupEntry::new(Arc::new(group)));
            }
        }
    }

    fn forget_group_names(&mut self, group: &Group) {
        self.group_names.remove(&key(&group.name, group.num));
        self.group_keys.remove(&group.id);
        // As a user's external id: only if no other group holds it now.
        if let Some(x) = &group.unique_id
            && self.unique_ids.get(x) == Some(&group.id)
        {
            self.unique_ids.remove(x);
        }
    }

    /// A group gone from the store: with it went its memberships (as the
    /// group and as a child), its shares and the shares given to it.
    pub(crate) fn remove_group(&mut self, id: GroupId) {
        let mut slots: Vec<u32> = Vec::new();
        if let Some(e) = self.groups.get(&id) {
            slots.extend(e.users.iter());
            slots.extend(e.children.iter());
        }
        for parent in self.parents.get(&id).cloned().unwrap_or_default().iter().copied() {
            if let Some(slot) = self.find_slot(parent, Member::Group(id)) {
                slots.push(slot);
            }
        }
        self.invalidate_above(id);
        self.forget_member_names(id);
        for slot in slots {
            self.remove_link(slot);
        }
        if let Some(e) = self.groups.remove(&id) {
            self.group_nums.remove(&e.group.num);
            self.forget_group_names(&e.group);
        }
        self.parents.remove(&id);
        self.shares.remove(&id);
        for list in self.shares.values_mut() {
            list.retain(|s| s.grantee != Grantee::Group(id));
        }
    }

    /// Keeps `m`, in place of the membership of the same id or the same
    /// pair. Entities are put before memberships (load and refresh alike):
    /// one whose group or member the index does not hold is left out.
    pub(crate) fn put_membership(&mut self, m: Membership) {
        // A load reads each membership once, into an index without caches.
        let loading = self.loading.is_some();
        if !loading && let Some(old) = self.find_slot(m.group, m.member) {
            self.remove_link(old);
        }
        if !loading && let Some(old) = self.links.find(m.id) {
            self.remove_link(old);
        }
        let Some(gh) = self.groups.handle(&m.group) else { return };
        let member = match m.member {
            Member::User(u) => self.users.handle(&u),
            Member::Group(c) => self.groups.handle(&c),
        };
        let Some(mh) = member else { return };
        if mh.max(gh) > compact::MAX_HANDLE {
            tracing::error!(membership = %m.id, "more users or groups than the index can point to; membership left out");
            return;
        }
        if !loading {
            self.invalidate_above(m.group);
            self.forget_member_names(m.group);
        }
        let slot = self.links.insert(&m, gh, mh);
        let links = self.links.all();
        match m.member {
            Member::User(_) => {
                let mut num = None;
                if let Some(u) = self.users.at_mut(mh) {
                    u.groups.insert(m.num, slot, links);
                    num = Some(u.user.num as u64);
                }
                if let Some(g) = self.groups.at_mut(gh) {
                    g.users.insert(m.num, slot, links);
                    if let Some(n) = num {
                        g.user_nums.insert(n);
                    }
                }
            }
            Member::Group(c) => {
                if let Some(g) = self.groups.at_mut(gh) {
                    g.children.insert(m.num, slot, links);
                }
                self.parents.entry(c).or_default().insert(m.group);
            }
        }
    }

    pub(crate) fn remove_membership(&mut self, id: MembershipId) {
        if let Some(slot) = self.links.find(id) {
            self.remove_link(slot);
        }
    }

    fn remove_link(&mut self, slot: u32) {
        let link = *self.links.get(slot);
        if let Some(group) = self.group_of(slot) {
            self.invalidate_above(group);
            self.forget_member_names(group);
            if link.is_to_group()
                && let Some(c) = self.group_at(link.member()).map(|c| c.id)
                && let Some(set) = self.parents.get_mut(&c)
            {
                set.remove(&group);
                if set.is_empty() {
                    self.parents.remove(&c);
                }
            }
        }
        let links = self.links.all();
        if link.is_to_group() {
            if let Some(g) = self.groups.at_mut(link.group()) {
                g.children.remove(link.num, links);
            }
        } else {
            let mut num = None;
            if let Some(u) = self.users.at_mut(link.member()) {
                u.groups.remove(link.num, links);
                num = Some(u.user.num as u64);
            }
            if let Some(g) = self.groups.at_mut(link.group()) {
                g.users.remove(link.num, links);
                if let Some(n) = num {
                    g.user_nums.remove(n);
                }
            }
        }
        self.links.remove(slot);
    }

    /// Encodes the rows from `at` on, in the order a load puts them (users,
    /// groups, memberships), looking at no more than `positions` places;
    /// returns where the next call goes on. A snapshot taken while serving
    /// calls it under the read lock a bounded step at a time, so a change
    /// waits for one step, never for the whole file. Handles and slots stay
    /// with their entity while it lives, so a row that lives throughout is
    /// written exactly once; a row added or removed meanwhile may or may not
    /// be, and the patch settles it (see [`State::write_patch`]).
    pub(crate) fn write_some(&self, mut at: Cursor, positions: u32, out: &mut Batch) -> Cursor {
        for _ in 0..positions {
            at = match at {
                Cursor::Users(h) if h < self.users.bound() => {
                    if let Some(e) = self.users.at(h) {
                        out.user(&e.user);
                    }
                    Cursor::Users(h + 1)
                }
                Cursor::Users(_) => Cursor::Groups(0),
                Cursor::Groups(h) if h < self.groups.bound() => {
                    if let Some(e) = self.groups.at(h) {
                        out.group(&e.group);
                    }
                    Cursor::Groups(h + 1)
                }
                Cursor::Groups(_) => Cursor::Memberships(0),
                Cursor::Memberships(s) if (s as usize) < self.links.all().len() => {
                    if self.links.is_live(s)
                        && let Some(m) = self.membership_at(s)
                    {
                        out.membership(&m);
                    }
                    Cursor::Memberships(s + 1)
                }
                Cursor::Memberships(_) | Cursor::Done => return Cursor::Done,
            };
        }
        at
    }

    /// Encodes what a snapshot's rows need to become this index: for each
    /// user, group and pair `changed` names, the row as it is now or its
    /// removal (a pair's every membership goes, then the one it has now is
    /// put), in the order a refresh applies them; then every share.
    pub(crate) fn write_patch(&self, changed: &Touched, out: &mut Batch) {
        for id in changed.users() {
            match self.user(id) {
                Some(u) => out.user(u),
                None => out.user_gone(id),
            }
        }
        for id in changed.groups() {
            match self.group(id) {
                Some(g) => out.group(g),
                None => out.group_gone(id),
            }
        }
        for (group, member) in changed.pairs() {
            out.pair_gone(group, member);
        }
        for (group, member) in changed.pairs() {
            if let Some(m) = self.find_membership(group, member) {
                out.membership(&m);
            }
        }
        for list in self.shares.values() {
            for s in list {
                out.share(s);
            }
        }
    }

    /// Removes every membership between `group` and `member`. The index
    /// holds at most one; rows of a snapshot taken while serving may hold
    /// two (one removed and one made since, each read at its own step), and
    /// its patch removes both by pair.
    pub(crate) fn remove_pair(&mut self, group: GroupId, member: Member) {
        let Some(gh) = self.groups.handle(&group) else { return };
        let links = self.links.all();
        let slots: Vec<u32> = match member {
            Member::User(u) => match self.users.get(&u) {
                Some(e) => e.groups.iter().filter(|s| links[*s as usize].group() == gh).collect(),
                None => return,
            },
            Member::Group(c) => match (self.groups.handle(&c), self.groups.at(gh)) {
                (Some(ch), Some(g)) => g.children.iter().filter(|s| links[*s as usize].member() == ch).collect(),
                _ => return,
            },
        };
        for slot in slots {
            self.remove_link(slot);
        }
    }

    /// Everything the index holds, spelled out by id (handles and slots
    /// differ between two indexes holding the same), in a fixed order: two
    /// indexes with equal dumps answer every question alike.
    #[cfg(test)]
    pub(crate) fn dump(&self) -> Vec<String> {
        let mut out = vec![format!("counts {:?}", self.counts())];
        let links = self.links.all();
        let mut rows: Vec<String> = Vec::new();
        for e in self.users.values() {
            let groups: Vec<_> = e.groups.iter().map(|s| links[s as usize].id).collect();
            let email = e.user.email.as_deref().map(|m| {
                let handle = self.users.handle(&e.user.id);
                self.emails.find(self.hasher.hash_one(fold(m)), |h| Some(*h) == handle).is_some()
            });
            let by_num = self.user_by_num(e.user.num) == Some(e.user.id);
            rows.push(format!("user {:?} groups {groups:?} email kept {email:?} by num {by_num}", e.user));
        }
        for e in self.groups.values() {
            let users: Vec<_> = e.users.iter().map(|s| links[s as usize].id).collect();
            let children: Vec<_> = e.children.iter().map(|s| links[s as usize].id).collect();
            let nums: Vec<u64> = compact::union(std::iter::once(&e.user_nums)).iter().collect();
            let mut parents = self.parents_of(e.group.id);
            parents.sort();
            rows.push(format!(
                "group {:?} users {users:?} children {children:?} user nums {nums:?} parents {parents:?}",
                e.group
            ));
        }
        for slot in 0..links.len() as u32 {
            if self.links.is_live(slot) {
                rows.push(format!("membership {:?}", self.membership_at(slot)));
            }
        }
        // An emptied list is no list.
        for (group, list) in self.shares.iter().filter(|(_, l)| !l.is_empty()) {
            rows.push(format!("shares {group:?} {list:?}"));
        }
        rows.sort();
        out.extend(rows);
        let user = |h: &u32| self.user_id_at(*h);
        out.push(format!("user names {:?}", self.user_names.iter().map(|(k, h)| (k, user(h))).collect::<Vec<_>>()));
        for names in &self.other_names {
            out.push(format!("other names {:?}", names.iter().map(|(k, h)| (k, user(h))).collect::<Vec<_>>()));
        }
        let mut external: Vec<_> = self.external_ids.iter().collect();
        external.sort();
        out.push(format!("external ids {external:?} emails {} nums {}", self.emails.len(), self.user_nums.len()));
        out.push(format!("group nums {:?}", self.group_nums));
        out.push(format!("group names {:?}", self.group_names));
        let mut keys: Vec<_> = self.group_keys.iter().collect();
        keys.sort();
        let mut unique: Vec<_> = self.unique_ids.iter().collect();
        unique.sort();
        out.push(format!("group keys {keys:?} unique ids {unique:?}"));
        out
    }

    /// Replaces every share of `group`.
    pub(crate) fn set_shares(&mut self, group: GroupId, shares: Vec<Share>) {
        if shares.is_empty() {
            self.shares.remove(&group);
        } else {
            self.shares.insert(group, shares);
        }
    }

    /// The groups whose users at any depth may have changed when `group`'s
    /// edges did: the group and every group above it.
    fn invalidate_above(&mut self, group: GroupId) {
        // Nothing cached (as during a load): no walk up the graph.
        if self.closure.get_mut().unwrap_or_else(|e| e.into_inner()).is_empty() {
            return;
        }
        let above = self.ancestors(&[group]);
        let cache = self.closure.get_mut().unwrap_or_else(|e| e.into_inner());
        for g in above {
            cache.remove(&g);
        }
    }

    /// Drops the member names kept for `group`.
    fn forget_member_names(&mut self, group: GroupId) {
        let cache = self.names.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = cache.groups.remove(&group) {
            cache.held -= old.users.len() + old.groups.len();
        }
    }

    // ---- questions -----------------------------------------------------

    /// `from` and every group above them, each once.
    pub(crate) fn ancestors(&self, from: &[GroupId]) -> HashSet<GroupId> {
        let mut seen = HashSet::default();
        self.walk_up(from, &mut seen);
        seen
    }

    /// Adds `from` and every group above them to `seen`, walking up from
    /// each group only the first time `seen` takes it.
    fn walk_up(&self, from: &[GroupId], seen: &mut impl GroupSet) {
        let mut stack: Walk = from.iter().copied().filter(|g| seen.add(*g)).collect();
        while let Some(g) = stack.pop() {
            for p in self.parents.get(&g).into_iter().flat_map(Parents::iter) {
                if seen.add(*p) {
                    stack.push(*p);
                }
            }
        }
    }

    /// The groups a user is directly in, in the order they joined.
    pub(crate) fn direct_groups(&self, user: UserId) -> Vec<GroupId> {
        self.users.get(&user).map(|e| e.groups.iter().filter_map(|s| self.group_of(s)).collect()).unwrap_or_default()
    }

    /// A group's child groups, by membership `num`.
    fn children(&self, group: GroupId) -> impl Iterator<Item = GroupId> + '_ {
        self.groups
            .get(&group)
            .into_iter()
            .flat_map(|e| e.children.iter())
            .filter_map(|s| self.group_at(self.links.get(s).member()).map(|g| g.id))
    }

    /// Whether `to` is `from` or nested below it at any depth.
    pub(crate) fn reaches(&self, from: GroupId, to: GroupId) -> bool {
        from == to || self.ancestors(&[to]).contains(&from)
    }

    /// Whether the user is in the group at any depth.
    pub(crate) fn in_group(&self, group: GroupId, user: UserId) -> bool {
        let direct = self.direct_groups(user);
        self.reaches_up(&direct, group, &mut Seen::default())
    }

    /// Whether `target` is one of `from` or above one of them, walking up
    /// no further than needed and never through a group in `passed`; the
    /// groups walked are added to `passed`. A walk that fails leaves in
    /// `passed` only groups that do not reach `target`, so a later walk
    /// (from another of a user's groups) can skip them.
    fn reaches_up(&self, from: &[GroupId], target: GroupId, passed: &mut Seen) -> bool {
        if from.contains(&target) {
            return true;
        }
        // Depth first: whether the walk reaches is all that is asked.
        let mut stack: Walk = from.iter().copied().filter(|g| passed.insert(*g)).collect();
        while let Some(g) = stack.pop() {
            for p in self.parents.get(&g).into_iter().flat_map(Parents::iter) {
                if *p == target {
                    return true;
                }
                if passed.insert(*p) {
                    stack.push(*p);
                }
            }
        }
        false
    }

    /// The path the store's recursive statement gives (`Tx::membership_path`):
    /// the user's first direct group (by membership `num`) under `group`,
    /// then from `group` down, at each level the first child (by membership
    /// `num`) that still reaches it.
    pub(crate) fn membership_path(&self, group: GroupId, user: UserId) -> Vec<GroupId> {
        if !self.groups.contains(&group) {
            return Vec::new();
        }
        // Where every group above the user's has one parent (a forest),
        // the one chain up from a direct group is the path, read backwards.
        let direct = self.users.get(&user).into_iter().flat_map(|e| e.groups.iter()).filter_map(|s| self.group_of(s));
        let mut chain = Walk::new();
        for d in direct {
            match self.chain_up(d, group, &mut chain) {
                Chain::Reaches => {
                    chain.reverse();
                    return chain.into_vec();
                }
                Chain::Ends => {}
                Chain::Branches => return self.path_by_walks(group, user),
            }
        }
        Vec::new()
    }

    /// Walks from `from` up to `target`, one parent at a time, while each
    /// group on the way has one parent; `chain` is left holding the groups
    /// walked, bottom first.
    fn chain_up(&self, from: GroupId, target: GroupId, chain: &mut Walk) -> Chain {
        chain.clear();
        let mut at = from;
        loop {
            chain.push(at);
            if at == target {
                return Chain::Reaches;
            }
            // Nesting has no cycles; the bound only keeps a damaged
            // index from looping.
            if chain.len() > self.groups.len() {
                return Chain::Branches;
            }
            let mut parents = self.parents.get(&at).into_iter().flat_map(Parents::iter);
            match (parents.next(), parents.next()) {
                (None, _) => return Chain::Ends,
                (Some(p), None) => at = *p,
                (Some(_), Some(_)) => return Chain::Branches,
            }
        }
    }

    /// [`State::membership_path`] through any shape of nesting.
    fn path_by_walks(&self, group: GroupId, user: UserId) -> Vec<GroupId> {
        // The first direct group that reaches `group`: a walk up from each
        // in turn, never again through a group an earlier walk passed.
        let mut passed = Seen::default();
        let found = self
            .users
            .get(&user)
            .into_iter()
            .flat_map(|e| e.groups.iter())
            .filter_map(|s| self.group_of(s))
            .find(|d| self.reaches_up(&[*d], group, &mut passed));
        let Some(direct) = found else {
            return Vec::new();
        };
        // What is above it, for the walk down (a walk up a forest meets a
        // dozen: a short vector).
        let mut above_direct = Seen::default();
        self.walk_up(&[direct], &mut above_direct);
        let mut path = Vec::with_capacity(above_direct.len().min(Seen::FEW) + 1);
        path.push(group);
        let mut at = group;
        while at != direct && path.len() <= self.groups.len() {
            match self.children(at).find(|c| above_direct.contains(c)) {
                Some(c) => {
                    path.push(c);
                    at = c;
                }
                None => break,
            }
        }
        path
    }

    /// The groups a user is in at any depth, by group `num`.
    /// Borrowed from the index: a page shares the groups it shows.
    pub(crate) fn groups_at_any_depth(&self, user: UserId) -> Vec<&Arc<Group>> {
        let mut out: Vec<&Arc<Group>> = self.walk_up_from_user(user).iter().filter_map(|g| self.group(*g)).collect();
        out.sort_unstable_by_key(|g| g.num);
        out
    }

    /// How many groups the user is in at any depth: the walk of
    /// [`State::groups_at_any_depth`] without putting them in order. Every
    /// group a walk meets is one the index holds: edges are kept only
    /// between groups it holds.
    pub(crate) fn count_groups_at_any_depth(&self, user: UserId) -> usize {
        self.walk_up_from_user(user).len()
    }

    /// The user's direct groups and every group above them, each once.
    fn walk_up_from_user(&self, user: UserId) -> Seen {
        let mut above = Seen::default();
        self.walk_up(&self.direct_groups(user), &mut above);
        above
    }

    /// The users in a group at any depth, as a bitmap of their `num`s.
    pub(crate) fn users_at_any_depth(&self, group: GroupId) -> Arc<RoaringTreemap> {
        if let Some(b) = self.closure.lock().unwrap_or_else(|e| e.into_inner()).get(&group) {
            return b.clone();
        }
        // The direct users of the group and every group below it, then one
        // union of them all (not one growing set merged again for each).
        let mut subtree: Vec<&UserNums> = Vec::new();
        let mut seen: HashSet<GroupId> = [group].into_iter().collect();
        let mut queue = VecDeque::from([group]);
        while let Some(g) = queue.pop_front() {
            if let Some(e) = self.groups.get(&g)
                && !e.user_nums.is_empty()
            {
                subtree.push(&e.user_nums);
            }
            for c in self.children(g) {
                if seen.insert(c) {
                    queue.push_back(c);
                }
            }
        }
        let bits = Arc::new(compact::union(subtree.into_iter()));
        self.closure.lock().unwrap_or_else(|e| e.into_inner()).insert(group, bits.clone());
        bits
    }

    /// A group's direct user members (`children == false`) or child
    /// groups, by membership `num`, as `list_group_memberships` pages them.
    pub(crate) fn group_memberships(
        &self,
        group: GroupId,
        children: bool,
        after: i64,
        offset: u64,
        limit: u32,
    ) -> Vec<Membership> {
        let edges = self.groups.get(&group).map(|e| if children { &e.children } else { &e.users });
        self.page(edges, after, offset, limit)
    }

    /// The usernames of a group's direct users and the names of its child
    /// groups, by membership `num`: kept once built, until they change.
    pub(crate) fn member_names(&self, group: GroupId) -> Arc<MemberNames> {
        if let Some(names) = self.names.lock().unwrap_or_else(|e| e.into_inner()).groups.get(&group) {
            return names.clone();
        }
        let entry = self.groups.get(&group);
        let users = entry
            .into_iter()
            .flat_map(|e| e.users.iter())
            .filter_map(|s| self.user_at(self.links.get(s).member()))
            .map(|u| u.username.clone())
            .collect();
        let groups = self.children(group).filter_map(|g| self.group(g)).map(|g| g.name.clone()).collect();
        let names = Arc::new(MemberNames { users, groups });
        let size = names.users.len() + names.groups.len();
        // Only a group the index holds: one it does not know yet may come.
        if entry.is_some() && size <= NAME_BUDGET {
            let mut cache = self.names.lock().unwrap_or_else(|e| e.into_inner());
            if cache.held + size > NAME_BUDGET {
                *cache = NameCache::default();
            }
            if let Some(old) = cache.groups.insert(group, names.clone()) {
                cache.held -= old.users.len() + old.groups.len();
            }
            cache.held += size;
        }
        names
    }

    /// A user's direct memberships, by `num`.
    pub(crate) fn user_memberships(&self, user: UserId, after: i64, offset: u64, limit: u32) -> Vec<Membership> {
        self.page(self.users.get(&user).map(|e| &e.groups), after, offset, limit)
    }

    pub(crate) fn count_user_memberships(&self, user: UserId) -> i64 {
        self.users.get(&user).map_or(0, |e| e.groups.len() as i64)
    }

    fn page(&self, edges: Option<&Edges>, after: i64, offset: u64, limit: u32) -> Vec<Membership> {
        let Some(edges) = edges else { return Vec::new() };
        let skip = if after == 0 { usize::try_from(offset).unwrap_or(usize::MAX) } else { 0 };
        edges
            .after(after, self.links.all())
            .skip(skip)
            .take(limit as usize)
            .filter_map(|s| self.membership_at(s))
            .collect()
    }

    /// A user's direct membership, whether they are in the group at any
    /// depth, and the best share they hold on it, given to them or to a
    /// group they are directly in (as `group_access`).
    pub(crate) fn access(&self, group: GroupId, user: UserId) -> GroupAccess {
        let membership =
            self.find_slot(group, Member::User(user)).map(|slot| (self.links.role(slot), self.links.permissions(slot)));
        let share = self
            .shares
            .get(&group)
            .into_iter()
            .flatten()
            .filter(|s| match s.grantee {
                Grantee::User(u) => u == user,
                Grantee::Group(g) => self.is_direct_user(g, user),
            })
            .map(|s| s.level)
            .max();
        let member_at_any_depth = membership.is_some() || self.in_group(group, user);
        GroupAccess { membership, member_at_any_depth, share }
    }

    pub(crate) fn shares_of(&self, group: GroupId) -> &[Share] {
        self.shares.get(&group).map_or(&[], |v| v.as_slice())
    }

    /// The groups directly above `group`.
    pub(crate) fn parents_of(&self, group: GroupId) -> Vec<GroupId> {
        self.parents.get(&group).map(|s| s.iter().copied().collect()).unwrap_or_default()
    }

    /// The users directly in `group`.
    pub(crate) fn direct_users(&self, group: GroupId) -> Vec<UserId> {
        self.groups
            .get(&group)
            .into_iter()
            .flat_map(|e| e.users.iter())
            .filter_map(|s| self.user_at(self.links.get(s).member()).map(|u| u.id))
            .collect()
    }

    /// Users whose primary group is `group` (cleared by the store when the
    /// group goes).
    pub(crate) fn users_with_primary(&self, group: GroupId) -> Vec<UserId> {
        self.users.values().filter(|e| e.user.primary_group == Some(group)).map(|e| e.user.id).collect()
    }
}

/// A user's names other than the username that a name prefix matches.
fn other_names(u: &User) -> [Option<&str>; 3] {
    [u.first_name.as_deref(), u.last_name.as_deref(), u.display_name.as_deref()]
}

/// The bound the store's prefix filter uses (`key >= p AND key < p || U+10FFFF`).
fn prefix_end(p: &str) -> String {
    format!("{p}\u{10FFFF}")
}
