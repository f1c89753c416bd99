//! The web console over plain HTTP, as a browser without JavaScript uses
//! it: signing in and out, the session cookie's attributes, CSRF refusal,
//! HTML escaping, the same visibility as the API, and sessions that end
//! with their key, their user, sign-out or expiry, on every server of one
//! database. (`console_browser.rs` drives it in a real Chromium.)

use reqwest::header::{ACCEPT, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::TestServer;

const FORM: &str = "application/x-www-form-urlencoded";

/// A form body, as a browser encodes it.
fn encode(fields: &[(&str, &str)]) -> String {
    let part = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    fields.iter().map(|(k, v)| format!("{}={}", part(k), part(v))).collect::<Vec<_>>().join("&")
}

/// A client that does not follow redirects, so tests see them.
fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// A page as the test sees it.
struct Page {
    status: StatusCode,
    location: String,
    cookies: Vec<String>,
    body: String,
}

impl Page {
    async fn read(req: reqwest::RequestBuilder) -> Self {
        let res = req.send().await.expect("request");
        let status = res.status();
        let location = res.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let cookies =
            res.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
        let body = res.text().await.expect("body");
        Page { status, location, cookies, body }
    }

    /// The `value` of the first hidden input named `name`.
    fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let at = self.body.find(&marker).unwrap_or_else(|| panic!("no {name} in {}", self.body)) + marker.len();
        self.body[at..].split('"').next().unwrap_or("").to_owned()
    }

    /// The `Set-Cookie` for `name`.
    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.iter().find(|c| c.starts_with(&format!("{name}="))).map(String::as_str)
    }
}

/// A signed-in browser: its session cookie and the session's CSRF token.
struct Browser {
    base: String,
    http: reqwest::Client,
    cookie: String,
    csrf: String,
}

impl Browser {
    async fn get(&self, path: &str) -> Page {
        Page::read(self.http.get(format!("{}{path}", self.base)).header(COOKIE, &self.cookie)).await
    }

    /// Posts a form with the session's CSRF token added.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf", &self.csrf));
        self.post_raw(path, &form).await
    }

    /// Posts exactly these fields.
    async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        Page::read(
            self.http
                .post(format!("{}{path}", self.base))
                .header(COOKIE, &self.cookie)
                .header("content-type", FORM)
                .body(encode(fields)),
        )
        .await
    }
}

/// Fills in the sign-in form (nonce cookie and field included).
async fn sign_in_with(base: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Page {
    let http = client();
    let form = Page::read(http.get(format!("{base}/sign-in"))).await;
    assert_eq!(form.status, StatusCode::OK);
    let nonce_cookie = form.cookie("roster_sign_in").expect("a sign-in cookie").split(';').next().unwrap().to_owned();
    let nonce = form.hidden("nonce");
    let mut all: Vec<(&str, &str)> = fields.to_vec();
    all.push(("nonce", &nonce));
    let mut req = http
        .post(format!("{base}/sign-in"))
        .header(COOKIE, nonce_cookie)
        .header("content-type", FORM)
        .body(encode(&all));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    Page::read(req).await
}

async fn sign_in(base: &str, key: &str) -> Browser {
    let page = sign_in_with(base, &[("key", key)], &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let cookie = page.cookie("roster_session").expect("a session cookie").split(';').next().unwrap().to_owned();
    let mut b = Browser { base: base.to_owned(), http: client(), cookie, csrf: String::new() };
    let home = b.get("/").await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.body);
    b.csrf = home.hidden("csrf");
    b
}

fn assert_signed_out(page: &Page) {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(page.location.starts_with("/sign-in"), "{}", page.location);
}

async fn signing_in_and_out(s: TestServer) {
    // Without a session every page leads to the sign-in form, and back.
    let page = Page::read(client().get(format!("{}/groups?q=a", s.base))).await;
    assert_signed_out(&page);
    assert_eq!(page.location, "/sign-in?next=%2Fgroups%3Fq%3Da");

    let bad = sign_in_with(&s.base, &[("key", "rst_wrong")], &[]).await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert!(bad.body.contains("not valid"), "{}", bad.body);
    assert!(bad.cookie("roster_session").is_none());

    let ok = sign_in_with(&s.base, &[("key", &s.admin), ("next", "/groups")], &[]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(ok.location, "/groups");
    let cookie = ok.cookie("roster_session").expect("session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.split("; ").any(|a| a == attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP gets no Secure cookie: {cookie}");
    let token = cookie.split(';').next().unwrap().trim_start_matches("roster_session=");
    assert!(token.len() >= 40, "a long random token: {token}");

    // Over TLS (a proxy says so), the cookie is Secure.
    let tls = sign_in_with(&s.base, &[("key", &s.admin)], &[("x-forwarded-proto", "https")]).await;
    assert!(tls.cookie("roster_session").expect("cookie").split("; ").any(|a| a == "Secure"));

    // An open redirect is not followed.
    let away = sign_in_with(&s.base, &[("key", &s.admin), ("next", "//evil.example/")], &[]).await;
    assert_eq!(away.location, "/");

    // A sign-in form that did not come from this server is refused.
    let forged = Page::read(
        client()
            .post(format!("{}/sign-in", s.base))
            .header("content-type", FORM)
            .body(encode(&[("key", s.admin.as_str())])),
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.cookie("roster_session").is_none());

    let b = sign_in(&s.base, &s.admin).await;
    let home = b.get("/").await;
    assert!(home.body.contains("<h1>Overview</h1>"), "{}", home.body);
    assert!(home.body.contains("admin"));
    // Sign-out needs the token too, then ends the session.
    assert_eq!(b.post_raw("/sign-out", &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(b.get("/").await.status, StatusCode::OK);
    let out = b.post("/sign-out", &[]).await;
    assert_signed_out(&out);
    assert!(out.cookie("roster_session").is_some_and(|c| c.contains("Max-Age=0")));
    assert_signed_out(&b.get("/").await);
}

async fn forms_without_the_csrf_token_are_refused(s: TestServer) {
    let b = sign_in(&s.base, &s.admin).await;
    let other = sign_in(&s.base, &s.admin).await;
    let g = s.group("team").await;
    let (alice, _) = s.user_with_key("alice").await;
    let attempts: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/groups".into(), vec![("name", "made-by-forgery")]),
        ("/users".into(), vec![("username", "forged-user")]),
        (format!("/groups/{g}/members"), vec![("username", "alice"), ("role", "member")]),
        (format!("/groups/{g}/delete"), vec![]),
        (format!("/users/{alice}/active"), vec![("active", "false")]),
        ("/keys".into(), vec![("name", "forged-key")]),
    ];
    let events_before = s.get("/v1/events?limit=1").await.body["total"].clone();
    for (path, fields) in &attempts {
        let missing = b.post_raw(path, fields).await;
        assert_eq!(missing.status, StatusCode::FORBIDDEN, "{path} without a token: {}", missing.body);
        let mut wrong = fields.clone();
        wrong.push(("csrf", &other.csrf));
        let wrong = b.post_raw(path, &wrong).await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{path} with another session's token");
    }
    // Nothing was written.
    assert_eq!(s.get("/v1/events?limit=1").await.body["total"], events_before);
    assert_eq!(s.get("/v1/groups?prefix=made-by").await.body["total"], 0);
    assert_eq!(s.get(&format!("/v1/groups/{g}/members")).await.body["total"], 0);
    assert_eq!(s.get(&format!("/v1/users/{alice}")).await.body["active"], true);
    // With the token, the same form works.
    let made = b.post("/groups", &[("name", "made-by-hand")]).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    assert_eq!(s.get("/v1/groups?prefix=made-by").await.body["total"], 1);
}

async fn names_render_as_text(s: TestServer) {
    let evil = "<script>alert(1)</script>";
    let g = s.group(evil).await;
    let r = s.patch(&format!("/v1/groups/{g}"), json!({ "description": "\"><img src=x onerror=alert(2)>" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let u = s.user("mallory").await;
    s.patch(&format!("/v1/users/{u}"), json!({ "display_name": "<b>bold</b>" })).await;
    s.put(&format!("/v1/groups/{g}/members/{u}"), json!({})).await;
    let b = sign_in(&s.base, &s.admin).await;
    for path in
        [format!("/groups/{g}"), "/groups".into(), "/".into(), "/events".into(), format!("/users/{u}"), "/users".into()]
    {
        let page = b.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!page.body.contains("<script>alert"), "{path} shows a raw script tag");
        assert!(!page.body.contains("<img src=x"), "{path} shows a raw img tag");
        assert!(!page.body.contains("<b>bold"), "{path} shows raw markup");
    }
    let page = b.get(&format!("/groups/{g}")).await;
    assert!(page.body.contains("&#60;script&#62;alert(1)&#60;/script&#62;") || page.body.contains("&lt;script&gt;"));
    // A search for it echoes it escaped too.
    let search = b.get("/groups?q=%3Cscript%3E").await;
    assert!(!search.body.contains("<script>alert") && !search.body.contains("value=\"<script>"));
}

async fn strangers_see_what_the_api_shows_them(s: TestServer) {
    let secret = s.group("secret-plans").await;
    let open = s.group("open-team").await;
    let (alice, key) = s.user_with_key("alice").await;
    s.put(&format!("/v1/groups/{open}/members/{alice}"), json!({})).await;
    let b = sign_in(&s.base, &key).await;
    for path in [
        format!("/groups/{secret}"),
        format!("/groups/{secret}/all-members"),
        format!("/groups/{secret}/tree"),
        format!("/groups/{secret}/delete"),
    ] {
        let page = b.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!page.body.contains("secret-plans"), "{path}");
    }
    let list = b.get("/groups").await;
    assert!(list.body.contains("open-team") && !list.body.contains("secret-plans"), "{}", list.body);
    let search = b.get("/groups?q=secret").await;
    assert!(!search.body.contains("secret-plans"));
    assert_eq!(b.get(&format!("/groups/{open}")).await.status, StatusCode::OK);
    // The change feed is for site admins: not shown, and not an error page.
    let home = b.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(!home.body.contains("secret-plans"));
    // A write the core refuses is refused here, with nothing written.
    let refused = b.post(&format!("/groups/{secret}/members"), &[("username", "alice"), ("role", "member")]).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
    let refused = b.post("/groups", &[("name", "by-alice")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("role=\"alert\""), "the refusal is shown atop the form: {}", refused.body);
    assert_eq!(s.get("/v1/groups?prefix=by-alice").await.body["total"], 0);
    assert_eq!(s.get(&format!("/v1/groups/{secret}/members")).await.body["total"], 0);
}

async fn sessions_end_with_their_key_and_user(s: TestServer) {
    let (alice, key) = s.user_with_key("alice").await;
    let b = sign_in(&s.base, &key).await;
    let keys = s.call(Method::GET, "/v1/keys", Some(&key), None).await.body;
    let kid = keys["items"][0]["id"].as_str().expect("key id").to_owned();
    assert_eq!(s.delete(&format!("/v1/keys/{kid}")).await.status, StatusCode::NO_CONTENT);
    assert_signed_out(&b.get("/").await);

    let (bob, bob_key) = s.user_with_key("bob").await;
    let b = sign_in(&s.base, &bob_key).await;
    s.patch(&format!("/v1/users/{bob}"), json!({ "active": false })).await;
    assert_signed_out(&b.get("/").await);
    // Reactivated, the same session works again: it was the user's state
    // that refused it, read afresh.
    s.patch(&format!("/v1/users/{bob}"), json!({ "active": true })).await;
    assert_eq!(b.get("/").await.status, StatusCode::OK);

    // A session expires.
    s.sql("UPDATE web_sessions SET expires_at = 0").await;
    assert_signed_out(&b.get("/").await);
    let _ = alice;
}

async fn sessions_are_shared_by_servers_of_one_database(s: TestServer) {
    let twin = s.twin(true).await;
    let b = sign_in(&s.base, &s.admin).await;
    let on_twin = Browser { base: twin.base.clone(), http: client(), cookie: b.cookie.clone(), csrf: b.csrf.clone() };
    assert_eq!(on_twin.get("/groups").await.status, StatusCode::OK);
    // Signing out on one ends it on the other.
    assert_signed_out(&b.post("/sign-out", &[]).await);
    assert_signed_out(&on_twin.get("/groups").await);
}

async fn bad_input_is_a_clear_error(s: TestServer) {
    let b = sign_in(&s.base, &s.admin).await;
    let g = s.group("team").await;
    for path in ["/groups/not-a-uuid", "/users/nope", "/groups?cursor=garbage", "/events/poll?after=x"] {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{path}: {}", page.body);
    }
    assert_eq!(b.get(&format!("/groups/{}", uuid::Uuid::new_v4())).await.status, StatusCode::NOT_FOUND);
    // A path nothing serves: a page for a browser, the API's JSON for
    // anything else and anywhere under /v1.
    let html = [(ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")];
    for (path, headers, page) in [
        ("/grups", &html[..], true),
        ("/groups/x/nope/<b>", &html[..], true),
        ("/grups", &[][..], false),
        ("/v1/nope", &html[..], false),
    ] {
        let mut req = client().get(format!("{}{path}", s.base));
        for (name, value) in headers {
            req = req.header(name, *value);
        }
        let res = req.send().await.expect("request");
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        let kind = res.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let body = res.text().await.expect("body");
        if page {
            assert!(kind.starts_with("text/html"), "{path}: {kind}");
            assert!(body.contains("<h1>Not found</h1>") && !body.contains("<b>"), "{path}: {body}");
        } else {
            assert!(kind.starts_with("application/json"), "{path}: {kind}");
            assert!(body.contains("no such endpoint"), "{path}: {body}");
        }
    }
    // The server names the field; the page shows the error beside it.
    let page = b.post("/groups", &[("name", "")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("id=\"new-name-error\""), "{}", page.body);
    let page = b.post("/groups", &[("name", "team")]).await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.body.contains("id=\"new-name-error\""), "a taken name: {}", page.body);
    let page = b.post(&format!("/groups/{g}/members"), &[("username", "nobody"), ("role", "member")]).await;
    assert!(page.body.contains("id=\"add-username-error\""), "{}", page.body);
    let page = b.post(&format!("/groups/{g}/children"), &[("child", "team")]).await;
    assert!(page.body.contains("id=\"add-child-error\""), "a cycle: {}", page.body);
    let page = b.post("/users", &[("username", "bad name with spaces and \u{0}")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let big = "x".repeat(4000);
    let page = b.get(&format!("/users?q={big}")).await;
    assert!(page.status.is_client_error() || page.status == StatusCode::OK, "{}", page.status);
    assert!(!page.status.is_server_error());
}

async fn managing_a_group(s: TestServer) {
    let b = sign_in(&s.base, &s.admin).await;
    let made = b.post("/groups", &[("name", "platform"), ("description", "the platform team")]).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER);
    let g = made.location.clone();
    let (alice, _) = s.user_with_key("alice").await;
    assert_eq!(
        b.post(&format!("{g}/members"), &[("username", "alice"), ("role", "admin")]).await.status,
        StatusCode::SEE_OTHER
    );
    let child = b.post("/groups", &[("name", "platform-oncall")]).await.location;
    let (bob, _) = s.user_with_key("bob").await;
    assert_eq!(
        b.post(&format!("{child}/members"), &[("username", "bob"), ("role", "member")]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(b.post(&format!("{g}/children"), &[("child", "platform-oncall")]).await.status, StatusCode::SEE_OTHER);
    let page = b.get(&g).await;
    assert!(page.body.contains("alice") && page.body.contains("platform-oncall"), "{}", page.body);
    // Counts read as English: one of a thing, several of another.
    assert!(page.body.contains("1 member (1 admin) · 1 nested group ·"), "{}", page.body);
    let all = b.get(&format!("{g}/all-members")).await;
    assert!(all.body.contains("alice") && all.body.contains("bob"), "{}", all.body);
    let tree = b.get(&format!("{g}/tree")).await;
    assert!(tree.body.contains("platform-oncall"));
    let up = b.get(&format!("{child}/tree?up=1")).await;
    assert!(up.body.contains(">platform</a>"), "{}", up.body);
    assert!(b.get(&child).await.body.contains("Groups platform is nested in"));
    // Its projects, roles (none: the native API grants none) and shares.
    let gid = g.trim_start_matches("/groups/");
    let project = s.post("/v1/projects", json!({ "name": "atlas-project" })).await.id();
    let r = s.put(&format!("/v1/projects/{project}/groups/{gid}"), json!({ "role": "editor" })).await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = s.put(&format!("/v1/groups/{gid}/shares/users/{bob}"), json!({ "level": "write" })).await;
    assert!(r.status.is_success(), "{}", r.body);
    let page = b.get(&g).await;
    for shown in ["atlas-project", "as editor", "This group holds no roles.", ">bob</a> <span class=\"muted\">write"] {
        assert!(page.body.contains(shown), "{shown} not on the page: {}", page.body);
    }
    // Members page by page: 60 members, 50 a page.
    for i in 0..60 {
        let u = s.user(&format!("m{i:02}")).await;
        s.put(&format!("/v1/groups{}/members/{u}", g.trim_start_matches("/groups")), json!({})).await;
    }
    let first = b.get(&g).await;
    assert!(first.body.contains("Showing 50 of 61"), "{}", first.body);
    assert!(first.body.contains("61 members (1 admin)"), "{}", first.body);
    let next = first.body.split("rel=\"next\"").next().and_then(|h| h.rsplit("href=\"").next()).expect("next link");
    let next = next.split('"').next().unwrap().replace("&amp;", "&");
    let second = b.get(&next).await;
    assert!(second.body.contains("Showing 11 of 61"), "{}", second.body);
    // Change a role, remove a member, take the child out, delete.
    async fn first_member(s: &TestServer, gid: &str) -> serde_json::Value {
        s.get(&format!("/v1/groups/{gid}/members?limit=1")).await.body["items"][0].clone()
    }
    let m = first_member(&s, gid).await;
    assert_eq!((m["user"]["id"].as_str(), m["membership"]["role"].as_str()), (Some(alice.as_str()), Some("admin")));
    let mid = m["membership"]["id"].as_str().expect("membership id").to_owned();
    assert_eq!(
        b.post(&format!("{g}/memberships/{mid}/role"), &[("role", "member")]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(first_member(&s, gid).await["membership"]["role"], "member");
    let only = [("add_members", "on"), ("manage_children", "on")];
    assert_eq!(b.post(&format!("{g}/memberships/{mid}/permissions"), &only).await.status, StatusCode::SEE_OTHER);
    let perms = first_member(&s, gid).await["membership"]["permissions"].clone();
    assert_eq!(
        (perms["add_members"].as_bool(), perms["remove_members"].as_bool()),
        (Some(true), Some(false)),
        "{perms}"
    );
    assert!(b.get(&g).await.body.contains("add members, manage children"), "the page shows them");
    assert_eq!(b.post(&format!("{g}/members/{alice}/remove"), &[]).await.status, StatusCode::SEE_OTHER);
    assert_ne!(first_member(&s, gid).await["user"]["id"].as_str(), Some(alice.as_str()));
    let cid = child.trim_start_matches("/groups/");
    assert_eq!(b.post(&format!("{g}/children/{cid}/remove"), &[]).await.status, StatusCode::SEE_OTHER);
    assert!(!b.get(&format!("{g}/all-members")).await.body.contains(">bob<"));
    assert_eq!(b.get(&format!("{g}/delete")).await.status, StatusCode::OK);
    assert_eq!(b.post(&format!("{g}/delete"), &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(s.get(&format!("/v1/groups/{gid}")).await.status, StatusCode::NOT_FOUND);
    let _ = bob;
}

async fn passwords_keys_and_self_service(s: TestServer) {
    let admin = sign_in(&s.base, &s.admin).await;
    // A user made with a password signs in with it.
    let made = admin.post("/users", &[("username", "pat"), ("password", "correct horse battery")]).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let pat = made.location.trim_start_matches("/users/").to_owned();
    let wrong = sign_in_with(&s.base, &[("username", "pat"), ("password", "wrong horse")], &[]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let ok = sign_in_with(&s.base, &[("username", "pat"), ("password", "correct horse battery")], &[]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let cookie = ok.cookie("roster_session").expect("cookie").split(';').next().unwrap().to_owned();
    let mut b = Browser { base: s.base.clone(), http: client(), cookie, csrf: String::new() };
    let home = b.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    b.csrf = home.hidden("csrf");

    // Their own names they may change; their site role they may not.
    let me = format!("/users/{pat}");
    let fields =
        [("display_name", "Pat Q"), ("email", "pat@example.org"), ("site_role", "user"), ("site_role_was", "user")];
    assert_eq!(b.post(&me, &fields).await.status, StatusCode::SEE_OTHER);
    assert_eq!(s.get(&me.replace("/users", "/v1/users")).await.body["display_name"], "Pat Q");
    let promote = b.post(&me, &[("site_role", "admin"), ("site_role_was", "user")]).await;
    assert_eq!(promote.status, StatusCode::FORBIDDEN);
    assert!(promote.body.contains("class=\"error\" role=\"alert\""), "{}", promote.body);
    assert_eq!(s.get(&me.replace("/users", "/v1/users")).await.body["site_role"], "user");
    // A role that is no role: refused beside its field, nothing of the form written.
    let bogus = b.post(&me, &[("display_name", "Not Kept"), ("site_role", "emperor"), ("site_role_was", "user")]).await;
    assert_eq!(bogus.status, StatusCode::BAD_REQUEST, "{}", bogus.body);
    assert!(bogus.body.contains("must be admin or user"), "{}", bogus.body);
    assert_eq!(s.get(&me.replace("/users", "/v1/users")).await.body["display_name"], "Pat Q");

    // Their own keys: made here, shown once.
    let page = b.post("/keys", &[("name", "laptop")]).await;
    assert_eq!(page.status, StatusCode::CREATED);
    assert!(page.body.contains("rst_") && page.body.contains("never shown again"), "{}", page.body);
    assert!(!b.get("/keys").await.body.contains("never shown again"));

    // A session made from a key ends when that key is revoked here.
    let a = sign_in(&s.base, &s.admin).await;
    let (_, key) = s.user_with_key("kim").await;
    let k = sign_in(&s.base, &key).await;
    let keys = k.get("/keys").await;
    let kid = keys.body.split("/keys/").nth(1).and_then(|t| t.split('/').next()).expect("a key id").to_owned();
    let revoked = k.post(&format!("/keys/{kid}/delete"), &[]).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    assert_signed_out(&k.get("/").await);
    assert_eq!(a.get("/").await.status, StatusCode::OK, "other sessions go on");

    // Deactivating the user ends their password session too.
    let off = admin.post(&format!("/users/{pat}/active"), &[("active", "false")]).await;
    assert_eq!(off.status, StatusCode::SEE_OTHER, "{}", off.body);
    assert_signed_out(&b.get("/").await);
}

async fn the_feed_and_htmx(s: TestServer) {
    let b = sign_in(&s.base, &s.admin).await;
    let page = b.get("/events").await;
    let after =
        page.body.split("/events/poll?after=").nth(1).and_then(|t| t.split('"').next()).expect("poller").to_owned();
    let later = s.group("appears-later").await;
    let bob = s.user("bob").await;
    s.put(&format!("/v1/groups/{later}/members/{bob}"), json!({})).await;
    let poll = b.get(&format!("/events/poll?after={after}")).await;
    assert_eq!(poll.status, StatusCode::OK);
    assert!(poll.body.contains("appears-later") && poll.body.contains("hx-swap-oob"), "{}", poll.body);
    // Ids are shown by name: the member and the group, and who did it.
    assert!(poll.body.contains(">bob in appears-later</a>"), "{}", poll.body);
    assert!(poll.body.contains(">admin</a>"), "{}", poll.body);
    assert!(!poll.body.contains(&format!("after={after}\"")), "the poller moved on: {}", poll.body);
    // An htmx request without a session is told where to sign in.
    let res = client()
        .get(format!("{}/events/poll?after=0", s.base))
        .header("hx-request", "true")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers().get("hx-redirect").and_then(|v| v.to_str().ok()),
        Some("/sign-in?next=%2Fevents%2Fpoll%3Fafter%3D0")
    );
    // The tree answers htmx with a fragment, a browser without JavaScript with a page.
    let g = s.group("root").await;
    let fragment = Page::read(
        client().get(format!("{}/groups/{g}/tree", s.base)).header(COOKIE, &b.cookie).header("hx-request", "true"),
    )
    .await;
    assert!(!fragment.body.contains("<html") && fragment.body.contains("No nested groups"), "{}", fragment.body);
    assert!(b.get(&format!("/groups/{g}/tree")).await.body.contains("<html"));
}

async fn shares_roles_and_projects_on_a_group_page(s: TestServer) {
    let b = sign_in(&s.base, &s.admin).await;
    let g = s.group("atlas").await;
    let page = format!("/groups/{g}");
    let bob = s.user("bob").await;
    let readers = s.group("readers").await;
    let role = s.post("/v1/roles", json!({ "name": "auditor" })).await.id();
    let project = s.post("/v1/projects", json!({ "name": "apollo" })).await.id();
    let shares = format!("/v1/groups/{g}/shares");

    // Shares: to a user and to a group, a level changed, then revoked.
    let r = b.post(&format!("{page}/shares"), &[("kind", "user"), ("grantee", "bob"), ("level", "write")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = b.post(&format!("{page}/shares"), &[("kind", "group"), ("grantee", "readers"), ("level", "read")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let listed = s.get(&shares).await.body;
    assert_eq!(listed["total"], 2, "{listed}");
    let shown = b.get(&page).await;
    assert!(shown.body.contains(">bob</a> <span class=\"muted\">write"), "{}", shown.body);
    assert!(shown.body.contains(&format!("/shares/groups/{readers}/remove")), "{}", shown.body);
    let r = b.post(&format!("{page}/shares"), &[("kind", "user"), ("grantee", "bob"), ("level", "manage")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let levels = s.get(&shares).await.body;
    assert!(levels.to_string().contains("manage"), "{levels}");
    assert_eq!(b.post(&format!("{page}/shares/users/{bob}/remove"), &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(b.post(&format!("{page}/shares/groups/{readers}/remove"), &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(s.get(&shares).await.body["total"], 0);
    // The server names the field; the page shows the error beside it.
    let r = b.post(&format!("{page}/shares"), &[("kind", "user"), ("grantee", "nobody"), ("level", "read")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("id=\"share-grantee-error\""), "{}", r.body);
    let r = b.post(&format!("{page}/shares"), &[("kind", "user"), ("grantee", "bob"), ("level", "own")]).await;
    assert!(r.body.contains("id=\"share-level-error\""), "{}", r.body);
    let r = b.post(&format!("{page}/shares/users/{bob}/remove"), &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "no such share: {}", r.body);
    assert!(r.body.contains("role=\"alert\""), "{}", r.body);

    // Roles: granted from the list, shown, taken away.
    let shown = b.get(&page).await;
    assert!(shown.body.contains(&format!("<option value=\"{role}\">auditor</option>")), "{}", shown.body);
    assert_eq!(b.post(&format!("{page}/roles"), &[("role", &role)]).await.status, StatusCode::SEE_OTHER);
    let held = s.get(&format!("/v1/groups/{g}/roles")).await.body;
    assert!(held.to_string().contains(&role), "{held}");
    assert!(b.get(&page).await.body.contains(&format!("/roles/{role}/remove")));
    assert_eq!(b.post(&format!("{page}/roles/{role}/remove"), &[]).await.status, StatusCode::SEE_OTHER);
    assert!(!s.get(&format!("/v1/groups/{g}/roles")).await.body.to_string().contains(&role));
    let r = b.post(&format!("{page}/roles"), &[("role", "not-a-role")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("id=\"grant-role-error\""), "{}", r.body);

    // Project roles: set, changed, removed; a bad role is shown by its field.
    let bindings = format!("/v1/projects/{project}/bindings");
    let r = b.post(&format!("{page}/projects"), &[("project", "apollo"), ("role", "viewer")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = b.post(&format!("{page}/projects"), &[("project", "apollo"), ("role", "editor")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let bound = s.get(&bindings).await.body;
    assert!(bound.to_string().contains("editor") && !bound.to_string().contains("viewer"), "{bound}");
    assert!(b.get(&page).await.body.contains("as editor"));
    let r = b.post(&format!("{page}/projects"), &[("project", "apollo"), ("role", "two words")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("id=\"project-role-error\""), "{}", r.body);
    let r = b.post(&format!("{page}/projects"), &[("project", "gemini"), ("role", "viewer")]).await;
    assert!(r.body.contains("id=\"project-name-error\""), "{}", r.body);
    assert_eq!(b.post(&format!("{page}/projects/{project}/remove"), &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(s.get(&bindings).await.body["total"], 0);

    // A group admin who is no site admin: the core's refusals, rendered
    // (403, by the form), nothing written; a stranger gets no page at all.
    let (carol, carol_key) = s.user_with_key("carol").await;
    s.put(&format!("/v1/groups/{g}/members/{carol}"), json!({ "role": "admin" })).await;
    let c = sign_in(&s.base, &carol_key).await;
    let shown = c.get(&page).await;
    assert!(shown.body.contains("Not shown to you"), "a group admin may not list shares: {}", shown.body);
    for (path, fields) in [
        (format!("{page}/roles"), vec![("role", role.as_str())]),
        (format!("{page}/projects"), vec![("project", "apollo"), ("role", "viewer")]),
        (format!("{page}/shares"), vec![("kind", "user"), ("grantee", "bob"), ("level", "read")]),
    ] {
        let r = c.post(&path, &fields).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.body);
        assert!(r.body.contains("class=\"error\" role=\"alert\""), "{path}: the refusal by its form: {}", r.body);
    }
    assert_eq!(s.get(&shares).await.body["total"], 0);
    assert_eq!(s.get(&bindings).await.body["total"], 0);
    assert!(!s.get(&format!("/v1/groups/{g}/roles")).await.body.to_string().contains(&role));
    let (_, stranger_key) = s.user_with_key("stranger").await;
    let st = sign_in(&s.base, &stranger_key).await;
    let r = st.post(&format!("{page}/shares"), &[("kind", "user"), ("grantee", "stranger"), ("level", "manage")]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!r.body.contains("atlas"));
    assert_eq!(s.get(&shares).await.body["total"], 0);
}

/// Reads a Server-Sent Events answer until `want` has come, the stream
/// ends, or `within` passes: what came, and whether the stream ended.
async fn read_frames(res: &mut reqwest::Response, text: &mut String, want: &str, within: std::time::Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while !text.contains(want) {
        match tokio::time::timeout_at(deadline, res.chunk()).await {
            Ok(Ok(Some(bytes))) => text.push_str(&String::from_utf8_lossy(&bytes)),
            Ok(Ok(None)) | Ok(Err(_)) => return true,
            Err(_) => return false,
        }
    }
    false
}

/// Opens the console's event stream with a session cookie.
async fn open_stream(b: &Browser, query: &str, last_event_id: Option<&str>) -> reqwest::Response {
    let mut req = b
        .http
        .get(format!("{}/events/stream{query}", b.base))
        .header(COOKIE, &b.cookie)
        .header(ACCEPT, "text/event-stream");
    if let Some(id) = last_event_id {
        req = req.header("last-event-id", id);
    }
    req.send().await.expect("stream")
}

async fn head_seq(s: &TestServer) -> i64 {
    s.get("/v1/events?limit=1").await.body["total"].as_i64().expect("total")
}

async fn the_live_feed_over_server_sent_events(s: TestServer) {
    use std::time::Duration;
    let b = sign_in(&s.base, &s.admin).await;
    // The feed page names the stream and its script, which the server serves.
    let page = b.get("/events").await;
    let head = head_seq(&s).await;
    assert!(page.body.contains(&format!("data-stream=\"/events/stream?after={head}\"")), "{}", page.body);
    let script = page.body.split("<script src=\"").nth(1).and_then(|t| t.split('"').next()).expect("a script");
    assert!(script.starts_with("/assets/console-feed"), "{script}");
    let js = b.get(script).await;
    assert!(js.status == StatusCode::OK && js.body.contains("EventSource") && js.body.contains("/events/stream"));

    // A change made through the API arrives on the open stream, rendered as
    // the feed page shows it (names, escaped).
    let mut live = open_stream(&b, &format!("?after={head}"), None).await;
    assert_eq!(live.status(), StatusCode::OK);
    let kind = live.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(kind.starts_with("text/event-stream"), "{kind}");
    let g = s.group("<i>streamed</i>").await;
    let bob = s.user("bob").await;
    s.put(&format!("/v1/groups/{g}/members/{bob}"), json!({})).await;
    let mut text = String::new();
    let ended = read_frames(&mut live, &mut text, "bob in", Duration::from_secs(10)).await;
    assert!(!ended && text.contains("bob in &#60;i&#62;streamed&#60;/i&#62;</a>"), "{text}");
    assert!(text.contains("event: change") && text.contains(&format!("id: {}", head + 1)), "{text}");
    assert!(!text.contains("<i>streamed"), "escaped: {text}");

    // Last-Event-ID wins over `after` (a reconnecting EventSource resumes).
    let now = head_seq(&s).await;
    let mut resumed = open_stream(&b, "?after=0&follow=false", Some(&(now - 1).to_string())).await;
    let mut again = String::new();
    assert!(read_frames(&mut resumed, &mut again, "\u{0}", Duration::from_secs(10)).await, "follow=false ends");
    assert!(again.contains(&format!("id: {now}\n")) && !again.contains(&format!("id: {}\n", now - 1)), "{again}");

    // Signing out ends the open stream (it says so, then closes).
    let out = b.post("/sign-out", &[]).await;
    assert_signed_out(&out);
    let ended = read_frames(&mut live, &mut text, "event: signed-out", Duration::from_secs(4)).await;
    assert!(!ended && text.contains("event: signed-out"), "the stream says the session ended: {text}");
    assert!(read_frames(&mut live, &mut text, "\u{0}", Duration::from_secs(4)).await, "and closes");
    // Reconnecting without a session: 401 (an EventSource then gives up), not a redirect.
    let refused = open_stream(&b, "", Some("1")).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    // Revoking the session's key ends its stream.
    let root = s.post("/v1/users", json!({ "username": "root2", "site_role": "admin" })).await.id();
    let made = s.post("/v1/keys", json!({ "user_id": root, "name": "console" })).await;
    let (kid, key) = (made.id(), made.body["key"].as_str().expect("key").to_owned());
    let r = sign_in(&s.base, &key).await;
    let mut by_key = open_stream(&r, &format!("?after={}", head_seq(&s).await), None).await;
    assert_eq!(by_key.status(), StatusCode::OK);
    assert_eq!(s.delete(&format!("/v1/keys/{kid}")).await.status, StatusCode::NO_CONTENT);
    let mut text = String::new();
    read_frames(&mut by_key, &mut text, "event: signed-out", Duration::from_secs(4)).await;
    assert!(text.contains("event: signed-out"), "revoking the key ends the stream: {text}");

    // A session that expires while its stream is open ends it.
    let b = sign_in(&s.base, &s.admin).await;
    let soon = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time")
        + Duration::from_secs(2))
    .as_micros();
    s.sql(&format!("UPDATE web_sessions SET expires_at = {soon}")).await;
    let mut expiring = open_stream(&b, &format!("?after={}", head_seq(&s).await), None).await;
    assert_eq!(expiring.status(), StatusCode::OK);
    let mut text = String::new();
    read_frames(&mut expiring, &mut text, "event: signed-out", Duration::from_secs(6)).await;
    assert!(text.contains("event: signed-out"), "expiry ends the stream: {text}");

    // The feed is for site admins: the core's refusal, before any stream.
    let (_, alice_key) = s.user_with_key("alice").await;
    let a = sign_in(&s.base, &alice_key).await;
    assert_eq!(open_stream(&a, "", None).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(open_stream(&a, "?after=-1", None).await.status(), StatusCode::BAD_REQUEST);
}

crate::on_every_store!(
    the_live_feed_over_server_sent_events,
    shares_roles_and_projects_on_a_group_page,
    passwords_keys_and_self_service,
    the_feed_and_htmx,
    signing_in_and_out,
    forms_without_the_csrf_token_are_refused,
    names_render_as_text,
    strangers_see_what_the_api_shows_them,
    sessions_end_with_their_key_and_user,
    sessions_are_shared_by_servers_of_one_database,
    bad_input_is_a_clear_error,
    managing_a_group,
);

/// Failed sign-ins count against the address's budget of failed
/// authentications, as a wrong API key does: past it, even the right key
/// is refused for a while, so guessing learns nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_are_limited_per_address() {
    use roster_core::{Rate, RateLimits};
    let limits = RateLimits { per_key: None, failed_auth_per_source: Rate::per_minute(10, 5) };
    let s = TestServer::sqlite_limited(limits).await;
    let mut statuses = Vec::new();
    for i in 0..8 {
        let guess = format!("rst_guess_{i:040}");
        statuses.push(sign_in_with(&s.base, &[("key", &guess)], &[]).await.status);
    }
    assert_eq!(statuses[0], StatusCode::UNAUTHORIZED, "{statuses:?}");
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    let right = sign_in_with(&s.base, &[("key", &s.admin)], &[]).await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(right.body.contains("Too many failed sign-ins") && right.cookie("roster_session").is_none());
}
