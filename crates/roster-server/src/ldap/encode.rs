//! One encoding fast path: a SearchResultEntry message written straight
//! into the connection's buffer from the entry's values, borrowed.
//! `ldap3_proto` builds a tag tree per value and encodes it through a
//! buffer per nesting level; for a 1 000-member group's `member` that was
//! most of a search. Every other message, and all decoding, stays on
//! `ldap3_proto`.
//!
//! **Invariant:** the bytes are exactly those `ldap3_proto`'s codec writes
//! for the same entry (`Rendered::into_proto`): BER with definite lengths
//! in their shortest form, as `ldap3_lber` writes them. The unit tests
//! hold the two equal over random entries (proptest), and the LDAP fuzz
//! target over the entries its searches render.
//!
//! ```text
//! LDAPMessage ::= SEQUENCE { messageID INTEGER,
//!     [APPLICATION 4] SEQUENCE { objectName OCTET STRING,
//!         attributes SEQUENCE OF SEQUENCE { type OCTET STRING, vals SET OF OCTET STRING } } }
//! ```

use bytes::{BufMut, BytesMut};

use super::dn;
use super::entries::{Rendered, Value, Values};

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OCTET_STRING: u8 = 0x04;
const INTEGER: u8 = 0x02;
/// `[APPLICATION 4]`, constructed: searchResEntry.
const SEARCH_RESULT_ENTRY: u8 = 0x64;

/// Appends the message `id` carrying `entry` to `out`.
pub(crate) fn search_result_entry(id: i32, entry: &Rendered, out: &mut BytesMut) {
    let id = integer(i64::from(id));
    // The content length of each attribute's value set, worked out once.
    let sets: Vec<usize> = entry.attributes.iter().map(|a| values_len(&a.values)).collect();
    let attr_len = |name: &str, set: usize| tlv(name.len()) + tlv(set);
    let attrs: usize = entry.attributes.iter().zip(&sets).map(|(a, set)| tlv(attr_len(&a.name, *set))).sum();
    let op = tlv(entry.dn.len()) + tlv(attrs);
    let msg = tlv(id.1) + tlv(op);
    out.reserve(tlv(msg));

    header(out, SEQUENCE, msg);
    header(out, INTEGER, id.1);
    out.put_slice(&id.0[id.0.len() - id.1..]);
    header(out, SEARCH_RESULT_ENTRY, op);
    octets(out, entry.dn.as_bytes());
    header(out, SEQUENCE, attrs);
    for (a, set) in entry.attributes.iter().zip(sets) {
        header(out, SEQUENCE, attr_len(&a.name, set));
        octets(out, a.name.as_bytes());
        header(out, SET, set);
        match &a.values {
            Values::Text(values) => values.iter().for_each(|v| octets(out, v.as_bytes())),
            Values::Members(m) => m.each(|v| value(out, v)),
        }
    }
}

/// The content length of a SET OF OCTET STRING holding `values`.
fn values_len(values: &Values) -> usize {
    match values {
        Values::Text(values) => values.iter().map(|v| tlv(v.len())).sum(),
        Values::Members(m) => {
            let mut n = 0;
            m.each(|v| n += tlv(v.len()));
            n
        }
    }
}

/// The size of a one-byte tag, the length and `len` bytes of content.
fn tlv(len: usize) -> usize {
    1 + length_len(len) + len
}

/// The size of a definite length in its shortest form.
fn length_len(len: usize) -> usize {
    if len < 0x80 { 1 } else { 1 + (usize::BITS - len.leading_zeros()).div_ceil(8) as usize }
}

fn header(out: &mut BytesMut, tag: u8, len: usize) {
    out.put_u8(tag);
    if len < 0x80 {
        out.put_u8(len as u8);
    } else {
        let n = length_len(len) - 1;
        out.put_u8(0x80 | n as u8);
        out.put_slice(&len.to_be_bytes()[size_of::<usize>() - n..]);
    }
}

fn octets(out: &mut BytesMut, bytes: &[u8]) {
    header(out, OCTET_STRING, bytes.len());
    out.put_slice(bytes);
}

/// A value as an OCTET STRING; a DN is written in its pieces.
fn value(out: &mut BytesMut, v: Value<'_>) {
    match v {
        Value::Text(t) => octets(out, t.as_bytes()),
        Value::Dn { attr, value, parent } => {
            let value = dn::escaped(value);
            header(out, OCTET_STRING, attr.len() + value.len() + 1 + parent.len());
            out.put_slice(attr.as_bytes());
            out.put_slice(value.as_bytes());
            out.put_u8(b',');
            out.put_slice(parent.as_bytes());
        }
    }
}

/// An INTEGER's content as `ldap3_lber` writes it: the big-endian bytes
/// of the value and how many of the last ones are used (the fewest that
/// hold it, one more when a positive value's top bit would be set).
fn integer(value: i64) -> ([u8; 9], usize) {
    let mut count = 0usize;
    let mut rem = value.unsigned_abs();
    loop {
        count += 1;
        rem >>= 8;
        if rem == 0 {
            break;
        }
    }
    if value > 0 && value >> (8 * count - 1) == 1 {
        count += 1;
    }
    let mut bytes = [0u8; 9];
    bytes[1..].copy_from_slice(&value.to_be_bytes());
    (bytes, count.min(9))
}

#[cfg(test)]
mod tests;
