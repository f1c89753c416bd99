//! `roster export` then `roster import` into a fresh server yields the same
//! directory; imports are idempotent, batched all-or-nothing, and a bad
//! line is reported by its number.

use futures_util::TryStreamExt;
use roster_client::{Client, NewGroup, NewUser, Role};

use crate::harness::TestServer;

async fn export_then_import_is_the_same_directory(a: TestServer) {
    let c = Client::new(&a.base, &a.admin).unwrap();
    let eng =
        c.create_group(&NewGroup { description: Some("builders".into()), ..NewGroup::named("Eng") }).await.unwrap();
    let sre = c.create_group(&NewGroup::named("SRE")).await.unwrap();
    c.add_child(eng.id, sre.id).await.unwrap();
    for i in 0..25 {
        let u = c
            .create_user(&NewUser { email: Some(format!("u{i}@example.com")), ..NewUser::named(format!("user{i:02}")) })
            .await
            .unwrap();
        c.put_member(eng.id, u.id, if i == 0 { Role::Admin } else { Role::Member }).await.unwrap();
        if i % 5 == 0 {
            c.put_member(sre.id, u.id, Role::Member).await.unwrap();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump.ndjson");
    let (code, _, err) = a.roster(&["export", "--to", dump.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    let original = std::fs::read_to_string(&dump).unwrap();
    assert_eq!(original.lines().count(), 26 + 2 + 1 + 25 + 5, "users (admin too), groups, nesting, memberships");

    let b = TestServer::sqlite().await;
    let (code, _, err) = b.roster(&["import", dump.to_str().unwrap(), "--batch", "7"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("created 58"), "{err}");
    let (_, copy, _) = b.roster(&["export"]).await;
    assert_eq!(copy, original, "the same directory, record for record");
    // Idempotent: the second run changes nothing.
    let (code, _, err) = b.roster(&["import", dump.to_str().unwrap()]).await;
    assert_eq!(code, 0);
    assert!(err.contains("created 0, updated 0, unchanged 59"), "{err}");
}

async fn bad_lines_are_reported_and_their_batch_not_applied(s: TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.ndjson");
    std::fs::write(
        &file,
        "{\"type\":\"group\",\"name\":\"A\"}\n{\"type\":\"group\",\"name\":\"B\"}\n{\"type\":\"group\",\"name\":\"C\"}\nnot json\n",
    )
    .unwrap();
    let (code, _, err) = s.roster(&["import", file.to_str().unwrap(), "--batch", "2"]).await;
    assert_eq!(code, 5);
    assert!(err.contains("line 4"), "{err}");
    let c = Client::new(&s.base, &s.admin).unwrap();
    assert_eq!(c.count_groups().await.unwrap(), 2, "A and B's batch applied, C's not");

    std::fs::write(
        &file,
        "{\"type\":\"user\",\"username\":\"ann\"}\n{\"type\":\"member\",\"group\":\"A\",\"user\":\"ann\"}\n{\"type\":\"member\",\"group\":\"A\",\"user\":\"ghost\"}\n",
    )
    .unwrap();
    let (code, _, err) = s.roster(&["import", file.to_str().unwrap()]).await;
    // A record naming a user nobody has is a 404 (not found: exit 3), as
    // /openapi.json says; a malformed one is refused (exit 5).
    assert_eq!(code, 3);
    assert!(err.contains("line 3") && err.contains("ghost"), "{err}");
    assert!(c.find_group("A").await.unwrap().is_some_and(|g| g.member_count == 0), "nothing of the failed batch");

    let csv = dir.path().join("users.csv");
    std::fs::write(&csv, "username,email,display_name\nbea,bea@example.com,Bea B\ncid,,Cid\n").unwrap();
    let (code, _, err) = s.roster(&["import", csv.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    let members = dir.path().join("members.csv");
    std::fs::write(&members, "group,user,role\nA,bea,admin\nB,cid,\n").unwrap();
    let (code, _, err) = s.roster(&["import", members.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(c.find_group("A").await.unwrap().unwrap().admin_count, 1);
}

/// CSV, one kind per file: users, groups, nesting and memberships exported
/// from one server and imported into a fresh one give the same directory.
async fn csv_export_round_trips(a: TestServer) {
    let c = Client::new(&a.base, &a.admin).unwrap();
    let ops = c
        .create_group(&NewGroup { description: Some("on call, \"24/7\"".into()), ..NewGroup::named("Ops") })
        .await
        .unwrap();
    let web = c.create_group(&NewGroup::named("Web")).await.unwrap();
    c.add_child(ops.id, web.id).await.unwrap();
    for i in 0..6 {
        let name = NewUser { display_name: Some(format!("Person, {i}")), ..NewUser::named(format!("p{i}")) };
        let u = c.create_user(&name).await.unwrap();
        c.put_member(if i % 2 == 0 { ops.id } else { web.id }, u.id, if i == 0 { Role::Admin } else { Role::Member })
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let b = TestServer::sqlite().await;
    for kind in ["users", "groups", "children", "memberships"] {
        let file = dir.path().join(format!("{kind}.csv"));
        let (code, _, err) =
            a.roster(&["export", "--format", "csv", "--kind", kind, "--to", file.to_str().unwrap()]).await;
        assert_eq!(code, 0, "{err}");
        let (code, _, err) = b.roster(&["import", file.to_str().unwrap()]).await;
        assert_eq!(code, 0, "{kind}: {err}");
    }
    let (_, original, _) = a.roster(&["export"]).await;
    let (_, copy, _) = b.roster(&["export"]).await;
    assert_eq!(copy, original, "the same directory, record for record");
    let (code, _, err) = a.roster(&["export", "--format", "csv"]).await;
    assert_eq!(code, 2, "csv needs a kind: {err}");
}

/// A batch settles users, then groups, then memberships, so a record may
/// name what a later line of its batch makes; a clash the store finds
/// inside a multi-row write is still reported at its own line.
async fn import_batches_are_sets(s: TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("set.ndjson");
    std::fs::write(
        &file,
        "{\"type\":\"member\",\"group\":\"G\",\"user\":\"zed\",\"role\":\"admin\"}\n\
         {\"type\":\"user\",\"username\":\"zed\"}\n\
         {\"type\":\"user\",\"username\":\"ZED\",\"email\":\"z@example.com\"}\n\
         {\"type\":\"group\",\"name\":\"G\"}\n\
         {\"type\":\"member\",\"group\":\"g\",\"user\":\"zed\",\"role\":\"admin\"}\n",
    )
    .unwrap();
    let (code, _, err) = s.roster(&["import", file.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("created 3, updated 1, unchanged 1"), "{err}");
    let c = Client::new(&s.base, &s.admin).unwrap();
    let g = c.find_group("G").await.unwrap().unwrap();
    assert_eq!((g.member_count, g.admin_count), (1, 1));

    std::fs::write(
        &file,
        "{\"type\":\"user\",\"username\":\"one\",\"external_id\":\"X1\"}\n\
         {\"type\":\"user\",\"username\":\"two\",\"external_id\":\"X1\"}\n",
    )
    .unwrap();
    let (code, _, err) = s.roster(&["import", file.to_str().unwrap()]).await;
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("line 2") && err.contains("external_id"), "{err}");
    let ones: Vec<_> = c.users(Some("one")).try_collect().await.unwrap();
    assert!(ones.is_empty(), "nothing of the batch");
}

crate::on_every_store!(
    export_then_import_is_the_same_directory,
    bad_lines_are_reported_and_their_batch_not_applied,
    csv_export_round_trips,
    import_batches_are_sets,
);
