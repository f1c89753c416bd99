//! Bytes on an LDAP connection: framing, decoding, DNs, bind names and
//! filter evaluation as the session runs them. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    roster_server::fuzzing::ldap_messages(data);
});
