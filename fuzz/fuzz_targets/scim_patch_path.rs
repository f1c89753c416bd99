//! SCIM PATCH paths (`"path"` of an operation, and path-less operations'
//! keys): parsed or refused, never a panic; a parsed path names an attribute.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_server::fuzzing::scim_patch_path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(p) = scim_patch_path(text) {
        assert!(!p.attr.attr.is_empty(), "{text:?} parsed to a path without an attribute");
        if p.sub.is_some() {
            assert!(p.filter.is_some(), "{text:?}: a trailing sub-attribute without a value filter");
        }
    }
});
