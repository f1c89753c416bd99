//! Events in, index changes out. An event names what changed, not the
//! whole of it (counters, stamps and cascades move beside it), so the index
//! does not replay an event's snapshot: it reads again, in the transaction
//! that listed the events, everything the events touched, and puts what it
//! finds (or removes what is gone). Reading the current row is idempotent
//! and order-free within a batch, which is what makes "apply this batch"
//! safe to repeat.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use serde_json::Value;

use super::state::State;
use crate::error::StoreError;
use crate::ids::{GroupId, UserId};
use crate::model::{Event, Group, Member, Membership, Share, User};
use crate::store::Tx;

/// What a batch of events touched.
#[derive(Default, Debug)]
pub(crate) struct Touched {
    users: BTreeSet<UserId>,
    groups: BTreeSet<GroupId>,
    pairs: BTreeSet<(GroupId, MemberKey)>,
    shares: BTreeSet<GroupId>,
    /// A key was revoked or a user changed: remembered keys must go.
    pub(crate) credentials: bool,
    /// A webhook subscription changed (its secret, say): the delivery
    /// worker's copies must be read again.
    pub(crate) webhooks: bool,
}

/// `Member` with an order, for a set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum MemberKey {
    User(UserId),
    Group(GroupId),
}

impl From<MemberKey> for Member {
    fn from(k: MemberKey) -> Self {
        match k {
            MemberKey::User(u) => Member::User(u),
            MemberKey::Group(g) => Member::Group(g),
        }
    }
}

fn uuid_at(v: Option<&Value>, field: &str) -> Option<uuid::Uuid> {
    v?.get(field)?.as_str()?.parse().ok()
}

impl Touched {
    /// Notes what `event` changed. Kinds the index does not hold (roles,
    /// organizations, projects, jobs) touch nothing.
    pub(crate) fn note(&mut self, event: &Event) {
        let target = event.target_id.parse::<uuid::Uuid>().ok();
        let snapshot = event.after.as_ref().or(event.before.as_ref());
        match (event.target_type.as_str(), event.action.as_str()) {
            ("user", action) => {
                if let Some(id) = target {
                    self.users.insert(UserId(id));
                }
                self.credentials |= action != "user.created";
            }
            ("group", action) if action.starts_with("share.") => {
                if let Some(id) = target.or_else(|| uuid_at(snapshot, "group_id")) {
                    self.shares.insert(GroupId(id));
                }
            }
            ("group", _) => {
                if let Some(id) = target {
                    self.groups.insert(GroupId(id));
                }
            }
            ("membership", _) => {
                let Some(group) = uuid_at(snapshot, "group_id").map(GroupId) else { return };
                let Some(member) = uuid_at(snapshot, "member_id") else { return };
                let member = match snapshot.and_then(|s| s.get("member_type")).and_then(Value::as_str) {
                    Some("group") => {
                        self.groups.insert(GroupId(member));
                        MemberKey::Group(GroupId(member))
                    }
                    _ => {
                        self.users.insert(UserId(member));
                        MemberKey::User(UserId(member))
                    }
                };
                // The group's counters and version move with its members.
                self.groups.insert(group);
                self.pairs.insert((group, member));
            }
            ("key", "key.deleted") => self.credentials = true,
            ("webhook", _) => self.webhooks = true,
            _ => {}
        }
    }

    /// Adds everything `other` touched.
    pub(crate) fn absorb(&mut self, other: &Touched) {
        self.users.extend(other.users.iter().copied());
        self.groups.extend(other.groups.iter().copied());
        self.pairs.extend(other.pairs.iter().copied());
        self.shares.extend(other.shares.iter().copied());
    }

    pub(crate) fn users(&self) -> impl Iterator<Item = UserId> + '_ {
        self.users.iter().copied()
    }

    pub(crate) fn groups(&self) -> impl Iterator<Item = GroupId> + '_ {
        self.groups.iter().copied()
    }

    pub(crate) fn pairs(&self) -> impl Iterator<Item = (GroupId, Member)> + '_ {
        self.pairs.iter().map(|(g, m)| (*g, Member::from(*m)))
    }

    /// Notes a change to `user` (tests change a state directly).
    #[cfg(test)]
    pub(crate) fn user(&mut self, user: UserId) {
        self.users.insert(user);
    }

    #[cfg(test)]
    pub(crate) fn group(&mut self, group: GroupId) {
        self.groups.insert(group);
    }

    /// Notes a change to a pair, and so to both its ends (as [`Touched::note`]).
    #[cfg(test)]
    pub(crate) fn pair(&mut self, group: GroupId, member: Member) {
        self.groups.insert(group);
        let key = match member {
            Member::User(u) => {
                self.users.insert(u);
                MemberKey::User(u)
            }
            Member::Group(g) => {
                self.groups.insert(g);
                MemberKey::Group(g)
            }
        };
        self.pairs.insert((group, key));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty() && self.pairs.is_empty() && self.shares.is_empty()
    }
}

/// The current rows of everything touched, read in one transaction.
pub(crate) struct Fresh {
    users: Vec<UserId>,
    found_users: Vec<User>,
    groups: Vec<GroupId>,
    found_groups: Vec<Group>,
    pairs: Vec<(GroupId, Member)>,
    found_memberships: Vec<Membership>,
    shares: Vec<(GroupId, Vec<Share>)>,
}

/// How many rows one statement of a refresh asks for.
const CHUNK: usize = 500;

impl Fresh {
    pub(crate) async fn read(tx: &mut dyn Tx, touched: &Touched) -> Result<Self, StoreError> {
        let users: Vec<UserId> = touched.users.iter().copied().collect();
        let groups: Vec<GroupId> = touched.groups.iter().copied().collect();
        let mut found_users = Vec::with_capacity(users.len());
        for chunk in users.chunks(CHUNK) {
            // Read from the store: each is the only holder of its user.
            found_users.extend(tx.get_users(chunk).await?.into_iter().map(Arc::unwrap_or_clone));
        }
        let mut found_groups = Vec::with_capacity(groups.len());
        for chunk in groups.chunks(CHUNK) {
            found_groups.extend(tx.get_groups(chunk).await?);
        }
        let pairs: Vec<(GroupId, Member)> = touched.pairs.iter().map(|(g, m)| (*g, Member::from(*m))).collect();
        let user_pairs: Vec<(GroupId, UserId)> = pairs
            .iter()
            .filter_map(|(g, m)| match m {
                Member::User(u) => Some((*g, *u)),
                Member::Group(_) => None,
            })
            .collect();
        let mut found_memberships = Vec::with_capacity(pairs.len());
        for chunk in user_pairs.chunks(CHUNK) {
            found_memberships.extend(tx.find_user_memberships(chunk).await?);
        }
        for (g, m) in &pairs {
            if let Member::Group(_) = m
                && let Some(found) = tx.find_membership(*g, *m).await?
            {
                found_memberships.push(found);
            }
        }
        let mut shares = Vec::with_capacity(touched.shares.len());
        for group in &touched.shares {
            let mut all = Vec::new();
            loop {
                let after = all.last().map_or(0, |s: &Share| s.num);
                let page = tx.list_shares(*group, after, 1000).await?;
                let done = page.len() < 1000;
                all.extend(page);
                if done {
                    break;
                }
            }
            shares.push((*group, all));
        }
        Ok(Self { users, found_users, groups, found_groups, pairs, found_memberships, shares })
    }

    /// Puts what was found and removes what is gone: entities first (so a
    /// membership always finds its ends), then cascades of what went, then
    /// the pairs and shares.
    pub(crate) fn apply(self, state: &mut State) {
        let found: HashSet<UserId> = self.found_users.iter().map(|u| u.id).collect();
        for u in self.found_users {
            state.put_user(u);
        }
        for id in self.users.iter().filter(|id| !found.contains(id)) {
            state.remove_user(*id);
        }
        let found: HashSet<GroupId> = self.found_groups.iter().map(|g| g.id).collect();
        let gone: Vec<GroupId> = self.groups.iter().copied().filter(|id| !found.contains(id)).collect();
        for g in self.found_groups {
            state.put_group(g);
        }
        for id in gone {
            state.remove_group(id);
        }
        let found: HashSet<(GroupId, Member)> = self.found_memberships.iter().map(|m| (m.group, m.member)).collect();
        for (g, m) in self.pairs.iter().filter(|p| !found.contains(p)) {
            if let Some(existing) = state.find_membership(*g, *m).map(|m| m.id) {
                state.remove_membership(existing);
            }
        }
        for m in self.found_memberships {
            state.put_membership(m);
        }
        for (group, shares) in self.shares {
            if state.group(group).is_some() {
                state.set_shares(group, shares);
            }
        }
    }
}

/// What a deletion cascades to in rows the index keeps but no event names:
/// a deleted group's parents (their child counts), its direct members
/// (their groups stamp) and the users whose primary group it was; a deleted user's groups (their member counts).
/// Added to the touched set before the refresh reads.
pub(crate) fn cascades(state: &State, events: &[Event], touched: &mut Touched) {
    for e in events {
        let Ok(id) = e.target_id.parse::<uuid::Uuid>() else { continue };
        match e.action.as_str() {
            "group.deleted" => {
                let g = GroupId(id);
                touched.groups.extend(state.parents_of(g));
                touched.users.extend(state.users_with_primary(g));
                // Its direct members lost a group: their groups stamp moved.
                touched.users.extend(state.direct_users(g));
            }
            "user.deleted" => {
                touched.groups.extend(state.direct_groups(UserId(id)));
            }
            _ => {}
        }
    }
}
