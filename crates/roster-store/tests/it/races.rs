//! A user's membership changing below a group while that group's nesting
//! changes, in two transactions that overlap: the users at any depth come
//! out right either way. Each transaction takes its locks as the core's
//! use-cases do (the membership writer holds its group shared from its
//! start; the nesting writer holds the graph lock, then its two groups),
//! and the steps are interleaved so that, with nothing between them, each
//! would compute its closure rows without the other's: the membership
//! writer changes its rows first and waits for the nesting writer to
//! change its own before committing (for at most `PATIENCE`, since with
//! the locks right the nesting writer cannot go on until it commits).

use std::sync::Arc;
use std::time::Duration;

use roster_core::*;
use tokio::sync::oneshot;

use crate::backends;
use crate::contract::{edge, group, user};

const PATIENCE: Duration = Duration::from_millis(400);

/// What the nesting writer does to `parent → child`.
#[derive(Clone, Copy, Debug)]
enum Nesting {
    Add,
    Remove,
}

/// What the membership writer does to `user` in `group`.
#[derive(Clone, Copy, Debug)]
enum Joining {
    Add,
    Remove,
}

async fn member_writer(
    store: Arc<dyn Store>,
    g: GroupId,
    u: UserId,
    joining: Joining,
    changed: oneshot::Sender<()>,
    other_changed: oneshot::Receiver<()>,
) {
    let mut tx = store.write().await.unwrap();
    tx.get_group_shared(g).await.unwrap().unwrap();
    tx.get_user(u).await.unwrap().unwrap();
    match joining {
        Joining::Add => {
            tx.insert_membership(&edge(g, Member::User(u), MemberRole::Member)).await.unwrap();
        }
        Joining::Remove => {
            let m = tx.find_membership(g, Member::User(u)).await.unwrap().unwrap();
            tx.delete_membership(m.id).await.unwrap();
        }
    }
    let _ = changed.send(());
    let _ = tokio::time::timeout(PATIENCE, other_changed).await;
    tx.commit().await.unwrap();
}

async fn nesting_writer(
    store: Arc<dyn Store>,
    parent: GroupId,
    child: GroupId,
    nesting: Nesting,
    other_changed: oneshot::Receiver<()>,
    changed: oneshot::Sender<()>,
) {
    let mut tx = store.write().await.unwrap();
    tx.lock_graph().await.unwrap();
    let (first, second) = if parent.0 < child.0 { (parent, child) } else { (child, parent) };
    tx.get_group(first).await.unwrap().unwrap();
    tx.get_group(second).await.unwrap().unwrap();
    let _ = tokio::time::timeout(PATIENCE, other_changed).await;
    match nesting {
        Nesting::Add => {
            tx.insert_membership(&edge(parent, Member::Group(child), MemberRole::Member)).await.unwrap();
        }
        Nesting::Remove => {
            let m = tx.find_membership(parent, Member::Group(child)).await.unwrap().unwrap();
            tx.delete_membership(m.id).await.unwrap();
        }
    }
    let _ = changed.send(());
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_membership_below_a_changing_nesting_is_counted_once_both_commit() {
    for b in backends().await {
        for (round, (nesting, joining)) in [
            (Nesting::Add, Joining::Add),
            (Nesting::Add, Joining::Remove),
            (Nesting::Remove, Joining::Add),
            (Nesting::Remove, Joining::Remove),
        ]
        .into_iter()
        .enumerate()
        {
            // top ⇐ a ⇐ g ∋ u, with `a → top` made or taken away while `u`
            // joins or leaves `g`.
            let (top, a, g) = (group(&format!("top{round}")), group(&format!("a{round}")), group(&format!("g{round}")));
            let u = user(&format!("u{round}"));
            let mut tx = b.store.write().await.unwrap();
            for x in [&top, &a, &g] {
                tx.insert_group(x).await.unwrap();
            }
            tx.insert_user(&u).await.unwrap();
            tx.insert_membership(&edge(a.id, Member::Group(g.id), MemberRole::Member)).await.unwrap();
            if let Nesting::Remove = nesting {
                tx.insert_membership(&edge(top.id, Member::Group(a.id), MemberRole::Member)).await.unwrap();
            }
            if let Joining::Remove = joining {
                tx.insert_membership(&edge(g.id, Member::User(u.id), MemberRole::Member)).await.unwrap();
            }
            tx.commit().await.unwrap();

            let (member_done, member_done_rx) = oneshot::channel();
            let (nest_done, nest_done_rx) = oneshot::channel();
            let member = tokio::spawn(member_writer(b.store.clone(), g.id, u.id, joining, member_done, nest_done_rx));
            let nest = tokio::spawn(nesting_writer(b.store.clone(), top.id, a.id, nesting, member_done_rx, nest_done));
            member.await.unwrap();
            nest.await.unwrap();

            let expected = matches!((nesting, joining), (Nesting::Add, Joining::Add));
            let mut tx = b.store.read().await.unwrap();
            assert_eq!(
                tx.in_group_transitively(top.id, u.id).await.unwrap(),
                expected,
                "{}: {nesting:?} a → top while {joining:?} u in g",
                b.name
            );
            assert_eq!(
                tx.in_group_transitively(a.id, u.id).await.unwrap(),
                matches!(joining, Joining::Add),
                "{}",
                b.name
            );
        }
    }
}
