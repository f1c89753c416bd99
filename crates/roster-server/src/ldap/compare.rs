//! Compare (RFC 4511 §4.10): whether an entry holds a value, matched as a
//! search filter's equality would match it (so `memberOf` and `member`
//! compare DNs normalised). Applications use it to test a membership
//! without reading a whole group.

use ldap3_proto::proto::{LdapCompareRequest, LdapFilter, LdapResultCode};

use super::dn::Dn;
use super::entries::Selection;
use super::error::LdapError;
use super::filter::{self, Resolved};
use super::search::Searcher;

/// `CompareTrue` or `CompareFalse`; a missing attribute is `noSuchAttribute`.
pub(crate) async fn compare(s: &Searcher<'_>, req: &LdapCompareRequest) -> Result<LdapResultCode, LdapError> {
    let place = s.tree.place(&Dn::parse(&req.dn)?);
    let value = String::from_utf8(req.val.clone())
        .map_err(|_| LdapError::Protocol("the asserted value is not UTF-8".to_owned()))?;
    let assertion = LdapFilter::Equality(req.atype.clone(), value);
    let entry = s.entry_at(&place, &assertion, &Selection::parse(std::slice::from_ref(&req.atype))).await?;
    if entry.get(req.atype.trim()).is_none() {
        return Err(LdapError::NoSuchAttribute);
    }
    Ok(match filter::matches(&assertion, &entry, &Resolved::new()) {
        Some(true) => LdapResultCode::CompareTrue,
        Some(false) | None => LdapResultCode::CompareFalse,
    })
}
