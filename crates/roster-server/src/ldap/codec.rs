//! Framing: `ldap3_proto`'s codec, with one difference. A message whose
//! BER is sound but whose content is no valid LDAP request (a malformed
//! filter, a bad field) comes out as [`Frame::Malformed`] with its message
//! id and operation, so the session answers that operation with
//! `protocolError` and keeps the connection. Only bytes that are not BER
//! at all, or a message over [`MAX_MESSAGE`], end it. Search result
//! entries are written by `encode` ([`EntryMsg`]), every other message by
//! `ldap3_proto`.

use std::io;

use bytes::{Buf, BytesMut};
use ldap3_lber::parse::{DEFAULT_MAX_BER_DEPTH, Parser};
use ldap3_lber::structure::{PL, StructureTag};
use ldap3_proto::LdapCodec;
use ldap3_proto::proto::LdapMsg;
use tokio_util::codec::{Decoder, Encoder};

use super::entries::Rendered;

/// The largest request accepted (as `ldap3_proto`'s default).
pub const MAX_MESSAGE: usize = ldap3_proto::DEFAULT_MAX_BER_SIZE;

pub(crate) enum Frame {
    Msg(LdapMsg),
    /// A request that could not be decoded: its id and the application tag
    /// of its operation.
    Malformed {
        msgid: i32,
        op: u64,
    },
}

#[derive(Default)]
pub(crate) struct Codec {
    encoder: LdapCodec,
}

impl Decoder for Codec {
    type Item = Frame;
    type Error = io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> io::Result<Option<Frame>> {
        if buf.len() > 2 * MAX_MESSAGE {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "message too large"));
        }
        refuse_early(buf)?;
        let mut parser = Parser::new(DEFAULT_MAX_BER_DEPTH);
        let (rest, tag) = match parser.parse(buf) {
            Ok(parsed) => parsed,
            Err(e) if e.is_incomplete() => return Ok(None),
            Err(_) => return Err(io::Error::new(io::ErrorKind::InvalidData, "not BER")),
        };
        let size = buf.len() - rest.len();
        if size > MAX_MESSAGE {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "message too large"));
        }
        buf.advance(size);
        let head = head(&tag);
        match (LdapMsg::try_from(tag), head) {
            (Ok(msg), _) => Ok(Some(Frame::Msg(msg))),
            (Err(_), Some((msgid, op))) => Ok(Some(Frame::Malformed { msgid, op })),
            (Err(_), None) => Err(io::Error::new(io::ErrorKind::InvalidData, "not an LDAP message")),
        }
    }
}

impl Encoder<LdapMsg> for Codec {
    type Error = io::Error;

    fn encode(&mut self, msg: LdapMsg, buf: &mut BytesMut) -> io::Result<()> {
        self.encoder.encode(msg, buf)
    }
}

/// A search result entry, written by `encode`'s fast path (the same bytes
/// `ldap3_proto` writes for it).
pub(crate) struct EntryMsg {
    pub id: i32,
    pub entry: Rendered,
}

impl Encoder<EntryMsg> for Codec {
    type Error = io::Error;

    fn encode(&mut self, msg: EntryMsg, buf: &mut BytesMut) -> io::Result<()> {
        super::encode::search_result_entry(msg.id, &msg.entry, buf);
        Ok(())
    }
}

/// Refuses from its first bytes a message that is no `LDAPMessage`
/// sequence or announces more than [`MAX_MESSAGE`], rather than waiting
/// for bytes that will never be accepted.
fn refuse_early(buf: &[u8]) -> io::Result<()> {
    let bad = |why| Err(io::Error::new(io::ErrorKind::InvalidData, why));
    match buf {
        [] => Ok(()),
        [tag, ..] if *tag != 0x30 => bad("not an LDAP message"),
        [_, len, rest @ ..] if len & 0x80 != 0 => {
            let n = usize::from(len & 0x7f);
            if n == 0 || n > 4 {
                return bad("unsupported length");
            }
            match rest.get(..n) {
                Some(bytes) if bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)) > MAX_MESSAGE => {
                    bad("message too large")
                }
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// The message id and operation tag of an `LDAPMessage` sequence.
fn head(tag: &StructureTag) -> Option<(i32, u64)> {
    let PL::C(parts) = &tag.payload else { return None };
    let (id, op) = (parts.first()?, parts.get(1)?);
    let PL::P(bytes) = &id.payload else { return None };
    if bytes.is_empty() || bytes.len() > 4 {
        return None;
    }
    let negative = bytes[0] & 0x80 != 0;
    let value = bytes.iter().fold(if negative { -1i64 } else { 0 }, |acc, b| (acc << 8) | i64::from(*b));
    let msgid = i32::try_from(value).ok().filter(|id| *id > 0)?;
    Some((msgid, op.id))
}

#[cfg(test)]
mod tests {
    /// The fuzz target's seeds, and every prefix and one-byte change of
    /// them: never a panic (the target runs this much longer in CI).
    #[test]
    fn seeds_and_their_mutations_never_panic() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/ldap_messages");
        let seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(Result::ok).filter_map(|e| std::fs::read(e.path()).ok()).collect())
            .unwrap_or_default();
        assert!(seeds.len() >= 4, "seeds in {}", dir.display());
        for seed in &seeds {
            for end in 0..=seed.len() {
                crate::fuzzing::ldap_messages(&seed[..end]);
            }
            for i in 0..seed.len() {
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut m = seed.clone();
                    m[i] ^= flip;
                    crate::fuzzing::ldap_messages(&m);
                }
            }
        }
    }
}
