//! The flattened membership index against a naive graph walk: random
//! nestings, removals, joins, leaves and group deletions on a small DAG,
//! then every transitive answer the store gives is compared with the
//! model's. Diamonds (a group reachable along several paths) are common at
//! this size, so path counting on removal is exercised. Each group's direct
//! counts (`GroupCounts`) are held to the model too, through user and group
//! deletions.

use std::collections::{BTreeSet, HashMap};

use proptest::prelude::*;
use roster_core::*;

use crate::backends;
use crate::contract::{edge, group, now, user};

const GROUPS: usize = 6;
const USERS: usize = 4;

#[derive(Clone, Debug)]
enum Op {
    Nest(usize, usize),
    Unnest(usize, usize),
    /// A user joins a group, as an admin when the flag says so.
    Join(usize, usize, bool),
    Leave(usize, usize),
    DeleteGroup(usize),
    DeleteUser(usize),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        5 => (0..GROUPS, 0..GROUPS).prop_map(|(a, b)| Op::Nest(a, b)),
        2 => (0..GROUPS, 0..GROUPS).prop_map(|(a, b)| Op::Unnest(a, b)),
        4 => (0..GROUPS, 0..USERS, any::<bool>()).prop_map(|(g, u, a)| Op::Join(g, u, a)),
        2 => (0..GROUPS, 0..USERS).prop_map(|(g, u)| Op::Leave(g, u)),
        1 => (0..GROUPS).prop_map(Op::DeleteGroup),
        1 => (0..USERS).prop_map(Op::DeleteUser),
    ];
    prop::collection::vec(op, 1..48)
}

/// The naive model: edges and direct memberships, walked on demand.
#[derive(Default)]
struct Model {
    edges: BTreeSet<(usize, usize)>,
    members: BTreeSet<(usize, usize)>,
    admins: BTreeSet<(usize, usize)>,
    deleted: BTreeSet<usize>,
    deleted_users: BTreeSet<usize>,
}

impl Model {
    fn below(&self, g: usize) -> BTreeSet<usize> {
        let mut seen = BTreeSet::from([g]);
        let mut todo = vec![g];
        while let Some(x) = todo.pop() {
            for &(p, c) in &self.edges {
                if p == x && seen.insert(c) {
                    todo.push(c);
                }
            }
        }
        seen
    }

    fn users_in(&self, g: usize) -> BTreeSet<usize> {
        let below = self.below(g);
        self.members.iter().filter(|(d, _)| below.contains(d)).map(|&(_, u)| u).collect()
    }
}

async fn check_case(store: &dyn Store, name: &str, ops: &[Op]) -> Result<(), String> {
    let groups: Vec<Group> = (0..GROUPS).map(|i| group(&format!("c{i}-{}", uuid::Uuid::now_v7()))).collect();
    let users: Vec<User> = (0..USERS).map(|i| user(&format!("u{i}-{}", uuid::Uuid::now_v7()))).collect();
    let mut tx = store.write().await.map_err(|e| e.to_string())?;
    for g in &groups {
        tx.insert_group(g).await.map_err(|e| e.to_string())?;
    }
    let mut nums = HashMap::new();
    for u in &users {
        nums.insert(u.id, tx.insert_user(u).await.map_err(|e| e.to_string())?);
    }
    let mut model = Model::default();
    for op in ops {
        let live = |g: &usize| !model.deleted.contains(g);
        match *op {
            Op::Nest(p, c)
                if live(&p) && live(&c) && !model.below(c).contains(&p) && !model.edges.contains(&(p, c)) =>
            {
                tx.insert_membership(&edge(groups[p].id, Member::Group(groups[c].id), MemberRole::Member))
                    .await
                    .map_err(|e| e.to_string())?;
                model.edges.insert((p, c));
            }
            Op::Unnest(p, c) if model.edges.contains(&(p, c)) => {
                let m =
                    tx.find_membership(groups[p].id, Member::Group(groups[c].id)).await.map_err(|e| e.to_string())?;
                tx.delete_membership(m.ok_or("edge missing")?.id).await.map_err(|e| e.to_string())?;
                model.edges.remove(&(p, c));
            }
            Op::Join(g, u, admin)
                if live(&g) && !model.deleted_users.contains(&u) && !model.members.contains(&(g, u)) =>
            {
                let role = if admin { MemberRole::Admin } else { MemberRole::Member };
                tx.insert_membership(&edge(groups[g].id, Member::User(users[u].id), role))
                    .await
                    .map_err(|e| e.to_string())?;
                model.members.insert((g, u));
                if admin {
                    model.admins.insert((g, u));
                }
            }
            Op::Leave(g, u) if model.members.contains(&(g, u)) => {
                let m = tx.find_membership(groups[g].id, Member::User(users[u].id)).await.map_err(|e| e.to_string())?;
                tx.delete_membership(m.ok_or("membership missing")?.id).await.map_err(|e| e.to_string())?;
                model.members.remove(&(g, u));
                model.admins.remove(&(g, u));
            }
            Op::DeleteGroup(g) if live(&g) => {
                tx.delete_group(groups[g].id).await.map_err(|e| e.to_string())?;
                model.deleted.insert(g);
                model.edges.retain(|&(p, c)| p != g && c != g);
                model.members.retain(|&(x, _)| x != g);
                model.admins.retain(|&(x, _)| x != g);
            }
            Op::DeleteUser(u) if !model.deleted_users.contains(&u) => {
                tx.delete_user(users[u].id).await.map_err(|e| e.to_string())?;
                model.deleted_users.insert(u);
                model.members.retain(|&(_, x)| x != u);
                model.admins.retain(|&(_, x)| x != u);
            }
            _ => {}
        }
    }
    tx.commit().await.map_err(|e| e.to_string())?;

    let mut tx = store.read().await.map_err(|e| e.to_string())?;
    let fail = |what: String| Err(format!("{name}: {what} after {ops:?}"));
    for g in (0..GROUPS).filter(|g| !model.deleted.contains(g)) {
        let want = model.users_in(g);
        for (u, usr) in users.iter().enumerate() {
            let got = tx.in_group_transitively(groups[g].id, usr.id).await.map_err(|e| e.to_string())?;
            if got != want.contains(&u) {
                return fail(format!("user {u} in group {g}: store says {got}"));
            }
            if got {
                let path = tx.membership_path(groups[g].id, usr.id).await.map_err(|e| e.to_string())?;
                let at: Vec<Option<usize>> = path.iter().map(|id| groups.iter().position(|x| x.id == *id)).collect();
                // From g, down nesting edges, to a group the user is directly in.
                let ok = at.first() == Some(&Some(g))
                    && at.windows(2).all(|w| matches!(w, [Some(p), Some(c)] if model.edges.contains(&(*p, *c))))
                    && at.last().copied().flatten().is_some_and(|d| model.members.contains(&(d, u)));
                if !ok {
                    return fail(format!("path of user {u} in {g}: {at:?}"));
                }
            } else if !tx.membership_path(groups[g].id, usr.id).await.map_err(|e| e.to_string())?.is_empty() {
                return fail(format!("a path for user {u} in {g}, who is not in it"));
            }
        }
        let counts = tx.get_group(groups[g].id).await.map_err(|e| e.to_string())?.ok_or("group missing")?.counts;
        let want_counts = GroupCounts {
            members: model.members.iter().filter(|(x, _)| *x == g).count() as i64,
            admins: model.admins.iter().filter(|(x, _)| *x == g).count() as i64,
            children: model.edges.iter().filter(|(p, _)| *p == g).count() as i64,
        };
        if counts != want_counts {
            return fail(format!("group {g} counts {counts:?}, not {want_counts:?}"));
        }
        let count = tx.count_members_transitively(groups[g].id).await.map_err(|e| e.to_string())?;
        if count != want.len() as i64 {
            return fail(format!("group {g} counts {count} users at any depth, not {}", want.len()));
        }
        let listed = tx.list_members_transitively(groups[g].id, 0, 100).await.map_err(|e| e.to_string())?;
        let listed_nums: Vec<i64> = listed.iter().map(|u| nums[&u.id]).collect();
        let mut want_nums: Vec<i64> = want.iter().map(|&u| nums[&users[u].id]).collect();
        want_nums.sort_unstable();
        if listed_nums != want_nums {
            return fail(format!("group {g} lists {listed_nums:?}, not {want_nums:?}"));
        }
        for h in (0..GROUPS).filter(|h| !model.deleted.contains(h)) {
            let got = tx.group_reaches(groups[g].id, groups[h].id).await.map_err(|e| e.to_string())?;
            if got != model.below(g).contains(&h) {
                return fail(format!("group {g} reaches {h}: store says {got}"));
            }
        }
    }
    for (u, usr) in users.iter().enumerate() {
        let want: BTreeSet<GroupId> = (0..GROUPS)
            .filter(|g| !model.deleted.contains(g) && model.users_in(*g).contains(&u))
            .map(|g| groups[g].id)
            .collect();
        let got: BTreeSet<GroupId> = tx
            .list_groups_transitively(usr.id, 0, 100)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|g| g.id)
            .filter(|id| groups.iter().any(|x| x.id == *id))
            .collect();
        if got != want {
            return fail(format!("user {u} is in {} groups at any depth, not {}", got.len(), want.len()));
        }
    }
    Ok(())
}

#[test]
fn closure_matches_a_naive_walk_on_random_dags() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let all = rt.block_on(backends());
    let config = ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(ops in ops())| {
        for b in &all {
            let outcome = rt.block_on(check_case(b.store.as_ref(), b.name, &ops));
            prop_assert!(outcome.is_ok(), "{}", outcome.err().unwrap_or_default());
        }
    });
    let _ = now();
}
