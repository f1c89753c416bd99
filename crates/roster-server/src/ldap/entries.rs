//! Roster's users and groups as LDAP entries (the attribute mapping, in one
//! place), the fixed entries of the tree and the root DSE, and the
//! selection of attributes a search asks for (`1.1`, `*`, `+`, names).
//!
//! A user or group read anonymously (`public_user_entry`,
//! `public_group_entry`) is built from the core's public shape, so it can
//! carry nothing the core did not make public.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use ldap3_proto::proto::{LdapFilter, LdapPartialAttribute, LdapSearchResultEntry};
use roster_core::{Group, GroupId, MemberNames, PublicGroup, PublicUser, User, UserId};
use time::OffsetDateTime;

use super::dn::{self, SUBSCHEMA_DN, Tree};
use super::filter;

/// OIDs this server announces in the root DSE.
pub const PAGED_RESULTS_OID: &str = "1.2.840.113556.1.4.319";
pub const WHOAMI_OID: &str = "1.3.6.1.4.1.4203.1.11.3";
/// StartTLS (RFC 4511 §4.14), announced only when TLS is configured.
pub const STARTTLS_OID: &str = "1.3.6.1.4.1.1466.20037";
pub const MANAGE_DSA_IT_OID: &str = "2.16.840.1.113730.3.4.2";
/// LDAP_MATCHING_RULE_IN_CHAIN (Active Directory): membership at any depth.
pub const IN_CHAIN_OID: &str = "1.2.840.113556.1.4.1941";

/// What an entry stands for, so filters on membership at any depth can be
/// answered by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    User(UserId),
    Group(GroupId),
    Fixed,
}

/// How an attribute's values compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// Case-insensitive strings.
    Text,
    /// DNs, compared normalised.
    Dn,
    Integer,
    /// Generalized time (RFC 4517 §3.3.13), compared as instants.
    Time,
}

/// The syntax of an attribute, by its name in lower case.
pub fn syntax(name: &str) -> Syntax {
    match name {
        "member" | "uniquemember" | "memberof" | "entrydn" | "namingcontexts" | "subschemasubentry" => Syntax::Dn,
        "uidnumber" | "gidnumber" | "supportedldapversion" => Syntax::Integer,
        "createtimestamp" | "modifytimestamp" => Syntax::Time,
        _ => Syntax::Text,
    }
}

#[derive(Clone, Debug)]
pub struct Attr {
    pub name: &'static str,
    pub operational: bool,
    pub values: Values,
}

/// An attribute's values: strings, or a group's direct members by name,
/// written as DNs (or bare uids) only where they are read. A 1 000-member
/// group's `member` then costs no string per value on its way to the
/// client: `encode` writes each DN from the name the index keeps.
#[derive(Clone, Debug)]
pub enum Values {
    Text(Vec<String>),
    Members(MemberValues),
}

impl Values {
    /// The values as strings (a group's member DNs written out on first use).
    pub fn as_strings(&self) -> &[String] {
        match self {
            Self::Text(v) => v,
            Self::Members(m) => m.text.get_or_init(|| {
                let mut out = Vec::with_capacity(m.len());
                m.each(|v| out.push(v.to_string()));
                out
            }),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Self::Text(v) => v.is_empty(),
            Self::Members(m) => m.len() == 0,
        }
    }
}

/// A group's direct members by name, as the values of `member` and
/// `uniqueMember` (`parents`: users' DNs, then nested groups') or
/// `memberUid` (users' names alone).
#[derive(Clone, Debug)]
pub struct MemberValues {
    names: Arc<MemberNames>,
    /// `ou=people,BASE` and `ou=groups,BASE`; `None`: bare user names.
    parents: Option<(Arc<str>, Arc<str>)>,
    text: OnceLock<Vec<String>>,
}

/// One value of an attribute, as the encoder writes it.
#[derive(Clone, Copy, Debug)]
pub enum Value<'a> {
    Text(&'a str),
    /// `ATTR=ESCAPED(value),PARENT`.
    Dn {
        attr: &'static str,
        value: &'a str,
        parent: &'a str,
    },
}

impl Value<'_> {
    /// The length of the value as written, in bytes.
    pub fn len(&self) -> usize {
        match self {
            Self::Text(t) => t.len(),
            Self::Dn { attr, value, parent } => attr.len() + dn::escaped(value).len() + 1 + parent.len(),
        }
    }
}

impl std::fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Text(t) => f.write_str(t),
            Self::Dn { attr, value, parent } => write!(f, "{attr}{},{parent}", dn::escaped(value)),
        }
    }
}

impl MemberValues {
    pub fn dns(names: Arc<MemberNames>, tree: &Tree) -> Self {
        Self { names, parents: Some(tree.parents_text()), text: OnceLock::new() }
    }

    pub fn uids(names: Arc<MemberNames>) -> Self {
        Self { names, parents: None, text: OnceLock::new() }
    }

    pub fn len(&self) -> usize {
        match self.parents {
            Some(_) => self.names.users.len() + self.names.groups.len(),
            None => self.names.users.len(),
        }
    }

    /// Each value in order.
    pub fn each<'a>(&'a self, mut f: impl FnMut(Value<'a>)) {
        match &self.parents {
            Some((people, groups)) => {
                for u in &self.names.users {
                    f(Value::Dn { attr: "uid=", value: u, parent: people });
                }
                for g in &self.names.groups {
                    f(Value::Dn { attr: "cn=", value: g, parent: groups });
                }
            }
            None => self.names.users.iter().for_each(|u| f(Value::Text(u))),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub dn: String,
    pub subject: Subject,
    pub attrs: Vec<Attr>,
}

impl Entry {
    pub(crate) fn new(dn: String, subject: Subject) -> Self {
        Self { dn, subject, attrs: Vec::new() }
    }

    pub(crate) fn put(&mut self, name: &'static str, values: Vec<String>) {
        self.put_values(name, Values::Text(values));
    }

    fn put_values(&mut self, name: &'static str, values: Values) {
        if !values.is_empty() {
            self.attrs.push(Attr { name, operational: false, values });
        }
    }

    pub(crate) fn put_operational(&mut self, name: &'static str, values: Vec<String>) {
        self.attrs.push(Attr { name, operational: true, values: Values::Text(values) });
    }

    /// `entryDN` and `subschemaSubentry`, which every entry below the root
    /// DSE carries.
    fn put_names(&mut self) {
        self.put_operational("entryDN", one(self.dn.clone()));
        self.put_operational("subschemaSubentry", one(SUBSCHEMA_DN));
    }

    /// The values of an attribute named in any case (`None`: the entry has
    /// no such attribute).
    pub fn get(&self, name: &str) -> Option<&[String]> {
        self.attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name)).map(|a| a.values.as_strings())
    }

    /// The entry as sent: the attributes `selection` picks. It consumes
    /// the entry, so each value moves into the answer uncopied.
    pub fn render(self, selection: &Selection, types_only: bool) -> Rendered {
        let root = self.dn.is_empty();
        let attributes = self
            .attrs
            .into_iter()
            .filter(|a| selection.wants(a.name, a.operational) || (root && selection.wants(a.name, false)))
            .map(|a| RenderedAttr {
                name: selection.spelling(a.name).to_owned(),
                values: if types_only { Values::Text(Vec::new()) } else { a.values },
            })
            .collect();
        Rendered { dn: self.dn, attributes }
    }
}

/// A search result entry as it goes to the client: `encode` writes it,
/// byte for byte as `ldap3_proto` would write [`Rendered::into_proto`].
#[derive(Clone, Debug)]
pub struct Rendered {
    pub dn: String,
    pub attributes: Vec<RenderedAttr>,
}

#[derive(Clone, Debug)]
pub struct RenderedAttr {
    /// As the client spelled it.
    pub name: String,
    pub values: Values,
}

impl Rendered {
    /// The same entry as `ldap3_proto`'s type, each value its own buffer.
    pub fn into_proto(self) -> LdapSearchResultEntry {
        let attributes = self
            .attributes
            .into_iter()
            .map(|a| LdapPartialAttribute {
                atype: a.name,
                vals: match a.values {
                    Values::Text(v) => v.into_iter().map(String::into_bytes).collect(),
                    Values::Members(m) => {
                        let mut vals = Vec::with_capacity(m.len());
                        m.each(|v| vals.push(v.to_string().into_bytes()));
                        vals
                    }
                },
            })
            .collect();
        LdapSearchResultEntry { dn: self.dn, attributes }
    }
}

/// The attributes a search looks at: those its filter tests and those it
/// returns. A user or group entry is built with these alone, since its
/// timestamps, UUID and classes cost more to write than the `cn` or
/// `member` most searches ask for.
#[derive(Clone, Debug, Default)]
pub struct Need {
    all: bool,
    user: bool,
    operational: bool,
    /// Names in lower case.
    named: Vec<String>,
}

impl Need {
    /// Every attribute (a Compare, the fixed entries, tests).
    pub const ALL: Need = Need { all: true, user: true, operational: true, named: Vec::new() };

    pub fn of(selection: &Selection, filter: &LdapFilter) -> Self {
        let mut used = HashSet::new();
        if !filter::attributes(filter, &mut used) {
            return Self::ALL;
        }
        let mut named: Vec<String> = selection.named.keys().cloned().collect();
        named.extend(used.into_iter().filter(|a| !selection.named.contains_key(a)));
        Self { all: false, user: selection.user, operational: selection.operational, named }
    }

    pub fn wants(&self, name: &str, operational: bool) -> bool {
        self.all
            || (if operational { self.operational } else { self.user })
            || self.named.iter().any(|n| n.eq_ignore_ascii_case(name))
    }
}

/// An entry being built: each attribute is written only when needed.
struct Builder<'n> {
    e: Entry,
    need: &'n Need,
}

impl Builder<'_> {
    fn put(&mut self, name: &'static str, values: impl FnOnce() -> Vec<String>) {
        if self.need.wants(name, false) {
            self.e.put(name, values());
        }
    }

    fn put_operational(&mut self, name: &'static str, values: impl FnOnce() -> Vec<String>) {
        if self.need.wants(name, true) {
            self.e.put_operational(name, values());
        }
    }

    /// [`Entry::put_names`], when either name is needed.
    fn put_names(&mut self) {
        if self.need.wants("entryDN", true) || self.need.wants("subschemaSubentry", true) {
            self.e.put_names();
        }
    }
}

/// The attributes a search asked for.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    user: bool,
    operational: bool,
    /// Names asked for, in lower case, each with the spelling the client used.
    named: HashMap<String, String>,
}

impl Selection {
    pub fn parse(attrs: &[String]) -> Self {
        let mut s = Self::default();
        for a in attrs {
            match a.trim() {
                "1.1" => {}
                "*" => s.user = true,
                "+" => s.operational = true,
                name => {
                    s.named.entry(name.to_ascii_lowercase()).or_insert_with(|| name.to_owned());
                }
            }
        }
        // No list (or an empty one) means every user attribute; `1.1` alone, none.
        if attrs.is_empty() {
            s.user = true;
        }
        s
    }

    pub fn wants(&self, name: &str, operational: bool) -> bool {
        (if operational { self.operational } else { self.user }) || self.named.contains_key(&name.to_ascii_lowercase())
    }

    /// How an attribute is named in an answer: as the client spelled it
    /// when it asked by name, else as the schema does. Attribute names are
    /// case-insensitive, yet some clients look values up by the exact name
    /// in their settings (go-ldap's `GetAttributeValue`, used by Gitea and
    /// by Grafana before 9.3).
    pub fn spelling<'a>(&'a self, name: &'a str) -> &'a str {
        self.named.get(&name.to_ascii_lowercase()).map_or(name, String::as_str)
    }
}

/// The first POSIX id handed out: ids below it belong to the local system
/// accounts of the machines that read the directory (SSSD, nss-pam-ldapd).
const POSIX_ID_BASE: i64 = 10_000;

/// A user's `uidNumber`, also the `gidNumber` of their private group. Users
/// and groups are numbered by separate counters, so their ids are
/// interleaved (users even, groups odd) and never collide: a user's
/// `gidNumber` names no group but their own, as `auto_private_groups`
/// expects.
fn user_posix_id(num: i64) -> i64 {
    POSIX_ID_BASE + 2 * num
}

/// A group's `gidNumber` (see [`user_posix_id`]).
fn group_posix_id(num: i64) -> i64 {
    POSIX_ID_BASE + 2 * num + 1
}

/// The user `num` a `uidNumber` (or a user's `gidNumber`) stands for;
/// `None` for a number no user has.
pub fn user_num_of(posix_id: i64) -> Option<i64> {
    let d = posix_id.checked_sub(POSIX_ID_BASE)?;
    (d >= 0 && d % 2 == 0).then_some(d / 2)
}

/// The group `num` a group's `gidNumber` stands for.
pub fn group_num_of(posix_id: i64) -> Option<i64> {
    let d = posix_id.checked_sub(POSIX_ID_BASE + 1)?;
    (d >= 0 && d % 2 == 0).then_some(d / 2)
}

/// Generalized time (RFC 4517 §3.3.13), in UTC.
fn generalized(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{:04}{:02}{:02}{:02}{:02}{:02}Z", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second())
}

fn one(value: impl Into<String>) -> Vec<String> {
    vec![value.into()]
}

fn opt(value: Option<&str>) -> Vec<String> {
    value.filter(|v| !v.is_empty()).map(|v| vec![v.to_owned()]).unwrap_or_default()
}

const USER_CLASSES: [&str; 5] = ["top", "person", "organizationalPerson", "inetOrgPerson", "posixAccount"];
const GROUP_CLASSES: [&str; 4] = ["top", "groupOfNames", "groupOfUniqueNames", "posixGroup"];

/// A user as `uid=NAME,ou=people,BASE`, with the attributes `need` names.
/// `member_of`: the DNs of the user's direct groups the caller may see,
/// when asked for.
pub fn user_entry(tree: &Tree, u: &User, member_of: Option<Vec<String>>, need: &Need) -> Entry {
    let mut b = Builder { e: Entry::new(tree.user_dn(&u.username), Subject::User(u.id)), need };
    b.put("objectClass", || USER_CLASSES.map(String::from).to_vec());
    b.put("uid", || one(&u.username));
    b.put("cn", || one(u.full_name()));
    // `sn` is required by `person`: the username stands in when unknown.
    b.put("sn", || one(u.last_name.clone().filter(|l| !l.is_empty()).unwrap_or_else(|| u.username.clone())));
    b.put("givenName", || opt(u.first_name.as_deref()));
    // Always present, as `cn`: Nextcloud names users by `displayName` and
    // skips every entry without one.
    b.put("displayName", || one(u.full_name()));
    b.put("mail", || opt(u.email.as_deref()));
    for name in ["uidNumber", "gidNumber"] {
        b.put(name, || one(user_posix_id(u.num).to_string()));
    }
    b.put("homeDirectory", || one(format!("/home/{}", u.username)));
    if let Some(groups) = member_of {
        b.put("memberOf", || groups);
    }
    b.put_operational("entryUUID", || one(u.id.0.to_string()));
    b.put_operational("createTimestamp", || one(generalized(u.created_at)));
    b.put_operational("modifyTimestamp", || one(generalized(u.updated_at)));
    b.put_names();
    b.e
}

/// A user read anonymously: the public subset the core hands out, as
/// name-service lookups need it (`uid`, `cn`, `uidNumber`, `gidNumber`,
/// `homeDirectory`, the classes, `memberOf` when asked for); no `mail`,
/// no other names, no `entryUUID` or timestamps.
pub fn public_user_entry(tree: &Tree, u: &PublicUser, member_of: Option<Vec<String>>, need: &Need) -> Entry {
    let mut b = Builder { e: Entry::new(tree.user_dn(&u.username), Subject::User(u.id)), need };
    b.put("objectClass", || USER_CLASSES.map(String::from).to_vec());
    b.put("uid", || one(&u.username));
    b.put("cn", || one(&u.full_name));
    for name in ["uidNumber", "gidNumber"] {
        b.put(name, || one(user_posix_id(u.num).to_string()));
    }
    b.put("homeDirectory", || one(format!("/home/{}", u.username)));
    if let Some(groups) = member_of {
        b.put("memberOf", || groups);
    }
    b.put_names();
    b.e
}

/// The direct members of a group, by name, and which member attributes
/// to write.
pub struct Members {
    pub names: Arc<MemberNames>,
    pub attrs: MemberAttrs,
}

/// Which member attributes a group's entry carries: those the search's
/// filter or attribute list use. A 1 000-member group has 3 000 values in
/// all three; building the ones nobody reads was most of such a search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberAttrs {
    pub member: bool,
    pub unique_member: bool,
    pub member_uid: bool,
}

impl MemberAttrs {
    pub const ALL: Self = Self { member: true, unique_member: true, member_uid: true };

    /// The attributes `wants` (given a lower-case name) asks for.
    pub fn wanted(wants: impl Fn(&str) -> bool) -> Self {
        Self { member: wants("member"), unique_member: wants("uniquemember"), member_uid: wants("memberuid") }
    }

    pub fn any(self) -> bool {
        self.member || self.unique_member || self.member_uid
    }
}

/// A group as `cn=NAME,ou=groups,BASE`, with the attributes `need` names
/// (its members when asked for).
pub fn group_entry(
    tree: &Tree,
    g: &Group,
    members: Option<Members>,
    member_of: Option<Vec<String>>,
    need: &Need,
) -> Entry {
    let mut b = Builder { e: Entry::new(tree.group_dn(&g.name), Subject::Group(g.id)), need };
    b.put("objectClass", || GROUP_CLASSES.map(String::from).to_vec());
    b.put("cn", || one(&g.name));
    b.put("description", || opt(g.description.as_deref()));
    b.put("gidNumber", || one(group_posix_id(g.num).to_string()));
    put_members(&mut b.e, tree, members);
    if let Some(parents) = member_of {
        b.put("memberOf", || parents);
    }
    b.put_operational("entryUUID", || one(g.id.0.to_string()));
    b.put_operational("createTimestamp", || one(generalized(g.created_at)));
    b.put_operational("modifyTimestamp", || one(generalized(g.updated_at)));
    b.put_names();
    b.e
}

/// A group read anonymously: `cn`, `gidNumber`, the classes and its
/// members when asked for; no `description`, `entryUUID` or timestamps.
pub fn public_group_entry(tree: &Tree, g: &PublicGroup, members: Option<Members>, need: &Need) -> Entry {
    let mut b = Builder { e: Entry::new(tree.group_dn(&g.name), Subject::Group(g.id)), need };
    b.put("objectClass", || GROUP_CLASSES.map(String::from).to_vec());
    b.put("cn", || one(&g.name));
    b.put("gidNumber", || one(group_posix_id(g.num).to_string()));
    put_members(&mut b.e, tree, members);
    b.put_names();
    b.e
}

/// `member`, `uniqueMember` (users and nested groups) and `memberUid`
/// (users), written out only on their way to the client.
fn put_members(e: &mut Entry, tree: &Tree, members: Option<Members>) {
    let Some(m) = members else { return };
    let a = m.attrs;
    if a.member || a.unique_member {
        let dns = MemberValues::dns(m.names.clone(), tree);
        if a.member {
            e.put_values("member", Values::Members(dns.clone()));
        }
        if a.unique_member {
            e.put_values("uniqueMember", Values::Members(dns));
        }
    }
    if a.member_uid {
        e.put_values("memberUid", Values::Members(MemberValues::uids(m.names)));
    }
}

/// The naming context's own entry.
pub fn base_entry(tree: &Tree) -> Entry {
    let mut e = Entry::new(tree.base().to_string(), Subject::Fixed);
    e.put("objectClass", ["top", "dcObject", "organization"].map(String::from).to_vec());
    if let Some((attr, value)) = tree.base().rdn() {
        let name: &'static str = match attr {
            "dc" => "dc",
            "o" => "o",
            "ou" => "ou",
            _ => "cn",
        };
        e.put(name, one(value));
        if name != "o" {
            e.put("o", one(value));
        }
    }
    e.put_names();
    e
}

/// `ou=people` or `ou=groups`.
pub fn unit_entry(dn: String, ou: &str) -> Entry {
    let mut e = Entry::new(dn, Subject::Fixed);
    e.put("objectClass", ["top", "organizationalUnit"].map(String::from).to_vec());
    e.put("ou", one(ou));
    e.put_names();
    e
}

/// The root DSE (RFC 4512 §5.1), readable before a bind. Its attributes
/// are operational, but are also sent for `*` or no list (`render`): what
/// `ldapsearch -b "" -s base` users expect to see. StartTLS is announced
/// only when the server has a certificate (`starttls`).
pub fn root_dse(tree: &Tree, starttls: bool) -> Entry {
    let mut e = Entry::new(String::new(), Subject::Fixed);
    e.put("objectClass", one("top"));
    e.put_operational("namingContexts", one(tree.base().to_string()));
    e.put_operational("subschemaSubentry", one(SUBSCHEMA_DN));
    e.put_operational("supportedLDAPVersion", one("3"));
    e.put_operational("supportedControl", vec![PAGED_RESULTS_OID.to_owned(), MANAGE_DSA_IT_OID.to_owned()]);
    let mut extensions = vec![WHOAMI_OID.to_owned()];
    if starttls {
        extensions.push(STARTTLS_OID.to_owned());
    }
    e.put_operational("supportedExtension", extensions);
    // Attribute lists with `+` and `*` (RFC 3673, RFC 4529).
    e.put_operational(
        "supportedFeatures",
        vec!["1.3.6.1.4.1.4203.1.5.1".to_owned(), "1.3.6.1.4.1.4203.1.5.2".to_owned()],
    );
    e.put_operational("vendorName", one("Roster"));
    e.put_operational("vendorVersion", one(env!("CARGO_PKG_VERSION")));
    e
}
