//! `/v1/webhooks`: subscriptions to the change feed, pushed as signed
//! HTTP requests (Standard Webhooks), their delivery log and redelivery.
//! Who may manage which subscription is the core's decision.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use roster_core::{DeliveryFilter, GroupId, NewWebhook, WebhookId, WebhookPatch, list};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::wire::{self, DeliveryParams, ErrorBody, List, PageParams};
use super::{ApiResult, Auth, Body, Params, page};
use crate::http::AppState;
use crate::http::error::BadRequest;
use crate::http::extract::{self, id_param};

/// The grace period of a rotated secret when the client names none.
const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 3600);

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_webhook, list_webhooks))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(rotate_secret))
        .routes(routes!(ping))
        .routes(routes!(list_deliveries))
        .routes(routes!(redeliver))
        .routes(routes!(redeliver_event))
}

/// Subscribe a URL to the change feed. The answer's `secret` signs every
/// delivery and is shown this once. Site admins; for a subscription scoped
/// to a group, also its admins and manage shares.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", request_body = wire::NewWebhook,
    responses((status = 201, body = wire::CreatedWebhook), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_webhook(
    State(s): State<AppState>,
    Auth(p): Auth,
    body: Body<wire::NewWebhook>,
) -> ApiResult<impl IntoResponse> {
    let b = body.into_inner();
    let new = NewWebhook {
        url: b.url,
        event_types: b.event_types,
        group: b.group_id.map(GroupId),
        description: b.description,
        enabled: b.enabled,
    };
    let created = s.directory.create_webhook(&p, new).await?;
    Ok((StatusCode::CREATED, Json(wire::CreatedWebhook { secret: created.secret, record: created.webhook.into() })))
}

/// The subscriptions you may manage, oldest first.
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks",
    params(("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = List<wire::Webhook>)))]
async fn list_webhooks(
    State(s): State<AppState>,
    Auth(p): Auth,
    extract::Query(q, _): Params<PageParams>,
) -> ApiResult<Json<List<wire::Webhook>>> {
    let req = page(list::WEBHOOKS, q.limit.as_deref(), q.cursor.as_deref())?;
    Ok(Json(List::from_page(s.directory.list_webhooks(&p, &req).await?, wire::Webhook::from)))
}

/// One subscription (never its secret).
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = wire::Webhook), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_webhook(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<wire::Webhook>> {
    Ok(Json(s.directory.get_webhook(&p, id_param::<WebhookId>("id", &id)?).await?.into()))
}

/// Change a subscription's URL, event types, description, or enable or
/// disable it. Enabling clears the retries of the event it was stuck on.
#[utoipa::path(patch, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = uuid::Uuid, Path)),
    request_body = wire::WebhookPatch,
    responses((status = 200, body = wire::Webhook), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_webhook(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Body<wire::WebhookPatch>,
) -> ApiResult<Json<wire::Webhook>> {
    let b = body.into_inner();
    let patch = WebhookPatch { url: b.url, event_types: b.event_types, description: b.description, enabled: b.enabled };
    Ok(Json(s.directory.update_webhook(&p, id_param::<WebhookId>("id", &id)?, patch).await?.into()))
}

/// Delete a subscription and its delivery log.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_webhook(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.directory.delete_webhook(&p, id_param::<WebhookId>("id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret, shown this once. The old one signs beside it
/// (a second `v1,` entry of `webhook-signature`) for `grace_seconds`.
#[utoipa::path(post, path = "/v1/webhooks/{id}/rotate-secret", tag = "webhooks", params(("id" = uuid::Uuid, Path)),
    request_body = wire::RotateSecret,
    responses((status = 200, body = wire::RotatedSecret), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn rotate_secret(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Body<wire::RotateSecret>,
) -> ApiResult<Json<wire::RotatedSecret>> {
    let id = id_param::<WebhookId>("id", &id)?;
    let grace = match body.into_inner().grace_seconds {
        None => DEFAULT_GRACE,
        Some(s) => Duration::from_secs(
            u64::try_from(s).map_err(|_| BadRequest::invalid("grace_seconds", "must not be negative"))?,
        ),
    };
    let secret = s.directory.rotate_webhook_secret(&p, id, grace).await?;
    let hook = s.directory.get_webhook(&p, id).await?;
    Ok(Json(wire::RotatedSecret { secret, previous_secret_until: hook.previous_secret_until }))
}

/// Send a test ping: a `webhook.ping` event that only this subscription
/// receives, in order with its other events (see its deliveries).
#[utoipa::path(post, path = "/v1/webhooks/{id}/ping", tag = "webhooks", params(("id" = uuid::Uuid, Path)),
    responses((status = 202), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn ping(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.directory.ping_webhook(&p, id_param::<WebhookId>("id", &id)?).await?;
    Ok(StatusCode::ACCEPTED)
}

/// The delivery log, newest first: recent attempts, or with
/// `outcome=dead` the dead letters (events whose last retry failed).
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = uuid::Uuid, Path), ("outcome" = Option<String>, Query, description = "`dead`: only the dead letters"),
        ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = List<wire::Delivery>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_deliveries(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    extract::Query(q, _): Params<DeliveryParams>,
) -> ApiResult<Json<List<wire::Delivery>>> {
    let id = id_param::<WebhookId>("id", &id)?;
    let filter = match q.outcome.as_deref() {
        None => DeliveryFilter::All,
        Some("dead") => DeliveryFilter::Dead,
        Some(_) => return Err(BadRequest::invalid("outcome", "must be \"dead\"").into()),
    };
    let req = page(list::DELIVERIES, q.limit.as_deref(), q.cursor.as_deref())?;
    Ok(Json(List::from_page(s.directory.list_webhook_deliveries(&p, id, filter, &req).await?, wire::Delivery::from)))
}

/// Deliver again, in order, every event after `after` that the
/// subscription takes (receivers drop repeats by `webhook-id`).
#[utoipa::path(post, path = "/v1/webhooks/{id}/redeliver", tag = "webhooks", params(("id" = uuid::Uuid, Path)),
    request_body = wire::Redeliver,
    responses((status = 200, body = wire::DeliveryState), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn redeliver(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Body<wire::Redeliver>,
) -> ApiResult<Json<wire::DeliveryState>> {
    let id = id_param::<WebhookId>("id", &id)?;
    Ok(Json(s.directory.redeliver_webhook(&p, id, body.into_inner().after).await?.into()))
}

/// Send one event again, on its own (a dead letter, say): once, out of
/// order, without retries, the next time the subscription is due; the
/// attempt shows in the delivery log.
#[utoipa::path(post, path = "/v1/webhooks/{id}/redeliver/{seq}", tag = "webhooks",
    params(("id" = uuid::Uuid, Path), ("seq" = i64, Path, minimum = 1)),
    responses((status = 202), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn redeliver_event(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, seq)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = id_param::<WebhookId>("id", &id)?;
    let seq = crate::http::extract::int_param("seq", Some(&seq))?.unwrap_or(0);
    s.directory.redeliver_webhook_event(&p, id, seq).await?;
    Ok(StatusCode::ACCEPTED)
}
