//! Secrets never reach the log (issue 15): not a key (in a header, a
//! cookie, Basic credentials, Iguazio's path or an LDAP simple bind), not a
//! password (over SCIM or in an LDAP bind), not the LDAP TLS key, not at
//! any level, in text or JSON; not a webhook's signing secret (created,
//! rotated, signing deliveries) nor a signature; a client's request id is logged only when
//! it is a plain token; the event log names keys by id, never by their
//! secret.

use std::time::Duration;

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::process;

const ADMIN: &str = "chosen-admin-key-0123456789";
const PASSWORD: &str = "Correct-Horse-Battery-Staple-42";
const WRONG: &str = "rst_wrong_guess_abcdefghijklmnopqrstuvwxyz";
const WRONG_PASSWORD: &str = "Incorrect-Horse-Battery-Staple-41";
const FORGED: &str = "abc method=DELETE path=/v1/users/admin} forged";
/// A token in a webhook's URL (as some receivers take their credential).
const URL_TOKEN: &str = "url-token-0123456789-abcdef";

/// The address a listener reported at start (`FIELD=ADDR` in text, a JSON field).
fn logged_addr(log: &str, field: &str) -> String {
    log.lines()
        .find_map(|l| match serde_json::from_str::<Value>(l) {
            Ok(v) => v["fields"][field].as_str().map(str::to_owned),
            Err(_) => l.split(&format!("{field}=")).nth(1)?.split_whitespace().next().map(str::to_owned),
        })
        .unwrap_or_else(|| panic!("no {field} in the log:\n{log}"))
}

async fn nothing_secret_is_logged(text: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("roster.db").display());
    let pki = crate::ldap_tls::pki();
    let (cert, key) = (pki.cert.display().to_string(), pki.key.display().to_string());
    let args = [
        "--ldap-listen",
        "127.0.0.1:0",
        "--ldaps-listen",
        "127.0.0.1:0",
        "--ldap-tls-cert",
        &cert,
        "--ldap-tls-key",
        &key,
    ];
    let p = process::start_with(
        &url,
        Some(ADMIN),
        &process::Options {
            args: &args,
            env: &[("ROSTER_LOG", "trace"), ("ROSTER_WEBHOOKS_ALLOW", "127.0.0.0/8")],
            text_log: text,
            ..Default::default()
        },
    );
    let http = crate::harness::http();
    let at = |path: &str| format!("{}{path}", p.base);

    let me: Value = http.get(at("/v1/me")).bearer_auth(ADMIN).send().await.expect("me").json().await.expect("json");
    let created: Value = http
        .post(at("/v1/keys"))
        .bearer_auth(ADMIN)
        .json(&json!({ "user_id": me["id"], "name": "laptop" }))
        .send()
        .await
        .expect("key")
        .json()
        .await
        .expect("json");
    let secret = created["key"].as_str().expect("a secret").to_owned();

    let scim_user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "pw-user",
        "password": PASSWORD,
    });
    let r = http.post(at("/scim/v2/Users")).bearer_auth(ADMIN).json(&scim_user).send().await.expect("scim");
    assert_eq!(r.status(), StatusCode::CREATED);

    // Iguazio names a key by its secret in the path; the SDK sends a cookie.
    let cookie = format!("session=j:{{\"sid\": \"{ADMIN}\"}}");
    let r = http.get(at(&format!("/iguazio/api/access_keys/{secret}"))).header("cookie", &cookie).send().await;
    assert_eq!(r.expect("get key").status(), StatusCode::OK);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{ADMIN}:"));
    let r = http.get(at("/civis/users/me")).header("authorization", format!("Basic {basic}")).send().await;
    assert_eq!(r.expect("civis").status(), StatusCode::OK);
    let r = http.get(at("/v1/me")).bearer_auth(WRONG).send().await.expect("wrong key");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = http.delete(at(&format!("/iguazio/api/access_keys/{secret}"))).bearer_auth(ADMIN).send().await;
    assert_eq!(r.expect("delete key").status(), StatusCode::NO_CONTENT);

    // A request id that would forge fields is replaced; a plain one is kept.
    let r = http.get(at("/healthz")).header("x-request-id", FORGED).send().await.expect("healthz");
    let echoed = r.headers()["x-request-id"].to_str().expect("id").to_owned();
    assert_ne!(echoed, FORGED);
    assert!(echoed.len() <= 64 && !echoed.contains(' '));
    let r = http.get(at("/healthz")).header("x-request-id", "trace-42.a_b").send().await.expect("healthz");
    assert_eq!(r.headers()["x-request-id"], "trace-42.a_b");

    // LDAP simple binds, over LDAPS: a key, a password, a wrong one of
    // each; over plain LDAP a key is refused (confidentialityRequired), yet
    // it crossed the wire and must not be logged either.
    let r = http
        .post(at("/v1/users"))
        .bearer_auth(ADMIN)
        .json(&json!({ "username": "ldap-user", "password": PASSWORD }))
        .send()
        .await
        .expect("user");
    assert_eq!(r.status(), StatusCode::CREATED);
    let started = p.log.lock().expect("log").clone();
    let ldaps = format!("ldaps://{}", logged_addr(&started, "ldaps_addr"));
    let ldap = format!("ldap://{}", logged_addr(&started, "ldap_addr"));
    let mut l = crate::ldap_tls::connect_tls(&ldaps, &pki, false).await.expect("ldaps");
    let admin_dn = "uid=admin,ou=people,dc=roster,dc=local";
    let pw_dn = "uid=ldap-user,ou=people,dc=roster,dc=local";
    assert_eq!(l.simple_bind(admin_dn, ADMIN).await.expect("bind").rc, 0);
    assert_eq!(l.simple_bind(pw_dn, PASSWORD).await.expect("bind").rc, 0);
    assert_eq!(l.simple_bind(admin_dn, WRONG).await.expect("bind").rc, 49);
    assert_eq!(l.simple_bind(pw_dn, WRONG_PASSWORD).await.expect("bind").rc, 49);
    let (conn, mut plain) = ldap3::LdapConnAsync::new(&ldap).await.expect("ldap");
    ldap3::drive!(conn);
    assert_eq!(plain.simple_bind(admin_dn, ADMIN).await.expect("bind").rc, 13);
    let _ = l.unbind().await;
    let _ = plain.unbind().await;

    // A webhook: created, pinged, rotated, pinged again (signed with both).
    let rx = crate::webhooks::Receiver::start(crate::webhooks::Answer::Ok).await;
    let hook: Value = http
        .post(at("/v1/webhooks"))
        .bearer_auth(ADMIN)
        .json(&json!({ "url": format!("{}?token={URL_TOKEN}", rx.url), "event_types": ["group.*"] }))
        .send()
        .await
        .expect("webhook")
        .json()
        .await
        .expect("json");
    let hook_id = hook["id"].as_str().expect("id").to_owned();
    let first_secret = hook["secret"].as_str().expect("secret").to_owned();
    let r = http.post(at(&format!("/v1/webhooks/{hook_id}/ping"))).bearer_auth(ADMIN).send().await.expect("ping");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let rotated: Value = http
        .post(at(&format!("/v1/webhooks/{hook_id}/rotate-secret")))
        .bearer_auth(ADMIN)
        .json(&json!({}))
        .send()
        .await
        .expect("rotate")
        .json()
        .await
        .expect("json");
    let second_secret = rotated["secret"].as_str().expect("secret").to_owned();
    let r = http.post(at(&format!("/v1/webhooks/{hook_id}/ping"))).bearer_auth(ADMIN).send().await.expect("ping");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let pinged = rx.wait_for(Duration::from_secs(20), "two pings", |g| g.len() >= 2).await;
    assert!(crate::webhooks::verify(&second_secret, &pinged[1]) && crate::webhooks::verify(&first_secret, &pinged[1]));
    let signature = pinged[1].signature.clone();

    // The event log names keys by id: no part of any secret.
    let events: Value = http
        .get(at("/v1/events?after=0&limit=1000"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("events")
        .json()
        .await
        .expect("json");
    let keys: Vec<&Value> =
        events["items"].as_array().expect("items").iter().filter(|e| e["action"] == "key.created").collect();
    assert_eq!(keys.len(), 2, "the bootstrap key and the laptop key");
    for e in keys {
        assert!(e["after"]["id"].is_string(), "{e}");
        assert!(e["after"].get("prefix").is_none(), "{e}");
    }
    let events = events.to_string();
    assert!(!events.contains(&secret[..8]) && !events.contains(&ADMIN[..8]), "{events}");
    for whsec in [&first_secret, &second_secret] {
        assert!(!events.contains(&whsec[6..16]), "a webhook secret in the event log: {events}");
    }

    // Let the last lines reach the pipe.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = p.log.lock().expect("log").clone();
    assert!(log.contains("access_keys/{id}"), "the Iguazio requests were logged, redacted:\n{log}");
    assert_eq!(log.matches("ldap bind").count(), 5, "each LDAP bind was logged, by name:\n{log}");
    assert!(log.contains(pw_dn), "{log}");
    let key_pem = std::fs::read_to_string(&pki.key).expect("key");
    for line in key_pem.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!log.contains(line), "the LDAP TLS key reached the log:\n{log}");
    }
    assert!(log.contains("trace-42.a_b"));
    for (what, s) in [
        ("the bootstrap key", ADMIN),
        ("a created key", secret.as_str()),
        ("a created key's start", &secret[..12]),
        ("a password", PASSWORD),
        ("a wrong key", WRONG),
        ("a wrong password", WRONG_PASSWORD),
        ("Basic credentials", basic.as_str()),
        ("a forged request id", "forged"),
        ("a webhook secret", first_secret.as_str()),
        ("a webhook secret's key", &first_secret[6..]),
        ("a rotated webhook secret", second_secret.as_str()),
        ("a rotated webhook secret's key", &second_secret[6..]),
        ("a webhook signature", signature.as_str()),
        ("a token in a webhook's URL", URL_TOKEN),
        ("a webhook signature's value", &signature[3..20]),
    ] {
        assert!(!log.contains(s), "{what} reached the log:\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_secret_is_logged_in_text() {
    nothing_secret_is_logged(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_secret_is_logged_in_json() {
    nothing_secret_is_logged(false).await;
}
