//! Keyset pagination. Every list is ordered by a sort key and the store's
//! integer `num`, and continues strictly after the last row served, so page
//! 10 000 costs what page 1 costs, and rows present throughout a walk are
//! neither skipped nor repeated. A row added during a walk comes after the
//! rows already served if it comes at all: on PostgreSQL, writers to one
//! group commit side by side, and a membership numbered before one the
//! walk has passed can commit after it; the walk then misses it (the next
//! walk sees it). The cursor a client sees is an opaque encoding of that
//! position, tagged with the list it belongs to.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::CoreError;

/// The names of the lists; a cursor is valid only for the list that issued it.
pub mod list {
    pub const USERS: &str = "users";
    pub const GROUPS: &str = "groups";
    pub const MEMBERS: &str = "members";
    pub const CHILDREN: &str = "children";
    pub const USER_GROUPS: &str = "user-groups";
    pub const MEMBERS_TRANSITIVE: &str = "members-transitive";
    pub const USER_GROUPS_TRANSITIVE: &str = "user-groups-transitive";
    pub const ROLES: &str = "roles";
    pub const ORGS: &str = "orgs";
    pub const PROJECTS: &str = "projects";
    pub const BINDINGS: &str = "bindings";
    pub const SHARES: &str = "shares";
    pub const KEYS: &str = "keys";
    pub const EVENTS: &str = "events";
    pub const WEBHOOKS: &str = "webhooks";
    pub const DELIVERIES: &str = "deliveries";
}

pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;
/// Clients that page by number may ask for larger pages (Civis allows 10 000).
pub const MAX_OFFSET_LIMIT: u32 = 10_000;

/// The position after which a page starts: the sort key and `num` of the
/// last row of the previous page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyset {
    pub key: String,
    pub num: i64,
}

/// A validated request for one page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<Keyset>,
    /// Rows to skip before the page, for front-ends whose clients page by
    /// number; used only when `after` is `None`.
    pub offset: u64,
    /// Whether the answer needs [`Page::total`]. A front-end that never
    /// shows it (LDAP) asks without ([`Self::without_total`]); the lists
    /// whose count is a pass of its own (users, groups, members at any
    /// depth) then answer a total of -1 instead of counting.
    pub total: bool,
}

impl PageRequest {
    /// Validates a client's `limit` and `cursor` for the list named `list`.
    pub fn parse(list: &str, limit: Option<i64>, cursor: Option<&str>) -> Result<Self, CoreError> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => n as u32,
            Some(_) => {
                return Err(CoreError::invalid("limit", format!("must be between 1 and {MAX_LIMIT}")));
            }
        };
        let after = match cursor {
            None | Some("") => None,
            Some(c) => Some(decode(list, c)?),
        };
        Ok(Self { limit, after, offset: 0, total: true })
    }

    pub fn first(limit: u32) -> Self {
        Self { limit, after: None, offset: 0, total: true }
    }

    /// The same position with another page size.
    /// This request, for a caller that never reads [`Page::total`].
    pub fn without_total(self) -> Self {
        Self { total: false, ..self }
    }

    pub fn with_limit(self, limit: u32) -> Self {
        Self { limit: limit.clamp(1, MAX_LIMIT), ..self }
    }

    /// The page of `limit` rows (at most [`MAX_OFFSET_LIMIT`]) that starts
    /// after `offset` rows.
    pub fn at_offset(offset: u64, limit: u32) -> Self {
        Self { limit: limit.clamp(1, MAX_OFFSET_LIMIT), after: None, offset, total: true }
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::first(DEFAULT_LIMIT)
    }
}

/// One page of a list: the items, where to continue, and the exact total.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
    pub total: i64,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched by the store: the
    /// extra row only tells that another page exists.
    pub fn from_rows(
        list: &str,
        mut rows: Vec<T>,
        req: &PageRequest,
        total: i64,
        key_of: impl Fn(&T) -> Keyset,
    ) -> Self {
        let more = rows.len() > req.limit as usize;
        rows.truncate(req.limit as usize);
        let next_cursor = if more { rows.last().map(|last| encode(list, &key_of(last))) } else { None };
        Self { items: rows, next_cursor, total }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_cursor: self.next_cursor, total: self.total }
    }
}

/// Every item of a list, fetched page after page by following its cursors
/// (for clients that ask for whole lists). Each page is one call, so the
/// walk costs what paging through the list costs.
pub async fn collect_all<T, F, Fut>(list: &str, fetch: F) -> Result<Vec<T>, CoreError>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, CoreError>>,
{
    Ok(collect_at_most(list, usize::MAX, fetch).await?.unwrap_or_default())
}

/// As [`collect_all`], stopping once more than `cap` items were read:
/// `None` then. For front-ends that match a condition the store cannot
/// answer over the items themselves: their scan is bounded, and the client
/// is told to narrow it rather than answered with a silent part.
pub async fn collect_at_most<T, F, Fut>(list: &str, cap: usize, mut fetch: F) -> Result<Option<Vec<T>>, CoreError>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, CoreError>>,
{
    let mut out = Vec::new();
    let mut req = PageRequest::first(MAX_LIMIT);
    loop {
        let page = fetch(req).await?;
        out.extend(page.items);
        if out.len() > cap {
            return Ok(None);
        }
        match page.next_cursor {
            Some(c) => req = PageRequest::parse(list, Some(i64::from(MAX_LIMIT)), Some(&c))?,
            None => return Ok(Some(out)),
        }
    }
}

/// The items at positions `offset .. offset + count` of a list, in offset
/// pages: for clients that page by number through an order the store
/// keeps, so a page costs its size.
pub async fn collect_window<T, F, Fut>(offset: u64, count: u64, mut fetch: F) -> Result<Vec<T>, CoreError>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, CoreError>>,
{
    let mut out: Vec<T> = Vec::new();
    while (out.len() as u64) < count {
        let want = (count - out.len() as u64).min(u64::from(MAX_OFFSET_LIMIT)) as u32;
        let page = fetch(PageRequest::at_offset(offset + out.len() as u64, want)).await?;
        let got = page.items.len();
        out.extend(page.items);
        if got < want as usize {
            break;
        }
    }
    Ok(out)
}

pub fn encode(list: &str, k: &Keyset) -> String {
    URL_SAFE_NO_PAD.encode(format!("{list}\n{}\n{}", k.num, k.key))
}

fn decode(list: &str, cursor: &str) -> Result<Keyset, CoreError> {
    let bad = || CoreError::invalid("cursor", "not a cursor issued for this list");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.splitn(3, '\n');
    let (Some(tag), Some(num_text), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    if tag != list {
        return Err(bad());
    }
    let num = num_text.parse::<i64>().map_err(|_| bad())?;
    // Only the form `encode` writes (no sign, no leading zero): a token
    // the server never issued names no position.
    if num.to_string() != num_text {
        return Err(bad());
    }
    Ok(Keyset { key: key.to_owned(), num })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_is_bound_to_its_list() {
        let k = Keyset { key: "héllo\nworld".into(), num: 42 };
        let c = encode("groups", &k);
        assert_eq!(PageRequest::parse("groups", Some(5), Some(&c)).unwrap().after, Some(k));
        assert!(PageRequest::parse("users", Some(5), Some(&c)).is_err());
        assert!(PageRequest::parse("groups", None, Some("!!!")).is_err());
        assert!(PageRequest::parse("groups", None, Some("Zm9v")).is_err());
    }

    #[test]
    fn only_the_cursor_the_server_issues_is_accepted() {
        // Found by fuzzing (fuzz/fuzz_targets/cursor.rs): `02`, `+2` and
        // `-0` read as numbers, so tokens never issued named a position.
        let issued = encode("groups", &Keyset { key: "ops".into(), num: 2 });
        assert!(PageRequest::parse("groups", None, Some(&issued)).is_ok());
        for forged in ["groups\n02\nops", "groups\n+2\nops", "groups\n-0\nops", "groups\n 2\nops"] {
            let token = URL_SAFE_NO_PAD.encode(forged);
            assert!(PageRequest::parse("groups", None, Some(&token)).is_err(), "{forged:?} accepted");
        }
    }

    #[test]
    fn limit_bounds() {
        assert_eq!(PageRequest::parse("x", None, None).unwrap().limit, 100);
        assert!(PageRequest::parse("x", Some(0), None).is_err());
        assert!(PageRequest::parse("x", Some(1001), None).is_err());
        assert_eq!(PageRequest::parse("x", Some(1000), None).unwrap().limit, 1000);
    }
}
