//! A webhook receiver as fast as a receiver can be: it answers every
//! request `204 No Content` at once, keeps connections alive, and counts.
//! The benchmark of deliveries per second measures the sender, so the
//! receiver must never be what limits it.
//!
//! ```text
//! roster-loadgen receive HOST PORT --count N [--seconds S]
//! ```
//!
//! Listens on HOST:PORT (one thread per connection) until N requests have
//! arrived or S seconds (default 60) have passed, then prints one JSON
//! line: received, the seconds from the first request to the last, the
//! rate over that span, and the receiver's CPU share.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::conn::{content_length, find};

/// What the receiver was told.
#[derive(Debug, PartialEq)]
pub struct Options {
    pub host: String,
    pub port: u16,
    pub count: u64,
    pub seconds: f64,
}

pub fn parse(argv: &[String]) -> Result<Options, String> {
    let (mut count, mut seconds, mut positional) = (None, 60.0, Vec::new());
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (arg.as_str(), None),
        };
        if !name.starts_with("--") {
            positional.push(arg.clone());
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => it.next().ok_or_else(|| format!("{name}: expected one argument"))?.clone(),
        };
        match name {
            "--count" => count = Some(value.parse().map_err(|_| format!("--count: invalid number '{value}'"))?),
            "--seconds" => {
                seconds =
                    value.parse().ok().filter(|s: &f64| *s > 0.0).ok_or(format!("--seconds: invalid '{value}'"))?
            }
            _ => return Err(format!("unknown option {name}")),
        }
    }
    let [host, port] = <[String; 2]>::try_from(positional).map_err(|_| "expected HOST PORT".to_string())?;
    let port = port.parse().map_err(|_| format!("invalid port '{port}'"))?;
    let count = count.ok_or("--count is required")?;
    Ok(Options { host, port, count, seconds })
}

/// The arrival times of the first and the last request.
#[derive(Default)]
struct Span {
    first: Option<Instant>,
    last: Option<Instant>,
}

struct Tally {
    received: AtomicU64,
    span: Mutex<Span>,
}

impl Tally {
    fn arrived(&self) {
        let now = Instant::now();
        self.received.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut span) = self.span.lock() {
            span.first.get_or_insert(now);
            span.last = Some(now);
        }
    }
}

/// Serves one connection: reads each request (head and Content-Length
/// body), answers 204, until the peer closes.
fn serve(mut s: TcpStream, tally: &Tally) -> io::Result<()> {
    s.set_nodelay(true)?;
    let (mut buf, mut chunk) = (Vec::with_capacity(1 << 16), vec![0u8; 1 << 16]);
    loop {
        let end = loop {
            if let Some(k) = find(&buf, b"\r\n\r\n") {
                break k;
            }
            let n = s.read(&mut chunk)?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let length =
            content_length(&buf[..end]).and_then(|v| std::str::from_utf8(v).ok()?.parse::<usize>().ok()).unwrap_or(0);
        let total = end + 4 + length;
        while buf.len() < total {
            let n = s.read(&mut chunk)?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        buf.drain(..total);
        tally.arrived();
        s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")?;
    }
}

/// Runs the receiver; returns its JSON line.
pub fn run(o: &Options, cpu_seconds: impl Fn() -> Option<f64>) -> Result<String, String> {
    let listener = TcpListener::bind((o.host.as_str(), o.port)).map_err(|e| format!("bind: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let tally = Arc::new(Tally { received: AtomicU64::new(0), span: Mutex::new(Span::default()) });
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(o.seconds);
    while tally.received.load(Ordering::Relaxed) < o.count && Instant::now() < deadline {
        match listener.accept() {
            Ok((s, _)) => {
                let tally = tally.clone();
                s.set_nonblocking(false).map_err(|e| e.to_string())?;
                std::thread::spawn(move || serve(s, &tally));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => return Err(format!("accept: {e}")),
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let received = tally.received.load(Ordering::Relaxed);
    let span = tally.span.lock().map_err(|_| "poisoned")?;
    let between = match (span.first, span.last) {
        (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
        _ => 0.0,
    };
    let rate = if between > 0.0 {
        format!("{}", (received.saturating_sub(1) as f64 / between).round())
    } else {
        "null".into()
    };
    let cpu = match cpu_before.zip(cpu_seconds()) {
        Some((a, b)) if wall > 0.0 => format!("{:.2}", (b - a) / wall),
        _ => "null".into(),
    };
    Ok(format!(
        "{{\"received\": {received}, \"expected\": {}, \"span_seconds\": {between:.3}, \"per_second\": {rate}, \
         \"receiver_cpu_cores\": {cpu}}}",
        o.count
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let argv = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse(&argv(&["127.0.0.1", "9000", "--count", "5", "--seconds=2"])).unwrap(),
            Options { host: "127.0.0.1".into(), port: 9000, count: 5, seconds: 2.0 }
        );
        for bad in [&["h", "1"][..], &["h", "x", "--count", "1"], &["h", "1", "--count", "1", "--nope", "2"]] {
            assert!(parse(&argv(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn counts_requests_on_kept_alive_connections() {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let o = Options { host: "127.0.0.1".into(), port, count: 3, seconds: 10.0 };
        let server = std::thread::spawn(move || run(&o, || None));
        let mut s = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => break s,
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        let req = b"POST /h HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody";
        let mut answers = Vec::new();
        for _ in 0..3 {
            s.write_all(req).unwrap();
            let mut got = [0u8; 27];
            s.read_exact(&mut got).unwrap();
            answers.push(got.to_vec());
        }
        assert!(answers.iter().all(|a| a == b"HTTP/1.1 204 No Content\r\n\r\n"));
        let line = server.join().unwrap().unwrap();
        assert!(line.starts_with("{\"received\": 3, \"expected\": 3,"), "{line}");
    }
}
