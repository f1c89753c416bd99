//! Keyset cursors (native `cursor`, Box `marker`, Compliance `page` tokens):
//! any token is refused or accepted, never a panic, and a token accepted
//! for a list is exactly the one the server issues for that position.
//!
//! Input: lines `list`, `limit`, `token`; the token is tried as sent and
//! base64-encoded (so the fuzzer reaches the decoded text's parser).
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use roster_core::PageRequest;
use roster_core::cursor::{MAX_LIMIT, encode};
use roster_server::fuzzing::compliance_page;

fn check(list: &str, limit: Option<i64>, token: &str) {
    let Ok(req) = PageRequest::parse(list, limit, Some(token)) else { return };
    assert!((1..=MAX_LIMIT).contains(&req.limit));
    if let Some(k) = &req.after {
        assert_eq!(encode(list, k), token, "an accepted cursor re-encodes to itself");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut lines = text.splitn(3, '\n');
    let list = lines.next().unwrap_or("");
    let limit_text = lines.next().unwrap_or("");
    let token = lines.next().unwrap_or("");
    let limit = limit_text.trim().parse::<i64>().ok();
    check(list, limit, token);
    check(list, limit, &URL_SAFE_NO_PAD.encode(token));
    if let Some(req) = compliance_page(list, Some(limit_text), Some(token)) {
        assert!((1..=1000).contains(&req.limit));
        if let Some(k) = &req.after {
            assert_eq!(encode(list, k), token);
        }
    }
});
