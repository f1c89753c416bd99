use std::net::IpAddr;

use base64::Engine;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

/// The example of the Standard Webhooks reference libraries.
#[test]
fn signs_as_the_specification_does() {
    let key = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("base64");
    let secret = WebhookSecret::from_bytes(key);
    assert_eq!(secret.shown(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    let sig = secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
    assert_eq!(sig, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

#[test]
fn rotation_signs_with_both_secrets_for_the_grace_period() {
    let now = OffsetDateTime::now_utc();
    let (new, old) = (WebhookSecret::generate(), WebhookSecret::generate());
    let both = WebhookSecrets { current: new.clone(), previous: Some((old.clone(), now + Duration::from_secs(60))) };
    let header = both.signature("m", 1, b"{}", now);
    assert_eq!(header, format!("v1,{} v1,{}", new.sign("m", 1, b"{}"), old.sign("m", 1, b"{}")));
    let later = now + Duration::from_secs(61);
    assert_eq!(both.signature("m", 1, b"{}", later), format!("v1,{}", new.sign("m", 1, b"{}")));
    assert_eq!(format!("{new:?}"), "WebhookSecret(..)", "Debug shows nothing of a secret");
}

#[test]
fn the_default_allow_list_is_public_addresses_only() {
    let public = AllowList::default();
    for refused in [
        "127.0.0.1",
        "10.1.2.3",
        "172.20.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "::ffff:127.0.0.1",
        "fd00::1",
        "fe80::1",
        "224.0.0.1",
    ] {
        assert!(!public.allows(ip(refused)), "{refused}");
    }
    for allowed in ["1.1.1.1", "93.184.216.34", "2606:4700:4700::1111"] {
        assert!(public.allows(ip(allowed)), "{allowed}");
    }
    let loopback = AllowList::parse("127.0.0.0/8").expect("list");
    assert!(loopback.allows(ip("127.0.0.1")) && loopback.allows(ip("::ffff:127.1.2.3")));
    assert!(!loopback.allows(ip("1.1.1.1")), "a list without `public` names every range allowed");
    let both = AllowList::parse("public, 10.0.0.0/8, ::1").expect("list");
    assert!(both.allows(ip("10.9.9.9")) && both.allows(ip("1.1.1.1")) && both.allows(ip("::1")));
    assert!(!both.allows(ip("192.168.0.1")));
    for bad in ["", "10.0.0.0/33", "localhost", "10.0.0/8", "::1/129"] {
        assert!(AllowList::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn urls_are_checked_at_creation() {
    for ok in [
        "https://hooks.example.com/roster",
        "http://127.0.0.1:8080/x?y=1",
        "http://[::1]:9/",
        "HTTPS://example.com",
        "http://h:65535",
        "http://h:0080/",
    ] {
        assert!(check_url(ok).is_ok(), "{ok}");
    }
    for bad in [
        "ftp://example.com/",
        "example.com/hook",
        "https:///path",
        "https://user:pw@example.com/",
        "https://example.com:99999/",
        "https://exa mple.com/",
        "http://[::1/",
        "https://example.com:/",
        "https://ex_ample.com/",
        "https://example.com:00080/",
        "https://example.com/a b",
    ] {
        assert_eq!(check_url(bad).err().and_then(|e| e.field().map(str::to_owned)).as_deref(), Some("url"), "{bad}");
    }
}

#[test]
fn event_type_patterns() {
    assert!(check_event_types(&["membership.*".into(), "user.created".into(), "*".into()]).is_ok());
    assert!(check_event_types(&["nope.*".into()]).is_err());
    assert!(check_event_types(&["membership.created2".into()]).is_err());
    assert!(wants_type(&[], "group.created"));
    assert!(wants_type(&["group.*".into()], "group.created"));
    assert!(!wants_type(&["group.*".into()], "groups.created"));
    assert!(!wants_type(&["membership.created".into()], "membership.deleted"));
}

#[test]
fn message_ids_are_stable_and_dot_free() {
    let w = WebhookId::new();
    assert_eq!(message_id(w, 7), message_id(w, 7));
    assert_ne!(message_id(w, 7), message_id(w, 8));
    assert!(!message_id(w, 7).contains('.'), "the signed text joins id and timestamp with dots");
}
