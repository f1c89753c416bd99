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
    User::new(name.into(), now())
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
        let read = tx.get_user(u.id).await.unwrap().unwrap();
        assert!(read.groups_changed_at >= m.updated_at, "{}: joining a group moves the stamp", b.name);
        assert_eq!(read, User { groups_changed_at: read.groups_changed_at, ..u.clone() }, "{}", b.name);
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
            GroupAccess {
                membership: Some((MemberRole::Admin, Permissions::Disabled)),
                member_at_any_depth: true,
                share: None
            }
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
            tx.append_event(&e).await.unwrap();
        }
        tx.commit().await.unwrap();
        let mut tx = b.store.read().await.unwrap();
        let seqs: Vec<i64> = tx.list_events(0, 10).await.unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5], "{}: gapless, in append order", b.name);
        let after_two = tx.list_events(seqs[1], 10).await.unwrap();
        assert_eq!(after_two.iter().map(|e| e.target_id.as_str()).collect::<Vec<_>>(), ["2", "3", "4"]);
        assert_eq!(after_two[0].after, Some(serde_json::json!({ "i": 2 })));
        assert_eq!(tx.count(Counter::Events).await.unwrap(), 5);
    }
}

/// A commit that appends an event wakes a follower waiting for changes, on
/// a store that notifies (PostgreSQL), whichever way it wrote the events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_with_events_wakes_a_waiting_follower() {
    use std::time::{Duration, Instant};
    for b in backends().await.into_iter().filter(|b| b.name == "postgres") {
        // The first wait opens the listener, which stays open.
        b.store.wait_for_change(Duration::from_millis(50)).await;
        let store = b.store.clone();
        let waiter = tokio::spawn(async move {
            let started = Instant::now();
            store.wait_for_change(Duration::from_secs(20)).await;
            started.elapsed()
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut tx = b.store.write().await.unwrap();
        let e = NewEvent {
            at: now(),
            actor: None,
            action: "group.created",
            target_type: "group",
            target_id: "woken".into(),
            before: None,
            after: None,
        };
        tx.append_event(&e).await.unwrap();
        tx.commit().await.unwrap();
        let waited = waiter.await.unwrap();
        assert!(waited < Duration::from_secs(10), "{}: the follower slept {waited:?}", b.name);
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
        // alpha is nested in zulu and in mike.
        tx.insert_membership(&edge(z.id, Member::Group(a.id), MemberRole::Member)).await.unwrap();
        tx.insert_membership(&edge(m.id, Member::Group(a.id), MemberRole::Member)).await.unwrap();
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
        let above_alpha = GroupScope { children_any: vec![a.id], ..GroupScope::default() };
        assert_eq!(names(tx.list_groups(&spec, &above_alpha).await.unwrap()), ["mike", "zulu"], "{}", b.name);
        assert_eq!(tx.count_groups_matching(&spec, &above_alpha).await.unwrap(), 2);
        let deep = |u: UserId| GroupScope { members_at_any_depth: vec![u], ..GroupScope::default() };
        let all = ["alpha", "mike", "zulu"];
        assert_eq!(names(tx.list_groups(&spec, &deep(u.id)).await.unwrap()), all, "{}: through alpha", b.name);
        assert_eq!(names(tx.list_groups(&spec, &deep(v.id)).await.unwrap()), ["mike"], "{}", b.name);
        assert_eq!(tx.count_groups_matching(&spec, &deep(u.id)).await.unwrap(), 3);
        // Members by name, each kind in the order it joined.
        let by_name = MemberNames { users: vec!["v".to_owned(), "u".to_owned()], groups: vec!["alpha".to_owned()] };
        assert_eq!(*tx.member_names(m.id).await.unwrap(), by_name, "{}", b.name);
        assert_eq!(*tx.member_names(GroupId::new()).await.unwrap(), MemberNames::default(), "{}", b.name);
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

#[tokio::test]
async fn groups_changed_stamp_only_moves_forwards() {
    for b in backends().await {
        let mut tx = b.store.write().await.unwrap();
        let mut u = user("stamp");
        u.num = tx.insert_user(&u).await.unwrap();
        let mut stamps = vec![tx.get_user(u.id).await.unwrap().unwrap().groups_changed_at];
        let mut edges = Vec::new();
        for name in ["a", "b", "c"] {
            let mut g = group(name);
            g.num = tx.insert_group(&g).await.unwrap();
            // The same (or an older) time for every change: the stamp must still move.
            let m = edge(g.id, Member::User(u.id), MemberRole::Member);
            tx.insert_membership(&m).await.unwrap();
            stamps.push(tx.get_user(u.id).await.unwrap().unwrap().groups_changed_at);
            edges.push((g, m));
        }
        tx.delete_membership(edges[0].1.id).await.unwrap();
        stamps.push(tx.get_user(u.id).await.unwrap().unwrap().groups_changed_at);
        tx.delete_group(edges[1].0.id).await.unwrap();
        stamps.push(tx.get_user(u.id).await.unwrap().unwrap().groups_changed_at);
        tx.commit().await.unwrap();
        assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{}: {stamps:?}", b.name);
    }
}

#[tokio::test]
async fn projects_bind_users_and_groups_and_keep_jobs() {
    for b in backends().await {
        let mut tx = b.store.write().await.unwrap();
        let mut u = user("pat");
        u.num = tx.insert_user(&u).await.unwrap();
        let mut g = group("Crew");
        g.num = tx.insert_group(&g).await.unwrap();
        let t = now();
        let mut attributes = serde_json::Map::new();
        attributes.insert("labels".into(), serde_json::json!([{ "name": "tier", "value": "gold" }]));
        let mut project = Project {
            id: ProjectId::new(),
            num: 0,
            name: "Atlas".into(),
            description: None,
            org: DEFAULT_ORG_ID,
            attributes,
            created_at: t,
            updated_at: t,
        };
        project.num = tx.insert_project(&project).await.unwrap();
        for (principal, role) in [(Grantee::User(u.id), "admin"), (Grantee::Group(g.id), "viewer")] {
            let binding = ProjectBinding { project: project.id, principal, num: 0, role: role.into(), created_at: t };
            assert_eq!(tx.put_binding(&binding).await.unwrap(), None, "{}", b.name);
        }
        let again = ProjectBinding {
            project: project.id,
            principal: Grantee::User(u.id),
            num: 0,
            role: "editor".into(),
            created_at: t,
        };
        assert_eq!(tx.put_binding(&again).await.unwrap().as_deref(), Some("admin"), "{}", b.name);
        let job = Job {
            id: JobId::new(),
            num: 0,
            kind: "group.delete".into(),
            state: JobState::Failed,
            params: serde_json::json!({ "id": "x" }),
            result: Some(serde_json::json!({ "message": "gone", "status": 404 })),
            actor: Some(u.id),
            created_at: t,
            updated_at: t,
        };
        let num = tx.insert_job(&job).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = b.store.write().await.unwrap();
        assert_eq!(tx.get_project_by_name("ATLAS").await.unwrap(), Some(project.clone()), "{}", b.name);
        let bound = tx.list_bindings(project.id, 0, 10).await.unwrap();
        let roles: Vec<_> = bound.iter().map(|x| (x.principal, x.role.as_str())).collect();
        assert_eq!(roles, [(Grantee::User(u.id), "editor"), (Grantee::Group(g.id), "viewer")], "{}", b.name);
        assert_eq!(tx.get_job(job.id).await.unwrap(), Some(Job { num, ..job.clone() }), "{}", b.name);
        tx.delete_user(u.id).await.unwrap();
        assert_eq!(tx.count_bindings(project.id).await.unwrap(), 1, "{}: a user's bindings go with them", b.name);
        assert!(tx.delete_binding(project.id, Grantee::Group(g.id)).await.unwrap());
        assert!(!tx.delete_binding(project.id, Grantee::Group(g.id)).await.unwrap());
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn bulk_writes_match_row_by_row_writes() {
    for b in backends().await {
        let mut tx = b.store.write().await.unwrap();
        let users: Vec<User> = (0..1200).map(|i| user(&format!("bulk{i:04}"))).collect();
        let nums = tx.insert_users(&users).await.unwrap();
        assert_eq!(nums.len(), 1200, "{}", b.name);
        assert!(nums.windows(2).all(|w| w[0] < w[1]), "{}: nums follow the input order", b.name);
        let groups: Vec<Group> = ["Big", "Small"].into_iter().map(group).collect();
        tx.insert_groups(&groups).await.unwrap();
        let mut edges: Vec<Membership> =
            users.iter().map(|u| edge(groups[0].id, Member::User(u.id), MemberRole::Member)).collect();
        edges.push(edge(groups[1].id, Member::User(users[0].id), MemberRole::Admin));
        edges.push(edge(groups[1].id, Member::Group(groups[0].id), MemberRole::Member));
        tx.insert_memberships(&edges).await.unwrap();
        let found = tx.get_users_by_usernames(&["BULK0001".into(), "bulk0002".into(), "nobody".into()]).await.unwrap();
        assert_eq!(found.len(), 2, "{}: lookups ignore case", b.name);
        assert_eq!(tx.get_groups_by_names(&["big".into(), "SMALL".into()]).await.unwrap().len(), 2);
        let pairs = [(groups[0].id, users[5].id), (groups[1].id, users[5].id), (groups[1].id, users[0].id)];
        let existing = tx.find_user_memberships(&pairs).await.unwrap();
        assert_eq!(existing.len(), 2, "{}: only the pairs that exist", b.name);
        let events: Vec<NewEvent> = (0..3)
            .map(|i| NewEvent {
                at: now(),
                actor: None,
                action: "test.bulk",
                target_type: "test",
                target_id: i.to_string(),
                before: None,
                after: None,
            })
            .collect();
        let first = tx.count(Counter::Events).await.unwrap() + 1;
        tx.append_events(&events).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = b.store.read().await.unwrap();
        let big = tx.get_group(groups[0].id).await.unwrap().unwrap();
        assert_eq!(big.counts, GroupCounts { members: 1200, admins: 0, children: 0 }, "{}", b.name);
        let small = tx.get_group(groups[1].id).await.unwrap().unwrap();
        assert_eq!(small.counts, GroupCounts { members: 1, admins: 1, children: 1 }, "{}", b.name);
        assert_eq!(tx.count_user_memberships(users[0].id).await.unwrap(), 2, "{}", b.name);
        assert_eq!(tx.count(Counter::Users).await.unwrap(), 1200, "{}", b.name);
        let logged = tx.list_events(first - 1, 10).await.unwrap();
        assert_eq!(logged.iter().map(|e| e.target_id.as_str()).collect::<Vec<_>>(), ["0", "1", "2"], "{}", b.name);
    }
}

/// Users by email: ignoring case as the core folds (non-ASCII letters
/// too, which SQLite's lower() leaves alone), every holder, in `num` order.
#[tokio::test]
async fn users_by_email() {
    for b in backends().await {
        let mut tx = b.store.write().await.unwrap();
        let ann = User { email: Some("Ann@Example.org".into()), ..user("ann") };
        let eve = User { email: Some("ÉVE@example.org".into()), ..user("eve") };
        let also = User { email: Some("ann@example.ORG".into()), ..user("ann2") };
        let none = user("nobody");
        for u in [&ann, &eve, &also, &none] {
            tx.insert_user(u).await.unwrap();
        }
        tx.commit().await.unwrap();
        let mut tx = b.store.read().await.unwrap();
        let names = |us: Vec<User>| us.into_iter().map(|u| u.username).collect::<Vec<_>>();
        assert_eq!(names(tx.get_users_by_email("ann@example.org").await.unwrap()), ["ann", "ann2"], "{}", b.name);
        assert_eq!(names(tx.get_users_by_email("éve@EXAMPLE.org").await.unwrap()), ["eve"], "{}", b.name);
        assert!(tx.get_users_by_email("nobody@example.org").await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn web_sessions_go_with_their_key_and_user_and_expire() {
    for b in backends().await {
        let mut tx = b.store.write().await.unwrap();
        let (alice, bob) = (user("alice"), user("bob"));
        tx.insert_user(&alice).await.unwrap();
        tx.insert_user(&bob).await.unwrap();
        let key = ApiKey {
            id: KeyId::new(),
            num: 0,
            user: alice.id,
            name: "k".into(),
            prefix: String::new(),
            created_at: now(),
        };
        tx.insert_key(&key, "key-digest").await.unwrap();
        let t = now();
        let hour = time::Duration::hours(1);
        let by_key = WebSession { user: alice.id, key: Some(key.id), created_at: t, expires_at: t + hour };
        let by_password = WebSession { user: bob.id, key: None, created_at: t, expires_at: t + hour };
        let old =
            WebSession { user: bob.id, key: None, created_at: t - hour, expires_at: t - time::Duration::seconds(1) };
        tx.insert_web_session("a", &by_key).await.unwrap();
        tx.insert_web_session("b", &by_password).await.unwrap();
        tx.insert_web_session("c", &old).await.unwrap();
        assert_eq!(tx.find_web_session("a").await.unwrap(), Some(by_key), "{}", b.name);
        assert_eq!(tx.find_web_session("b").await.unwrap(), Some(by_password.clone()), "{}", b.name);
        tx.commit().await.unwrap();
        let mut tx = b.store.write().await.unwrap();
        let taken = tx.insert_web_session("a", &by_password).await;
        assert!(matches!(taken, Err(StoreError::Conflict { .. })), "{}: {taken:?}", b.name);
        drop(tx);

        let mut tx = b.store.write().await.unwrap();
        assert_eq!(tx.delete_expired_web_sessions(t).await.unwrap(), 1, "{}", b.name);
        assert_eq!(tx.find_web_session("c").await.unwrap(), None);
        // Deleting the key deletes the sessions made from it; deleting the
        // user, theirs.
        tx.delete_key(key.id).await.unwrap();
        assert_eq!(tx.find_web_session("a").await.unwrap(), None, "{}", b.name);
        tx.delete_user(bob.id).await.unwrap();
        assert_eq!(tx.find_web_session("b").await.unwrap(), None, "{}", b.name);
        assert!(!tx.delete_web_session("b").await.unwrap());
        tx.commit().await.unwrap();
    }
}
