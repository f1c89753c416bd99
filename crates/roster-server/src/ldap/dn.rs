//! Distinguished names (RFC 4514): parsing, escaping, comparison, and where
//! a DN falls in Roster's tree:
//!
//! ```text
//! cn=Subschema                 the subschema entry (RFC 4512 §4.2), outside it
//! BASE                         the naming context (e.g. dc=roster,dc=local)
//! ├── ou=people,BASE           uid=NAME,ou=people,BASE: one entry per user
//! └── ou=groups,BASE           cn=NAME,ou=groups,BASE: one entry per group
//! ```
//!
//! Attribute types compare ignoring case; values compare after unescaping,
//! trimming and case folding (every naming attribute here is a
//! case-insensitive string).

use std::borrow::Cow;
use std::sync::Arc;

use super::error::LdapError;

/// The DN of the subschema entry, as the root DSE and every entry name it
/// (`subschemaSubentry`), spelled as OpenLDAP does.
pub const SUBSCHEMA_DN: &str = "cn=Subschema";

/// A parsed DN: its RDNs from the entry up, each (type in lower case, value
/// unescaped). Multi-valued RDNs (`a=1+b=2`) are refused: no entry here has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dn(Vec<(String, String)>);

impl Dn {
    pub fn parse(text: &str) -> Result<Self, LdapError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Self(Vec::new()));
        }
        let bad = |why: &str| LdapError::InvalidDn(why.to_owned());
        let mut rdns = Vec::new();
        let mut chars = text.chars().peekable();
        loop {
            let mut attr = String::new();
            loop {
                match chars.next() {
                    Some('=') => break,
                    Some(c) if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == ' ' => attr.push(c),
                    _ => return Err(bad("expected attribute=value")),
                }
            }
            let attr = attr.trim().to_ascii_lowercase();
            if attr.is_empty() {
                return Err(bad("empty attribute type"));
            }
            let mut value = String::new();
            // Trailing unescaped spaces are not part of the value.
            let mut kept = 0;
            let mut ended = false;
            while let Some(c) = chars.next() {
                match c {
                    ',' | ';' => {
                        ended = true;
                        break;
                    }
                    '+' => return Err(bad("multi-valued RDNs are not supported")),
                    '\\' => {
                        let escaped = match chars.next() {
                            Some(h) if h.is_ascii_hexdigit() => {
                                let lo =
                                    chars.next().filter(char::is_ascii_hexdigit).ok_or_else(|| bad("bad escape"))?;
                                let byte =
                                    u8::from_str_radix(&format!("{h}{lo}"), 16).map_err(|_| bad("bad escape"))?;
                                // Multi-byte UTF-8 arrives as several escapes.
                                let mut bytes = vec![byte];
                                while byte >= 0x80 && chars.peek() == Some(&'\\') {
                                    let mut ahead = chars.clone();
                                    ahead.next();
                                    let (Some(a), Some(b)) = (ahead.next(), ahead.next()) else { break };
                                    let Ok(next) = u8::from_str_radix(&format!("{a}{b}"), 16) else { break };
                                    if next < 0x80 {
                                        break;
                                    }
                                    bytes.push(next);
                                    chars = ahead;
                                    if std::str::from_utf8(&bytes).is_ok() {
                                        break;
                                    }
                                }
                                String::from_utf8(bytes).map_err(|_| bad("bad escape"))?
                            }
                            Some(c) => c.to_string(),
                            None => return Err(bad("dangling escape")),
                        };
                        value.push_str(&escaped);
                        kept = value.len();
                    }
                    ' ' if value.is_empty() => {}
                    c => {
                        value.push(c);
                        if c != ' ' {
                            kept = value.len();
                        }
                    }
                }
            }
            value.truncate(kept);
            rdns.push((attr, value));
            if !ended {
                break;
            }
        }
        Ok(Self(rdns))
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The first RDN (type, value).
    pub fn rdn(&self) -> Option<(&str, &str)> {
        self.0.first().map(|(a, v)| (a.as_str(), v.as_str()))
    }

    /// The DN without its first RDN.
    pub fn parent(&self) -> Self {
        Self(self.0.iter().skip(1).cloned().collect())
    }

    fn child(&self, attr: &str, value: &str) -> Self {
        let mut rdns = vec![(attr.to_owned(), value.to_owned())];
        rdns.extend(self.0.iter().cloned());
        Self(rdns)
    }

    /// The form two DNs are compared in.
    pub fn normalized(&self) -> String {
        self.0.iter().map(|(a, v)| format!("{a}={}", escape(&v.to_lowercase()))).collect::<Vec<_>>().join(",")
    }

    /// Whether `self` is `other` or below it.
    pub fn is_within(&self, other: &Dn) -> bool {
        let n = other.0.len();
        self.0.len() >= n && same_rdns(&self.0[self.0.len() - n..], &other.0)
    }
}

impl std::fmt::Display for Dn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.0.iter().map(|(a, v)| format!("{a}={}", escape(v))).collect::<Vec<_>>().join(",");
        f.write_str(&text)
    }
}

fn same_rdns(a: &[(String, String)], b: &[(String, String)]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|((ta, va), (tb, vb))| ta == tb && va.to_lowercase() == vb.to_lowercase())
}

/// Escapes an attribute value for a DN string (RFC 4514 §2.4).
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    escape_into(&mut out, value);
    out
}

/// [`escape`], borrowed when nothing needs escaping (most names): what the
/// encoder writes a member's DN from without a buffer of its own.
pub fn escaped(value: &str) -> Cow<'_, str> {
    if is_plain(value) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 2);
    escape_into(&mut out, value);
    Cow::Owned(out)
}

/// The bytes escaped wherever they stand in a value (RFC 4514 §2.4), as
/// a table: a 1 000-member group's values are each looked at twice on
/// their way out (their length, then their bytes), and a lookup a byte
/// without a branch is what keeps that cheap.
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    let specials = *b",+\"\\<>;=\0";
    while i < specials.len() {
        t[specials[i] as usize] = true;
        i += 1;
    }
    t
};

/// Whether a value goes into a DN as it is (RFC 4514 §2.4).
fn is_plain(value: &str) -> bool {
    let bytes = value.as_bytes();
    let special = bytes.iter().fold(false, |any, b| any | SPECIAL[usize::from(*b)]);
    !special && !matches!(bytes.first(), Some(b'#' | b' ')) && bytes.last() != Some(&b' ')
}

/// [`escape`], appended to `out`: one copy when nothing needs escaping
/// (most names), so a 1 000-member group's DNs cost a buffer each.
fn escape_into(out: &mut String, value: &str) {
    if is_plain(value) {
        out.push_str(value);
        return;
    }
    let last = value.len().saturating_sub(1);
    for (i, c) in value.char_indices() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' | ' ' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            ' ' if i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
}

/// `ATTR=VALUE,PARENT`, in one buffer of the right size (an escaped value
/// may grow it once).
fn child_dn(attr: &str, value: &str, parent: &str) -> String {
    let mut out = String::with_capacity(attr.len() + value.len() + 1 + parent.len());
    out.push_str(attr);
    escape_into(&mut out, value);
    out.push(',');
    out.push_str(parent);
    out
}

/// Where a DN falls in the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    RootDse,
    /// The subschema entry, `cn=Subschema`.
    Subschema,
    Base,
    People,
    Groups,
    /// `uid=NAME,ou=people,BASE`.
    User(String),
    /// `cn=NAME,ou=groups,BASE`.
    Group(String),
    /// Not an entry this server holds; `matched` is the nearest one above
    /// it that is (empty when none).
    Outside {
        matched: String,
    },
}

/// The tree under one base DN.
#[derive(Clone, Debug)]
pub struct Tree {
    base: Dn,
    people: Dn,
    groups: Dn,
    /// `people` and `groups` as text, made once: every entry's DN (and
    /// every value of `member`, a thousand for a big group) ends with one.
    people_text: Arc<str>,
    groups_text: Arc<str>,
}

impl Tree {
    pub fn new(base: &str) -> Result<Self, LdapError> {
        let base = Dn::parse(base)?;
        if base.is_root() {
            return Err(LdapError::InvalidDn("the base DN must not be empty".to_owned()));
        }
        let people = base.child("ou", "people");
        let groups = base.child("ou", "groups");
        let (people_text, groups_text) = (Arc::from(people.to_string()), Arc::from(groups.to_string()));
        Ok(Self { base, people, groups, people_text, groups_text })
    }

    pub fn base(&self) -> &Dn {
        &self.base
    }

    pub fn people(&self) -> &Dn {
        &self.people
    }

    pub fn groups(&self) -> &Dn {
        &self.groups
    }

    /// `ou=people,BASE` and `ou=groups,BASE` as text, shared: what a
    /// group's member values are written under.
    pub fn parents_text(&self) -> (Arc<str>, Arc<str>) {
        (self.people_text.clone(), self.groups_text.clone())
    }

    /// `uid=NAME,ou=people,BASE`, as `Dn`'s `Display` writes it.
    pub fn user_dn(&self, username: &str) -> String {
        child_dn("uid=", username, &self.people_text)
    }

    /// `cn=NAME,ou=groups,BASE`, as `Dn`'s `Display` writes it.
    pub fn group_dn(&self, name: &str) -> String {
        child_dn("cn=", name, &self.groups_text)
    }

    pub fn place(&self, dn: &Dn) -> Place {
        if dn.is_root() {
            return Place::RootDse;
        }
        if same_rdns(&dn.0, &[("cn".to_owned(), "subschema".to_owned())]) {
            return Place::Subschema;
        }
        if !dn.is_within(&self.base) {
            return Place::Outside { matched: String::new() };
        }
        let depth = dn.0.len() - self.base.0.len();
        let parent = dn.parent();
        let (attr, value) = dn.rdn().unwrap_or_default();
        match depth {
            0 => Place::Base,
            1 if same_rdns(&dn.0, &self.people.0) => Place::People,
            1 if same_rdns(&dn.0, &self.groups.0) => Place::Groups,
            2 if same_rdns(&parent.0, &self.people.0) && attr == "uid" => Place::User(value.to_owned()),
            2 if same_rdns(&parent.0, &self.groups.0) && attr == "cn" => Place::Group(value.to_owned()),
            _ => Place::Outside { matched: self.nearest(dn) },
        }
    }

    /// The deepest entry of the fixed tree that holds `dn` (for matchedDN).
    fn nearest(&self, dn: &Dn) -> String {
        for fixed in [&self.people, &self.groups] {
            if dn.is_within(fixed) {
                return fixed.to_string();
            }
        }
        self.base.to_string()
    }

    /// The username a bind DN names: `uid=NAME,ou=people,BASE`, or a bare
    /// `NAME` (what many applications put in a "bind user" setting).
    pub fn bind_username(&self, dn: &str) -> Option<String> {
        if !dn.contains('=') {
            let name = dn.trim();
            return (!name.is_empty()).then(|| name.to_owned());
        }
        match self.place(&Dn::parse(dn).ok()?) {
            Place::User(name) => Some(name),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(dn: &str, expected: Place) {
        let tree = Tree::new("dc=roster,dc=local").unwrap();
        assert_eq!(tree.place(&Dn::parse(dn).unwrap()), expected, "{dn}");
    }

    #[test]
    fn places() {
        check("", Place::RootDse);
        check("CN=subSchema", Place::Subschema);
        check(" cn = Subschema ", Place::Subschema);
        check("DC=Roster, dc=LOCAL", Place::Base);
        check("ou=People,dc=roster,dc=local", Place::People);
        check("ou=groups,dc=roster,dc=local", Place::Groups);
        check("uid=Ann,ou=people,dc=roster,dc=local", Place::User("Ann".into()));
        check("cn=a\\2cb\\, c,ou=groups,dc=roster,dc=local", Place::Group("a,b, c".into()));
        check("cn=caf\\c3\\a9,ou=groups,dc=roster,dc=local", Place::Group("café".into()));
        check("cn=x,ou=people,dc=roster,dc=local", Place::Outside { matched: "ou=people,dc=roster,dc=local".into() });
        check("dc=other", Place::Outside { matched: String::new() });
    }

    #[test]
    fn escapes_round_trip() {
        let tree = Tree::new("dc=roster,dc=local").unwrap();
        for name in ["ann", "a,b", " lead", "trail ", "#x", "é ü", "é ", " ", "n\0l", "plain.name-1"] {
            assert_eq!(tree.user_dn(name), tree.people().child("uid", name).to_string());
            assert_eq!(tree.group_dn(name), tree.groups().child("cn", name).to_string());
        }
        for name in ["a,b", " lead", "trail ", "#x", "q\"u+o=t<e>;\\"] {
            let dn = tree.group_dn(name);
            assert_eq!(tree.place(&Dn::parse(&dn).unwrap()), Place::Group(name.into()), "{dn}");
        }
    }

    #[test]
    fn refuses_malformed() {
        for dn in ["uid", "=x", "a=b+c=d", "a=\\"] {
            assert!(Dn::parse(dn).is_err(), "{dn}");
        }
    }
}
