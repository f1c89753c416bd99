//! TLS for the LDAP listener, LDAPS and StartTLS alike: the certificate
//! chain and key, read once at start from PEM files (a missing or bad file
//! is a startup error that names it), and the handshake, bounded in time
//! so a client that stalls in it cannot hold a connection slot. rustls on
//! the ring provider. Neither the key nor any part of a PEM file is ever
//! logged or put in an error: errors name the file and what is wrong.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::either::Either;

/// A connection, before or after TLS.
pub(crate) type Stream = Either<TcpStream, Box<TlsStream<TcpStream>>>;

/// The server's certificate and key, ready to accept TLS connections.
#[derive(Clone)]
pub struct TlsSettings {
    acceptor: TlsAcceptor,
    cert: PathBuf,
    key: PathBuf,
}

/// The files only: never the key.
impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings").field("cert", &self.cert).field("key", &self.key).finish_non_exhaustive()
    }
}

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
        let (cert_name, key_name) = (cert.display().to_string(), key.display().to_string());
        let chain = read_chain(cert, &cert_name)?;
        let private = read_key(key, &key_name)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let refused = |e: rustls::Error| match e {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                TlsError::Mismatch { cert: cert_name.clone(), key: key_name.clone() }
            }
            other => TlsError::Refused { cert: cert_name.clone(), key: key_name.clone(), reason: other.to_string() },
        };
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(refused)?
            .with_no_client_auth()
            .with_single_cert(chain, private)
            .map_err(refused)?;
        Ok(Self { acceptor: TlsAcceptor::from(Arc::new(config)), cert: cert.to_owned(), key: key.to_owned() })
    }

    /// The TLS handshake on `tcp`, given at most `timeout`.
    pub(crate) async fn accept(&self, tcp: TcpStream, timeout: Duration) -> std::io::Result<Stream> {
        match tokio::time::timeout(timeout, self.acceptor.accept(tcp)).await {
            Ok(tls) => Ok(Either::Right(Box::new(tls?))),
            Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out")),
        }
    }
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
