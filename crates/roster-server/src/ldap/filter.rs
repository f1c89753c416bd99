//! Search filters (RFC 4511 §4.5.1.7, the whole RFC 4515 grammar as
//! `ldap3_proto` decodes it), evaluated over an entry with three-valued
//! logic: `None` is Undefined (an unknown matching rule, an integer
//! assertion that is no integer), which matches nothing, and stays
//! Undefined under NOT. Strings match ignoring case, DNs normalised,
//! integers as numbers, generalized times as instants (whatever their
//! precision or zone); approximate match is equality.
//!
//! Membership at any depth (`memberOf:1.2.840.113556.1.4.1941:=<group>`,
//! `member:1.2.840.113556.1.4.1941:=<user>`) is answered from sets the
//! search resolved beforehand through the core ([`InChain`]).

use std::collections::{HashMap, HashSet};

use ldap3_proto::proto::{LdapFilter, LdapMatchingRuleAssertion, LdapSubstringFilter};
use roster_core::{GroupId, UserId};

use super::dn::Dn;
use super::entries::{Entry, IN_CHAIN_OID, Subject, Syntax, syntax};

/// The answer of one in-chain assertion, resolved by the search.
#[derive(Clone, Debug)]
pub enum InChain {
    /// Users in the asserted group at any depth.
    Users(HashSet<UserId>),
    /// Groups the asserted user is in at any depth.
    Groups(HashSet<GroupId>),
}

/// In-chain answers by (attribute in lower case, normalised DN).
pub type Resolved = HashMap<(String, String), InChain>;

/// An in-chain assertion: (attribute in lower case, the DN asserted), or
/// `None` for any other extensible match.
pub fn in_chain(m: &LdapMatchingRuleAssertion) -> Option<(String, &str)> {
    let rule = m.matching_rule.as_deref()?;
    let attr = m.type_.as_deref()?.to_ascii_lowercase();
    (rule == IN_CHAIN_OID && matches!(attr.as_str(), "memberof" | "member" | "uniquemember"))
        .then_some((attr, m.match_value.as_str()))
}

/// Every in-chain assertion in a filter.
pub fn in_chain_assertions(f: &LdapFilter) -> Vec<(String, &str)> {
    match f {
        LdapFilter::And(fs) | LdapFilter::Or(fs) => fs.iter().flat_map(in_chain_assertions).collect(),
        LdapFilter::Not(f) => in_chain_assertions(f),
        LdapFilter::Extensible(m) => in_chain(m).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// The attribute names a filter looks at, in lower case. `false` when it
/// may look at any attribute (an extensible match naming none); `out` is
/// then incomplete, and every attribute is needed.
pub fn attributes(f: &LdapFilter, out: &mut HashSet<String>) -> bool {
    match f {
        LdapFilter::And(fs) | LdapFilter::Or(fs) => fs.iter().all(|f| attributes(f, out)),
        LdapFilter::Not(f) => attributes(f, out),
        LdapFilter::Equality(a, _)
        | LdapFilter::Substring(a, _)
        | LdapFilter::GreaterOrEqual(a, _)
        | LdapFilter::LessOrEqual(a, _)
        | LdapFilter::Present(a)
        | LdapFilter::Approx(a, _) => {
            out.insert(base_name(a));
            true
        }
        LdapFilter::Extensible(m) => match (&m.type_, in_chain(m)) {
            (_, Some(_)) => true,
            (Some(a), None) => {
                out.insert(base_name(a));
                true
            }
            (None, None) => false,
        },
    }
}

/// An attribute description without options (`cn;lang-en` → `cn`), in lower case.
fn base_name(a: &str) -> String {
    a.split(';').next().unwrap_or(a).trim().to_ascii_lowercase()
}

/// The normalised form of a value of an attribute with syntax `s`.
pub fn normalize(s: Syntax, value: &str) -> String {
    match s {
        Syntax::Dn => Dn::parse(value).map(|d| d.normalized()).unwrap_or_else(|_| value.trim().to_lowercase()),
        Syntax::Integer => value.trim().to_owned(),
        Syntax::Time => generalized_time(value).map_or_else(|| value.trim().to_owned(), |t| t.to_string()),
        Syntax::Text => value.trim().to_lowercase(),
    }
}

/// Whether `entry` matches `f`: `Some(true)`, `Some(false)` or Undefined.
pub fn matches(f: &LdapFilter, entry: &Entry, resolved: &Resolved) -> Option<bool> {
    match f {
        LdapFilter::And(fs) => {
            let mut out = Some(true);
            for f in fs {
                match matches(f, entry, resolved) {
                    Some(false) => return Some(false),
                    None => out = None,
                    Some(true) => {}
                }
            }
            out
        }
        LdapFilter::Or(fs) => {
            let mut out = Some(false);
            for f in fs {
                match matches(f, entry, resolved) {
                    Some(true) => return Some(true),
                    None => out = None,
                    Some(false) => {}
                }
            }
            out
        }
        LdapFilter::Not(f) => matches(f, entry, resolved).map(|b| !b),
        LdapFilter::Equality(a, v) | LdapFilter::Approx(a, v) => equality(entry, a, v),
        LdapFilter::Present(a) => Some(base_name(a) == "objectclass" || entry.get(&base_name(a)).is_some()),
        LdapFilter::Substring(a, sub) => {
            let values = entry.get(&base_name(a))?;
            Some(values.iter().any(|v| substring(&v.to_lowercase(), sub)))
        }
        LdapFilter::GreaterOrEqual(a, v) => ordering(entry, a, v, |o| o.is_ge()),
        LdapFilter::LessOrEqual(a, v) => ordering(entry, a, v, |o| o.is_le()),
        LdapFilter::Extensible(m) => extensible(m, entry, resolved),
    }
}

fn equality(entry: &Entry, attr: &str, asserted: &str) -> Option<bool> {
    let name = base_name(attr);
    let s = syntax(&name);
    let values = match entry.get(&name) {
        Some(v) => v,
        None => return Some(false),
    };
    if s == Syntax::Integer {
        let want: i64 = asserted.trim().parse().ok()?;
        return Some(values.iter().any(|v| v.parse::<i64>().ok() == Some(want)));
    }
    if s == Syntax::Time {
        let want = generalized_time(asserted)?;
        return Some(values.iter().any(|v| generalized_time(v) == Some(want)));
    }
    let want = normalize(s, asserted);
    Some(values.iter().any(|v| normalize(s, v) == want))
}

fn ordering(entry: &Entry, attr: &str, asserted: &str, ok: fn(std::cmp::Ordering) -> bool) -> Option<bool> {
    let name = base_name(attr);
    let values = entry.get(&name).unwrap_or_default();
    if syntax(&name) == Syntax::Integer {
        let want: i64 = asserted.trim().parse().ok()?;
        return Some(values.iter().filter_map(|v| v.parse::<i64>().ok()).any(|v| ok(v.cmp(&want))));
    }
    if syntax(&name) == Syntax::Time {
        let want = generalized_time(asserted)?;
        return Some(values.iter().filter_map(|v| generalized_time(v)).any(|v| ok(v.cmp(&want))));
    }
    let want = asserted.trim().to_lowercase();
    Some(values.iter().any(|v| ok(v.to_lowercase().as_str().cmp(want.as_str()))))
}

/// A generalized time (RFC 4517 §3.3.13: `YYYYMMDDHH[MM[SS]][(.|,)fraction]`
/// then `Z` or `±HH[MM]`) as nanoseconds since the epoch; `None` when it is
/// not one. Keycloak asserts `20260101120000.0Z`, SSSD the value it read.
pub fn generalized_time(text: &str) -> Option<i128> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (clock, rest) = text.split_at(digits);
    if !matches!(clock.len(), 10 | 12 | 14) {
        return None;
    }
    let field = |at: usize| clock.get(at..at + 2).and_then(|d| d.parse::<u8>().ok());
    let year: i32 = clock.get(..4)?.parse().ok()?;
    let month = time::Month::try_from(field(4)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, field(6)?).ok()?;
    let (minute, second) = (field(10).unwrap_or(0), field(12).unwrap_or(0));
    // A leap second (60) is the next second's start.
    let at = date.with_hms(field(8)?, minute, second.min(59)).ok()?;
    // A fraction is of the last unit given: an hour, a minute or a second.
    let unit: i128 = match clock.len() {
        10 => 3_600_000_000_000,
        12 => 60_000_000_000,
        _ => 1_000_000_000,
    };
    let (fraction, zone) = match rest.strip_prefix(['.', ',']) {
        Some(r) => {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return None;
            }
            let kept = &r[..n.min(18)];
            let scale = 10i128.pow(u32::try_from(kept.len()).ok()?);
            (unit * kept.parse::<i128>().ok()? / scale, &r[n..])
        }
        None => (0, rest),
    };
    let offset = match zone {
        "Z" | "z" => time::UtcOffset::UTC,
        _ => {
            let sign = match zone.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let hm = zone.get(1..)?;
            if !matches!(hm.len(), 2 | 4) || !hm.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let hours: i8 = hm.get(..2)?.parse().ok()?;
            let minutes: i8 = hm.get(2..).filter(|m| !m.is_empty()).map_or(Some(0), |m| m.parse().ok())?;
            time::UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()?
        }
    };
    let leap = if second == 60 { 1_000_000_000 } else { 0 };
    Some(at.assume_offset(offset).unix_timestamp_nanos() + fraction + leap)
}

fn substring(value: &str, sub: &LdapSubstringFilter) -> bool {
    let mut rest = value;
    if let Some(initial) = &sub.initial {
        match rest.strip_prefix(initial.to_lowercase().as_str()) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    for any in &sub.any {
        let any = any.to_lowercase();
        match rest.find(any.as_str()) {
            Some(at) => rest = &rest[at + any.len()..],
            None => return false,
        }
    }
    match &sub.final_ {
        Some(f) => rest.ends_with(f.to_lowercase().as_str()),
        None => true,
    }
}

fn extensible(m: &LdapMatchingRuleAssertion, entry: &Entry, resolved: &Resolved) -> Option<bool> {
    if let Some((attr, dn)) = in_chain(m) {
        let key = (attr, normalize(Syntax::Dn, dn));
        return Some(match (resolved.get(&key), entry.subject) {
            (Some(InChain::Users(users)), Subject::User(u)) => users.contains(&u),
            (Some(InChain::Groups(groups)), Subject::Group(g)) => groups.contains(&g),
            _ => false,
        });
    }
    match (&m.matching_rule, &m.type_) {
        // No rule: the attribute's equality rule.
        (None, Some(attr)) => equality(entry, attr, &m.match_value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ldap::dn::Tree;
    use crate::ldap::entries::{Need, user_entry};

    fn check(filter: &str, expected: Option<bool>) {
        let f = ldap3_proto::parse_ldap_filter_str(filter).unwrap_or_else(|e| panic!("{filter}: {e:?}"));
        check_filter(&f, expected);
    }

    fn check_filter(f: &LdapFilter, expected: Option<bool>) {
        let tree = Tree::new("dc=roster,dc=local").unwrap();
        let mut u = roster_core::User::new("Ann".into(), time::OffsetDateTime::UNIX_EPOCH);
        u.num = 42;
        u.email = Some("ann@Example.org".into());
        let entry = user_entry(&tree, &u, Some(vec![tree.group_dn("Eng")]), &Need::ALL);
        assert_eq!(matches(f, &entry, &Resolved::new()), expected, "{f:?}");
    }

    #[test]
    fn evaluates() {
        check("(uid=ann)", Some(true));
        check("(UID=ANN)", Some(true));
        check("(&(objectClass=person)(|(uid=x)(mail=ANN@example.org)))", Some(true));
        // (That string parser takes no `=` in a value: the filters are built.)
        let member_of = |dn: &str| LdapFilter::Equality("memberof".into(), dn.into());
        check_filter(&member_of("CN=eng, OU=Groups,dc=roster,dc=local"), Some(true));
        check_filter(&member_of("cn=ops,ou=groups,dc=roster,dc=local"), Some(false));
        check("(mail=*@example.*)", Some(true));
        check("(mail=a*z)", Some(false));
        check("(uidNumber>=40)", Some(true));
        check("(uidNumber<=41)", Some(false));
        check("(uidNumber>=x)", None);
        check("(!(uidNumber>=x))", None);
        check("(|(uidNumber>=x)(uid=ann))", Some(true));
        check("(description=*)", Some(false));
        check("(uid~=ANN)", Some(true));
        check("(uid:caseExactMatch:=ann)", None);
        check("(uid:=ann)", Some(true));
    }

    #[test]
    fn compares_generalized_times_as_instants() {
        // The entry was modified at 2026-03-04 05:06:07.5 UTC, shown to the second.
        let mut u = roster_core::User::new("ann".into(), time::OffsetDateTime::UNIX_EPOCH);
        u.updated_at = time::macros::datetime!(2026-03-04 05:06:07.5 UTC);
        let tree = Tree::new("dc=roster,dc=local").unwrap();
        let entry = user_entry(&tree, &u, None, &Need::ALL);
        assert_eq!(entry.get("modifyTimestamp"), Some(&["20260304050607Z".to_owned()][..]));
        let check = |f: &str, expected: Option<bool>| {
            let f = ldap3_proto::parse_ldap_filter_str(f).unwrap_or_else(|e| panic!("{f}: {e:?}"));
            assert_eq!(matches(&f, &entry, &Resolved::new()), expected, "{f:?}");
        };
        // Keycloak's changed-users sync (`yyyyMMddHHmmss'.0Z'`).
        check("(modifyTimestamp>=20260304050607.0Z)", Some(true));
        check("(modifyTimestamp>=20260304050608.0Z)", Some(false));
        // A finer assertion than the value: strictly later is not matched
        // (a string comparison would put '.' before 'Z' and say yes).
        check("(modifyTimestamp>=20260304050607.5Z)", Some(false));
        check("(modifyTimestamp<=20260304050607,5Z)", Some(true));
        // Zones, and minutes or hours alone (with a fraction of them).
        check("(modifyTimestamp>=20260304070607+0200)", Some(true));
        check("(modifyTimestamp>=20260304000608-05)", Some(false));
        check("(modifyTimestamp>=202603040506Z)", Some(true));
        check("(modifyTimestamp<=2026030405.2Z)", Some(true));
        // SSSD's enumeration refresh: after its last value, not at it.
        check("(&(modifyTimestamp>=20260304050607Z)(!(modifyTimestamp=20260304050607Z)))", Some(false));
        check("(modifyTimestamp=20260304050607.000Z)", Some(true));
        // Not a generalized time: Undefined, which matches nothing.
        check("(modifyTimestamp>=yesterday)", None);
        check("(modifyTimestamp>=20260304050607)", None);
        check("(modifyTimestamp>=20261304050607Z)", None);
        assert_eq!(generalized_time("19700101000000Z"), Some(0));
        assert_eq!(generalized_time("19700101000060Z"), Some(60_000_000_000));
    }
}
