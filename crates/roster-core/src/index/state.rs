//! What the index holds, and the questions it answers without the store.
//!
//! Entities are kept as the store returns them (`Arc`s, so a read clones a
//! pointer); around them, the edges both ways, ordered as the store's lists
//! order them (by membership `num`), so a page here is the page the store
//! would give. Membership at any depth is not stored per pair: a user's
//! groups at any depth are a walk up from their direct groups (a few
//! dozen steps in practice), and a group's users at any depth are a bitmap
//! of user `num`s, the union of the direct-user bitmaps (kept with every
//! edge) of the group and the groups below it, built on first use and kept
//! until an edge below the group changes.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use roaring::{MultiOps, RoaringTreemap};

use crate::authz::GroupAccess;
use crate::ids::{GroupId, MembershipId, UserId};
use crate::model::{Grantee, Group, Member, MemberNames, Membership, Share, User};
use crate::validate::fold;

mod lists;

/// The index's hash maps and sets. Their keys are ids and folded names, and
/// a load or a refresh does several lookups per row: foldhash costs a
/// fraction of the standard library's SipHash per lookup and is still seeded
/// per process, so a client cannot aim names at one bucket in advance.
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub(crate) type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

#[derive(Default)]
pub(crate) struct State {
    /// The `seq` of the last event whose changes are in here.
    pub(crate) revision: i64,
    users: HashMap<UserId, Arc<User>>,
    user_nums: HashMap<i64, UserId>,
    /// Users in list order: (folded username, `num`), as the store orders them.
    user_names: BTreeMap<(String, i64), UserId>,
    /// Users by their other folded names (first, last, display), which a
    /// name prefix also matches.
    other_names: [BTreeMap<(String, i64), UserId>; 3],
    /// Users by external id (unique in the store, compared as stored).
    external_ids: HashMap<String, UserId>,
    /// Users by folded email (not unique): (email, `num`).
    emails: BTreeMap<(String, i64), UserId>,
    groups: HashMap<GroupId, Arc<Group>>,
    /// Groups by `num`: creation order, which group lists also page in.
    group_nums: BTreeMap<i64, GroupId>,
    /// Groups in list order: (folded name, `num`).
    group_names: BTreeMap<(String, i64), GroupId>,
    /// Each group's key in `group_names`: a list of given groups (a user's
    /// groups, say) sorts by it without folding each name again.
    group_keys: HashMap<GroupId, (String, i64)>,
    /// Groups by unique id (unique in the store, compared as stored).
    unique_ids: HashMap<String, GroupId>,
    memberships: HashMap<MembershipId, Arc<Membership>>,
    pairs: HashMap<(GroupId, Member), MembershipId>,
    /// A group's direct user members, by membership `num`.
    group_users: HashMap<GroupId, BTreeMap<i64, MembershipId>>,
    /// A group's direct user members as a bitmap of their user `num`s,
    /// kept with `group_users`: a group's users at any depth are the union
    /// of these over its subtree, one bitmap operation per group instead of
    /// two lookups per membership.
    direct_user_nums: HashMap<GroupId, RoaringTreemap>,
    /// A group's direct child groups, by membership `num`.
    group_children: HashMap<GroupId, BTreeMap<i64, MembershipId>>,
    /// A user's direct memberships, by `num`.
    user_groups: HashMap<UserId, BTreeMap<i64, MembershipId>>,
    /// The groups a group is directly nested in.
    parents: HashMap<GroupId, HashSet<GroupId>>,
    /// The shares of each group.
    shares: HashMap<GroupId, Vec<Share>>,
    /// A group's users at any depth, as user `num`s, built on first use.
    closure: Mutex<HashMap<GroupId, Arc<RoaringTreemap>>>,
    /// A group's direct members by name, built on first use and dropped
    /// when its edges or a member's name change: a large group's names
    /// are then one shared list, not a lookup per member.
    names: Mutex<NameCache>,
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
        self.users.get(&id)
    }

    pub(crate) fn group(&self, id: GroupId) -> Option<&Arc<Group>> {
        self.groups.get(&id)
    }

    pub(crate) fn user_by_num(&self, num: i64) -> Option<UserId> {
        self.user_nums.get(&num).copied()
    }

    pub(crate) fn group_by_num(&self, num: i64) -> Option<GroupId> {
        self.group_nums.get(&num).copied()
    }

    pub(crate) fn membership(&self, id: MembershipId) -> Option<&Arc<Membership>> {
        self.memberships.get(&id)
    }

    pub(crate) fn find_membership(&self, group: GroupId, member: Member) -> Option<&Arc<Membership>> {
        self.pairs.get(&(group, member)).and_then(|id| self.memberships.get(id))
    }

    pub(crate) fn counts(&self) -> (usize, usize, usize) {
        (self.users.len(), self.groups.len(), self.memberships.len())
    }

    // ---- changes -------------------------------------------------------

    pub(crate) fn put_user(&mut self, user: User) {
        let old = self.users.get(&user.id).cloned();
        if let Some(old) = &old {
            self.forget_names(old);
        }
        // The groups that name this user by its old name (or not at all).
        if old.is_none_or(|o| o.username != user.username) {
            for g in self.direct_groups(user.id) {
                self.forget_member_names(g);
            }
        }
        self.user_nums.insert(user.num, user.id);
        self.user_names.insert((fold(&user.username), user.num), user.id);
        for (map, name) in self.other_names.iter_mut().zip(other_names(&user)) {
            if let Some(name) = name {
                map.insert((fold(name), user.num), user.id);
            }
        }
        if let Some(x) = &user.external_id {
            self.external_ids.insert(x.clone(), user.id);
        }
        if let Some(e) = &user.email {
            self.emails.insert((fold(e), user.num), user.id);
        }
        self.users.insert(user.id, Arc::new(user));
    }

    fn forget_names(&mut self, user: &User) {
        self.user_names.remove(&(fold(&user.username), user.num));
        for (map, name) in self.other_names.iter_mut().zip(other_names(user)) {
            if let Some(name) = name {
                map.remove(&(fold(name), user.num));
            }
        }
        if let Some(e) = &user.email {
            self.emails.remove(&(fold(e), user.num));
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
        // The memberships first, while the user's `num` is still known.
        let ms: Vec<MembershipId> =
            self.user_groups.get(&id).map(|m| m.values().copied().collect()).unwrap_or_default();
        for m in ms {
            self.remove_membership(m);
        }
        if let Some(u) = self.users.remove(&id) {
            self.user_nums.remove(&u.num);
            self.forget_names(&u);
        }
        self.user_groups.remove(&id);
        for list in self.shares.values_mut() {
            list.retain(|s| s.grantee != Grantee::User(id));
        }
    }

    pub(crate) fn put_group(&mut self, group: Group) {
        let old = self.groups.get(&group.id).cloned();
        if let Some(old) = &old {
            self.forget_group_names(old);
        }
        if old.is_none_or(|o| o.name != group.name) {
            for p in self.parents.get(&group.id).cloned().unwrap_or_default() {
                self.forget_member_names(p);
            }
        }
        self.group_nums.insert(group.num, group.id);
        let key = (fold(&group.name), group.num);
        self.group_names.insert(key.clone(), group.id);
        self.group_keys.insert(group.id, key);
        if let Some(x) = &group.unique_id {
            self.unique_ids.insert(x.clone(), group.id);
        }
        self.groups.insert(group.id, Arc::new(group));
    }

    fn forget_group_names(&mut self, group: &Group) {
        self.group_names.remove(&(fold(&group.name), group.num));
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
        let mut ms: Vec<MembershipId> = Vec::new();
        for map in [self.group_users.get(&id), self.group_children.get(&id)].into_iter().flatten() {
            ms.extend(map.values().copied());
        }
        for parent in self.parents.get(&id).cloned().unwrap_or_default() {
            if let Some(m) = self.pairs.get(&(parent, Member::Group(id))) {
                ms.push(*m);
            }
        }
        self.invalidate_above(id);
        self.forget_member_names(id);
        for m in ms {
            self.remove_membership(m);
        }
        if let Some(g) = self.groups.remove(&id) {
            self.group_nums.remove(&g.num);
            self.forget_group_names(&g);
        }
        self.group_users.remove(&id);
        self.direct_user_nums.remove(&id);
        self.group_children.remove(&id);
        self.parents.remove(&id);
        self.shares.remove(&id);
        for list in self.shares.values_mut() {
            list.retain(|s| s.grantee != Grantee::Group(id));
        }
    }

    pub(crate) fn put_membership(&mut self, m: Membership) {
        if let Some(old) = self.pairs.get(&(m.group, m.member)).copied() {
            self.remove_membership(old);
        }
        if self.memberships.contains_key(&m.id) {
            self.remove_membership(m.id);
        }
        self.invalidate_above(m.group);
        self.forget_member_names(m.group);
        self.pairs.insert((m.group, m.member), m.id);
        match m.member {
            Member::User(u) => {
                self.group_users.entry(m.group).or_default().insert(m.num, m.id);
                self.user_groups.entry(u).or_default().insert(m.num, m.id);
                // Entities are put before memberships (load and refresh
                // alike), so the user is known; one that is not is left
                // out, as the users at any depth always left it out.
                if let Some(user) = self.users.get(&u) {
                    self.direct_user_nums.entry(m.group).or_default().insert(user.num as u64);
                }
            }
            Member::Group(c) => {
                self.group_children.entry(m.group).or_default().insert(m.num, m.id);
                self.parents.entry(c).or_default().insert(m.group);
            }
        }
        self.memberships.insert(m.id, Arc::new(m));
    }

    pub(crate) fn remove_membership(&mut self, id: MembershipId) {
        let Some(m) = self.memberships.remove(&id) else { return };
        self.invalidate_above(m.group);
        self.forget_member_names(m.group);
        self.pairs.remove(&(m.group, m.member));
        match m.member {
            Member::User(u) => {
                remove_entry(&mut self.group_users, m.group, m.num);
                remove_entry(&mut self.user_groups, u, m.num);
                if let Some(user) = self.users.get(&u)
                    && let Some(bits) = self.direct_user_nums.get_mut(&m.group)
                {
                    bits.remove(user.num as u64);
                    if bits.is_empty() {
                        self.direct_user_nums.remove(&m.group);
                    }
                }
            }
            Member::Group(c) => {
                remove_entry(&mut self.group_children, m.group, m.num);
                if let Some(set) = self.parents.get_mut(&c) {
                    set.remove(&m.group);
                    if set.is_empty() {
                        self.parents.remove(&c);
                    }
                }
            }
        }
    }

    /// Replaces every share of `group`.
    pub(crate) fn set_shares(&mut self, group: GroupId, shares: Vec<Share>) {
        if shares.is_empty() {
            self.shares.remove(&group);
        } else {
            self.shares.insert(group, shares);
        }
    }

    /// A user's direct memberships as the index holds them (a deleted
    /// user's groups, whose counts the deletion moved).
    pub(crate) fn memberships_of_user(&self, user: UserId) -> Vec<MembershipId> {
        self.user_groups.get(&user).map(|m| m.values().copied().collect()).unwrap_or_default()
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
        let mut seen: HashSet<GroupId> = from.iter().copied().collect();
        let mut queue: VecDeque<GroupId> = from.iter().copied().collect();
        while let Some(g) = queue.pop_front() {
            for p in self.parents.get(&g).into_iter().flatten() {
                if seen.insert(*p) {
                    queue.push_back(*p);
                }
            }
        }
        seen
    }

    /// The groups a user is directly in, in the order they joined.
    pub(crate) fn direct_groups(&self, user: UserId) -> Vec<GroupId> {
        self.user_groups
            .get(&user)
            .map(|ms| ms.values().filter_map(|m| self.memberships.get(m)).map(|m| m.group).collect())
            .unwrap_or_default()
    }

    /// Whether `to` is `from` or nested below it at any depth.
    pub(crate) fn reaches(&self, from: GroupId, to: GroupId) -> bool {
        from == to || self.ancestors(&[to]).contains(&from)
    }

    /// Whether the user is in the group at any depth.
    pub(crate) fn in_group(&self, group: GroupId, user: UserId) -> bool {
        let direct = self.direct_groups(user);
        !direct.is_empty() && self.ancestors(&direct).contains(&group)
    }

    /// The path the store's recursive statement gives (`Tx::membership_path`):
    /// the user's first direct group (by membership `num`) under `group`,
    /// then from `group` down, at each level the first child (by membership
    /// `num`) that still reaches it.
    pub(crate) fn membership_path(&self, group: GroupId, user: UserId) -> Vec<GroupId> {
        if !self.groups.contains_key(&group) {
            return Vec::new();
        }
        // The first direct group that reaches `group`, with what is above it
        // (one walk up each, kept for the walk down).
        let found = self.direct_groups(user).into_iter().find_map(|d| {
            let above = self.ancestors(&[d]);
            above.contains(&group).then_some((d, above))
        });
        let Some((direct, above_direct)) = found else {
            return Vec::new();
        };
        let mut path = vec![group];
        let mut at = group;
        while at != direct && path.len() <= self.groups.len() {
            let next = self.group_children.get(&at).and_then(|children| {
                children
                    .values()
                    .filter_map(|m| self.memberships.get(m))
                    .filter_map(|m| match m.member {
                        Member::Group(c) => Some(c),
                        Member::User(_) => None,
                    })
                    .find(|c| above_direct.contains(c))
            });
            match next {
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
    pub(crate) fn groups_at_any_depth(&self, user: UserId) -> Vec<Arc<Group>> {
        let direct = self.direct_groups(user);
        if direct.is_empty() {
            return Vec::new();
        }
        let mut out: Vec<Arc<Group>> =
            self.ancestors(&direct).into_iter().filter_map(|g| self.groups.get(&g).cloned()).collect();
        out.sort_by_key(|g| g.num);
        out
    }

    /// The users in a group at any depth, as a bitmap of their `num`s.
    pub(crate) fn users_at_any_depth(&self, group: GroupId) -> Arc<RoaringTreemap> {
        if let Some(b) = self.closure.lock().unwrap_or_else(|e| e.into_inner()).get(&group) {
            return b.clone();
        }
        // The direct-user bitmaps of the group and every group below it,
        // then one union of them all (container by container, not one
        // growing set merged again for each group).
        let mut subtree: Vec<&RoaringTreemap> = Vec::new();
        let mut seen: HashSet<GroupId> = [group].into_iter().collect();
        let mut queue = VecDeque::from([group]);
        while let Some(g) = queue.pop_front() {
            if let Some(direct) = self.direct_user_nums.get(&g) {
                subtree.push(direct);
            }
            for m in self.group_children.get(&g).into_iter().flat_map(|ms| ms.values()) {
                if let Some(Member::Group(c)) = self.memberships.get(m).map(|m| m.member)
                    && seen.insert(c)
                {
                    queue.push_back(c);
                }
            }
        }
        let bits = Arc::new(match subtree.as_slice() {
            [one] => (*one).clone(),
            many => many.iter().copied().union(),
        });
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
        let map = if children { &self.group_children } else { &self.group_users };
        self.page(map.get(&group), after, offset, limit)
    }

    /// The usernames of a group's direct users and the names of its child
    /// groups, by membership `num`: kept once built, until they change.
    pub(crate) fn member_names(&self, group: GroupId) -> Arc<MemberNames> {
        if let Some(names) = self.names.lock().unwrap_or_else(|e| e.into_inner()).groups.get(&group) {
            return names.clone();
        }
        let members = |map: &HashMap<GroupId, BTreeMap<i64, MembershipId>>| -> Vec<Member> {
            map.get(&group)
                .into_iter()
                .flat_map(|ms| ms.values())
                .filter_map(|m| self.memberships.get(m))
                .map(|m| m.member)
                .collect()
        };
        let users = members(&self.group_users)
            .into_iter()
            .filter_map(|m| match m {
                Member::User(u) => self.users.get(&u).map(|u| u.username.clone()),
                Member::Group(_) => None,
            })
            .collect();
        let groups = members(&self.group_children)
            .into_iter()
            .filter_map(|m| match m {
                Member::Group(g) => self.groups.get(&g).map(|g| g.name.clone()),
                Member::User(_) => None,
            })
            .collect();
        let names = Arc::new(MemberNames { users, groups });
        let size = names.users.len() + names.groups.len();
        // Only a group the index holds: one it does not know yet may come.
        if self.groups.contains_key(&group) && size <= NAME_BUDGET {
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
        self.page(self.user_groups.get(&user), after, offset, limit)
    }

    pub(crate) fn count_user_memberships(&self, user: UserId) -> i64 {
        self.user_groups.get(&user).map_or(0, |m| m.len() as i64)
    }

    fn page(&self, map: Option<&BTreeMap<i64, MembershipId>>, after: i64, offset: u64, limit: u32) -> Vec<Membership> {
        let Some(map) = map else { return Vec::new() };
        let skip = if after == 0 { usize::try_from(offset).unwrap_or(usize::MAX) } else { 0 };
        map.range(after.saturating_add(1)..)
            .skip(skip)
            .take(limit as usize)
            .filter_map(|(_, id)| self.memberships.get(id))
            .map(|m| (**m).clone())
            .collect()
    }

    /// A user's direct membership, whether they are in the group at any
    /// depth, and the best share they hold on it, given to them or to a
    /// group they are directly in (as `group_access`).
    pub(crate) fn access(&self, group: GroupId, user: UserId) -> GroupAccess {
        let membership = self.find_membership(group, Member::User(user)).map(|m| (m.role, m.permissions.clone()));
        let share = self
            .shares
            .get(&group)
            .into_iter()
            .flatten()
            .filter(|s| match s.grantee {
                Grantee::User(u) => u == user,
                Grantee::Group(g) => self.pairs.contains_key(&(g, Member::User(user))),
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
        self.group_users
            .get(&group)
            .into_iter()
            .flat_map(|ms| ms.values())
            .filter_map(|m| match self.memberships.get(m).map(|m| m.member) {
                Some(Member::User(u)) => Some(u),
                _ => None,
            })
            .collect()
    }

    /// Users whose primary group is `group` (cleared by the store when the
    /// group goes).
    pub(crate) fn users_with_primary(&self, group: GroupId) -> Vec<UserId> {
        self.users.values().filter(|u| u.primary_group == Some(group)).map(|u| u.id).collect()
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

fn remove_entry<K: std::hash::Hash + Eq>(map: &mut HashMap<K, BTreeMap<i64, MembershipId>>, key: K, num: i64) {
    if let Some(inner) = map.get_mut(&key) {
        inner.remove(&num);
        if inner.is_empty() {
            map.remove(&key);
        }
    }
}
