//! What lists and `.search` share: a `Search` (from query parameters or a
//! SearchRequest body), the `Plan` of what a filter lets the store do, the
//! filter and `sortBy` checks, sorting and cutting a page in Rust, and the
//! capped keyset scan. `POST /.search` (users, then groups) lives here too.
//! It holds no per-resource push-down: `users` and `groups` decide that.

use axum::extract::State;
use axum::response::Response;
use roster_core::{CoreError, PageRequest};
use serde_json::Value;

use super::error::{ScimError, ScimResult};
use super::filter::{self, Filter};
use super::groups::search_groups_in;
use super::request::{Auth, Base, Body_};
use super::responses::list_response;
use super::schema::{self, Kind};
use super::users::search_users_in;
use crate::http::AppState;

/// The largest page served (`ServiceProviderConfig.filter.maxResults`).
pub const MAX_COUNT: i64 = 1000;
const DEFAULT_COUNT: i64 = 100;

/// How many candidates a filter that cannot use an index may examine.
pub const SCAN_CAP: usize = 100_000;

/// A search, from query parameters or a SearchRequest body.
#[derive(Default)]
pub(super) struct Search {
    pub(super) filter: Option<String>,
    pub(super) sort_by: Option<String>,
    pub(super) sort_order: Option<String>,
    pub(super) start_index: Option<i64>,
    pub(super) count: Option<i64>,
    pub(super) attributes: Vec<String>,
    pub(super) excluded: Vec<String>,
}

impl Search {
    pub(super) fn from_body(body: &Value) -> ScimResult<Self> {
        let schemas_ok = filter::get_ci(body, "schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(schema::SEARCH))));
        if !schemas_ok {
            return Err(ScimError::invalid_syntax(format!("schemas: must contain {}", schema::SEARCH)));
        }
        let text = |k: &str| -> ScimResult<Option<String>> {
            match filter::get_ci(body, k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ScimError::invalid_value(format!("{k}: expected a string"))),
            }
        };
        let int = |k: &str| -> ScimResult<Option<i64>> {
            match filter::get_ci(body, k) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => {
                    v.as_i64().map(Some).ok_or_else(|| ScimError::invalid_value(format!("{k}: expected an integer")))
                }
            }
        };
        let list = |k: &str| -> ScimResult<Vec<String>> {
            match filter::get_ci(body, k) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::String(s)) => Ok(vec![s.clone()]),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| ScimError::invalid_value(format!("{k}: expected strings")))
                    })
                    .collect(),
                Some(_) => Err(ScimError::invalid_value(format!("{k}: expected a list of strings"))),
            }
        };
        Ok(Search {
            filter: text("filter")?,
            sort_by: text("sortBy")?,
            sort_order: text("sortOrder")?,
            start_index: int("startIndex")?,
            count: int("count")?,
            attributes: list("attributes")?,
            excluded: list("excludedAttributes")?,
        })
    }

    pub(super) fn start(&self) -> i64 {
        self.start_index.unwrap_or(1).max(1)
    }

    pub(super) fn count(&self) -> i64 {
        self.count.unwrap_or(DEFAULT_COUNT).clamp(0, MAX_COUNT)
    }

    pub(super) fn descending(&self) -> ScimResult<bool> {
        match self.sort_order.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("") | Some("ascending") => Ok(false),
            Some("descending") => Ok(true),
            Some(o) => Err(ScimError::invalid_value(format!("sortOrder: expected ascending or descending, got {o}"))),
        }
    }
}

/// What a filter lets the store do.
pub(super) struct Plan {
    /// The filter, parsed (`None`: everything).
    pub(super) filter: Option<Filter>,
    /// Look up exactly one candidate by this attribute and value.
    pub(super) single: Option<(&'static str, String)>,
    /// Whether the store's answer is exactly the filter's (no evaluation).
    pub(super) exact: bool,
}

pub(super) fn compare_of(f: &Filter) -> Option<(String, filter::Op, &Value)> {
    match f {
        Filter::Compare(p, op, v) if p.sub.is_none() => Some((p.attr.to_ascii_lowercase(), *op, v)),
        _ => None,
    }
}

pub(super) fn parse_filter(kind: &Kind, q: &Search, lenient: bool) -> ScimResult<Option<Option<Filter>>> {
    let Some(text) = q.filter.as_deref().filter(|t| !t.trim().is_empty()) else {
        return Ok(Some(None));
    };
    let f = filter::parse(text).map_err(|e| ScimError::invalid_filter(format!("filter: {}", e.0)))?;
    for path in f.paths() {
        if !kind.knows(&path) {
            if lenient {
                return Ok(None);
            }
            let name = match &path.sub {
                Some(s) => format!("{}.{s}", path.attr),
                None => path.attr.clone(),
            };
            return Err(ScimError::invalid_filter(format!("filter: unknown attribute {name}")));
        }
    }
    Ok(Some(Some(f)))
}

pub(super) fn sort_key(kind: &Kind, q: &Search) -> ScimResult<Option<filter::AttrPath>> {
    let Some(s) = q.sort_by.as_deref().filter(|s| !s.trim().is_empty()) else { return Ok(None) };
    let p = filter::attr_path(s.trim()).map_err(|e| ScimError::invalid_value(format!("sortBy: {}", e.0)))?;
    if !kind.knows(&p) {
        return Err(ScimError::invalid_value(format!("sortBy: unknown attribute {s}")));
    }
    Ok(Some(p))
}

/// Sorts, then cuts the page (1-based `start`, `count` items).
pub(super) fn page_of(
    kind: &Kind,
    mut all: Vec<Value>,
    sort: Option<&filter::AttrPath>,
    desc: bool,
    q: &Search,
) -> (i64, Vec<Value>) {
    if let Some(p) = sort {
        let key = |v: &Value| -> Option<String> {
            let scope = match &p.urn {
                Some(u) if !u.eq_ignore_ascii_case(kind.core) => filter::get_ci(v, u)?,
                _ => v,
            };
            let a = filter::get_ci(scope, &p.attr)?;
            let a = match a {
                Value::Array(items) => items.first()?,
                a => a,
            };
            let a = match &p.sub {
                Some(s) => filter::get_ci(a, s)?,
                None if a.is_object() => filter::get_ci(a, "value")?,
                None => a,
            };
            Some(match a {
                Value::String(s) => s.to_lowercase(),
                other => other.to_string(),
            })
        };
        // Missing values sort last either way.
        all.sort_by(|a, b| match (key(a), key(b)) {
            (Some(x), Some(y)) => {
                if desc {
                    y.cmp(&x)
                } else {
                    x.cmp(&y)
                }
            }
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
    }
    let total = all.len() as i64;
    let items = all.into_iter().skip((q.start() - 1) as usize).take(q.count() as usize).collect();
    (total, items)
}

/// Every row of a list, in keyset pages of the largest size, at most
/// [`SCAN_CAP`] of them.
pub(super) async fn scan<T, F, Fut>(list_name: &str, fetch: F) -> ScimResult<Vec<T>>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<roster_core::Page<T>, CoreError>>,
{
    roster_core::collect_at_most(list_name, SCAN_CAP, fetch).await?.ok_or_else(too_many)
}

fn too_many() -> ScimError {
    ScimError::bad(
        "tooMany",
        format!(
            "the filter would examine more than {SCAN_CAP} resources; filter on userName, externalId or displayName"
        ),
    )
}

/// `POST /.search`: users, then groups, as one list.
pub(super) async fn search_all(
    State(s): State<AppState>,
    Auth(p): Auth,
    Base(base): Base,
    body: Body_,
) -> ScimResult<Response> {
    let q = Search::from_body(&body.into_inner())?;
    let (n_users, users) = search_users_in(&s, &p, &base, &q, true).await?;
    let start = q.start();
    let count = q.count();
    let rest = count - users.len() as i64;
    let group_q = Search {
        start_index: Some((start - n_users).max(1)),
        count: Some(rest.max(0)),
        filter: q.filter.clone(),
        sort_by: q.sort_by.clone(),
        sort_order: q.sort_order.clone(),
        attributes: q.attributes.clone(),
        excluded: q.excluded.clone(),
    };
    let (n_groups, groups) = search_groups_in(&s, &p, &base, &group_q, true).await?;
    let mut items = users;
    items.extend(groups);
    Ok(list_response(n_users + n_groups, start, items))
}
