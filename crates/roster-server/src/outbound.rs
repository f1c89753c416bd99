//! Outbound HTTP: the core's webhook [`Sender`], an HTTP client that
//! follows no redirect, uses no proxy, gives up after a timeout, and
//! connects only to addresses the operator's [`AllowList`] allows, checked
//! on the addresses a name resolves to at each delivery (so a name that
//! resolves, or rebinds, to a refused address is refused) and on an
//! address written in the URL. It makes no decision about what to send.

use std::error::Error as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use roster_core::webhooks::{AllowList, Answer, Outgoing, Sender};

/// Bytes of a receiver's answer read for the delivery log.
const SNIPPET_BYTES: usize = 1024;

/// Delivers webhook requests over HTTP(S).
pub struct HttpSender {
    client: reqwest::Client,
    allow: AllowList,
}

impl HttpSender {
    /// A sender that gives up on a request after `timeout`.
    pub fn new(allow: AllowList, timeout: Duration) -> Result<Self, String> {
        // TLS through rustls with ring; installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .dns_resolver(Arc::new(Checked { allow: allow.clone() }))
            .user_agent(concat!("Roster-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { client, allow })
    }
}

#[async_trait]
impl Sender for HttpSender {
    async fn send(&self, out: &Outgoing) -> Answer {
        let url = match reqwest::Url::parse(&out.url) {
            Ok(u) => u,
            Err(e) => return Answer::Failed { reason: format!("bad url: {e}") },
        };
        // An address in the URL is not resolved, so it is checked here.
        let host = url.host_str().unwrap_or("");
        let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().ok();
        if let Some(addr) = literal
            && !self.allow.allows(addr)
        {
            return Answer::Failed { reason: refused(&addr.to_string()) };
        }
        let mut req = self.client.post(url).body(out.body.clone());
        for (name, value) in &out.headers {
            req = req.header(*name, value);
        }
        let mut res = match req.send().await {
            Ok(r) => r,
            Err(e) => return Answer::Failed { reason: reason(&e.without_url()) },
        };
        let status = res.status().as_u16();
        let retry_after = res
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut body = Vec::new();
        while body.len() < SNIPPET_BYTES {
            match res.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
        body.truncate(SNIPPET_BYTES);
        Answer::Status { status, retry_after, snippet: String::from_utf8_lossy(&body).into_owned() }
    }
}

fn refused(what: &str) -> String {
    format!("{what} is not an address deliveries may reach (ROSTER_WEBHOOKS_ALLOW)")
}

/// An error and its causes, on one line.
fn reason(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Resolves a name, keeping only the addresses the allow list allows.
struct Checked {
    allow: AllowList,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

impl reqwest::dns::Resolve for Checked {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.iter().copied().filter(|a| allow.allows(a.ip())).collect();
            if allowed.is_empty() {
                let shown = found.first().map_or(host.clone(), |a| format!("{host} ({})", a.ip()));
                return Err(Box::new(Refused(refused(&shown))) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}
