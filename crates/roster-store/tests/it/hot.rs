//! Many writers changing one group's members at once, each in a transaction
//! of its own that holds the group shared (`get_group_shared`), the user,
//! then the membership, as the core's membership use-cases do: none waits
//! for another on the group's counts (on PostgreSQL they go to the group's
//! count slots), and the counts come out exact.

use std::sync::Arc;

use roster_core::*;

use crate::backends;
use crate::contract::{edge, group, user};

const WRITERS: usize = 12;
const ROUNDS: usize = 25;

/// One writer: toggles its users' memberships (every third as an admin),
/// retrying a transaction the store aborted as `Busy`, as the core does.
async fn writer(store: Arc<dyn Store>, g: GroupId, users: Vec<UserId>, w: usize) {
    for round in 0..ROUNDS {
        let u = users[(w * 5 + round * 3) % users.len()];
        loop {
            let mut tx = store.write().await.unwrap();
            let run = async {
                tx.get_group_shared(g).await?.ok_or(StoreError::NotFound)?;
                tx.get_user(u).await?.ok_or(StoreError::NotFound)?;
                match tx.find_membership(g, Member::User(u)).await? {
                    Some(m) => tx.delete_membership(m.id).await?,
                    None => {
                        let role = if round % 3 == 0 { MemberRole::Admin } else { MemberRole::Member };
                        tx.insert_membership(&edge(g, Member::User(u), role)).await?;
                    }
                }
                Ok::<_, StoreError>(())
            };
            match run.await {
                Ok(()) => match tx.commit().await {
                    Ok(()) => break,
                    Err(StoreError::Busy) => continue,
                    Err(e) => panic!("commit: {e}"),
                },
                Err(StoreError::Busy) => continue,
                Err(e) => panic!("writer {w}: {e}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_member_changes_keep_counts_exact() {
    for b in backends().await {
        let g = group(&format!("hot-{}", uuid::Uuid::now_v7()));
        let mut users = Vec::new();
        let mut tx = b.store.write().await.unwrap();
        tx.insert_group(&g).await.unwrap();
        for i in 0..16 {
            let u = user(&format!("hot{i}-{}", uuid::Uuid::now_v7()));
            tx.insert_user(&u).await.unwrap();
            users.push(u.id);
        }
        tx.commit().await.unwrap();
        let writers = (0..WRITERS).map(|w| tokio::spawn(writer(b.store.clone(), g.id, users.clone(), w)));
        for w in writers {
            w.await.expect("writer");
        }
        let mut tx = b.store.read().await.unwrap();
        let rows = tx.list_group_memberships(g.id, false, 0, 0, 1000).await.unwrap();
        let admins = rows.iter().filter(|m| m.role == MemberRole::Admin).count() as i64;
        let counts = tx.get_group(g.id).await.unwrap().expect("group").counts;
        assert_eq!(counts, GroupCounts { members: rows.len() as i64, admins, children: 0 }, "{}", b.name);
        assert_eq!(tx.count_members_transitively(g.id).await.unwrap(), rows.len() as i64, "{}", b.name);
        for u in &users {
            let n = tx.count_user_memberships(*u).await.unwrap();
            assert_eq!(n, i64::from(rows.iter().any(|m| m.member == Member::User(*u))), "{}", b.name);
        }
    }
}
