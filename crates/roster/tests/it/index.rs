//! The in-memory index: what it answers equals what the store answers after
//! any sequence of changes, a second server follows the event log, and
//! consistency tokens let a client read its write anywhere.

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Reply, TestServer};

on_every_store!(
    the_index_agrees_with_the_store,
    tokens_read_a_write_on_another_server,
    readiness_and_bad_tokens,
    a_server_far_behind_loads_afresh,
    a_snapshot_fits_only_its_own_log
);

/// A small deterministic generator (the same run on every machine).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// Everything a read can show about the directory's edges, as one server
/// answers it, as the admin and as a plain user with a key.
async fn snapshot(
    s: &TestServer,
    users: &[String],
    groups: &[String],
    viewer_key: &str,
    names: &Names,
) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let get = |path: String, key: Option<String>| {
        let s = &*s;
        async move {
            let (name, value) = auth_header(&path, key.as_deref().unwrap_or(&s.admin));
            let r = s.send(Method::GET, &path, &[(name, &value)], None).await;
            assert_ne!(r.status, StatusCode::UNAUTHORIZED, "{path}");
            (
                format!("{path} as {}", if key.is_some() { "viewer" } else { "admin" }),
                // SCIM's locations name the server; the rest must be equal.
                json!([r.status.as_u16(), without_base(&r.body, &s.base)]),
            )
        }
    };
    for g in groups {
        out.push(get(format!("/v1/groups/{g}"), None).await);
        out.push(get(format!("/v1/groups/{g}"), Some(viewer_key.to_owned())).await);
        out.push(get(format!("/v1/groups/{g}/members?limit=1000"), None).await);
        out.push(get(format!("/v1/groups/{g}/members?limit=3"), None).await);
        out.push(get(format!("/v1/groups/{g}/members?transitive=true&limit=1000"), None).await);
        out.push(get(format!("/v1/groups/{g}/members?transitive=true&limit=2"), None).await);
        out.push(get(format!("/v1/groups/{g}/children?limit=1000"), None).await);
        out.push(get(format!("/v1/groups/{g}/shares"), None).await);
        out.push(get(format!("/v1/groups/{g}/members"), Some(viewer_key.to_owned())).await);
    }
    // Lists by name, whole and in small pages followed by their cursors,
    // as the admin and as the viewer (who sees the groups they are in or
    // hold a share on, themselves or through a group).
    let viewer = Some(viewer_key.to_owned());
    for (list, key) in [
        ("/v1/users?limit=2", None),
        ("/v1/groups?limit=2", None),
        ("/v1/groups?prefix=G1&limit=2", None),
        ("/v1/users?limit=3&prefix=u", None),
        ("/v1/users?limit=2&prefix=V", None),
        ("/v1/users?prefix=vi&limit=1000", None),
        ("/v1/users?q=U&limit=2", None),
        ("/v1/users?q=v&limit=3", None),
        ("/v1/users?q=1&limit=2", None),
        ("/v1/users?q=AN&limit=1000", None),
        ("/v1/users?q=zz&limit=2", None),
        ("/v1/users?q=1&prefix=w&limit=1", None),
        ("/v1/groups?q=1&limit=2", None),
        ("/v1/groups?limit=2", viewer.clone()),
        ("/v1/groups?q=G&limit=1", viewer.clone()),
        ("/v1/groups?prefix=h&limit=2", viewer.clone()),
        ("/v1/users?q=u&limit=2", viewer.clone()),
    ] {
        let mut path = list.to_owned();
        for _ in 0..50 {
            let (label, page) = get(path.clone(), key.clone()).await;
            let next = page[1]["next_cursor"].as_str().map(str::to_owned);
            out.push((label, page));
            match next {
                Some(c) => path = format!("{list}&cursor={c}"),
                None => break,
            }
        }
    }
    // Filters and offset pages of the other front-ends: role and status
    // (Posit), a piece of a name, groups, order and share level (Civis), a
    // prefix and an external id (Box), SCIM's pushed filters.
    let mut lists: Vec<String> = Vec::new();
    for role in ["", "administrator", "publisher", "viewer", "administrator|viewer", "publisher|viewer"] {
        for status in ["", "licensed", "locked"] {
            for page in 1..=3 {
                lists.push(format!(
                    "/posit/__api__/v1/users?user_role={role}&account_status={status}&page_size=2&page_number={page}"
                ));
            }
        }
    }
    lists.push("/posit/__api__/v1/users?prefix=u&user_role=viewer&page_size=100".into());
    for q in ["", "query=u&", "query=1&", "account_status=active&", "account_status=inactive&"] {
        for dir in ["asc", "desc"] {
            for page in 1..=3 {
                lists.push(format!("/civis/users?{q}order_dir={dir}&limit=2&page_num={page}&exclude_groups=true"));
            }
        }
    }
    for (i, g) in names.group_nums.iter().enumerate() {
        lists.push(format!("/civis/users?group_id={g}&limit=1000&exclude_groups=true"));
        if let Some(h) = names.group_nums.get(i + 1) {
            lists.push(format!("/civis/users?group_ids[]={g}&group_ids[]={h}&query=u&limit=1000&exclude_groups=true"));
        }
    }
    for order in ["name", "created_at"] {
        for dir in ["asc", "desc"] {
            for page in 1..=3 {
                lists.push(format!("/civis/groups?order={order}&order_dir={dir}&limit=2&page_num={page}"));
            }
            for permission in ["read", "write", "manage"] {
                lists.push(format!("/civis/groups?order={order}&order_dir={dir}&permission={permission}&limit=1000"));
            }
        }
    }
    for org in [1, 2] {
        lists.push(format!("/civis/groups?organization_id={org}&limit=1000"));
        lists.push(format!("/civis/groups?query=1&organization_id={org}&order=created_at&limit=1000"));
    }
    for u in &names.user_nums {
        lists.push(format!("/civis/groups?user_ids[]={u}&include_members=true&limit=1000"));
    }
    for term in ["u", "W", "vi", ""] {
        for offset in [0, 1, 3] {
            lists.push(format!("/box/2.0/users?filter_term={term}&limit=2&offset={offset}"));
        }
    }
    for active in ["true", "false"] {
        for (start, order) in [(1, "ascending"), (2, "descending"), (4, "ascending")] {
            lists.push(format!(
                "/scim/v2/Users?filter={}&startIndex={start}&count=2&sortOrder={order}",
                scim_filter(&format!("active eq {active}"))
            ));
        }
    }
    for start in [1, 3] {
        lists.push(format!("/scim/v2/Groups?startIndex={start}&count=2&sortOrder=descending"));
    }
    for name in &names.usernames {
        lists.push(format!("/scim/v2/Users?filter={}", scim_filter(&format!("userName eq \"{name}\""))));
        lists.push(format!("/iguazio/api/users?filter[username]={name}"));
    }
    for x in ["ext-0", "ext-1", "ext-2", "ext-3", "EXT-1", "none"] {
        lists.push(format!("/scim/v2/Users?filter={}", scim_filter(&format!("externalId eq \"{x}\""))));
        lists.push(format!("/box/2.0/users?external_app_user_id={x}"));
    }
    for name in &names.group_names {
        lists.push(format!("/scim/v2/Groups?filter={}", scim_filter(&format!("displayName eq \"{name}\""))));
        lists.push(format!("/iguazio/api/user_groups?filter[name]={name}"));
    }
    for x in ["uid-0", "uid-1", "uid-2", "UID-1", "none"] {
        lists.push(format!("/scim/v2/Groups?filter={}", scim_filter(&format!("externalId eq \"{x}\""))));
    }
    for path in lists {
        out.push(get(path.clone(), None).await);
        out.push(get(path, viewer.clone()).await);
    }
    for u in users {
        out.push(get(format!("/v1/users/{u}"), None).await);
        out.push(get(format!("/v1/users/{u}/groups?limit=1000"), None).await);
        out.push(get(format!("/v1/users/{u}/groups?transitive=true&limit=1000"), None).await);
        for g in groups {
            out.push(get(format!("/v1/check?user={u}&group={g}"), None).await);
        }
    }
    out
}

/// A key in the form the front-end of `path` reads.
fn auth_header(path: &str, key: &str) -> (&'static str, String) {
    if path.starts_with("/posit") {
        ("authorization", format!("Key {key}"))
    } else if path.starts_with("/civis") {
        ("authorization", format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))))
    } else if path.starts_with("/iguazio") {
        ("cookie", format!("session=j%3A%7B%22sid%22%3A%22{key}%22%7D"))
    } else {
        ("authorization", format!("Bearer {key}"))
    }
}

/// `body` with the server's base URL taken out.
fn without_base(body: &Value, base: &str) -> Value {
    serde_json::from_str(&body.to_string().replace(base, "BASE")).expect("JSON")
}

/// A SCIM filter in a query string.
fn scim_filter(f: &str) -> String {
    f.replace(' ', "%20").replace('"', "%22")
}

/// The names and integer ids the lookups of a snapshot ask for: those the
/// store holds now, each name also in capitals, and a name nothing has.
struct Names {
    usernames: Vec<String>,
    group_names: Vec<String>,
    user_nums: Vec<i64>,
    group_nums: Vec<i64>,
}

impl Names {
    async fn of(s: &TestServer) -> Self {
        let field = |body: &Value, list: &str, name: &str| -> Vec<Value> {
            body[list].as_array().expect("a list").iter().map(|x| x[name].clone()).collect()
        };
        let text = |v: Vec<Value>| -> Vec<String> {
            let mut out: Vec<String> = v.iter().filter_map(Value::as_str).map(str::to_owned).collect();
            out.extend(out.clone().iter().map(|n| n.to_uppercase()));
            out.push("nobody".into());
            out
        };
        let nums = |v: Vec<Value>| -> Vec<i64> { v.iter().filter_map(Value::as_i64).collect() };
        let civis = |path: &'static str| async move {
            let (name, value) = auth_header(path, &s.admin);
            s.send(Method::GET, path, &[(name, &value)], None).await.body
        };
        let civis_users = civis("/civis/users?limit=1000&exclude_groups=true").await;
        let civis_groups = civis("/civis/groups?limit=1000").await;
        let wrap = |v: Value| json!({ "items": v });
        Self {
            usernames: text(field(&s.get("/v1/users?limit=1000").await.body, "items", "username")),
            group_names: text(field(&s.get("/v1/groups?limit=1000").await.body, "items", "name")),
            user_nums: nums(field(&wrap(civis_users), "items", "id")),
            group_nums: nums(field(&wrap(civis_groups), "items", "id")),
        }
    }
}

/// Random changes to users, groups, memberships, nesting and shares,
/// through one server that reads through its index; after every round,
/// each read equals the same read from a server on the same database that
/// reads the store, from a second server that follows the log, and from a
/// third started mid-stream.
async fn the_index_agrees_with_the_store(s: TestServer) {
    let plain = s.twin(false).await;
    let follower = s.twin(true).await;
    let mut late = None;
    // A server that keeps its index's snapshot, and one restarted on it.
    let kept = tempfile::tempdir().expect("dir");
    let snapshot_path = kept.path().join("index");
    let mut keeper = None;
    let mut restarted: Option<(TestServer, TestServer)> = None;
    let (viewer, viewer_key) = s.user_with_key("viewer").await;
    let mut users = vec![viewer.clone()];
    for i in 0..7 {
        users.push(s.user(&format!("u{i}")).await);
    }
    // Other names a name prefix matches too.
    for (u, names) in users[1..4].iter().zip([
        json!({ "first_name": "Vivian" }),
        json!({ "display_name": "Victor U" }),
        json!({ "last_name": "vance", "first_name": "Uma" }),
    ]) {
        assert_eq!(s.patch(&format!("/v1/users/{u}"), names).await.status, StatusCode::OK);
    }
    // Roles, external ids and unique ids the filters and lookups find.
    for (u, fields) in users[4..].iter().zip([
        json!({ "site_role": "admin", "external_id": "ext-0" }),
        json!({ "role_label": "publisher", "external_id": "ext-1" }),
        json!({ "role_label": "viewer" }),
    ]) {
        assert_eq!(s.patch(&format!("/v1/users/{u}"), fields).await.status, StatusCode::OK);
    }
    let mut groups = Vec::new();
    for i in 0..6 {
        groups.push(s.group(&format!("g{i}")).await);
    }
    let r = s.patch(&format!("/v1/groups/{}", groups[0]), json!({ "unique_id": "uid-0" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // A second organization some groups move to (Civis lists by organization).
    let r = s.post("/v1/organizations", json!({ "name": "elsewhere" })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let elsewhere = r.id();
    let mut rng = Lcg(7);
    let mut made = 6;
    // A snapshot written while the keeper serves and changes land under it.
    let mut rewrite: Option<tokio::task::JoinHandle<Option<u64>>> = None;
    for round in 0..6 {
        for step in 0..25 {
            // Halfway through round 1: the snapshot written meanwhile is
            // done, and a server started on it joins the comparisons.
            if round == 1
                && step == 12
                && let Some(task) = rewrite.take()
            {
                assert!(task.await.expect("rewrite").is_some(), "written while serving");
                let r = s.twin_with_snapshot(&snapshot_path).await;
                assert_eq!(r.directory.index().snapshot_loads(), 1, "started from the snapshot written while serving");
                restarted = Some((r, s.twin(true).await));
            }
            let (g, h) = (groups[rng.below(groups.len())].clone(), groups[rng.below(groups.len())].clone());
            let u = users[rng.below(users.len())].clone();
            let r = match rng.below(13) {
                0..=2 => {
                    let role = if rng.below(4) == 0 { "admin" } else { "member" };
                    s.put(&format!("/v1/groups/{g}/members/{u}"), json!({ "role": role })).await
                }
                3 => s.delete(&format!("/v1/groups/{g}/members/{u}")).await,
                4 | 5 => s.put(&format!("/v1/groups/{g}/children/{h}"), json!({})).await,
                6 => s.delete(&format!("/v1/groups/{g}/children/{h}")).await,
                7 => {
                    let level = ["read", "write", "manage"][rng.below(3)];
                    if rng.below(2) == 0 {
                        s.put(&format!("/v1/groups/{g}/shares/users/{u}"), json!({ "level": level })).await
                    } else {
                        s.put(&format!("/v1/groups/{g}/shares/groups/{h}"), json!({ "level": level })).await
                    }
                }
                8 => {
                    // A group goes (with its edges both ways and its shares)
                    // and a new one takes its place.
                    let i = rng.below(groups.len());
                    let gone = groups[i].clone();
                    let r = s.delete(&format!("/v1/groups/{gone}")).await;
                    made += 1;
                    groups[i] = s.group(&format!("g{made}")).await;
                    r
                }
                9 => {
                    let active = rng.below(2) == 0;
                    if u == viewer {
                        continue;
                    }
                    let names = json!({ "email": format!("{round}@x.test"), "active": active, "first_name": format!("v{round}") });
                    s.patch(&format!("/v1/users/{u}"), names).await
                }
                10 => {
                    // A user renamed, given another role or external id
                    // (taken ones are refused), or losing it.
                    if u == viewer {
                        continue;
                    }
                    let i = users.iter().position(|x| *x == u).unwrap_or(0);
                    let change = match rng.below(5) {
                        0 => json!({ "username": format!("{}{i}", ["u", "w", "W-"][rng.below(3)]) }),
                        1 => json!({ "site_role": (["admin", "user"][rng.below(2)]) }),
                        2 => json!({ "role_label": (["publisher", "viewer", "other"][rng.below(3)]) }),
                        3 => json!({ "role_label": null }),
                        _ => {
                            json!({ "external_id": ([json!(null), json!("ext-1"), json!("ext-2"), json!("ext-3")][rng.below(4)].clone()) })
                        }
                    };
                    s.patch(&format!("/v1/users/{u}"), change).await
                }
                11 => {
                    // A group's unique id moved or dropped (taken ones are
                    // refused), or the group moved to the other organization.
                    let change = match rng.below(5) {
                        0 => json!({ "organization_id": elsewhere }),
                        i => {
                            json!({ "unique_id": ([json!(null), json!("uid-0"), json!("uid-1"), json!("uid-2")][i - 1].clone()) })
                        }
                    };
                    s.patch(&format!("/v1/groups/{g}"), change).await
                }
                _ => {
                    // A group renamed (a taken name is refused).
                    let name = format!("{}{}", ["g", "h", "H"][rng.below(3)], rng.below(made + 1));
                    s.patch(&format!("/v1/groups/{g}"), json!({ "name": name })).await
                }
            };
            assert!(!r.status.is_server_error(), "{}: {}", r.status, r.body);
            // Membership at any depth after every change (what the index
            // keeps between changes is most likely to go stale).
            for g in &groups {
                let path = format!("/v1/groups/{g}/members?transitive=true&limit=1000");
                assert_eq!(s.get(&path).await.body, plain.get(&path).await.body, "round {round}: {path}");
            }
            let path = format!("/v1/users/{u}/groups?transitive=true&limit=1000");
            assert_eq!(s.get(&path).await.body, plain.get(&path).await.body, "round {round}: {path}");
        }
        // An external id and a unique id are given up and taken by another
        // (refused while someone holds it): a lookup must not find the
        // one that gave it up.
        let (from, to) = (&users[4 + round % 3], &users[1 + round % 3]);
        assert_eq!(s.patch(&format!("/v1/users/{from}"), json!({ "external_id": null })).await.status, StatusCode::OK);
        s.patch(&format!("/v1/users/{to}"), json!({ "external_id": format!("ext-{}", (round + 1) % 4) })).await;
        let (from, to) = (&groups[round % groups.len()], &groups[(round + 1) % groups.len()]);
        assert_eq!(s.patch(&format!("/v1/groups/{from}"), json!({ "unique_id": null })).await.status, StatusCode::OK);
        s.patch(&format!("/v1/groups/{to}"), json!({ "unique_id": format!("uid-{}", (round + 1) % 3) })).await;
        let names = Names::of(&plain).await;
        let from_index = snapshot(&s, &users, &groups, &viewer_key, &names).await;
        let from_store = snapshot(&plain, &users, &groups, &viewer_key, &names).await;
        for (a, b) in from_index.iter().zip(&from_store) {
            assert_eq!(a, b, "round {round}: the index and the store disagree");
        }
        // The follower applied the same changes from the log.
        let head = s.get("/readyz").await.body["revision"].as_i64().expect("revision");
        wait_until_applied(&follower, head).await;
        let from_follower = snapshot(&follower, &users, &groups, &viewer_key, &names).await;
        for (a, b) in from_index.iter().zip(&from_follower) {
            assert_eq!(a, b, "round {round}: the follower disagrees");
        }
        // A server started mid-stream (or restarted) loads what the others
        // built change by change, and follows from there.
        if let Some(late) = &late {
            wait_until_applied(late, head).await;
            let from_late = snapshot(late, &users, &groups, &viewer_key, &names).await;
            for (a, b) in from_index.iter().zip(&from_late) {
                assert_eq!(a, b, "round {round}: the server started late disagrees");
            }
        }
        if round == 2 {
            late = Some(s.twin(true).await);
        }
        // A server restarted on a snapshot taken rounds ago holds, once it
        // has applied the log after it, what one started at the same time
        // from the store holds (both fresh: offset pages resume from the
        // positions a server remembers, so a server's history shows).
        if let Some((r, fresh)) = &restarted {
            wait_until_applied(r, head).await;
            wait_until_applied(fresh, head).await;
            let from_restarted = snapshot(r, &users, &groups, &viewer_key, &names).await;
            let from_fresh = snapshot(fresh, &users, &groups, &viewer_key, &names).await;
            for (a, b) in from_fresh.iter().zip(&from_restarted) {
                assert_eq!(a, b, "round {round}: the server restarted on a snapshot disagrees");
            }
        }
        match round {
            // Its load from the store writes the snapshot as it reads.
            0 => {
                let k = s.twin_with_snapshot(&snapshot_path).await;
                assert!(snapshot_path.exists(), "a load from the store writes the snapshot");
                assert_eq!(k.directory.index().snapshot_loads(), 0, "no snapshot to start from");
                // Written again from here, a row at a time, slowly: round
                // 1's first changes land while it is written.
                k.directory.index().set_snapshot_pace(1, std::time::Duration::from_millis(40));
                let changed = s.post("/v1/groups", json!({ "name": "written-again" })).await;
                assert_eq!(changed.status, StatusCode::CREATED, "{}", changed.body);
                wait_until_applied(&k, revision_of(&changed)).await;
                let directory = k.directory.clone();
                rewrite = Some(tokio::spawn(async move { directory.save_index_snapshot().await }));
                keeper = Some(k);
            }
            // A stop writes it again, at the revision reached.
            1 => {
                let k = keeper.take().expect("keeper");
                wait_until_applied(&k, head).await;
                let before = std::fs::read(&snapshot_path).expect("snapshot");
                k.directory.save_index_snapshot().await;
                assert_ne!(std::fs::read(&snapshot_path).expect("snapshot"), before, "saved at a later revision");
                let same = std::fs::read(&snapshot_path).expect("snapshot");
                k.directory.save_index_snapshot().await;
                assert_eq!(std::fs::read(&snapshot_path).expect("snapshot"), same, "nothing new: not written again");
            }
            // The next start reads it (and does not write it), then
            // applies the rounds since.
            3 => {
                let before = std::fs::read(&snapshot_path).expect("snapshot");
                let r = s.twin_with_snapshot(&snapshot_path).await;
                assert_eq!(r.directory.index().snapshot_loads(), 1, "started from the snapshot");
                assert_eq!(
                    std::fs::read(&snapshot_path).expect("snapshot"),
                    before,
                    "a start from it rewrites nothing"
                );
                restarted = Some((r, s.twin(true).await));
            }
            _ => {}
        }
    }
    // A user goes: with them their memberships, shares and counts.
    let u = users.pop().expect("a user");
    assert_eq!(s.delete(&format!("/v1/users/{u}")).await.status, StatusCode::NO_CONTENT);
    let names = Names::of(&plain).await;
    let from_index = snapshot(&s, &users, &groups, &viewer_key, &names).await;
    let from_store = snapshot(&plain, &users, &groups, &viewer_key, &names).await;
    assert_eq!(from_index, from_store, "after deleting a user");
}

async fn wait_until_applied(s: &TestServer, revision: i64) {
    for _ in 0..400 {
        if s.get("/readyz").await.body["revision"].as_i64() >= Some(revision) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("the follower never reached revision {revision}");
}

fn revision_of(r: &Reply) -> i64 {
    r.headers
        .get("roster-revision")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Roster-Revision on a write: {:?}", r.headers))
}

/// A write answers the revision it committed at; another server given that
/// revision answers only once it has applied it, so the write is seen
/// there, and a key revoked on one server is refused by the other on the
/// next request.
async fn tokens_read_a_write_on_another_server(s: TestServer) {
    let other = s.twin(true).await;
    let (u, key) = s.user_with_key("traveller").await;
    let g = s.group("destination").await;
    let w = s.put(&format!("/v1/groups/{g}/members/{u}"), json!({})).await;
    assert_eq!(w.status, StatusCode::CREATED);
    let token = revision_of(&w).to_string();
    let admin = format!("Bearer {}", s.admin);
    let headers = [("authorization", admin.as_str()), ("roster-min-revision", token.as_str())];
    let r = other.send(Method::GET, &format!("/v1/check?user={u}&group={g}"), &headers, None).await;
    assert_eq!((r.status, &r.body["member"]), (StatusCode::OK, &json!(true)), "{}", r.body);
    let r = other.send(Method::GET, &format!("/v1/groups/{g}/members"), &headers, None).await;
    assert_eq!(r.body["total"], 1, "{}", r.body);
    // Reads answer no revision.
    assert!(s.get(&format!("/v1/groups/{g}")).await.headers.get("roster-revision").is_none());

    // The key works on both; revoked on one, the other refuses it next.
    let bearer = format!("Bearer {key}");
    let me = other.send(Method::GET, "/v1/me", &[("authorization", &bearer)], None).await;
    assert_eq!(me.status, StatusCode::OK);
    let keys = s.get(&format!("/v1/keys?user_id={u}")).await;
    let key_id = keys.body["items"][0]["id"].as_str().expect("key id").to_owned();
    let d = s.delete(&format!("/v1/keys/{key_id}")).await;
    assert_eq!(d.status, StatusCode::NO_CONTENT, "{}", d.body);
    let token = revision_of(&d).to_string();
    let r = other
        .send(Method::GET, "/v1/me", &[("authorization", &bearer), ("roster-min-revision", token.as_str())], None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);

    // Without a token the other server sees a write within moments.
    let w = s.post("/v1/users", json!({ "username": "later" })).await;
    let later = w.id();
    let started = std::time::Instant::now();
    loop {
        if other.get(&format!("/v1/users/{later}")).await.status == StatusCode::OK {
            break;
        }
        assert!(started.elapsed().as_secs() < 5, "another server's write was not seen within 5 s");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// `/readyz` says ready with its revision; a token that is not a revision
/// is a 400 in each front-end's format naming it; a revision no server
/// reaches in time is a 503 with `Retry-After`.
async fn readiness_and_bad_tokens(s: TestServer) {
    let r = s.get("/readyz").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "ready");
    assert!(r.body["revision"].as_i64().is_some_and(|n| n > 0), "{}", r.body);
    let admin = format!("Bearer {}", s.admin);
    for bad in ["soon", "-1", "1.5", ""] {
        let r =
            s.send(Method::GET, "/v1/users", &[("authorization", &admin), ("roster-min-revision", bad)], None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad:?}: {}", r.body);
        assert_eq!(r.field(), Some("Roster-Min-Revision"), "{}", r.body);
        let r = s
            .send(Method::GET, "/scim/v2/Users", &[("authorization", &admin), ("roster-min-revision", bad)], None)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad:?}: {}", r.body);
        assert_eq!(r.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "{}", r.body);
    }
    // A revision no write has reached is the client's mistake.
    let head = r.body["revision"].as_i64().unwrap_or(0);
    let far = (head + 1).to_string();
    let r = s.send(Method::GET, "/v1/users", &[("authorization", &admin), ("roster-min-revision", &far)], None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.field(), Some("Roster-Min-Revision"), "{}", r.body);
    // A revision taken by a commit that never becomes visible (simulated:
    // the log's counter moved with no event behind it) is waited for, then
    // refused as busy: the index never passes a gap.
    s.sql("UPDATE counters SET value = value + 1 WHERE name = 'events'").await;
    let started = std::time::Instant::now();
    let r = s.send(Method::GET, "/v1/users", &[("authorization", &admin), ("roster-min-revision", &far)], None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert!(r.headers.get("retry-after").is_some(), "{:?}", r.headers);
    assert!(started.elapsed() >= roster_core::REVISION_WAIT, "answered before the wait was over");
    assert_eq!(s.get("/readyz").await.body["revision"], head, "passed over a gap");
}

/// A server that finds the log further ahead than it is set to replay
/// loads afresh, and then holds what the store holds; one a little behind
/// replays.
async fn a_server_far_behind_loads_afresh(s: TestServer) {
    let store = roster_store::connect(&s.url).await.expect("store");
    let lagging = roster_core::Directory::new(store.clone()).with_index_reload_after(10);
    lagging.index().load(&*store).await.expect("load");
    assert_eq!(lagging.index().loads(), 1);
    let admin = lagging.authenticate(&s.admin, None).await.expect("admin");
    let server = &s;
    let create = |name: String| async move {
        let r = server.post("/v1/groups", json!({ "name": name })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().and_then(|id| id.parse::<roster_core::GroupId>().ok()).expect("id")
    };

    let mut made = Vec::new();
    for i in 0..30 {
        made.push(create(format!("far-{i}")).await);
    }
    let last = *made.last().expect("made");
    let missing = lagging.get_group(&admin, last).await;
    assert!(matches!(missing, Err(roster_core::CoreError::NotFound { .. })), "not applied yet: {missing:?}");
    let head = s.get("/readyz").await.body["revision"].as_i64().expect("revision");
    assert_eq!(lagging.index().catch_up(&*store).await.expect("catch up"), head);
    assert_eq!(lagging.index().loads(), 2, "30 events behind with 10 allowed: loaded afresh");
    for g in &made {
        lagging.get_group(&admin, *g).await.expect("a group made while it was behind");
    }

    let near = create("near".into()).await;
    lagging.index().catch_up(&*store).await.expect("catch up");
    assert_eq!(lagging.index().loads(), 2, "one event behind: replayed");
    lagging.get_group(&admin, near).await.expect("the group made since");
}

/// A snapshot is used only on the database whose log it was taken from,
/// and only when replaying the log after it costs less than a load: a
/// snapshot of another database, or one too far behind, is passed over
/// (and the server loads from the store, holding its own directory).
async fn a_snapshot_fits_only_its_own_log(s: TestServer) {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("index");
    let store = roster_store::connect(&s.url).await.expect("store");
    let first = roster_core::Directory::new(store.clone()).with_index_snapshot(Some(path.clone()));
    first.index().load(&*store).await.expect("load");
    assert!(path.exists(), "written by the load");

    let mut made = Vec::new();
    for i in 0..12 {
        let r = s.post("/v1/groups", json!({ "name": format!("since-{i}") })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        made.push(r.body["id"].as_str().and_then(|id| id.parse::<roster_core::GroupId>().ok()).expect("id"));
    }
    // Twelve events behind, ten allowed: a load from the store instead.
    let behind =
        roster_core::Directory::new(store.clone()).with_index_snapshot(Some(path.clone())).with_index_reload_after(10);
    let far = behind.index().load_snapshot(&*store).await;
    assert!(matches!(far, Err(roster_core::index::SnapshotError::FarBehind(12))), "too far behind to replay: {far:?}");
    assert!(!behind.index().is_ready());
    // Allowed further: it starts from the snapshot and replays the rest
    // before it calls itself ready.
    let near = roster_core::Directory::new(store.clone()).with_index_snapshot(Some(path.clone()));
    assert!(matches!(near.index().load_snapshot(&*store).await, Ok(true)), "near enough");
    assert_eq!(near.index().snapshot_loads(), 1);
    assert!(near.index().is_ready());
    assert_eq!(near.index().revision(), s.get("/readyz").await.body["revision"].as_i64().expect("revision"));
    let admin = near.authenticate(&s.admin, None).await.expect("admin");
    for g in &made {
        near.get_group(&admin, *g).await.expect("a group made after the snapshot");
    }

    // Another database: its log holds other events at those numbers.
    let other = TestServer::sqlite().await;
    let mine = other.group("only-here").await;
    let other_store = roster_store::connect(&other.url).await.expect("store");
    let stranger = roster_core::Directory::new(other_store.clone()).with_index_snapshot(Some(path.clone()));
    let refused = stranger.index().load_snapshot(&*other_store).await;
    assert!(matches!(refused, Err(roster_core::index::SnapshotError::NotThisLog(_))), "{refused:?}");
    let foreign = other.twin_with_snapshot(&path).await;
    assert_eq!(foreign.directory.index().snapshot_loads(), 0, "another database's snapshot is not used");
    assert_eq!(foreign.get(&format!("/v1/groups/{mine}")).await.status, StatusCode::OK);
    let theirs = made[0].0;
    assert_eq!(foreign.get(&format!("/v1/groups/{theirs}")).await.status, StatusCode::NOT_FOUND);
    // Its own load replaced the file: now it is that database's.
    let again = other.twin_with_snapshot(&path).await;
    assert_eq!(again.directory.index().snapshot_loads(), 1, "its own snapshot is used");

    // Rows read at another schema version: a migration may have changed
    // rows without an event. (The version follows the build's name.)
    let whole = std::fs::read(&path).expect("snapshot");
    let at = 12 + 4 + env!("CARGO_PKG_VERSION").len();
    let mut other_schema = whole.clone();
    other_schema[at..at + 8].copy_from_slice(&(-1i64).to_le_bytes());
    std::fs::write(&path, &other_schema).expect("write");
    let migrated = roster_core::Directory::new(other_store.clone()).with_index_snapshot(Some(path.clone()));
    let refused = migrated.index().load_snapshot(&*other_store).await;
    assert!(
        matches!(refused, Err(roster_core::index::SnapshotError::OtherSchema { taken: -1, .. })),
        "another schema version: {refused:?}"
    );
    std::fs::write(&path, &whole).expect("write");
    assert!(matches!(migrated.index().load_snapshot(&*other_store).await, Ok(true)), "the file as it was");

    // A damaged file is passed over the same way.
    let mut bytes = std::fs::read(&path).expect("snapshot");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&path, &bytes).expect("write");
    let damaged = other.twin_with_snapshot(&path).await;
    assert_eq!(damaged.directory.index().snapshot_loads(), 0, "a damaged snapshot is not used");
    assert_eq!(damaged.get(&format!("/v1/groups/{mine}")).await.status, StatusCode::OK);
}
