//! A small, bounded, closed-loop load generator that speaks both HTTP/1.1 and
//! LDAPv3 the same way, so that Roster and slapd are measured through clients
//! of the same cost (bench/suite.sh prints their ratio).
//!
//! ```text
//! roster-loadgen http HOST PORT REQUESTS --key KEY [--workers W] [--seconds S] [--marker BYTES]
//! roster-loadgen ldap HOST PORT REQUESTS [--bind-dn DN --bind-pw PW] [--workers W] [--seconds S]
//! roster-loadgen receive HOST PORT --count N [--seconds S]      (a webhook receiver: receive.rs)
//! ```
//!
//! Each of W worker threads opens ONE persistent connection (TCP_NODELAY) and
//! sends one request at a time (no pipelining), rotating over the request
//! list from its own offset, until S seconds have passed. Requests are encoded
//! once, before the clock starts; responses are framed (Content-Length; BER
//! lengths) but not decoded further, so the client does the same small amount
//! of work per request for both protocols. Prints one JSON line: ops, rps,
//! latency percentiles in ms, errors, "hits" (HTTP: bodies containing
//! --marker; LDAP: searches that returned at least one entry), workers,
//! seconds, and client_cpu_cores (the process's user + system CPU over the
//! run, from /proc/self/stat, divided by the run's wall time).
//!
//! REQUESTS, one per line (blank lines skipped):
//!   http: /v1/groups/<id>                         (the path, as is: a GET)
//!         PUT /v1/groups/<id>/members/<user> {}   (a write: METHOD PATH [JSON BODY])
//!   ldap: {"base": DN, "scope": "base"|"one"|"sub", "filter": F, "attrs": [..], "sizelimit": N}
//!         F = ["eq", attr, value] | ["and", F, ...] | ["present", attr]

mod ber;
mod conn;
mod json;
mod receive;

use std::net::TcpStream;
use std::process::exit;
use std::time::{Duration, Instant};

use conn::Conn;

const USAGE: &str = "usage: roster-loadgen {http,ldap} HOST PORT REQUESTS [--workers W] [--seconds S] \
                     [--key KEY] [--marker BYTES] [--bind-dn DN] [--bind-pw PW]\n       \
                     roster-loadgen receive HOST PORT --count N [--seconds S]";

#[derive(Debug, Clone, PartialEq)]
struct Args {
    ldap: bool,
    host: String,
    port: u16,
    requests: String,
    workers: usize,
    seconds: f64,
    key: String,
    marker: Option<String>,
    bind_dn: Option<String>,
    bind_pw: String,
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut positional = Vec::new();
    let (mut workers, mut seconds) = (4, 5.0);
    let (mut key, mut marker, mut bind_dn, mut bind_pw) = (String::new(), None, None, String::new());
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            println!("{USAGE}");
            exit(0);
        }
        if !arg.starts_with("--") || arg == "--" {
            positional.push(arg.clone());
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (arg.as_str(), None),
        };
        let value = match inline {
            Some(v) => v,
            None => it.next().ok_or_else(|| format!("{name}: expected one argument"))?.clone(),
        };
        let number = |what: &str| format!("{name}: invalid {what} value: '{value}'");
        match name {
            "--workers" => workers = value.parse().ok().filter(|&w| w > 0).ok_or_else(|| number("int"))?,
            "--seconds" => {
                seconds = value.parse().ok().filter(|s: &f64| s.is_finite()).ok_or_else(|| number("float"))?
            }
            "--key" => key = value,
            "--marker" => marker = Some(value),
            "--bind-dn" => bind_dn = Some(value),
            "--bind-pw" => bind_pw = value,
            _ => return Err(format!("unrecognized argument: {name}")),
        }
    }
    let [proto, host, port, requests] = <[String; 4]>::try_from(positional)
        .map_err(|p| format!("expected 4 positional arguments (proto host port requests), got {}", p.len()))?;
    let ldap = match proto.as_str() {
        "http" => false,
        "ldap" => true,
        other => return Err(format!("proto: invalid choice: '{other}' (choose from 'http', 'ldap')")),
    };
    let port = port.parse().map_err(|_| format!("port: invalid int value: '{port}'"))?;
    // As before, an empty marker or bind DN is the same as none.
    let marker = marker.filter(|m| !m.is_empty());
    let bind_dn = bind_dn.filter(|d| !d.is_empty());
    Ok(Args { ldap, host, port, requests, workers, seconds, key, marker, bind_dn, bind_pw })
}

/// The request lines, encoded once: HTTP GETs with the bearer key, or LDAP
/// search messages (message id 2: requests never overlap on a connection).
fn encode(args: &Args, text: &str) -> Result<Vec<Vec<u8>>, String> {
    let lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    if args.ldap {
        lines
            .enumerate()
            .map(|(k, line)| {
                let req = json::parse(line).map_err(|e| format!("request {}: {e}", k + 1))?;
                Ok(ber::message(2, &ber::search(&req).map_err(|e| format!("request {}: {e}", k + 1))?))
            })
            .collect()
    } else {
        Ok(lines.map(|line| http_request(args, line)).collect())
    }
}

/// One HTTP request line: `PATH` (a GET), or `METHOD PATH [JSON BODY]`
/// for a write (PUT, POST, PATCH, DELETE), the body sent as JSON.
fn http_request(args: &Args, line: &str) -> Vec<u8> {
    let mut head = line.splitn(3, ' ');
    let (method, path, body) = match (head.next(), head.next()) {
        (Some(m @ ("PUT" | "POST" | "PATCH" | "DELETE")), Some(path)) => (m, path, head.next().map(str::trim)),
        _ => ("GET", line, None),
    };
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}:{}\r\nAuthorization: Bearer {}\r\n",
        args.host, args.port, args.key
    );
    match body {
        Some(body) => {
            req.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()))
        }
        None if method != "GET" => req.push_str("Content-Length: 0\r\n\r\n"),
        None => req.push_str("\r\n"),
    }
    req.into_bytes()
}

struct WorkerResult {
    latencies: Vec<Duration>,
    errors: u64,
    hits: u64,
    elapsed: Duration,
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("roster-loadgen: {msg}");
    exit(1)
}

fn worker(args: &Args, encoded: &[Vec<u8>], index: usize) -> WorkerResult {
    let stream = TcpStream::connect((args.host.as_str(), args.port))
        .unwrap_or_else(|e| fail(format_args!("connect to {}:{}: {e}", args.host, args.port)));
    stream.set_nodelay(true).unwrap_or_else(|e| fail(e));
    let mut conn = Conn::new(stream);
    if args.ldap
        && let Some(dn) = &args.bind_dn
    {
        let (ok, _) = conn.ldap(&ber::message(1, &ber::bind(dn, &args.bind_pw))).unwrap_or_else(|e| fail(e));
        if !ok {
            fail("bind refused");
        }
    }
    let marker = args.marker.as_deref().map(str::as_bytes);
    let n = encoded.len();
    let mut i = (index * 7919) % n;
    let (mut latencies, mut errors, mut hits) = (Vec::with_capacity(1 << 16), 0, 0);
    let run = Duration::from_secs_f64(args.seconds.max(0.0));
    let start = Instant::now();
    let deadline = start + run;
    loop {
        let t0 = Instant::now();
        if t0 >= deadline {
            break;
        }
        let answer = if args.ldap {
            conn.ldap(&encoded[i]).map(|(ok, entries)| (ok, entries > 0))
        } else {
            conn.http(&encoded[i], marker)
        };
        let (ok, hit) = answer.unwrap_or_else(|e| fail(format_args!("worker {index}: {e}")));
        latencies.push(t0.elapsed());
        errors += u64::from(!ok);
        hits += u64::from(hit);
        i = if i + 1 < n { i + 1 } else { 0 };
    }
    WorkerResult { latencies, errors, hits, elapsed: start.elapsed() }
}

/// User + system CPU of this process (all its threads) in seconds, from
/// /proc/self/stat fields 14 and 15 (utime, stime; in clock ticks).
fn process_cpu_seconds(ticks_per_second: f64) -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / ticks_per_second)
}

/// sysconf(_SC_CLK_TCK) without libc: `getconf CLK_TCK`, else Linux's 100.
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|&t| t > 0.0)
        .unwrap_or(100.0)
}

/// Python's round(x, digits), printed as Python's json prints a float.
fn round_json(x: f64, digits: usize) -> String {
    let rounded: f64 = format!("{x:.digits$}").parse().unwrap_or(x);
    format!("{rounded:?}")
}

fn summary(args: &Args, results: &[WorkerResult], client_cpu: Option<f64>) -> String {
    let mut lat: Vec<Duration> = results.iter().flat_map(|r| r.latencies.iter().copied()).collect();
    lat.sort_unstable();
    let ops = lat.len();
    let elapsed = results.iter().map(|r| r.elapsed).max().unwrap_or_default().as_secs_f64();
    let pct = |q: f64| {
        if ops == 0 {
            "null".to_string()
        } else {
            round_json(lat[(ops - 1).min((q * ops as f64) as usize)].as_secs_f64() * 1000.0, 3)
        }
    };
    let rps =
        if elapsed > 0.0 { format!("{}", (ops as f64 / elapsed).round_ties_even() as u64) } else { "null".into() };
    let cpu = match client_cpu {
        Some(c) if elapsed > 0.0 => round_json(c / elapsed, 2),
        _ => "null".into(),
    };
    format!(
        "{{\"ops\": {ops}, \"rps\": {rps}, \"p50_ms\": {}, \"p90_ms\": {}, \"p99_ms\": {}, \"errors\": {}, \"hits\": {}, \
         \"workers\": {}, \"seconds\": {:?}, \"client_cpu_cores\": {cpu}}}",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        results.iter().map(|r| r.errors).sum::<u64>(),
        results.iter().map(|r| r.hits).sum::<u64>(),
        args.workers,
        args.seconds,
    )
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("receive") {
        let o = receive::parse(&argv[1..]).unwrap_or_else(|e| {
            eprintln!("{USAGE}\nroster-loadgen: error: {e}");
            exit(2)
        });
        let ticks = clock_ticks();
        match receive::run(&o, || process_cpu_seconds(ticks)) {
            Ok(line) => println!("{line}"),
            Err(e) => fail(e),
        }
        return;
    }
    let args = parse_args(&argv).unwrap_or_else(|e| {
        eprintln!("{USAGE}\nroster-loadgen: error: {e}");
        exit(2)
    });
    let text = std::fs::read_to_string(&args.requests).unwrap_or_else(|e| fail(format_args!("{}: {e}", args.requests)));
    let encoded = encode(&args, &text).unwrap_or_else(|e| fail(format_args!("{}: {e}", args.requests)));
    if encoded.is_empty() {
        fail(format_args!("{}: no requests", args.requests));
    }
    let ticks = clock_ticks();
    // The client's own CPU (every worker thread, user + system) from before
    // the workers start to after they end, so a client that saturates the
    // cores is not mistaken for a server limit.
    let cpu_before = process_cpu_seconds(ticks);
    let results: Vec<WorkerResult> = std::thread::scope(|s| {
        let (args, encoded) = (&args, &encoded);
        let handles: Vec<_> = (0..args.workers).map(|k| s.spawn(move || worker(args, encoded, k))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| fail("a worker panicked"))).collect()
    });
    let client_cpu = cpu_before.zip(process_cpu_seconds(ticks)).map(|(a, b)| b - a);
    println!("{}", summary(&args, &results, client_cpu));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        parse_args(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn command_line_as_before() {
        let a =
            args(&["http", "127.0.0.1", "18480", "r.paths", "--key", "K", "--workers", "2", "--seconds=0.5"]).unwrap();
        assert_eq!((a.ldap, a.port, a.workers, a.seconds, a.key.as_str()), (false, 18480, 2, 0.5, "K"));
        assert_eq!(a.marker, None);
        let a = args(&["ldap", "h", "389", "r.jsonl", "--bind-dn", "cn=a", "--bind-pw", "pw", "--marker", ""]).unwrap();
        assert_eq!((a.ldap, a.workers, a.seconds), (true, 4, 5.0));
        assert_eq!((a.bind_dn.as_deref(), a.bind_pw.as_str(), a.marker), (Some("cn=a"), "pw", None));
        for bad in [
            &["ftp", "h", "1", "r"][..],
            &["http", "h", "x", "r"],
            &["http", "h", "1"],
            &["http", "h", "1", "r", "--nope", "1"],
        ] {
            assert!(args(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn http_requests_as_before() {
        let a = args(&["http", "127.0.0.1", "80", "r", "--key", "K"]).unwrap();
        let got = encode(&a, "/v1/groups/1\n\n  /v1/check?a=b  \n").unwrap();
        assert_eq!(
            got,
            [
                &b"GET /v1/groups/1 HTTP/1.1\r\nHost: 127.0.0.1:80\r\nAuthorization: Bearer K\r\n\r\n"[..],
                b"GET /v1/check?a=b HTTP/1.1\r\nHost: 127.0.0.1:80\r\nAuthorization: Bearer K\r\n\r\n",
            ]
        );
    }

    #[test]
    fn http_writes() {
        let a = args(&["http", "h", "80", "r", "--key", "K"]).unwrap();
        let got =
            encode(&a, "PUT /v1/groups/g/members/u {\"role\": \"member\"}\nDELETE /v1/groups/g/members/u\n").unwrap();
        assert_eq!(
            got,
            [
                &b"PUT /v1/groups/g/members/u HTTP/1.1\r\nHost: h:80\r\nAuthorization: Bearer K\r\n\
                   Content-Type: application/json\r\nContent-Length: 18\r\n\r\n{\"role\": \"member\"}"[..],
                b"DELETE /v1/groups/g/members/u HTTP/1.1\r\nHost: h:80\r\nAuthorization: Bearer K\r\n\
                  Content-Length: 0\r\n\r\n",
            ]
        );
    }

    #[test]
    fn output_line_as_before() {
        let a = args(&["http", "h", "1", "r", "--seconds", "5"]).unwrap();
        let ms = |v: u64| Duration::from_micros(v);
        let results = [
            WorkerResult {
                latencies: (1..=100).map(ms).collect(),
                errors: 1,
                hits: 7,
                elapsed: Duration::from_secs(4),
            },
            WorkerResult { latencies: vec![ms(2500)], errors: 0, hits: 1, elapsed: Duration::from_millis(5000) },
        ];
        assert_eq!(
            summary(&a, &results, Some(3.0)),
            "{\"ops\": 101, \"rps\": 20, \"p50_ms\": 0.051, \"p90_ms\": 0.091, \"p99_ms\": 0.1, \"errors\": 1, \
             \"hits\": 8, \"workers\": 4, \"seconds\": 5.0, \"client_cpu_cores\": 0.6}"
        );
        assert_eq!(
            summary(&a, &[], None),
            "{\"ops\": 0, \"rps\": null, \"p50_ms\": null, \"p90_ms\": null, \"p99_ms\": null, \"errors\": 0, \
             \"hits\": 0, \"workers\": 4, \"seconds\": 5.0, \"client_cpu_cores\": null}"
        );
    }

    #[test]
    fn cpu_of_this_process_reads() {
        let before = process_cpu_seconds(clock_ticks()).unwrap();
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(100) {
            x = x.wrapping_mul(31).wrapping_add(1);
        }
        std::hint::black_box(x);
        assert!(process_cpu_seconds(clock_ticks()).unwrap() >= before);
    }
}
