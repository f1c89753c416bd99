//! BER, just what LDAP search and simple bind need, byte for byte as the
//! former `bench/loadgen.py` encoded them.

use crate::json::Value;

/// A definite length: short form below 0x80, else the fewest big-endian bytes.
pub fn len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        return vec![n as u8];
    }
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let mut out = vec![0x80 | (bytes.len() - skip) as u8];
    out.extend_from_slice(&bytes[skip..]);
    out
}

pub fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 6);
    out.push(tag);
    out.extend(len(body.len()));
    out.extend_from_slice(body);
    out
}

/// An INTEGER (or ENUMERATED): `max(1, (bit_length(|v|) + 8) / 8)` bytes of
/// two's complement, as the Python encoder did (minimal for v >= 0).
pub fn int(tag: u8, v: i64) -> Vec<u8> {
    let bit_length = 64 - v.unsigned_abs().leading_zeros() as usize;
    let n = ((bit_length + 8) / 8).max(1);
    let bytes = (v as i128).to_be_bytes();
    tlv(tag, &bytes[bytes.len() - n..])
}

pub fn octets(tag: u8, s: &[u8]) -> Vec<u8> {
    tlv(tag, s)
}

pub fn message(msgid: i64, op: &[u8]) -> Vec<u8> {
    let mut body = int(0x02, msgid);
    body.extend_from_slice(op);
    tlv(0x30, &body)
}

pub fn bind(dn: &str, pw: &str) -> Vec<u8> {
    let mut body = int(0x02, 3);
    body.extend(octets(0x04, dn.as_bytes()));
    body.extend(octets(0x80, pw.as_bytes()));
    tlv(0x60, &body)
}

/// `["eq", attr, value]` | `["and", F, ...]` | `["present", attr]` |
/// `["ext", attr, rule, value]` (an extensible match: `(attr:rule:=value)`).
pub fn filter(f: &Value) -> Result<Vec<u8>, String> {
    let items = f.as_array().ok_or_else(|| format!("filter is not an array: {f:?}"))?;
    let kind = items.first().and_then(Value::as_str).ok_or("filter without a kind")?;
    let string = |k: usize| -> Result<&str, String> {
        items.get(k).and_then(Value::as_str).ok_or_else(|| format!("filter {kind}: argument {k} is not a string"))
    };
    match kind {
        "eq" => {
            let mut body = octets(0x04, string(1)?.as_bytes());
            body.extend(octets(0x04, string(2)?.as_bytes()));
            Ok(tlv(0xA3, &body))
        }
        "and" => {
            let mut body = Vec::new();
            for sub in &items[1..] {
                body.extend(filter(sub)?);
            }
            Ok(tlv(0xA0, &body))
        }
        "present" => Ok(octets(0x87, string(1)?.as_bytes())),
        "ext" => {
            // MatchingRuleAssertion: [1] rule, [2] type, [3] value.
            let mut body = octets(0x81, string(2)?.as_bytes());
            body.extend(octets(0x82, string(1)?.as_bytes()));
            body.extend(octets(0x83, string(3)?.as_bytes()));
            Ok(tlv(0xA9, &body))
        }
        _ => Err(format!("filter {kind}")),
    }
}

/// `{"base": DN, "scope": "base"|"one"|"sub", "filter": F, "attrs": [..], "sizelimit": N}`;
/// scope defaults to sub, attrs to `["1.1"]`, sizelimit to 0.
pub fn search(r: &Value) -> Result<Vec<u8>, String> {
    let base = r.get("base").and_then(Value::as_str).ok_or("search without a base")?;
    let scope = match r.get("scope").map(|s| s.as_str().ok_or("scope is not a string")).transpose()? {
        None | Some("sub") => 2,
        Some("base") => 0,
        Some("one") => 1,
        Some(other) => return Err(format!("scope {other}")),
    };
    let sizelimit = match r.get("sizelimit") {
        None => 0,
        Some(v) => v.as_i64().ok_or("sizelimit is not an integer")?,
    };
    let mut attrs = Vec::new();
    match r.get("attrs") {
        None => attrs.extend(octets(0x04, b"1.1")),
        Some(list) => {
            for a in list.as_array().ok_or("attrs is not an array")? {
                attrs.extend(octets(0x04, a.as_str().ok_or("an attribute is not a string")?.as_bytes()));
            }
        }
    }
    let mut body = octets(0x04, base.as_bytes());
    body.extend(int(0x0A, scope));
    body.extend(int(0x0A, 0)); // derefAliases: never
    body.extend(int(0x02, sizelimit));
    body.extend(int(0x02, 0)); // timelimit
    body.extend(tlv(0x01, b"\x00")); // typesOnly: false
    body.extend(filter(r.get("filter").ok_or("search without a filter")?)?);
    body.extend(tlv(0x30, &attrs));
    Ok(tlv(0x63, &body))
}

/// (header length, body length) of the TLV at `buf[i]`, or None while incomplete.
/// Tags are one byte (all LDAP needs); a length of more than 8 bytes, or the
/// indefinite form, is an error.
pub fn read_tlv_len(buf: &[u8], i: usize) -> Result<Option<(usize, usize)>, String> {
    let Some(&first) = buf.get(i + 1) else { return Ok(None) };
    if first < 0x80 {
        return Ok(Some((2, first as usize)));
    }
    let n = (first & 0x7F) as usize;
    if n == 0 || n > 8 {
        return Err(format!("unsupported BER length byte {first:#04x}"));
    }
    let Some(bytes) = buf.get(i + 2..i + 2 + n) else { return Ok(None) };
    let body = bytes.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64);
    Ok(Some((2 + n, usize::try_from(body).map_err(|_| "BER length overflows")?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    // The expected bytes below were produced by the Python encoder this
    // crate replaces (bench/loadgen.py), on the same inputs.

    #[test]
    fn lengths() {
        let got: Vec<String> = [0, 127, 128, 255, 256, 65535, 65536].iter().map(|&n| hex(&len(n))).collect();
        assert_eq!(got, ["00", "7f", "8180", "81ff", "820100", "82ffff", "83010000"]);
    }

    #[test]
    fn integers() {
        let got: Vec<String> =
            [0, 1, 127, 128, 255, 256, 1000, 32767, 32768, -1, -128, -129].iter().map(|&v| hex(&int(2, v))).collect();
        assert_eq!(
            got,
            [
                "020100",
                "020101",
                "02017f",
                "02020080",
                "020200ff",
                "02020100",
                "020203e8",
                "02027fff",
                "0203008000",
                "0201ff",
                "0202ff80",
                "0202ff7f"
            ]
        );
    }

    #[test]
    fn read_back_lengths() {
        for n in [0, 5, 127, 128, 300, 70000] {
            let t = tlv(0x04, &vec![b'x'; n]);
            let (h, b) = read_tlv_len(&t, 0).unwrap().unwrap();
            assert_eq!((h + b, b), (t.len(), n));
            // Every strict prefix of the header is incomplete, not an error.
            for cut in 0..h {
                assert_eq!(read_tlv_len(&t[..cut], 0).unwrap(), None, "n={n} cut={cut}");
            }
        }
        assert!(read_tlv_len(&[0x30, 0x80], 0).is_err());
        assert!(read_tlv_len(&[0x30, 0x89], 0).is_err());
    }

    #[test]
    fn simple_bind() {
        assert_eq!(
            hex(&message(1, &bind("cn=admin,dc=bench,dc=local", "bench-secret"))),
            "3032020101602d020103041a636e3d61646d696e2c64633d62656e63682c64633d6c6f63616c800c62656e63682d736563726574"
        );
    }

    #[test]
    fn searches_match_the_python_encoder() {
        let cases = [
            (
                r#"{"base": "cn=grp000001,ou=groups,dc=bench,dc=local", "scope": "base", "filter": ["present", "objectClass"], "attrs": ["cn"]}"#,
                "3051020102634c0428636e3d6772703030303030312c6f753d67726f7570732c64633d62656e63682c64633d6c6f63616c\
                 0a01000a0100020100020100010100870b6f626a656374436c61737330040402636e",
            ),
            (
                r#"{"base": "ou=users,dc=bench,dc=local", "scope": "one", "filter": ["eq", "memberOf", "cn=big,ou=groups,dc=bench,dc=local"], "attrs": ["uid", "cn", "mail"], "sizelimit": 1000}"#,
                "3072020102636d041a6f753d75736572732c64633d62656e63682c64633d6c6f63616c0a01010a0100020203e8020100\
                 010100a32e04086d656d6265724f660422636e3d6269672c6f753d67726f7570732c64633d62656e63682c64633d6c6f63\
                 616c300f04037569640402636e04046d61696c",
            ),
        ];
        for (req, want) in cases {
            assert_eq!(hex(&message(2, &search(&json::parse(req).unwrap()).unwrap())), want);
        }
    }

    #[test]
    fn long_forms_defaults_and_unicode_match_the_python_encoder() {
        // Scope and attrs left out (sub, "1.1"); a 240-byte value and a
        // 283-byte AND filter, so two- and three-byte lengths; a \u escape.
        let value = "uid=\\u00e9".repeat(40);
        let req = format!(
            r#"{{"base": "ou=groups,dc=bench,dc=local", "filter": ["and", ["eq", "objectClass", "groupOfNames"], ["eq", "member", "{value}"]]}}"#
        );
        let want = format!(
            "3082015902010263820152041b6f753d67726f7570732c64633d62656e63682c64633d6c6f63616c0a01020a0100020100\
             020100010100a082011ba31b040b6f626a656374436c617373040c67726f75704f664e616d6573a381fb04066d656d626572\
             0481f0{}30050403312e31",
            "7569643dc3a9".repeat(40)
        );
        assert_eq!(hex(&message(2, &search(&json::parse(&req).unwrap()).unwrap())), want);
    }

    #[test]
    fn extensible_match() {
        // (member:1.2.840.113556.1.4.1941:=uid=a): [1] rule, [2] type, [3] value, 40 bytes.
        let f = filter(&json::parse(r#"["ext", "member", "1.2.840.113556.1.4.1941", "uid=a"]"#).unwrap()).unwrap();
        let want = format!(
            "a928{}{}{}",
            format_args!("8117{}", hex(b"1.2.840.113556.1.4.1941")),
            format_args!("8206{}", hex(b"member")),
            format_args!("8305{}", hex(b"uid=a"))
        );
        assert_eq!(hex(&f), want);
    }

    #[test]
    fn bad_requests_are_errors() {
        for bad in [
            r#"{"base": "x", "filter": ["approx", "a", "b"]}"#,
            r#"{"base": "x", "scope": "children", "filter": ["present", "a"]}"#,
            r#"{"filter": ["present", "a"]}"#,
            r#"{"base": "x", "filter": ["present", "a"], "sizelimit": 1.5}"#,
        ] {
            assert!(search(&json::parse(bad).unwrap()).is_err(), "{bad}");
        }
    }
}
