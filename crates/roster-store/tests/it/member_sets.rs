//! The store side of bulk membership edits: every member of a group as ids,
//! memberships found by a list of members, groups by unique id.

use std::collections::HashSet;

use roster_core::*;

use crate::backends;
use crate::contract::{edge, group, user};

#[tokio::test]
async fn member_refs_and_batch_lookups() {
    for b in backends().await {
        let mut tx = b.store.write().await.unwrap();
        let mut parent = group("Parent");
        parent.unique_id = Some("ext-Parent".into());
        tx.insert_group(&parent).await.unwrap();
        let child = group("Child");
        tx.insert_group(&child).await.unwrap();
        let other = group("Other");
        tx.insert_group(&other).await.unwrap();
        let users: Vec<User> = (0..5).map(|i| user(&format!("u{i}"))).collect();
        for u in &users {
            tx.insert_user(u).await.unwrap();
        }
        for u in &users[..3] {
            tx.insert_membership(&edge(parent.id, Member::User(u.id), MemberRole::Member)).await.unwrap();
        }
        tx.insert_membership(&edge(parent.id, Member::Group(child.id), MemberRole::Member)).await.unwrap();
        tx.insert_membership(&edge(other.id, Member::User(users[3].id), MemberRole::Member)).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = b.store.read().await.unwrap();
        let refs = tx.group_member_refs(parent.id).await.unwrap();
        let expected: Vec<Member> =
            users[..3].iter().map(|u| Member::User(u.id)).chain([Member::Group(child.id)]).collect();
        assert_eq!(refs, expected, "{}: every member, in the order they joined", b.name);
        assert!(tx.group_member_refs(child.id).await.unwrap().is_empty(), "{}", b.name);

        let asked = [
            Member::User(users[0].id),
            Member::User(users[3].id), // in another group only
            Member::User(users[4].id), // in no group
            Member::Group(child.id),
            Member::Group(other.id),
        ];
        let found: HashSet<Member> =
            tx.find_memberships(parent.id, &asked).await.unwrap().into_iter().map(|m| m.member).collect();
        assert_eq!(found, HashSet::from([Member::User(users[0].id), Member::Group(child.id)]), "{}", b.name);
        assert!(tx.find_memberships(parent.id, &[]).await.unwrap().is_empty(), "{}", b.name);

        assert_eq!(tx.get_group_by_unique_id("ext-Parent").await.unwrap().map(|g| g.id), Some(parent.id), "{}", b.name);
        assert_eq!(tx.get_group_by_unique_id("ext-parent").await.unwrap(), None, "{}: exact match", b.name);
    }
}
