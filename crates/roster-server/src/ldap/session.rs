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
//! is checked once, at the bind. With TLS configured, a bind that carries
//! a secret over a plain connection is refused `confidentialityRequired`
//! (unless the operator allows plain binds) before anything is checked.
//!
//! StartTLS (RFC 4511 §4.14, RFC 4513 §3.1.1): answered success, then the
//! handshake on the same connection, within the handshake timeout; refused
//! `protocolError` without a certificate, `operationsError` when TLS is
//! already up or the client sent more before the answer. What the
//! connection was bound as stays.
//!
//! Before a bind, searches and compares of the root DSE and the subschema
//! entry need no reader; anything else asks the core for its public read,
//! which refuses (`insufficientAccessRights`) unless the operator allowed it.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindRequest, LdapBindResponse, LdapCompareRequest, LdapExtendedRequest, LdapExtendedResponse,
    LdapMsg, LdapOp, LdapResult, LdapResultCode, LdapSearchRequest,
};
use roster_core::{CoreError, Directory, Principal};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::codec::Framed;
use tokio_util::either::Either;

use super::LdapConfig;
use super::codec::{Codec, EntryMsg, Frame};
use super::dn::{Dn, Place, Tree};
use super::entries::{Rendered, STARTTLS_OID, WHOAMI_OID};
use super::error::LdapError;
use super::search::{self, Done, Emit, Query, Reader, Searcher};
use super::tls::Stream;

/// The OID of the Notice of Disconnection (RFC 4511 §4.4.1).
const NOTICE_OF_DISCONNECTION: &str = "1.3.6.1.4.1.1466.20036";

/// Who the connection is bound as.
struct Bound {
    principal: Principal,
    /// The key presented, checked again before each operation; `None` for
    /// a password bind.
    key: Option<String>,
}

/// What every connection of a listener shares.
pub(crate) struct Shared {
    pub dir: Directory,
    pub tree: Tree,
    pub config: LdapConfig,
}

pub(crate) struct Session {
    shared: Arc<Shared>,
    peer: IpAddr,
    bound: Option<Bound>,
    /// LDAPS, or after StartTLS.
    encrypted: bool,
}

type Conn = Framed<Stream, Codec>;

/// What the connection does after an operation.
enum Next {
    Continue,
    Close,
    /// StartTLS was accepted: answer it (message id), then the handshake.
    StartTls(i32),
}

impl Session {
    pub fn new(shared: Arc<Shared>, peer: IpAddr) -> Self {
        Self { shared, peer, bound: None, encrypted: false }
    }

    fn idle_timeout(&self) -> Duration {
        self.shared.config.idle_timeout
    }

    /// Serves a new connection; on an LDAPS listener (`tls`), after the
    /// handshake, which the server's stop also cuts short.
    pub async fn start(mut self, tcp: TcpStream, tls: bool, mut stop: watch::Receiver<bool>) {
        let stream = match tls {
            true => match self.handshake(tcp, &mut stop).await {
                Some(stream) => stream,
                None => return,
            },
            false => Either::Left(tcp),
        };
        self.run(stream, stop).await;
    }

    /// The TLS handshake on `tcp`, within the handshake timeout; `None`
    /// when it failed, timed out, the server is stopping, or there is no
    /// certificate.
    async fn handshake(&mut self, tcp: TcpStream, stop: &mut watch::Receiver<bool>) -> Option<Stream> {
        let settings = self.shared.config.tls.clone()?;
        let handshake = settings.accept(tcp, self.shared.config.handshake_timeout);
        let shaken = tokio::select! {
            shaken = handshake => shaken,
            _ = stop.changed() => return None,
        };
        match shaken {
            Ok(stream) => {
                self.encrypted = true;
                Some(stream)
            }
            Err(e) => {
                tracing::debug!(error = %e, peer = %self.peer, "ldap tls handshake failed");
                None
            }
        }
    }

    /// Serves the connection until the client unbinds or goes away, stays
    /// idle too long, or the server stops.
    async fn run(mut self, stream: Stream, mut stop: watch::Receiver<bool>) {
        let mut conn = Framed::new(stream, Codec::default());
        loop {
            let next = tokio::select! {
                next = tokio::time::timeout(self.idle_timeout(), conn.next()) => next,
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
                Ok(Next::Continue) => {}
                Ok(Next::Close) => break,
                Ok(Next::StartTls(id)) => match self.start_tls(conn, id, &mut stop).await {
                    Some(upgraded) => conn = upgraded,
                    None => return,
                },
                Err(e) => {
                    tracing::debug!(error = %e, peer = %self.peer, "ldap connection closed");
                    return;
                }
            }
        }
        // An orderly end: over TLS, this sends close_notify.
        let _ = tokio::time::timeout(Duration::from_secs(1), SinkExt::<LdapMsg>::close(&mut conn)).await;
    }

    /// Answers an accepted StartTLS with success, then runs the handshake
    /// on the same socket; `None` ends the connection (the handshake
    /// failed, timed out, or the server is stopping).
    async fn start_tls(&mut self, mut conn: Conn, id: i32, stop: &mut watch::Receiver<bool>) -> Option<Conn> {
        let ok = LdapOp::ExtendedResponse(LdapExtendedResponse {
            res: result(LdapResultCode::Success, ""),
            name: Some(STARTTLS_OID.to_owned()),
            value: None,
        });
        self.send(&mut conn, LdapMsg::new(id, ok)).await.ok()?;
        // `handle` accepted StartTLS only with nothing more read, so no
        // request is lost with the buffers.
        let Either::Left(tcp) = conn.into_parts().io else { return None };
        let stream = self.handshake(tcp, stop).await?;
        Some(Framed::new(stream, Codec::default()))
    }

    /// Why StartTLS cannot start now, if it cannot (RFC 4511 §4.14.1,
    /// RFC 4513 §3.1.1).
    fn refuse_start_tls(&self, conn: &Conn) -> Option<LdapError> {
        if self.shared.config.tls.is_none() {
            return Some(LdapError::Protocol("StartTLS is not offered: this server has no certificate".to_owned()));
        }
        if self.encrypted {
            return Some(LdapError::Sequence("TLS is already established".to_owned()));
        }
        if !conn.read_buffer().is_empty() {
            return Some(LdapError::Sequence(
                "other requests arrived after StartTLS: send nothing until its answer".to_owned(),
            ));
        }
        None
    }

    async fn send(&self, conn: &mut Conn, msg: LdapMsg) -> Result<(), LdapError> {
        match tokio::time::timeout(self.idle_timeout(), conn.send(msg)).await {
            Ok(r) => r.map_err(LdapError::Io),
            Err(_) => Err(LdapError::Io(std::io::ErrorKind::TimedOut.into())),
        }
    }

    /// Answers one request, and says what the connection does next.
    /// `Err` only for a failure of the connection itself.
    async fn handle(&mut self, conn: &mut Conn, msg: LdapMsg) -> Result<Next, LdapError> {
        let id = msg.msgid;
        if let LdapOp::UnbindRequest = msg.op {
            return Ok(Next::Close);
        }
        if let LdapOp::AbandonRequest(_) = msg.op {
            // Operations run one at a time: nothing is left to abandon.
            return Ok(Next::Continue);
        }
        let Some(respond) = response_kind(&msg.op) else {
            // A response or an unknown operation sent by a client.
            let notice = LdapOp::ExtendedResponse(LdapExtendedResponse {
                res: result(LdapResultCode::ProtocolError, "not a request"),
                name: Some(NOTICE_OF_DISCONNECTION.to_owned()),
                value: None,
            });
            self.send(conn, LdapMsg::new(0, notice)).await?;
            return Ok(Next::Close);
        };
        if let Some(oid) = unknown_critical(&msg.ctrl) {
            let res = LdapError::UnavailableCritical(oid).to_result();
            self.send(conn, LdapMsg::new(id, respond(res))).await?;
            return Ok(Next::Continue);
        }
        let paging = msg.ctrl.iter().find_map(|c| match c {
            LdapControl::SimplePagedResults { size, cookie } => Some((*size, cookie.clone())),
            _ => None,
        });
        let answer = match msg.op {
            LdapOp::BindRequest(req) => {
                let res =
                    self.bind(&req).await.map_or_else(|e| e.to_result(), |()| result(LdapResultCode::Success, ""));
                // The name and the outcome; never the credentials.
                tracing::debug!(peer = %self.peer, dn = %req.dn, code = ?res.code, encrypted = self.encrypted, "ldap bind");
                LdapMsg::new(id, LdapOp::BindResponse(LdapBindResponse { res, saslcreds: None }))
            }
            LdapOp::SearchRequest(req) => return self.search(conn, id, &req, paging).await.map(|()| Next::Continue),
            LdapOp::ExtendedRequest(req) if req.name == STARTTLS_OID => match self.refuse_start_tls(conn) {
                None => return Ok(Next::StartTls(id)),
                Some(why) => respond_with(id, respond, why),
            },
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
        Ok(Next::Continue)
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
        let config = &self.shared.config;
        if config.tls.is_some() && !self.encrypted && !config.allow_plain_binds {
            // Refused before the secret is looked at: nothing is learnt, nothing counted.
            return Err(LdapError::ConfidentialityRequired);
        }
        let username = self.shared.tree.bind_username(&req.dn).unwrap_or_default();
        let principal = match self.shared.dir.authenticate_user(&username, secret, Some(self.peer)).await {
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
        match self.shared.dir.authenticate(key, Some(self.peer)).await {
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
        let shared = self.shared.clone();
        let starttls = shared.config.tls.is_some();
        let place = shared.tree.place(&Dn::parse(&req.base)?);
        // The root DSE and the subschema entry are anyone's: no reader.
        let dse = matches!(place, Place::RootDse | Place::Subschema);
        let principal = if dse { None } else { self.principal().await? };
        // The client's time limit (RFC 4511 §4.5.1.5), in seconds (0:
        // none), within the server's.
        let limit = match u64::try_from(req.timelimit).ok().filter(|s| *s > 0) {
            Some(secs) => Duration::from_secs(secs).min(shared.config.time_limit),
            None => shared.config.time_limit,
        };
        let query = Query {
            base: &req.base,
            scope: req.scope.clone(),
            filter: &req.filter,
            attrs: &req.attrs,
            types_only: req.typesonly,
            // The server's size limit bounds a search without paging, and
            // each page of one with it (RFC 2696 lets a page be smaller).
            size_limit: match paging {
                None => lower_limit(usize::try_from(req.sizelimit).unwrap_or(0), shared.config.size_limit),
                Some(_) => usize::try_from(req.sizelimit).unwrap_or(0),
            },
            paging: paging.map(|(size, cookie)| {
                let size = usize::try_from(*size).unwrap_or(0);
                let size = if size == 0 { 0 } else { lower_limit(size, shared.config.size_limit) };
                (size, cookie.as_slice())
            }),
            deadline: Instant::now().checked_add(limit),
        };
        let mut out = Replies { idle_timeout: shared.config.idle_timeout, conn, id };
        let searched = async {
            if dse {
                return search::search_dse(&shared.tree, starttls, &place, &query, &mut out).await;
            }
            let reader = reader(&shared.dir, principal.as_ref())?;
            let searcher = Searcher { dir: &shared.dir, reader, tree: &shared.tree, starttls };
            searcher.search(&query, &mut out).await
        };
        // The deadline is checked between entries; this ends a search
        // waiting on a slow client or the store as well.
        match tokio::time::timeout(limit, searched).await {
            Ok(done) => done,
            Err(_) => Err(LdapError::TimeLimit),
        }
    }

    async fn compare(&mut self, req: &LdapCompareRequest) -> Result<LdapResultCode, LdapError> {
        let shared = self.shared.clone();
        let starttls = shared.config.tls.is_some();
        let place = shared.tree.place(&Dn::parse(&req.dn)?);
        if let Some(entry) = search::dse_entry(&shared.tree, starttls, &place) {
            return super::compare::answer(&entry, req, &super::compare::assertion(req)?);
        }
        let principal = self.principal().await?;
        let reader = reader(&shared.dir, principal.as_ref())?;
        let searcher = Searcher { dir: &shared.dir, reader, tree: &shared.tree, starttls };
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
                .shared
                .dir
                .whoami(&p)
                .await
                .map(|u| format!("dn:{}", self.shared.tree.user_dn(&u.username)))
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

/// Whom an operation reads for: the bound principal, else the core's
/// public read (refused `insufficientAccessRights` unless the operator
/// allowed anonymous reads).
fn reader<'a>(dir: &'a Directory, principal: Option<&'a Principal>) -> Result<Reader<'a>, LdapError> {
    Ok(match principal {
        Some(p) => Reader::Bound(p),
        None => Reader::Public(dir.public_reader()?),
    })
}

/// Writes a search's entries as they come.
struct Replies<'a> {
    idle_timeout: Duration,
    conn: &'a mut Conn,
    id: i32,
}

impl Emit for Replies<'_> {
    async fn entry(&mut self, entry: Rendered) -> Result<(), LdapError> {
        let msg = EntryMsg { id: self.id, entry };
        match tokio::time::timeout(self.idle_timeout, self.conn.feed(msg)).await {
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

/// The smaller of two limits where 0 means none.
fn lower_limit(a: usize, b: usize) -> usize {
    match (a, b) {
        (0, l) | (l, 0) => l,
        (a, b) => a.min(b),
    }
}
