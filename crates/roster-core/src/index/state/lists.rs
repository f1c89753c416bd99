//! Lookups by name or outside id, and filtered lists of users and groups,
//! answered as the store's statements answer them
//! (`roster-store/src/common/tx/{users,groups}.rs`): the same rows, in the
//! same order, with the same keyset and offset semantics and totals.
//!
//! A list narrows its candidates with what the index keys (an external
//! id, names by prefix or piece, a group's direct members, a user's groups
//! and shares), tests every other condition on each candidate, and orders
//! them as the store's `ORDER BY`. Without a narrowing condition it walks
//! the name order from where the page starts. Keys compare as Rust
//! strings, bytewise: the store's `*_key` columns are folded in Rust and
//! compared bytewise too (`COLLATE "C"` on PostgreSQL, `BINARY` on SQLite).

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::ops::Bound;

use super::{HashSet, Key, State, key, prefix_end};
use crate::cursor::Keyset;
use crate::ids::{GroupId, UserId};
use crate::model::{Grantee, Group, SiteRole, User};
use crate::store::{GroupOrder, GroupScope, ListSpec, RoleMatch, UserFilter};
use crate::validate::fold;

/// A folded prefix as the store's range test: `key >= p AND key < p || U+10FFFF`.
struct Prefix {
    start: Box<str>,
    end: Box<str>,
}

impl Prefix {
    fn new(p: &str) -> Self {
        Self { start: p.into(), end: prefix_end(p).into_boxed_str() }
    }

    fn holds(&self, key: &str) -> bool {
        key >= &*self.start && key < &*self.end
    }
}

/// The exact key of a name-ordered map (names are unique by key).
fn by_key<T: Copy>(map: &BTreeMap<Key, T>, key: &str) -> Option<T> {
    map.range((Box::<str>::from(key), i64::MIN)..).next().filter(|((k, _), _)| &**k == key).map(|(_, v)| *v)
}

/// Where a page starts, as the store's `push_list_ordered`: a keyset
/// position only in the keyset order (name ascending), an offset only
/// without a keyset position (even one the order ignores).
struct Window<'a> {
    after: Option<&'a Keyset>,
    skip: usize,
    limit: usize,
}

impl<'a> Window<'a> {
    fn new(spec: &'a ListSpec, keyset_order: bool) -> Self {
        Self {
            after: spec.after.as_ref().filter(|_| keyset_order),
            skip: if spec.after.is_none() { usize::try_from(spec.offset).unwrap_or(usize::MAX) } else { 0 },
            limit: spec.limit as usize,
        }
    }

    fn is_after(&self, key: &Key) -> bool {
        self.after.is_none_or(|k| (&*key.0, key.1) > (k.key.as_str(), k.num))
    }

    fn page<'k, T>(&self, rows: impl Iterator<Item = (&'k Key, T)>) -> Vec<T> {
        rows.filter(|(k, _)| self.is_after(k)).skip(self.skip).take(self.limit).map(|(_, v)| v).collect()
    }
}

/// The entries of a name-ordered map from where a walk may start: past a
/// keyset position, from a prefix; in either direction.
fn walk<'a, T: Copy + 'a>(
    map: &'a BTreeMap<Key, T>,
    prefix: Option<&Prefix>,
    after: Option<&Keyset>,
    descending: bool,
) -> Box<dyn Iterator<Item = (&'a Key, T)> + 'a> {
    let from_prefix = prefix.map(|p| (p.start.clone(), i64::MIN));
    let from_after = after.map(|k| (k.key.as_str().into(), k.num));
    let start = match (from_prefix, from_after) {
        (Some(p), Some(a)) if p > a => Bound::Included(p),
        (_, Some(a)) => Bound::Excluded(a),
        (Some(p), None) => Bound::Included(p),
        (None, None) => Bound::Unbounded,
    };
    let end = match prefix {
        Some(p) => Bound::Excluded((p.end.clone(), i64::MIN)),
        None => Bound::Unbounded,
    };
    let rows = map.range((start, end)).map(|(k, v)| (k, *v));
    if descending { Box::new(rows.rev()) } else { Box::new(rows) }
}

/// Whether a user's role matches one of `roles` (none: any user).
fn role_matches(u: &User, roles: &[RoleMatch]) -> bool {
    roles.is_empty()
        || roles.iter().any(|r| match r {
            RoleMatch::SiteAdmin => u.site_role == SiteRole::Admin,
            RoleMatch::Label { label, or_unlabelled } => {
                u.site_role != SiteRole::Admin
                    && match &u.role_label {
                        Some(l) => l == label,
                        None => *or_unlabelled,
                    }
            }
        })
}

/// Keeps in `set` only what is also in `other` (`None`: everything so far).
fn narrow<T: std::hash::Hash + Eq>(set: &mut Option<HashSet<T>>, other: HashSet<T>) {
    *set = Some(match set.take() {
        None => other,
        Some(s) => s.into_iter().filter(|x| other.contains(x)).collect(),
    });
}

impl State {
    pub(crate) fn user_by_username(&self, username: &str) -> Option<UserId> {
        by_key(&self.user_names, &fold(username)).and_then(|h| self.user_id_at(h))
    }

    pub(crate) fn group_by_name(&self, name: &str) -> Option<GroupId> {
        by_key(&self.group_names, &fold(name))
    }

    /// The users whose email folds to `email`'s fold, in `num` order.
    pub(crate) fn users_by_email(&self, email: &str) -> Vec<UserId> {
        let wanted = fold(email);
        let mut found: Vec<&User> = self
            .emails
            .iter_hash(self.hasher.hash_one(&wanted))
            .filter_map(|h| self.user_at(*h))
            .filter(|u| u.email.as_deref().is_some_and(|e| fold(e) == wanted))
            .map(|u| &**u)
            .collect();
        found.sort_unstable_by_key(|u| u.num);
        found.into_iter().map(|u| u.id).collect()
    }

    pub(crate) fn user_by_external_id(&self, external_id: &str) -> Option<UserId> {
        self.external_ids.get(external_id).copied()
    }

    pub(crate) fn group_by_unique_id(&self, unique_id: &str) -> Option<GroupId> {
        self.unique_ids.get(unique_id).copied()
    }

    /// The users with a folded name (username, first, last or display
    /// name) that passes `test`.
    fn users_by_names(&self, test: impl Fn(&str) -> bool) -> HashSet<UserId> {
        std::iter::once(&self.user_names)
            .chain(self.other_names.iter())
            .flat_map(|m| m.iter())
            .filter(|((name, _), _)| test(name))
            .filter_map(|(_, h)| self.user_id_at(*h))
            .collect()
    }

    /// The users `filter` keeps, before the conditions tested one by one:
    /// `None` when nothing keyed narrows them.
    fn user_candidates(&self, filter: &UserFilter) -> Option<HashSet<UserId>> {
        let mut set: Option<HashSet<UserId>> = None;
        if let Some(x) = &filter.external_id {
            narrow(&mut set, self.user_by_external_id(x).into_iter().collect());
        }
        if !filter.in_groups.is_empty() {
            let members = filter.in_groups.iter().flat_map(|g| self.direct_users(*g)).collect();
            narrow(&mut set, members);
        }
        if let Some(p) = &filter.name_prefix {
            let p = Prefix::new(p);
            let mut found = HashSet::default();
            for map in std::iter::once(&self.user_names).chain(self.other_names.iter()) {
                found.extend(
                    map.range((p.start.clone(), i64::MIN)..)
                        .take_while(|((k, _), _)| p.holds(k))
                        .filter_map(|(_, h)| self.user_id_at(*h)),
                );
            }
            narrow(&mut set, found);
        }
        if let Some(q) = &filter.name_contains {
            narrow(&mut set, self.users_by_names(|name| name.contains(q.as_str())));
        }
        set
    }

    /// What is left of a user list's conditions once its candidates are
    /// known (tested again on all of them: the keyed ones hold by then).
    fn user_passes(&self, spec: &ListSpec, filter: &UserFilter, key: &str, u: &User) -> bool {
        spec.prefix.as_deref().is_none_or(|p| Prefix::new(p).holds(key))
            && spec.contains.as_deref().is_none_or(|q| key.contains(q))
            && filter.active.is_none_or(|a| u.active == a)
            && role_matches(u, &filter.roles)
    }

    /// The users of `list_users` (`page`) or all of them (for the count),
    /// in the store's order: username key and `num`, ascending or not.
    fn users_listed<'a>(&'a self, spec: &ListSpec, filter: &UserFilter, window: Option<&Window<'a>>) -> Vec<UserId> {
        let candidates = self.user_candidates(filter);
        let passes = |key: &Key, id: UserId| {
            candidates.as_ref().is_none_or(|c| c.contains(&id))
                && self.user(id).is_some_and(|u| self.user_passes(spec, filter, &key.0, u))
        };
        match &candidates {
            // Few enough to sort: the keys of the candidates.
            Some(c) => {
                let mut rows: Vec<(&Key, UserId)> = c
                    .iter()
                    .filter_map(|id| self.user(*id))
                    .filter_map(|u| self.user_names.get_key_value(&key(&u.username, u.num)).map(|(k, _)| (k, u.id)))
                    .filter(|(k, id)| passes(k, *id))
                    .collect();
                rows.sort_unstable_by(|a, b| a.0.cmp(b.0));
                if filter.descending {
                    rows.reverse();
                }
                match window {
                    Some(w) => w.page(rows.into_iter()),
                    None => rows.into_iter().map(|(_, id)| id).collect(),
                }
            }
            None => {
                let rows = walk(&self.user_names, None, window.and_then(|w| w.after), filter.descending)
                    .filter_map(|(k, h)| self.user_id_at(h).map(|id| (k, id)))
                    .filter(|(k, id)| passes(k, *id));
                match window {
                    Some(w) => w.page(rows),
                    None => rows.map(|(_, id)| id).collect(),
                }
            }
        }
    }

    /// A page of `list_users`: keyset positions only ascending.
    pub(crate) fn list_users(&self, spec: &ListSpec, filter: &UserFilter) -> Vec<UserId> {
        let window = Window::new(spec, !filter.descending);
        self.users_listed(spec, filter, Some(&window))
    }

    /// `count_users_matching`: every row the filters keep, no position.
    pub(crate) fn count_users(&self, spec: &ListSpec, filter: &UserFilter) -> usize {
        self.users_listed(spec, filter, None).len()
    }

    /// The direct members of each group that are active users, a count for
    /// each group asked for, as the store's `count_active_members`: a group
    /// asked for twice has its count at its first place only, 0 after.
    pub(crate) fn count_active_members(&self, groups: &[GroupId]) -> Vec<(GroupId, i64)> {
        let mut seen = HashSet::default();
        groups
            .iter()
            .map(|g| {
                if !seen.insert(*g) {
                    return (*g, 0);
                }
                let n = self.direct_users(*g).into_iter().filter_map(|u| self.user(u)).filter(|u| u.active).count();
                (*g, n as i64)
            })
            .collect()
    }

    /// The groups with a share to `user` or to a group `user` is directly
    /// in, at `level` or above when given (the store's `shares` subqueries).
    fn groups_shared_to(&self, user: UserId, level: Option<crate::model::ShareLevel>) -> HashSet<GroupId> {
        self.shares
            .iter()
            .filter(|(_, list)| {
                list.iter().any(|s| {
                    level.is_none_or(|l| s.level >= l)
                        && match s.grantee {
                            Grantee::User(u) => u == user,
                            Grantee::Group(g) => self.is_direct_user(g, user),
                        }
                })
            })
            .map(|(g, _)| *g)
            .collect()
    }

    /// The groups `scope` keeps by what the index keys; `None`: all.
    fn group_candidates(&self, scope: &GroupScope) -> Option<HashSet<GroupId>> {
        let mut set: Option<HashSet<GroupId>> = None;
        if !scope.members_any.is_empty() {
            narrow(&mut set, scope.members_any.iter().flat_map(|u| self.direct_groups(*u)).collect());
        }
        if !scope.members_at_any_depth.is_empty() {
            let direct: Vec<GroupId> = scope.members_at_any_depth.iter().flat_map(|u| self.direct_groups(*u)).collect();
            narrow(&mut set, self.ancestors(&direct));
        }
        if !scope.children_any.is_empty() {
            narrow(&mut set, scope.children_any.iter().flat_map(|g| self.parents_of(*g)).collect());
        }
        if let Some(u) = scope.visible_to {
            let mut visible = self.groups_shared_to(u, None);
            visible.extend(self.ancestors(&self.direct_groups(u)));
            narrow(&mut set, visible);
        }
        if let Some((u, level)) = scope.shared_with {
            narrow(&mut set, self.groups_shared_to(u, Some(level)));
        }
        set
    }

    fn group_passes(&self, spec: &ListSpec, scope: &GroupScope, key: &str, g: &Group) -> bool {
        spec.prefix.as_deref().is_none_or(|p| Prefix::new(p).holds(key))
            && spec.contains.as_deref().is_none_or(|q| key.contains(q))
            && scope.org.is_none_or(|o| g.org == o)
    }

    fn groups_listed<'a>(&'a self, spec: &ListSpec, scope: &GroupScope, window: Option<&Window<'a>>) -> Vec<GroupId> {
        let candidates = self.group_candidates(scope);
        let passes = |key: &Key, id: GroupId| {
            candidates.as_ref().is_none_or(|c| c.contains(&id))
                && self.group(id).is_some_and(|g| self.group_passes(spec, scope, &key.0, g))
        };
        let finish = |rows: Vec<(&'a Key, GroupId)>| match window {
            Some(w) => w.page(rows.into_iter()),
            None => rows.into_iter().map(|(_, id)| id).collect(),
        };
        let rows: Vec<(&Key, GroupId)> = match (&candidates, scope.order) {
            (Some(c), _) => c
                .iter()
                .filter_map(|id| self.group_keys.get(id).map(|k| (k, *id)))
                .filter(|(k, id)| passes(k, *id))
                .collect(),
            (None, GroupOrder::Name) => {
                // Walked in order from where the page starts.
                let prefix = spec.prefix.as_deref().map(Prefix::new);
                let rows = walk(&self.group_names, prefix.as_ref(), window.and_then(|w| w.after), scope.descending)
                    .filter(|(k, id)| passes(k, *id));
                return match window {
                    Some(w) => w.page(rows),
                    None => rows.map(|(_, id)| id).collect(),
                };
            }
            (None, GroupOrder::Created) => {
                // Walked in `num` order, from the end when descending: a
                // page costs its offset and size, not a sort of all groups.
                let by_num: Box<dyn Iterator<Item = &GroupId>> = if scope.descending {
                    Box::new(self.group_nums.values().rev())
                } else {
                    Box::new(self.group_nums.values())
                };
                let rows =
                    by_num.filter_map(|id| self.group_keys.get(id).map(|k| (k, *id))).filter(|(k, id)| passes(k, *id));
                return match window {
                    Some(w) => w.page(rows),
                    None => rows.map(|(_, id)| id).collect(),
                };
            }
        };
        let mut rows = rows;
        match scope.order {
            GroupOrder::Name => rows.sort_unstable_by(|a, b| a.0.cmp(b.0)),
            GroupOrder::Created => rows.sort_unstable_by_key(|(k, _)| k.1),
        }
        if scope.descending {
            rows.reverse();
        }
        finish(rows)
    }

    /// A page of `list_groups`: keyset positions only by name ascending.
    pub(crate) fn list_groups(&self, spec: &ListSpec, scope: &GroupScope) -> Vec<GroupId> {
        let window = Window::new(spec, scope.order == GroupOrder::Name && !scope.descending);
        self.groups_listed(spec, scope, Some(&window))
    }

    /// `count_groups_matching`: every row the scope and name filters keep.
    pub(crate) fn count_groups(&self, spec: &ListSpec, scope: &GroupScope) -> usize {
        self.groups_listed(spec, scope, None).len()
    }
}

#[cfg(test)]
mod tests;
