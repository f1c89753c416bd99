//! Iguazio's caller: the `session` cookie (`j:{"sid": …}`, raw or
//! percent-encoded), Basic or bearer credentials. Any header is read or
//! ignored, never a panic; a key found is never empty.
//!
//! Input: the `Cookie` value, a newline, the `Authorization` value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_server::fuzzing::iguazio_credential;

fuzz_target!(|data: &[u8]| {
    let at = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (cookie, authorization) = (&data[..at], data.get(at + 1..).unwrap_or(&[]));
    if let Some(key) = iguazio_credential(cookie, authorization) {
        assert!(!key.is_empty());
    }
});
