//! The fast path's bytes against `ldap3_proto`'s, over random entries.

use std::sync::Arc;

use bytes::BytesMut;
use ldap3_proto::LdapCodec;
use ldap3_proto::proto::{LdapMsg, LdapOp};
use proptest::prelude::*;
use roster_core::MemberNames;
use tokio_util::codec::Encoder;

use super::search_result_entry;
use crate::ldap::dn::Tree;
use crate::ldap::entries::{MemberValues, Rendered, RenderedAttr, Values};

/// `ldap3_proto`'s encoding of the same message.
fn proto_bytes(id: i32, entry: Rendered) -> BytesMut {
    let mut out = BytesMut::new();
    let msg = LdapMsg::new(id, LdapOp::SearchResultEntry(entry.into_proto()));
    LdapCodec::default().encode(msg, &mut out).expect("ldap3_proto encodes");
    out
}

fn check(id: i32, entry: &Rendered) {
    let mut fast = BytesMut::from(&b"before"[..]);
    search_result_entry(id, entry, &mut fast);
    assert_eq!(&fast[..6], b"before", "appends");
    assert_eq!(fast[6..], proto_bytes(id, entry.clone())[..], "{entry:?}");
}

/// Text of every length class: short, over 127 and 255 bytes (long-form
/// lengths), with DN specials, non-ASCII and NUL.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z0-9 ,+=\\\\#<>;\"é\u{0}]{0,12}",
        1 => "[a-zé]{100,300}",
        1 => Just("x".repeat(70_000)),
    ]
}

fn values(tree: Arc<Tree>) -> impl Strategy<Value = Values> {
    let names = (prop::collection::vec(text(), 0..40), prop::collection::vec(text(), 0..8))
        .prop_map(|(users, groups)| Arc::new(MemberNames { users, groups }));
    prop_oneof![
        prop::collection::vec(text(), 0..6).prop_map(Values::Text),
        (names, any::<bool>()).prop_map(move |(names, dns)| {
            Values::Members(if dns { MemberValues::dns(names, &tree) } else { MemberValues::uids(names) })
        }),
    ]
}

fn entry() -> impl Strategy<Value = Rendered> {
    let tree = Arc::new(Tree::new("dc=example,dc=org").expect("base"));
    let attr = ("[a-zA-Z;.0-9]{1,20}", values(tree)).prop_map(|(name, values)| RenderedAttr { name, values });
    (text(), prop::collection::vec(attr, 0..6)).prop_map(|(dn, attributes)| Rendered { dn, attributes })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn writes_what_ldap3_proto_writes(id in any::<i32>(), entry in entry()) {
        check(id, &entry);
    }
}

/// Message ids at every boundary of the INTEGER's length, and a group of
/// 1 000 members (lengths of two and three bytes at every level).
#[test]
fn boundaries() {
    let tree = Tree::new("dc=roster,dc=local").expect("base");
    let users: Vec<String> = (0..1000).map(|i| format!("user{i:07}")).collect();
    let names = Arc::new(MemberNames { users, groups: vec!["a,b".to_owned(), " lead".to_owned()] });
    let entry = Rendered {
        dn: tree.group_dn("big"),
        attributes: vec![
            RenderedAttr {
                name: "member".to_owned(),
                values: Values::Members(MemberValues::dns(names.clone(), &tree)),
            },
            RenderedAttr { name: "memberUid".to_owned(), values: Values::Members(MemberValues::uids(names)) },
            RenderedAttr { name: "cn".to_owned(), values: Values::Text(vec!["big".to_owned()]) },
            RenderedAttr { name: "empty".to_owned(), values: Values::Text(Vec::new()) },
        ],
    };
    for id in [0, 1, 127, 128, 255, 256, 32_767, 32_768, 65_535, 65_536, 8_388_607, 8_388_608, i32::MAX] {
        check(id, &entry);
        check(-id, &entry);
    }
    check(i32::MIN, &entry);
}
