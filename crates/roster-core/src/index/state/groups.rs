//! Small sets of groups: the groups a walk up the nesting graph met, and a
//! group's parents. Both are usually a handful (a forest a dozen deep; one
//! parent), so a short vector searched in turn, held on the stack or inline
//! in a map's entry, costs less than hashing each group and allocating a
//! table; past [`Groups::FEW`] they become a hash set.

use smallvec::SmallVec;

use super::HashSet;
use crate::ids::GroupId;

/// A set of groups, inline while it holds at most `N`, a short vector up to
/// [`Groups::FEW`], a hash set beyond.
#[derive(Clone, Debug)]
pub(super) enum Groups<const N: usize> {
    Few(SmallVec<[GroupId; N]>),
    Many(HashSet<GroupId>),
}

/// The groups a walk up the graph met: a check walks up three times, none
/// of which should allocate in a forest.
pub(super) type Seen = Groups<16>;

/// A group's parents, inline in the entry of the map by child.
pub(super) type Parents = Groups<2>;

/// The groups of a walk up the graph still to visit, or a chain walked: on
/// the stack while they are as few as a forest a dozen deep holds.
pub(super) type Walk = SmallVec<[GroupId; 16]>;

impl<const N: usize> Default for Groups<N> {
    fn default() -> Self {
        Self::Few(SmallVec::new())
    }
}

impl<const N: usize> Groups<N> {
    /// Past this many, a hash set: a linear search of more costs more than hashing.
    pub(super) const FEW: usize = 32;

    pub(super) fn len(&self) -> usize {
        match self {
            Self::Few(v) => v.len(),
            Self::Many(s) => s.len(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn contains(&self, g: &GroupId) -> bool {
        match self {
            Self::Few(v) => v.contains(g),
            Self::Many(s) => s.contains(g),
        }
    }

    /// Adds `g`; false when it was in already.
    pub(super) fn insert(&mut self, g: GroupId) -> bool {
        match self {
            Self::Few(v) if v.contains(&g) => false,
            Self::Few(v) if v.len() < Self::FEW => {
                v.push(g);
                true
            }
            Self::Few(v) => {
                let mut set: HashSet<GroupId> = v.drain(..).collect();
                set.insert(g);
                *self = Self::Many(set);
                true
            }
            Self::Many(s) => s.insert(g),
        }
    }

    /// Takes `g` out; false when it was not in.
    pub(super) fn remove(&mut self, g: &GroupId) -> bool {
        match self {
            Self::Few(v) => match v.iter().position(|x| x == g) {
                Some(i) => {
                    v.swap_remove(i);
                    true
                }
                None => false,
            },
            Self::Many(s) => s.remove(g),
        }
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &GroupId> {
        let (few, many) = match self {
            Self::Few(v) => (Some(v.iter()), None),
            Self::Many(s) => (None, Some(s.iter())),
        };
        few.into_iter().flatten().chain(many.into_iter().flatten())
    }
}

/// What a walk up the graph collects into.
pub(super) trait GroupSet {
    /// Adds `g`; false when it was in already.
    fn add(&mut self, g: GroupId) -> bool;
}

impl GroupSet for HashSet<GroupId> {
    fn add(&mut self, g: GroupId) -> bool {
        self.insert(g)
    }
}

impl<const N: usize> GroupSet for Groups<N> {
    fn add(&mut self, g: GroupId) -> bool {
        self.insert(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A set in both forms, across the change from the short vector to the
    /// hash set, under inserts and removals.
    #[test]
    fn groups_are_a_set() {
        let groups: Vec<GroupId> = (0..100).map(|_| GroupId::new()).collect();
        let mut few = Parents::default();
        let mut model = std::collections::HashSet::new();
        for (i, g) in groups.iter().enumerate() {
            // Each group offered twice, some out of order; every third
            // taken out again.
            for g in [g, &groups[i / 2]] {
                assert_eq!(few.insert(*g), model.insert(*g), "insert {i}");
            }
            if i % 3 == 0 {
                assert_eq!(few.remove(&groups[i / 3]), model.remove(&groups[i / 3]), "remove {i}");
            }
            assert!(groups.iter().all(|g| few.contains(g) == model.contains(g)), "after {i}");
            assert_eq!(few.len(), model.len());
            let mut listed: Vec<_> = few.iter().copied().collect();
            listed.sort();
            let mut expected: Vec<_> = model.iter().copied().collect();
            expected.sort();
            assert_eq!(listed, expected);
        }
        assert!(matches!(few, Groups::Many(_)));
    }
}
