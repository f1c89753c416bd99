//! SCIM PATCH bodies (`PATCH /Users/{id}`, `/Groups/{id}`): read through the
//! shared JSON parser, applied to a sample user and folded for a group.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_server::fuzzing::scim_patch;

fuzz_target!(|data: &[u8]| {
    let _ = scim_patch(data);
});
