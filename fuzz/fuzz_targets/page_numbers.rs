//! Numbered pages: Posit `page_number`/`page_size` and Box `limit`/`offset`.
//! Any pair is refused or gives a bounded page, never a panic or overflow.
//!
//! Input: two lines, the two parameters as sent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_server::fuzzing::{box_page, posit_page};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (a, b) = text.split_once('\n').unwrap_or((text, ""));
    let (a, b) = (Some(a).filter(|s| !s.is_empty()), Some(b).filter(|s| !s.is_empty()));
    if let Ok((req, number)) = posit_page(a, b) {
        assert!(number >= 1 && (1..=500).contains(&req.limit));
        assert_eq!(req.offset, (number - 1).saturating_mul(u64::from(req.limit)));
    }
    if let Ok((req, limit, offset)) = box_page(a, b) {
        assert!((1..=1000).contains(&limit) && (0..=10_000).contains(&offset));
        assert_eq!((u64::from(req.limit), req.offset), (limit as u64, offset as u64));
    }
});
