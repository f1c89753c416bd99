//! What the HTTP agreement test (`roster/tests/it/index.rs`) cannot reach:
//! a lookup key given up in the same batch that another takes it, a
//! lookup no front-end asks without checking the answer again, and store
//! semantics no front-end asks for (a cursor on a descending list, a group
//! counted twice).

use time::OffsetDateTime;

use super::*;
use crate::ids::MembershipId;
use crate::model::{DEFAULT_ORG_ID, Member, MemberNames, MemberRole, Membership, Permissions, SourceType};

fn user(num: i64, username: &str) -> User {
    User { num, ..User::new(username.into(), OffsetDateTime::UNIX_EPOCH) }
}

fn group(num: i64, name: &str) -> Group {
    let g = Group::new(name.into(), DEFAULT_ORG_ID, SourceType::Api, UserId::new(), OffsetDateTime::UNIX_EPOCH);
    Group { num, ..g }
}

fn member(num: i64, g: GroupId, u: UserId) -> Membership {
    Membership {
        id: MembershipId::new(),
        num,
        group: g,
        member: Member::User(u),
        role: MemberRole::Member,
        permissions: Permissions::default(),
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
    }
}

fn spec(limit: u32) -> ListSpec {
    ListSpec { after: None, limit, offset: 0, prefix: None, contains: None }
}

#[test]
fn an_external_id_given_up_is_no_longer_found_whichever_comes_first() {
    let mut s = State::default();
    let a = User { external_id: Some("x".into()), ..user(1, "a") };
    let b = user(2, "b");
    s.put_user(a.clone());
    s.put_user(b.clone());
    // The taker first, then the one who gave it up (one batch, either order).
    s.put_user(User { external_id: Some("x".into()), ..b.clone() });
    s.put_user(User { external_id: None, ..a.clone() });
    assert_eq!(s.user_by_external_id("x"), Some(b.id));
    s.put_user(b.clone());
    assert_eq!(s.user_by_external_id("x"), None);
    s.put_user(User { external_id: Some("y".into()), ..a.clone() });
    s.remove_user(a.id);
    assert_eq!(s.user_by_external_id("y"), None);
}

#[test]
fn a_unique_id_given_up_is_no_longer_found_whichever_comes_first() {
    let mut s = State::default();
    let g = Group { unique_id: Some("x".into()), ..group(1, "g") };
    let h = group(2, "h");
    s.put_group(g.clone());
    s.put_group(h.clone());
    s.put_group(Group { unique_id: Some("x".into()), ..h.clone() });
    s.put_group(Group { unique_id: None, ..g.clone() });
    assert_eq!(s.group_by_unique_id("x"), Some(h.id));
    s.put_group(h.clone());
    assert_eq!(s.group_by_unique_id("x"), None);
    s.put_group(Group { unique_id: Some("y".into()), ..g.clone() });
    s.remove_group(g.id);
    assert_eq!(s.group_by_unique_id("y"), None);
}

#[test]
fn names_are_found_folded_and_renames_forget_the_old_name() {
    let mut s = State::default();
    let u = user(1, "Ana");
    s.put_user(u.clone());
    assert_eq!(s.user_by_username("ANA"), Some(u.id));
    s.put_user(User { username: "Bo".into(), ..u.clone() });
    assert_eq!(s.user_by_username("ana"), None);
    assert_eq!(s.user_by_username("bo"), Some(u.id));
    let g = group(1, "Team");
    s.put_group(g.clone());
    assert_eq!(s.group_by_name("tEAM"), Some(g.id));
    assert_eq!(s.group_by_name("tea"), None);
}

/// As `push_list_ordered`: a descending list has no keyset order, so a
/// cursor is ignored, and with it the offset.
#[test]
fn a_descending_list_ignores_a_cursor_and_its_offset() {
    let mut s = State::default();
    let users: Vec<User> = ["a", "b", "c", "d"].iter().zip(1..).map(|(n, i)| user(i, n)).collect();
    for u in &users {
        s.put_user(u.clone());
    }
    let desc = UserFilter { descending: true, ..UserFilter::default() };
    let top: Vec<UserId> = users.iter().rev().take(2).map(|u| u.id).collect();
    assert_eq!(s.list_users(&spec(2), &desc), top);
    let with_cursor = ListSpec { after: Some(Keyset { key: "b".into(), num: 2 }), offset: 1, ..spec(2) };
    assert_eq!(s.list_users(&with_cursor, &desc), top);
    let asc: Vec<UserId> = users[2..].iter().map(|u| u.id).collect();
    assert_eq!(s.list_users(&with_cursor, &UserFilter::default()), asc);
    let offset = ListSpec { offset: 1, ..spec(2) };
    assert_eq!(s.list_users(&offset, &desc), vec![users[2].id, users[1].id]);
}

/// As the store's statement: each group asked for gets its count at its
/// first place; a group asked for again gets 0; inactive users do not count.
#[test]
fn active_members_are_counted_once_per_group() {
    let mut s = State::default();
    let (a, b) = (user(1, "a"), User { active: false, ..user(2, "b") });
    let (g, h) = (group(1, "g"), group(2, "h"));
    for u in [&a, &b] {
        s.put_user(u.clone());
    }
    for x in [&g, &h] {
        s.put_group(x.clone());
    }
    s.put_membership(member(1, g.id, a.id));
    s.put_membership(member(2, g.id, b.id));
    let nowhere = GroupId::new();
    assert_eq!(
        s.count_active_members(&[g.id, h.id, g.id, nowhere]),
        vec![(g.id, 1), (h.id, 0), (g.id, 0), (nowhere, 0)]
    );
}

/// As the store's statement: the groups a child is directly nested in,
/// each once, in name order, whatever else the child is in at any depth.
#[test]
fn parents_of_children_are_listed_by_name() {
    let mut s = State::default();
    let (top, zulu, mike, child, other) =
        (group(1, "top"), group(2, "zulu"), group(3, "mike"), group(4, "child"), group(5, "other"));
    for g in [&top, &zulu, &mike, &child, &other] {
        s.put_group(g.clone());
    }
    let nest = |num, parent: GroupId, c: GroupId| Membership {
        member: Member::Group(c),
        ..member(num, parent, UserId::new())
    };
    s.put_membership(nest(1, zulu.id, child.id));
    s.put_membership(nest(2, mike.id, child.id));
    s.put_membership(nest(3, top.id, zulu.id));
    s.put_membership(nest(4, top.id, other.id));
    let scope = GroupScope { children_any: vec![child.id], ..GroupScope::default() };
    assert_eq!(s.list_groups(&spec(10), &scope), vec![mike.id, zulu.id]);
    assert_eq!(s.count_groups(&spec(10), &scope), 2);
    let both = GroupScope { children_any: vec![child.id, other.id], ..GroupScope::default() };
    assert_eq!(s.list_groups(&spec(10), &both), vec![mike.id, top.id, zulu.id]);
    // A user in child is in it, mike, zulu and top at any depth.
    let u = user(1, "u");
    s.put_user(u.clone());
    s.put_membership(member(5, child.id, u.id));
    assert_eq!(*s.member_names(child.id), names(&["u"], &[]));
    assert_eq!(*s.member_names(top.id), names(&[], &["zulu", "other"]));
    let deep = GroupScope { members_at_any_depth: vec![u.id], ..GroupScope::default() };
    assert_eq!(s.list_groups(&spec(10), &deep), vec![child.id, mike.id, top.id, zulu.id]);
    assert_eq!(s.count_groups(&spec(10), &deep), 4);
}

fn names(users: &[&str], groups: &[&str]) -> MemberNames {
    let owned = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect();
    MemberNames { users: owned(users), groups: owned(groups) }
}

/// A group's member names, once kept, follow every change that touches
/// them: a member renamed, added, removed or deleted, a child group
/// renamed or deleted.
#[test]
fn member_names_follow_every_change() {
    let mut s = State::default();
    let (g, c) = (group(1, "g"), group(2, "c"));
    let (a, b) = (user(1, "a"), user(2, "b"));
    s.put_group(g.clone());
    s.put_group(c.clone());
    s.put_user(a.clone());
    s.put_user(b.clone());
    s.put_membership(member(1, g.id, a.id));
    s.put_membership(member(2, g.id, b.id));
    let nest = Membership { member: Member::Group(c.id), ..member(3, g.id, UserId::new()) };
    s.put_membership(nest);
    assert_eq!(*s.member_names(g.id), names(&["a", "b"], &["c"]));
    s.put_user(User { username: "ann".into(), ..a.clone() });
    assert_eq!(*s.member_names(g.id), names(&["ann", "b"], &["c"]), "a member renamed");
    s.put_user(User { first_name: Some("Bea".into()), ..b.clone() });
    assert_eq!(*s.member_names(g.id), names(&["ann", "b"], &["c"]), "another change keeps the names");
    s.put_group(Group { name: "sea".into(), ..c.clone() });
    assert_eq!(*s.member_names(g.id), names(&["ann", "b"], &["sea"]), "a child renamed");
    let bm = s.find_membership(g.id, Member::User(b.id)).map(|m| m.id).expect("b's membership");
    s.remove_membership(bm);
    assert_eq!(*s.member_names(g.id), names(&["ann"], &["sea"]), "a member removed");
    let d = user(3, "d");
    s.put_user(d.clone());
    s.put_membership(member(4, g.id, d.id));
    assert_eq!(*s.member_names(g.id), names(&["ann", "d"], &["sea"]), "a member added");
    s.remove_user(a.id);
    assert_eq!(*s.member_names(g.id), names(&["d"], &["sea"]), "a member deleted");
    s.remove_group(c.id);
    assert_eq!(*s.member_names(g.id), names(&["d"], &[]), "a child deleted");
    s.remove_group(g.id);
    assert_eq!(*s.member_names(g.id), names(&[], &[]), "the group deleted");
}

/// As the store: users by folded email, every holder in `num` order; a
/// changed or removed email is forgotten.
#[test]
fn users_are_found_by_email() {
    let mut s = State::default();
    let a = User { email: Some("Ann@Example.org".into()), ..user(1, "ann") };
    let b = User { email: Some("ann@example.ORG".into()), ..user(2, "ann2") };
    let e = User { email: Some("ÉVE@example.org".into()), ..user(3, "eve") };
    for u in [&a, &b, &e] {
        s.put_user(u.clone());
    }
    assert_eq!(s.users_by_email("ANN@example.org"), vec![a.id, b.id]);
    assert_eq!(s.users_by_email("éve@example.org"), vec![e.id]);
    s.put_user(User { email: Some("other@example.org".into()), ..a.clone() });
    assert_eq!(s.users_by_email("ann@example.org"), vec![b.id]);
    assert_eq!(s.users_by_email("other@example.org"), vec![a.id]);
    s.remove_user(b.id);
    assert!(s.users_by_email("ann@example.org").is_empty());
}

/// A group's users at any depth are the union of the direct-user bitmaps
/// kept with each edge: they follow a membership removed, a user deleted
/// (whose memberships go while the user's `num` is still known), a child
/// taken out and a group deleted, as the store's statement would.
#[test]
fn users_at_any_depth_follow_every_edge_and_deletion() {
    let mut s = State::default();
    let users: Vec<User> = (1..=4).map(|n| user(n, &format!("u{n}"))).collect();
    for u in &users {
        s.put_user(u.clone());
    }
    let (top, mid, low) = (group(1, "top"), group(2, "mid"), group(3, "low"));
    for g in [&top, &mid, &low] {
        s.put_group(g.clone());
    }
    let nest = |num, parent: &Group, child: &Group| Membership {
        member: Member::Group(child.id),
        ..member(num, parent.id, UserId::new())
    };
    s.put_membership(nest(10, &top, &mid));
    s.put_membership(nest(11, &mid, &low));
    s.put_membership(member(20, top.id, users[0].id));
    let in_mid = member(21, mid.id, users[1].id);
    s.put_membership(in_mid.clone());
    s.put_membership(member(22, low.id, users[2].id));
    s.put_membership(member(23, low.id, users[3].id));
    s.put_membership(member(24, mid.id, users[3].id));
    let nums = |s: &State, g: &Group| s.users_at_any_depth(g.id).iter().collect::<Vec<u64>>();
    assert_eq!(nums(&s, &top), [1, 2, 3, 4]);
    assert_eq!(nums(&s, &low), [3, 4]);
    s.remove_membership(in_mid.id);
    assert_eq!(nums(&s, &top), [1, 3, 4]);
    assert_eq!(nums(&s, &mid), [3, 4]);
    s.remove_user(users[3].id);
    assert_eq!(nums(&s, &top), [1, 3]);
    assert_eq!(nums(&s, &mid), [3]);
    // u4 again, as a new user with the same name: not in any group.
    s.put_user(user(5, "u4"));
    assert_eq!(nums(&s, &top), [1, 3]);
    s.remove_group(low.id);
    assert_eq!(nums(&s, &top), [1]);
    assert_eq!(nums(&s, &mid), Vec::<u64>::new());
}
