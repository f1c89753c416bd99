//! The SCIM filter grammar (`?filter=`, `/.search`): any text either parses
//! or is refused, never panics; a filter that parses evaluates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_server::fuzzing::{scim_filter, scim_filter_matches};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(f) = scim_filter(text) {
        scim_filter_matches(&f);
        // A filter is made of attribute paths: a parsed one names at least one.
        assert!(!f.paths().is_empty(), "{text:?} parsed to a filter naming no attribute");
    }
});
