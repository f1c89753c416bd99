//! `/api/access_keys` and `/api/self/get_or_create_access_key`: Roster API
//! keys as Iguazio access keys. In Iguazio a key's id is its secret; Roster
//! keeps only a digest, so the secret can be the id only where it is known:
//! in the answer that creates the key, and for the key the caller is using.
//! Everywhere else a key is named by its record id (a UUID); reads and
//! deletes accept either.

use std::net::IpAddr;

use axum::Json;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use roster_core::{ApiKey, CoreError, KeyId, Principal, collect_all, list as lists};
use serde_json::{Value, json};

use super::Body;
use super::auth::{Auth, credential};
use super::doc::{self, Attrs};
use super::error::{IgzError, IgzResult, not_found};
use super::map;
use super::query::ListQuery;
use crate::http::AppState;
use crate::http::auth::Source;

/// Session planes, as the SDK names them.
const PLANES: &[&str] = &["control", "data"];

/// The caller together with the secret they presented.
pub struct AuthWithKey(Principal, String);

impl FromRequestParts<AppState> for AuthWithKey {
    type Rejection = IgzError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let secret = credential(parts).ok_or(CoreError::Unauthenticated)?;
        Ok(AuthWithKey(state.directory.authenticate(&secret, crate::http::auth::source(parts)).await?, secret))
    }
}

fn render(key: &ApiKey, id: &str, planes: &[String]) -> Value {
    let mut a = Attrs::new();
    a.insert("label".into(), json!(key.name));
    a.insert("tenant_id".into(), json!(map::TENANT_ID));
    a.insert("created_at".into(), json!(map::time(key.created_at)));
    a.insert("updated_at".into(), json!(map::time(key.created_at)));
    a.insert("planes".into(), json!(planes));
    a.insert("kind".into(), json!("accessKey"));
    a.insert("interface_kind".into(), json!("web"));
    a.insert("ttl".into(), json!(315_360_000));
    doc::resource("access_key", id, a)
}

fn planes(d: &doc::Incoming) -> IgzResult<Vec<String>> {
    Ok(d.texts("planes", Some(PLANES))?.unwrap_or_else(|| PLANES.iter().map(|p| p.to_string()).collect()))
}

/// A key named by its record id or by its secret.
async fn find(s: &AppState, p: &Principal, raw: &str, source: Option<IpAddr>) -> IgzResult<(ApiKey, String)> {
    if let Ok(id) = raw.parse::<KeyId>() {
        return Ok((s.directory.get_key(p, id).await?, id.to_string()));
    }
    // A secret that names no live key is an unknown key; a store that
    // fails stays a failure.
    let owner = match s.directory.authenticate(raw, source).await {
        Ok(owner) => owner,
        Err(CoreError::Unauthenticated) => return Err(not_found("access_key")),
        Err(e) => return Err(e.into()),
    };
    let id = owner.key.ok_or_else(|| not_found("access_key"))?;
    Ok((s.directory.get_key(p, id).await?, raw.to_owned()))
}

pub async fn create(State(s): State<AppState>, Auth(p): Auth, body: Body) -> IgzResult<impl IntoResponse> {
    let d = doc::incoming(body.into_inner())?;
    let label = d.text("label")?.filter(|l| !l.is_empty()).unwrap_or_else(|| "igz-mgmt".into());
    let planes = planes(&d)?;
    let created = s.directory.create_key(&p, p.user, &label).await?;
    Ok((StatusCode::CREATED, doc::single(render(&created.key, &created.secret, &planes), Vec::new())))
}

/// The key the caller is using when its label matches, else a new one.
pub async fn get_or_create(
    State(s): State<AppState>,
    AuthWithKey(p, secret): AuthWithKey,
    body: Body,
) -> IgzResult<Json<Value>> {
    let d = doc::incoming(body.into_inner())?;
    let label = d.text("label")?.filter(|l| !l.is_empty()).unwrap_or_else(|| "for-sdk-mgmt".into());
    let planes = planes(&d)?;
    if let Some(id) = p.key {
        let current = s.directory.get_key(&p, id).await?;
        if current.name == label {
            return Ok(doc::single(render(&current, &secret, &planes), Vec::new()));
        }
    }
    let created = s.directory.create_key(&p, p.user, &label).await?;
    Ok(doc::single(render(&created.key, &created.secret, &planes), Vec::new()))
}

pub async fn get(
    State(s): State<AppState>,
    Auth(p): Auth,
    Source(source): Source,
    Path(raw): Path<String>,
) -> IgzResult<Json<Value>> {
    let (key, id) = find(&s, &p, &raw, source).await?;
    let all: Vec<String> = PLANES.iter().map(|p| p.to_string()).collect();
    Ok(doc::single(render(&key, &id, &all), Vec::new()))
}

/// The caller's keys, by record id (their secrets are not kept).
pub async fn list(State(s): State<AppState>, Auth(p): Auth, RawQuery(raw): RawQuery) -> IgzResult<Json<Value>> {
    let q = ListQuery::parse(raw.as_deref())?;
    let (s, pr) = (&s, &p);
    let keys =
        collect_all(lists::KEYS, |req| async move { s.directory.list_keys(pr, Some(pr.user), &req).await }).await?;
    let all: Vec<String> = PLANES.iter().map(|p| p.to_string()).collect();
    let mut items: Vec<Value> =
        keys.iter().map(|k| render(k, &k.id.to_string(), &all)).filter(|r| q.matches(r)).collect();
    q.sort_known(&mut items, &["label", "created_at"])?;
    Ok(doc::list(q.window(items)))
}

pub async fn delete(
    State(s): State<AppState>,
    Auth(p): Auth,
    Source(source): Source,
    Path(raw): Path<String>,
) -> IgzResult<StatusCode> {
    let (key, _) = find(&s, &p, &raw, source).await?;
    s.directory.delete_key(&p, key.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
