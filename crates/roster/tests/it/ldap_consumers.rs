//! The LDAP front-end as the applications that read it use it: each test
//! sends the searches one consumer sends, as its documentation and source
//! write them (filters with their case and spacing, attribute lists, scope,
//! size limits, paged results and page sizes, the bind flow), and checks
//! the entries against what `/v1` says of the same users and groups.
//!
//! Each application binds as a service account: a user who is no site
//! admin, with an API key, that every group but one (`secret`) is shared
//! with at `read`. So the applications see what `/v1` shows that account:
//! every user, the shared groups and their members, no `secret`. Users
//! sign in to the applications with their own credential (alice with a
//! password, bob with an API key), which the application checks by a bind
//! as the DN its search found.
//!
//! Where a consumer's query comes from is said beside it (repository and
//! file, or the documented setting).

use std::collections::{BTreeMap, BTreeSet};

use ldap3::controls::{Control, ControlType, MakeCritical, PagedResults};
use ldap3::{Ldap, LdapConnAsync, Scope, SearchEntry, SearchOptions};
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::TestServer;

const BASE: &str = "dc=roster,dc=local";
const PEOPLE: &str = "ou=people,dc=roster,dc=local";
const GROUPS: &str = "ou=groups,dc=roster,dc=local";
const IN_CHAIN: &str = "1.2.840.113556.1.4.1941";

const ALICE_PASSWORD: &str = "alice's long password";

fn user_dn(name: &str) -> String {
    format!("uid={name},{PEOPLE}")
}

fn group_dn(name: &str) -> String {
    format!("cn={name},{GROUPS}")
}

// ---------------------------------------------------------------------------
// The directory, built through /v1, and what /v1 says about it.

/// Groups (nesting: staff ⊃ engineering ⊃ platform, staff ⊃ design) and
/// users as the tests use them; `secret` is not shared with the service
/// account.
struct Dir {
    svc_key: String,
    bob_key: String,
    /// Group ids by name.
    groups: BTreeMap<String, String>,
    /// User ids by username.
    users: BTreeMap<String, String>,
}

const SHARED: [&str; 7] =
    ["staff", "engineering", "platform", "design", "nextcloud_users", "gitea-admins", "grafana-editors"];

async fn directory(s: &TestServer) -> Dir {
    let mut groups = BTreeMap::new();
    for name in SHARED.iter().chain(&["secret"]) {
        let r = s.post("/v1/groups", json!({ "name": name, "description": format!("the {name} group") })).await;
        assert!(r.status.is_success(), "{}", r.body);
        groups.insert((*name).to_owned(), r.id());
    }
    for (parent, child) in [("staff", "engineering"), ("engineering", "platform"), ("staff", "design")] {
        let r = s.put(&format!("/v1/groups/{}/children/{}", groups[parent], groups[child]), json!({})).await;
        assert!(r.status.is_success(), "{}", r.body);
    }
    let people = [
        json!({ "username": "alice", "first_name": "Alice", "last_name": "Archer", "display_name": "Alice A.",
                "email": "alice@example.org", "password": ALICE_PASSWORD }),
        json!({ "username": "bob", "first_name": "Bob", "last_name": "Stone", "email": "Bob.Stone@Example.org" }),
        json!({ "username": "chen", "first_name": "Chen", "email": "chen@example.org" }),
        json!({ "username": "dana" }),
        json!({ "username": "svc-apps", "display_name": "Applications' service account" }),
    ];
    let mut users = BTreeMap::from([("admin".to_owned(), s.get("/v1/me").await.id())]);
    for p in people {
        let r = s.post("/v1/users", p).await;
        assert!(r.status.is_success(), "{}", r.body);
        users.insert(r.body["username"].as_str().expect("username").to_owned(), r.id());
    }
    let key = |user: &str| {
        let id = users[user].clone();
        async move {
            let r = s.post("/v1/keys", json!({ "user_id": id, "name": "ldap" })).await;
            assert!(r.status.is_success(), "{}", r.body);
            r.body["key"].as_str().expect("key").to_owned()
        }
    };
    let (svc_key, bob_key) = (key("svc-apps").await, key("bob").await);
    for (group, user) in [
        ("platform", "alice"),
        ("nextcloud_users", "alice"),
        ("gitea-admins", "alice"),
        ("engineering", "bob"),
        ("nextcloud_users", "bob"),
        ("grafana-editors", "bob"),
        ("design", "chen"),
        ("secret", "dana"),
    ] {
        let r = s.put(&format!("/v1/groups/{}/members/{}", groups[group], users[user]), json!({})).await;
        assert!(r.status.is_success(), "{}", r.body);
    }
    for name in SHARED {
        let path = format!("/v1/groups/{}/shares/users/{}", groups[name], users["svc-apps"]);
        let r = s.put(&path, json!({ "level": "read" })).await;
        assert!(r.status.is_success(), "{}", r.body);
    }
    Dir { svc_key, bob_key, groups, users }
}

/// Every item of a `/v1` list, following its cursors, as `key` sees it.
async fn rest_all(s: &TestServer, key: &str, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit=1000&cursor={c}"),
            None => format!("{path}{sep}limit=1000"),
        };
        let r = s.call(Method::GET, &url, Some(key), None).await;
        assert!(r.status.is_success(), "{url}: {}", r.body);
        items.extend(r.body["items"].as_array().expect("items").iter().cloned());
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return items,
        }
    }
}

/// What `/v1` says, as the service account sees it (and, for a user's
/// groups, which only the user or a site admin may list, the admin's
/// answer narrowed to the groups the service account sees).
struct Rest<'a> {
    s: &'a TestServer,
    d: &'a Dir,
}

impl Rest<'_> {
    /// Users by username.
    async fn users(&self) -> BTreeMap<String, Value> {
        let all = rest_all(self.s, &self.d.svc_key, "/v1/users").await;
        all.into_iter().map(|u| (u["username"].as_str().expect("username").to_owned(), u)).collect()
    }

    async fn user(&self, name: &str) -> Value {
        let r =
            self.s.call(Method::GET, &format!("/v1/users/{}", self.d.users[name]), Some(&self.d.svc_key), None).await;
        assert!(r.status.is_success(), "{}", r.body);
        r.body
    }

    /// The names of the groups the service account sees.
    async fn groups(&self) -> BTreeSet<String> {
        let all = rest_all(self.s, &self.d.svc_key, "/v1/groups").await;
        all.iter().map(|g| g["name"].as_str().expect("name").to_owned()).collect()
    }

    /// A group's direct members, users and nested groups, as DNs.
    async fn member_dns(&self, group: &str) -> BTreeSet<String> {
        let id = &self.d.groups[group];
        let users = rest_all(self.s, &self.d.svc_key, &format!("/v1/groups/{id}/members")).await;
        let children = rest_all(self.s, &self.d.svc_key, &format!("/v1/groups/{id}/children")).await;
        let users = users.iter().map(|m| user_dn(m["user"]["username"].as_str().expect("username")));
        let groups = children.iter().map(|c| group_dn(c["group"]["name"].as_str().expect("name")));
        lower(users.chain(groups))
    }

    /// A group's direct user members, by username.
    async fn member_names(&self, group: &str) -> BTreeSet<String> {
        let id = &self.d.groups[group];
        let users = rest_all(self.s, &self.d.svc_key, &format!("/v1/groups/{id}/members")).await;
        users.iter().map(|m| m["user"]["username"].as_str().expect("username").to_owned()).collect()
    }

    /// The users in a group at any depth, by username.
    async fn members_at_any_depth(&self, group: &str) -> BTreeSet<String> {
        let id = &self.d.groups[group];
        let users = rest_all(self.s, &self.d.svc_key, &format!("/v1/groups/{id}/members?transitive=true")).await;
        users.iter().map(|m| m["user"]["username"].as_str().expect("username").to_owned()).collect()
    }

    /// A user's groups (directly, or at any depth) that the service account sees.
    async fn groups_of(&self, user: &str, transitive: bool) -> BTreeSet<String> {
        let path = format!("/v1/users/{}/groups?transitive={transitive}", self.d.users[user]);
        let all = rest_all(self.s, &self.s.admin, &path).await;
        let visible = self.groups().await;
        all.iter()
            .map(|e| e["group"]["name"].as_str().expect("name").to_owned())
            .filter(|g| visible.contains(g))
            .collect()
    }
}

/// The name `cn` and `displayName` carry: the display name, else first and
/// last name, else the username (README, LDAP).
fn expected_cn(u: &Value) -> String {
    let text = |f: &str| u[f].as_str().filter(|v| !v.is_empty()).map(str::to_owned);
    text("display_name")
        .or_else(|| Some(format!("{} {}", text("first_name")?, text("last_name")?)))
        .or_else(|| text("username"))
        .expect("a name")
}

/// A `/v1` timestamp as LDAP writes it (generalized time, to the second).
fn generalized(rfc3339: &Value) -> String {
    let t =
        time::OffsetDateTime::parse(rfc3339.as_str().expect("a time"), &time::format_description::well_known::Rfc3339)
            .expect("RFC 3339")
            .to_offset(time::UtcOffset::UTC);
    let format = time::macros::format_description!("[year][month][day][hour][minute][second]Z");
    t.format(&format).expect("format")
}

fn lower(items: impl IntoIterator<Item = impl AsRef<str>>) -> BTreeSet<String> {
    items.into_iter().map(|i| i.as_ref().to_lowercase()).collect()
}

// ---------------------------------------------------------------------------
// LDAP, through the `ldap3` client.

async fn connect(s: &TestServer) -> Ldap {
    let (conn, ldap) = LdapConnAsync::new(&s.ldap).await.expect("connect");
    ldap3::drive!(conn);
    ldap
}

/// A connection bound as the service account, as each application's
/// settings make it (bind DN and password).
async fn as_service(s: &TestServer, d: &Dir) -> Ldap {
    let mut l = connect(s).await;
    let r = l.simple_bind(&user_dn("svc-apps"), &d.svc_key).await.expect("bind");
    assert_eq!(r.rc, 0, "service account bind: {r}");
    l
}

/// A bind's result code, on a connection of its own (as Nextcloud's
/// `areCredentialsValid` and Grafana's `UserBind` check a credential).
async fn bind_rc(s: &TestServer, dn: &str, secret: &str) -> u32 {
    let mut l = connect(s).await;
    l.simple_bind(dn, secret).await.expect("bind").rc
}

/// A search that must succeed: its entries.
async fn search(l: &mut Ldap, base: &str, scope: Scope, filter: &str, attrs: &[&str]) -> Vec<SearchEntry> {
    let ldap3::SearchResult(entries, res) = l.search(base, scope, filter, attrs.to_vec()).await.expect("search");
    assert_eq!(res.rc, 0, "{filter} under {base}: {res}");
    entries.into_iter().map(SearchEntry::construct).collect()
}

/// A search with the Simple Paged Results control, followed to its end as
/// the client libraries do; each page's entries.
async fn paged(
    l: &mut Ldap,
    base: &str,
    scope: Scope,
    filter: &str,
    attrs: &[&str],
    size: i32,
    critical: bool,
) -> Vec<Vec<SearchEntry>> {
    let mut pages = Vec::new();
    let mut cookie = Vec::new();
    loop {
        let control = PagedResults { size, cookie: cookie.clone() };
        let request = if critical { l.with_controls(control.critical()) } else { l.with_controls(control) };
        let ldap3::SearchResult(entries, res) =
            request.search(base, scope, filter, attrs.to_vec()).await.expect("page");
        assert_eq!(res.rc, 0, "{filter}: {res}");
        let page: Vec<SearchEntry> = entries.into_iter().map(SearchEntry::construct).collect();
        assert!(page.len() <= usize::try_from(size).expect("size"), "a page of {} for {size}", page.len());
        pages.push(page);
        let Some(Control(Some(ControlType::PagedResults), raw)) =
            res.ctrls.into_iter().find(|c| matches!(c.0, Some(ControlType::PagedResults)))
        else {
            panic!("no paged results control in the answer to {filter}")
        };
        cookie = raw.parse::<PagedResults>().cookie;
        if cookie.is_empty() {
            return pages;
        }
        assert!(pages.len() < 1000, "paging does not end");
    }
}

fn dns(entries: &[SearchEntry]) -> BTreeSet<String> {
    lower(entries.iter().map(|e| &e.dn))
}

/// The values of an attribute looked up by exactly this name, as go-ldap's
/// `GetAttributeValues` (Gitea, Grafana before 9.3) looks them up.
fn exact<'a>(e: &'a SearchEntry, name: &str) -> &'a [String] {
    e.attrs.get(name).map_or(&[], Vec::as_slice)
}

fn first<'a>(e: &'a SearchEntry, name: &str) -> Option<&'a str> {
    exact(e, name).first().map(String::as_str)
}

fn only(entries: Vec<SearchEntry>) -> SearchEntry {
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries.into_iter().next().expect("one entry")
}

// ---------------------------------------------------------------------------
// Nextcloud (user_ldap). Filters as its wizard composes them
// (nextcloud/server: apps/user_ldap/lib/Wizard.php, composeLdapFilter), with
// object class `person`, the user list limited to `nextcloud_users` through
// `memberof`, login by username or email, group member association
// `uniqueMember`. Searches as apps/user_ldap/lib/Access.php sends them:
// paged (ldapPagingSize 500, not critical) with size limit 0; attributes
// in lower case (User/Manager.php getAttributes); single attributes read
// with a base search (`readAttribute`).

const NC_USER_FILTER: &str = "(&(|(objectclass=person))(|(memberof=cn=nextcloud_users,ou=groups,dc=roster,dc=local)))";
const NC_GROUP_FILTER: &str =
    "(&(|(objectclass=groupOfUniqueNames))(|(cn=staff)(cn=engineering)(cn=platform)(cn=design)))";
/// What Manager::getAttributes(true) asks for (UUID candidates, `dn`,
/// `uid`, `samaccountname`, `memberof`, the mail and display name settings).
const NC_USER_ATTRS: [&str; 11] = [
    "entryuuid",
    "nsuniqueid",
    "objectguid",
    "guid",
    "ipauniqueid",
    "dn",
    "uid",
    "samaccountname",
    "memberof",
    "mail",
    "displayname",
];

/// Nextcloud's login filter for a login name: the user filter and the
/// username or either mail attribute (Wizard.php, LFILTER_LOGIN).
fn nc_login_filter(login: &str) -> String {
    let pattern = format!("(&{NC_USER_FILTER}(|(uid=%uid)(|(mailPrimaryAddress=%uid)(mail=%uid))))");
    pattern.replace("%uid", login)
}

async fn ldap_nextcloud(s: TestServer) {
    let d = directory(&s).await;
    let rest = Rest { s: &s, d: &d };
    let mut l = as_service(&s, &d).await;
    let users = rest.users().await;

    // The wizard's base DN check (Wizard::testBaseDN): `objectClass=*`,
    // ['dn'], size limit 1. One entry and sizeLimitExceeded, which PHP
    // reports as partial results and Nextcloud takes as success.
    let options = SearchOptions::new().sizelimit(1);
    let r = l.with_search_options(options).search(BASE, Scope::Subtree, "(objectClass=*)", vec!["dn"]).await;
    let ldap3::SearchResult(entries, res) = r.expect("search");
    assert_eq!((entries.len(), res.rc), (1, 4));

    // The wizard's memberOf support check: countUsers('memberOf=*', ['memberOf'], 1).
    let pages = paged(&mut l, PEOPLE, Scope::Subtree, "(memberOf=*)", &["memberOf"], 1, false).await;
    assert_eq!(pages[0].len(), 1, "memberOf is searchable");

    // The user count (Access::getFilterForUserCount): the filter and the
    // display name attribute present; ['dn'], limit 1001 (500 a page).
    let count_filter = format!("(&{NC_USER_FILTER}(displayName=*))");
    let counted = paged(&mut l, PEOPLE, Scope::Subtree, &count_filter, &["dn"], 500, false).await.concat();
    let listed = rest.member_names("nextcloud_users").await;
    assert_eq!(dns(&counted), lower(listed.iter().map(|u| user_dn(u))), "memberof is direct membership");

    // The user list (User_LDAP::getUsers('', 10, 0) then offset 10): ten a
    // page; each user's attributes as the REST API has them.
    let list_filter = format!("(&{NC_USER_FILTER}(displayName=*)(displayName=*))");
    let pages = paged(&mut l, PEOPLE, Scope::Subtree, &list_filter, &NC_USER_ATTRS, 10, false).await;
    let entries = pages.concat();
    assert_eq!(dns(&entries), lower(listed.iter().map(|u| user_dn(u))));
    for e in &entries {
        let name = first(e, "uid").expect("uid");
        let u = &users[name];
        assert_eq!(first(e, "entryuuid"), u["id"].as_str(), "the UUID Nextcloud maps users by");
        assert_eq!(first(e, "displayname"), Some(expected_cn(u).as_str()));
        assert_eq!(first(e, "mail"), u["email"].as_str());
        assert_eq!(lower(exact(e, "memberof")), lower(rest.groups_of(name, false).await.iter().map(|g| group_dn(g))));
        assert!(e.attrs.keys().all(|k| *k == k.to_lowercase()), "names as asked (lower case): {:?}", e.attrs.keys());
    }

    // Login (User_LDAP::checkPassword → fetchUsersByLoginName, then a bind
    // as the DN found), by username and by email address.
    let full_attrs: Vec<&str> = NC_USER_ATTRS.iter().copied().chain(["jpegphoto", "thumbnailphoto"]).collect();
    for login in ["alice", "alice@example.org", "ALICE"] {
        let found = search(&mut l, PEOPLE, Scope::Subtree, &nc_login_filter(login), &full_attrs).await;
        assert_eq!(only(found).dn, user_dn("alice"), "{login}");
    }
    assert_eq!(bind_rc(&s, &user_dn("alice"), ALICE_PASSWORD).await, 0);
    assert_eq!(bind_rc(&s, &user_dn("alice"), "not her password").await, 49);
    // chen is not in nextcloud_users: no account.
    assert!(search(&mut l, PEOPLE, Scope::Subtree, &nc_login_filter("chen"), &full_attrs).await.is_empty());
    // Bob's mail matches ignoring case.
    let bob = search(&mut l, PEOPLE, Scope::Subtree, &nc_login_filter("bob.stone@example.org"), &["dn"]).await;
    assert_eq!(only(bob).dn, user_dn("bob"));

    // readAttribute: a base search with the user filter, one attribute
    // (Access::dn2ocname reads the display name this way).
    let read = search(&mut l, &user_dn("bob"), Scope::Base, NC_USER_FILTER, &["displayname"]).await;
    assert_eq!(first(&only(read), "displayname"), Some("Bob Stone"));
    // ... and chen, outside the filter, reads as nothing.
    assert!(search(&mut l, &user_dn("chen"), Scope::Base, NC_USER_FILTER, &["displayname"]).await.is_empty());

    // The group list (Group_LDAP::getGroups): the group filter and `cn=*`, ['cn', 'dn'].
    let group_filter = format!("(&{NC_GROUP_FILTER}(cn=*))");
    let groups = paged(&mut l, GROUPS, Scope::Subtree, &group_filter, &["cn", "dn"], 500, false).await.concat();
    let mut wanted = rest.groups().await;
    wanted.retain(|g| ["staff", "engineering", "platform", "design"].contains(&g.as_str()));
    assert_eq!(dns(&groups), lower(wanted.iter().map(|g| group_dn(g))));
    // groupExists: a base read of the group with the group filter and the attribute ''.
    let exists = search(&mut l, &group_dn("platform"), Scope::Base, NC_GROUP_FILTER, &[""]).await;
    assert_eq!(only(exists).attrs.len(), 0);

    // A group's members (Group_LDAP::_groupMembers), member association
    // uniqueMember: read off the group; with nested groups on, Nextcloud
    // first asks for the users in it at any depth with the in-chain rule.
    for g in ["staff", "engineering", "platform", "design"] {
        let read = search(&mut l, &group_dn(g), Scope::Base, "(objectClass=*)", &["uniquemember"]).await;
        assert_eq!(lower(exact(&only(read), "uniquemember")), rest.member_dns(g).await, "{g}");
        let chain = format!("(&{NC_USER_FILTER}(displayName=*)(memberof:{IN_CHAIN}:={}))", group_dn(g));
        let deep = paged(&mut l, PEOPLE, Scope::Subtree, &chain, &NC_USER_ATTRS, 500, false).await.concat();
        let mut at_any_depth = rest.members_at_any_depth(g).await;
        at_any_depth.retain(|u| listed.contains(u));
        assert_eq!(dns(&deep), lower(at_any_depth.iter().map(|u| user_dn(u))), "{g} at any depth");
    }

    // With memberOf detection off, _groupMembers reads uniqueMember down:
    // a member that has members is a group to open, else a member.
    for g in ["staff", "engineering", "platform", "design"] {
        let (mut found, mut seen, mut queue) = (BTreeSet::new(), BTreeSet::new(), vec![group_dn(g)]);
        while let Some(dn) = queue.pop() {
            let read = search(&mut l, &dn, Scope::Base, "(objectClass=*)", &["uniquemember"]).await;
            let nested: Vec<String> = read.first().map(|e| exact(e, "uniquemember").to_vec()).unwrap_or_default();
            if nested.is_empty() {
                found.insert(dn.to_lowercase());
            }
            queue.extend(nested.into_iter().filter(|m| seen.insert(m.to_lowercase())));
        }
        // dn2username keeps the DNs under the users' base.
        found.retain(|dn| dn.ends_with(&format!(",{PEOPLE}")));
        assert_eq!(found, lower(rest.members_at_any_depth(g).await.iter().map(|u| user_dn(u))), "{g} walked down");
    }

    // A user's groups (Group_LDAP::getUserGroups). With memberOf: the
    // user's memberOf, read with a base search.
    let read = search(&mut l, &user_dn("alice"), Scope::Base, "(objectClass=*)", &["memberof"]).await;
    assert_eq!(
        lower(exact(&only(read), "memberof")),
        lower(rest.groups_of("alice", false).await.iter().map(|g| group_dn(g)))
    );
    // With nested groups and memberOf detection off (getGroupsByMember):
    // `uniquemember=<DN>` for the user, then for each group found, until
    // nothing new; kept where the group filter matches.
    let mut seen = BTreeSet::new();
    let mut queue = vec![user_dn("alice")];
    while let Some(dn) = queue.pop() {
        let found =
            search(&mut l, GROUPS, Scope::Subtree, &format!("(uniquemember={dn})"), &["uniquemember", "cn", "dn"])
                .await;
        for g in found {
            if seen.insert(g.dn.to_lowercase()) {
                queue.push(g.dn);
            }
        }
    }
    let kept: BTreeSet<String> = {
        let mut kept = BTreeSet::new();
        for dn in &seen {
            if !search(&mut l, dn, Scope::Base, NC_GROUP_FILTER, &[""]).await.is_empty() {
                kept.insert(dn.clone());
            }
        }
        kept
    };
    let mut wanted = rest.groups_of("alice", true).await;
    wanted.retain(|g| ["staff", "engineering", "platform", "design"].contains(&g.as_str()));
    assert_eq!(kept, lower(wanted.iter().map(|g| group_dn(g))), "alice's groups at any depth, as Nextcloud walks them");
}

// ---------------------------------------------------------------------------
// Gitea and Forgejo, authentication source "LDAP (via BindDN)"
// (go-gitea/gitea: services/auth/source/ldap/source_search.go). The user
// filter and admin filter as Gitea's documentation writes them.

const GITEA_USER_FILTER: &str = "(&(objectClass=person)(|(uid=%[1]s)(mail=%[1]s)))";
const GITEA_ADMIN_FILTER: &str = "(memberOf=cn=gitea-admins,ou=groups,dc=roster,dc=local)";

/// `fmt.Sprintf(source.Filter, name)`.
fn gitea_filter(name: &str) -> String {
    GITEA_USER_FILTER.replace("%[1]s", name)
}

/// `SearchEntry`: find the DN as the bind DN, bind as it with the user's
/// credential, read the attributes and check the admin filter as the user.
/// The attribute names are the source's settings, spelled as given.
async fn gitea_sign_in(
    s: &TestServer,
    d: &Dir,
    login: &str,
    secret: &str,
    names: [&str; 4],
) -> Option<(SearchEntry, bool)> {
    let mut l = as_service(s, d).await;
    // findUserDN: the user search base, subtree, no attributes; exactly one entry.
    let found = search(&mut l, PEOPLE, Scope::Subtree, &gitea_filter(login), &[]).await;
    if found.len() != 1 {
        return None;
    }
    let dn = found[0].dn.clone();
    // bindUser on the same connection; the reads that follow are the user's own.
    if l.simple_bind(&dn, secret).await.expect("bind").rc != 0 {
        return None;
    }
    let entry = only(search(&mut l, &dn, Scope::Subtree, &gitea_filter(login), &names).await);
    // checkAdmin: the admin filter under the user's DN, the name attribute only.
    let admin = !search(&mut l, &dn, Scope::Subtree, GITEA_ADMIN_FILTER, &[names[1]]).await.is_empty();
    Some((entry, admin))
}

async fn ldap_gitea(s: TestServer) {
    let d = directory(&s).await;
    let rest = Rest { s: &s, d: &d };
    let admins = rest.member_names("gitea-admins").await;

    // Sign-in by username and by email, with a password and with a key.
    for (login, who, secret) in [
        ("alice", "alice", ALICE_PASSWORD),
        ("bob.stone@example.org", "bob", d.bob_key.as_str()),
        ("bob", "bob", d.bob_key.as_str()),
    ] {
        let (e, admin) = gitea_sign_in(&s, &d, login, secret, ["uid", "givenName", "sn", "mail"]).await.expect(login);
        let u = rest.user(who).await;
        assert_eq!(e.dn, user_dn(who));
        assert_eq!(first(&e, "uid"), u["username"].as_str());
        assert_eq!(first(&e, "givenName"), u["first_name"].as_str());
        assert_eq!(first(&e, "sn"), u["last_name"].as_str());
        assert_eq!(first(&e, "mail"), u["email"].as_str());
        assert_eq!(admin, admins.contains(who), "{who}: the admin filter against the gitea-admins members");
    }
    // The attribute settings as an administrator may type them: the answer
    // carries the names as spelled, which GetAttributeValue needs.
    let (e, _) =
        gitea_sign_in(&s, &d, "alice", ALICE_PASSWORD, ["UID", "givenname", "SN", "Mail"]).await.expect("alice");
    assert_eq!((first(&e, "UID"), first(&e, "givenname")), (Some("alice"), Some("Alice")));
    assert_eq!((first(&e, "SN"), first(&e, "Mail")), (Some("Archer"), Some("alice@example.org")));
    // A wrong credential, and a login nobody has.
    assert!(gitea_sign_in(&s, &d, "bob", "rst_not_bobs_key", ["uid", "givenName", "sn", "mail"]).await.is_none());
    assert!(gitea_sign_in(&s, &d, "zed", "whatever", ["uid", "givenName", "sn", "mail"]).await.is_none());

    // The user synchronisation (SearchEntries): the filter with `*`, the
    // attribute settings (an empty UserUID included), paged at the
    // source's "Search Page Size", then the admin filter for each user.
    let mut l = as_service(&s, &d).await;
    let attrs = ["uid", "givenName", "sn", "mail", ""];
    let pages = paged(&mut l, PEOPLE, Scope::Subtree, &gitea_filter("*"), &attrs, 2, false).await;
    let synced = pages.concat();
    let users = rest.users().await;
    assert_eq!(dns(&synced), lower(users.keys().map(|u| user_dn(u))), "every user has a uid");
    for e in &synced {
        let name = first(e, "uid").expect("uid");
        assert_eq!(first(e, "mail"), users[name]["email"].as_str(), "{name}");
        let admin = !search(&mut l, &e.dn, Scope::Subtree, GITEA_ADMIN_FILTER, &["givenName"]).await.is_empty();
        assert_eq!(admin, admins.contains(name), "{name}");
    }
}

// ---------------------------------------------------------------------------
// Grafana (grafana/grafana: pkg/services/ldap/ldap.go; ldap.toml as its
// documentation writes it): search_filter "(uid=%s)", joined for logins as
// "(|...)", attributes username, surname, email, name, member_of; or a
// group search for POSIX and groupOfUniqueNames directories.

/// The Users([login]) search: its entry.
async fn grafana_user(l: &mut Ldap, login: &str, extra: &[&str]) -> SearchEntry {
    let filter = format!("(|{})", "(uid=%s)".replace("%s", login));
    let attrs: Vec<&str> =
        ["uid", "sn", "mail", "givenName", "memberOf"].iter().copied().chain(extra.iter().copied()).collect();
    only(search(l, PEOPLE, Scope::Subtree, &filter, &attrs).await)
}

async fn ldap_grafana(s: TestServer) {
    let d = directory(&s).await;
    let rest = Rest { s: &s, d: &d };
    let mut l = as_service(&s, &d).await;

    // member_of = "memberOf": the groups come with the user.
    let bob = grafana_user(&mut l, "bob", &[]).await;
    let u = rest.user("bob").await;
    assert_eq!(first(&bob, "uid"), Some("bob"));
    assert_eq!((first(&bob, "givenName"), first(&bob, "sn")), (u["first_name"].as_str(), u["last_name"].as_str()));
    assert_eq!(first(&bob, "mail"), u["email"].as_str());
    let direct = rest.groups_of("bob", false).await;
    assert_eq!(lower(exact(&bob, "memberOf")), lower(direct.iter().map(|g| group_dn(g))));
    // [[servers.group_mappings]] group_dn = "cn=grafana-editors,ou=groups,dc=roster,dc=local"
    // matched with strings.EqualFold (IsMemberOf).
    assert!(exact(&bob, "memberOf").iter().any(|g| g.eq_ignore_ascii_case(&group_dn("grafana-editors"))));
    // UserBind(DN found, the credential typed).
    assert_eq!(bind_rc(&s, &bob.dn, &d.bob_key).await, 0);
    assert_eq!(bind_rc(&s, &bob.dn, "rst_wrong").await, 49);
    let alice = grafana_user(&mut l, "alice", &[]).await;
    assert_eq!(bind_rc(&s, &alice.dn, ALICE_PASSWORD).await, 0);
    // member_of as typed in lower case (Grafana before 9.3 looks it up as spelled).
    let filter = "(|(uid=bob))";
    let lowered = only(search(&mut l, PEOPLE, Scope::Subtree, filter, &["uid", "memberof"]).await);
    assert_eq!(lower(exact(&lowered, "memberof")), lower(direct.iter().map(|g| group_dn(g))));

    // group_search_filter for POSIX directories (the documented example):
    // "(&(objectClass=posixGroup)(memberUid=%s))" with
    // group_search_filter_user_attribute = "uid"; the groups by their DN
    // (Grafana asks for the attribute "dn" when member_of is "memberOf").
    let bob = grafana_user(&mut l, "bob", &["uid"]).await;
    let filter = "(&(objectClass=posixGroup)(memberUid=%s))".replace("%s", first(&bob, "uid").expect("uid"));
    let groups = search(&mut l, GROUPS, Scope::Subtree, &filter, &["dn"]).await;
    assert_eq!(dns(&groups), lower(direct.iter().map(|g| group_dn(g))));
    // "(&(objectClass=groupOfUniqueNames)(uniqueMember=%s))" with the user
    // attribute "dn": the DN as Grafana read it, and as typed otherwise.
    for dn in [bob.dn.clone(), "UID=Bob, OU=People, DC=Roster, DC=Local".to_owned()] {
        let filter = "(&(objectClass=groupOfUniqueNames)(uniqueMember=%s))".replace("%s", &dn);
        let groups = search(&mut l, GROUPS, Scope::Subtree, &filter, &["dn"]).await;
        assert_eq!(dns(&groups), lower(direct.iter().map(|g| group_dn(g))), "{dn}");
    }
    // Nested groups ("(member:1.2.840.113556.1.4.1941:=%s)", user attribute
    // "dn"): the groups the user is in at any depth, of those the caller
    // sees (as "(member=%s)" is of their direct groups): every one for a
    // site admin, the shared ones for the service account (dana is only in
    // secret, which it does not see).
    let mut admin = connect(&s).await;
    assert_eq!(admin.simple_bind(&user_dn("admin"), &s.admin).await.expect("bind").rc, 0);
    let seen = rest.groups().await;
    for name in ["alice", "dana"] {
        let filter = format!("(member:{IN_CHAIN}:={})", user_dn(name));
        let path = format!("/v1/users/{}/groups?transitive=true", d.users[name]);
        let all: Vec<String> = rest_all(&s, &s.admin, &path)
            .await
            .iter()
            .map(|e| e["group"]["name"].as_str().expect("name").to_owned())
            .collect();
        let deep = search(&mut admin, GROUPS, Scope::Subtree, &filter, &["dn"]).await;
        assert_eq!(dns(&deep), lower(all.iter().map(|g| group_dn(g))), "{name}, as admin");
        let shared = search(&mut l, GROUPS, Scope::Subtree, &filter, &["dn"]).await;
        let want = lower(all.iter().filter(|g| seen.contains(*g)).map(|g| group_dn(g)));
        assert_eq!(dns(&shared), want, "{name}, as the service account");
        assert_eq!(want.is_empty(), name == "dana");
    }
}

// ---------------------------------------------------------------------------
// SSSD, id_provider = ldap with ldap_schema = rfc2307bis (SSSD/sssd:
// src/providers/ldap/ldap_id.c, sdap_async_initgroups.c, ldap_id_enum.c;
// attribute maps in ldap_opts.c). Every search is paged (ldap_page_size
// 1000); lookups carry SSSD's guards against entries without ids.

/// The rfc2307bis user map's attributes, as SSSD asks for them.
const SSSD_USER_ATTRS: [&str; 16] = [
    "objectClass",
    "uid",
    "userPassword",
    "uidNumber",
    "gidNumber",
    "gecos",
    "homeDirectory",
    "loginShell",
    "krbPrincipalName",
    "cn",
    "memberOf",
    "modifyTimestamp",
    "shadowLastChange",
    "nsAccountLock",
    "authorizedService",
    "mail",
];
/// The group map's attributes.
const SSSD_GROUP_ATTRS: [&str; 6] = ["objectClass", "cn", "userPassword", "gidNumber", "member", "modifyTimestamp"];
const SSSD_USER_GUARD: &str = "(objectclass=posixAccount)(uid=*)(&(uidNumber=*)(!(uidNumber=0)))";
const SSSD_GROUP_GUARD: &str = "(objectclass=posixGroup)(cn=*)(&(gidNumber=*)(!(gidNumber=0)))";

async fn sssd_search(l: &mut Ldap, base: &str, filter: &str, attrs: &[&str]) -> Vec<SearchEntry> {
    paged(l, base, Scope::Subtree, filter, attrs, 1000, false).await.concat()
}

fn number(e: &SearchEntry, name: &str) -> i64 {
    first(e, name).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{name} of {}", e.dn))
}

async fn ldap_sssd(s: TestServer) {
    let d = directory(&s).await;
    let rest = Rest { s: &s, d: &d };
    let mut l = as_service(&s, &d).await;
    let users = rest.users().await;

    // getpwnam: `(&(uid=NAME)(objectclass=posixAccount)(uid=*)(&(uidNumber=*)(!(uidNumber=0))))`.
    let mut uids = BTreeMap::new();
    for (name, u) in &users {
        let filter = format!("(&(uid={name}){SSSD_USER_GUARD})");
        let e = only(sssd_search(&mut l, PEOPLE, &filter, &SSSD_USER_ATTRS).await);
        assert_eq!(first(&e, "uid"), Some(name.as_str()));
        assert_eq!(first(&e, "cn"), Some(expected_cn(u).as_str()), "the gecos SSSD falls back to");
        assert_eq!(first(&e, "homeDirectory"), Some(format!("/home/{name}").as_str()));
        assert_eq!(first(&e, "modifyTimestamp"), Some(generalized(&u["updated_at"]).as_str()));
        let (uid, gid) = (number(&e, "uidNumber"), number(&e, "gidNumber"));
        assert!(uid >= 10_000, "clear of local system accounts: {uid}");
        assert_eq!(gid, uid, "the user's private group");
        uids.insert(name.clone(), uid);
    }
    let distinct: BTreeSet<i64> = uids.values().copied().collect();
    assert_eq!(distinct.len(), uids.len(), "{uids:?}");
    // getpwuid: the same lookup by number.
    for (name, uid) in &uids {
        let e = only(
            sssd_search(&mut l, PEOPLE, &format!("(&(uidNumber={uid}){SSSD_USER_GUARD})"), &SSSD_USER_ATTRS).await,
        );
        assert_eq!(e.dn, user_dn(name));
    }

    // getgrnam: `(&(cn=NAME)(objectclass=posixGroup)(cn=*)(&(gidNumber=*)(!(gidNumber=0))))`,
    // the members with `member` (rfc2307bis).
    let visible = rest.groups().await;
    let mut gids = BTreeMap::new();
    for name in SHARED.iter().chain(&["secret"]) {
        let found = sssd_search(&mut l, GROUPS, &format!("(&(cn={name}){SSSD_GROUP_GUARD})"), &SSSD_GROUP_ATTRS).await;
        if !visible.contains(*name) {
            assert!(found.is_empty(), "{name} is not shared with the service account");
            continue;
        }
        let e = only(found);
        assert_eq!(lower(exact(&e, "member")), rest.member_dns(name).await, "{name}");
        gids.insert((*name).to_owned(), number(&e, "gidNumber"));
    }
    // getgrgid: a group by number; no group has a user's private number.
    for (name, gid) in &gids {
        let e = only(
            sssd_search(&mut l, GROUPS, &format!("(&(gidNumber={gid}){SSSD_GROUP_GUARD})"), &SSSD_GROUP_ATTRS).await,
        );
        assert_eq!(e.dn, group_dn(name));
        assert!(!uids.values().any(|u| u == gid), "{name}'s gidNumber {gid} is some user's");
    }
    for (name, uid) in &uids {
        let primary = sssd_search(&mut l, GROUPS, &format!("(&(gidNumber={uid}){SSSD_GROUP_GUARD})"), &["cn"]).await;
        assert!(primary.is_empty(), "{name}'s primary gid {uid} names group {:?}", dns(&primary));
    }

    // initgroups (sdap_initgr_rfc2307bis_send): the groups whose `member`
    // is the user's DN, then, nesting, those whose `member` is each group
    // found (rfc2307bis nested groups, ldap_group_nesting_level 2 covers
    // staff ⊃ engineering ⊃ platform). Both object class settings.
    for class in ["posixGroup", "groupOfNames"] {
        for name in users.keys() {
            let guard = SSSD_GROUP_GUARD.replace("posixGroup", class);
            let mut seen = BTreeSet::new();
            let mut queue = vec![user_dn(name)];
            while let Some(dn) = queue.pop() {
                let filter = format!("(&(member={dn}){guard})");
                let attrs = ["objectClass", "cn", "userPassword", "gidNumber", "modifyTimestamp"];
                for g in sssd_search(&mut l, GROUPS, &filter, &attrs).await {
                    assert!(!g.attrs.contains_key("member"), "SSSD leaves member out here");
                    if seen.insert(g.dn.to_lowercase()) {
                        queue.push(g.dn);
                    }
                }
            }
            let wanted = rest.groups_of(name, true).await;
            assert_eq!(seen, lower(wanted.iter().map(|g| group_dn(g))), "id {name} ({class})");
        }
    }
    // The authentication: a bind as the DN found.
    assert_eq!(bind_rc(&s, &user_dn("alice"), ALICE_PASSWORD).await, 0);

    // Enumeration (enumerate = true): every account and group, paged.
    let all = sssd_search(&mut l, PEOPLE, &format!("(&{SSSD_USER_GUARD})"), &SSSD_USER_ATTRS).await;
    assert_eq!(dns(&all), lower(users.keys().map(|u| user_dn(u))));
    let all =
        paged(&mut l, GROUPS, Scope::Subtree, &format!("(&{SSSD_GROUP_GUARD})"), &SSSD_GROUP_ATTRS, 3, false).await;
    assert_eq!(dns(&all.concat()), lower(visible.iter().map(|g| group_dn(g))));
}

// ---------------------------------------------------------------------------
// Keycloak user federation, vendor "Other": users under ou=people, one
// level, object classes inetOrgPerson and organizationalPerson, username
// `uid`, RDN `uid`, UUID `entryUUID`; pagination on, its batch size 1000
// (keycloak/keycloak: federation/ldap, LDAPStorageProviderFactory syncSince,
// LDAPIdentityStore createIdentityTypeSearchFilter, GreaterThanCondition,
// LDAPUtil.formatDate `yyyyMMddHHmmss'.0Z'`). The group mapper reads
// `member` of groupOfNames entries.

const KEYCLOAK_CLASSES: &str = "(objectclass=inetOrgPerson)(objectclass=organizationalPerson)";
const KEYCLOAK_ATTRS: [&str; 8] =
    ["uid", "cn", "sn", "mail", "createTimestamp", "modifyTimestamp", "entryUUID", "objectclass"];

/// Keycloak's date in a filter.
fn keycloak_date(t: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year][month][day][hour][minute][second].0Z");
    t.to_offset(time::UtcOffset::UTC).format(&format).expect("format")
}

async fn ldap_keycloak(s: TestServer) {
    let d = directory(&s).await;
    // More users than one page holds, through the bulk path (`roster import`).
    let records: Vec<Value> = (0..1100)
        .map(|i| {
            json!({ "type": "user", "username": format!("kc{i:04}"), "first_name": format!("User{i}"),
                    "last_name": "Synced", "email": format!("kc{i:04}@example.org") })
        })
        .collect();
    let r = s.post("/v1/import", json!({ "records": records })).await;
    assert!(r.status.is_success(), "{}", r.body);
    let rest = Rest { s: &s, d: &d };
    let users = rest.users().await;
    assert!(users.len() > 1100);
    let mut l = as_service(&s, &d).await;

    // The full sync: `(&(objectclass=inetOrgPerson)(objectclass=organizationalPerson))`,
    // a critical paged results control of 1000.
    let full = format!("(&{KEYCLOAK_CLASSES})");
    let pages = paged(&mut l, PEOPLE, Scope::OneLevel, &full, &KEYCLOAK_ATTRS, 1000, true).await;
    assert!(pages.len() >= 2 && pages[0].len() == 1000, "{:?}", pages.iter().map(Vec::len).collect::<Vec<_>>());
    let synced = pages.concat();
    assert_eq!(synced.len(), users.len(), "each user once");
    assert_eq!(dns(&synced), lower(users.keys().map(|u| user_dn(u))));
    let mut last_modified = String::new();
    for e in &synced {
        let u = &users[first(e, "uid").expect("uid")];
        assert_eq!(first(e, "entryUUID"), u["id"].as_str(), "Keycloak's LDAP id");
        assert_eq!(first(e, "mail"), u["email"].as_str());
        assert_eq!(first(e, "cn"), Some(expected_cn(u).as_str()));
        assert_eq!(first(e, "createTimestamp"), Some(generalized(&u["created_at"]).as_str()));
        let modified = first(e, "modifyTimestamp").expect("modifyTimestamp");
        assert_eq!(modified, generalized(&u["updated_at"]));
        last_modified = last_modified.max(modified.to_owned());
    }

    // The group mapper: groups under ou=groups, `(&(objectclass=groupOfNames))`,
    // cn and member, paged; a user's groups by the member attribute
    // (LOAD_GROUPS_BY_MEMBER_ATTRIBUTE).
    let groups =
        paged(&mut l, GROUPS, Scope::OneLevel, "(&(objectclass=groupOfNames))", &["cn", "member"], 1000, true).await;
    let groups = groups.concat();
    assert_eq!(dns(&groups), lower(rest.groups().await.iter().map(|g| group_dn(g))));
    for g in &groups {
        let name = first(g, "cn").expect("cn");
        assert_eq!(lower(exact(g, "member")), rest.member_dns(name).await, "{name}");
    }
    for name in ["alice", "bob", "dana"] {
        let filter = format!("(&(member={})(objectclass=groupOfNames))", user_dn(name));
        let found = search(&mut l, GROUPS, Scope::OneLevel, &filter, &["cn", "member"]).await;
        assert_eq!(dns(&found), lower(rest.groups_of(name, false).await.iter().map(|g| group_dn(g))), "{name}");
    }

    // Login: `(&(uid=NAME)(objectclass=inetOrgPerson)(objectclass=organizationalPerson))`,
    // then a bind as the DN.
    let found =
        search(&mut l, PEOPLE, Scope::OneLevel, &format!("(&(uid=bob){KEYCLOAK_CLASSES})"), &KEYCLOAK_ATTRS).await;
    assert_eq!(bind_rc(&s, &only(found).dn, &d.bob_key).await, 0);

    // The periodic changed-users sync: after the last sync at T, the users
    // created or modified since. T is the next whole second, so every
    // write so far is before it (timestamps are kept to the second).
    let now = time::OffsetDateTime::now_utc();
    let t = now.replace_nanosecond(0).expect("whole second") + time::Duration::SECOND;
    tokio::time::sleep((t - now).unsigned_abs() + std::time::Duration::from_millis(20)).await;
    let r = s.patch(&format!("/v1/users/{}", d.users["bob"]), json!({ "first_name": "Robert" })).await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = s.post("/v1/users", json!({ "username": "zoe", "email": "zoe@example.org" })).await;
    assert!(r.status.is_success(), "{}", r.body);
    let since = keycloak_date(t);
    let changed = format!("(&(|(createTimestamp>={since})(modifyTimestamp>={since})){KEYCLOAK_CLASSES})");
    let found = paged(&mut l, PEOPLE, Scope::OneLevel, &changed, &KEYCLOAK_ATTRS, 1000, true).await.concat();
    // What /v1 says changed since T (both sides to the second, fixed width).
    let t_text = keycloak_date(t).replace(".0Z", "Z");
    let after = |u: &Value, f: &str| generalized(&u[f]) >= t_text;
    let users = rest.users().await;
    let wanted: Vec<&String> =
        users.iter().filter(|(_, u)| after(u, "created_at") || after(u, "updated_at")).map(|(n, _)| n).collect();
    assert_eq!(dns(&found), lower(wanted.iter().map(|u| user_dn(u))));
    assert_eq!(dns(&found), lower([user_dn("bob"), user_dn("zoe")]), "{since}");
    let bob = found.iter().find(|e| e.dn == user_dn("bob")).expect("bob");
    assert_eq!(first(bob, "cn"), Some("Robert Stone"));

    // SSSD's enumeration refresh asks the same with its own last value:
    // later than it, not at it.
    let filter = format!("(&{SSSD_USER_GUARD}(modifyTimestamp>={last_modified})(!(modifyTimestamp={last_modified})))");
    let found = sssd_search(&mut l, PEOPLE, &filter, &["uid", "modifyTimestamp"]).await;
    assert_eq!(dns(&found), lower([user_dn("bob"), user_dn("zoe")]), "after {last_modified}");
}

on_every_store!(ldap_nextcloud, ldap_gitea, ldap_grafana, ldap_sssd, ldap_keycloak);
