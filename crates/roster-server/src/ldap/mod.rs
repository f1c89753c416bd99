//! The LDAP v3 front-end (RFC 4511): a read-only view of the directory for
//! applications that look users and groups up over LDAP. It translates,
//! never decides: every bind goes through `Directory::authenticate_user`,
//! every read is a `Directory` use-case called with the bound principal
//! (so it sees what `/v1` shows it), and it writes nothing. The wire
//! format is `ldap3_proto`'s; `codec` only frames messages so that a
//! malformed request can be answered instead of ending the connection.
//!
//! `session` (a connection, bind, WhoAmI, result codes of what is not
//! offered), `dn` (DNs and the tree), `entries` (users and groups as
//! entries, the root DSE, attribute selection), `filter` (evaluation),
//! `search` (plans over core lists, paging), `compare`, `error` (result
//! codes, in one place).

pub(crate) mod codec;
pub(crate) mod compare;
pub(crate) mod dn;
pub(crate) mod entries;
pub(crate) mod error;
pub(crate) mod filter;
pub(crate) mod search;
pub(crate) mod session;

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
    /// Connections open at once; more wait in the listen queue.
    pub max_connections: usize,
}

impl Default for LdapConfig {
    fn default() -> Self {
        Self { base_dn: DEFAULT_BASE_DN.to_owned(), idle_timeout: Duration::from_secs(300), max_connections: 512 }
    }
}

/// Checks a base DN setting (for the command line).
pub fn check_base_dn(text: &str) -> Result<String, String> {
    dn::Tree::new(text).map(|_| text.trim().to_owned()).map_err(|e| e.to_string())
}

/// Serves LDAP on `listener` until `shutdown` resolves, accepting as HTTP
/// does (`serve::Acceptor`: the connection cap, the accept loop that
/// outlives running out of descriptors).
pub async fn serve_ldap(
    listener: TcpListener,
    directory: Directory,
    config: LdapConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tree = Arc::new(
        dn::Tree::new(&config.base_dn)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?,
    );
    let mut acceptor = crate::serve::Acceptor::new(listener, config.max_connections);
    let (stop, stopped) = watch::channel(false);
    tokio::pin!(shutdown);
    while let Some((stream, peer, permit)) = acceptor.next(&mut shutdown).await {
        let session = session::Session::new(directory.clone(), tree.clone(), peer.ip(), config.idle_timeout);
        let stopped = stopped.clone();
        tokio::spawn(async move {
            session.run(stream, stopped).await;
            drop(permit);
        });
    }
    let _ = stop.send(true);
    Ok(())
}
