//! Accepting connections: HTTP/1.1 with a deadline for each request's
//! headers (which also closes a keep-alive connection left idle), a cap on
//! open connections, and an accept loop that outlives running out of file
//! descriptors. Body timeouts are request middleware (`http::with_middleware`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

/// Limits on connections and on how long a client may take to send a
/// request. Every one is a setting of `roster serve`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// From when the server waits for a request until its headers are in:
    /// bounds a slow sender and a keep-alive connection left idle alike.
    pub header_timeout: Duration,
    /// The longest pause while a request body arrives.
    pub body_idle_timeout: Duration,
    /// The whole request body, however steadily it trickles in.
    pub body_timeout: Duration,
    /// Connections open at once; more wait in the listen queue.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            max_connections: 512,
        }
    }
}

/// The longest pause after a failed `accept` (out of file descriptors, say).
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` until `shutdown` resolves, then finishes the
/// requests in flight. Never returns early: a failed `accept` is retried
/// after a pause that grows to [`MAX_BACKOFF`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut acceptor = Acceptor::new(listener, limits.max_connections);
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    while let Some(Accepted { stream, peer, permit, .. }) = acceptor.next(&mut shutdown).await {
        let service = app.clone().map_request(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            req
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
            drop(permit);
        });
    }
    drop(acceptor);
    graceful.shutdown().await;
    Ok(())
}

/// The accept side of one or more listeners, shared by every protocol
/// served: at most `max_connections` open at once across them (more wait
/// in the listen queue: a connection holds its permit until it ends), and
/// a failed `accept` (out of file descriptors, say) retried after a pause
/// that grows to [`MAX_BACKOFF`], so the loop outlives it.
pub(crate) struct Acceptor {
    listeners: Vec<TcpListener>,
    /// The listener asked first next time, so none starves the others.
    turn: usize,
    permits: Arc<Semaphore>,
    backoff: Duration,
}

/// A connection just accepted, with its permit and the index of the
/// listener it came through.
pub(crate) struct Accepted {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub permit: OwnedSemaphorePermit,
    pub listener: usize,
}

impl Acceptor {
    pub(crate) fn new(listener: TcpListener, max_connections: usize) -> Self {
        Self::many(vec![listener], max_connections)
    }

    /// One cap over several listeners (LDAP and LDAPS).
    pub(crate) fn many(listeners: Vec<TcpListener>, max_connections: usize) -> Self {
        let permits = Arc::new(Semaphore::new(max_connections.max(1)));
        Self { listeners, turn: 0, permits, backoff: Duration::ZERO }
    }

    /// The next connection (with `TCP_NODELAY` set) and its permit, or
    /// `None` once `shutdown` resolves.
    pub(crate) async fn next<F: std::future::Future<Output = ()>>(
        &mut self,
        shutdown: &mut std::pin::Pin<&mut F>,
    ) -> Option<Accepted> {
        loop {
            let permit = tokio::select! {
                permit = self.permits.clone().acquire_owned() => permit.ok()?,
                () = shutdown.as_mut() => return None,
            };
            let (listener, accepted) = tokio::select! {
                accepted = self.accept_any() => accepted,
                () = shutdown.as_mut() => return None,
            };
            match accepted {
                Ok((stream, peer)) => {
                    self.backoff = Duration::ZERO;
                    let _ = stream.set_nodelay(true);
                    return Some(Accepted { stream, peer, permit, listener });
                }
                Err(e) if is_connection_error(&e) => {}
                Err(e) => {
                    self.backoff = (self.backoff * 2).clamp(Duration::from_millis(10), MAX_BACKOFF);
                    tracing::warn!(error = %e, retry_in_ms = self.backoff.as_millis() as u64, "accept failed");
                    tokio::select! {
                        () = tokio::time::sleep(self.backoff) => {}
                        () = shutdown.as_mut() => return None,
                    }
                }
            }
        }
    }
}

impl Acceptor {
    /// The first connection any listener has, asking them in turn.
    async fn accept_any(&mut self) -> (usize, std::io::Result<(TcpStream, SocketAddr)>) {
        let n = self.listeners.len();
        if n == 0 {
            return std::future::pending().await;
        }
        let start = self.turn;
        self.turn = (self.turn + 1) % n;
        let listeners = &self.listeners;
        std::future::poll_fn(|cx| {
            for k in 0..n {
                let i = (start + k) % n;
                if let std::task::Poll::Ready(r) = listeners[i].poll_accept(cx) {
                    return std::task::Poll::Ready((i, r));
                }
            }
            std::task::Poll::Pending
        })
        .await
    }
}

/// Errors of one connection that went away before it was accepted: not
/// the listener's fault, so no pause.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset)
}
