//! The subschema entry (RFC 4512 §4.2): the object classes, attribute
//! types, matching rules and syntaxes of everything this tree serves, with
//! their standard OIDs (RFC 4512, 4517, 4519, 4524, 4530, 2798, 2307bis,
//! 3045, 5020), in RFC 4512's description syntax. Schema browsers (Apache
//! Directory Studio) and clients that read types from the schema (the
//! Python `ldap3` library) ask for it. Kept to what is served: a class
//! names only attribute types defined here, and a unit test holds every
//! attribute an entry carries to a definition.

use super::dn::SUBSCHEMA_DN;
use super::entries::{Entry, Subject};

/// RFC 4517 syntaxes, and UUID (RFC 4530).
const SYNTAXES: &[(&str, &str)] = &[
    ("1.3.6.1.4.1.1466.115.121.1.3", "Attribute Type Description"),
    ("1.3.6.1.4.1.1466.115.121.1.12", "DN"),
    ("1.3.6.1.4.1.1466.115.121.1.15", "Directory String"),
    ("1.3.6.1.4.1.1466.115.121.1.24", "Generalized Time"),
    ("1.3.6.1.4.1.1466.115.121.1.26", "IA5 String"),
    ("1.3.6.1.4.1.1466.115.121.1.27", "INTEGER"),
    ("1.3.6.1.4.1.1466.115.121.1.30", "Matching Rule Description"),
    ("1.3.6.1.4.1.1466.115.121.1.34", "Name And Optional UID"),
    ("1.3.6.1.4.1.1466.115.121.1.37", "Object Class Description"),
    ("1.3.6.1.4.1.1466.115.121.1.38", "OID"),
    ("1.3.6.1.4.1.1466.115.121.1.54", "LDAP Syntax Description"),
    ("1.3.6.1.4.1.1466.115.121.1.58", "Substring Assertion"),
    ("1.3.6.1.1.16.1", "UUID"),
];

const DN: &str = "1.3.6.1.4.1.1466.115.121.1.12";
const DIRECTORY_STRING: &str = "1.3.6.1.4.1.1466.115.121.1.15";
const GENERALIZED_TIME: &str = "1.3.6.1.4.1.1466.115.121.1.24";
const IA5: &str = "1.3.6.1.4.1.1466.115.121.1.26";
const INTEGER: &str = "1.3.6.1.4.1.1466.115.121.1.27";
const OID: &str = "1.3.6.1.4.1.1466.115.121.1.38";

/// Matching rules: (OID, name, syntax).
const MATCHING_RULES: &[(&str, &str, &str)] = &[
    ("2.5.13.0", "objectIdentifierMatch", OID),
    ("2.5.13.1", "distinguishedNameMatch", DN),
    ("2.5.13.2", "caseIgnoreMatch", DIRECTORY_STRING),
    ("2.5.13.3", "caseIgnoreOrderingMatch", DIRECTORY_STRING),
    ("2.5.13.4", "caseIgnoreSubstringsMatch", "1.3.6.1.4.1.1466.115.121.1.58"),
    ("2.5.13.14", "integerMatch", INTEGER),
    ("2.5.13.15", "integerOrderingMatch", INTEGER),
    ("2.5.13.23", "uniqueMemberMatch", "1.3.6.1.4.1.1466.115.121.1.34"),
    ("2.5.13.27", "generalizedTimeMatch", GENERALIZED_TIME),
    ("2.5.13.28", "generalizedTimeOrderingMatch", GENERALIZED_TIME),
    ("2.5.13.30", "objectIdentifierFirstComponentMatch", OID),
    ("1.3.6.1.4.1.1466.109.114.1", "caseExactIA5Match", IA5),
    ("1.3.6.1.4.1.1466.109.114.2", "caseIgnoreIA5Match", IA5),
    ("1.3.6.1.4.1.1466.109.114.3", "caseIgnoreIA5SubstringsMatch", "1.3.6.1.4.1.1466.115.121.1.58"),
    ("1.3.6.1.1.16.2", "uuidMatch", "1.3.6.1.1.16.1"),
    ("1.3.6.1.1.16.3", "uuidOrderingMatch", "1.3.6.1.1.16.1"),
];

/// Where an attribute type is used (RFC 4512 §4.1.2 `USAGE`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Usage {
    User,
    Directory,
    Dsa,
}

/// Whether any entry of the tree can carry an attribute of this name (by
/// any of its names, ignoring case): an equality on one that none can
/// matches nothing.
pub(crate) fn is_known_attribute(name: &str) -> bool {
    ATTRIBUTE_TYPES.iter().any(|t| t.names.iter().any(|n| n.eq_ignore_ascii_case(name)) || t.oid == name)
}

/// An attribute type (RFC 4512 §4.1.2), kept to the fields used here.
struct AttributeType {
    oid: &'static str,
    names: &'static [&'static str],
    sup: Option<&'static str>,
    equality: Option<&'static str>,
    ordering: Option<&'static str>,
    substr: Option<&'static str>,
    syntax: Option<&'static str>,
    single: bool,
    usage: Usage,
}

const fn at(oid: &'static str, names: &'static [&'static str]) -> AttributeType {
    AttributeType {
        oid,
        names,
        sup: None,
        equality: None,
        ordering: None,
        substr: None,
        syntax: None,
        single: false,
        usage: Usage::User,
    }
}

impl AttributeType {
    const fn sup(mut self, sup: &'static str) -> Self {
        self.sup = Some(sup);
        self
    }

    const fn text(mut self, equality: &'static str, substr: Option<&'static str>, syntax: &'static str) -> Self {
        self.equality = Some(equality);
        self.substr = substr;
        self.syntax = Some(syntax);
        self
    }

    const fn ordered(mut self, equality: &'static str, ordering: &'static str, syntax: &'static str) -> Self {
        self.equality = Some(equality);
        self.ordering = Some(ordering);
        self.syntax = Some(syntax);
        self
    }

    const fn syntax(mut self, syntax: &'static str) -> Self {
        self.syntax = Some(syntax);
        self
    }

    const fn single(mut self) -> Self {
        self.single = true;
        self
    }

    const fn usage(mut self, usage: Usage) -> Self {
        self.usage = usage;
        self
    }

    fn description(&self) -> String {
        let mut d = format!("( {} NAME {}", self.oid, qdescrs(self.names));
        for (key, value) in [
            ("SUP", self.sup),
            ("EQUALITY", self.equality),
            ("ORDERING", self.ordering),
            ("SUBSTR", self.substr),
            ("SYNTAX", self.syntax),
        ] {
            if let Some(v) = value {
                d.push_str(&format!(" {key} {v}"));
            }
        }
        if self.single {
            d.push_str(" SINGLE-VALUE");
        }
        match self.usage {
            Usage::User => {}
            Usage::Directory => d.push_str(" NO-USER-MODIFICATION USAGE directoryOperation"),
            Usage::Dsa => d.push_str(" NO-USER-MODIFICATION USAGE dSAOperation"),
        }
        d.push_str(" )");
        d
    }
}

const CASE_IGNORE: &str = "caseIgnoreMatch";
const CASE_IGNORE_SUBSTR: Option<&str> = Some("caseIgnoreSubstringsMatch");
const DN_MATCH: &str = "distinguishedNameMatch";
const OID_FIRST: &str = "objectIdentifierFirstComponentMatch";

/// Every attribute type an entry here carries, and those the classes and
/// other types refer to.
const ATTRIBUTE_TYPES: &[AttributeType] = &[
    at("2.5.4.0", &["objectClass"]).text("objectIdentifierMatch", None, OID),
    at("2.5.4.41", &["name"]).text(CASE_IGNORE, CASE_IGNORE_SUBSTR, DIRECTORY_STRING),
    at("2.5.4.3", &["cn", "commonName"]).sup("name"),
    at("2.5.4.4", &["sn", "surname"]).sup("name"),
    at("2.5.4.42", &["givenName"]).sup("name"),
    at("2.5.4.10", &["o", "organizationName"]).sup("name"),
    at("2.5.4.11", &["ou", "organizationalUnitName"]).sup("name"),
    at("2.5.4.13", &["description"]).text(CASE_IGNORE, CASE_IGNORE_SUBSTR, DIRECTORY_STRING),
    at("2.5.4.49", &["distinguishedName"]).text(DN_MATCH, None, DN),
    at("2.5.4.31", &["member"]).sup("distinguishedName"),
    at("2.5.4.50", &["uniqueMember"]).text("uniqueMemberMatch", None, "1.3.6.1.4.1.1466.115.121.1.34"),
    at("0.9.2342.19200300.100.1.1", &["uid", "userid"]).text(CASE_IGNORE, CASE_IGNORE_SUBSTR, DIRECTORY_STRING),
    at("0.9.2342.19200300.100.1.3", &["mail", "rfc822Mailbox"]).text(
        "caseIgnoreIA5Match",
        Some("caseIgnoreIA5SubstringsMatch"),
        IA5,
    ),
    at("0.9.2342.19200300.100.1.25", &["dc", "domainComponent"])
        .text("caseIgnoreIA5Match", Some("caseIgnoreIA5SubstringsMatch"), IA5)
        .single(),
    at("2.16.840.1.113730.3.1.241", &["displayName"]).text(CASE_IGNORE, CASE_IGNORE_SUBSTR, DIRECTORY_STRING).single(),
    at("1.3.6.1.1.1.1.0", &["uidNumber"]).ordered("integerMatch", "integerOrderingMatch", INTEGER).single(),
    at("1.3.6.1.1.1.1.1", &["gidNumber"]).ordered("integerMatch", "integerOrderingMatch", INTEGER).single(),
    at("1.3.6.1.1.1.1.3", &["homeDirectory"]).text("caseExactIA5Match", None, IA5).single(),
    at("1.3.6.1.1.1.1.12", &["memberUid"]).text("caseExactIA5Match", None, IA5),
    // Active Directory's OID, as OpenLDAP's memberof overlay uses; a user
    // attribute here, sent with `*`.
    at("1.2.840.113556.1.2.102", &["memberOf"]).text(DN_MATCH, None, DN),
    at("1.3.6.1.1.16.4", &["entryUUID"])
        .ordered("uuidMatch", "uuidOrderingMatch", "1.3.6.1.1.16.1")
        .single()
        .usage(Usage::Directory),
    at("2.5.18.1", &["createTimestamp"])
        .ordered("generalizedTimeMatch", "generalizedTimeOrderingMatch", GENERALIZED_TIME)
        .single()
        .usage(Usage::Directory),
    at("2.5.18.2", &["modifyTimestamp"])
        .ordered("generalizedTimeMatch", "generalizedTimeOrderingMatch", GENERALIZED_TIME)
        .single()
        .usage(Usage::Directory),
    at("1.3.6.1.1.20", &["entryDN"]).text(DN_MATCH, None, DN).single().usage(Usage::Directory),
    at("2.5.18.10", &["subschemaSubentry"]).text(DN_MATCH, None, DN).single().usage(Usage::Directory),
    at("2.5.21.4", &["matchingRules"]).text(OID_FIRST, None, "1.3.6.1.4.1.1466.115.121.1.30").usage(Usage::Directory),
    at("2.5.21.5", &["attributeTypes"]).text(OID_FIRST, None, "1.3.6.1.4.1.1466.115.121.1.3").usage(Usage::Directory),
    at("2.5.21.6", &["objectClasses"]).text(OID_FIRST, None, "1.3.6.1.4.1.1466.115.121.1.37").usage(Usage::Directory),
    at("1.3.6.1.4.1.1466.101.120.16", &["ldapSyntaxes"])
        .text(OID_FIRST, None, "1.3.6.1.4.1.1466.115.121.1.54")
        .usage(Usage::Directory),
    at("1.3.6.1.4.1.1466.101.120.5", &["namingContexts"]).syntax(DN).usage(Usage::Dsa),
    at("1.3.6.1.4.1.1466.101.120.7", &["supportedExtension"]).syntax(OID).usage(Usage::Dsa),
    at("1.3.6.1.4.1.1466.101.120.13", &["supportedControl"]).syntax(OID).usage(Usage::Dsa),
    at("1.3.6.1.4.1.1466.101.120.15", &["supportedLDAPVersion"]).syntax(INTEGER).usage(Usage::Dsa),
    at("1.3.6.1.4.1.4203.1.3.5", &["supportedFeatures"]).text("objectIdentifierMatch", None, OID).usage(Usage::Dsa),
    at("1.3.6.1.1.4", &["vendorName"]).text("caseExactIA5Match", None, DIRECTORY_STRING).single().usage(Usage::Dsa),
    at("1.3.6.1.1.5", &["vendorVersion"]).text("caseExactIA5Match", None, DIRECTORY_STRING).single().usage(Usage::Dsa),
];

/// An object class (RFC 4512 §4.1.1): OID, name, superclass, kind, MUST, MAY.
type ObjectClass =
    (&'static str, &'static str, Option<&'static str>, &'static str, &'static [&'static str], &'static [&'static str]);

const OBJECT_CLASSES: &[ObjectClass] = &[
    ("2.5.6.0", "top", None, "ABSTRACT", &["objectClass"], &[]),
    ("2.5.6.6", "person", Some("top"), "STRUCTURAL", &["sn", "cn"], &["description"]),
    ("2.5.6.7", "organizationalPerson", Some("person"), "STRUCTURAL", &[], &["ou"]),
    (
        "2.16.840.1.113730.3.2.2",
        "inetOrgPerson",
        Some("organizationalPerson"),
        "STRUCTURAL",
        &[],
        &["displayName", "givenName", "mail", "uid"],
    ),
    // RFC 2307bis: auxiliary, beside inetOrgPerson.
    (
        "1.3.6.1.1.1.2.0",
        "posixAccount",
        Some("top"),
        "AUXILIARY",
        &["cn", "uid", "uidNumber", "gidNumber", "homeDirectory"],
        &["description"],
    ),
    ("2.5.6.9", "groupOfNames", Some("top"), "STRUCTURAL", &["member", "cn"], &["description", "o", "ou"]),
    ("2.5.6.17", "groupOfUniqueNames", Some("top"), "STRUCTURAL", &["uniqueMember", "cn"], &["description", "o", "ou"]),
    // RFC 2307bis: auxiliary, beside groupOfNames.
    ("1.3.6.1.1.1.2.2", "posixGroup", Some("top"), "AUXILIARY", &["cn", "gidNumber"], &["memberUid", "description"]),
    ("2.5.6.4", "organization", Some("top"), "STRUCTURAL", &["o"], &["description"]),
    ("2.5.6.5", "organizationalUnit", Some("top"), "STRUCTURAL", &["ou"], &["description"]),
    ("1.3.6.1.4.1.1466.344", "dcObject", Some("top"), "AUXILIARY", &["dc"], &[]),
    ("2.5.20.1", "subschema", None, "AUXILIARY", &[], &["objectClasses", "attributeTypes", "matchingRules"]),
    ("1.3.6.1.4.1.1466.101.120.111", "extensibleObject", Some("top"), "AUXILIARY", &[], &[]),
];

/// `'a'` or `( 'a' 'b' )`.
fn qdescrs(names: &[&str]) -> String {
    match names {
        [one] => format!("'{one}'"),
        many => format!("( {} )", many.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(" ")),
    }
}

/// `a` or `( a $ b )`.
fn oids(names: &[&str]) -> String {
    match names {
        [one] => (*one).to_owned(),
        many => format!("( {} )", many.join(" $ ")),
    }
}

fn object_class((oid, name, sup, kind, must, may): &ObjectClass) -> String {
    let mut d = format!("( {oid} NAME '{name}'");
    if let Some(sup) = sup {
        d.push_str(&format!(" SUP {sup}"));
    }
    d.push_str(&format!(" {kind}"));
    if !must.is_empty() {
        d.push_str(&format!(" MUST {}", oids(must)));
    }
    if !may.is_empty() {
        d.push_str(&format!(" MAY {}", oids(may)));
    }
    d.push_str(" )");
    d
}

/// The subschema entry. Its schema attributes are operational: sent when
/// asked for by name or with `+`, as OpenLDAP does.
pub fn subschema_entry() -> Entry {
    let mut e = Entry::new(SUBSCHEMA_DN.to_owned(), Subject::Fixed);
    e.put("objectClass", ["top", "subschema", "extensibleObject"].map(String::from).to_vec());
    e.put("cn", vec!["Subschema".to_owned()]);
    e.put_operational("objectClasses", OBJECT_CLASSES.iter().map(object_class).collect());
    e.put_operational("attributeTypes", ATTRIBUTE_TYPES.iter().map(AttributeType::description).collect());
    e.put_operational(
        "matchingRules",
        MATCHING_RULES.iter().map(|(oid, name, syntax)| format!("( {oid} NAME '{name}' SYNTAX {syntax} )")).collect(),
    );
    e.put_operational("ldapSyntaxes", SYNTAXES.iter().map(|(oid, desc)| format!("( {oid} DESC '{desc}' )")).collect());
    e.put_operational("entryDN", vec![SUBSCHEMA_DN.to_owned()]);
    e.put_operational("subschemaSubentry", vec![SUBSCHEMA_DN.to_owned()]);
    e
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::ldap::dn::Tree;
    use crate::ldap::entries::{self, Members, Need};

    fn lower(s: &str) -> String {
        s.to_ascii_lowercase()
    }

    /// Every name a definition refers to is defined here; every attribute
    /// an entry of this server carries has a type; OIDs are unique.
    #[test]
    fn the_schema_is_closed_over_what_is_served() {
        let types: HashSet<String> = ATTRIBUTE_TYPES.iter().flat_map(|t| t.names.iter().map(|n| lower(n))).collect();
        let rules: HashSet<String> = MATCHING_RULES.iter().map(|(_, n, _)| lower(n)).collect();
        let syntaxes: HashSet<&str> = SYNTAXES.iter().map(|(oid, _)| *oid).collect();
        let classes: HashSet<String> = OBJECT_CLASSES.iter().map(|c| lower(c.1)).collect();
        for t in ATTRIBUTE_TYPES {
            assert!(t.sup.is_some() || t.syntax.is_some(), "{} has no syntax", t.oid);
            if let Some(sup) = t.sup {
                assert!(types.contains(&lower(sup)), "{}: SUP {sup}", t.oid);
            }
            for rule in [t.equality, t.ordering, t.substr].into_iter().flatten() {
                assert!(rules.contains(&lower(rule)), "{}: {rule}", t.oid);
            }
            if let Some(syntax) = t.syntax {
                assert!(syntaxes.contains(syntax), "{}: SYNTAX {syntax}", t.oid);
            }
        }
        for (oid, _, syntax) in MATCHING_RULES {
            assert!(syntaxes.contains(syntax), "{oid}: SYNTAX {syntax}");
        }
        for c in OBJECT_CLASSES {
            if let Some(sup) = c.2 {
                assert!(classes.contains(&lower(sup)), "{}: SUP {sup}", c.1);
            }
            for a in c.4.iter().chain(c.5.iter()) {
                assert!(types.contains(&lower(a)), "{}: {a}", c.1);
            }
        }
        let mut oids: Vec<&str> = ATTRIBUTE_TYPES.iter().map(|t| t.oid).collect();
        oids.extend(OBJECT_CLASSES.iter().map(|c| c.0));
        oids.extend(MATCHING_RULES.iter().map(|r| r.0));
        let unique: HashSet<&str> = oids.iter().copied().collect();
        assert_eq!(unique.len(), oids.len(), "an OID defined twice");

        let tree = Tree::new("dc=roster,dc=local").unwrap();
        let at = time::OffsetDateTime::UNIX_EPOCH;
        let mut user = roster_core::User::new("ann".into(), at);
        user.email = Some("ann@example.org".into());
        user.first_name = Some("Ann".into());
        user.display_name = Some("Ann A.".into());
        let mut group =
            roster_core::Group::new("eng".into(), roster_core::OrgId::new(), roster_core::SourceType::Api, user.id, at);
        group.description = Some("engineering".into());
        let members = || Members {
            names: std::sync::Arc::new(roster_core::MemberNames {
                users: vec!["ann".into()],
                groups: vec!["web".into()],
            }),
            attrs: entries::MemberAttrs::ALL,
        };
        let served = [
            entries::root_dse(&tree, true),
            subschema_entry(),
            entries::base_entry(&tree),
            entries::unit_entry(tree.people().to_string(), "people"),
            entries::user_entry(&tree, &user, Some(vec![tree.group_dn("eng")]), &Need::ALL),
            entries::group_entry(&tree, &group, Some(members()), Some(vec![tree.group_dn("all")]), &Need::ALL),
            entries::public_user_entry(&tree, &roster_core::PublicUser::from(user.clone()), Some(vec![]), &Need::ALL),
            entries::public_group_entry(
                &tree,
                &roster_core::PublicGroup::from(group.clone()),
                Some(members()),
                &Need::ALL,
            ),
        ];
        for entry in &served {
            for a in &entry.attrs {
                assert!(types.contains(&lower(a.name)), "{} carries {} with no type", entry.dn, a.name);
            }
            if let Some(values) = entry.get("objectClass") {
                for c in values {
                    assert!(classes.contains(&lower(c)), "{} is of class {c}, not defined", entry.dn);
                }
            }
        }
    }

    #[test]
    fn descriptions_follow_rfc_4512() {
        let e = subschema_entry();
        let types = e.get("attributeTypes").unwrap();
        assert!(
            types.contains(
                &"( 1.3.6.1.1.1.1.0 NAME 'uidNumber' EQUALITY integerMatch ORDERING integerOrderingMatch \
              SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )"
                    .to_owned()
            )
        );
        assert!(types.contains(&"( 2.5.4.3 NAME ( 'cn' 'commonName' ) SUP name )".to_owned()));
        let classes = e.get("objectClasses").unwrap();
        assert!(
            classes.contains(
                &"( 2.5.6.9 NAME 'groupOfNames' SUP top STRUCTURAL MUST ( member $ cn ) MAY ( description $ o $ ou ) )"
                    .to_owned()
            )
        );
        assert!(classes.contains(&"( 2.5.6.0 NAME 'top' ABSTRACT MUST objectClass )".to_owned()));
        for d in
            types.iter().chain(classes).chain(e.get("matchingRules").unwrap()).chain(e.get("ldapSyntaxes").unwrap())
        {
            assert!(d.starts_with("( ") && d.ends_with(" )") && !d.contains("  "), "{d}");
        }
    }
}
