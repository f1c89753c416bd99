//! Compare (RFC 4511 §4.10): whether an entry holds a value, matched as a
//! search filter's equality would match it (so `memberOf` and `member`
//! compare DNs normalised). Applications use it to test a membership
//! without reading a whole group.

use ldap3_proto::proto::{LdapCompareRequest, LdapFilter, LdapResultCode};

use super::dn::Dn;
use super::entries::{Entry, Need, Selection};
use super::error::LdapError;
use super::filter::{self, Resolved};
use super::search::Searcher;

/// Compares against an entry of the tree, read for the searcher's reader.
pub(crate) async fn compare(s: &Searcher<'_>, req: &LdapCompareRequest) -> Result<LdapResultCode, LdapError> {
    let place = s.tree.place(&Dn::parse(&req.dn)?);
    let assertion = assertion(req)?;
    let need = Need::of(&Selection::parse(std::slice::from_ref(&req.atype)), &assertion);
    let entry = s.entry_at(&place, &need).await?;
    answer(&entry, req, &assertion)
}

/// The equality a Compare asserts.
pub(crate) fn assertion(req: &LdapCompareRequest) -> Result<LdapFilter, LdapError> {
    let value = String::from_utf8(req.val.clone())
        .map_err(|_| LdapError::Protocol("the asserted value is not UTF-8".to_owned()))?;
    Ok(LdapFilter::Equality(req.atype.clone(), value))
}

/// `CompareTrue` or `CompareFalse`; a missing attribute is `noSuchAttribute`.
pub(crate) fn answer(
    entry: &Entry,
    req: &LdapCompareRequest,
    assertion: &LdapFilter,
) -> Result<LdapResultCode, LdapError> {
    if entry.get(req.atype.trim()).is_none() {
        return Err(LdapError::NoSuchAttribute);
    }
    Ok(match filter::matches(assertion, entry, &Resolved::new()) {
        Some(true) => LdapResultCode::CompareTrue,
        Some(false) | None => LdapResultCode::CompareFalse,
    })
}
