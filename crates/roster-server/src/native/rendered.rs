//! Whole groups as the native API writes them, kept as JSON by group. A
//! page of a user's groups at any depth (a score of whole groups, asked on
//! every request of an application that reads its users' groups) then
//! copies each group's bytes instead of converting and serializing the
//! group again, which was most of that page's cost (bench/README.md).
//!
//! An entry is good only for the very group it was written from: it keeps
//! that `Arc` and answers only when the group asked for is the same
//! allocation. The index never changes a group it handed out: a change
//! puts a new `Arc` in its place (and one the cache shares could not be
//! changed in place anyway), so a changed group is written again, never
//! served stale. Groups read from the store (before the index is loaded)
//! are new allocations each time: they are written, as without the cache.

use std::sync::Arc;

use axum::response::Response;
use quick_cache::sync::Cache;
use roster_core::{CoreError, Group, GroupId, Page};
use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};
use serde_json::value::RawValue;

use super::fields::{self, SharedGroup};
use super::wire::List;

/// How many groups the cache holds at most: the groups near the top of a
/// nesting forest are in most users' pages.
const CAPACITY: usize = 8_192;
/// The largest JSON kept (about 1 KB is ordinary): a group's attributes
/// can be most of a megabyte, and such a group is written every time, so
/// the cache holds at most ~128 MB (twice its JSON for each entry: the
/// shared group it keeps alive is about as large), ~8 MB ordinarily.
const LARGEST_KEPT: usize = 8 << 10;

/// The JSON of whole groups (`wire::Group`), by group.
pub struct RenderedGroups {
    cache: Cache<GroupId, Arc<Rendered>>,
}

/// One group and its JSON.
pub struct Rendered {
    group: Arc<Group>,
    json: Box<RawValue>,
}

impl Default for RenderedGroups {
    fn default() -> Self {
        Self { cache: Cache::new(CAPACITY) }
    }
}

impl RenderedGroups {
    /// `group` as JSON: the kept copy if it was written from this very
    /// group, else written now and kept.
    pub fn get(&self, group: &Arc<Group>) -> Result<Arc<Rendered>, serde_json::Error> {
        if let Some(r) = self.cache.get(&group.id)
            && Arc::ptr_eq(&r.group, group)
        {
            return Ok(r);
        }
        let json = serde_json::value::to_raw_value(&SharedGroup(group.clone()))?;
        let r = Arc::new(Rendered { group: group.clone(), json });
        if r.json.get().len() <= LARGEST_KEPT {
            self.cache.insert(group.id, r.clone());
        }
        Ok(r)
    }

    /// A page of a user's groups at any depth, whole, as the JSON of a
    /// `List<wire::GroupEdge>`, written into a buffer sized for it at once.
    pub fn edges_page(&self, page: Page<Arc<Group>>) -> Result<Response, CoreError> {
        let internal = |e: serde_json::Error| CoreError::Internal(format!("writing a group: {e}"));
        let list = List::from_page(page, |g| self.get(&g).map(GroupEdge));
        let items = list.items.into_iter().collect::<Result<Vec<_>, _>>().map_err(internal)?;
        let size = 64
            + list.next_cursor.as_ref().map_or(0, String::len)
            + items.iter().map(|e| e.0.json.get().len() + 12).sum::<usize>();
        let mut body = Vec::with_capacity(size);
        let list = List { items, next_cursor: list.next_cursor, total: list.total };
        serde_json::to_writer(&mut body, &list).map_err(internal)?;
        Ok(fields::json_response(body))
    }
}

/// A row of a user's groups at any depth, written as `wire::GroupEdge`
/// writes it (no `membership` at any depth).
pub struct GroupEdge(pub Arc<Rendered>);

impl Serialize for GroupEdge {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut edge = s.serialize_struct("GroupEdge", 1)?;
        edge.serialize_field("group", &*self.0.json)?;
        edge.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::wire;
    use roster_core::{DEFAULT_ORG_ID, SourceType, UserId};
    use time::OffsetDateTime;

    fn group(name: &str) -> Group {
        let mut g = Group::new(name.into(), DEFAULT_ORG_ID, SourceType::Api, UserId::new(), OffsetDateTime::now_utc());
        g.description = Some("quote \" and \u{e9}".into());
        g.attributes.insert("k".into(), serde_json::json!({"n": [1, 2]}));
        g
    }

    #[test]
    fn a_row_is_written_as_the_wire_type_writes_it() {
        let g = Arc::new(group("eng"));
        let cache = RenderedGroups::default();
        let ours = serde_json::to_string(&GroupEdge(cache.get(&g).unwrap())).unwrap();
        let wire = serde_json::to_string(&wire::GroupEdge { membership: None, group: (*g).clone().into() }).unwrap();
        assert_eq!(ours, wire);
    }

    #[tokio::test]
    async fn a_page_is_written_as_the_wire_list_writes_it() {
        let groups: Vec<Arc<Group>> = ["a", "b", "c"].into_iter().map(|n| Arc::new(group(n))).collect();
        let page = |items: Vec<Arc<Group>>| Page { items, next_cursor: Some("opaque".into()), total: 7 };
        let cache = RenderedGroups::default();
        cache.get(&groups[1]).unwrap();
        let res = cache.edges_page(page(groups.clone())).unwrap();
        assert_eq!(res.headers()[axum::http::header::CONTENT_TYPE], "application/json");
        let ours = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
        let wire = List::from_page(page(groups), |g| wire::GroupEdge { membership: None, group: (*g).clone().into() });
        assert_eq!(std::str::from_utf8(&ours).unwrap(), serde_json::to_string(&wire).unwrap());
    }

    /// A group too large to keep is written every time, and still right.
    #[test]
    fn a_huge_group_is_not_kept() {
        let cache = RenderedGroups::default();
        let mut g = group("huge");
        g.attributes.insert("blob".into(), serde_json::json!("x".repeat(9 << 20)));
        let g = Arc::new(g);
        let first = cache.get(&g).unwrap();
        assert!(first.json.get().len() > 9 << 20);
        assert!(!Arc::ptr_eq(&first, &cache.get(&g).unwrap()), "not kept");
    }

    #[test]
    fn a_changed_group_is_written_again() {
        let cache = RenderedGroups::default();
        let old = Arc::new(group("eng"));
        let first = cache.get(&old).unwrap();
        assert!(Arc::ptr_eq(&first, &cache.get(&old).unwrap()), "the same group is kept");
        let mut changed = (*old).clone();
        changed.name = "engineering".into();
        changed.counts.members += 1;
        let changed = Arc::new(changed);
        let second = cache.get(&changed).unwrap();
        assert!(second.json.get().contains("\"engineering\""));
        assert!(!Arc::ptr_eq(&first, &second));
        // The group that was replaced is written again too (an index
        // reloaded from the store holds a new allocation either way).
        assert!(cache.get(&old).unwrap().json.get().contains("\"eng\""));
    }
}
