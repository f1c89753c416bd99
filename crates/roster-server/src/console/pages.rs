//! The overview, the change feed and the signed-in person's own keys.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect};
use roster_core::{CoreError, GroupFilter, KeyId, PageRequest, UserQuery, list};
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
    event_rows(state, p, &page.items).await
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
    feed_js: &'static str,
}

/// `GET /events`: the newest changes, then new ones as they happen (the
/// page's script listens to `/events/stream`; without `EventSource` htmx
/// polls `/events/poll`; without JavaScript, reloading shows them).
pub(crate) async fn events(State(state): State<AppState>, session: Session) -> ConsoleResult {
    let events = shown(newest(&state, &session, FEED).await)?;
    let last = events.as_ref().ok().and_then(|e| e.first()).map_or(0, |e| e.seq);
    let chrome = Chrome::of(&state, &session, "events").await?;
    html(StatusCode::OK, &Events { chrome, events, last, feed_js: super::FEED_SCRIPT_PATH })
}

/// Events the live feed reads (and renders) at a time.
const STREAM_BATCH: u32 = 50;

/// How long the live feed waits for a change before it checks its session
/// again (a sign-out on another server ends the stream within this).
const STREAM_WAIT: Duration = Duration::from_secs(5);

#[derive(Deserialize)]
pub(crate) struct StreamParams {
    after: Option<String>,
    follow: Option<String>,
}

#[derive(Template)]
#[template(path = "console/event_row.html")]
struct EventRowHtml<'a> {
    e: &'a EventRow,
}

/// `GET /events/stream?after=N[&follow=false]`: the change feed as
/// Server-Sent Events for the signed-in session, as `/v1/events/stream` is
/// for a key: `id:` the event's `seq`, `event: change`, `data:` its row as
/// the feed page shows it. `Last-Event-ID` (an `EventSource` reconnecting)
/// wins over `after`. The core decides what the session sees
/// (`Directory::session_events`, checking the session afresh each time):
/// when the session ends, the stream says `event: signed-out` and ends.
/// `follow=false` sends what the log holds, then ends.
pub(crate) async fn events_stream(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Query(q): Query<StreamParams>,
) -> ConsoleResult {
    let (after, follow) = crate::http::extract::stream_start(&headers, q.after.as_deref(), q.follow.as_deref())?;
    // Refused as a page here, before the stream starts.
    state.directory.list_events(&session.principal, after, 1).await?;
    let start =
        LiveFeed { state, token: session.token().to_owned(), after, rows: VecDeque::new(), follow, over: false };
    let frames = futures_util::stream::unfold(start, |mut f| async move {
        loop {
            if let Some((seq, row)) = f.rows.pop_front() {
                f.after = seq;
                return Some((
                    Ok::<_, Infallible>(SseEvent::default().id(seq.to_string()).event("change").data(row)),
                    f,
                ));
            }
            if f.over {
                return None;
            }
            let wait = if f.follow { STREAM_WAIT } else { Duration::ZERO };
            match f.state.directory.session_events(&f.token, f.after, STREAM_BATCH, wait).await {
                Ok((_, events)) if events.is_empty() => {
                    if !f.follow {
                        return None;
                    }
                }
                Ok((p, events)) => match render(&f.state, &p, &events).await {
                    Ok(rows) => f.rows.extend(rows),
                    Err(e) => {
                        tracing::warn!(error = ?e, "the console's event stream ended by an error");
                        return None;
                    }
                },
                Err(CoreError::Unauthenticated) => {
                    f.over = true;
                    return Some((Ok(SseEvent::default().event("signed-out").data("")), f));
                }
                // The browser reconnects with Last-Event-ID and resumes.
                Err(e) => {
                    tracing::warn!(error = %e, "the console's event stream ended by an error");
                    return None;
                }
            }
        }
    });
    Ok(super::page_headers(Sse::new(frames).keep_alive(KeepAlive::default()).into_response()))
}

/// Where a session's live feed stands: rows rendered and not yet sent
/// (oldest first, with their `seq`).
struct LiveFeed {
    state: AppState,
    token: String,
    after: i64,
    rows: VecDeque<(i64, String)>,
    follow: bool,
    /// The session has ended: send what is left, then stop.
    over: bool,
}

/// Each event's row as HTML, oldest first.
async fn render(
    state: &AppState,
    p: &roster_core::Principal,
    events: &[roster_core::Event],
) -> Result<Vec<(i64, String)>, ConsoleError> {
    let rows = event_rows(state, p, events).await?;
    // `event_rows` puts the newest first; the stream sends in log order.
    rows.iter().rev().map(|e| Ok((e.seq, EventRowHtml { e }.render()?))).collect()
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
    let events = event_rows(&state, &session.principal, &page.items).await?;
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
