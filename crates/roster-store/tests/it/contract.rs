//! What every store must do: error variants, ordering, keyset stability,
//! counters through cascades, graph reachability, access facts, rollback.

use roster_core::authz::GroupAccess;
use roster_core::cursor::Keyset;
use roster_core::store::{Counter, GroupOrder, GroupScope, ListSpec};
use roster_core::*;
use time::OffsetDateTime;

use crate::backends;

pub(crate) fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.microsecond() * 1000).unwrap()
}

pub(crate) fn user(name: &str) -> User {
    let t = now();
    User {
        id: UserId::new(),
        num: 0,
        username: name.into(),
        email: None,
        first_name: None,
        last_name: None,
        display_name: None,
        active: true,
        site_role: SiteRole::User,
        primary_group: None,
        external_id: None,
        role_label: None,
        attributes: serde_json::Map::new(),
        created_at: t,
        updated_at: t,
        version: 1,
    }
}

pub(crate) fn group(name: &str) -> Group {
    let t = now();
    Group {
        id: GroupId::new(),
        num: 0,
        name: name.into(),
        unique_id: None,
        slug: None,
        description: None,
        org: DEFAULT_ORG_ID,
        source_type: SourceType::Api,
        attributes: serde_json::Map::new(),
        created_by: None,
        updated_by: None,
        created_at: t,
        updated_at: t,
        version: 1,
        counts: GroupCounts::default(),
    }
}

pub(crate) fn edge(group: GroupId, member: Member, role: MemberRole) -> Membership {
    let t = now();
    Membership {
        id: MembershipId::new(),
        num: 0,
        group,
        member,
        role,
        permissions: Permissions::default(),
        created_at: t,
        updated_at: t,
    }
}

#[tokio::test]
async fn entities_round_trip_exactly() {
    for b in backends().await {
        let mut tx = b.store.write().await.unwrap();
        let mut u = user("Zoë");
        u.email = Some("z@example.com".into());
        u.attributes.insert("tz".into(), serde_json::json!("UTC"));
        u.num = tx.insert_user(&u).await.unwrap();
        let mut g = group("Ops");
        g.num = tx.insert_group(&g).await.unwrap();
        let mut m = edge(g.id, Member::User(u.id), MemberRole::Admin);
        m.permissions = Permissions::Disabled;
        m.num = tx.insert_membership(&m).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = b.store.read().await.unwrap();
        assert_eq!(tx.get_user(u.id).await.unwrap(), Some(u.clone()), "{}", b.name);
        assert_eq!(
            tx.get_user_by_username("ZOË").await.unwrap().map(|x| x.id),
            Some(u.id),
            "{}: folded lookup",
            b.name
        );
        let stored = tx.get_group(g.id).await.unwrap().unwrap();
        assert_eq!(stored.counts, GroupCounts { members: 1, admins: 1, children: 0 }, "{}", b.name);
        assert_eq!(tx.get_membership(m.id).await.unwrap(), Some(m.clone()), "{}", b.name);
        assert_eq!(
            tx.group_access(g.id, u.id).await.unwrap(),
            GroupAccess { membership: Some((MemberRole::Admin, Permissions::Disabled)), share: None }
        );
    }
}

#[tokio::test]
async fn uniqueness_is_a_conflict_naming_the_field() {
    // An error ends a transaction: PostgreSQL refuses every later statement
    // in it (SQLite would carry on), so each failure gets a transaction of
    // its own and the directory never continues after a store error.
    for b in backends().await {
        let mut tx = b.store.write().await.unwrap();
        tx.insert_user(&user("sam")).await.unwrap();
        tx.insert_group(&group("G")).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = b.store.write().await.unwrap();
        let err = tx.insert_user(&user("SAM")).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Conflict { constraint } if constraint.contains("username")),
            "{}: {err:?}",
            b.name
        );
        drop(tx);
        let mut tx = b.store.write().await.unwrap();
        let err = tx.insert_group(&group("g")).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Conflict { constraint } if constraint.contains("name")),
            "{}: {err:?}",
            b.name
        );
        drop(tx);
        let mut tx = b.store.write().await.unwrap();
        assert!(matches!(tx.update_user(&user("ghost")).await, Err(StoreError::NotFound)), "{}", b.name);
    }
}

#[tokio::test]
async fn a_dropped_transaction_writes_nothing() {
    for b in backends().await {
        {
            let mut tx = b.store.write().await.unwrap();
            tx.insert_user(&user("temp")).await.unwrap();
            tx.append_event(&NewEvent {
                at: now(),
                actor: None,
                action: "user.created",
                target_type: "user",
                target_id: "x".into(),
                before: None,
                after: None,
            })
            .await
            .unwrap();
        }
        let mut tx = b.store.read().await.unwrap();
        assert_eq!(tx.count(Counter::Users).await.unwrap(), 0, "{}", b.name);
        assert_eq!(tx.count(Counter::Events).await.unwrap(), 0, "{}", b.name);
        assert!(tx.get_user_by_username("temp").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn keyset_pages_are_stable_and_complete() {
    for b in backends().await {
        let mut tx = b.store.write().await.unwrap();
        for name in ["delta", "Alpha", "charlie", "bravo", "alpine", "Echo"] {
            tx.insert_group(&group(name)).await.unwrap();
        }
        tx.commit().await.unwrap();
        let mut tx = b.store.read().await.unwrap();
        let mut seen = Vec::new();
        let mut after: Option<Keyset> = None;
        loop {
            let spec = ListSpec { after: after.clone(), limit: 2, ..ListSpec::default() };
            let page = tx.list_groups(&spec, &GroupScope::default()).await.unwrap();
            if page.is_empty() {
                break;
            }
            let last = page.last().unwrap();
            after = Some(Keyset { key: validate::fold(&last.name), num: last.num });
            seen.extend(page.into_iter().map(|g| g.name));
        }
        assert_eq!(seen, ["Alpha", "alpine", "bravo", "charlie", "delta", "Echo"], "{}", b.name);
        let prefix = ListSpec { limit: 10, prefix: Some("al".into()), ..ListSpec::default() };
        assert_eq!(tx.list_groups(&prefix, &GroupScope::default()).await.unwrap().len(), 2, "{}", b.name);
        assert_eq!(tx.count_groups_matching(&prefix, &GroupScope::default()).await.unwrap(), 2, "{}", b.name);
        let contains = ListSpec { limit: 10, contains: Some("ha".into()), ..ListSpec::default() };
        let names: Vec<_> =
            tx.list_groups(&contains, &GroupScope::default()).await.unwrap().into_iter().map(|g| g.name).collect();
        assert_eq!(names, ["Alpha", "charlie"], "{}", b.name);
        // A prefix of characters that sort high still bounds the range.
        let high = ListSpec { limit: 10, prefix: Some("\u{10FFFF}".into()), ..ListSpec::default() };
        assert!(tx.list_groups(&high, &GroupScope::default()).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn counters_follow_cascades() {
    for b in backends().await {
        let mut tx = b.store.write().await.unwrap();
        let (parent, child) = (group("parent"), group("child"));
        tx.insert_group(&parent).await.unwrap();
        tx.insert_group(&child).await.unwrap();
        let (u1, u2) = (user("u1"), user("u2"));
        tx.insert_user(&u1).await.unwrap();
        tx.insert_user(&u2).await.unwrap();
        tx.insert_membership(&edge(parent.id, Member::User(u1.id), MemberRole::Admin)).await.unwrap();
        tx.insert_membership(&edge(parent.id, Member::User(u2.id), MemberRole::Member)).await.unwrap();
        tx.insert_membership(&edge(child.id, Member::User(u1.id), MemberRole::Member)).await.unwrap();
        tx.insert_membership(&edge(parent.id, Member::Group(child.id), MemberRole::Member)).await.unwrap();
        assert_eq!(tx.count_user_memberships(u1.id).await.unwrap(), 2);
        tx.delete_user(u1.id).await.unwrap();
        let p = tx.get_group(parent.id).await.unwrap().unwrap();
        assert_eq!(p.counts, GroupCounts { members: 1, admins: 0, children: 1 }, "{}", b.name);
        tx.delete_group(child.id).await.unwrap();
        let p = tx.get_group(parent.id).await.unwrap().unwrap();
        assert_eq!(p.counts.children, 0, "{}", b.name);
        tx.delete_group(parent.id).await.unwrap();
        assert_eq!(tx.count_user_memberships(u2.id).await.unwrap(), 0, "{}", b.name);
        assert_eq!(tx.count(Counter::Groups).await.unwrap(), 0);
        assert_eq!(tx.count(Counter::Users).await.unwrap(), 1);
    }
}

#[tokio::test]
async fn reachability_walks_every_path() {
    for b in backends().await {
        let mut tx = b.store.write().await.unwrap();
        let gs: Vec<Group> = (0..5).map(|i| group(&format!("g{i}"))).collect();
        for g in &gs {
            tx.insert_group(g).await.unwrap();
        }
        // g0 → g1 → g3, g0 → g2 → g3 (a diamond), g3 → g4.
        for (p, c) in [(0, 1), (0, 2), (1, 3), (2, 3), (3, 4)] {
            tx.insert_membership(&edge(gs[p].id, Member::Group(gs[c].id), MemberRole::Member)).await.unwrap();
        }
        assert!(tx.group_reaches(gs[0].id, gs[4].id).await.unwrap(), "{}", b.name);
        assert!(tx.group_reaches(gs[2].id, gs[2].id).await.unwrap(), "{}: reflexive", b.name);
        assert!(!tx.group_reaches(gs[4].id, gs[0].id).await.unwrap(), "{}", b.name);
        assert!(!tx.group_reaches(gs[1].id, gs[2].id).await.unwrap(), "{}", b.name);
    }
}

#[tokio::test]
async fn shares_through_groups_count_as_access() {
    for b in backends().await {
        let mut tx = b.store.write().await.unwrap();
        let (target, team) = (group("target"), group("team"));
        tx.insert_group(&target).await.unwrap();
        tx.insert_group(&team).await.unwrap();
        let u = user("u");
        tx.insert_user(&u).await.unwrap();
        tx.insert_membership(&edge(team.id, Member::User(u.id), MemberRole::Member)).await.unwrap();
        let share =
            |grantee, level| Share { id: ShareId::new(), num: 0, group: target.id, grantee, level, created_at: now() };
        tx.put_share(&share(Grantee::User(u.id), ShareLevel::Read)).await.unwrap();
        tx.put_share(&share(Grantee::Group(team.id), ShareLevel::Write)).await.unwrap();
        assert_eq!(tx.group_access(target.id, u.id).await.unwrap().share, Some(ShareLevel::Write), "{}", b.name);
        // Upsert keeps one share per grantee.
        tx.put_share(&share(Grantee::User(u.id), ShareLevel::Manage)).await.unwrap();
        assert_eq!(tx.count_shares(target.id).await.unwrap(), 2, "{}", b.name);
        assert_eq!(tx.group_access(target.id, u.id).await.unwrap().share, Some(ShareLevel::Manage));
        let visible = tx
            .list_groups(
                &ListSpec { limit: 10, ..ListSpec::default() },
                &GroupScope { visible_to: Some(u.id), ..GroupScope::default() },
            )
            .await
            .unwrap();
        assert_eq!(visible.len(), 2, "{}: team (member) and target (shared)", b.name);
        assert!(tx.delete_share(target.id, Grantee::User(u.id)).await.unwrap());
        assert!(!tx.delete_share(target.id, Grantee::User(u.id)).await.unwrap());
    }
}

#[tokio::test]
async fn events_are_ordered_and_counted() {
    for b in backends().await {
        let mut tx = b.store.write().await.unwrap();
        let mut seqs = Vec::new();
        for i in 0..5 {
            let e = NewEvent {
                at: now(),
                actor: None,
                action: "group.created",
                target_type: "group",
                target_id: i.to_string(),
                before: None,
                after: Some(serde_json::json!({ "i": i })),
            };
            seqs.push(tx.append_event(&e).await.unwrap());
        }
        tx.commit().await.unwrap();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{}", b.name);
        let mut tx = b.store.read().await.unwrap();
        let after_two = tx.list_events(seqs[1], 10).await.unwrap();
        assert_eq!(after_two.iter().map(|e| e.target_id.as_str()).collect::<Vec<_>>(), ["2", "3", "4"]);
        assert_eq!(after_two[0].after, Some(serde_json::json!({ "i": 2 })));
        assert_eq!(tx.count(Counter::Events).await.unwrap(), 5);
    }
}

#[tokio::test]
async fn user_filters_and_offsets() {
    use roster_core::store::{RoleMatch, UserFilter};
    for b in backends().await {
        let mut tx = b.store.write().await.unwrap();
        for (name, first, admin, label, active) in [
            ("ann", "Zed", false, Some("publisher"), true),
            ("bob", "Émile", false, None, true),
            ("cat", "Ann", true, None, true),
            ("dan", "Dan", false, Some("viewer"), false),
        ] {
            let mut u = user(name);
            u.first_name = Some(first.into());
            u.site_role = if admin { SiteRole::Admin } else { SiteRole::User };
            u.role_label = label.map(str::to_owned);
            u.active = active;
            tx.insert_user(&u).await.unwrap();
        }
        tx.commit().await.unwrap();
        let mut tx = b.store.read().await.unwrap();
        let names = |users: Vec<User>| users.into_iter().map(|u| u.username).collect::<Vec<_>>();
        let spec = ListSpec { limit: 10, ..ListSpec::default() };
        let by = |f: UserFilter| f;
        let prefix = by(UserFilter { name_prefix: Some("ann".into()), ..UserFilter::default() });
        assert_eq!(
            names(tx.list_users(&spec, &prefix).await.unwrap()),
            ["ann", "cat"],
            "{}: username or first name",
            b.name
        );
        let accent = by(UserFilter { name_prefix: Some("émi".into()), ..UserFilter::default() });
        assert_eq!(names(tx.list_users(&spec, &accent).await.unwrap()), ["bob"], "{}", b.name);
        let viewers = by(UserFilter {
            roles: vec![RoleMatch::Label { label: "viewer".into(), or_unlabelled: true }],
            ..UserFilter::default()
        });
        assert_eq!(names(tx.list_users(&spec, &viewers).await.unwrap()), ["bob", "dan"], "{}", b.name);
        let admins_or_publishers = by(UserFilter {
            roles: vec![RoleMatch::SiteAdmin, RoleMatch::Label { label: "publisher".into(), or_unlabelled: false }],
            ..UserFilter::default()
        });
        assert_eq!(names(tx.list_users(&spec, &admins_or_publishers).await.unwrap()), ["ann", "cat"]);
        assert_eq!(tx.count_users_matching(&spec, &admins_or_publishers).await.unwrap(), 2);
        let locked = by(UserFilter { active: Some(false), ..UserFilter::default() });
        assert_eq!(names(tx.list_users(&spec, &locked).await.unwrap()), ["dan"], "{}", b.name);
        let second_page = ListSpec { limit: 2, offset: 2, ..ListSpec::default() };
        assert_eq!(names(tx.list_users(&second_page, &UserFilter::default()).await.unwrap()), ["cat", "dan"]);
        let past_end = ListSpec { limit: 2, offset: 10, ..ListSpec::default() };
        assert!(tx.list_users(&past_end, &UserFilter::default()).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn group_scopes_and_orders() {
    for b in backends().await {
        let mut tx = b.store.write().await.unwrap();
        let (a, z, m) = (group("alpha"), group("zulu"), group("mike"));
        for g in [&z, &a, &m] {
            tx.insert_group(g).await.unwrap();
        }
        let (u, v) = (user("u"), user("v"));
        tx.insert_user(&u).await.unwrap();
        tx.insert_user(&v).await.unwrap();
        tx.insert_membership(&edge(a.id, Member::User(u.id), MemberRole::Member)).await.unwrap();
        tx.insert_membership(&edge(m.id, Member::User(v.id), MemberRole::Member)).await.unwrap();
        tx.insert_membership(&edge(m.id, Member::User(u.id), MemberRole::Member)).await.unwrap();
        let share = Share {
            id: ShareId::new(),
            num: 0,
            group: z.id,
            grantee: Grantee::Group(a.id),
            level: ShareLevel::Write,
            created_at: now(),
        };
        tx.put_share(&share).await.unwrap();
        let mut inactive = tx.get_user(v.id).await.unwrap().unwrap();
        inactive.active = false;
        tx.update_user(&inactive).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = b.store.read().await.unwrap();
        let spec = ListSpec { limit: 10, ..ListSpec::default() };
        let names = |gs: Vec<Group>| gs.into_iter().map(|g| g.name).collect::<Vec<_>>();
        let by_created = GroupScope { order: GroupOrder::Created, ..GroupScope::default() };
        assert_eq!(names(tx.list_groups(&spec, &by_created).await.unwrap()), ["zulu", "alpha", "mike"], "{}", b.name);
        let desc = GroupScope { descending: true, ..GroupScope::default() };
        assert_eq!(names(tx.list_groups(&spec, &desc).await.unwrap()), ["zulu", "mike", "alpha"], "{}", b.name);
        let of_v = GroupScope { members_any: vec![v.id], ..GroupScope::default() };
        assert_eq!(names(tx.list_groups(&spec, &of_v).await.unwrap()), ["mike"], "{}", b.name);
        let writable = GroupScope { shared_with: Some((u.id, ShareLevel::Write)), ..GroupScope::default() };
        assert_eq!(names(tx.list_groups(&spec, &writable).await.unwrap()), ["zulu"], "{}: through alpha", b.name);
        let manageable = GroupScope { shared_with: Some((u.id, ShareLevel::Manage)), ..GroupScope::default() };
        assert_eq!(tx.count_groups_matching(&spec, &manageable).await.unwrap(), 0);
        let counts = tx.count_active_members(&[m.id, z.id]).await.unwrap();
        assert_eq!(counts, vec![(m.id, 1), (z.id, 0)], "{}", b.name);
        assert_eq!(tx.shares_held_by_group(a.id).await.unwrap().len(), 1);
        let num = tx.get_group(m.id).await.unwrap().unwrap().num;
        assert_eq!(tx.id_by_num(NumKind::Group, num).await.unwrap(), Some(m.id.0));
        assert_eq!(tx.nums_of(NumKind::Group, &[m.id.0]).await.unwrap(), vec![(m.id.0, num)]);
        assert_eq!(tx.id_by_num(NumKind::User, 999_999).await.unwrap(), None);
    }
}
