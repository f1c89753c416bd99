//! The SCIM front-end as identity providers use it (dialects/scim.md §3):
//! Entra's and Okta's PATCH forms, nesting and cycles, filters with value
//! paths, paging, attribute selection, ETags and SCIM errors.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Reply, TestServer};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

async fn scim_user(s: &TestServer, name: &str) -> String {
    let r = s
        .post(
            "/scim/v2/Users",
            json!({"schemas": [USER], "userName": name, "active": true,
                   "emails": [{"value": format!("{name}@example.com"), "type": "work", "primary": true}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.id()
}

async fn scim_group(s: &TestServer, name: &str, members: &[&str]) -> String {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    let r = s
        .post(
            "/scim/v2/Groups",
            json!({"schemas": [GROUP], "displayName": name, "externalId": format!("ext-{name}"), "members": members}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.id()
}

fn ops(ops: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": ops})
}

async fn member_ids(s: &TestServer, group: &str) -> Vec<String> {
    let r = s.get(&format!("/scim/v2/Groups/{group}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut ids: Vec<String> = r.body["members"]
        .as_array()
        .map_or(vec![], |m| m.iter().map(|m| m["value"].as_str().unwrap().to_owned()).collect());
    ids.sort();
    ids
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| (*s).clone()).collect();
    v.sort();
    v
}

fn assert_scim_error(r: &Reply, status: StatusCode, scim_type: Option<&str>) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "{}", r.body);
    assert_eq!(r.body["status"], status.as_u16().to_string(), "{}", r.body);
    assert_eq!(r.body["scimType"].as_str(), scim_type, "{}", r.body);
}

async fn entra_patch_dialect(s: TestServer) {
    let a = scim_user(&s, "alice").await;
    let b = scim_user(&s, "bob").await;
    let c = scim_user(&s, "carol").await;
    let g = scim_group(&s, "Entra", &[]).await;
    // Capitalised ops, `$ref: null`, several members in one op.
    let r = s
        .patch(
            &format!("/scim/v2/Groups/{g}"),
            ops(json!([{"op": "Add", "path": "members", "value": [{"value": a, "$ref": null}, {"value": b}, {"value": c}]}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["members"].as_array().map(Vec::len), Some(3));
    // Remove with the member in `value`.
    let r = s
        .patch(
            &format!("/scim/v2/Groups/{g}"),
            ops(json!([{"op": "Remove", "path": "members", "value": [{"value": b}]}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(member_ids(&s, &g).await, sorted(&[&a, &c]));
    // String booleans; soft delete keeps the user readable.
    let r = s
        .patch(&format!("/scim/v2/Users/{a}"), ops(json!([{"op": "Replace", "path": "active", "value": "False"}])))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(s.get(&format!("/scim/v2/Users/{a}")).await.body["active"], false);
    // aadOptscim062020: path-less replace with dotted and URN-qualified keys.
    let r = s
        .patch(
            &format!("/scim/v2/Users/{a}"),
            ops(json!([{"op": "replace", "value": {
                "name.givenName": "Alice", "name.familyName": "Liddell",
                format!("{ENTERPRISE}:department"): "Wonder", "active": true}}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["name"]["givenName"], "Alice");
    assert_eq!(r.body[ENTERPRISE]["department"], "Wonder");
    assert_eq!(r.body["active"], true);
    // Filtered value path on a user.
    let r = s
        .patch(
            &format!("/scim/v2/Users/{a}"),
            ops(json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "alice@new.example"}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["emails"][0]["value"], "alice@new.example");
    // The manager as a one-element list (Entra's documented form).
    let r = s
        .patch(
            &format!("/scim/v2/Users/{a}"),
            ops(json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": [{"value": c, "$ref": null}]}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body[ENTERPRISE]["manager"]["value"], c.as_str());
    // Matching: userName eq, emails value path, externalId eq on groups with members excluded.
    let r =
        s.get("/scim/v2/Users?filter=emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22alice%40new.example%22").await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
    let r = s.get("/scim/v2/Groups?filter=displayName%20eq%20%22entra%22&excludedAttributes=members").await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
    assert!(r.body["Resources"][0].get("members").is_none(), "{}", r.body);
    let r = s.get("/scim/v2/Users?filter=userName%20eq%20%2200000000-0000-0000-0000-000000000000%22").await;
    assert_eq!((r.status, r.body["totalResults"].as_i64()), (StatusCode::OK, Some(0)));
}

async fn okta_patch_dialect(s: TestServer) {
    let a = scim_user(&s, "ann").await;
    let b = scim_user(&s, "ben").await;
    let c = scim_user(&s, "cat").await;
    let g = scim_group(&s, "Okta", &[&a, &b]).await;
    // One PATCH mixing a filtered remove, an add, and the rename Okta sends with each change.
    let r = s
        .patch(
            &format!("/scim/v2/Groups/{g}"),
            ops(json!([
                {"op": "replace", "value": {"id": g, "displayName": "Okta Renamed"}},
                {"op": "remove", "path": format!("members[value eq \"{a}\"]")},
                {"op": "add", "path": "members", "value": [{"value": c, "display": "cat"}]},
            ])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["displayName"], "Okta Renamed");
    assert_eq!(member_ids(&s, &g).await, sorted(&[&b, &c]));
    // A full push as replace of members.
    let r = s
        .patch(
            &format!("/scim/v2/Groups/{g}"),
            ops(json!([{"op": "replace", "path": "members", "value": [{"value": a}]}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(member_ids(&s, &g).await, vec![a.clone()]);
    // Deactivation as a path-less op.
    let r = s.patch(&format!("/scim/v2/Users/{b}"), ops(json!([{"op": "replace", "value": {"active": false}}]))).await;
    assert_eq!(r.body["active"], false, "{}", r.body);
    // PUT with id, meta, groups and password: ignored, never returned.
    let got = s.get(&format!("/scim/v2/Users/{b}")).await.body;
    let mut put = got.clone();
    put["displayName"] = json!("Ben B");
    put["password"] = json!("s3cret-password");
    put["groups"] = json!([]);
    let r = s.put(&format!("/scim/v2/Users/{b}"), put).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["displayName"], "Ben B");
    assert!(r.body.get("password").is_none());
    // Okta's existence check and a duplicate create.
    let r = s.get("/scim/v2/Users?filter=userName%20eq%20%22ANN%22&startIndex=1&count=100").await;
    assert_eq!(r.body["totalResults"], 1, "userName compares ignoring case: {}", r.body);
    let r = s.post("/scim/v2/Users", json!({"schemas": [USER], "userName": "Ann"})).await;
    assert_scim_error(&r, StatusCode::CONFLICT, Some("uniqueness"));
}

async fn membership_patch_never_drops_unnamed_members(s: TestServer) {
    let mut users = Vec::new();
    for i in 0..30 {
        users.push(scim_user(&s, &format!("m{i:02}")).await);
    }
    let refs: Vec<&str> = users[..20].iter().map(String::as_str).collect();
    let g = scim_group(&s, "Big", &refs).await;
    // One member at a time, the Entra pattern, with an unknown id and a non-UUID value among them.
    for u in &users[20..] {
        let r = s
            .patch(
                &format!("/scim/v2/Groups/{g}?excludedAttributes=members"),
                ops(json!([{"op": "add", "path": "members", "value": [{"value": u}, {"value": "fake-member-id"}, {"value": "01a20565-0000-7000-8000-000000000000"}]}])),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.get("members").is_none(), "excludedAttributes honoured on PATCH");
    }
    let r = s
        .patch(
            &format!("/scim/v2/Groups/{g}"),
            ops(json!([{"op": "remove", "path": "members", "value": [{"value": users[3]}]}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let mut expected: Vec<&String> = users.iter().collect();
    expected.remove(3);
    assert_eq!(member_ids(&s, &g).await, sorted(&expected));
    // Removing someone who is not a member is no error and changes nothing.
    let r = s
        .patch(
            &format!("/scim/v2/Groups/{g}"),
            ops(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", users[3])}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(member_ids(&s, &g).await.len(), 29);
    // Another front-end sees the same members.
    assert_eq!(s.get(&format!("/v1/groups/{g}")).await.body["source_type"], "scim");
}

async fn nested_groups_refuse_cycles(s: TestServer) {
    let u = scim_user(&s, "nest").await;
    let child = scim_group(&s, "Child", &[&u]).await;
    let parent = scim_group(&s, "Parent", &[&child]).await;
    let r = s.get(&format!("/scim/v2/Groups/{parent}")).await;
    assert_eq!(r.body["members"][0]["type"], "Group", "{}", r.body);
    assert!(r.body["members"][0]["$ref"].as_str().unwrap().ends_with(&format!("/Groups/{child}")));
    let r = s
        .patch(
            &format!("/scim/v2/Groups/{child}"),
            ops(json!([{"op": "add", "path": "members", "value": [{"value": parent}]}])),
        )
        .await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let r = s
        .patch(
            &format!("/scim/v2/Groups/{child}"),
            ops(json!([{"op": "add", "path": "members", "value": [{"value": child}]}])),
        )
        .await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    assert_eq!(member_ids(&s, &child).await, vec![u]);
    let r = s.get(&format!("/scim/v2/Groups?filter=members%5Bvalue%20eq%20%22{child}%22%5D")).await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
}

async fn filters_sorting_and_paging(s: TestServer) {
    for (name, given) in [("dora", "Dora"), ("dave", "Dave"), ("erin", "Erin"), ("dan", "Dan"), ("eve", "Eve")] {
        let r = s
            .post("/scim/v2/Users", json!({"schemas": [USER], "userName": name, "name": {"givenName": given}, "title": if name.starts_with('d') { "dev" } else { "ops" }}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let names = |r: &Reply| -> Vec<String> {
        r.body["Resources"].as_array().unwrap().iter().map(|u| u["userName"].as_str().unwrap().to_owned()).collect()
    };
    let q = |f: &str| format!("/scim/v2/Users?filter={}", urlencode(f));
    let r = s.get(&q(r#"userName sw "d" and not (userName eq "dan")"#)).await;
    assert_eq!(names(&r), ["dave", "dora"], "{}", r.body);
    let r = s.get(&(q(r#"title eq "ops" or name.givenName co "AV""#) + "&sortBy=userName&sortOrder=descending")).await;
    assert_eq!(names(&r), ["eve", "erin", "dave"], "{}", r.body);
    let r = s.get(&(q(r#"title pr"#) + "&sortBy=name.givenName&startIndex=2&count=2")).await;
    assert_eq!(
        (names(&r), r.body["totalResults"].as_i64(), r.body["startIndex"].as_i64()),
        (vec!["dave".into(), "dora".into()], Some(5), Some(2))
    );
    let r = s.get("/scim/v2/Users?count=0").await;
    assert_eq!((r.body["Resources"].as_array().map(Vec::len), r.body["totalResults"].as_i64()), (Some(0), Some(6)));
    let r = s.get("/scim/v2/Users?startIndex=2&count=2").await;
    assert_eq!(names(&r), ["dan", "dave"], "admin first, by userName: {}", r.body);
    let r = s
        .post("/scim/v2/Users/.search", json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName ew \"rin\"", "attributes": ["userName"]}))
        .await;
    assert_eq!(
        r.body["Resources"],
        json!([{"schemas": [USER], "id": r.body["Resources"][0]["id"], "userName": "erin"}])
    );
    for bad in [
        r#"userName eq dora"#,
        r#"(userName eq "a""#,
        r#"userName zz "a""#,
        r#"nosuch eq "a""#,
        r#"emails[nosuch eq "a"]"#,
    ] {
        let r = s.get(&q(bad)).await;
        assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidFilter"));
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

async fn etags_and_errors(s: TestServer) {
    let u = scim_user(&s, "etag").await;
    let r = s.get(&format!("/scim/v2/Users/{u}")).await;
    let etag = r.headers["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, r.body["meta"]["version"].as_str().unwrap());
    assert_eq!(r.headers["content-type"], "application/scim+json");
    let patch = ops(json!([{"op": "replace", "path": "displayName", "value": "E"}]));
    let r = s.http_with_header(Method::PATCH, &format!("/scim/v2/Users/{u}"), "if-match", &etag, patch.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = s.http_with_header(Method::PATCH, &format!("/scim/v2/Users/{u}"), "if-match", &etag, patch).await;
    assert_scim_error(&r, StatusCode::PRECONDITION_FAILED, None);
    let g = scim_group(&s, "Tagged", &[]).await;
    let old = s.get(&format!("/scim/v2/Groups/{g}")).await.headers["etag"].to_str().unwrap().to_owned();
    s.patch(&format!("/scim/v2/Groups/{g}"), ops(json!([{"op": "add", "path": "members", "value": [{"value": u}]}])))
        .await;
    let r = s
        .http_with_header(
            Method::PUT,
            &format!("/scim/v2/Groups/{g}"),
            "if-match",
            &old,
            json!({"schemas": [GROUP], "displayName": "T"}),
        )
        .await;
    assert_scim_error(&r, StatusCode::PRECONDITION_FAILED, None);

    let cases = [
        (json!([{"op": "replace", "path": "nosuch", "value": "x"}]), "invalidPath"),
        (json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]), "invalidPath"),
        (json!([{"op": "replace", "path": "id", "value": "x"}]), "mutability"),
        (json!([{"op": "replace", "path": "active", "value": "maybe"}]), "invalidValue"),
        (json!([{"op": "jump", "path": "active", "value": true}]), "invalidSyntax"),
        (json!([{"op": "remove"}]), "noTarget"),
    ];
    for (o, t) in cases {
        let r = s.patch(&format!("/scim/v2/Users/{u}"), ops(o.clone())).await;
        assert_scim_error(&r, StatusCode::BAD_REQUEST, Some(t));
    }
    let r = s.post("/scim/v2/Users", json!({"schemas": [GROUP], "userName": "x"})).await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let r = s.post("/scim/v2/Users", json!({"schemas": [USER], "userName": "x", "shoeSize": 4})).await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let r = s.raw(Method::POST, "/scim/v2/Users", "application/scim+json", b"{not json".to_vec()).await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    let r = s.get("/scim/v2/Users?attributes=nosuch").await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidPath"));
    let r = s.call(Method::GET, "/scim/v2/Users", None, None).await;
    assert_scim_error(&r, StatusCode::UNAUTHORIZED, None);
    let r = s.get("/scim/v2/Users/not-an-id").await;
    assert_scim_error(&r, StatusCode::NOT_FOUND, None);
    let r = s.get(&format!("/scim/v2/Groups/{g}?attributes=displayName")).await;
    assert_eq!(r.body.as_object().map(|o| o.len()), Some(3), "schemas, id, displayName: {}", r.body);
}

crate::on_every_store!(
    entra_patch_dialect,
    okta_patch_dialect,
    membership_patch_never_drops_unnamed_members,
    nested_groups_refuse_cycles,
    filters_sorting_and_paging,
    etags_and_errors,
);
