//! One persistent connection, one request at a time: send the pre-encoded
//! request, read until its answer is complete (HTTP by Content-Length, LDAP
//! by BER lengths), and look no further into it than "ok" and "hit" need.

use std::io::{self, Read, Write};

use crate::ber;

pub struct Conn<S> {
    s: S,
    buf: Vec<u8>,
    chunk: Box<[u8]>,
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The value of an HTTP head's `Content-Length` header, as sent.
pub fn content_length(head: &[u8]) -> Option<&[u8]> {
    head.split(|&b| b == b'\n').find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let name = line.get(..15)?;
        name.eq_ignore_ascii_case(b"content-length:").then(|| line[15..].trim_ascii())
    })
}

impl<S: Read + Write> Conn<S> {
    pub fn new(s: S) -> Self {
        Conn { s, buf: Vec::with_capacity(1 << 16), chunk: vec![0; 1 << 20].into_boxed_slice() }
    }

    fn fill(&mut self) -> io::Result<()> {
        let n = loop {
            match self.s.read(&mut self.chunk) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed by peer"));
        }
        self.buf.extend_from_slice(&self.chunk[..n]);
        Ok(())
    }

    /// Sends `req` and reads one response; returns (2xx, body contains `marker`).
    pub fn http(&mut self, req: &[u8], marker: Option<&[u8]>) -> io::Result<(bool, bool)> {
        self.s.write_all(req)?;
        let mut from = 0;
        let end = loop {
            if let Some(k) = find(&self.buf[from..], b"\r\n\r\n") {
                break from + k;
            }
            from = self.buf.len().saturating_sub(3);
            self.fill()?;
        };
        let head = &self.buf[..end];
        let status = head
            .get(9..12)
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| bad(format!("bad status line: {}", String::from_utf8_lossy(head))))?;
        let length = content_length(head);
        // 204 and 304 answers have no body, and need no length.
        let length: usize = match length {
            None if status == 204 || status == 304 => 0,
            None => return Err(bad(format!("no content-length: {}", String::from_utf8_lossy(head)))),
            Some(length) => std::str::from_utf8(length)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad(format!("bad content-length: {}", String::from_utf8_lossy(length))))?,
        };
        let total = end + 4 + length;
        while self.buf.len() < total {
            self.fill()?;
        }
        let hit = marker.is_some_and(|m| find(&self.buf[end + 4..total], m).is_some());
        self.buf.drain(..total);
        Ok(((200..300).contains(&status), hit))
    }

    /// Sends one request and reads messages up to its final one (BindResponse
    /// 0x61 or SearchResultDone 0x65); returns (result ok, SearchResultEntry
    /// count). Ok is resultCode 0 (success) or 4 (sizeLimitExceeded: a bounded
    /// page); anything else, e.g. 32 noSuchObject, counts as an error.
    pub fn ldap(&mut self, req: &[u8]) -> io::Result<(bool, u64)> {
        self.s.write_all(req)?;
        let mut entries = 0;
        loop {
            let (h, n) = loop {
                match ber::read_tlv_len(&self.buf, 0).map_err(bad)? {
                    Some((h, n)) if self.buf.len() >= h + n => break (h, n),
                    _ => self.fill()?,
                }
            };
            let msg = &self.buf[h..h + n];
            let (idh, idn) =
                ber::read_tlv_len(msg, 0).map_err(bad)?.ok_or_else(|| bad("LDAP message without an id"))?;
            let op = idh + idn;
            let tag = *msg.get(op).ok_or_else(|| bad("LDAP message without an operation"))?;
            if tag == 0x61 || tag == 0x65 {
                let (oh, _) = ber::read_tlv_len(msg, op).map_err(bad)?.ok_or_else(|| bad("truncated LDAP result"))?;
                // ENUMERATED resultCode, one byte, after its tag and length.
                let code = *msg.get(op + oh + 2).ok_or_else(|| bad("LDAP result without a code"))?;
                self.buf.drain(..h + n);
                return Ok((code == 0 || code == 4, entries));
            }
            if tag == 0x64 {
                entries += 1;
            }
            self.buf.drain(..h + n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// Serves the scripted reads one by one (so answers arrive split however
    /// the test says) and records what was written.
    struct Script {
        reads: VecDeque<Vec<u8>>,
        written: Vec<u8>,
    }

    impl Read for Script {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let Some(mut next) = self.reads.pop_front() else { return Ok(0) };
            let n = next.len().min(out.len());
            out[..n].copy_from_slice(&next[..n]);
            if n < next.len() {
                next.drain(..n);
                self.reads.push_front(next);
            }
            Ok(n)
        }
    }

    impl Write for Script {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.written.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn conn(reads: &[&[u8]]) -> Conn<Script> {
        Conn::new(Script { reads: reads.iter().map(|r| r.to_vec()).collect(), written: Vec::new() })
    }

    /// Every way of cutting `stream` in two reads, plus one byte per read.
    fn splits(stream: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let mut out: Vec<Vec<Vec<u8>>> =
            (1..stream.len()).map(|k| vec![stream[..k].to_vec(), stream[k..].to_vec()]).collect();
        out.push(stream.iter().map(|&b| vec![b]).collect());
        out.push(vec![stream.to_vec()]);
        out
    }

    fn http_response(status: &str, body: &str) -> Vec<u8> {
        format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())
            .into_bytes()
    }

    #[test]
    fn http_frames_by_content_length_across_split_reads() {
        let mut stream = http_response("200 OK", r#"{"member":true}"#);
        stream.extend(http_response("404 Not Found", r#"{"error":"no such group"}"#));
        stream.extend(http_response("200 OK", r#"{"member":false}"#));
        for reads in splits(&stream) {
            let reads: Vec<&[u8]> = reads.iter().map(Vec::as_slice).collect();
            let mut c = conn(&reads);
            let m = Some(&b"\"member\":true"[..]);
            assert_eq!(c.http(b"GET /a HTTP/1.1\r\n\r\n", m).unwrap(), (true, true));
            assert_eq!(c.http(b"GET /b HTTP/1.1\r\n\r\n", m).unwrap(), (false, false));
            assert_eq!(c.http(b"GET /c HTTP/1.1\r\n\r\n", m).unwrap(), (true, false));
            assert!(c.buf.is_empty());
            assert_eq!(c.s.written, b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n");
        }
    }

    #[test]
    fn http_without_marker_never_hits_and_empty_bodies_frame() {
        let mut stream = http_response("204 No Content", "");
        stream.extend(http_response("200 OK", "x"));
        let mut c = conn(&[&stream]);
        assert_eq!(c.http(b"", None).unwrap(), (true, false));
        assert_eq!(c.http(b"", None).unwrap(), (true, false));
    }

    #[test]
    fn http_errors() {
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
        assert!(conn(&[chunked]).http(b"", None).unwrap_err().to_string().contains("no content-length"));
        let none = b"HTTP/1.1 204 No Content\r\nX: y\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}";
        let mut c = conn(&[none]);
        assert_eq!(c.http(b"", None).unwrap(), (true, false));
        assert_eq!(c.http(b"", Some(b"{}")).unwrap(), (true, true));
        let short = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
        assert_eq!(conn(&[short]).http(b"", None).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    fn ldap_msg(id: i64, op: Vec<u8>) -> Vec<u8> {
        ber::message(id, &op)
    }

    fn result(tag: u8, code: i64) -> Vec<u8> {
        let mut body = ber::int(0x0A, code);
        body.extend(ber::octets(0x04, b""));
        body.extend(ber::octets(0x04, b""));
        ber::tlv(tag, &body)
    }

    fn entry(dn: &str, filler: usize) -> Vec<u8> {
        let mut body = ber::octets(0x04, dn.as_bytes());
        let vals = ber::tlv(0x31, &ber::octets(0x04, &vec![b'v'; filler]));
        let mut attr = ber::octets(0x04, b"cn");
        attr.extend(vals);
        body.extend(ber::tlv(0x30, &ber::tlv(0x30, &attr)));
        ber::tlv(0x64, &body)
    }

    #[test]
    fn ldap_bind_then_searches_with_entries_across_split_reads() {
        let mut stream = ldap_msg(1, result(0x61, 0));
        // Entries of short and long (2- and 3-byte) lengths, a referral
        // (0x73) that is skipped, then the done message.
        for (k, filler) in [(0, 3), (1, 200), (2, 70000)] {
            stream.extend(ldap_msg(2, entry(&format!("uid=u{k},ou=users"), filler)));
        }
        stream.extend(ldap_msg(2, ber::tlv(0x73, &ber::octets(0x04, b"ldap://elsewhere/"))));
        stream.extend(ldap_msg(2, result(0x65, 4))); // sizeLimitExceeded: still ok
        stream.extend(ldap_msg(2, result(0x65, 32))); // noSuchObject: an error, no entries
        stream.extend(ldap_msg(2, entry("uid=x", 1)));
        stream.extend(ldap_msg(2, result(0x65, 0)));
        let cuts: Vec<Vec<Vec<u8>>> = if stream.len() > 5000 {
            // The 70 000-byte entry makes every two-way cut too slow; cut
            // at every 997th byte instead, and into 1-byte reads once.
            let mut v: Vec<Vec<Vec<u8>>> =
                (1..stream.len()).step_by(997).map(|k| vec![stream[..k].to_vec(), stream[k..].to_vec()]).collect();
            v.push(stream.chunks(1).map(<[u8]>::to_vec).collect());
            v.push(stream.chunks(4096).map(<[u8]>::to_vec).collect());
            v
        } else {
            splits(&stream)
        };
        for reads in cuts {
            let reads: Vec<&[u8]> = reads.iter().map(Vec::as_slice).collect();
            let mut c = conn(&reads);
            assert_eq!(c.ldap(b"bind").unwrap(), (true, 0));
            assert_eq!(c.ldap(b"s1").unwrap(), (true, 3));
            assert_eq!(c.ldap(b"s2").unwrap(), (false, 0));
            assert_eq!(c.ldap(b"s3").unwrap(), (true, 1));
            assert!(c.buf.is_empty());
            assert_eq!(c.s.written, b"binds1s2s3");
        }
    }

    #[test]
    fn ldap_refused_bind_and_closed_connection() {
        let stream = ldap_msg(1, result(0x61, 49)); // invalidCredentials
        let mut c = conn(&[&stream]);
        assert_eq!(c.ldap(b"").unwrap(), (false, 0));
        assert_eq!(c.ldap(b"").unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }
}
