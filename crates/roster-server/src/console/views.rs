//! What templates show: rows built from core types by hand (the core's
//! types are not made for display), the page chrome, and the helper that
//! renders a template into a response.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use std::collections::HashMap;

use roster_core::{
    ApiKey, CoreError, Event, Group, GroupId, Membership, Page, PageRequest, Permissions, Principal, SiteRole, User,
    UserId,
};
use time::OffsetDateTime;

use super::error::ConsoleResult;
use super::form::{Failed, Failure, FormData};
use super::session::Session;
use super::{HTMX_PATH, STYLESHEET_PATH, page_headers};
use crate::http::AppState;

/// Rows per page of every list.
pub(crate) const PAGE: i64 = 50;

/// What every page shows around its content: who is signed in, the
/// navigation, and the token the sign-out form (and every other) carries.
pub(crate) struct Chrome {
    pub me: String,
    pub me_id: String,
    pub csrf: String,
    pub section: &'static str,
    pub htmx: &'static str,
    pub css: &'static str,
}

impl Chrome {
    pub(crate) async fn of(state: &AppState, session: &Session, section: &'static str) -> ConsoleResult<Self> {
        let me = state.directory.whoami(&session.principal).await?;
        Ok(Self {
            me: me.username,
            me_id: me.id.to_string(),
            csrf: session.csrf.clone(),
            section,
            htmx: HTMX_PATH,
            css: STYLESHEET_PATH,
        })
    }
}

/// Renders a page with `status`.
pub(crate) fn html(status: StatusCode, page: &impl Template) -> ConsoleResult {
    Ok(page_headers((status, Html(page.render()?)).into_response()))
}

/// A time as people read it, in UTC, to the minute.
pub(crate) fn when(t: OffsetDateTime) -> String {
    format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
}

/// A part of a page the core may refuse to show this person: its content,
/// or the reason it is not shown. Only `Forbidden` becomes a reason; any
/// other error stays an error.
pub(crate) type Shown<T> = Result<T, String>;

pub(crate) fn shown<T>(r: Result<T, CoreError>) -> Result<Shown<T>, CoreError> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(CoreError::Forbidden { reason }) => Ok(Err(reason)),
        Err(e) => Err(e),
    }
}

/// Where a list continues, and how long it is.
pub(crate) struct Pager {
    /// The URL of the next page, if there is one.
    pub next: Option<String>,
    pub total: i64,
    pub shown: usize,
}

impl Pager {
    /// `base` is the page's URL with its other parameters, ending in `?` or `&`.
    pub(crate) fn of<T>(page: &Page<T>, base: &str, param: &str) -> Self {
        Self {
            next: page.next_cursor.as_ref().map(|c| format!("{base}{param}={}", encode(c))),
            total: page.total,
            shown: page.items.len(),
        }
    }
}

/// The query of a searchable list page: `?q=<name prefix>&cursor=`.
#[derive(serde::Deserialize, Default)]
pub(crate) struct SearchParams {
    pub q: Option<String>,
    pub cursor: Option<String>,
}

/// One searched page of a list, ready for its template.
pub(crate) struct Search<R> {
    /// What was searched for (trimmed), shown again in the search box.
    pub q: String,
    pub rows: Vec<R>,
    pub pager: Pager,
    /// The page's failure: the form's that led here, or the search's own.
    pub failed: Failed,
    pub status: StatusCode,
}

/// Searches a list page at `path` (users, groups): one page of `list`
/// (the core's list named `list_name`, given the name prefix or none, and
/// the page request), each item shown as `row`. A search the core refuses
/// (too long, …) is shown by the search box (`search` form, `prefix`
/// field) above the unfiltered list, with the core's status.
pub(crate) async fn search<T, R, Fut>(
    path: &str,
    list_name: &'static str,
    params: &SearchParams,
    failed: Failed,
    status: StatusCode,
    list: impl Fn(Option<String>, PageRequest) -> Fut,
    row: impl Fn(&T) -> R,
) -> ConsoleResult<Search<R>>
where
    Fut: std::future::Future<Output = Result<Page<T>, CoreError>>,
{
    let q = params.q.as_deref().unwrap_or("").trim().to_owned();
    let req = PageRequest::parse(list_name, Some(PAGE), params.cursor.as_deref())?;
    let (q, page, failed) = match list(Some(q.clone()).filter(|q| !q.is_empty()), req).await {
        Ok(page) => (q, page, failed),
        Err(e @ CoreError::Invalid { .. }) if !failed.any() => {
            let failed = Failed(Some(Failure::of("search", &["prefix"], FormData::default(), e)?));
            (String::new(), list(None, PageRequest::parse(list_name, Some(PAGE), None)?).await?, failed)
        }
        Err(e) => return Err(e.into()),
    };
    let pager = Pager::of(&page, &format!("{path}?q={}&", encode(&q)), "cursor");
    let status = failed.status_or(status);
    Ok(Search { q, rows: page.items.iter().map(row).collect(), pager, failed, status })
}

/// A value for a URL's query string.
pub(crate) fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

pub(crate) struct UserRow {
    pub id: String,
    pub username: String,
    pub name: String,
    pub email: String,
    pub active: bool,
    pub admin: bool,
}

impl From<&User> for UserRow {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            username: u.username.clone(),
            name: u.full_name(),
            email: u.email.clone().unwrap_or_default(),
            active: u.active,
            admin: u.site_role == SiteRole::Admin,
        }
    }
}

pub(crate) struct GroupRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub members: i64,
    pub children: i64,
}

impl From<&Group> for GroupRow {
    fn from(g: &Group) -> Self {
        Self {
            id: g.id.to_string(),
            name: g.name.clone(),
            description: g.description.clone().unwrap_or_default(),
            members: g.counts.members,
            children: g.counts.children,
        }
    }
}

pub(crate) struct MemberRow {
    pub membership: String,
    pub user: UserRow,
    pub admin: bool,
    pub permissions: String,
    /// Each permission a membership may name: (name, in words, granted).
    pub each: Vec<(&'static str, String, bool)>,
    pub since: String,
}

impl MemberRow {
    pub(crate) fn of(m: &Membership, u: &User) -> Self {
        Self {
            membership: m.id.to_string(),
            user: UserRow::from(u),
            admin: m.role == roster_core::MemberRole::Admin,
            permissions: permissions(&m.permissions),
            each: roster_core::permission::KNOWN
                .iter()
                .map(|name| (*name, name.replace('_', " "), m.permissions.allows(name)))
                .collect(),
            since: when(m.created_at),
        }
    }
}

/// A membership's permissions in words.
fn permissions(p: &Permissions) -> String {
    let granted: Vec<&str> = roster_core::permission::KNOWN.iter().copied().filter(|name| p.allows(name)).collect();
    if granted.is_empty() { "none".to_owned() } else { granted.join(", ").replace('_', " ") }
}

pub(crate) struct EventRow {
    pub seq: i64,
    pub at: String,
    pub action: String,
    pub target: String,
    pub link: Option<String>,
    pub actor: String,
    pub actor_link: Option<String>,
}

/// Names of the users and groups a page of events mentions, each looked
/// up once, as the signed-in person may see them (a deleted one, or one
/// they may not see, shows as its id).
struct Names<'a> {
    state: &'a AppState,
    principal: &'a Principal,
    users: HashMap<String, String>,
    groups: HashMap<String, String>,
}

impl Names<'_> {
    async fn user(&mut self, id: &str) -> Result<String, CoreError> {
        if let Some(name) = self.users.get(id) {
            return Ok(name.clone());
        }
        let name = match id.parse::<UserId>() {
            Ok(uid) => match self.state.directory.get_user(self.principal, uid).await {
                Ok(u) => u.username,
                Err(CoreError::NotFound { .. }) => id.to_owned(),
                Err(e) => return Err(e),
            },
            Err(_) => id.to_owned(),
        };
        self.users.insert(id.to_owned(), name.clone());
        Ok(name)
    }

    async fn group(&mut self, id: &str) -> Result<String, CoreError> {
        if let Some(name) = self.groups.get(id) {
            return Ok(name.clone());
        }
        let name = match id.parse::<GroupId>() {
            Ok(gid) => match self.state.directory.get_group(self.principal, gid).await {
                Ok(g) => g.name,
                Err(CoreError::NotFound { .. }) => id.to_owned(),
                Err(e) => return Err(e),
            },
            Err(_) => id.to_owned(),
        };
        self.groups.insert(id.to_owned(), name.clone());
        Ok(name)
    }
}

/// Events as the feed shows them to `principal`, newest first, with names
/// for ids.
pub(crate) async fn event_rows(
    state: &AppState,
    principal: &Principal,
    events: &[Event],
) -> Result<Vec<EventRow>, CoreError> {
    let mut names = Names { state, principal, users: HashMap::new(), groups: HashMap::new() };
    let mut rows = Vec::with_capacity(events.len());
    for e in events.iter().rev() {
        let snapshot = e.after.as_ref().or(e.before.as_ref());
        let text = |key: &str| snapshot.and_then(|v| v.get(key)).and_then(|v| v.as_str()).map(str::to_owned);
        let (target, link) = match e.target_type.as_str() {
            "group" => (text("name").unwrap_or_else(|| e.target_id.clone()), Some(format!("/groups/{}", e.target_id))),
            "user" => {
                (text("username").unwrap_or_else(|| e.target_id.clone()), Some(format!("/users/{}", e.target_id)))
            }
            "membership" => match (text("group_id"), text("member_type"), text("member_id")) {
                (Some(group), Some(kind), Some(member)) => {
                    let member =
                        if kind == "group" { names.group(&member).await? } else { names.user(&member).await? };
                    let group_name = names.group(&group).await?;
                    (format!("{member} in {group_name}"), Some(format!("/groups/{group}")))
                }
                _ => (format!("membership {}", e.target_id), None),
            },
            other => (text("name").unwrap_or_else(|| format!("{other} {}", e.target_id)), None),
        };
        let (actor, actor_link) = match e.actor {
            Some(a) => (names.user(&a.to_string()).await?, Some(format!("/users/{a}"))),
            None => ("the system".to_owned(), None),
        };
        rows.push(EventRow { seq: e.seq, at: when(e.at), action: e.action.clone(), target, link, actor, actor_link });
    }
    Ok(rows)
}

pub(crate) struct KeyRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created: String,
}

impl From<&ApiKey> for KeyRow {
    fn from(k: &ApiKey) -> Self {
        Self { id: k.id.to_string(), name: k.name.clone(), prefix: k.prefix.clone(), created: when(k.created_at) }
    }
}
