//! The LDAP front-end over a real socket, through the `ldap3` client crate
//! (and Debian's `ldapsearch` when it is installed): binds, the root DSE,
//! searches that the applications in dialects/ldap.md send, nesting at any
//! depth through the in-chain rule, paging, attribute selection, result
//! codes, and that a caller sees what `/v1` shows it.

use std::collections::{BTreeSet, HashMap};

use ldap3::controls::{Control, ControlType, PagedResults, RawControl};
use ldap3::exop::{WhoAmI, WhoAmIResp};
use ldap3::{Ldap, LdapConnAsync, LdapError, Scope, SearchEntry};
use serde_json::json;

use crate::harness::{ADMIN_KEY, LdapOptions, TestServer};

pub(crate) const BASE: &str = "dc=roster,dc=local";
pub(crate) const PEOPLE: &str = "ou=people,dc=roster,dc=local";
pub(crate) const GROUPS: &str = "ou=groups,dc=roster,dc=local";

pub(crate) fn user_dn(name: &str) -> String {
    format!("uid={name},{PEOPLE}")
}

pub(crate) fn group_dn(name: &str) -> String {
    format!("cn={name},{GROUPS}")
}

pub(crate) async fn connect(s: &TestServer) -> Ldap {
    let (conn, ldap) = LdapConnAsync::new(&s.ldap).await.expect("connect");
    ldap3::drive!(conn);
    ldap
}

/// A connection bound as `uid=NAME` with `secret`.
pub(crate) async fn bound(s: &TestServer, name: &str, secret: &str) -> Ldap {
    let mut ldap = connect(s).await;
    let r = ldap.simple_bind(&user_dn(name), secret).await.expect("bind");
    assert_eq!(r.rc, 0, "bind as {name}: {r}");
    ldap
}

/// The result code of an operation that failed (0 when it did not).
pub(crate) fn rc<T>(r: Result<T, LdapError>) -> u32 {
    match r {
        Ok(_) => 0,
        Err(LdapError::LdapResult { result }) => result.rc,
        Err(e) => panic!("not an LDAP result: {e}"),
    }
}

/// Entries by DN, each with its attributes (names as sent).
pub(crate) async fn search(
    ldap: &mut Ldap,
    base: &str,
    scope: Scope,
    filter: &str,
    attrs: &[&str],
) -> Result<Vec<SearchEntry>, LdapError> {
    let (entries, _) = ldap.search(base, scope, filter, attrs.to_vec()).await?.success()?;
    Ok(entries.into_iter().map(SearchEntry::construct).collect())
}

pub(crate) fn dns(entries: &[SearchEntry]) -> BTreeSet<String> {
    entries.iter().map(|e| e.dn.to_lowercase()).collect()
}

fn set(items: &[String]) -> BTreeSet<String> {
    items.iter().map(|i| i.to_lowercase()).collect()
}

/// eng ⊃ web (nested); ann in web, bob in eng, carl in nothing; ann has a
/// key, carl a password.
pub(crate) struct World {
    pub ann_key: String,
}

pub(crate) async fn world(s: &TestServer) -> World {
    let (eng, web) = (s.group("eng").await, s.group("web").await);
    let r = s.post("/v1/groups", json!({ "name": "ops", "description": "on call" })).await;
    assert!(r.status.is_success(), "{}", r.body);
    assert!(s.put(&format!("/v1/groups/{eng}/children/{web}"), json!({})).await.status.is_success());
    let (ann, ann_key) = s.user_with_key("ann").await;
    let r = s
        .post(
            "/v1/users",
            json!({ "username": "bob", "email": "Bob@Example.org", "first_name": "Bob", "last_name": "Stone" }),
        )
        .await;
    let bob = r.id();
    let r = s.post("/v1/users", json!({ "username": "carl", "password": "carl's password" })).await;
    assert!(r.status.is_success(), "{}", r.body);
    assert!(s.put(&format!("/v1/groups/{web}/members/{ann}"), json!({})).await.status.is_success());
    assert!(s.put(&format!("/v1/groups/{eng}/members/{bob}"), json!({})).await.status.is_success());
    World { ann_key }
}

async fn ldap_binds_and_root_dse(s: TestServer) {
    let w = world(&s).await;
    // Before any bind: the root DSE, and nothing else.
    let mut anon = connect(&s).await;
    let dse = search(&mut anon, "", Scope::Base, "(objectClass=*)", &["+"]).await.expect("root DSE");
    assert_eq!(dse.len(), 1);
    let a = &dse[0].attrs;
    assert_eq!(a["namingContexts"], [BASE]);
    assert_eq!(a["supportedLDAPVersion"], ["3"]);
    assert!(a["supportedControl"].contains(&"1.2.840.113556.1.4.319".to_owned()), "{a:?}");
    assert!(a["supportedExtension"].contains(&"1.3.6.1.4.1.4203.1.11.3".to_owned()), "{a:?}");
    assert_eq!(rc(search(&mut anon, BASE, Scope::Subtree, "(uid=ann)", &[]).await), 50, "insufficientAccessRights");
    assert_eq!(rc(search(&mut anon, BASE, Scope::Base, "(objectClass=*)", &[]).await), 50, "the base too");
    let cmp = anon.compare(&user_dn("ann"), "uid", "ann").await.expect("compare");
    assert_eq!(cmp.0.rc, 50, "compare too: {}", cmp.0);
    let (who, _) = anon.extended(WhoAmI).await.expect("whoami").success().expect("whoami");
    assert_eq!(who.parse::<WhoAmIResp>().authzid, "");

    // Bad binds all answer invalidCredentials, whichever part is wrong.
    let mut c = connect(&s).await;
    assert_eq!(c.simple_bind(&user_dn("admin"), "rst_wrong").await.expect("bind").rc, 49);
    assert_eq!(c.simple_bind(&user_dn("ann"), ADMIN_KEY).await.expect("bind").rc, 49, "another user's key");
    assert_eq!(c.simple_bind(&user_dn("nobody"), "whatever").await.expect("bind").rc, 49);
    assert_eq!(c.simple_bind(&user_dn("carl"), "not carl's").await.expect("bind").rc, 49);
    assert_eq!(c.simple_bind("cn=x,dc=elsewhere", ADMIN_KEY).await.expect("bind").rc, 49);
    assert_eq!(c.simple_bind(&user_dn("ann"), "").await.expect("bind").rc, 53, "unauthenticated bind");
    // A failed bind leaves the connection anonymous.
    assert_eq!(rc(search(&mut c, BASE, Scope::Subtree, "(uid=ann)", &[]).await), 50);

    // Good binds: a key by DN, by bare uid, a stored password.
    let mut admin = bound(&s, "admin", ADMIN_KEY).await;
    let (who, _) = admin.extended(WhoAmI).await.expect("whoami").success().expect("whoami");
    assert_eq!(who.parse::<WhoAmIResp>().authzid, format!("dn:{}", user_dn("admin")));
    let mut bare = connect(&s).await;
    assert_eq!(bare.simple_bind("ANN", &w.ann_key).await.expect("bind").rc, 0);
    let (who, _) = bare.extended(WhoAmI).await.expect("whoami").success().expect("whoami");
    assert_eq!(who.parse::<WhoAmIResp>().authzid, format!("dn:{}", user_dn("ann")));
    let mut carl = bound(&s, "carl", "carl's password").await;
    assert_eq!(
        dns(&search(&mut carl, PEOPLE, Scope::OneLevel, "(uid=carl)", &["1.1"]).await.expect("search")).len(),
        1
    );

    // A revoked key stops working on an open connection.
    let keys = s.call(reqwest::Method::GET, "/v1/keys", Some(&w.ann_key), None).await;
    let key_id = keys.body["items"][0]["id"].as_str().expect("key id").to_owned();
    assert!(s.delete(&format!("/v1/keys/{key_id}")).await.status.is_success());
    assert_eq!(rc(search(&mut bare, PEOPLE, Scope::OneLevel, "(uid=ann)", &[]).await), 50);
}

async fn ldap_searches_users_and_groups(s: TestServer) {
    world(&s).await;
    let mut l = bound(&s, "admin", ADMIN_KEY).await;

    // A login lookup, as Grafana and Nextcloud send it, with the attributes asked.
    let found = search(
        &mut l,
        BASE,
        Scope::Subtree,
        "(&(objectClass=person)(|(uid=BOB)(mail=bob)))",
        &["uid", "mail", "cn", "sn", "givenName", "memberOf", "uidNumber"],
    )
    .await
    .expect("search");
    assert_eq!(dns(&found), BTreeSet::from([user_dn("bob")]));
    let bob = &found[0].attrs;
    assert_eq!(bob["uid"], ["bob"]);
    assert_eq!(bob["mail"], ["Bob@Example.org"]);
    assert_eq!(
        (bob["cn"].as_slice(), bob["sn"].as_slice(), bob["givenName"].as_slice()),
        (&["Bob Stone".to_owned()][..], &["Stone".to_owned()][..], &["Bob".to_owned()][..])
    );
    assert_eq!(set(&bob["memberOf"]), BTreeSet::from([group_dn("eng")]), "direct groups only");
    assert!(bob["uidNumber"][0].parse::<i64>().is_ok());
    assert!(!bob.contains_key("objectClass"), "only what was asked");

    // memberOf: direct members, and at any depth through the in-chain rule.
    let direct = search(&mut l, PEOPLE, Scope::OneLevel, &format!("(memberOf={})", group_dn("ENG")), &["1.1"])
        .await
        .expect("memberOf");
    assert_eq!(dns(&direct), BTreeSet::from([user_dn("bob")]));
    let nested = format!("(&(objectClass=inetOrgPerson)(memberOf:1.2.840.113556.1.4.1941:={}))", group_dn("eng"));
    let deep = search(&mut l, BASE, Scope::Subtree, &nested, &["1.1"]).await.expect("in chain");
    assert_eq!(dns(&deep), BTreeSet::from([user_dn("ann"), user_dn("bob")]));
    let either = format!("(|(uid=carl)(memberOf:1.2.840.113556.1.4.1941:={}))", group_dn("web"));
    let mixed = search(&mut l, PEOPLE, Scope::Subtree, &either, &["1.1"]).await.expect("in chain inside or");
    assert_eq!(dns(&mixed), BTreeSet::from([user_dn("ann"), user_dn("carl")]));

    // member on groups: direct (users only here), and at any depth.
    let f = format!("(&(objectClass=groupOfUniqueNames)(uniqueMember={}))", user_dn("ann"));
    assert_eq!(
        dns(&search(&mut l, GROUPS, Scope::Subtree, &f, &["1.1"]).await.expect("member")),
        BTreeSet::from([group_dn("web")])
    );
    let f = format!("(member:1.2.840.113556.1.4.1941:={})", user_dn("ann"));
    let groups = search(&mut l, BASE, Scope::Subtree, &f, &["cn"]).await.expect("member in chain");
    assert_eq!(dns(&groups), BTreeSet::from([group_dn("eng"), group_dn("web")]));

    // A group's entry: members are users and nested groups.
    let eng = search(&mut l, &group_dn("eng"), Scope::Base, "(objectClass=*)", &[]).await.expect("group");
    let a = &eng[0].attrs;
    assert_eq!(set(&a["member"]), BTreeSet::from([user_dn("bob"), group_dn("web")]));
    assert_eq!(a["uniqueMember"].len(), 2);
    assert_eq!(a["memberUid"], ["bob"]);
    assert!(set(&a["objectClass"]).contains("posixgroup"));
    assert!(a.contains_key("gidNumber") && !a.contains_key("entryUUID"), "operational attributes only on request");
    let ops = search(&mut l, GROUPS, Scope::OneLevel, "(&(cn=ops)(description=on*))", &["+", "description"])
        .await
        .expect("ops");
    assert_eq!(dns(&ops), BTreeSet::from([group_dn("ops")]));
    assert!(ops[0].attrs.contains_key("entryUUID") && ops[0].attrs.contains_key("modifyTimestamp"));
    assert!(!ops[0].attrs.contains_key("cn"), "{:?}", ops[0].attrs);

    // Scopes: the fixed tree, one level, the whole subtree.
    let top = search(&mut l, BASE, Scope::OneLevel, "(objectClass=*)", &["1.1"]).await.expect("one level");
    assert_eq!(dns(&top), BTreeSet::from([PEOPLE.to_owned(), GROUPS.to_owned()]));
    let all = search(&mut l, BASE, Scope::Subtree, "(objectClass=*)", &["1.1"]).await.expect("subtree");
    assert_eq!(all.len(), 3 + 4 + 3, "base, two units, four users, three groups");
    let numbers =
        search(&mut l, PEOPLE, Scope::OneLevel, "(&(uidNumber>=0)(!(uid=admin)))", &["1.1"]).await.expect("numbers");
    assert_eq!(numbers.len(), 3);

    // Result codes.
    let missing = l.search(&user_dn("nobody"), Scope::Base, "(objectClass=*)", vec!["1.1"]).await.expect("search");
    assert_eq!((missing.1.rc, missing.1.matched.to_lowercase()), (32, PEOPLE.to_owned()));
    assert_eq!(rc(search(&mut l, "dc=elsewhere", Scope::Subtree, "(objectClass=*)", &[]).await), 32);
    let limited = l
        .with_search_options(ldap3::SearchOptions::new().sizelimit(2))
        .search(PEOPLE, Scope::OneLevel, "(objectClass=*)", vec!["1.1"])
        .await
        .expect("search");
    assert_eq!((limited.1.rc, limited.0.len()), (4, 2), "sizeLimitExceeded after two entries");
    assert_eq!(l.delete(&user_dn("bob")).await.expect("delete").rc, 53);
    let mods = ldap3::Mod::Replace("mail", std::collections::HashSet::from(["x@y"]));
    assert_eq!(l.modify(&user_dn("bob"), vec![mods]).await.expect("modify").rc, 53);
    let add =
        l.add(&user_dn("zed"), vec![("objectClass", std::collections::HashSet::from(["person"]))]).await.expect("add");
    assert_eq!(add.rc, 53);
    assert_eq!(l.modifydn(&user_dn("bob"), "uid=rob", true, None).await.expect("modrdn").rc, 53);
    let critical = RawControl { ctype: "1.2.3.4.5.6.7".to_owned(), crit: true, val: None };
    let r = l.with_controls(critical).search(BASE, Scope::Subtree, "(uid=bob)", vec!["1.1"]).await.expect("search");
    assert_eq!(r.1.rc, 12, "unavailableCriticalExtension");
    let harmless = RawControl { ctype: "1.2.3.4.5.6.7".to_owned(), crit: false, val: None };
    let r = l.with_controls(harmless).search(BASE, Scope::Subtree, "(uid=bob)", vec!["1.1"]).await.expect("search");
    assert_eq!((r.1.rc, r.0.len()), (0, 1), "a control that is not critical is ignored");
    // Compare, matched as equality: DNs normalised, strings ignoring case.
    let cmp = |r: ldap3::result::CompareResult| r.0.rc;
    let eng_upper = format!("CN=Eng,{GROUPS}");
    assert_eq!(cmp(l.compare(&user_dn("bob"), "memberOf", eng_upper.as_str()).await.expect("compare")), 6);
    assert_eq!(cmp(l.compare(&user_dn("bob"), "memberof", group_dn("web").as_str()).await.expect("compare")), 5);
    assert_eq!(cmp(l.compare(&group_dn("eng"), "member", user_dn("BOB").as_str()).await.expect("compare")), 6);
    assert_eq!(cmp(l.compare(&user_dn("bob"), "MAIL", "bob@example.ORG").await.expect("compare")), 6);
    assert_eq!(cmp(l.compare(&user_dn("carl"), "mail", "x").await.expect("compare")), 16, "noSuchAttribute");
    assert_eq!(cmp(l.compare(&user_dn("nobody"), "uid", "nobody").await.expect("compare")), 32);
    // The connection survived every mistake.
    assert_eq!(search(&mut l, PEOPLE, Scope::OneLevel, "(uid=bob)", &["1.1"]).await.expect("still open").len(), 1);
}

/// Follows paged results to the end: the DNs of every page, in order.
async fn paged(l: &mut Ldap, base: &str, filter: &str, size: i32) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cookie = Vec::new();
    loop {
        let ctrl = PagedResults { size, cookie: cookie.clone() };
        let (entries, res) = l
            .with_controls(ctrl)
            .search(base, Scope::Subtree, filter, vec!["1.1"])
            .await
            .expect("page")
            .success()
            .expect("page");
        pages.push(entries.into_iter().map(|e| SearchEntry::construct(e).dn).collect());
        let Some(Control(Some(ControlType::PagedResults), raw)) =
            res.ctrls.into_iter().find(|c| matches!(c.0, Some(ControlType::PagedResults)))
        else {
            panic!("no paged results control in the answer")
        };
        cookie = raw.parse::<PagedResults>().cookie;
        if cookie.is_empty() {
            return pages;
        }
        assert!(pages.len() < 100, "paging does not end");
    }
}

async fn ldap_paged_results(s: TestServer) {
    world(&s).await;
    for i in 0..23 {
        s.user(&format!("user{i:02}")).await;
    }
    let mut l = bound(&s, "admin", ADMIN_KEY).await;
    let pages = paged(&mut l, PEOPLE, "(objectClass=person)", 10).await;
    assert!(pages.iter().all(|p| p.len() <= 10), "{pages:?}");
    let all: Vec<String> = pages.concat();
    let distinct: BTreeSet<String> = all.iter().cloned().collect();
    assert_eq!((all.len(), distinct.len()), (27, 27), "every user once: {pages:?}");
    // Across both kinds from the base, with the fixed entries first.
    let every = paged(&mut l, BASE, "(objectClass=*)", 7).await.concat();
    assert_eq!(every.len(), 3 + 27 + 3);
    assert_eq!(every.iter().collect::<BTreeSet<_>>().len(), every.len());
    // A cookie is only for its own search.
    let ctrl = PagedResults { size: 5, cookie: Vec::new() };
    let (_, res) = l
        .with_controls(ctrl)
        .search(PEOPLE, Scope::OneLevel, "(objectClass=person)", vec!["1.1"])
        .await
        .expect("page")
        .success()
        .expect("page");
    let cookie = res.ctrls[0].1.parse::<PagedResults>().cookie;
    let ctrl = PagedResults { size: 5, cookie };
    let r = l.with_controls(ctrl).search(PEOPLE, Scope::OneLevel, "(uid=user0*)", vec!["1.1"]).await.expect("page");
    assert_eq!(r.1.rc, 2, "protocolError for another search's cookie");
}

async fn ldap_shows_what_v1_shows(s: TestServer) {
    let w = world(&s).await;
    let mut ann = bound(&s, "ann", &w.ann_key).await;
    let v1 = s.call(reqwest::Method::GET, "/v1/groups", Some(&w.ann_key), None).await;
    let mut visible: BTreeSet<String> = BTreeSet::new();
    for g in v1.body["items"].as_array().expect("items") {
        visible.insert(group_dn(g["name"].as_str().expect("name")).to_lowercase());
    }
    let groups =
        search(&mut ann, GROUPS, Scope::OneLevel, "(objectClass=groupOfNames)", &["1.1"]).await.expect("groups");
    assert_eq!(dns(&groups), visible);
    assert_eq!(
        visible,
        BTreeSet::from([group_dn("eng"), group_dn("web")]),
        "ann sees the group she is in, and eng, which she is in through web"
    );
    // A group she cannot see is absent by name, and as a filter value.
    let ops = ann.search(&group_dn("ops"), Scope::Base, "(objectClass=*)", vec!["1.1"]).await.expect("search");
    assert_eq!(ops.1.rc, 32);
    let f = format!("(memberOf={})", group_dn("ops"));
    assert!(search(&mut ann, PEOPLE, Scope::OneLevel, &f, &["1.1"]).await.expect("search").is_empty());
    // Another user's groups at any depth: those of them ann sees (carl,
    // later in ops, is in none she sees).
    let f = format!("(member:1.2.840.113556.1.4.1941:={})", user_dn("bob"));
    let bobs = search(&mut ann, GROUPS, Scope::OneLevel, &f, &["1.1"]).await.expect("bob's groups");
    assert_eq!(dns(&bobs), BTreeSet::from([group_dn("eng")]));
    let f = format!("(member:1.2.840.113556.1.4.1941:={})", user_dn("ann"));
    let mine = search(&mut ann, GROUPS, Scope::OneLevel, &f, &["member"]).await.expect("own groups");
    assert_eq!(dns(&mine), BTreeSet::from([group_dn("eng"), group_dn("web")]));
    // Each of them readable, members included, as on /v1.
    let eng = mine.iter().find(|e| e.dn.eq_ignore_ascii_case(&group_dn("eng"))).expect("eng");
    let mut members: Vec<String> = eng.attrs["member"].iter().map(|m| m.to_lowercase()).collect();
    members.sort();
    assert_eq!(members, [group_dn("web").to_lowercase(), user_dn("bob").to_lowercase()]);
    // Users are readable by everyone bound, as on /v1; memberOf shows the visible groups.
    let bob = search(&mut ann, PEOPLE, Scope::OneLevel, "(uid=bob)", &["memberOf"]).await.expect("bob");
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0].attrs["memberOf"], [group_dn("eng")], "eng is visible to ann: {:?}", bob[0].attrs);
    // A group's memberOf: the groups it is directly in.
    let web = search(&mut ann, GROUPS, Scope::OneLevel, "(cn=web)", &["memberOf"]).await.expect("web");
    assert_eq!(web[0].attrs["memberOf"], [group_dn("eng")]);
    let f = format!("(memberOf={})", group_dn("eng"));
    let under_eng = search(&mut ann, GROUPS, Scope::OneLevel, &f, &["1.1"]).await.expect("under eng");
    assert_eq!(dns(&under_eng), BTreeSet::from([group_dn("web")]));
    // Carl is only in ops, which ann does not see: his entry shows no memberOf.
    let ops_id = s.get("/v1/groups?prefix=ops").await.body["items"][0]["id"].as_str().expect("ops").to_owned();
    let carl = s.get("/v1/users?prefix=carl").await.body["items"][0]["id"].as_str().expect("carl").to_owned();
    assert!(s.put(&format!("/v1/groups/{ops_id}/members/{carl}"), json!({})).await.status.is_success());
    let s2 = search(&mut ann, PEOPLE, Scope::OneLevel, "(uid=carl)", &["memberOf"]).await.expect("carl");
    assert!(!s2[0].attrs.contains_key("memberOf"), "{:?}", s2[0].attrs);
    let f = format!("(member:1.2.840.113556.1.4.1941:={})", user_dn("carl"));
    assert!(search(&mut ann, GROUPS, Scope::OneLevel, &f, &["1.1"]).await.expect("carl's").is_empty());
}

/// Member equalities answered from lists (a user's groups; a group's
/// parents; an `Or` of them) give what the scan of every group gives, for
/// a site admin and for a user who sees only some groups.
async fn ldap_member_filters_name_users_or_groups(s: TestServer) {
    let w = world(&s).await;
    // hidden is nested in web: ann reads web (and so sees hidden among its
    // members) but not hidden itself.
    let web = s.get("/v1/groups?prefix=web").await.body["items"][0]["id"].as_str().expect("web").to_owned();
    let hidden = s.group("hidden").await;
    assert!(s.put(&format!("/v1/groups/{web}/children/{hidden}"), json!({})).await.status.is_success());
    let cases = [
        (format!("(member={})", group_dn("web")), vec!["eng"]),
        (format!("(uniqueMember={})", group_dn("WEB").to_uppercase()), vec!["eng"]),
        (format!("(&(objectClass=groupOfNames)(member={}))", group_dn("hidden")), vec!["web"]),
        (format!("(|(member={})(uniqueMember={}))", user_dn("ann"), user_dn("bob")), vec!["eng", "web"]),
        (format!("(|(member={})(member={}))", user_dn("nobody"), user_dn("bob")), vec!["eng"]),
        (format!("(|(member={})(member={}))", group_dn("web"), group_dn("hidden")), vec!["eng", "web"]),
        (format!("(|(member={})(member={}))", group_dn("web"), user_dn("ann")), vec!["eng", "web"]),
        ("(|(memberUid=ann)(memberUid=bob))".to_owned(), vec!["eng", "web"]),
        (format!("(member={})", group_dn("nothing")), vec![]),
    ];
    let mut admin = bound(&s, "admin", ADMIN_KEY).await;
    let mut ann = bound(&s, "ann", &w.ann_key).await;
    for (f, want) in &cases {
        let want: BTreeSet<String> = want.iter().map(|g| group_dn(g).to_lowercase()).collect();
        let got = search(&mut admin, GROUPS, Scope::OneLevel, f, &["1.1"]).await.expect("admin");
        assert_eq!(dns(&got), want, "admin: {f}");
        // ann sees eng and web (she is in both at some depth), not hidden.
        let got = search(&mut ann, GROUPS, Scope::OneLevel, f, &["1.1"]).await.expect("ann");
        assert_eq!(dns(&got), want, "ann: {f}");
    }
    // Users by uid or mail (Gitea's and Nextcloud's login filters): lookups,
    // each user once, as the scan would give them.
    for (f, want) in [
        ("(mail=bob@example.org)", vec!["bob"]),
        ("(&(objectClass=person)(|(uid=BOB@example.org)(mail=BOB@example.org)))", vec!["bob"]),
        ("(|(uid=ann)(mail=bob@EXAMPLE.org))", vec!["ann", "bob"]),
        ("(|(uid=bob)(mail=bob@example.org))", vec!["bob"]),
        ("(|(uid=ann)(|(mailPrimaryAddress=ann)(mail=ann)))", vec!["ann"]),
        ("(&(|(uid=ann)(uid=bob))(memberOf=cn=eng,ou=groups,dc=roster,dc=local))", vec!["bob"]),
        ("(mail=nobody@example.org)", vec![]),
        ("(noSuchAttribute=ann)", vec![]),
    ] {
        let want: BTreeSet<String> = want.iter().map(|u| user_dn(u).to_lowercase()).collect();
        for l in [&mut admin, &mut ann] {
            let got = search(l, PEOPLE, Scope::OneLevel, f, &["1.1"]).await.expect("users");
            assert_eq!(dns(&got), want, "{f}");
        }
    }
    // By number (SSSD's getpwuid and getgrgid): lookups too.
    let first = |e: &SearchEntry, a: &str| e.attrs[a][0].clone();
    let ann_entry = search(&mut admin, PEOPLE, Scope::OneLevel, "(uid=ann)", &["uidNumber"]).await.expect("ann");
    let uid_number = first(&ann_entry[0], "uidNumber");
    let ops = search(&mut admin, GROUPS, Scope::OneLevel, "(cn=ops)", &["gidNumber"]).await.expect("ops");
    let ops_gid = first(&ops[0], "gidNumber");
    let web = search(&mut admin, GROUPS, Scope::OneLevel, "(cn=web)", &["gidNumber"]).await.expect("web");
    let web_gid = first(&web[0], "gidNumber");
    let sssd = |n: &str| format!("(&(uidNumber={n})(objectclass=posixAccount)(uid=*)(&(uidNumber=*)(!(uidNumber=0))))");
    for (base, f, admin_sees, ann_sees) in [
        (PEOPLE, sssd(&uid_number), vec![user_dn("ann")], vec![user_dn("ann")]),
        (PEOPLE, format!("(gidNumber=0{uid_number})"), vec![user_dn("ann")], vec![user_dn("ann")]),
        (PEOPLE, format!("(uidNumber={ops_gid})"), vec![], vec![]),
        (PEOPLE, "(uidNumber=abc)".to_owned(), vec![], vec![]),
        (
            GROUPS,
            format!("(&(objectClass=posixGroup)(gidNumber={web_gid}))"),
            vec![group_dn("web")],
            vec![group_dn("web")],
        ),
        (GROUPS, format!("(gidNumber={ops_gid})"), vec![group_dn("ops")], vec![]),
        (GROUPS, format!("(gidNumber={uid_number})"), vec![], vec![]),
    ] {
        for (l, want) in [(&mut admin, admin_sees), (&mut ann, ann_sees)] {
            let want: BTreeSet<String> = want.iter().map(|d| d.to_lowercase()).collect();
            let got = search(l, base, Scope::OneLevel, &f, &["1.1"]).await.expect("by number");
            assert_eq!(dns(&got), want, "{f}");
        }
    }
    // Only the member attributes asked for are sent; `*` sends all three.
    let keys = |e: &SearchEntry| e.attrs.keys().map(|k| k.to_lowercase()).collect::<BTreeSet<_>>();
    let one = search(&mut admin, GROUPS, Scope::OneLevel, "(cn=web)", &["member"]).await.expect("member");
    assert_eq!(keys(&one[0]), BTreeSet::from(["member".to_owned()]));
    let uid = search(&mut admin, GROUPS, Scope::OneLevel, "(memberUid=ann)", &["uniqueMember"]).await.expect("uid");
    assert_eq!(dns(&uid), BTreeSet::from([group_dn("web").to_lowercase()]));
    assert_eq!(keys(&uid[0]), BTreeSet::from(["uniquemember".to_owned()]));
    let all = search(&mut admin, GROUPS, Scope::OneLevel, "(cn=web)", &["*"]).await.expect("all");
    for a in ["member", "uniquemember", "memberuid"] {
        assert!(keys(&all[0]).contains(a), "{a}: {:?}", all[0].attrs);
    }
    // The in-chain rules on one entry (a base search) answer as over many.
    let chain = "1.2.840.113556.1.4.1941";
    for (base, f, hit) in [
        (user_dn("ann"), format!("(memberOf:{chain}:={})", group_dn("eng")), true),
        (user_dn("ann"), format!("(memberOf:{chain}:={})", group_dn("hidden")), false),
        (user_dn("bob"), format!("(memberOf:{chain}:={})", group_dn("web")), false),
        (user_dn("ann"), format!("(!(memberOf:{chain}:={}))", group_dn("nothing")), true),
        (group_dn("eng"), format!("(member:{chain}:={})", user_dn("ann")), true),
        (group_dn("web"), format!("(member:{chain}:={})", user_dn("bob")), false),
        (group_dn("eng"), format!("(&(cn=eng)(member:{chain}:={}))", user_dn("nobody")), false),
    ] {
        for l in [&mut admin, &mut ann] {
            let got = search(l, &base, Scope::Base, &f, &["1.1"]).await.expect("base");
            assert_eq!(got.len(), usize::from(hit), "{base} {f}");
        }
    }
}

on_every_store!(
    ldap_binds_and_root_dse,
    ldap_searches_users_and_groups,
    ldap_paged_results,
    ldap_shows_what_v1_shows,
    ldap_member_filters_name_users_or_groups
);

/// Debian's `ldapsearch` (ldap-utils) against the server, when installed
/// (CI installs it): simple bind, a paged subtree search.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldapsearch_from_ldap_utils() {
    if std::process::Command::new("ldapsearch").arg("-VV").output().is_err() {
        // CI installs it (.ci/run): there, a skip is a failure.
        assert!(
            std::env::var_os("ROSTER_REQUIRE_SDK").is_none(),
            "ROSTER_REQUIRE_SDK is set but ldapsearch is missing"
        );
        eprintln!("SKIPPED ldapsearch_from_ldap_utils: ldapsearch is not installed (apt-get install ldap-utils)");
        return;
    }
    let s = TestServer::sqlite().await;
    world(&s).await;
    let out = tokio::process::Command::new("ldapsearch")
        .args([
            "-x",
            "-LLL",
            "-H",
            &s.ldap,
            "-D",
            &user_dn("admin"),
            "-w",
            ADMIN_KEY,
            "-b",
            BASE,
            "-E",
            "pr=2/noprompt",
        ])
        .arg(format!("(memberOf:1.2.840.113556.1.4.1941:={})", group_dn("eng")))
        .args(["uid", "memberOf"])
        .output()
        .await
        .expect("ldapsearch");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let mut seen: HashMap<String, usize> = HashMap::new();
    for line in text.lines().filter(|l| l.starts_with("dn: ")) {
        *seen.entry(line[4..].to_lowercase()).or_default() += 1;
    }
    assert_eq!(seen, HashMap::from([(user_dn("ann"), 1), (user_dn("bob"), 1)]), "{text}");
    assert!(text.contains(&format!("memberOf: {}", group_dn("web"))), "{text}");
}

/// `roster serve --ldap-listen --ldap-base-dn`: the real binary serves LDAP
/// beside HTTP, under the base DN it was given, with anonymous reads when
/// `ROSTER_LDAP_ANONYMOUS_READ` says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_flags_start_the_ldap_listener() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("roster.db").display());
    let options = crate::process::Options {
        args: &["--ldap-listen", "127.0.0.1:0", "--ldap-base-dn", "dc=Example, dc=org"],
        env: &[("ROSTER_LDAP_ANONYMOUS_READ", "1")],
        ..Default::default()
    };
    let server = crate::process::start_with(&url, Some(ADMIN_KEY), &options);
    let log = server.log.lock().expect("log").clone();
    let addr = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v["fields"]["ldap_addr"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no ldap address in the log:\n{log}"));
    let (conn, mut ldap) = LdapConnAsync::new(&format!("ldap://{addr}")).await.expect("connect");
    ldap3::drive!(conn);
    let dse = search(&mut ldap, "", Scope::Base, "(objectClass=*)", &["namingContexts"]).await.expect("root DSE");
    assert_eq!(dse[0].attrs["namingContexts"], ["dc=Example,dc=org"], "as given, spaces normalised");
    let public = search(&mut ldap, "ou=people,dc=example,dc=org", Scope::OneLevel, "(uid=admin)", &["*"])
        .await
        .expect("anonymous read");
    assert_eq!(public[0].attrs["uid"], ["admin"]);
    assert!(
        !public[0].attrs.contains_key("mail") && public[0].attrs.contains_key("uidNumber"),
        "{:?}",
        public[0].attrs
    );
    let r = ldap.simple_bind("uid=admin,ou=people,dc=example,dc=org", ADMIN_KEY).await.expect("bind");
    assert_eq!(r.rc, 0, "{r}");
    let me = search(&mut ldap, "ou=people,dc=example,dc=org", Scope::OneLevel, "(uid=admin)", &["uid"])
        .await
        .expect("search");
    assert_eq!(me[0].dn, "uid=admin,ou=people,dc=Example,dc=org");
}

/// Failed binds count against the source address through the core's
/// limiter: past the budget every bind from there is refused (`busy`,
/// with when to retry), a right key included, so guessing learns nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_binds_are_rate_limited_per_source() {
    let limits = roster_core::RateLimits { per_key: None, failed_auth_per_source: roster_core::Rate::per_minute(1, 2) };
    let s = TestServer::sqlite_limited(limits).await;
    let mut l = connect(&s).await;
    for _ in 0..2 {
        assert_eq!(l.simple_bind(&user_dn("admin"), "rst_wrong").await.expect("bind").rc, 49);
    }
    let over = l.simple_bind(&user_dn("admin"), "rst_wrong").await.expect("bind");
    assert_eq!(over.rc, 51, "{over}");
    assert!(over.text.contains("retry"), "{over}");
    assert_eq!(l.simple_bind(&user_dn("admin"), ADMIN_KEY).await.expect("bind").rc, 51, "a right key too");
    // HTTP from the same address is refused as well: one budget per source.
    assert_eq!(s.get("/v1/me").await.status.as_u16(), 429);
}

/// Reads one whole BER message (short or long definite length) from `sock`.
pub(crate) async fn read_message(sock: &mut tokio::net::TcpStream) -> Vec<u8> {
    let wait = std::time::Duration::from_secs(20);
    tokio::time::timeout(wait, read_whole(sock)).await.expect("an answer in time")
}

async fn read_whole(sock: &mut tokio::net::TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut head = [0u8; 2];
    sock.read_exact(&mut head).await.expect("message head");
    let mut out = head.to_vec();
    let len = if head[1] & 0x80 == 0 {
        usize::from(head[1])
    } else {
        let mut n = vec![0u8; usize::from(head[1] & 0x7f)];
        sock.read_exact(&mut n).await.expect("length");
        out.extend(&n);
        n.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    let mut body = vec![0u8; len];
    sock.read_exact(&mut body).await.expect("message body");
    out.extend(body);
    out
}

/// A request the client library would never send: a search whose filter
/// has an unknown choice. It is answered `protocolError` under its own
/// message id, and the connection goes on; bytes that are not BER at all
/// end it with a Notice of Disconnection.
async fn ldap_malformed_requests(s: TestServer) {
    use tokio::io::AsyncWriteExt;
    let addr = s.ldap.trim_start_matches("ldap://");
    let mut sock = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // SEQUENCE { id 7, SearchRequest { "", base, never, 0, 0, false, [15] {}, {} } }
    let bad_search = [
        0x30, 0x1a, 0x02, 0x01, 0x07, 0x63, 0x15, 0x04, 0x00, 0x0a, 0x01, 0x00, 0x0a, 0x01, 0x00, 0x02, 0x01, 0x00,
        0x02, 0x01, 0x00, 0x01, 0x01, 0x00, 0xaf, 0x00, 0x30, 0x00,
    ];
    sock.write_all(&bad_search).await.expect("send");
    let done = read_message(&mut sock).await;
    // id 7, SearchResultDone (0x65), resultCode 2 (protocolError).
    assert_eq!(&done[2..5], &[0x02, 0x01, 0x07], "{done:02x?}");
    assert_eq!(done[5], 0x65, "{done:02x?}");
    assert_eq!(&done[7..10], &[0x0a, 0x01, 0x02], "{done:02x?}");
    // Still open: WhoAmI (id 8) is answered with success.
    let mut whoami = vec![0x30, 0x1e, 0x02, 0x01, 0x08, 0x77, 0x19, 0x80, 0x17];
    whoami.extend(b"1.3.6.1.4.1.4203.1.11.3");
    sock.write_all(&whoami).await.expect("send");
    let answer = read_message(&mut sock).await;
    assert_eq!((&answer[2..5], answer[5]), (&[0x02, 0x01, 0x08][..], 0x78), "{answer:02x?}");
    assert_eq!(&answer[7..10], &[0x0a, 0x01, 0x00], "{answer:02x?}");
    // Not BER: a Notice of Disconnection (id 0), then the end.
    sock.write_all(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00]).await.expect("send");
    let notice = read_message(&mut sock).await;
    assert_eq!((&notice[2..5], notice[5]), (&[0x02, 0x01, 0x00][..], 0x78), "{notice:02x?}");
    let mut rest = Vec::new();
    use tokio::io::AsyncReadExt;
    assert_eq!(sock.read_to_end(&mut rest).await.expect("closed"), 0);
    // The server goes on serving others.
    let mut l = bound(&s, "admin", ADMIN_KEY).await;
    assert_eq!(search(&mut l, PEOPLE, Scope::OneLevel, "(uid=admin)", &["1.1"]).await.expect("search").len(), 1);
}

on_every_store!(ldap_malformed_requests);

/// The LDAP listener's own limits: connections past the cap wait in the
/// listen queue until one closes, and a silent connection is closed after
/// the idle timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_connection_cap_and_idle_timeout() {
    use std::time::Duration;
    use tokio::io::AsyncReadExt;
    let config = roster_server::ldap::LdapConfig {
        idle_timeout: Duration::from_millis(500),
        max_connections: 1,
        ..Default::default()
    };
    let s = TestServer::sqlite_with_ldap(config).await;
    let addr = s.ldap.trim_start_matches("ldap://").to_owned();
    let mut first = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    // The second is queued, not served, while the first is open.
    let mut waiting = connect(&s).await;
    let queued =
        tokio::time::timeout(Duration::from_millis(300), waiting.simple_bind(&user_dn("admin"), ADMIN_KEY)).await;
    assert!(queued.is_err(), "served past the cap");
    // The first, silent, is closed after the idle timeout; then the second is served.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), first.read_to_end(&mut rest)).await;
    assert!(matches!(closed, Ok(Ok(0))), "{closed:?}");
    let mut next = connect(&s).await;
    let bind = tokio::time::timeout(Duration::from_secs(5), next.simple_bind(&user_dn("admin"), ADMIN_KEY)).await;
    assert_eq!(bind.expect("served once a slot is free").expect("bind").rc, 0);
}

/// The server's own search limits (`--ldap-size-limit`, `--ldap-time-limit`):
/// a search without paging stops at the size limit with `sizeLimitExceeded`
/// (a client's lower limit wins), a paged search gets pages no larger and
/// every entry across them, and a search past the time limit ends with
/// `timeLimitExceeded` after what it had sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_server_size_and_time_limits() {
    use std::time::Duration;
    let config = roster_server::ldap::LdapConfig { size_limit: 3, ..Default::default() };
    let s = TestServer::sqlite_with_ldap(config).await;
    world(&s).await;
    for i in 0..6 {
        s.user(&format!("user{i:02}")).await;
    }
    let mut l = bound(&s, "admin", ADMIN_KEY).await;
    let capped = l.search(PEOPLE, Scope::OneLevel, "(objectClass=*)", vec!["1.1"]).await.expect("search");
    assert_eq!((capped.1.rc, capped.0.len()), (4, 3), "sizeLimitExceeded after the server's three");
    let lower = l
        .with_search_options(ldap3::SearchOptions::new().sizelimit(2))
        .search(PEOPLE, Scope::OneLevel, "(objectClass=*)", vec!["1.1"])
        .await
        .expect("search");
    assert_eq!((lower.1.rc, lower.0.len()), (4, 2), "the client's lower limit wins");
    let higher = l
        .with_search_options(ldap3::SearchOptions::new().sizelimit(50))
        .search(PEOPLE, Scope::OneLevel, "(objectClass=*)", vec!["1.1"])
        .await
        .expect("search");
    assert_eq!((higher.1.rc, higher.0.len()), (4, 3), "a client cannot raise it");
    let few = l.search(PEOPLE, Scope::OneLevel, "(uid=user0*)", vec!["1.1"]).await.expect("search");
    assert_eq!((few.1.rc, few.0.len()), (4, 3));
    let one = l.search(PEOPLE, Scope::OneLevel, "(uid=ann)", vec!["1.1"]).await.expect("search");
    assert_eq!((one.1.rc, one.0.len()), (0, 1), "under the limit: success");
    let pages = paged(&mut l, PEOPLE, "(objectClass=person)", 10).await;
    assert!(pages.iter().all(|p| p.len() <= 3), "pages no larger than the limit: {pages:?}");
    let all: BTreeSet<String> = pages.concat().into_iter().collect();
    assert_eq!(all.len(), 4 + 6, "every user across the pages: {pages:?}");

    let config = roster_server::ldap::LdapConfig { time_limit: Duration::from_millis(1), ..Default::default() };
    let s = TestServer::sqlite_with_ldap(config).await;
    let records: Vec<serde_json::Value> =
        (0..1500).map(|i| json!({ "type": "user", "username": format!("many{i:04}") })).collect();
    let r = s.post("/v1/import", json!({ "records": records })).await;
    assert!(r.status.is_success(), "{}", r.body);
    let mut l = bound(&s, "admin", ADMIN_KEY).await;
    let slow = l.search(PEOPLE, Scope::OneLevel, "(objectClass=*)", vec!["*", "+"]).await.expect("search");
    assert_eq!(slow.1.rc, 3, "timeLimitExceeded: {:?}", slow.1);
    assert!(slow.0.len() < 1500, "stopped early: {}", slow.0.len());
    // The connection goes on.
    let r = l.search(PEOPLE, Scope::OneLevel, "(uid=admin)", vec!["1.1"]).await.expect("search");
    assert!(r.1.rc == 0 || r.1.rc == 3, "{:?}", r.1);
}

/// `( OID NAME 'a' …` or `( OID NAME ( 'a' 'b' ) …`: each name (in lower
/// case) with its OID.
fn described(descriptions: &[String]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for d in descriptions {
        let mut words = d.split_whitespace();
        assert_eq!(words.next(), Some("("), "{d}");
        let oid = words.next().unwrap_or_default().to_owned();
        assert!(oid.split('.').all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())), "{d}");
        let Some(rest) = d.split(" NAME ").nth(1) else { continue };
        let names = if let Some(list) = rest.strip_prefix("( ") {
            list.split(" )").next().unwrap_or_default()
        } else {
            rest.split(' ').next().unwrap_or_default()
        };
        for name in names.split_whitespace() {
            out.insert(name.trim_matches('\'').to_lowercase(), oid.clone());
        }
    }
    out
}

/// The subschema entry (RFC 4512 §4.2), named by the root DSE and readable
/// before a bind as OpenLDAP's sample policy allows: every object class and
/// attribute type the tree serves, with its standard OID, and nothing an
/// entry carries left undescribed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_subschema() {
    let s = TestServer::sqlite().await;
    world(&s).await;
    let mut anon = connect(&s).await;
    let dse = search(&mut anon, "", Scope::Base, "(objectClass=*)", &["subschemaSubentry"]).await.expect("dse");
    assert_eq!(dse[0].attrs["subschemaSubentry"], ["cn=Subschema"]);
    let wanted = ["objectClasses", "attributeTypes", "ldapSyntaxes", "matchingRules"];
    let found =
        search(&mut anon, "cn=subschema", Scope::Base, "(objectClass=subschema)", &wanted).await.expect("schema");
    assert_eq!(found.len(), 1);
    let a = &found[0].attrs;
    assert_eq!(found[0].dn.to_lowercase(), "cn=subschema");
    let classes = described(&a["objectClasses"]);
    for (name, oid) in [
        ("inetorgperson", "2.16.840.1.113730.3.2.2"),
        ("person", "2.5.6.6"),
        ("organizationalperson", "2.5.6.7"),
        ("posixaccount", "1.3.6.1.1.1.2.0"),
        ("groupofnames", "2.5.6.9"),
        ("groupofuniquenames", "2.5.6.17"),
        ("posixgroup", "1.3.6.1.1.1.2.2"),
        ("subschema", "2.5.20.1"),
    ] {
        assert_eq!(classes.get(name).map(String::as_str), Some(oid), "object class {name}: {classes:?}");
    }
    let types = described(&a["attributeTypes"]);
    for (name, oid) in [
        ("uid", "0.9.2342.19200300.100.1.1"),
        ("cn", "2.5.4.3"),
        ("commonname", "2.5.4.3"),
        ("sn", "2.5.4.4"),
        ("givenname", "2.5.4.42"),
        ("displayname", "2.16.840.1.113730.3.1.241"),
        ("mail", "0.9.2342.19200300.100.1.3"),
        ("entryuuid", "1.3.6.1.1.16.4"),
        ("uidnumber", "1.3.6.1.1.1.1.0"),
        ("gidnumber", "1.3.6.1.1.1.1.1"),
        ("homedirectory", "1.3.6.1.1.1.1.3"),
        ("memberof", "1.2.840.113556.1.2.102"),
        ("member", "2.5.4.31"),
        ("uniquemember", "2.5.4.50"),
        ("memberuid", "1.3.6.1.1.1.1.12"),
        ("description", "2.5.4.13"),
        ("createtimestamp", "2.5.18.1"),
        ("modifytimestamp", "2.5.18.2"),
        ("entrydn", "1.3.6.1.1.20"),
        ("subschemasubentry", "2.5.18.10"),
    ] {
        assert_eq!(types.get(name).map(String::as_str), Some(oid), "attribute type {name}");
    }
    assert!(a["ldapSyntaxes"].iter().any(|d| d.starts_with("( 1.3.6.1.4.1.1466.115.121.1.12 DESC 'DN'")), "{a:?}");
    assert!(described(&a["matchingRules"]).contains_key("caseignorematch"));
    // The schema attributes are operational: `*` shows only the entry's own.
    let plain = search(&mut anon, "cn=Subschema", Scope::Base, "(objectClass=*)", &["*"]).await.expect("schema");
    let names: BTreeSet<&str> = plain[0].attrs.keys().map(String::as_str).collect();
    assert_eq!(names, BTreeSet::from(["objectClass", "cn"]));
    // A leaf: nothing below it; a filter it does not match finds nothing.
    assert!(search(&mut anon, "cn=Subschema", Scope::OneLevel, "(objectClass=*)", &[]).await.expect("one").is_empty());
    assert!(search(&mut anon, "cn=Subschema", Scope::Base, "(objectClass=person)", &[]).await.expect("no").is_empty());
    let cmp = anon.compare("cn=subschema", "objectClass", "subschema").await.expect("compare");
    assert_eq!(cmp.0.rc, 6, "compareTrue before a bind");

    // Bound, every attribute of every entry is described.
    let mut admin = bound(&s, "admin", ADMIN_KEY).await;
    let all = search(&mut admin, BASE, Scope::Subtree, "(objectClass=*)", &["*", "+"]).await.expect("all");
    let dse = search(&mut admin, "", Scope::Base, "(objectClass=*)", &["*", "+"]).await.expect("dse");
    for entry in all.iter().chain(&dse) {
        for name in entry.attrs.keys() {
            assert!(types.contains_key(&name.to_lowercase()), "{} carries {name}, undescribed", entry.dn);
        }
        for class in entry.attrs.get("objectClass").into_iter().flatten() {
            assert!(classes.contains_key(&class.to_lowercase()), "{} is a {class}, undescribed", entry.dn);
        }
    }
}

/// `--ldap-anonymous-read`: before a bind, every user and group in the
/// core's public subset, and nothing more: not `mail` or other names, not
/// `entryUUID` or timestamps, not a group's description, even asked for
/// by name or in a filter. Nesting, paging and compare work as bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_anonymous_read_of_the_public_subset() {
    let s = TestServer::sqlite_with_ldap_options(LdapOptions {
        anonymous_read: roster_core::AnonymousRead::Public,
        ..LdapOptions::default()
    })
    .await;
    world(&s).await;
    let mut anon = connect(&s).await;
    let user_attrs = BTreeSet::from([
        "objectClass",
        "uid",
        "cn",
        "uidNumber",
        "gidNumber",
        "homeDirectory",
        "entryDN",
        "subschemaSubentry",
    ]);
    let users =
        search(&mut anon, PEOPLE, Scope::OneLevel, "(objectClass=posixAccount)", &["*", "+"]).await.expect("users");
    assert_eq!(dns(&users), ["admin", "ann", "bob", "carl"].iter().map(|u| user_dn(u)).collect());
    for u in &users {
        let mut names: BTreeSet<&str> = u.attrs.keys().map(String::as_str).collect();
        names.remove("memberOf");
        assert_eq!(names, user_attrs, "{}", u.dn);
    }
    let bob = users.iter().find(|u| u.dn == user_dn("bob")).expect("bob");
    assert_eq!(bob.attrs["cn"], ["Bob Stone"]);
    assert_eq!(set(&bob.attrs["memberOf"]), BTreeSet::from([group_dn("eng")]));
    let asked = ["mail", "sn", "givenName", "displayName", "entryUUID", "createTimestamp", "modifyTimestamp", "uid"];
    let named = search(&mut anon, PEOPLE, Scope::OneLevel, "(uid=bob)", &asked).await.expect("bob");
    assert_eq!(named[0].attrs.keys().collect::<Vec<_>>(), ["uid"], "only uid of what was asked is public");
    assert!(
        search(&mut anon, BASE, Scope::Subtree, "(mail=Bob@Example.org)", &["1.1"]).await.expect("mail").is_empty()
    );
    assert!(search(&mut anon, BASE, Scope::Subtree, "(sn=Stone)", &["1.1"]).await.expect("sn").is_empty());
    assert_eq!(rc(anon.compare(&user_dn("bob"), "mail", "Bob@Example.org").await.and_then(|c| c.equal())), 16);

    let group_attrs = BTreeSet::from([
        "objectClass",
        "cn",
        "gidNumber",
        "member",
        "uniqueMember",
        "memberUid",
        "entryDN",
        "subschemaSubentry",
    ]);
    let groups =
        search(&mut anon, GROUPS, Scope::OneLevel, "(objectClass=posixGroup)", &["*", "+"]).await.expect("groups");
    assert_eq!(dns(&groups), ["eng", "web", "ops"].iter().map(|g| group_dn(g)).collect());
    for g in &groups {
        let mut names: BTreeSet<&str> = g.attrs.keys().map(String::as_str).collect();
        if g.dn == group_dn("ops") {
            // No members: no member attributes.
            names.extend(["member", "uniqueMember", "memberUid"]);
        }
        assert_eq!(names, group_attrs, "{}", g.dn);
    }
    let eng = groups.iter().find(|g| g.dn == group_dn("eng")).expect("eng");
    assert_eq!(set(&eng.attrs["member"]), BTreeSet::from([user_dn("bob"), group_dn("web")]));
    assert_eq!(eng.attrs["memberUid"], ["bob"]);
    assert!(search(&mut anon, GROUPS, Scope::OneLevel, "(description=on*)", &["1.1"]).await.expect("d").is_empty());

    // Nesting at any depth, both ways; compare; paging.
    let f = format!("(memberOf:1.2.840.113556.1.4.1941:={})", group_dn("eng"));
    let deep = search(&mut anon, BASE, Scope::Subtree, &f, &["1.1"]).await.expect("in chain");
    assert_eq!(dns(&deep), BTreeSet::from([user_dn("ann"), user_dn("bob")]));
    let f = format!("(member:1.2.840.113556.1.4.1941:={})", user_dn("ann"));
    let of_ann = search(&mut anon, GROUPS, Scope::OneLevel, &f, &["1.1"]).await.expect("groups of ann");
    assert_eq!(dns(&of_ann), BTreeSet::from([group_dn("eng"), group_dn("web")]));
    let cmp = anon.compare(&group_dn("eng"), "memberUid", "bob").await.expect("compare");
    assert_eq!(cmp.0.rc, 6);
    let pages = paged(&mut anon, PEOPLE, "(objectClass=person)", 3).await;
    assert_eq!(pages.concat().len(), 4);
    // Still read-only, and a bind still works as before.
    let mods = ldap3::Mod::Replace("cn", std::collections::HashSet::from(["x"]));
    assert_eq!(anon.modify(&user_dn("bob"), vec![mods]).await.expect("modify").rc, 53);
    assert_eq!(anon.simple_bind(&user_dn("admin"), ADMIN_KEY).await.expect("bind").rc, 0);
    let full = search(&mut anon, PEOPLE, Scope::OneLevel, "(uid=bob)", &["mail"]).await.expect("bound");
    assert_eq!(full[0].attrs["mail"], ["Bob@Example.org"], "bound, the full entry");
}

/// Python's `ldap3` (pinned in `ldap/requirements.txt`), as tools built on
/// it connect (`get_info=ALL`): anonymously, it reads the root DSE, finds
/// the subschema entry there and parses every description in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_ldap3_reads_the_schema() {
    let Some(python) = crate::provision::venv_tool("ldap3-venv", "ldap/requirements.txt", "python") else { return };
    let s = TestServer::sqlite().await;
    let script = crate::provision::workspace().join("ldap/read_schema.py");
    let out = tokio::process::Command::new(python).arg(script).arg(&s.ldap).output().await.expect("python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(got["subschema"], json!(["cn=Subschema"]));
    let classes = &got["object_classes"];
    for (name, oid) in [
        ("inetOrgPerson", "2.16.840.1.113730.3.2.2"),
        ("person", "2.5.6.6"),
        ("organizationalPerson", "2.5.6.7"),
        ("posixAccount", "1.3.6.1.1.1.2.0"),
        ("groupOfNames", "2.5.6.9"),
        ("groupOfUniqueNames", "2.5.6.17"),
        ("posixGroup", "1.3.6.1.1.1.2.2"),
    ] {
        assert_eq!(classes[name]["oid"], oid, "{name}: {classes}");
    }
    assert_eq!(classes["inetOrgPerson"]["superior"], json!(["organizationalPerson"]));
    assert_eq!(classes["posixAccount"]["kind"], "AUXILIARY");
    assert_eq!(classes["posixAccount"]["must"], json!(["cn", "uid", "uidNumber", "gidNumber", "homeDirectory"]));
    let types = &got["attribute_types"];
    assert_eq!(types["uidNumber"]["syntax"], "1.3.6.1.4.1.1466.115.121.1.27");
    assert_eq!(types["uidNumber"]["single"], true);
    assert_eq!(types["memberOf"]["oid"], "1.2.840.113556.1.2.102");
    assert_eq!(types["entryUUID"]["usage"], "DIRECTORY_OPERATION");
    assert_eq!(types["cn"]["oid"], "2.5.4.3");
    assert!(got["syntaxes"].as_array().is_some_and(|s| s.len() >= 10), "{got}");
    assert!(got["matching_rules"].as_array().is_some_and(|r| r.len() >= 10), "{got}");
}
