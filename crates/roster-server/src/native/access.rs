//! `/v1/groups/{id}/shares`, `/v1/keys`, `/v1/events`: who may reach a
//! group, the keys that act for users, and the change feed.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use roster_core::{Grantee, GroupId, KeyId, ShareLevel, UserId, list};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::wire::{self, ErrorBody, EventParams, KeyListParams, List, PageParams, StreamParams};
use super::{ApiResult, Auth, Body, Params, page};
use crate::http::AppState;
use crate::http::error::BadRequest;
use crate::http::extract::{self, id_param};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_shares))
        .routes(routes!(put_user_share, delete_user_share))
        .routes(routes!(put_group_share, delete_group_share))
        .routes(routes!(create_key, list_keys))
        .routes(routes!(delete_key))
        .routes(routes!(list_events))
        .routes(routes!(stream_events))
}

fn level(value: &str) -> Result<ShareLevel, BadRequest> {
    ShareLevel::parse(value).ok_or_else(|| BadRequest::invalid("level", "must be \"read\", \"write\" or \"manage\""))
}

/// Who a group is shared with (site admins, manage shares).
#[utoipa::path(get, path = "/v1/groups/{id}/shares", tag = "shares",
    params(("id" = uuid::Uuid, Path), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = List<wire::Share>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_shares(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    extract::Query(q, _): Params<PageParams>,
) -> ApiResult<Json<List<wire::Share>>> {
    let req = page(list::SHARES, q.limit.as_deref(), q.cursor.as_deref())?;
    let shares = s.directory.list_shares(&p, id_param::<GroupId>("id", &id)?, &req).await?;
    Ok(Json(List::from_page(shares, wire::Share::from)))
}

async fn put_share(
    s: &AppState,
    p: &roster_core::Principal,
    group: GroupId,
    grantee: Grantee,
    body: wire::PutShare,
) -> ApiResult<Json<wire::Share>> {
    let (share, _) = s.directory.put_share(p, group, grantee, level(&body.level)?).await?;
    Ok(Json(share.into()))
}

/// Share a group with a user at `read`, `write` or `manage` (idempotent).
#[utoipa::path(put, path = "/v1/groups/{id}/shares/users/{user_id}", tag = "shares",
    params(("id" = uuid::Uuid, Path), ("user_id" = uuid::Uuid, Path)), request_body = wire::PutShare,
    responses((status = 200, body = wire::Share), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn put_user_share(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, user)): Path<(String, String)>,
    body: Body<wire::PutShare>,
) -> ApiResult<Json<wire::Share>> {
    let (id, user) = (id_param::<GroupId>("id", &id)?, id_param::<UserId>("user_id", &user)?);
    put_share(&s, &p, id, Grantee::User(user), body.into_inner()).await
}

/// Stop sharing a group with a user.
#[utoipa::path(delete, path = "/v1/groups/{id}/shares/users/{user_id}", tag = "shares",
    params(("id" = uuid::Uuid, Path), ("user_id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_user_share(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (id, user) = (id_param::<GroupId>("id", &id)?, id_param::<UserId>("user_id", &user)?);
    s.directory.delete_share(&p, id, Grantee::User(user)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Share a group with the members of another group (idempotent).
#[utoipa::path(put, path = "/v1/groups/{id}/shares/groups/{group_id}", tag = "shares",
    params(("id" = uuid::Uuid, Path), ("group_id" = uuid::Uuid, Path)), request_body = wire::PutShare,
    responses((status = 200, body = wire::Share), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn put_group_share(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, to)): Path<(String, String)>,
    body: Body<wire::PutShare>,
) -> ApiResult<Json<wire::Share>> {
    let (id, to) = (id_param::<GroupId>("id", &id)?, id_param::<GroupId>("group_id", &to)?);
    put_share(&s, &p, id, Grantee::Group(to), body.into_inner()).await
}

/// Stop sharing a group with another group.
#[utoipa::path(delete, path = "/v1/groups/{id}/shares/groups/{group_id}", tag = "shares",
    params(("id" = uuid::Uuid, Path), ("group_id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_group_share(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, to)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (id, to) = (id_param::<GroupId>("id", &id)?, id_param::<GroupId>("group_id", &to)?);
    s.directory.delete_share(&p, id, Grantee::Group(to)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create an API key for a user; the secret is in `key`, shown this once.
#[utoipa::path(post, path = "/v1/keys", tag = "keys", request_body = wire::NewKey,
    responses((status = 201, body = wire::CreatedKey), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_key(
    State(s): State<AppState>,
    Auth(p): Auth,
    body: Body<wire::NewKey>,
) -> ApiResult<impl IntoResponse> {
    let b = body.into_inner();
    let created = s.directory.create_key(&p, UserId(b.user_id), &b.name).await?;
    Ok((StatusCode::CREATED, Json(wire::CreatedKey { key: created.secret, record: created.key.into() })))
}

/// List keys: your own, or (site admins) anyone's with `user_id`, or all.
#[utoipa::path(get, path = "/v1/keys", tag = "keys",
    params(("user_id" = Option<uuid::Uuid>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = List<wire::ApiKey>), (status = 403, body = ErrorBody)))]
async fn list_keys(
    State(s): State<AppState>,
    Auth(p): Auth,
    extract::Query(q, _): Params<KeyListParams>,
) -> ApiResult<Json<List<wire::ApiKey>>> {
    let req = page(list::KEYS, q.limit.as_deref(), q.cursor.as_deref())?;
    let user = q.user_id.as_deref().map(|u| id_param::<UserId>("user_id", u)).transpose()?;
    Ok(Json(List::from_page(s.directory.list_keys(&p, user, &req).await?, wire::ApiKey::from)))
}

/// Revoke a key (its owner or site admins).
#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "keys", params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_key(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.directory.delete_key(&p, id_param::<KeyId>("id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The change feed (site admins): events with `seq > after`, oldest first.
/// `next_cursor` is the `seq` to pass as `after` for the next page.
#[utoipa::path(get, path = "/v1/events", tag = "events",
    params(("after" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = List<wire::Event>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_events(
    State(s): State<AppState>,
    Auth(p): Auth,
    extract::Query(q, _): Params<EventParams>,
) -> ApiResult<Json<List<wire::Event>>> {
    let after = super::number("after", q.after.as_deref())?.unwrap_or(0);
    if after < 0 {
        return Err(BadRequest::invalid("after", "must not be negative").into());
    }
    let req = page(list::EVENTS, q.limit.as_deref(), None)?;
    let events = s.directory.list_events(&p, after, req.limit).await?;
    let next_cursor = events.next_cursor.as_ref().and(events.items.last()).map(|e| e.seq.to_string());
    let mut list = List::from_page(events, wire::Event::from);
    list.next_cursor = next_cursor;
    Ok(Json(list))
}

/// Events read from the log at a time by a stream.
const STREAM_BATCH: u32 = 100;

/// How long a stream waits for the next event before it looks again.
const STREAM_WAIT: Duration = Duration::from_secs(15);

/// The change feed as Server-Sent Events (site admins, as `/v1/events`):
/// each event's `id:` is its `seq`, `event:` its action, `data:` the event
/// as `/v1/events` shows it. A client that reconnects with
/// `Last-Event-ID` (what browsers and most SSE clients send) resumes after
/// it; else after `after` (default 0: the whole log). Comments keep an idle
/// stream alive. `follow=false` sends what the log holds, then ends.
#[utoipa::path(get, path = "/v1/events/stream", tag = "events",
    params(("after" = Option<i64>, Query),
        ("follow" = Option<bool>, Query, description = "false: end once the log is sent (default true)"),
        ("Last-Event-ID" = Option<i64>, Header, description = "resume after this seq (wins over `after`)")),
    responses((status = 200, content_type = "text/event-stream", body = wire::StreamedEvent,
        description = "one frame per event: `id: <seq>`, `event: <action>`, `data: <the event as JSON>`"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn stream_events(
    State(s): State<AppState>,
    Auth(p): Auth,
    headers: HeaderMap,
    extract::Query(q, _): Params<StreamParams>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let (after, follow) = extract::stream_start(&headers, q.after.as_deref(), q.follow.as_deref())?;
    // Refused as a JSON error here, before the stream starts.
    s.directory.list_events(&p, after, 1).await?;
    let start = Feed { directory: s.directory.clone(), principal: p, after, buffer: VecDeque::new(), follow };
    let events = futures_util::stream::unfold(start, |mut f| async move {
        loop {
            if let Some(e) = f.buffer.pop_front() {
                f.after = e.seq;
                let event = SseEvent::default().id(e.seq.to_string()).event(e.action.clone());
                let event = event.json_data(wire::Event::from(e)).unwrap_or_else(|_| SseEvent::default());
                return Some((Ok(event), f));
            }
            match f.directory.list_events(&f.principal, f.after, STREAM_BATCH).await {
                Ok(page) if !page.items.is_empty() => f.buffer.extend(page.items),
                Ok(_) if f.follow => f.directory.wait_for_events(f.after, STREAM_WAIT).await,
                Ok(_) => return None,
                // The client reconnects with Last-Event-ID and resumes.
                Err(e) => {
                    tracing::warn!(error = %e, "event stream ended by an error");
                    return None;
                }
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// Where a stream of the change feed stands.
struct Feed {
    directory: std::sync::Arc<roster_core::Directory>,
    principal: roster_core::Principal,
    after: i64,
    buffer: VecDeque<roster_core::Event>,
    follow: bool,
}
