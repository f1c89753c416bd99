//! Writers contending for the same rows through several front-ends at
//! once: on PostgreSQL two servers share one database, on SQLite one server
//! serializes its writers. Nothing may answer `busy` (or any 5xx): a
//! transaction the database aborts to break a deadlock is retried inside
//! the server. The state that remains is consistent: a group's member
//! count, its member list and the change feed agree.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{ADMIN_KEY, TestServer};
use crate::process::{Process, start};

/// Concurrent clients, users of the one hot group, and operations each.
const CLIENTS: usize = 12;
const USERS: usize = 16;
const OPS: usize = 20;
/// Nesting races per test.
const RACES: usize = 30;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Sends one request with `auth` as the Authorization header, and a JSON
/// body of `content_type`.
async fn send(
    http: &reqwest::Client,
    base: &str,
    method: Method,
    path: &str,
    auth: &str,
    content_type: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http.request(method, format!("{base}{path}")).header("authorization", auth);
    if let Some(b) = body {
        req = req.header("content-type", content_type).body(b.to_string());
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn bearer() -> String {
    format!("Bearer {ADMIN_KEY}")
}

async fn create(http: &reqwest::Client, base: &str, path: &str, body: Value) -> String {
    let (status, v) = send(http, base, Method::POST, path, &bearer(), "application/json", Some(body)).await;
    assert_eq!(status, 201, "{v}");
    v["id"].as_str().expect("id").to_owned()
}

/// Front-ends the hot-group load goes through: native, SCIM, Posit, Box
/// (a removal by membership id, which locks in its own order) and Iguazio
/// (a PUT of the user's whole group list).
const FRONTS: usize = 5;

/// A user or group as the hot-group load names it: its id, and its `num`
/// (Box's ids).
#[derive(Clone)]
struct Named {
    id: String,
    num: String,
}

/// The Box id (`num`) of each user named `hot…` and of the group `name`.
async fn box_nums(http: &reqwest::Client, base: &str, name: &str) -> (String, Vec<(String, String)>) {
    let (_, groups) =
        send(http, base, Method::GET, &format!("/box/2.0/groups?filter_term={name}"), &bearer(), "", None).await;
    let group = groups["entries"].as_array().expect("groups").iter().find(|g| g["name"] == name).expect("the group");
    let (_, users) =
        send(http, base, Method::GET, "/box/2.0/users?filter_term=hot&limit=1000", &bearer(), "", None).await;
    let users = users["entries"].as_array().expect("users");
    let logins =
        users.iter().map(|u| (u["login"].as_str().unwrap_or("").to_owned(), u["id"].as_str().expect("id").to_owned()));
    (group["id"].as_str().expect("id").to_owned(), logins.collect())
}

/// One membership change through one front-end; returns the status and
/// whether it is one that front-end may answer for that change.
async fn change(http: &reqwest::Client, base: &str, front: usize, add: bool, g: &Named, u: &Named) -> (u16, bool) {
    let scim = "application/scim+json";
    let json = "application/json";
    let (gnum, unum) = (&g.num, &u.num);
    let (g, u) = (g.id.as_str(), u.id.as_str());
    let (status, _) = match (front, add) {
        (0, true) => {
            let path = format!("/v1/groups/{g}/members/{u}");
            send(http, base, Method::PUT, &path, &bearer(), json, Some(json!({}))).await
        }
        (0, false) => {
            send(http, base, Method::DELETE, &format!("/v1/groups/{g}/members/{u}"), &bearer(), json, None).await
        }
        (1, _) => {
            let op = if add { "add" } else { "remove" };
            let body = json!({ "schemas": [PATCH_OP], "Operations": [{ "op": op, "path": "members", "value": [{ "value": u }] }] });
            send(http, base, Method::PATCH, &format!("/scim/v2/Groups/{g}"), &bearer(), scim, Some(body)).await
        }
        (2, true) => {
            let path = format!("/posit/__api__/v1/groups/{g}/members");
            let key = format!("Key {ADMIN_KEY}");
            send(http, base, Method::POST, &path, &key, json, Some(json!({ "user_guid": u }))).await
        }
        (2, false) => {
            let path = format!("/posit/__api__/v1/groups/{g}/members/{u}");
            send(http, base, Method::DELETE, &path, &format!("Key {ADMIN_KEY}"), json, None).await
        }
        (3, true) => {
            let body = json!({ "user": { "id": unum }, "group": { "id": gnum } });
            send(http, base, Method::POST, "/box/2.0/group_memberships", &bearer(), json, Some(body)).await
        }
        (3, false) => {
            // By membership id: found in the group's list, then deleted
            // (gone meanwhile: 404).
            let path = format!("/box/2.0/groups/{gnum}/memberships?limit=1000");
            let (_, list) = send(http, base, Method::GET, &path, &bearer(), "", None).await;
            let entries = list["entries"].as_array().cloned().unwrap_or_default();
            match entries.iter().find(|m| m["user"]["id"] == unum.as_str()) {
                Some(m) => {
                    let path = format!("/box/2.0/group_memberships/{}", m["id"].as_str().expect("id"));
                    send(http, base, Method::DELETE, &path, &bearer(), json, None).await
                }
                None => (204, Value::Null),
            }
        }
        (_, add) => {
            // The user's whole list of groups: the hot group or none.
            let groups: Vec<Value> = if add { vec![json!({ "type": "user_group", "id": g })] } else { Vec::new() };
            let body = json!({ "data": { "type": "user", "attributes": {}, "relationships": { "user_groups": { "data": groups } } } });
            send(http, base, Method::PUT, &format!("/iguazio/api/users/{u}"), &bearer(), json, Some(body)).await
        }
    };
    let expected: &[u16] = match (front, add) {
        (0, true) => &[200, 201],
        (0, false) => &[204, 404],
        (1, _) => &[200, 204],
        (2, true) => &[204],
        (2, false) => &[204, 404],
        (3, true) => &[201, 409],
        (3, false) => &[204, 404],
        (_, _) => &[200],
    };
    (status, expected.contains(&status))
}

/// The hot-group load: `CLIENTS` clients adding and removing the same
/// `USERS` users of one group through `FRONTS` front-ends, spread over
/// `bases`; a few SCIM creates of groups with members run beside them.
async fn hot_group(bases: &[String]) {
    let http = crate::harness::http();
    let base = bases[0].as_str();
    let g = create(&http, base, "/v1/groups", json!({ "name": "hot" })).await;
    let mut ids = Vec::new();
    for i in 0..USERS {
        ids.push(create(&http, base, "/v1/users", json!({ "username": format!("hot{i}") })).await);
    }
    let (gnum, logins) = box_nums(&http, base, "hot").await;
    let num_of = |i: usize| logins.iter().find(|(l, _)| *l == format!("hot{i}")).expect("a Box id").1.clone();
    let users: Vec<Named> = ids.iter().enumerate().map(|(i, id)| Named { id: id.clone(), num: num_of(i) }).collect();
    let hot = Named { id: g.clone(), num: gnum };
    let started = Instant::now();
    let clients = (0..CLIENTS).map(|c| {
        let (http, hot, users) = (http.clone(), hot.clone(), users.clone());
        let bases = bases.to_vec();
        async move {
            let mut wrong = Vec::new();
            for op in 0..OPS {
                let base = &bases[(c + op) % bases.len()];
                let u = &users[(c * 5 + op * 3) % USERS];
                if c == 0 && op % 5 == 0 {
                    // A group created with members (SCIM POST), beside the load.
                    let body = json!({
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                        "displayName": format!("made{op}"),
                        "members": [{ "value": u.id }, { "value": &users[(op + 1) % USERS].id }],
                    });
                    let path = "/scim/v2/Groups";
                    let (s, v) =
                        send(&http, base, Method::POST, path, &bearer(), "application/scim+json", Some(body)).await;
                    if s != 201 {
                        wrong.push(format!("SCIM create: {s} {v}"));
                    }
                    continue;
                }
                let (status, ok) = change(&http, base, (c + op) % FRONTS, (c + op) % 2 == 0, &hot, u).await;
                if !ok {
                    wrong.push(format!("front-end {} add {}: {status}", (c + op) % FRONTS, (c + op) % 2 == 0));
                }
            }
            wrong
        }
    });
    let wrong: Vec<String> = join_all(clients).await.into_iter().flatten().collect();
    assert!(wrong.is_empty(), "{} unexpected answers (busy is one): {wrong:?}", wrong.len());
    assert!(started.elapsed() < Duration::from_secs(60), "the load took {:?}", started.elapsed());

    // The counter, the member list and the change feed agree, on every server.
    for base in bases {
        let (_, group) = send(&http, base, Method::GET, &format!("/v1/groups/{g}"), &bearer(), "", None).await;
        let path = format!("/v1/groups/{g}/members?limit=1000");
        let (_, members) = send(&http, base, Method::GET, &path, &bearer(), "", None).await;
        let listed = members["items"].as_array().expect("items").len();
        assert_eq!(group["member_count"], listed, "{group}");
        assert_eq!(members["total"], listed);
    }
    let mut seqs = Vec::new();
    let mut net = 0i64;
    let mut after = 0;
    loop {
        let path = format!("/v1/events?limit=1000&after={after}");
        let (_, page) = send(&http, base, Method::GET, &path, &bearer(), "", None).await;
        let items = page["items"].as_array().expect("events").clone();
        let Some(last) = items.last() else { break };
        after = last["seq"].as_i64().expect("seq");
        for e in &items {
            seqs.push(e["seq"].as_i64().expect("seq"));
            let about_g = e["after"]["group_id"].as_str() == Some(&g) || e["before"]["group_id"].as_str() == Some(&g);
            match e["action"].as_str() {
                Some("membership.created") if about_g => net += 1,
                Some("membership.deleted") if about_g => net -= 1,
                _ => {}
            }
        }
    }
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "the feed is gapless and ordered");
    let (_, group) = send(&http, base, Method::GET, &format!("/v1/groups/{g}"), &bearer(), "", None).await;
    assert_eq!(group["member_count"], net, "the feed accounts for every membership");
}

/// `RACES` races of A→B against B→A, each through a different front-end
/// (native PUT of a child, SCIM PATCH adding a member group) or the same
/// one: each ends with one nesting made and the other refused as a cycle.
async fn nesting_races(bases: &[String]) {
    let http = crate::harness::http();
    let (one, two) = (bases[0].as_str(), bases[bases.len() - 1].as_str());
    for round in 0..RACES {
        let x = create(&http, one, "/v1/groups", json!({ "name": format!("x{round}") })).await;
        let y = create(&http, two, "/v1/groups", json!({ "name": format!("y{round}") })).await;
        let native = |base: &str, parent: String, child: String| {
            let base = base.to_owned();
            let http = http.clone();
            async move {
                let path = format!("/v1/groups/{parent}/children/{child}");
                let (s, _) = send(&http, &base, Method::PUT, &path, &bearer(), "application/json", None).await;
                // 201 made, 409 refused as a cycle.
                (s, s == 201, s == 409)
            }
        };
        let scim = |base: &str, parent: String, child: String| {
            let base = base.to_owned();
            let http = http.clone();
            async move {
                let body = json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "add", "path": "members", "value": [{ "value": child }] }] });
                let path = format!("/scim/v2/Groups/{parent}");
                let (s, v) =
                    send(&http, &base, Method::PATCH, &path, &bearer(), "application/scim+json", Some(body)).await;
                // SCIM refuses a cycle as a value members may not take.
                (s, s == 200 || s == 204, s == 400 && v["scimType"] == "invalidValue")
            }
        };
        let (a, b) = match round % 3 {
            0 => tokio::join!(native(one, x.clone(), y.clone()), native(two, y.clone(), x.clone())),
            1 => tokio::join!(native(one, x.clone(), y.clone()), scim(two, y.clone(), x.clone())),
            _ => tokio::join!(scim(one, x.clone(), y.clone()), scim(two, y.clone(), x.clone())),
        };
        let made = usize::from(a.1) + usize::from(b.1);
        let refused = usize::from(a.2) + usize::from(b.2);
        assert_eq!((made, refused), (1, 1), "round {round}: answers {} and {}", a.0, b.0);
    }
}

async fn twoervers(test: &str) -> Option<(Process, Process, roster_store::testing::PgDatabase)> {
    let db = roster_store::testing::postgres(test).await?;
    let (url_a, url_b) = (db.url.clone(), db.url.clone());
    let a = std::thread::spawn(move || start(&url_a, Some(ADMIN_KEY)));
    let b = std::thread::spawn(move || start(&url_b, Some(ADMIN_KEY)));
    Some((a.join().expect("server a"), b.join().expect("server b"), db))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_group_on_twoervers() {
    let Some((a, b, db)) = twoervers("contention::hot_group_on_twoervers").await else { return };
    hot_group(&[a.base.clone(), b.base.clone()]).await;
    // Not one deadlock either (each would have been retried unseen). A
    // backend reports its deadlocks to the statistics by the time it exits.
    drop((a, b));
    let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url).await.expect("connect");
    let mut deadlocks = 0;
    for _ in 0..20 {
        let sql = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()";
        deadlocks = sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut c).await.expect("deadlocks");
        if deadlocks > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(deadlocks, 0, "deadlocks under the hot-group load");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nesting_races_on_twoervers() {
    let Some((a, b, _db)) = twoervers("contention::nesting_races_on_twoervers").await else { return };
    nesting_races(&[a.base.clone(), b.base.clone()]).await;
}

async fn hot_group_on_oneerver(server: TestServer) {
    hot_group(std::slice::from_ref(&server.base)).await;
}

async fn nesting_races_on_oneerver(server: TestServer) {
    nesting_races(std::slice::from_ref(&server.base)).await;
}

crate::on_every_store!(hot_group_on_oneerver, nesting_races_on_oneerver);
