//! The Rust client against a real server: typed calls, streams that follow
//! cursors across pages, and server errors with their code and field.

use futures_util::TryStreamExt;
use roster_client::{Client, Error, GroupPatch, NewGroup, NewUser, Role};

use crate::harness::TestServer;

async fn client_round_trip(s: TestServer) {
    let roster = Client::new(&s.base, &s.admin).unwrap().with_page_size(3);
    assert_eq!(roster.me().await.unwrap().username, "admin");

    let group = roster.create_group(&NewGroup::named("Platform")).await.unwrap();
    assert_eq!(roster.group(group.id).await.unwrap(), group);
    let renamed = roster
        .update_group(group.id, &GroupPatch { description: Some("infra".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(renamed.description.as_deref(), Some("infra"));
    assert_eq!(roster.find_group("plat").await.unwrap().map(|g| g.id), Some(group.id));
    assert_eq!(roster.find_group("nothing").await.unwrap(), None);
    assert_eq!(roster.count_groups().await.unwrap(), 1);

    let mut ids = Vec::new();
    for i in 0..8 {
        let u = roster.create_user(&NewUser::named(format!("member{i}"))).await.unwrap();
        roster.put_member(group.id, u.id, Role::Member).await.unwrap();
        ids.push(u.id);
    }
    // Idempotent, hence retried safely.
    let again = roster.put_member(group.id, ids[0], Role::Member).await.unwrap();
    assert_eq!(again.user_id, Some(ids[0]));
    let members: Vec<_> = roster.members(group.id).try_collect().await.unwrap();
    assert_eq!(members.iter().map(|m| m.user.id).collect::<Vec<_>>(), ids, "three pages, every member once, in order");
    let users: Vec<_> = roster.users(Some("MEMBER")).try_collect().await.unwrap();
    assert_eq!(users.len(), 8);
    roster.remove_member(group.id, ids[0]).await.unwrap();
    assert_eq!(roster.group(group.id).await.unwrap().member_count, 7);

    let child = roster.create_group(&NewGroup::named("Platform SRE")).await.unwrap();
    roster.add_child(group.id, child.id).await.unwrap();
    let children: Vec<_> = roster.children(group.id).try_collect().await.unwrap();
    assert_eq!(children[0].group.id, child.id);
    let cycle = roster.add_child(child.id, group.id).await.unwrap_err();
    assert_eq!((cycle.status(), cycle.field()), (Some(409), Some("child_id")));

    let key = roster.create_key(ids[1], "ci").await.unwrap();
    let as_member = Client::new(&s.base, &key.key).unwrap();
    assert_eq!(as_member.me().await.unwrap().id, ids[1]);
    let groups: Vec<_> = as_member.user_groups(ids[1]).try_collect().await.unwrap();
    assert_eq!(groups[0].group.id, group.id);
    let denied = as_member.create_group(&NewGroup::named("nope")).await.unwrap_err();
    assert_eq!(denied.status(), Some(403));
    roster.delete_key(key.id).await.unwrap();
    assert_eq!(as_member.me().await.unwrap_err().status(), Some(401));

    let bad = roster.create_group(&NewGroup::named("")).await.unwrap_err();
    assert!(matches!(&bad, Error::Api { status: 400, code, .. } if code == "invalid_request"), "{bad:?}");
    assert_eq!(bad.field(), Some("name"));

    let feed = roster.events(0, 1000).await.unwrap();
    assert!(feed.items.iter().any(|e| e.action == "group.created"));
    roster.delete_group(child.id).await.unwrap();
    roster.delete_user(ids[0]).await.unwrap();
    assert_eq!(roster.user(ids[0]).await.unwrap_err().status(), Some(404));
    let nowhere = Client::new("http://127.0.0.1:9", "k").unwrap().me().await.unwrap_err();
    assert!(matches!(nowhere, Error::Transport(_)));
}

crate::on_every_store!(client_round_trip);

async fn client_catalogs_and_shares(s: TestServer) {
    use roster_client::Grantee;
    let roster = Client::new(&s.base, &s.admin).unwrap();
    let g = roster.create_group(&NewGroup::named("Data")).await.unwrap();
    let u = roster.create_user(&NewUser::named("dana")).await.unwrap();
    let m = roster.put_member(g.id, u.id, Role::Member).await.unwrap();
    assert_eq!(roster.membership(m.id).await.unwrap().role, Role::Member);
    assert_eq!(roster.set_membership_role(m.id, Role::Admin).await.unwrap().role, Role::Admin);
    roster.delete_membership(m.id).await.unwrap();

    let role = roster.create_role("auditor", Some("reads logs")).await.unwrap();
    roster.grant_role(g.id, role.id).await.unwrap();
    roster.grant_role(g.id, role.id).await.unwrap();
    let roles: Vec<_> = roster.roles().try_collect().await.unwrap();
    assert_eq!(roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["auditor"]);
    roster.revoke_role(g.id, role.id).await.unwrap();
    roster.delete_role(role.id).await.unwrap();

    let org = roster.create_organization("Acme").await.unwrap();
    assert_eq!(org.slug.as_deref(), Some("acme"));
    assert_eq!(roster.organizations().try_collect::<Vec<_>>().await.unwrap().len(), 2);
    let project = roster.create_project("atlas", None).await.unwrap();
    assert_eq!(roster.bind_project_group(project.id, g.id, "viewer").await.unwrap().role, "viewer");
    let bound: Vec<_> = roster.project_bindings(project.id).try_collect().await.unwrap();
    assert_eq!(bound[0].group_id, Some(g.id));
    assert_eq!(roster.bind_project_user(project.id, u.id, "admin").await.unwrap().user_id, Some(u.id));
    assert_eq!(roster.project_bindings(project.id).try_collect::<Vec<_>>().await.unwrap().len(), 2);
    roster.delete_project(project.id).await.unwrap();
    assert!(roster.projects().try_collect::<Vec<_>>().await.unwrap().is_empty());

    let share = roster.share(g.id, Grantee::User(u.id), "write").await.unwrap();
    assert_eq!(share.level, "write");
    assert_eq!(roster.shares(g.id).try_collect::<Vec<_>>().await.unwrap().len(), 1);
    roster.unshare(g.id, Grantee::User(u.id)).await.unwrap();
    let key = roster.create_key(u.id, "k").await.unwrap();
    let keys: Vec<_> = roster.keys(Some(u.id)).try_collect().await.unwrap();
    assert_eq!(keys.iter().map(|k| k.id).collect::<Vec<_>>(), [key.id]);
}

crate::on_every_store!(client_catalogs_and_shares);

/// A client carries the revision of its writes to its next requests, so
/// another client given that revision reads them through another server.
async fn client_reads_its_writes_anywhere(s: TestServer) {
    let other = s.twin(true).await;
    let writer = Client::new(&s.base, &s.admin).unwrap();
    assert_eq!(writer.revision(), 0);
    let group = writer.create_group(&NewGroup::named("Everywhere")).await.unwrap();
    let user = writer.create_user(&NewUser::named("roamer")).await.unwrap();
    writer.put_member(group.id, user.id, Role::Member).await.unwrap();
    assert!(writer.revision() > 0, "a write answers its revision");
    let reader = Client::new(&other.base, &s.admin).unwrap().with_min_revision(writer.revision());
    assert!(reader.check(user.id, group.id).await.unwrap().member);
    assert_eq!(reader.group(group.id).await.unwrap().member_count, 1);
}

crate::on_every_store!(client_reads_its_writes_anywhere);
