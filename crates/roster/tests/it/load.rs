//! `roster load`: a whole directory in one transaction, straight into the
//! database. What it loads reads back as the same directory an import
//! makes (through a running server's index, which reloads on the load's
//! event); a refused load writes nothing and names its line.

use futures_util::TryStreamExt;
use roster_client::{Client, NewGroup, NewUser, Role};

use crate::harness::{TestServer, run_roster};

/// Every group's counters and members at any depth, by name: what the
/// load settles in bulk and an import change by change.
async fn shape(c: &Client) -> Vec<(String, i64, i64, i64, Vec<String>)> {
    let mut out = Vec::new();
    let groups: Vec<_> = c.groups(None).try_collect().await.unwrap();
    for g in groups {
        let mut all: Vec<String> =
            c.transitive_members(g.id).try_collect::<Vec<_>>().await.unwrap().into_iter().map(|u| u.username).collect();
        all.sort();
        out.push((g.name, g.member_count, g.admin_count, g.child_count, all));
    }
    out.sort();
    out
}

/// Waits until the server's reads show group `name`: a load is another
/// process's write, which a server applies when it next reads the log.
async fn until_visible(c: &Client, name: &str) -> roster_client::Group {
    for _ in 0..500 {
        if let Some(g) = c.find_group(name).await.unwrap() {
            return g;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("group {name} never became visible");
}

/// The statements behind the indexes of `memberships` (SQLite, which a
/// load drops and makes again; PostgreSQL keeps them through a load).
async fn membership_indexes(url: &str) -> Vec<String> {
    if !url.starts_with("sqlite") {
        return Vec::new();
    }
    let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(url).await.unwrap();
    sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'memberships' ORDER BY name")
        .fetch_all(&mut c)
        .await
        .unwrap()
        .into_iter()
        .map(|sql: Option<String>| sql.unwrap_or_default())
        .collect()
}

/// Three groups nested as a diamond's half, 30 users in them with both roles.
async fn sample_directory(c: &Client) {
    let eng =
        c.create_group(&NewGroup { description: Some("builders".into()), ..NewGroup::named("Eng") }).await.unwrap();
    let sre = c.create_group(&NewGroup { unique_id: Some("sre-1".into()), ..NewGroup::named("SRE") }).await.unwrap();
    let oncall = c.create_group(&NewGroup::named("Oncall")).await.unwrap();
    c.add_child(eng.id, sre.id).await.unwrap();
    c.add_child(sre.id, oncall.id).await.unwrap();
    c.add_child(eng.id, oncall.id).await.unwrap();
    for i in 0..30 {
        let u = c
            .create_user(&NewUser {
                email: Some(format!("u{i}@example.com")),
                external_id: Some(format!("ext-{i}")),
                ..NewUser::named(format!("user{i:02}"))
            })
            .await
            .unwrap();
        c.put_member(eng.id, u.id, if i == 0 { Role::Admin } else { Role::Member }).await.unwrap();
        if i % 3 == 0 {
            c.put_member(sre.id, u.id, Role::Member).await.unwrap();
        }
        if i % 7 == 0 {
            c.put_member(oncall.id, u.id, Role::Admin).await.unwrap();
        }
    }
}

/// A fresh server on a database of the same kind as `a`'s (`None`: no PostgreSQL here).
async fn another_like(a: &TestServer, name: &str) -> Option<TestServer> {
    if a.url.starts_with("sqlite") { Some(TestServer::sqlite().await) } else { TestServer::postgres(name).await }
}

async fn a_load_reads_back_as_the_directory_it_was_exported_from(a: TestServer) {
    let c = Client::new(&a.base, &a.admin).unwrap();
    sample_directory(&c).await;
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump.ndjson");
    let (code, _, err) = a.roster(&["export", "--to", dump.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    let original = std::fs::read_to_string(&dump).unwrap();

    // Into a fresh database of the same kind, with its server running: it
    // learns of the load from the log and reloads its index.
    let Some(b) = another_like(&a, "load::a_load_reads_back::target").await else { return };
    let (code, _, err) = b.roster(&["load", dump.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("users created 30, users updated 0, groups 3, memberships 45, nesting links 3"), "{err}");
    let cb = Client::new(&b.base, &b.admin).unwrap();
    until_visible(&cb, "SRE").await;
    let (_, copy, _) = b.roster(&["export"]).await;
    assert_eq!(copy, original, "the same directory, record for record");
    assert_eq!(shape(&cb).await, shape(&c).await, "counters and members at any depth");
    // A server reading only the store agrees with the index.
    let store_only = b.twin(false).await;
    let cs = Client::new(&store_only.base, &store_only.admin).unwrap();
    assert_eq!(shape(&cs).await, shape(&c).await, "the store's own counters and closure");
    let sre_b = cb.find_group("SRE").await.unwrap().unwrap();
    assert_eq!(sre_b.unique_id.as_deref(), Some("sre-1"));
    // Every index the load set aside is back, as the schema made it.
    let indexes = membership_indexes(&b.url).await;
    assert_eq!(indexes, membership_indexes(&a.url).await);
    assert!(
        a.url.starts_with("postgres") || indexes.iter().any(|i| i.contains("memberships_user_pair")),
        "{indexes:?}"
    );
    // The log holds one event for the whole load, with its totals.
    let events = b.get("/v1/events?limit=500").await;
    let loaded: Vec<_> =
        events.body["items"].as_array().unwrap().iter().filter(|e| e["action"] == "directory.loaded").collect();
    assert_eq!(loaded.len(), 1, "{}", events.body);
    assert_eq!(loaded[0]["after"]["memberships"], 45);
    // Writes go on as usual after it, and a second load is refused.
    let new = cb.create_group(&NewGroup::named("After")).await.unwrap();
    cb.add_child(new.id, sre_b.id).await.unwrap();
    let (code, _, err) = b.roster(&["load", dump.to_str().unwrap()]).await;
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("already has 4 group(s)"), "{err}");
}

async fn csv_files_load_as_one(a: TestServer) {
    let c = Client::new(&a.base, &a.admin).unwrap();
    sample_directory(&c).await;
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for kind in ["users", "groups", "memberships", "children"] {
        let path = dir.path().join(format!("{kind}.csv"));
        let (code, _, err) =
            a.roster(&["export", "--format", "csv", "--kind", kind, "--to", path.to_str().unwrap()]).await;
        assert_eq!(code, 0, "{err}");
        files.push(path.to_str().unwrap().to_owned());
    }
    let Some(b) = another_like(&a, "load::csv_files_load_as_one::target").await else { return };
    // A bad row in the third file: named by that file and its own line.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "group,user,role\nEng,user01,member\nEng,nobody,member\n").unwrap();
    let args = |third: &str| -> Vec<String> {
        let mut v = vec!["load".to_owned(), files[0].clone(), files[1].clone(), third.to_owned()];
        v.push(files[3].clone());
        v
    };
    let bad_args = args(bad.to_str().unwrap());
    let (code, _, err) = b.roster(&bad_args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("line 3") && err.contains("bad.csv") && err.contains("nobody"), "{err}");
    let good_args = args(&files[2]);
    let (code, _, err) = b.roster(&good_args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(code, 0, "{err}");
    let cb = Client::new(&b.base, &b.admin).unwrap();
    until_visible(&cb, "SRE").await;
    assert_eq!(b.roster(&["export"]).await.1, a.roster(&["export"]).await.1);
    assert_eq!(shape(&cb).await, shape(&c).await);
}

async fn a_refused_load_names_its_line_and_writes_nothing(s: TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.ndjson");
    let cases: &[(&str, &str, &str)] = &[
        (
            "{\"type\":\"group\",\"name\":\"A\"}\n{\"type\":\"group\",\"name\":\"B\"}\n\
             {\"type\":\"child\",\"parent\":\"A\",\"child\":\"B\"}\n{\"type\":\"child\",\"parent\":\"B\",\"child\":\"A\"}\n",
            "line 4",
            "cycle",
        ),
        (
            "{\"type\":\"group\",\"name\":\"A\"}\n{\"type\":\"child\",\"parent\":\"A\",\"child\":\"a\"}\n",
            "line 2",
            "cycle",
        ),
        (
            "{\"type\":\"group\",\"name\":\"A\"}\n{\"type\":\"user\",\"username\":\"ann\"}\n\
             {\"type\":\"member\",\"group\":\"A\",\"user\":\"ghost\"}\n",
            "line 3",
            "no user",
        ),
        (
            "{\"type\":\"child\",\"parent\":\"A\",\"child\":\"Nope\"}\n{\"type\":\"group\",\"name\":\"A\"}\n",
            "line 1",
            "no group",
        ),
        (
            "{\"type\":\"user\",\"username\":\"one\",\"external_id\":\"X1\"}\n\
             {\"type\":\"user\",\"username\":\"two\",\"external_id\":\"X1\"}\n",
            "line 2",
            "external_id",
        ),
        (
            "{\"type\":\"group\",\"name\":\"A\"}\n{\"type\":\"member\",\"group\":\"A\",\"user\":\"admin\",\"role\":\"owner\"}\n",
            "line 2",
            "role",
        ),
        ("{\"type\":\"group\",\"name\":\"A\"}\nnot json\n", "line 2", "not JSON"),
        ("{\"type\":\"group\",\"name\":\"all_users\"}\n", "line 1", "all_users"),
        ("{\"type\":\"user\",\"username\":\"admin\",\"site_role\":\"user\"}\n", "line 1", "last active site admin"),
        ("{\"type\":\"user\",\"username\":\"has space\"}\n", "line 1", "username"),
    ];
    let c = Client::new(&s.base, &s.admin).unwrap();
    for (text, line, what) in cases {
        std::fs::write(&file, text).unwrap();
        let (code, _, err) = s.roster(&["load", file.to_str().unwrap()]).await;
        assert_eq!(code, 5, "{text}: {err}");
        assert!(err.contains(line) && err.contains(what), "{text}: {err}");
        assert_eq!(c.count_groups().await.unwrap(), 0, "{text}: nothing written");
        let users: Vec<_> = c.users(None).try_collect().await.unwrap();
        assert_eq!(users.len(), 1, "{text}: only the admin");
        assert!(users[0].active && users[0].site_role == "admin", "{text}");
    }
    // A record may name a user or group made later in the file; an edge
    // named twice is one edge, with the last record's role.
    std::fs::write(
        &file,
        "{\"type\":\"member\",\"group\":\"late\",\"user\":\"Zed\",\"role\":\"admin\"}\n\
         {\"type\":\"child\",\"parent\":\"late\",\"child\":\"inner\"}\n\
         {\"type\":\"group\",\"name\":\"Late\"}\n{\"type\":\"group\",\"name\":\"inner\"}\n\
         {\"type\":\"user\",\"username\":\"zed\",\"email\":\"z@example.com\"}\n\
         {\"type\":\"member\",\"group\":\"LATE\",\"user\":\"zed\"}\n\
         {\"type\":\"member\",\"group\":\"inner\",\"user\":\"admin\"}\n",
    )
    .unwrap();
    let (code, _, err) = s.roster(&["load", file.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("users created 1, users updated 0, groups 2, memberships 2, nesting links 1"), "{err}");
    let late = until_visible(&c, "Late").await;
    assert_eq!((late.member_count, late.admin_count, late.child_count), (1, 0, 1));
    let all: Vec<_> = c.transitive_members(late.id).try_collect().await.unwrap();
    assert_eq!(all.len(), 2, "zed directly, admin through inner");
}

/// An index snapshot taken before a load stands for a directory the load
/// replaced wholesale: a start passes it over and reads the tables, and a
/// running index reloads on the load's event.
async fn a_snapshot_from_before_a_load_is_passed_over(s: TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let store = roster_store::connect(&s.url).await.unwrap();
    let before = roster_core::Directory::new(store.clone()).with_index_snapshot(Some(path.clone()));
    before.index().load(&*store).await.unwrap();
    assert!(path.exists(), "written by the load from the store");

    let file = dir.path().join("d.ndjson");
    std::fs::write(
        &file,
        "{\"type\":\"group\",\"name\":\"Loaded\"}\n{\"type\":\"member\",\"group\":\"Loaded\",\"user\":\"admin\"}\n",
    )
    .unwrap();
    let (code, _, err) = s.roster(&["load", file.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");

    let after = roster_core::Directory::new(store.clone()).with_index_snapshot(Some(path.clone()));
    let used = after.index().load_snapshot(&*store).await;
    assert!(matches!(used, Err(roster_core::index::SnapshotError::BulkLoaded(_))), "{used:?}");
    assert!(!after.index().is_ready(), "not ready on the snapshot's rows");
    // A server started now reads the tables: ready means the load is in.
    let started = s.twin_with_snapshot(&path).await;
    assert_eq!(started.directory.index().snapshot_loads(), 0);
    let c = Client::new(&started.base, &started.admin).unwrap();
    let g = c.find_group("Loaded").await.unwrap().expect("the loaded group, at once");
    assert_eq!(g.member_count, 1);
    // The index that was loaded before the load catches up by reloading.
    before.index().catch_up(&*store).await.unwrap();
    let admin = before.authenticate(&s.admin, None).await.unwrap();
    before.get_group(&admin, roster_core::GroupId(g.id)).await.expect("reloaded on the load's event");
}

/// A database that does not exist yet is made, with its first admin, as
/// the first start of a server would; its key is shown once.
async fn a_load_into_a_new_database_makes_its_first_admin(s: TestServer) {
    if !s.url.starts_with("sqlite") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("d.csv");
    std::fs::write(&file, "username,email\nann,ann@example.com\nbob,\n").unwrap();
    let db = format!("sqlite://{}", dir.path().join("new.db").display());
    let load = [("ROSTER_DATABASE_URL", db.as_str())];
    let (code, out, err) = run_roster(&["load", file.to_str().unwrap()], &load).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Created the first admin user 'admin'"), "{out}");
    assert!(err.contains("users created 2"), "{err}");
    // Loaded once: the users are there (a second load updates nothing and
    // makes no second admin).
    let (code, out, err) = run_roster(&["load", file.to_str().unwrap()], &load).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("users created 0, users updated 0"), "{err}");
}

crate::on_every_store!(
    a_load_reads_back_as_the_directory_it_was_exported_from,
    csv_files_load_as_one,
    a_snapshot_from_before_a_load_is_passed_over,
    a_refused_load_names_its_line_and_writes_nothing,
    a_load_into_a_new_database_makes_its_first_admin,
);
