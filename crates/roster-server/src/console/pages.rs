//! The overview, the change feed and the signed-in person's own keys.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use roster_core::{GroupFilter, KeyId, PageRequest, UserQuery, list};
use serde::Deserialize;

use super::error::{ConsoleError, ConsoleResult};
use super::form::{Failed, Failure};
use super::session::{Post, Session};
use super::views::{Chrome, EventRow, GroupRow, KeyRow, PAGE, Pager, Shown, event_rows, html, shown};
use crate::http::AppState;
use crate::http::extract::id_param;

/// Recent changes shown on the overview and first on the feed page.
const RECENT: i64 = 10;
const FEED: i64 = 50;

#[derive(Template)]
#[template(path = "console/overview.html")]
struct Overview {
    chrome: Chrome,
    users: i64,
    groups: i64,
    my_groups: Vec<GroupRow>,
    my_groups_total: i64,
    recent: Shown<Vec<EventRow>>,
}

/// The newest `n` events, newest first (the log is gapless: the last `n`
/// sequence numbers are the newest `n` events).
async fn newest(state: &AppState, session: &Session, n: i64) -> Result<Vec<EventRow>, roster_core::CoreError> {
    let p = &session.principal;
    let head = state.directory.list_events(p, i64::MAX - 1, 1).await?.total;
    let page = state.directory.list_events(p, (head - n).max(0), n as u32).await?;
    event_rows(state, session, &page.items).await
}

/// `GET /`: counts, the signed-in person's groups, recent changes.
pub(crate) async fn overview(State(state): State<AppState>, session: Session) -> ConsoleResult {
    let p = &session.principal;
    let one = PageRequest::first(1);
    let users = state.directory.list_users(p, &UserQuery::default(), &one).await?.total;
    let groups = state.directory.list_groups(p, &GroupFilter::default(), &one).await?.total;
    let mine = state.directory.list_user_groups(p, p.user, &PageRequest::first(RECENT as u32)).await?;
    let recent = shown(newest(&state, &session, RECENT).await)?;
    let chrome = Chrome::of(&state, &session, "overview").await?;
    html(
        StatusCode::OK,
        &Overview {
            chrome,
            users,
            groups,
            my_groups: mine.items.iter().map(|(_, g)| GroupRow::from(g)).collect(),
            my_groups_total: mine.total,
            recent,
        },
    )
}

#[derive(Template)]
#[template(path = "console/events.html")]
struct Events {
    chrome: Chrome,
    events: Shown<Vec<EventRow>>,
    last: i64,
}

/// `GET /events`: the newest changes, then new ones as they happen (htmx
/// polls `/events/poll`; without JavaScript, reloading shows them).
pub(crate) async fn events(State(state): State<AppState>, session: Session) -> ConsoleResult {
    let events = shown(newest(&state, &session, FEED).await)?;
    let last = events.as_ref().ok().and_then(|e| e.first()).map_or(0, |e| e.seq);
    let chrome = Chrome::of(&state, &session, "events").await?;
    html(StatusCode::OK, &Events { chrome, events, last })
}

#[derive(Deserialize)]
pub(crate) struct AfterParam {
    after: Option<String>,
}

#[derive(Template)]
#[template(path = "console/events_poll.html")]
struct EventsPoll {
    events: Vec<EventRow>,
    last: i64,
}

/// `GET /events/poll?after=N`: the events after N, newest first, and the
/// poller that asks for the ones after those.
pub(crate) async fn events_poll(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<AfterParam>,
) -> ConsoleResult {
    let after = crate::http::extract::int_param("after", q.after.as_deref())?.unwrap_or(0).max(0);
    let page = state.directory.list_events(&session.principal, after, FEED as u32).await?;
    let last = page.items.last().map_or(after, |e| e.seq);
    let events = event_rows(&state, &session, &page.items).await?;
    html(StatusCode::OK, &EventsPoll { events, last })
}

#[derive(Template)]
#[template(path = "console/keys.html")]
struct Keys {
    chrome: Chrome,
    keys: Vec<KeyRow>,
    pager: Pager,
    new_secret: Option<String>,
    failed: Failed,
}

#[derive(Deserialize)]
pub(crate) struct CursorParam {
    cursor: Option<String>,
}

async fn keys_page(
    state: &AppState,
    session: &Session,
    cursor: Option<&str>,
    new_secret: Option<String>,
    failed: Failed,
    status: StatusCode,
) -> ConsoleResult {
    let status = failed.status_or(status);
    let p = &session.principal;
    let req = PageRequest::parse(list::KEYS, Some(PAGE), cursor)?;
    let page = state.directory.list_keys(p, Some(p.user), &req).await?;
    let chrome = Chrome::of(state, session, "keys").await?;
    let keys = page.items.iter().map(KeyRow::from).collect();
    let pager = Pager::of(&page, "/keys?", "cursor");
    html(status, &Keys { chrome, keys, pager, new_secret, failed })
}

/// `GET /keys`: the signed-in person's own keys.
pub(crate) async fn keys(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<CursorParam>,
) -> ConsoleResult {
    keys_page(&state, &session, q.cursor.as_deref(), None, Failed::default(), StatusCode::OK).await
}

/// `POST /keys`: a new key for oneself, its secret shown once.
pub(crate) async fn create_key(State(state): State<AppState>, post: Post) -> ConsoleResult {
    let Post { session, form } = post;
    let p = &session.principal;
    match state.directory.create_key(p, p.user, form.text("name")).await {
        Ok(created) => {
            keys_page(&state, &session, None, Some(created.secret), Failed::default(), StatusCode::CREATED).await
        }
        Err(e) => {
            let failed = Failed(Some(Failure::of("create-key", &["name"], form, e)?));
            keys_page(&state, &session, None, None, failed, StatusCode::BAD_REQUEST).await
        }
    }
}

/// `POST /keys/{id}/delete`: revokes a key (the session made from it ends).
pub(crate) async fn delete_key(State(state): State<AppState>, Path(id): Path<String>, post: Post) -> ConsoleResult {
    let id = id_param::<KeyId>("id", &id).map_err(ConsoleError::from)?;
    state.directory.delete_key(&post.session.principal, id).await?;
    Ok(Redirect::to("/keys").into_response())
}

/// Whether a request came from htmx (it wants a fragment).
pub(crate) fn from_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request") && !headers.contains_key("hx-boosted")
}
