//! Offset pages without scans. Clients that page by number or offset
//! (Posit, Civis, Box) ask for "rows 5 000 to 5 100"; SQL `OFFSET` would
//! walk the 5 000 rows before them. When a page is served, the keyset
//! position it reached is remembered under (list, offset); the next page
//! of a walk then continues from that position, costing what page 1 costs
//! and neither repeating nor skipping a row when rows before it come or go.
//! A position not remembered (first visit, another process, evicted) falls
//! back to `OFFSET`, which is always correct.

use std::time::Duration;

use moka::sync::Cache;

use crate::cursor::{Keyset, PageRequest};

#[derive(Clone)]
pub(crate) struct OffsetIndex {
    positions: Cache<(String, u64), Keyset>,
}

impl OffsetIndex {
    pub(crate) fn new() -> Self {
        let positions = Cache::builder().max_capacity(20_000).time_to_idle(Duration::from_secs(600)).build();
        Self { positions }
    }

    /// The request to run for `page` of the list named `scope`: a keyset
    /// page when the position at its offset is known, `page` otherwise.
    pub(crate) fn resolve(&self, scope: &str, page: &PageRequest) -> PageRequest {
        if page.after.is_some() || page.offset == 0 {
            return page.clone();
        }
        match self.positions.get(&(scope.to_owned(), page.offset)) {
            Some(k) => PageRequest { limit: page.limit, after: Some(k), offset: 0, total: page.total },
            None => page.clone(),
        }
    }

    /// Records where an offset page that served `served` rows ended. A
    /// page short of its limit reached the end of the list: no walk
    /// resumes from there, so nothing is kept (every first page of a short
    /// list would otherwise cost an insert); nor is a position kept again.
    pub(crate) fn remember(&self, scope: &str, page: &PageRequest, served: usize, last: Option<Keyset>) {
        if page.after.is_some() || served == 0 || served < page.limit as usize {
            return;
        }
        if let Some(k) = last {
            let at = (scope.to_owned(), page.offset + served as u64);
            if self.positions.get(&at).as_ref() != Some(&k) {
                self.positions.insert(at, k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walk_resumes_where_it_stopped() {
        let index = OffsetIndex::new();
        let first = PageRequest::at_offset(0, 10);
        index.remember("members|g", &first, 10, Some(Keyset { key: String::new(), num: 42 }));
        let second = index.resolve("members|g", &PageRequest::at_offset(10, 10));
        assert_eq!(second.after, Some(Keyset { key: String::new(), num: 42 }));
        assert_eq!(second.offset, 0);
        let elsewhere = index.resolve("members|h", &PageRequest::at_offset(10, 10));
        assert_eq!((elsewhere.after, elsewhere.offset), (None, 10), "other lists fall back to OFFSET");
        let random = index.resolve("members|g", &PageRequest::at_offset(30, 10));
        assert_eq!(random.offset, 30);
    }

    #[test]
    fn the_end_of_a_list_is_not_remembered() {
        let index = OffsetIndex::new();
        let k = Keyset { key: String::new(), num: 7 };
        // Three rows of a page of ten: the list ended there.
        index.remember("members|g", &PageRequest::at_offset(20, 10), 3, Some(k.clone()));
        let after = index.resolve("members|g", &PageRequest::at_offset(23, 10));
        assert_eq!((after.after, after.offset), (None, 23), "falls back to OFFSET");
        // A full page is remembered, and a later walk that ends elsewhere
        // (rows came or went) moves the position.
        index.remember("members|g", &PageRequest::at_offset(0, 10), 10, Some(k.clone()));
        assert_eq!(index.resolve("members|g", &PageRequest::at_offset(10, 10)).after, Some(k));
        let moved = Keyset { key: String::new(), num: 9 };
        index.remember("members|g", &PageRequest::at_offset(0, 10), 10, Some(moved.clone()));
        assert_eq!(index.resolve("members|g", &PageRequest::at_offset(10, 10)).after, Some(moved));
    }
}
