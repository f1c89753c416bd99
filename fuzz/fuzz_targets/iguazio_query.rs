//! Iguazio list queries: `filter[..]`, `include`, `sort`, `page[..]`.
//! Parsed or refused, never a panic; a parsed query plans, sorts and
//! windows a list.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_server::fuzzing::IguazioListQuery;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(q) = IguazioListQuery::parse(Some(text)) else { return };
    if let Some((_, size)) = q.page {
        assert!((1..=10_000).contains(&size));
    }
    let _ = q.plan("name", &["name", "created_at"], &["kind"], &["name", "created_at", "gid"]);
    let _ = q.includes("users");
    let mut items: Vec<_> = (0..4)
        .map(|i| json!({"id": i.to_string(), "attributes": {"name": format!("g{}", 3 - i), "gid": i, "kind": null}}))
        .collect();
    let _ = q.matches(&items[0]);
    if q.sort_known(&mut items, &["name", "created_at", "gid", "kind"]).is_ok() {
        assert!(q.window(items).len() <= 4);
    }
});
