//! LDAPS and StartTLS (RFC 4511 §4.14, RFC 4513 §3.1.1) over a real
//! socket, through the `ldap3` client on rustls and through Debian's
//! `ldapsearch`, with a CA and a server certificate each test makes
//! (rcgen): both handshakes, binds refused over plain connections, StartTLS
//! refused out of sequence or without a certificate, the handshake's time
//! limit and connection slot, and start-up errors that name a bad file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ldap3::exop::{Exop, WhoAmI, WhoAmIResp};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope};
use roster_server::ldap::{LdapConfig, TlsSettings};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{ADMIN_KEY, TestServer};
use crate::ldap::{BASE, PEOPLE, connect, rc, read_message, search, user_dn};

const STARTTLS_OID: &str = "1.3.6.1.4.1.1466.20037";

/// A throw-away CA and a server certificate it signed for 127.0.0.1 and
/// localhost, as PEM files.
pub(crate) struct Pki {
    pub dir: TempDir,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    ca_der: rustls::pki_types::CertificateDer<'static>,
}

pub(crate) fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "Roster test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("server key");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).expect("params");
    params.distinguished_name.push(DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &issuer).expect("server cert");
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write pem");
        path
    };
    let ca = write("ca.pem", ca_cert.pem());
    let cert_path = write("cert.pem", cert.pem());
    let key_path = write("key.pem", key.serialize_pem());
    Pki { ca, cert: cert_path, key: key_path, ca_der: ca_cert.der().clone(), dir }
}

/// LDAP settings with this certificate (LDAPS listener, StartTLS).
pub(crate) fn with_tls(p: &Pki) -> LdapConfig {
    LdapConfig { tls: Some(TlsSettings::from_pem_files(&p.cert, &p.key).expect("tls settings")), ..Default::default() }
}

/// A rustls client (ring) that trusts only this CA.
fn client_config(p: &Pki) -> Arc<rustls::ClientConfig> {
    client_trusting(&[p])
}

/// A rustls client (ring) that trusts only the CAs of `trusted`.
fn client_trusting(trusted: &[&Pki]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for p in trusted {
        roots.add(p.ca_der.clone()).expect("root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// An encrypted connection: `ldaps://` at once, or StartTLS on `ldap://`.
pub(crate) async fn connect_tls(url: &str, p: &Pki, starttls: bool) -> Result<Ldap, ldap3::LdapError> {
    let settings = LdapConnSettings::new()
        .set_config(client_config(p))
        .set_starttls(starttls)
        .set_conn_timeout(Duration::from_secs(10));
    let (conn, ldap) = LdapConnAsync::with_settings(settings, url).await?;
    ldap3::drive!(conn);
    Ok(ldap)
}

fn start_tls() -> Exop {
    Exop { name: Some(STARTTLS_OID.to_owned()), val: None }
}

async fn whoami(l: &mut Ldap) -> String {
    let (who, _) = l.extended(WhoAmI).await.expect("whoami").success().expect("whoami");
    who.parse::<WhoAmIResp>().authzid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldaps_and_starttls() {
    let p = pki();
    let s = TestServer::sqlite_with_ldap(with_tls(&p)).await;
    let ldaps = s.ldaps.clone().expect("an ldaps listener");

    // Plain LDAP announces StartTLS, and refuses a bind with a secret
    // before looking at it: a right key and a wrong one alike.
    let mut plain = connect(&s).await;
    let dse = search(&mut plain, "", Scope::Base, "(objectClass=*)", &["supportedExtension"]).await.expect("dse");
    assert!(dse[0].attrs["supportedExtension"].contains(&STARTTLS_OID.to_owned()), "{:?}", dse[0].attrs);
    let refused = plain.simple_bind(&user_dn("admin"), ADMIN_KEY).await.expect("bind");
    assert_eq!(refused.rc, 13, "confidentialityRequired: {refused}");
    assert!(refused.text.contains("StartTLS"), "{refused}");
    assert_eq!(plain.simple_bind(&user_dn("admin"), "rst_wrong").await.expect("bind").rc, 13);
    assert_eq!(plain.simple_bind("", "").await.expect("anonymous bind").rc, 0, "nothing secret in an anonymous bind");

    // LDAPS: TLS from the first byte, then a key bind.
    let mut l = connect_tls(&ldaps, &p, false).await.expect("ldaps");
    assert_eq!(l.simple_bind(&user_dn("admin"), ADMIN_KEY).await.expect("bind").rc, 0);
    assert_eq!(whoami(&mut l).await, format!("dn:{}", user_dn("admin")));
    let me = search(&mut l, PEOPLE, Scope::OneLevel, "(uid=admin)", &["uid"]).await.expect("search");
    assert_eq!(me.len(), 1);
    // StartTLS on a connection that is encrypted already: operationsError,
    // and the connection goes on.
    let again = l.extended(start_tls()).await.expect("exop");
    assert_eq!(again.1.rc, 1, "operationsError: {}", again.1);
    assert_eq!(whoami(&mut l).await, format!("dn:{}", user_dn("admin")));

    // StartTLS on the plain listener, then a bind as on LDAPS.
    let mut st = connect_tls(&s.ldap, &p, true).await.expect("starttls");
    assert_eq!(st.simple_bind(&user_dn("admin"), ADMIN_KEY).await.expect("bind").rc, 0);
    let found = search(&mut st, BASE, Scope::Subtree, "(uid=admin)", &["1.1"]).await.expect("search");
    assert_eq!(found.len(), 1);
    assert_eq!(rc(st.extended(start_tls()).await.and_then(|r| r.success())), 1, "twice");

    // A client that trusts another CA does not get through the handshake.
    let stranger = pki();
    assert!(connect_tls(&ldaps, &stranger, false).await.is_err(), "ldaps with an unknown CA");
    assert!(connect_tls(&s.ldap, &stranger, true).await.is_err(), "starttls with an unknown CA");
}

/// `--ldap-allow-plain-binds`: with TLS configured, a plain bind is
/// accepted all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_binds_when_allowed() {
    let p = pki();
    let s = TestServer::sqlite_with_ldap(LdapConfig { allow_plain_binds: true, ..with_tls(&p) }).await;
    let mut plain = connect(&s).await;
    assert_eq!(plain.simple_bind(&user_dn("admin"), ADMIN_KEY).await.expect("bind").rc, 0);
}

/// Without a certificate StartTLS is an unknown operation (protocolError)
/// and the root DSE does not announce it; binds are plain as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_without_a_certificate() {
    let s = TestServer::sqlite().await;
    assert!(s.ldaps.is_none());
    let mut l = connect(&s).await;
    let dse = search(&mut l, "", Scope::Base, "(objectClass=*)", &["supportedExtension"]).await.expect("dse");
    assert!(!dse[0].attrs["supportedExtension"].contains(&STARTTLS_OID.to_owned()), "{:?}", dse[0].attrs);
    let r = l.extended(start_tls()).await.expect("exop");
    assert_eq!(r.1.rc, 2, "protocolError: {}", r.1);
    assert_eq!(l.simple_bind(&user_dn("admin"), ADMIN_KEY).await.expect("bind").rc, 0);
}

/// `SEQUENCE { id, ExtendedRequest { [0] oid } }`.
fn extended_request(id: u8, oid: &str) -> Vec<u8> {
    let oid = oid.as_bytes();
    let inner = 2 + oid.len();
    let mut m = vec![0x30, (3 + 2 + inner) as u8, 0x02, 0x01, id, 0x77, inner as u8, 0x80, oid.len() as u8];
    m.extend(oid);
    m
}

/// (message id, operation tag, result code) of a short answer.
fn head(answer: &[u8]) -> (u8, u8, u8) {
    assert_eq!((answer[2], answer[3], answer[7], answer[8]), (0x02, 0x01, 0x0a, 0x01), "{answer:02x?}");
    (answer[4], answer[5], answer[9])
}

/// A request sent behind StartTLS, before its answer, is a sequencing
/// error (operationsError); the connection stays plain and answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_with_requests_behind_it() {
    let p = pki();
    let s = TestServer::sqlite_with_ldap(with_tls(&p)).await;
    let mut sock = tokio::net::TcpStream::connect(s.ldap.trim_start_matches("ldap://")).await.expect("connect");
    let mut both = extended_request(1, STARTTLS_OID);
    both.extend(extended_request(2, "1.3.6.1.4.1.4203.1.11.3"));
    sock.write_all(&both).await.expect("send");
    assert_eq!(head(&read_message(&mut sock).await), (1, 0x78, 1), "operationsError for StartTLS");
    assert_eq!(head(&read_message(&mut sock).await), (2, 0x78, 0), "WhoAmI answered in plain");
}

/// A client that stalls in the handshake (LDAPS, or after StartTLS) is
/// cut off after the handshake timeout; meanwhile it holds a connection
/// slot, so a client past the cap waits until then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_handshake_is_bounded_and_holds_a_slot() {
    let p = pki();
    let config = LdapConfig {
        max_connections: 1,
        handshake_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_secs(30),
        ..with_tls(&p)
    };
    let s = TestServer::sqlite_with_ldap(config).await;
    let ldaps = s.ldaps.clone().expect("ldaps");
    let mut stalled = tokio::net::TcpStream::connect(ldaps.trim_start_matches("ldaps://")).await.expect("connect");
    let mut waiting = connect(&s).await;
    let queued = tokio::time::timeout(Duration::from_millis(300), waiting.simple_bind("", "")).await;
    assert!(queued.is_err(), "served past the cap while a handshake was pending");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), stalled.read_to_end(&mut rest)).await;
    assert!(matches!(closed, Ok(Ok(0))), "{closed:?}");
    let bind = tokio::time::timeout(Duration::from_secs(5), waiting.simple_bind("", "")).await;
    assert_eq!(bind.expect("served once the slot is free").expect("bind").rc, 0);
    drop(waiting);

    // After StartTLS's success, the same limit.
    let mut sock = tokio::net::TcpStream::connect(s.ldap.trim_start_matches("ldap://")).await.expect("connect");
    sock.write_all(&extended_request(1, STARTTLS_OID)).await.expect("send");
    assert_eq!(head(&read_message(&mut sock).await), (1, 0x78, 0), "StartTLS accepted");
    let closed = tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut rest)).await;
    assert!(matches!(closed, Ok(Ok(0))), "{closed:?}");
}

/// Each bad file is refused with an error that names it, and says what is
/// wrong without showing its contents.
#[test]
fn bad_certificate_files_are_named() {
    let p = pki();
    let other = pki();
    let at = |name: &str, text: &str| {
        let path = p.dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let key_text = std::fs::read_to_string(&p.key).expect("key");
    let check = |cert: &Path, key: &Path, named: &[&Path], says: &str| {
        let e = TlsSettings::from_pem_files(cert, key).expect_err("refused").to_string();
        for path in named {
            assert!(e.contains(&path.display().to_string()), "{e} does not name {}", path.display());
        }
        assert!(e.contains(says), "{e}");
        for line in key_text.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!e.contains(line), "{e} shows key material");
        }
    };
    let missing = p.dir.path().join("missing.pem");
    check(&missing, &p.key, &[&missing], "No such file");
    check(&p.cert, &missing, &[&missing], "No such file");
    let garbage = at("garbage.pem", "not a certificate\n");
    check(&garbage, &p.key, &[&garbage], "no certificate");
    check(&p.cert, &p.cert, &[&p.cert], "no private key");
    let cut = key_text.lines().take(2).collect::<Vec<_>>().join("\n");
    let truncated = at("truncated.pem", &cut);
    check(&p.cert, &truncated, &[&truncated], "not valid PEM");
    check(&p.cert, &other.key, &[&p.cert, &other.key], "does not belong");
}

/// `roster serve` refuses to start on a bad TLS setting, naming it.
#[test]
fn serve_refuses_bad_tls_settings() {
    let p = pki();
    let db = format!("sqlite://{}", p.dir.path().join("roster.db").display());
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["serve", "--listen", "127.0.0.1:0", "--ldap-listen", "127.0.0.1:0"])
            .args(extra)
            .env("ROSTER_DATABASE_URL", &db)
            .env_remove("ROSTER_LDAP_TLS_CERT")
            .env_remove("ROSTER_LDAP_TLS_KEY")
            .output()
            .expect("run roster");
        assert!(!out.status.success(), "started with {extra:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let cert = p.cert.display().to_string();
    let key = p.key.display().to_string();
    let missing = p.dir.path().join("nope.pem").display().to_string();
    assert!(run(&["--ldap-tls-cert", &cert]).contains("--ldap-tls-key"), "both or neither");
    assert!(run(&["--ldap-tls-key", &key]).contains("--ldap-tls-cert"), "both or neither");
    assert!(run(&["--ldaps-listen", "127.0.0.1:0"]).contains("--ldap-tls-cert"), "ldaps needs a certificate");
    let e = run(&["--ldap-tls-cert", &missing, "--ldap-tls-key", &key]);
    assert!(e.contains(&missing), "{e}");
    let e = run(&["--ldap-tls-cert", &cert, "--ldap-tls-key", &cert]);
    assert!(e.contains(&cert) && e.contains("no private key"), "{e}");
}

/// Debian's `ldapsearch` over `ldaps://` and with `-ZZ` (StartTLS
/// required), trusting the test CA through `LDAPTLS_CACERT`; without TLS
/// its bind is refused with confidentialityRequired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldapsearch_over_ldaps_and_starttls() {
    if std::process::Command::new("ldapsearch").arg("-VV").output().is_err() {
        assert!(
            std::env::var_os("ROSTER_REQUIRE_SDK").is_none(),
            "ROSTER_REQUIRE_SDK is set but ldapsearch is missing"
        );
        eprintln!(
            "SKIPPED ldapsearch_over_ldaps_and_starttls: ldapsearch is not installed (apt-get install ldap-utils)"
        );
        return;
    }
    let p = pki();
    let s = TestServer::sqlite_with_ldap(with_tls(&p)).await;
    let ldaps = s.ldaps.clone().expect("ldaps");
    let run = |url: &str, starttls: bool| {
        let mut cmd = tokio::process::Command::new("ldapsearch");
        cmd.env("LDAPTLS_CACERT", &p.ca).env("LDAPTLS_REQCERT", "demand").env_remove("LDAPCONF").env_remove("LDAPRC");
        cmd.args(["-x", "-LLL", "-H", url, "-D", &user_dn("admin"), "-w", ADMIN_KEY, "-b", BASE, "(uid=admin)", "uid"]);
        if starttls {
            cmd.arg("-ZZ");
        }
        cmd.output()
    };
    for (url, starttls) in [(ldaps.as_str(), false), (s.ldap.as_str(), true)] {
        let out = run(url, starttls).await.expect("ldapsearch");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{url}: {text}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("uid: admin"), "{url}: {text}");
    }
    let out = run(&s.ldap, false).await.expect("ldapsearch");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(13), "{err}");
    assert!(err.contains("Confidentiality required"), "{err}");
}

/// The server's certificate as a new TLS connection to `addr` sees it,
/// trusting the CAs of `trusted`.
fn served_certificate(addr: &str, trusted: &[&Pki]) -> Vec<u8> {
    let config = client_trusting(trusted);
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut conn = rustls::ClientConnection::new(config, name).expect("client");
    let mut sock = std::net::TcpStream::connect(addr).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).expect("handshake");
    }
    conn.peer_certificates().and_then(|c| c.first()).expect("a certificate").to_vec()
}

fn certificate_of(p: &Pki) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_file(&p.cert).expect("cert").to_vec()
}

/// Waits (bounded) until `log` holds `count` lines with `text`.
fn wait_for_log(log: &std::sync::Mutex<String>, text: &str, count: usize) {
    for _ in 0..500 {
        if log.lock().expect("log").matches(text).count() >= count {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no {count}× {text:?} in the log:\n{}", log.lock().expect("log"));
}

/// The LDAPS address a `roster serve` process logged.
fn ldaps_addr(p: &crate::process::Process) -> String {
    let log = p.log.lock().expect("log").clone();
    let at = log.find("\"ldaps_addr\":\"").expect("ldaps address logged") + "\"ldaps_addr\":\"".len();
    log[at..].split('"').next().expect("address").to_owned()
}

/// A renewed certificate without a restart: on SIGHUP, and when the files
/// change, the real binary reads them again and new connections get the
/// new certificate; a bad file or a key of another certificate keeps the
/// old one and logs an error naming the file; an open connection goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_served_without_a_restart() {
    let (old, new) = (pki(), pki());
    let both = [&old, &new];
    // The server's own files, replaced as a renewal replaces them.
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let install = |from: &Pki| {
        std::fs::copy(&from.cert, &cert).expect("cert");
        std::fs::copy(&from.key, &key).expect("key");
    };
    install(&old);
    let db = format!("sqlite://{}", dir.path().join("roster.db").display());
    let (cert_arg, key_arg) = (cert.display().to_string(), key.display().to_string());
    let start = |interval: &str| {
        let args = [
            "--ldaps-listen",
            "127.0.0.1:0",
            "--ldap-tls-cert",
            &cert_arg,
            "--ldap-tls-key",
            &key_arg,
            "--ldap-tls-reload-interval",
            interval,
        ];
        crate::process::start_with(&db, Some(ADMIN_KEY), &crate::process::Options { args: &args, ..Default::default() })
    };

    // On SIGHUP only (no looking at the files).
    let server = start("0");
    let addr = ldaps_addr(&server);
    let hangup = || {
        let status = std::process::Command::new("kill")
            .args(["-HUP", &server.child.id().to_string()])
            .status()
            .expect("kill -HUP");
        assert!(status.success());
    };
    assert_eq!(served_certificate(&addr, &both), certificate_of(&old));
    let mut open = connect_tls(&format!("ldaps://{addr}"), &old, false).await.expect("ldaps");
    assert_eq!(open.simple_bind(&user_dn("admin"), ADMIN_KEY).await.expect("bind").rc, 0);

    // A file that is no certificate, then the new certificate with the
    // old key: each refused, named in the log, the old certificate kept.
    std::fs::write(&cert, "not a certificate\n").expect("write");
    hangup();
    wait_for_log(&server.log, "not reloaded", 1);
    assert!(server.log.lock().expect("log").contains(&cert_arg), "the error names the file");
    assert_eq!(served_certificate(&addr, &both), certificate_of(&old));
    std::fs::copy(&new.cert, &cert).expect("cert");
    hangup();
    wait_for_log(&server.log, "not reloaded", 2);
    assert!(server.log.lock().expect("log").contains("does not belong"));
    assert_eq!(served_certificate(&addr, &both), certificate_of(&old));

    // The renewal: both files, then SIGHUP.
    install(&new);
    hangup();
    wait_for_log(&server.log, "ldap tls certificate reloaded", 1);
    assert_eq!(served_certificate(&addr, &both), certificate_of(&new));
    let mut renewed = connect_tls(&format!("ldaps://{addr}"), &new, false).await.expect("ldaps, new CA");
    assert_eq!(renewed.simple_bind(&user_dn("admin"), ADMIN_KEY).await.expect("bind").rc, 0);
    assert!(connect_tls(&format!("ldaps://{addr}"), &old, false).await.is_err(), "the old CA no longer matches");
    // The connection opened before the renewal goes on.
    assert_eq!(whoami(&mut open).await, format!("dn:{}", user_dn("admin")));
    let secrets = std::fs::read_to_string(&new.key).expect("key");
    let log = server.log.lock().expect("log").clone();
    for line in secrets.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!log.contains(line), "the log shows key material");
    }
    drop(server);

    // Looking at the files: a change is picked up without a signal.
    install(&old);
    let server = start("0.2");
    let addr = ldaps_addr(&server);
    assert_eq!(served_certificate(&addr, &both), certificate_of(&old));
    install(&new);
    wait_for_log(&server.log, "ldap tls certificate reloaded", 1);
    assert_eq!(served_certificate(&addr, &both), certificate_of(&new));
}
