//! One client connection: reads requests in order, answers each (every
//! client mistake with a result code, never a dropped connection or a
//! panic), and remembers who is bound. A malformed request is answered
//! `protocolError` (see `codec`); only bytes that are not BER end the
//! connection, with a Notice of Disconnection (RFC 4511 §4.4.1).
//!
//! A bind with an API key is checked again through the core before every
//! operation (cheap: the core remembers resolved keys), so a revoked key
//! or a deactivated user stops working on open connections too, and each
//! operation counts against the key's rate limit. A bind with a password
//! is checked once, at the bind.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindRequest, LdapBindResponse, LdapCompareRequest, LdapExtendedRequest, LdapExtendedResponse,
    LdapMsg, LdapOp, LdapResult, LdapResultCode, LdapSearchRequest, LdapSearchResultEntry, LdapSearchScope,
};
use roster_core::{CoreError, Directory, Principal};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::codec::Framed;

use super::codec::{Codec, Frame};
use super::dn::Tree;
use super::entries::WHOAMI_OID;
use super::error::LdapError;
use super::search::{Done, Emit, Query, Searcher};

/// The OID of the Notice of Disconnection (RFC 4511 §4.4.1).
const NOTICE_OF_DISCONNECTION: &str = "1.3.6.1.4.1.1466.20036";

/// Who the connection is bound as.
struct Bound {
    principal: Principal,
    /// The key presented, checked again before each operation; `None` for
    /// a password bind.
    key: Option<String>,
}

pub(crate) struct Session {
    pub dir: Directory,
    pub tree: Arc<Tree>,
    pub peer: IpAddr,
    pub idle_timeout: Duration,
    bound: Option<Bound>,
}

type Conn = Framed<TcpStream, Codec>;

impl Session {
    pub fn new(dir: Directory, tree: Arc<Tree>, peer: IpAddr, idle_timeout: Duration) -> Self {
        Self { dir, tree, peer, idle_timeout, bound: None }
    }

    /// Serves the connection until the client unbinds or goes away, stays
    /// idle too long, or the server stops.
    pub async fn run(mut self, stream: TcpStream, mut stop: watch::Receiver<bool>) {
        let mut conn = Framed::new(stream, Codec::default());
        loop {
            let next = tokio::select! {
                next = tokio::time::timeout(self.idle_timeout, conn.next()) => next,
                _ = stop.changed() => return,
            };
            let msg = match next {
                Err(_) | Ok(None) => return,
                Ok(Some(Ok(Frame::Msg(msg)))) => msg,
                Ok(Some(Ok(Frame::Malformed { msgid, op }))) => {
                    let why = LdapError::Protocol("malformed request".to_owned()).to_result();
                    let answer = match response_to_tag(op) {
                        Some(respond) => LdapMsg::new(msgid, respond(why)),
                        // An unbind or abandon answers nothing; anything else is no request.
                        None if op == UNBIND_TAG || op == ABANDON_TAG => continue,
                        None => return,
                    };
                    if self.send(&mut conn, answer).await.is_err() {
                        return;
                    }
                    continue;
                }
                Ok(Some(Err(e))) => {
                    tracing::debug!(error = %e, peer = %self.peer, "undecodable ldap message");
                    let notice = LdapOp::ExtendedResponse(LdapExtendedResponse {
                        res: result(LdapResultCode::ProtocolError, "undecodable message"),
                        name: Some(NOTICE_OF_DISCONNECTION.to_owned()),
                        value: None,
                    });
                    let _ = self.send(&mut conn, LdapMsg::new(0, notice)).await;
                    return;
                }
            };
            match self.handle(&mut conn, msg).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    tracing::debug!(error = %e, peer = %self.peer, "ldap connection closed");
                    return;
                }
            }
        }
    }

    async fn send(&self, conn: &mut Conn, msg: LdapMsg) -> Result<(), LdapError> {
        match tokio::time::timeout(self.idle_timeout, conn.send(msg)).await {
            Ok(r) => r.map_err(LdapError::Io),
            Err(_) => Err(LdapError::Io(std::io::ErrorKind::TimedOut.into())),
        }
    }

    /// Answers one request; `false` when the connection should close.
    /// `Err` only for a failure of the connection itself.
    async fn handle(&mut self, conn: &mut Conn, msg: LdapMsg) -> Result<bool, LdapError> {
        let id = msg.msgid;
        if let LdapOp::UnbindRequest = msg.op {
            return Ok(false);
        }
        if let LdapOp::AbandonRequest(_) = msg.op {
            // Operations run one at a time: nothing is left to abandon.
            return Ok(true);
        }
        let Some(respond) = response_kind(&msg.op) else {
            // A response or an unknown operation sent by a client.
            let notice = LdapOp::ExtendedResponse(LdapExtendedResponse {
                res: result(LdapResultCode::ProtocolError, "not a request"),
                name: Some(NOTICE_OF_DISCONNECTION.to_owned()),
                value: None,
            });
            self.send(conn, LdapMsg::new(0, notice)).await?;
            return Ok(false);
        };
        if let Some(oid) = unknown_critical(&msg.ctrl) {
            let res = LdapError::UnavailableCritical(oid).to_result();
            self.send(conn, LdapMsg::new(id, respond(res))).await?;
            return Ok(true);
        }
        let paging = msg.ctrl.iter().find_map(|c| match c {
            LdapControl::SimplePagedResults { size, cookie } => Some((*size, cookie.clone())),
            _ => None,
        });
        let answer = match msg.op {
            LdapOp::BindRequest(req) => {
                let res =
                    self.bind(&req).await.map_or_else(|e| e.to_result(), |()| result(LdapResultCode::Success, ""));
                LdapMsg::new(id, LdapOp::BindResponse(LdapBindResponse { res, saslcreds: None }))
            }
            LdapOp::SearchRequest(req) => return self.search(conn, id, &req, paging).await.map(|()| true),
            LdapOp::ExtendedRequest(req) => LdapMsg::new(id, LdapOp::ExtendedResponse(self.extended(&req).await)),
            LdapOp::CompareRequest(req) => {
                let res = match self.compare(&req).await {
                    Ok(code) => result(code, ""),
                    Err(e) => e.to_result(),
                };
                LdapMsg::new(id, LdapOp::CompareResult(res))
            }
            LdapOp::AddRequest(_) | LdapOp::ModifyRequest(_) | LdapOp::DelRequest(_) | LdapOp::ModifyDNRequest(_) => {
                let why = "the directory is read-only over LDAP: change it through the /v1 API".to_owned();
                respond_with(id, respond, LdapError::Unwilling(why))
            }
            _ => respond_with(id, respond, LdapError::Protocol("unexpected operation".to_owned())),
        };
        self.send(conn, answer).await?;
        Ok(true)
    }

    /// A simple bind: anonymous (empty name and password), or a user's DN
    /// (or bare uid) with one of their API keys or their password.
    async fn bind(&mut self, req: &LdapBindRequest) -> Result<(), LdapError> {
        // A failed bind leaves the connection anonymous (RFC 4511 §4.2.1).
        self.bound = None;
        if req.version != 3 {
            return Err(LdapError::Protocol("only LDAP version 3 is supported".to_owned()));
        }
        let LdapBindCred::Simple(secret) = &req.cred else {
            return Err(LdapError::AuthMethod);
        };
        match (req.dn.trim().is_empty(), secret.is_empty()) {
            (true, true) => return Ok(()),
            // An unauthenticated bind (RFC 4513 §5.1.2): refused.
            (false, true) => return Err(LdapError::Unwilling("unauthenticated binds are not allowed".to_owned())),
            _ => {}
        }
        let username = self.tree.bind_username(&req.dn).unwrap_or_default();
        let principal = match self.dir.authenticate_user(&username, secret, Some(self.peer)).await {
            Ok(p) => p,
            Err(CoreError::Unauthenticated) => return Err(LdapError::InvalidCredentials),
            Err(e) => return Err(e.into()),
        };
        let key = principal.key.is_some().then(|| secret.clone());
        self.bound = Some(Bound { principal, key });
        Ok(())
    }

    /// The principal for the next operation, checked again when bound by key.
    async fn principal(&mut self) -> Result<Option<Principal>, LdapError> {
        let Some(bound) = &self.bound else { return Ok(None) };
        let Some(key) = &bound.key else { return Ok(Some(bound.principal.clone())) };
        match self.dir.authenticate(key, Some(self.peer)).await {
            Ok(p) if p.user == bound.principal.user => Ok(Some(p)),
            Ok(_) | Err(CoreError::Unauthenticated) => {
                self.bound = None;
                Err(LdapError::Revoked)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn search(
        &mut self,
        conn: &mut Conn,
        id: i32,
        req: &LdapSearchRequest,
        paging: Option<(i64, Vec<u8>)>,
    ) -> Result<(), LdapError> {
        let done = self.run_search(conn, id, req, paging.as_ref()).await;
        let (res, cookie) = match done {
            Ok(Done::Complete { cookie }) => (result(LdapResultCode::Success, ""), cookie),
            Ok(Done::SizeLimitExceeded) => (result(LdapResultCode::SizeLimitExceeded, ""), None),
            Err(LdapError::Io(e)) => return Err(LdapError::Io(e)),
            Err(e) => (e.to_result(), None),
        };
        let ctrl = match (paging, cookie) {
            (Some(_), cookie) => {
                vec![LdapControl::SimplePagedResults { size: 0, cookie: cookie.unwrap_or_default() }]
            }
            (None, _) => Vec::new(),
        };
        self.send(conn, LdapMsg::new_with_ctrls(id, LdapOp::SearchResultDone(res), ctrl)).await?;
        Ok(())
    }

    async fn run_search(
        &mut self,
        conn: &mut Conn,
        id: i32,
        req: &LdapSearchRequest,
        paging: Option<&(i64, Vec<u8>)>,
    ) -> Result<Done, LdapError> {
        let root_dse = req.base.trim().is_empty() && req.scope == LdapSearchScope::Base;
        let principal = match self.principal().await? {
            Some(p) => p,
            // Only the root DSE is readable before a bind: it needs no principal.
            None if root_dse => Principal {
                user: roster_core::UserId(uuid::Uuid::nil()),
                site_role: roster_core::SiteRole::User,
                key: None,
                delegated_by: None,
            },
            None => return Err(LdapError::Anonymous),
        };
        let query = Query {
            base: &req.base,
            scope: req.scope.clone(),
            filter: &req.filter,
            attrs: &req.attrs,
            types_only: req.typesonly,
            size_limit: usize::try_from(req.sizelimit).unwrap_or(0),
            paging: paging.map(|(size, cookie)| (usize::try_from(*size).unwrap_or(0), cookie.as_slice())),
        };
        let searcher = Searcher { dir: &self.dir, p: &principal, tree: &self.tree };
        let mut out = Replies { session: self, conn, id };
        // The client's time limit (RFC 4511 §4.5.1.5), in seconds; 0: none.
        match u64::try_from(req.timelimit).ok().filter(|s| *s > 0) {
            None => searcher.search(&query, &mut out).await,
            Some(secs) => {
                let limit = Duration::from_secs(secs);
                match tokio::time::timeout(limit, searcher.search(&query, &mut out)).await {
                    Ok(done) => done,
                    Err(_) => Err(LdapError::TimeLimit),
                }
            }
        }
    }

    async fn compare(&mut self, req: &LdapCompareRequest) -> Result<LdapResultCode, LdapError> {
        let principal = self.principal().await?.ok_or(LdapError::Anonymous)?;
        let searcher = Searcher { dir: &self.dir, p: &principal, tree: &self.tree };
        super::compare::compare(&searcher, req).await
    }

    async fn extended(&mut self, req: &LdapExtendedRequest) -> LdapExtendedResponse {
        if req.name != WHOAMI_OID {
            let res = LdapError::Protocol(format!("unsupported extended operation {}", req.name)).to_result();
            return LdapExtendedResponse { res, name: None, value: None };
        }
        // WhoAmI (RFC 4532): `dn:<the bound user's DN>`, empty when anonymous.
        let who = match self.principal().await {
            Ok(None) => Ok(String::new()),
            Ok(Some(p)) => self
                .dir
                .whoami(&p)
                .await
                .map(|u| format!("dn:{}", self.tree.user_dn(&u.username)))
                .map_err(LdapError::from),
            Err(e) => Err(e),
        };
        match who {
            Ok(authz) => LdapExtendedResponse {
                res: result(LdapResultCode::Success, ""),
                name: None,
                value: Some(authz.into_bytes()),
            },
            Err(e) => LdapExtendedResponse { res: e.to_result(), name: None, value: None },
        }
    }
}

/// Writes a search's entries as they come.
struct Replies<'a> {
    session: &'a Session,
    conn: &'a mut Conn,
    id: i32,
}

impl Emit for Replies<'_> {
    async fn entry(&mut self, entry: LdapSearchResultEntry) -> Result<(), LdapError> {
        let msg = LdapMsg::new(self.id, LdapOp::SearchResultEntry(entry));
        match tokio::time::timeout(self.session.idle_timeout, self.conn.feed(msg)).await {
            Ok(r) => r.map_err(LdapError::Io),
            Err(_) => Err(LdapError::Io(std::io::ErrorKind::TimedOut.into())),
        }
    }
}

fn result(code: LdapResultCode, message: &str) -> LdapResult {
    LdapResult { code, matcheddn: String::new(), message: message.to_owned(), referral: Vec::new() }
}

fn respond_with(id: i32, respond: fn(LdapResult) -> LdapOp, e: LdapError) -> LdapMsg {
    LdapMsg::new(id, respond(e.to_result()))
}

/// How a request is answered with a bare result, or `None` for what is no
/// request.
fn response_kind(op: &LdapOp) -> Option<fn(LdapResult) -> LdapOp> {
    Some(match op {
        LdapOp::BindRequest(_) => |res| LdapOp::BindResponse(LdapBindResponse { res, saslcreds: None }),
        LdapOp::SearchRequest(_) => LdapOp::SearchResultDone,
        LdapOp::ModifyRequest(_) => LdapOp::ModifyResponse,
        LdapOp::AddRequest(_) => LdapOp::AddResponse,
        LdapOp::DelRequest(_) => LdapOp::DelResponse,
        LdapOp::ModifyDNRequest(_) => LdapOp::ModifyDNResponse,
        LdapOp::CompareRequest(_) => LdapOp::CompareResult,
        LdapOp::ExtendedRequest(_) => {
            |res| LdapOp::ExtendedResponse(LdapExtendedResponse { res, name: None, value: None })
        }
        _ => return None,
    })
}

const UNBIND_TAG: u64 = 2;
const ABANDON_TAG: u64 = 16;

/// How a request is answered, by the application tag of its operation
/// (RFC 4511 §4.2 – §4.12), for requests that could not be decoded.
fn response_to_tag(op: u64) -> Option<fn(LdapResult) -> LdapOp> {
    Some(match op {
        0 => |res| LdapOp::BindResponse(LdapBindResponse { res, saslcreds: None }),
        3 => LdapOp::SearchResultDone,
        6 => LdapOp::ModifyResponse,
        8 => LdapOp::AddResponse,
        10 => LdapOp::DelResponse,
        12 => LdapOp::ModifyDNResponse,
        14 => LdapOp::CompareResult,
        23 => |res| LdapOp::ExtendedResponse(LdapExtendedResponse { res, name: None, value: None }),
        _ => return None,
    })
}

/// The first control marked critical that this server does not honour.
/// Paged results and ManageDsaIT (there are no referrals to manage) are
/// honoured; the others `ldap3_proto` decodes carry their own criticality.
fn unknown_critical(ctrl: &[LdapControl]) -> Option<String> {
    ctrl.iter().find_map(|c| match c {
        LdapControl::Unknown { oid, criticality: true, .. } => Some(oid.clone()),
        LdapControl::SyncRequest { criticality: true, .. } => Some("1.3.6.1.4.1.4203.1.9.1.1".to_owned()),
        LdapControl::PasswordPolicyRequest { criticality: true } => Some("1.3.6.1.4.1.42.2.27.8.5.1".to_owned()),
        LdapControl::SearchOptions { criticality: true, .. } => Some("1.2.840.113556.1.4.1340".to_owned()),
        LdapControl::ShowDeleted { criticality: true } => Some("1.2.840.113556.1.4.417".to_owned()),
        LdapControl::SdFlags { criticality: true, .. } => Some("1.2.840.113556.1.4.801".to_owned()),
        LdapControl::ExtendedDn { criticality: true, .. } => Some("1.2.840.113556.1.4.529".to_owned()),
        _ => None,
    })
}
