use serde_json::json;

use super::*;

struct Ci;

impl CaseRule for Ci {
    fn case_exact(&self, p: &AttrPath) -> bool {
        p.attr == "id"
    }
}

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn check(filter: &str, expected: bool) {
    let user = json!({
        "id": "AbC",
        "userName": "Bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "active": true,
        "emails": [{"value": "bj@example.com", "type": "work"}, {"value": "b@home.example", "type": "home"}],
        "meta": {"lastModified": "2026-01-02T00:00:00Z"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Tour"},
    });
    let f = parse(filter).unwrap_or_else(|e| panic!("{filter}: {e:?}"));
    assert_eq!(matches(&f, &user, USER, &Ci), expected, "{filter}");
}

#[test]
fn the_whole_grammar() {
    check(r#"userName eq "bjensen""#, true);
    check(r#"USERNAME Eq "BJENSEN""#, true);
    check(r#"id eq "abc""#, false);
    check(r#"name.familyName co "ens""#, true);
    check(r#"userName sw "bj" and userName ew "sen""#, true);
    check(r#"userName ne "bjensen""#, false);
    check(r#"title pr"#, false);
    check(r#"name pr and active eq true"#, true);
    check(r#"meta.lastModified gt "2026-01-01T00:00:00Z""#, true);
    check(r#"meta.lastModified le "2025-01-01T00:00:00Z""#, false);
    check(r#"emails[type eq "work" and value co "example.com"]"#, true);
    check(r#"emails[type eq "work"].value eq "bj@example.com""#, true);
    check(r#"emails[type eq "home"].value eq "bj@example.com""#, false);
    check(r#"emails co "home.example""#, true);
    check(r#"not (userName eq "x") and (active eq false or userName sw "B")"#, true);
    check(r#"userName eq "x" or userName eq "y" and active eq true"#, false);
    check(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen""#, true);
    check(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "tour""#, true);
    check(r#"userName eq "a \"quoted\" name""#, false);
}

#[test]
fn malformed_filters_are_refused() {
    for bad in [
        "",
        "userName",
        "userName eq",
        "userName eq bjensen",
        "userName xx \"a\"",
        "(userName eq \"a\"",
        "userName eq \"a\")",
        "emails[type eq \"work\"",
        "userName eq \"a\" and",
        "active gt true",
        "userName co 12",
        "\"unterminated",
    ] {
        assert!(parse(bad).is_err(), "{bad:?} parsed");
    }
    let deep = format!("{}userName pr{}", "(".repeat(100), ")".repeat(100));
    assert!(parse(&deep).is_err());
}

#[test]
fn patch_paths() {
    let p = parse_path(r#"members[value eq "2819c223"]"#).unwrap();
    assert_eq!(p.attr.attr, "members");
    assert!(p.filter.is_some() && p.sub.is_none());
    let p = parse_path(r#"emails[type eq "work"].value"#).unwrap();
    assert_eq!(p.sub.as_deref(), Some("value"));
    let p = parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager").unwrap();
    assert_eq!(p.attr.attr, "manager");
    assert_eq!(p.attr.urn.as_deref(), Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
    assert!(parse_path("name.givenName").unwrap().attr.sub.is_some());
    assert!(parse_path("members[value eq").is_err());
    assert!(parse_path("bad path").is_err());
}
