//! `roster`: the binary. The only place a concrete store is chosen and the
//! server is wired together.

mod cli;
mod config;
mod transfer;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use roster_core::Directory;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "roster", version, about = "Roster: a self-hosted group directory")]
struct Cli {
    #[command(flatten)]
    connection: cli::Connection,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(Box<ServeArgs>),
    /// Import users, groups, nesting and memberships (NDJSON or CSV) into a running server.
    Import(transfer::ImportArgs),
    /// Load a whole directory (the records `import` reads) into a database
    /// that has no groups yet, in one transaction, with no server running:
    /// the fast way in for a first migration.
    Load(transfer::LoadArgs),
    /// Export the directory of a running server as NDJSON.
    Export(transfer::ExportArgs),
    /// Copy the SQLite database to a file while servers keep using it.
    Backup(BackupArgs),
    /// Commands against a running server (ROSTER_URL, ROSTER_KEY).
    #[command(flatten)]
    Remote(cli::Resource),
}

#[derive(clap::Args)]
struct BackupArgs {
    /// Database URL: `sqlite://FILE` (for PostgreSQL, use pg_dump).
    #[arg(long, env = "ROSTER_DATABASE_URL", default_value = "sqlite://roster.db", hide_env_values = true)]
    database: String,
    /// The file to write; it must not exist yet.
    #[arg(long)]
    to: std::path::PathBuf,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ROSTER_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Database URL: `sqlite://FILE` (created on first start).
    #[arg(long, env = "ROSTER_DATABASE_URL", default_value = "sqlite://roster.db", hide_env_values = true)]
    database: String,
    /// Make sure an admin holds this key (idempotent). Read from the
    /// environment only, so it never shows in a process list.
    #[arg(skip)]
    bootstrap_key: Option<String>,
    /// Log format.
    #[arg(long, env = "ROSTER_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// Seconds a client may take to send a request's headers, counted from
    /// when the server starts waiting for them: also how long a keep-alive
    /// connection may stay idle.
    #[arg(long, env = "ROSTER_HEADER_TIMEOUT", default_value = "10", value_parser = seconds)]
    header_timeout: Duration,
    /// Seconds a request body may pause between two pieces.
    #[arg(long, env = "ROSTER_BODY_IDLE_TIMEOUT", default_value = "10", value_parser = seconds)]
    body_idle_timeout: Duration,
    /// Seconds a whole request body may take to arrive.
    #[arg(long, env = "ROSTER_BODY_TIMEOUT", default_value = "60", value_parser = seconds)]
    body_timeout: Duration,
    /// Connections open at once; more wait until one closes. Keep it well
    /// below the open-file limit (`ulimit -n`).
    #[arg(long, env = "ROSTER_MAX_CONNECTIONS", default_value_t = 512)]
    max_connections: usize,
    /// Requests a second per API key (0: no limit); beyond it, 429.
    #[arg(long, env = "ROSTER_RATE_LIMIT", default_value_t = roster_core::DEFAULT_KEY_RATE)]
    rate_limit: u32,
    /// Requests one key may send at once before the rate applies.
    #[arg(long, env = "ROSTER_RATE_LIMIT_BURST", default_value_t = roster_core::DEFAULT_KEY_BURST)]
    rate_limit_burst: u32,
    /// Failed authentications a minute per client address (0: no limit);
    /// beyond it, every request from that address is 429 for a while.
    #[arg(long, env = "ROSTER_AUTH_FAILURE_LIMIT", default_value_t = roster_core::DEFAULT_AUTH_FAILURE_RATE)]
    auth_failure_limit: u32,
    /// Failed authentications one address may make at once before the rate applies.
    #[arg(long, env = "ROSTER_AUTH_FAILURE_BURST", default_value_t = roster_core::DEFAULT_AUTH_FAILURE_BURST)]
    auth_failure_burst: u32,
    /// Address to serve LDAP v3 on (read-only); off unless set.
    #[arg(long, env = "ROSTER_LDAP_LISTEN")]
    ldap_listen: Option<SocketAddr>,
    /// The LDAP naming context: users at uid=NAME,ou=people,BASE, groups at
    /// cn=NAME,ou=groups,BASE.
    #[arg(long, env = "ROSTER_LDAP_BASE_DN", default_value = roster_server::ldap::DEFAULT_BASE_DN, value_parser = roster_server::ldap::check_base_dn)]
    ldap_base_dn: String,
    /// Seconds an LDAP connection may stay idle (or take to read an answer)
    /// before it is closed.
    #[arg(long, env = "ROSTER_LDAP_IDLE_TIMEOUT", default_value = "300", value_parser = seconds)]
    ldap_idle_timeout: Duration,
    /// LDAP connections open at once (LDAP and LDAPS together, TLS
    /// handshakes included); more wait until one closes.
    #[arg(long, env = "ROSTER_LDAP_MAX_CONNECTIONS", default_value_t = 512)]
    ldap_max_connections: usize,
    /// The most entries an LDAP search without paging returns, and the
    /// largest page of a paged one (0: no limit); beyond it the search ends
    /// with sizeLimitExceeded. A client's own lower limit wins.
    #[arg(long, env = "ROSTER_LDAP_SIZE_LIMIT", default_value_t = 0)]
    ldap_size_limit: usize,
    /// Seconds an LDAP search may run before it ends with
    /// timeLimitExceeded. A client's own lower limit wins.
    #[arg(long, env = "ROSTER_LDAP_TIME_LIMIT", default_value = "60", value_parser = seconds)]
    ldap_time_limit: Duration,
    /// Address to serve LDAPS (LDAP over TLS from the first byte) on; off
    /// unless set. Needs --ldap-tls-cert and --ldap-tls-key.
    #[arg(long, env = "ROSTER_LDAPS_LISTEN", requires = "ldap_tls_cert")]
    ldaps_listen: Option<SocketAddr>,
    /// PEM certificate chain (the server's certificate first) for LDAPS and
    /// StartTLS. With it, --ldap-listen offers StartTLS.
    #[arg(long, env = "ROSTER_LDAP_TLS_CERT", value_name = "FILE", requires = "ldap_tls_key")]
    ldap_tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of that certificate (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "ROSTER_LDAP_TLS_KEY", value_name = "FILE", requires = "ldap_tls_cert")]
    ldap_tls_key: Option<std::path::PathBuf>,
    /// Seconds between looks at the certificate and key files: when either
    /// changed, both are read again and new TLS connections get the new
    /// certificate (a bad file keeps the old one, with an error in the
    /// log). 0: only on SIGHUP, which always reloads them.
    #[arg(long, env = "ROSTER_LDAP_TLS_RELOAD_INTERVAL", default_value = "60", value_parser = seconds_or_zero)]
    ldap_tls_reload_interval: Duration,
    /// With TLS configured, accept binds with a password or key over plain
    /// LDAP too (by default they answer confidentialityRequired until the
    /// client starts TLS).
    #[arg(long, env = "ROSTER_LDAP_ALLOW_PLAIN_BINDS", value_parser = clap::builder::BoolishValueParser::new())]
    ldap_allow_plain_binds: bool,
    /// Let LDAP clients that have not bound read every user and group in
    /// a public subset (names, numbers, memberships; see README). Off: only
    /// the root DSE and the schema are readable before a bind.
    #[arg(long, env = "ROSTER_LDAP_ANONYMOUS_READ", value_parser = clap::builder::BoolishValueParser::new())]
    ldap_anonymous_read: bool,
    /// Which addresses webhook deliveries may reach: CIDR ranges and the
    /// word `public` (every globally routable address), comma-separated.
    /// Loopback and private ranges are refused unless listed.
    #[arg(long, env = "ROSTER_WEBHOOKS_ALLOW", default_value = "public", value_parser = allow_list)]
    webhooks_allow: roster_core::webhooks::AllowList,
    /// Multiplies every wait of the webhook retry schedule (immediately, 5 s,
    /// 5 min, 30 min, 2 h, 5 h, 10 h, 10 h): 1 in service; tests shorten it.
    #[arg(long, env = "ROSTER_WEBHOOKS_RETRY_SCALE", default_value = "1", value_parser = scale)]
    webhooks_retry_scale: f64,
    /// Seconds a webhook receiver may take to answer before the attempt fails.
    #[arg(long, env = "ROSTER_WEBHOOKS_TIMEOUT", default_value = "15", value_parser = seconds)]
    webhooks_timeout: Duration,
    /// A file where this server keeps a snapshot of its in-memory index, so
    /// that a start reads it instead of every table (then applies the event
    /// log after it). Written by each load from the database and at a
    /// graceful stop; a cache only, checked against the log before use.
    /// Default: beside a SQLite database (`FILE.index`); none for
    /// PostgreSQL, where each server names its own. `off`: none.
    #[arg(long, env = "ROSTER_INDEX_SNAPSHOT", value_name = "FILE")]
    index_snapshot: Option<String>,
    /// Writes that snapshot again, while serving, once this many changes
    /// (events of the log) are applied past it, so that a start after a
    /// crash replays at most about that many. Reads go on while it is
    /// written, and a change waits for one step of a few thousand rows,
    /// never for the whole file. 0: only at a load from the database and
    /// at a graceful stop.
    #[arg(long, env = "ROSTER_INDEX_SNAPSHOT_EVERY", value_name = "EVENTS",
          default_value_t = roster_core::index::SNAPSHOT_EVERY, value_parser = clap::value_parser!(i64).range(0..))]
    index_snapshot_every: i64,
}

impl ServeArgs {
    /// Where the index's snapshot goes: as given, none for `off`, else
    /// beside a SQLite file.
    fn index_snapshot(&self, url: &str) -> Option<std::path::PathBuf> {
        match self.index_snapshot.as_deref() {
            Some("off") => None,
            Some(path) => Some(path.into()),
            None => roster_store::sqlite_file(url).map(|f| {
                let mut name = f.into_os_string();
                name.push(".index");
                name.into()
            }),
        }
    }

    fn limits(&self) -> roster_server::Limits {
        roster_server::Limits {
            header_timeout: self.header_timeout,
            body_idle_timeout: self.body_idle_timeout,
            body_timeout: self.body_timeout,
            max_connections: self.max_connections,
        }
    }

    /// The LDAP settings, with the certificate and key read (a missing or
    /// bad file is an error that names it).
    fn ldap(&self) -> anyhow::Result<roster_server::ldap::LdapConfig> {
        let tls = match (&self.ldap_tls_cert, &self.ldap_tls_key) {
            (Some(cert), Some(key)) => Some(
                roster_server::ldap::TlsSettings::from_pem_files(cert, key).context("LDAP TLS certificate or key")?,
            ),
            (None, None) => None,
            _ => anyhow::bail!("--ldap-tls-cert and --ldap-tls-key go together"),
        };
        Ok(roster_server::ldap::LdapConfig {
            base_dn: self.ldap_base_dn.clone(),
            idle_timeout: self.ldap_idle_timeout,
            max_connections: self.ldap_max_connections,
            tls,
            allow_plain_binds: self.ldap_allow_plain_binds,
            size_limit: self.ldap_size_limit,
            time_limit: self.ldap_time_limit,
            ..Default::default()
        })
    }

    fn rate_limits(&self) -> roster_core::RateLimits {
        roster_core::RateLimits {
            per_key: roster_core::Rate::per_second(self.rate_limit, self.rate_limit_burst),
            failed_auth_per_source: roster_core::Rate::per_minute(self.auth_failure_limit, self.auth_failure_burst),
        }
    }
}

fn allow_list(text: &str) -> Result<roster_core::webhooks::AllowList, String> {
    roster_core::webhooks::AllowList::parse(text).map_err(|e| e.to_string())
}

/// A factor between 0 and 1000 (`0.001`).
fn scale(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if (0.0..=1000.0).contains(&s) => Ok(s),
        _ => Err("expected a number between 0 and 1000".to_owned()),
    }
}

/// A positive number of seconds, fractions allowed (`0.5`).
/// [`seconds`], or 0 (for "never").
fn seconds_or_zero(text: &str) -> Result<Duration, String> {
    match text.trim().parse::<f64>() {
        Ok(0.0) => Ok(Duration::ZERO),
        _ => seconds(text),
    }
}

fn seconds(text: &str) -> Result<Duration, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s > 0.0 && s.is_finite() && s < 1e9 => Ok(Duration::from_secs_f64(s)),
        _ => Err("expected a positive number of seconds".to_owned()),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(mut args) => {
            args.bootstrap_key = std::env::var("ROSTER_BOOTSTRAP_ADMIN_KEY").ok().filter(|k| !k.is_empty());
            serve(*args).await
        }
        Command::Remote(resource) => std::process::exit(cli::run(cli.connection, resource).await),
        Command::Backup(args) => match roster_store::backup(&args.database, &args.to).await {
            Ok(size) => {
                eprintln!("backed up {} to {} ({size} bytes)", roster_store::redact(&args.database), args.to.display());
                Ok(())
            }
            Err(e) => {
                eprintln!("error: {e}");
                let usage =
                    matches!(e, roster_store::BackupError::Unsupported(_) | roster_store::BackupError::TargetExists(_));
                std::process::exit(if usage { 2 } else { 6 });
            }
        },
        Command::Import(args) => std::process::exit(
            cli::transfer(cli.connection, |c| async move {
                let done = transfer::import(&c, &args).await?;
                eprintln!("done: created {}, updated {}, unchanged {}", done.created, done.updated, done.unchanged);
                Ok(())
            })
            .await,
        ),
        Command::Load(args) => std::process::exit(load(args).await),
        Command::Export(args) => std::process::exit(
            cli::transfer(cli.connection, |c| async move {
                let n = transfer::export(&c, &args).await?;
                eprintln!("exported {n} records");
                Ok(())
            })
            .await,
        ),
    }
}

/// `roster load`: opens the database (made on first use, with its first
/// admin, as a first start would), then loads the file. Returns the exit
/// code: 0, 2 (the file), 5 (a record or the directory refused), 6.
async fn load(args: transfer::LoadArgs) -> i32 {
    let store = match roster_store::connect(&args.database).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: opening {}: {e}", roster_store::redact(&args.database));
            return 6;
        }
    };
    let directory = Directory::new(store);
    match directory.bootstrap(None).await {
        Ok(Some(secret)) => announce_first_admin(&secret),
        Ok(None) => {}
        Err(e) => {
            eprintln!("error: bootstrap failed: {e}");
            return 6;
        }
    }
    let started = std::time::Instant::now();
    let loaded = transfer::load(&directory, &args).await;
    // Folds SQLite's write-ahead log (the whole load) into the file now,
    // rather than leaving it for the next start to read through.
    directory.close().await;
    match loaded {
        Ok(s) => {
            eprintln!(
                "loaded in {:.1} s: users created {}, users updated {}, groups {}, memberships {}, nesting links {}",
                started.elapsed().as_secs_f64(),
                s.users_created,
                s.users_updated,
                s.groups_created,
                s.memberships,
                s.nesting
            );
            0
        }
        Err(f) => f.report(),
    }
}

/// Printed once, to the terminal only: the log never carries it.
fn announce_first_admin(secret: &str) {
    println!("Created the first admin user 'admin' with this API key (shown once, keep it safe):\n{secret}");
}

fn init_logs(format: &str) {
    let filter = EnvFilter::try_from_env("ROSTER_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: a log file gets no escape codes.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logs(&args.log_format);
    let url = normalize_sqlite_url(&args.database);
    let store = roster_store::connect(&url).await.with_context(|| format!("opening {}", roster_store::redact(&url)))?;
    let anonymous_read =
        if args.ldap_anonymous_read { roster_core::AnonymousRead::Public } else { roster_core::AnonymousRead::Off };
    let directory = Directory::new(store)
        .with_rate_limits(args.rate_limits())
        .with_anonymous_read(anonymous_read)
        .with_index_snapshot(args.index_snapshot(&url))
        .with_index_snapshot_every(args.index_snapshot_every);
    match directory.bootstrap(args.bootstrap_key.as_deref()).await {
        Ok(Some(secret)) => announce_first_admin(&secret),
        Ok(None) => {}
        Err(e) => anyhow::bail!("bootstrap failed: {e}"),
    }
    // Loads the index in the background (`/readyz` says when), then
    // follows the event log.
    tokio::spawn(directory.follow_changes());
    // Pushes the log to webhook subscribers.
    let sender = roster_server::outbound::HttpSender::new(args.webhooks_allow.clone(), args.webhooks_timeout)
        .map_err(|e| anyhow::anyhow!("webhook client: {e}"))?;
    let delivery = roster_core::webhooks::DeliverySettings::scaled(args.webhooks_retry_scale, args.webhooks_timeout);
    tokio::spawn(directory.deliver_webhooks(std::sync::Arc::new(sender), delivery));
    // One signal stops both listeners. LDAP is bound first, so a client
    // that waits for "roster listening" finds both ready.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    if args.ldap_listen.is_some() || args.ldaps_listen.is_some() {
        let config = args.ldap()?;
        let mut listeners = roster_server::ldap::LdapListeners::default();
        if let Some(addr) = args.ldap_listen {
            let ldap = TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
            let starttls = config.tls.is_some();
            tracing::info!(ldap_addr = %ldap.local_addr()?, base_dn = %args.ldap_base_dn, starttls, "roster serving ldap");
            listeners.ldap = Some(ldap);
        }
        if let Some(addr) = args.ldaps_listen {
            let ldaps = TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
            tracing::info!(ldaps_addr = %ldaps.local_addr()?, base_dn = %args.ldap_base_dn, "roster serving ldaps");
            listeners.ldaps = Some(ldaps);
        }
        if let Some(tls) = &config.tls {
            reload_tls_on_hangup(tls.clone());
            if !args.ldap_tls_reload_interval.is_zero() {
                tokio::spawn(tls.clone().watch_files(args.ldap_tls_reload_interval));
            }
        }
        let mut stopped = stopped.clone();
        let served = roster_server::ldap::serve_ldap(listeners, directory.clone(), config, async move {
            let _ = stopped.wait_for(|s| *s).await;
        });
        tokio::spawn(async move {
            if let Err(e) = served.await {
                tracing::error!(error = %e, "ldap listener failed");
            }
        });
    }
    let listener = TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, database = %roster_store::redact(&url), "roster listening");
    let limits = args.limits();
    let shutdown = async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    };
    roster_server::serve(listener, roster_server::app_with(directory.clone(), &limits), limits, shutdown).await?;
    // Requests are answered: the index stands still enough to keep.
    directory.save_index_snapshot().await;
    // Bounded: a background task still holding a connection must not keep
    // the process from stopping.
    let _ = tokio::time::timeout(Duration::from_secs(5), directory.close()).await;
    tracing::info!("roster stopped");
    Ok(())
}

/// `sqlite://roster.db` and `sqlite:roster.db` both mean a file relative to
/// the working directory; anything else is passed through.
fn normalize_sqlite_url(url: &str) -> String {
    url.to_owned()
}

/// Reads the LDAP certificate and key again on each SIGHUP (the outcome
/// logged; a bad file keeps the certificate in use).
fn reload_tls_on_hangup(tls: roster_server::ldap::TlsSettings) {
    #[cfg(unix)]
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(mut hangups) => {
            tokio::spawn(async move {
                while hangups.recv().await.is_some() {
                    tls.reload_and_log("SIGHUP");
                }
            });
        }
        Err(e) => {
            tracing::warn!(error = %e, "no SIGHUP handler: the LDAP certificate reloads only when its files change")
        }
    }
    #[cfg(not(unix))]
    drop(tls);
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
