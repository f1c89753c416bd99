//! TLS for the LDAP listener, LDAPS and StartTLS alike: the certificate
//! chain and key, read from PEM files at start (a missing or bad file is a
//! startup error that names it) and again on [`TlsSettings::reload`] (a
//! renewed certificate without a restart: connections accepted after it
//! get the new one, open connections keep theirs, and a bad file changes
//! nothing), and the handshake, bounded in time so a client that stalls in
//! it cannot hold a connection slot. rustls on the ring provider. Neither
//! the key nor any part of a PEM file is ever logged or put in an error:
//! errors name the file and what is wrong.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::either::Either;

/// A connection, before or after TLS.
pub(crate) type Stream = Either<TcpStream, Box<TlsStream<TcpStream>>>;

/// The server's certificate and key, ready to accept TLS connections.
/// Clones share the certificate: a reload through one is seen by all.
#[derive(Clone)]
pub struct TlsSettings {
    acceptor: TlsAcceptor,
    current: Arc<Current>,
    provider: Arc<CryptoProvider>,
    cert: PathBuf,
    key: PathBuf,
}

/// The files only: never the key.
impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings").field("cert", &self.cert).field("key", &self.key).finish_non_exhaustive()
    }
}

/// The certificate and key each new handshake is given (rustls asks this
/// resolver once per handshake).
struct Current(RwLock<Arc<CertifiedKey>>);

impl std::fmt::Debug for Current {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Current(..)")
    }
}

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // A poisoned lock still holds a whole key: the swap is one store.
        Some(self.0.read().unwrap_or_else(|e| e.into_inner()).clone())
    }
}

/// When the files last changed, as far as a watcher can tell.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stamp(Option<(SystemTime, u64)>, Option<(SystemTime, u64)>);

/// Why a certificate or key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: no certificate in it (expected PEM blocks \"BEGIN CERTIFICATE\")")]
    NoCertificate { path: String },
    #[error(
        "{path}: no private key in it (expected a PEM block \"BEGIN PRIVATE KEY\", \"BEGIN RSA PRIVATE KEY\" or \"BEGIN EC PRIVATE KEY\")"
    )]
    NoKey { path: String },
    #[error("{path}: not valid PEM ({reason})")]
    BadPem { path: String, reason: &'static str },
    #[error("the key in {key} does not belong to the certificate in {cert}")]
    Mismatch { cert: String, key: String },
    #[error("{cert} with {key}: {reason}")]
    Refused { cert: String, key: String, reason: String },
}

impl TlsSettings {
    /// Reads a PEM certificate chain (the server's certificate first) and
    /// its PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certified = certified_key(cert, key, &provider)?;
        let current = Arc::new(Current(RwLock::new(Arc::new(certified))));
        let refused = |e: rustls::Error| TlsError::Refused {
            cert: cert.display().to_string(),
            key: key.display().to_string(),
            reason: e.to_string(),
        };
        let config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(refused)?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            current,
            provider,
            cert: cert.to_owned(),
            key: key.to_owned(),
        })
    }

    /// Reads the certificate and key files again and, when both are good
    /// and belong together, gives them to every handshake from now on. On
    /// an error the certificate in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let certified = certified_key(&self.cert, &self.key, &self.provider)?;
        *self.current.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(certified);
        Ok(())
    }

    /// Reloads whenever either file's modification time or size changes,
    /// looking every `every`; runs until dropped. Each outcome is logged
    /// (a failure at error level, naming the file): a certificate renewed
    /// in two writes may fail once, between them, and load at the next look.
    pub async fn watch_files(self, every: Duration) {
        let mut seen = self.stamp();
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            // Taken before the files are read: a write during the read
            // shows as a change at the next look.
            let now = self.stamp();
            if now != seen {
                seen = now;
                self.reload_and_log("the files changed");
            }
        }
    }

    /// [`Self::reload`], with its outcome logged; `why` says what asked.
    pub fn reload_and_log(&self, why: &str) {
        match self.reload() {
            Ok(()) => tracing::info!(cert = %self.cert.display(), why, "ldap tls certificate reloaded"),
            Err(e) => tracing::error!(error = %e, why, "ldap tls certificate not reloaded: the previous one stays"),
        }
    }

    fn stamp(&self) -> Stamp {
        let of = |p: &Path| std::fs::metadata(p).ok().and_then(|m| Some((m.modified().ok()?, m.len())));
        Stamp(of(&self.cert), of(&self.key))
    }

    /// The TLS handshake on `tcp`, given at most `timeout`.
    pub(crate) async fn accept(&self, tcp: TcpStream, timeout: Duration) -> std::io::Result<Stream> {
        match tokio::time::timeout(timeout, self.acceptor.accept(tcp)).await {
            Ok(tls) => Ok(Either::Right(Box::new(tls?))),
            Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out")),
        }
    }
}

/// The chain and key in the files, checked to belong together.
fn certified_key(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let (cert_name, key_name) = (cert.display().to_string(), key.display().to_string());
    let chain = read_chain(cert, &cert_name)?;
    let private = read_key(key, &key_name)?;
    CertifiedKey::from_der(chain, private, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            TlsError::Mismatch { cert: cert_name, key: key_name }
        }
        other => TlsError::Refused { cert: cert_name, key: key_name, reason: other.to_string() },
    })
}

fn read_chain(path: &Path, name: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Result<Vec<_>, _> =
        CertificateDer::pem_file_iter(path).map_err(|e| pem_error(e, name, false))?.collect();
    let certs = certs.map_err(|e| pem_error(e, name, false))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate { path: name.to_owned() });
    }
    Ok(certs)
}

fn read_key(path: &Path, name: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_error(e, name, true))
}

/// A PEM error as said about `path`, without any of its bytes.
fn pem_error(e: pem::Error, path: &str, key: bool) -> TlsError {
    let path = path.to_owned();
    let reason = match e {
        pem::Error::Io(source) => return TlsError::Read { path, source },
        pem::Error::NoItemsFound if key => return TlsError::NoKey { path },
        pem::Error::NoItemsFound => return TlsError::NoCertificate { path },
        pem::Error::MissingSectionEnd { .. } => "a block has no END line",
        pem::Error::IllegalSectionStart { .. } => "a BEGIN line is malformed",
        pem::Error::Base64Decode(_) => "a block is not valid base64",
        pem::Error::SectionTooLarge => "a block is too large",
        _ => "unreadable",
    };
    TlsError::BadPem { path, reason }
}
