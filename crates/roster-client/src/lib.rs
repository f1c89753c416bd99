//! A client for Roster's native `/v1` API.
//!
//! One method per operation, typed models, errors that carry the server's
//! `code`, `message` and `field`, lists as [`Stream`]s that follow the
//! cursors, and retries only where they are safe (reads and idempotent
//! writes, on 429 and 503, with backoff). It depends on no server crate.
//!
//! ```no_run
//! # async fn demo() -> Result<(), roster_client::Error> {
//! use futures_util::TryStreamExt;
//! use roster_client::{Client, NewGroup};
//!
//! let roster = Client::new("http://127.0.0.1:8080", "rst_...")?;
//! let group = roster.create_group(&NewGroup::named("Engineering")).await?;
//! let everyone: Vec<_> = roster.members(group.id).try_collect().await?;
//! println!("{} has {} members", group.name, everyone.len());
//! # Ok(()) }
//! ```

mod error;
mod models;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use futures_util::Stream;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

pub use error::Error;
pub use models::*;

/// The event of one Server-Sent Events frame (its `data:` lines), if it
/// carries one (keep-alive comments do not).
fn sse_event(frame: &[u8]) -> Result<Option<Event>, Error> {
    let text = String::from_utf8_lossy(frame);
    let data: Vec<&str> =
        text.lines().filter_map(|l| l.strip_prefix("data:")).map(|d| d.strip_prefix(' ').unwrap_or(d)).collect();
    if data.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(&data.join("\n")).map(Some).map_err(|e| Error::Decode(e.to_string()))
}

/// How many times a safe request is sent before its error is returned.
const ATTEMPTS: u32 = 4;

/// The header a write's answer carries its revision in.
pub const REVISION: &str = "roster-revision";
/// The header a request names the oldest revision it may be answered from.
pub const MIN_REVISION: &str = "roster-min-revision";

/// A connection to one Roster server, acting with one API key. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
    page_size: u32,
    /// The highest revision this client (and its clones) has written at or
    /// been told to read at: sent as `Roster-Min-Revision`, so a read
    /// through any server of a cluster sees this client's own writes.
    revision: Arc<AtomicI64>,
}

impl Client {
    /// A client for the server at `base_url` (e.g. `http://127.0.0.1:8080`)
    /// acting with `key`.
    ///
    /// ```
    /// let roster = roster_client::Client::new("http://127.0.0.1:8080", "rst_example").unwrap();
    /// ```
    pub fn new(base_url: &str, key: &str) -> Result<Self, Error> {
        // TLS through rustls with ring; installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::Transport(e.to_string()))?;
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
            page_size: 1000,
            revision: Arc::new(AtomicI64::new(0)),
        })
    }

    /// The same client, reading nothing older than `revision` (a
    /// `Roster-Revision` another client or an earlier run was given).
    pub fn with_min_revision(self, revision: i64) -> Self {
        self.revision.fetch_max(revision, Ordering::AcqRel);
        self
    }

    /// The highest revision this client has written at or asked for (0:
    /// none): pass it on to make another client read these writes.
    pub fn revision(&self) -> i64 {
        self.revision.load(Ordering::Acquire)
    }

    /// The same client, reading lists `n` items per request (1–1000).
    pub fn with_page_size(mut self, n: u32) -> Self {
        self.page_size = n.clamp(1, 1000);
        self
    }

    /// Sends one request; retries it when `safe` and the server says to wait.
    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        safe: bool,
    ) -> Result<Option<serde_json::Value>, Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = self.http.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(&self.key);
            let floor = self.revision();
            if floor > 0 {
                req = req.header(MIN_REVISION, floor);
            }
            if !query.is_empty() {
                req = req.query(query);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let res = req.send().await.map_err(|e| Error::Transport(e.to_string()))?;
            let status = res.status();
            if let Some(r) = res.headers().get(REVISION).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()) {
                self.revision.fetch_max(r, Ordering::AcqRel);
            }
            let retry = safe
                && attempt < ATTEMPTS
                && (status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE);
            if retry {
                let wait = res
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .map_or(Duration::from_millis(200 << attempt), Duration::from_secs);
                tokio::time::sleep(wait.min(Duration::from_secs(10))).await;
                continue;
            }
            let bytes = res.bytes().await.map_err(|e| Error::Transport(e.to_string()))?;
            if !status.is_success() {
                return Err(Error::from_response(status.as_u16(), &bytes));
            }
            if bytes.is_empty() {
                return Ok(None);
            }
            return serde_json::from_slice(&bytes).map(Some).map_err(|e| Error::Decode(e.to_string()));
        }
    }

    async fn call<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        safe: bool,
    ) -> Result<T, Error> {
        let value = self.send(method, path, &[], body, safe).await?.unwrap_or(serde_json::Value::Null);
        serde_json::from_value(value).map_err(|e| Error::Decode(e.to_string()))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        self.call::<T, ()>(Method::GET, path, None, true).await
    }

    async fn delete(&self, path: &str) -> Result<(), Error> {
        self.send::<()>(Method::DELETE, path, &[], None, true).await.map(drop)
    }

    /// One page of a list.
    pub async fn page<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        cursor: Option<&str>,
    ) -> Result<List<T>, Error> {
        let mut q = query.to_vec();
        if let Some(c) = cursor {
            q.push(("cursor", c.to_owned()));
        }
        let value = self.send::<()>(Method::GET, path, &q, None, true).await?.unwrap_or_default();
        serde_json::from_value(value).map_err(|e| Error::Decode(e.to_string()))
    }

    /// Every item of a list, fetching pages as the stream is read.
    pub fn all<T: DeserializeOwned + Send + 'static>(
        &self,
        path: String,
        query: Vec<(&'static str, String)>,
    ) -> impl Stream<Item = Result<T, Error>> + Send + 'static {
        struct State<T> {
            client: Client,
            path: String,
            query: Vec<(&'static str, String)>,
            cursor: Option<String>,
            buffer: std::vec::IntoIter<T>,
            done: bool,
        }
        let mut query = query;
        query.push(("limit", self.page_size.to_string()));
        let state =
            State { client: self.clone(), path, query, cursor: None, buffer: Vec::new().into_iter(), done: false };
        futures_util::stream::try_unfold(state, |mut s| async move {
            loop {
                if let Some(item) = s.buffer.next() {
                    return Ok(Some((item, s)));
                }
                if s.done {
                    return Ok(None);
                }
                let page: List<T> = s.client.page(&s.path, &s.query, s.cursor.as_deref()).await?;
                s.done = page.next_cursor.is_none();
                s.cursor = page.next_cursor;
                s.buffer = page.items.into_iter();
            }
        })
    }

    /// The user the key acts for.
    pub async fn me(&self) -> Result<User, Error> {
        self.get("/v1/me").await
    }

    /// Creates a user (site admins).
    pub async fn create_user(&self, user: &NewUser) -> Result<User, Error> {
        self.call(Method::POST, "/v1/users", Some(user), false).await
    }

    pub async fn user(&self, id: Uuid) -> Result<User, Error> {
        self.get(&format!("/v1/users/{id}")).await
    }

    /// Changes a user; fields left `None` stay as they are.
    pub async fn update_user(&self, id: Uuid, patch: &UserPatch) -> Result<User, Error> {
        self.call(Method::PATCH, &format!("/v1/users/{id}"), Some(patch), false).await
    }

    pub async fn delete_user(&self, id: Uuid) -> Result<(), Error> {
        self.delete(&format!("/v1/users/{id}")).await
    }

    /// Every user whose username, first, last or display name starts with
    /// `prefix` (ignoring case), or every user.
    pub fn users(&self, prefix: Option<&str>) -> impl Stream<Item = Result<User, Error>> + Send + 'static {
        let query = prefix.map(|p| vec![("prefix", p.to_owned())]).unwrap_or_default();
        self.all("/v1/users".into(), query)
    }

    /// The groups a user is directly in.
    pub fn user_groups(&self, id: Uuid) -> impl Stream<Item = Result<GroupEdge, Error>> + Send + 'static {
        self.all(format!("/v1/users/{id}/groups"), Vec::new())
    }

    /// Creates a group (site admins).
    pub async fn create_group(&self, group: &NewGroup) -> Result<Group, Error> {
        self.call(Method::POST, "/v1/groups", Some(group), false).await
    }

    pub async fn group(&self, id: Uuid) -> Result<Group, Error> {
        self.get(&format!("/v1/groups/{id}")).await
    }

    /// Changes a group; fields left `None` stay as they are.
    pub async fn update_group(&self, id: Uuid, patch: &GroupPatch) -> Result<Group, Error> {
        self.call(Method::PATCH, &format!("/v1/groups/{id}"), Some(patch), false).await
    }

    pub async fn delete_group(&self, id: Uuid) -> Result<(), Error> {
        self.delete(&format!("/v1/groups/{id}")).await
    }

    /// Every group the key may see whose name starts with `prefix`, or all.
    pub fn groups(&self, prefix: Option<&str>) -> impl Stream<Item = Result<Group, Error>> + Send + 'static {
        let query = prefix.map(|p| vec![("prefix", p.to_owned())]).unwrap_or_default();
        self.all("/v1/groups".into(), query)
    }

    /// The first group whose name starts with `prefix`, if any.
    pub async fn find_group(&self, prefix: &str) -> Result<Option<Group>, Error> {
        let page: List<Group> =
            self.page("/v1/groups", &[("prefix", prefix.to_owned()), ("limit", "1".into())], None).await?;
        Ok(page.items.into_iter().next())
    }

    /// How many groups the key may see.
    pub async fn count_groups(&self) -> Result<i64, Error> {
        let page: List<Group> = self.page("/v1/groups", &[("limit", "1".into())], None).await?;
        Ok(page.total)
    }

    /// Puts a user in a group with a role (idempotent: safe to retry).
    pub async fn put_member(&self, group: Uuid, user: Uuid, role: Role) -> Result<Membership, Error> {
        let body = serde_json::json!({ "role": role });
        self.call(Method::PUT, &format!("/v1/groups/{group}/members/{user}"), Some(&body), true).await
    }

    pub async fn remove_member(&self, group: Uuid, user: Uuid) -> Result<(), Error> {
        self.delete(&format!("/v1/groups/{group}/members/{user}")).await
    }

    /// Every direct member of a group, with their user.
    pub fn members(&self, group: Uuid) -> impl Stream<Item = Result<Member, Error>> + Send + 'static {
        self.all(format!("/v1/groups/{group}/members"), Vec::new())
    }

    /// Every member of a group (at any depth with `transitive`), each row
    /// narrowed to `fields` (`fields=` in `/openapi.json`): a row keeps its
    /// shape, `{"membership": {..}, "user": {..}}`, with only the named
    /// fields; a bare name (`username`) or `user.username` is a field of the
    /// user, `membership.role` one of the membership, and the user's `id`
    /// is always there. `T` is what a row reads as: `serde_json::Value`, or
    /// a struct of the fields asked for.
    ///
    /// ```no_run
    /// # async fn run(roster: roster_client::Client, group: uuid::Uuid) -> Result<(), roster_client::Error> {
    /// use futures_util::TryStreamExt;
    /// #[derive(serde::Deserialize)]
    /// struct Row { user: Who }
    /// #[derive(serde::Deserialize)]
    /// struct Who { id: uuid::Uuid, username: String }
    /// let rows: Vec<Row> = roster.members_with_fields(group, &["username"], false).try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn members_with_fields<T: DeserializeOwned + Send + 'static>(
        &self,
        group: Uuid,
        fields: &[&str],
        transitive: bool,
    ) -> impl Stream<Item = Result<T, Error>> + Send + 'static {
        let mut query = vec![("fields", fields.join(","))];
        if transitive {
            query.push(("transitive", "true".into()));
        }
        self.all(format!("/v1/groups/{group}/members"), query)
    }

    /// Every user in a group at any depth (through nested groups), once
    /// each, in the order the users were created.
    pub fn transitive_members(&self, group: Uuid) -> impl Stream<Item = Result<User, Error>> + Send + 'static {
        use futures_util::TryStreamExt;
        self.all::<TransitiveMember>(format!("/v1/groups/{group}/members"), vec![("transitive", "true".into())])
            .map_ok(|m| m.user)
    }

    /// Every group a user is in at any depth, in the order the groups were created.
    pub fn transitive_groups(&self, user: Uuid) -> impl Stream<Item = Result<Group, Error>> + Send + 'static {
        use futures_util::TryStreamExt;
        self.all::<TransitiveGroup>(format!("/v1/users/{user}/groups"), vec![("transitive", "true".into())])
            .map_ok(|g| g.group)
    }

    /// Whether `user` is in `group` at any depth, with the path that makes it so.
    ///
    /// ```no_run
    /// # async fn run(roster: roster_client::Client, user: uuid::Uuid, group: uuid::Uuid) -> Result<(), roster_client::Error> {
    /// let check = roster.check(user, group).await?;
    /// if check.member {
    ///     println!("in it through {} groups", check.path.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn check(&self, user: Uuid, group: Uuid) -> Result<Check, Error> {
        let query = [("user", user.to_string()), ("group", group.to_string())];
        let value = self.send::<()>(Method::GET, "/v1/check", &query, None, true).await?.unwrap_or_default();
        serde_json::from_value(value).map_err(|e| Error::Decode(e.to_string()))
    }

    /// Nests `child` in `parent` (idempotent; a cycle is refused).
    pub async fn add_child(&self, parent: Uuid, child: Uuid) -> Result<Membership, Error> {
        self.call::<_, ()>(Method::PUT, &format!("/v1/groups/{parent}/children/{child}"), None, true).await
    }

    pub async fn remove_child(&self, parent: Uuid, child: Uuid) -> Result<(), Error> {
        self.delete(&format!("/v1/groups/{parent}/children/{child}")).await
    }

    /// The groups nested directly in a group.
    pub fn children(&self, group: Uuid) -> impl Stream<Item = Result<GroupEdge, Error>> + Send + 'static {
        self.all(format!("/v1/groups/{group}/children"), Vec::new())
    }

    /// Makes an API key for a user; the secret is in the answer's `key`, once.
    pub async fn create_key(&self, user: Uuid, name: &str) -> Result<CreatedKey, Error> {
        let body = serde_json::json!({ "user_id": user, "name": name });
        self.call(Method::POST, "/v1/keys", Some(&body), false).await
    }

    pub async fn delete_key(&self, id: Uuid) -> Result<(), Error> {
        self.delete(&format!("/v1/keys/{id}")).await
    }

    /// Events after `after`, oldest first (site admins).
    pub async fn events(&self, after: i64, limit: u32) -> Result<List<Event>, Error> {
        let q = [("after", after.to_string()), ("limit", limit.to_string())];
        let value = self.send::<()>(Method::GET, "/v1/events", &q, None, true).await?.unwrap_or_default();
        serde_json::from_value(value).map_err(|e| Error::Decode(e.to_string()))
    }

    /// The change feed as it happens, from `/v1/events/stream` (site
    /// admins): every event after `after`, then each new one, for ever. A
    /// dropped connection is opened again with `Last-Event-ID`, so no event
    /// is missed or repeated; refusals (403) and repeated failures to
    /// connect end the stream with an error.
    pub fn follow_events(&self, after: i64) -> impl Stream<Item = Result<Event, Error>> + Send + 'static {
        struct Follow {
            client: Client,
            after: i64,
            response: Option<reqwest::Response>,
            buffer: Vec<u8>,
            pending: std::collections::VecDeque<Event>,
            failures: u32,
        }
        let start = Follow {
            client: self.clone(),
            after,
            response: None,
            buffer: Vec::new(),
            pending: Default::default(),
            failures: 0,
        };
        futures_util::stream::try_unfold(start, |mut f| async move {
            loop {
                if let Some(e) = f.pending.pop_front() {
                    return Ok(Some((e, f)));
                }
                let Some(res) = f.response.as_mut() else {
                    let url = format!("{}/v1/events/stream", f.client.base);
                    let req = f
                        .client
                        .http
                        .get(url)
                        .bearer_auth(&f.client.key)
                        .header("last-event-id", f.after.to_string())
                        .header("accept", "text/event-stream");
                    match req.send().await {
                        Ok(r) if r.status().is_success() => {
                            f.response = Some(r);
                            f.buffer.clear();
                        }
                        Ok(r) => {
                            let status = r.status().as_u16();
                            let bytes = r.bytes().await.unwrap_or_default();
                            return Err(Error::from_response(status, &bytes));
                        }
                        Err(e) if f.failures >= ATTEMPTS => return Err(Error::Transport(e.to_string())),
                        Err(_) => {
                            f.failures += 1;
                            tokio::time::sleep(Duration::from_millis(250 << f.failures)).await;
                        }
                    }
                    continue;
                };
                match res.chunk().await {
                    Ok(Some(bytes)) => {
                        f.failures = 0;
                        f.buffer.extend_from_slice(&bytes);
                        while let Some(end) = f.buffer.windows(2).position(|w| w == b"\n\n") {
                            let frame: Vec<u8> = f.buffer.drain(..end + 2).collect();
                            if let Some(e) = sse_event(&frame)? {
                                f.after = e.seq;
                                f.pending.push_back(e);
                            }
                        }
                    }
                    // Ended or broken: open it again after the last event seen.
                    Ok(None) | Err(_) => {
                        f.response = None;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        })
    }

    /// Subscribes a URL to the change feed; the answer's `secret` is shown once.
    pub async fn create_webhook(&self, new: &NewWebhook) -> Result<CreatedWebhook, Error> {
        self.call(Method::POST, "/v1/webhooks", Some(new), false).await
    }

    /// The subscriptions this key may manage.
    pub fn webhooks(&self) -> impl Stream<Item = Result<Webhook, Error>> + Send + 'static {
        self.all("/v1/webhooks".into(), Vec::new())
    }

    pub async fn webhook(&self, id: Uuid) -> Result<Webhook, Error> {
        self.get(&format!("/v1/webhooks/{id}")).await
    }

    /// Changes a subscription (`enabled` enables or disables it).
    pub async fn update_webhook(&self, id: Uuid, patch: &WebhookPatch) -> Result<Webhook, Error> {
        self.call(Method::PATCH, &format!("/v1/webhooks/{id}"), Some(patch), false).await
    }

    pub async fn delete_webhook(&self, id: Uuid) -> Result<(), Error> {
        self.delete(&format!("/v1/webhooks/{id}")).await
    }

    /// A new signing secret; the old one signs too for `grace_seconds` (default one day).
    pub async fn rotate_webhook_secret(&self, id: Uuid, grace_seconds: Option<u64>) -> Result<RotatedSecret, Error> {
        let body = serde_json::json!({ "grace_seconds": grace_seconds });
        self.call(Method::POST, &format!("/v1/webhooks/{id}/rotate-secret"), Some(&body), false).await
    }

    /// Sends a test ping to this subscription only.
    pub async fn ping_webhook(&self, id: Uuid) -> Result<(), Error> {
        self.send::<()>(Method::POST, &format!("/v1/webhooks/{id}/ping"), &[], None, false).await.map(|_| ())
    }

    /// The delivery log, newest first; `dead`: only the dead letters.
    pub fn webhook_deliveries(
        &self,
        id: Uuid,
        dead: bool,
    ) -> impl Stream<Item = Result<Delivery, Error>> + Send + 'static {
        let query = if dead { vec![("outcome", "dead".to_owned())] } else { Vec::new() };
        self.all(format!("/v1/webhooks/{id}/deliveries"), query)
    }

    /// Delivers again every event after `after` the subscription takes.
    pub async fn redeliver_webhook(&self, id: Uuid, after: i64) -> Result<DeliveryState, Error> {
        let body = serde_json::json!({ "after": after });
        self.call(Method::POST, &format!("/v1/webhooks/{id}/redeliver"), Some(&body), false).await
    }

    /// Sends one event again, on its own, once (a dead letter, say).
    pub async fn redeliver_webhook_event(&self, id: Uuid, seq: i64) -> Result<(), Error> {
        let path = format!("/v1/webhooks/{id}/redeliver/{seq}");
        self.send::<()>(Method::POST, &path, &[], None, false).await.map(|_| ())
    }

    /// A membership by id.
    pub async fn membership(&self, id: Uuid) -> Result<Membership, Error> {
        self.get(&format!("/v1/memberships/{id}")).await
    }

    /// Changes a membership's role.
    pub async fn set_membership_role(&self, id: Uuid, role: Role) -> Result<Membership, Error> {
        let body = serde_json::json!({ "role": role });
        self.call(Method::PATCH, &format!("/v1/memberships/{id}"), Some(&body), false).await
    }

    pub async fn delete_membership(&self, id: Uuid) -> Result<(), Error> {
        self.delete(&format!("/v1/memberships/{id}")).await
    }

    /// Keys: your own, or a user's (site admins).
    pub fn keys(&self, user: Option<Uuid>) -> impl Stream<Item = Result<ApiKey, Error>> + Send + 'static {
        let query = user.map(|u| vec![("user_id", u.to_string())]).unwrap_or_default();
        self.all("/v1/keys".into(), query)
    }

    /// Creates a role (site admins).
    pub async fn create_role(&self, name: &str, description: Option<&str>) -> Result<Named, Error> {
        let body = serde_json::json!({ "name": name, "description": description });
        self.call(Method::POST, "/v1/roles", Some(&body), false).await
    }

    pub fn roles(&self) -> impl Stream<Item = Result<Named, Error>> + Send + 'static {
        self.all("/v1/roles".into(), Vec::new())
    }

    pub async fn delete_role(&self, id: Uuid) -> Result<(), Error> {
        self.delete(&format!("/v1/roles/{id}")).await
    }

    /// Grants a role to a group (idempotent).
    pub async fn grant_role(&self, group: Uuid, role: Uuid) -> Result<(), Error> {
        self.send::<()>(Method::PUT, &format!("/v1/groups/{group}/roles/{role}"), &[], None, true).await.map(drop)
    }

    pub async fn revoke_role(&self, group: Uuid, role: Uuid) -> Result<(), Error> {
        self.delete(&format!("/v1/groups/{group}/roles/{role}")).await
    }

    /// Creates an organization (site admins).
    pub async fn create_organization(&self, name: &str) -> Result<Named, Error> {
        let body = serde_json::json!({ "name": name });
        self.call(Method::POST, "/v1/organizations", Some(&body), false).await
    }

    pub fn organizations(&self) -> impl Stream<Item = Result<Named, Error>> + Send + 'static {
        self.all("/v1/organizations".into(), Vec::new())
    }

    /// Creates a project (site admins).
    pub async fn create_project(&self, name: &str, description: Option<&str>) -> Result<Named, Error> {
        let body = serde_json::json!({ "name": name, "description": description });
        self.call(Method::POST, "/v1/projects", Some(&body), false).await
    }

    pub fn projects(&self) -> impl Stream<Item = Result<Named, Error>> + Send + 'static {
        self.all("/v1/projects".into(), Vec::new())
    }

    pub async fn delete_project(&self, id: Uuid) -> Result<(), Error> {
        self.delete(&format!("/v1/projects/{id}")).await
    }

    /// Gives a group a role in a project, replacing any earlier one (idempotent).
    pub async fn bind_project_group(&self, project: Uuid, group: Uuid, role: &str) -> Result<Binding, Error> {
        let body = serde_json::json!({ "role": role });
        self.call(Method::PUT, &format!("/v1/projects/{project}/groups/{group}"), Some(&body), true).await
    }

    /// Gives a user a role in a project, replacing any earlier one (idempotent).
    pub async fn bind_project_user(&self, project: Uuid, user: Uuid, role: &str) -> Result<Binding, Error> {
        let body = serde_json::json!({ "role": role });
        self.call(Method::PUT, &format!("/v1/projects/{project}/users/{user}"), Some(&body), true).await
    }

    /// Everyone bound to a project, users and groups, in the order they were bound.
    pub fn project_bindings(&self, project: Uuid) -> impl Stream<Item = Result<Binding, Error>> + Send + 'static {
        self.all(format!("/v1/projects/{project}/bindings"), Vec::new())
    }

    /// Shares a group with a user or group at `read`, `write` or `manage` (idempotent).
    pub async fn share(&self, group: Uuid, with: Grantee, level: &str) -> Result<Share, Error> {
        let body = serde_json::json!({ "level": level });
        self.call(Method::PUT, &format!("/v1/groups/{group}/shares/{}", with.path()), Some(&body), true).await
    }

    pub async fn unshare(&self, group: Uuid, with: Grantee) -> Result<(), Error> {
        self.delete(&format!("/v1/groups/{group}/shares/{}", with.path())).await
    }

    pub fn shares(&self, group: Uuid) -> impl Stream<Item = Result<Share, Error>> + Send + 'static {
        self.all(format!("/v1/groups/{group}/shares"), Vec::new())
    }

    /// Applies import records (JSON objects tagged by `type`: `user`,
    /// `group`, `member`, `child`) in one transaction on the server. At most
    /// 5000 per call; a refusal names the record as `records[i]`.
    pub async fn import(&self, records: &[serde_json::Value]) -> Result<ImportResult, Error> {
        let body = serde_json::json!({ "records": records });
        self.call(Method::POST, "/v1/import", Some(&body), false).await
    }
}
