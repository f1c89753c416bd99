//! Civis query strings: repeated keys, `name[]` arrays, `True`/`False`,
//! integer lists, and `limit`/`page_num` pages. Never a panic; a page is
//! bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_server::fuzzing::{CivisQuery, civis_page};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let q = CivisQuery::parse(Some(text));
    for name in ["name", "ids", "user_ids", "archived", "limit", "page_num", "order"] {
        let _ = q.str(name);
        let _ = q.int(name);
        let _ = q.ints(name);
        let _ = q.bool(name);
    }
    for max in [1000, 10_000] {
        if let Ok((req, limit, page_num)) = civis_page(&q, max) {
            assert!((1..=max).contains(&limit) && page_num >= 1);
            assert_eq!(i64::from(req.limit), limit);
        }
    }
});
