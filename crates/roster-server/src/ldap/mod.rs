//! The LDAP v3 front-end (RFC 4511): a read-only view of the directory for
//! applications that look users and groups up over LDAP. It translates,
//! never decides: every bind goes through `Directory::authenticate_user`,
//! every read is a `Directory` use-case called with the bound principal
//! (so it sees what `/v1` shows it), and it writes nothing. The wire
//! format is `ldap3_proto`'s; `codec` only frames messages so that a
//! malformed request can be answered instead of ending the connection.
//!
//! An anonymous caller reads the root DSE and the subschema entry, and
//! users and groups only when the core hands out its public read
//! (`Directory::public_reader`): this module never decides who may read.
//!
//! `session` (a connection, bind, StartTLS, WhoAmI, result codes of what
//! is not offered), `tls` (certificate, key, handshake), `dn` (DNs and the
//! tree), `entries` (users and groups as entries, the root DSE, attribute
//! selection), `encode` (search result entries written from borrowed
//! values), `schema` (the subschema entry), `filter` (evaluation),
//! `search` (plans over core lists, paging), `compare`, `error` (result
//! codes, in one place).

pub(crate) mod codec;
pub(crate) mod compare;
pub(crate) mod dn;
pub(crate) mod encode;
pub(crate) mod entries;
pub(crate) mod error;
pub(crate) mod filter;
pub(crate) mod schema;
pub(crate) mod search;
pub(crate) mod session;
pub(crate) mod tls;

pub use tls::{TlsError, TlsSettings};

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use roster_core::Directory;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The base DN when none is set.
pub const DEFAULT_BASE_DN: &str = "dc=roster,dc=local";

/// Settings of the LDAP listener (`roster serve --ldap-*`).
#[derive(Clone, Debug)]
pub struct LdapConfig {
    /// The naming context: users live at `uid=NAME,ou=people,BASE`,
    /// groups at `cn=NAME,ou=groups,BASE`.
    pub base_dn: String,
    /// How long a connection may stay silent (or a client take to read an
    /// answer) before it is closed.
    pub idle_timeout: Duration,
    /// Connections open at once, LDAP and LDAPS together, a TLS handshake
    /// included; more wait in the listen queue.
    pub max_connections: usize,
    /// The certificate and key for LDAPS and StartTLS; `None`: plain LDAP
    /// only (StartTLS answers `protocolError`, as for any unknown operation).
    pub tls: Option<TlsSettings>,
    /// With TLS configured, whether a bind that carries a secret is
    /// accepted over a connection that is not encrypted. Off by default:
    /// such a bind answers `confidentialityRequired` and the client learns
    /// to use StartTLS or LDAPS. Without TLS, every bind is plain.
    pub allow_plain_binds: bool,
    /// How long a TLS handshake (LDAPS, or after StartTLS) may take.
    pub handshake_timeout: Duration,
    /// The most entries a search without the paged results control
    /// returns (0: no limit), and the largest page a paged one gets; a
    /// client's own smaller limit wins. Beyond it: `sizeLimitExceeded`
    /// after the entries so far.
    pub size_limit: usize,
    /// The longest a search may run; a client's own shorter limit wins.
    /// Beyond it: `timeLimitExceeded` after the entries so far.
    pub time_limit: Duration,
}

impl Default for LdapConfig {
    fn default() -> Self {
        Self {
            base_dn: DEFAULT_BASE_DN.to_owned(),
            idle_timeout: Duration::from_secs(300),
            max_connections: 512,
            tls: None,
            allow_plain_binds: false,
            handshake_timeout: Duration::from_secs(10),
            size_limit: 0,
            time_limit: Duration::from_secs(60),
        }
    }
}

/// The sockets LDAP is served on: plain LDAP (with StartTLS when TLS is
/// configured), LDAPS (TLS from the first byte), or both.
#[derive(Debug, Default)]
pub struct LdapListeners {
    pub ldap: Option<TcpListener>,
    pub ldaps: Option<TcpListener>,
}

impl LdapListeners {
    /// Plain LDAP only.
    pub fn plain(listener: TcpListener) -> Self {
        Self { ldap: Some(listener), ldaps: None }
    }
}

/// Checks a base DN setting (for the command line).
pub fn check_base_dn(text: &str) -> Result<String, String> {
    dn::Tree::new(text).map(|_| text.trim().to_owned()).map_err(|e| e.to_string())
}

/// Serves LDAP on `listeners` until `shutdown` resolves, accepting as HTTP
/// does (`serve::Acceptor`: one connection cap over both listeners, the
/// accept loop that outlives running out of descriptors). An LDAPS
/// connection's handshake runs in its own task, holding its slot, within
/// `handshake_timeout`. Errors: `InvalidInput` for a bad base DN, or an
/// LDAPS listener without TLS settings.
pub async fn serve_ldap(
    listeners: LdapListeners,
    directory: Directory,
    config: LdapConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let invalid = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, why);
    let tree = dn::Tree::new(&config.base_dn).map_err(|e| invalid(e.to_string()))?;
    if listeners.ldaps.is_some() && config.tls.is_none() {
        return Err(invalid("LDAPS needs a certificate and key".to_owned()));
    }
    // Which listeners speak TLS from the first byte, by index.
    let (mut sockets, mut implicit_tls) = (Vec::new(), Vec::new());
    for (listener, tls) in [(listeners.ldap, false), (listeners.ldaps, true)] {
        if let Some(l) = listener {
            sockets.push(l);
            implicit_tls.push(tls);
        }
    }
    let shared = Arc::new(session::Shared { dir: directory, tree, config });
    let mut acceptor = crate::serve::Acceptor::many(sockets, shared.config.max_connections);
    let (stop, stopped) = watch::channel(false);
    tokio::pin!(shutdown);
    while let Some(accepted) = acceptor.next(&mut shutdown).await {
        let shared = shared.clone();
        let tls = implicit_tls.get(accepted.listener).copied().unwrap_or(false);
        let stopped = stopped.clone();
        tokio::spawn(async move {
            let session = session::Session::new(shared, accepted.peer.ip());
            session.start(accepted.stream, tls, stopped).await;
            drop(accepted.permit);
        });
    }
    let _ = stop.send(true);
    Ok(())
}
