//! The parsers a client reaches, named for the fuzz targets (`fuzz/`) and
//! for nothing else: not an API, hidden from the docs, renamed whenever a
//! parser moves. Front-end internals stay private; this module re-exports
//! exactly the parsers, and drives those whose input or output types are a
//! front-end's own (a SCIM PATCH body, Iguazio's cookie, each front-end's
//! JSON bodies). Nothing here reaches a store or the network.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use axum::http::{HeaderValue, Request, header};
use roster_core::{GroupId, Member, PageRequest, UserId};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::compat::{box_api, civis, compliance, iguazio, posit};
use crate::http::error::BadRequest;
use crate::native;
use crate::scim::{filter, map as scim_map, patch, schema};

pub use crate::compat::box_api::map::page as box_page;
pub use crate::compat::civis::map::{Query as CivisQuery, page as civis_page};
pub use crate::compat::iguazio::query::{ListQuery as IguazioListQuery, Plan as IguazioPlan};
pub use crate::compat::posit::map::page as posit_page;
pub use crate::http::extract::parse_json;
pub use crate::scim::filter::{AttrPath, Filter, PatchPath, parse as scim_filter, parse_path as scim_patch_path};

/// A SCIM user as `PATCH /Users/{id}` starts from (the shape of
/// `scim::map::user_doc`).
fn sample_user() -> serde_json::Map<String, Value> {
    let doc = json!({
        "externalId": "ext-1",
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs",
        "active": true,
        "emails": [{"value": "bj@example.com", "type": "work", "primary": true}, {"value": "b@home.example", "type": "home"}],
        "phoneNumbers": [{"value": "555-0100", "type": "work"}],
        schema::ENTERPRISE: {"department": "Tour", "manager": {"value": "00000000-0000-0000-0000-000000000001"}},
    });
    match doc {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// Whether `filter` matches a sample SCIM user, evaluated as a list
/// request evaluates it (also each of its conjuncts and named paths).
pub fn scim_filter_matches(f: &Filter) -> bool {
    let user = Value::Object(sample_user());
    let _ = f.paths();
    let _ = f.conjuncts().len();
    filter::matches(f, &user, schema::USER, &schema::USERS)
}

/// What a SCIM PATCH body did, when its operations parsed.
#[derive(Debug)]
pub struct ScimPatch {
    pub operations: usize,
    /// The patched sample user was valid and readable as user fields.
    pub user_applied: bool,
    /// The operations folded into a group change.
    pub group_folded: bool,
}

/// Parses a PATCH body as `PATCH /Users/{id}` and `PATCH /Groups/{id}` do,
/// then applies it to a sample user and folds it for a sample group.
/// `None` when the body or its operations are refused.
pub fn scim_patch(body: &[u8]) -> Option<ScimPatch> {
    let Value::Object(body) = parse_json::<Value>(body).ok()? else { return None };
    let ops = patch::parse(&body).ok()?;
    let operations = ops.len();
    let mut doc = sample_user();
    let user_applied = patch::apply_user(&schema::USERS, &mut doc, ops.clone())
        .and_then(|()| scim_map::normalize(&schema::USERS, doc))
        .and_then(scim_map::user_fields)
        .is_ok();
    let members =
        vec![Member::User(UserId(uuid::Uuid::from_u128(1))), Member::Group(GroupId(uuid::Uuid::from_u128(2)))];
    let folded = now(patch::fold_group(&schema::GROUPS, ops, || std::future::ready(Ok(members.clone()))));
    let group_folded = matches!(folded.map(|r| r.map(|c| c.members.into_edit())), Some(Ok(_)));
    Some(ScimPatch { operations, user_applied, group_folded })
}

/// Polls a future that never waits (the group fold's member lookup here
/// is ready at once); `None` if it would wait.
fn now<F: Future>(f: F) -> Option<F::Output> {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// The key an Iguazio request presents with these `Cookie` and
/// `Authorization` header values (each skipped if not a valid header value).
pub fn iguazio_credential(cookie: &[u8], authorization: &[u8]) -> Option<String> {
    let mut req = Request::builder();
    if let Ok(v) = HeaderValue::from_bytes(cookie) {
        req = req.header(header::COOKIE, v);
    }
    if let Ok(v) = HeaderValue::from_bytes(authorization) {
        req = req.header(header::AUTHORIZATION, v);
    }
    let (parts, ()) = req.body(()).ok()?.into_parts();
    iguazio::auth::credential(&parts)
}

/// The page a Compliance list serves for `limit` and the `page` token.
pub fn compliance_page(list: &str, limit: Option<&str>, token: Option<&str>) -> Option<PageRequest> {
    let q = compliance::wire::PageParams { limit: limit.map(str::to_owned), page: token.map(str::to_owned) };
    compliance::page(list, &q).ok()
}

/// Reads an Iguazio request document and every attribute and relationship
/// form the handlers ask of it; `true` when the document was accepted.
pub fn iguazio_document(body: &[u8]) -> bool {
    let Ok(v) = parse_json::<Value>(body) else { return false };
    let Ok(doc) = iguazio::doc::incoming(v) else { return false };
    for name in ["name", "description", "username", "gid", "assigned_policies", "labels", "users", "owner"] {
        let _ = doc.text(name);
        let _ = doc.int(name);
        let _ = doc.texts(name, None);
        let _ = doc.texts(name, Some(&["Data", "Developer"]));
        let _ = doc.pairs(name);
        let _ = doc.to_many(name);
        let _ = doc.to_one(name);
    }
    true
}

fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<(), BadRequest> {
    parse_json::<T>(bytes).map(drop)
}

/// Parses `bytes` as every JSON body type of every front-end, through the
/// shared parser; each answer is `(the body type, what it made of them)`.
pub fn json_bodies(bytes: &[u8]) -> Vec<(&'static str, Result<(), BadRequest>)> {
    use native::wire as n;
    vec![
        ("Value", body::<Value>(bytes)),
        ("native::NewUser", body::<n::NewUser>(bytes)),
        ("native::UserPatch", body::<n::UserPatch>(bytes)),
        ("native::NewGroup", body::<n::NewGroup>(bytes)),
        ("native::GroupPatch", body::<n::GroupPatch>(bytes)),
        ("native::PutMember", body::<n::PutMember>(bytes)),
        ("native::MembershipPatch", body::<n::MembershipPatch>(bytes)),
        ("native::NewRole", body::<n::NewRole>(bytes)),
        ("native::RolePatch", body::<n::RolePatch>(bytes)),
        ("native::NewOrganization", body::<n::NewOrganization>(bytes)),
        ("native::OrganizationPatch", body::<n::OrganizationPatch>(bytes)),
        ("native::NewProject", body::<n::NewProject>(bytes)),
        ("native::ProjectPatch", body::<n::ProjectPatch>(bytes)),
        ("native::PutBinding", body::<n::PutBinding>(bytes)),
        ("native::PutShare", body::<n::PutShare>(bytes)),
        ("native::NewKey", body::<n::NewKey>(bytes)),
        ("native::ImportBody", body::<n::ImportBody>(bytes)),
        ("posit::NewGroup", body::<posit::wire::NewGroup>(bytes)),
        ("posit::NewUser", body::<posit::wire::NewUser>(bytes)),
        ("posit::UserUpdate", body::<posit::wire::UserUpdate>(bytes)),
        ("posit::Lock", body::<posit::wire::Lock>(bytes)),
        ("posit::AddMember", body::<posit::wire::AddMember>(bytes)),
        ("civis::GroupBody", body::<civis::wire::GroupBody>(bytes)),
        ("civis::ShareUsersBody", body::<civis::wire::ShareUsersBody>(bytes)),
        ("civis::ShareGroupsBody", body::<civis::wire::ShareGroupsBody>(bytes)),
        ("civis::UserCreateBody", body::<civis::wire::UserCreateBody>(bytes)),
        ("box::GroupBody", body::<box_api::wire::GroupBody>(bytes)),
        ("box::UserBody", body::<box_api::wire::UserBody>(bytes)),
        ("box::NewMembership", body::<box_api::wire::NewMembership>(bytes)),
        ("box::MembershipUpdate", body::<box_api::wire::MembershipUpdate>(bytes)),
    ]
}

/// Bytes as an LDAP connection receives them: framed and decoded as the
/// session does, each search's base placed in the tree and its filter
/// evaluated over a sample user and group, each built whole and with only
/// the attributes the search needs (`Need`), which must match and render
/// alike, and be written by `encode`'s fast path byte for byte as
/// `ldap3_proto` writes them; each bind DN read. Stops where
/// the session would close the connection.
pub fn ldap_messages(data: &[u8]) {
    use bytes::BytesMut;
    use ldap3_proto::proto::{LdapMsg, LdapOp};
    use tokio_util::codec::{Decoder, Encoder};

    use crate::ldap::codec::{Codec, Frame};
    use crate::ldap::dn::{Dn, Tree};
    use crate::ldap::entries::{MemberAttrs, Members, Need, Selection, group_entry, user_entry};
    use crate::ldap::filter::{Resolved, matches};

    let Ok(tree) = Tree::new("dc=roster,dc=local") else { return };
    let at = time::OffsetDateTime::UNIX_EPOCH;
    let mut user = roster_core::User::new("ann".into(), at);
    user.email = Some("ann@example.org".into());
    let group =
        roster_core::Group::new("eng".into(), roster_core::OrgId::new(), roster_core::SourceType::Api, user.id, at);
    let entries = |need: &Need| {
        let members = Members {
            names: std::sync::Arc::new(roster_core::MemberNames {
                users: vec!["ann".into()],
                groups: vec!["web, ops".into()],
            }),
            attrs: MemberAttrs::ALL,
        };
        [
            user_entry(&tree, &user, Some(vec![tree.group_dn("eng")]), need),
            group_entry(&tree, &group, Some(members), Some(vec![tree.group_dn("all")]), need),
        ]
    };
    let mut codec = Codec::default();
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = codec.decode(&mut buf) {
        let Frame::Msg(msg) = frame else { continue };
        match msg.op {
            LdapOp::SearchRequest(req) => {
                if let Ok(base) = Dn::parse(&req.base) {
                    let _ = tree.place(&base);
                }
                // An entry built with only what the search needs matches
                // and renders as the whole entry does.
                let selection = Selection::parse(&req.attrs);
                let lean = entries(&Need::of(&selection, &req.filter));
                for (lean, whole) in lean.into_iter().zip(entries(&Need::ALL)) {
                    let matched = matches(&req.filter, &lean, &Resolved::new());
                    assert_eq!(matched, matches(&req.filter, &whole, &Resolved::new()));
                    if matched == Some(true) {
                        let (a, b) = (lean.render(&selection, req.typesonly), whole.render(&selection, req.typesonly));
                        // The entry as the session writes it (the fast
                        // path) is what ldap3_proto writes for it.
                        let mut fast = BytesMut::new();
                        crate::ldap::encode::search_result_entry(msg.msgid, &a, &mut fast);
                        let mut proto = BytesMut::new();
                        let entry = LdapMsg::new(msg.msgid, LdapOp::SearchResultEntry(a.into_proto()));
                        let _ = ldap3_proto::LdapCodec::default().encode(entry.clone(), &mut proto);
                        assert_eq!(fast, proto);
                        assert_eq!(entry.op, LdapOp::SearchResultEntry(b.into_proto()));
                    }
                }
            }
            LdapOp::BindRequest(req) => {
                let _ = tree.bind_username(&req.dn);
            }
            _ => {}
        }
    }
}
