#!/usr/bin/env bash
# How long another server takes to see a write when the client sends no
# consistency token: two release servers on one PostgreSQL database; N
# users created one at a time through server A, each read back through
# server B (no Roster-Min-Revision) until B answers 200. Prints the
# distribution of that delay, and the same read with the token for
# comparison (which waits on B until it has applied the write).
# Usage: bench/follow-lag.sh [writes=300]. Needs PostgreSQL at
# ROSTER_BENCH_PG_URL (default: the test server). Bounded: N writes.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-300}
pg_admin=${ROSTER_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
db=roster_bench_lag
bin=${ROSTER_BIN:-target/release/roster}
[ -n "${ROSTER_BIN:-}" ] || cargo build --release -p roster --quiet

key=rst_bench_key_0123456789abcdef
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
url="${pg_admin%/*}/$db"

start() { # port
    ROSTER_BOOTSTRAP_ADMIN_KEY=$key ROSTER_LOG=warn ROSTER_RATE_LIMIT=0 "$bin" serve --listen "127.0.0.1:$1" \
        --database "$url" 2>>"$work/roster-$1.log" &
    pids+=($!)
    for _ in $(seq 3000); do curl -fs "http://127.0.0.1:$1/readyz" >/dev/null && return; sleep 0.01; done
    echo "the server on $1 did not become ready" >&2; cat "$work/roster-$1.log" >&2; exit 1
}
start 18581
start 18582

python3 - "$n" "$key" <<'EOF'
import http.client, json, sys, time
n, key = int(sys.argv[1]), sys.argv[2]
a = http.client.HTTPConnection("127.0.0.1", 18581)
b = http.client.HTTPConnection("127.0.0.1", 18582)
auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

def call(c, method, path, body=None, headers=None):
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers={**auth, **(headers or {})})
    r = c.getresponse()
    data = r.read()
    return r.status, r.getheader("Roster-Revision"), data

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]

lag, tries, token_ms = [], [], []
for i in range(n):
    status, _, data = call(a, "POST", "/v1/users", {"username": f"lag{i:05d}"})
    assert status == 201, data
    uid = json.loads(data)["id"]
    written = time.perf_counter()
    k = 0
    while True:
        k += 1
        status, _, _ = call(b, "GET", f"/v1/users/{uid}")
        if status == 200:
            break
        assert status == 404, status
    lag.append((time.perf_counter() - written) * 1000)
    tries.append(k)
    status, token, data = call(a, "POST", "/v1/users", {"username": f"tok{i:05d}"})
    assert status == 201 and token, (status, token)
    uid = json.loads(data)["id"]
    t = time.perf_counter()
    status, _, _ = call(b, "GET", f"/v1/users/{uid}", headers={"Roster-Min-Revision": token})
    assert status == 200, status
    token_ms.append((time.perf_counter() - t) * 1000)

print(f"| writes | first read on B that sees it, after A answered (no token): p50 / p99 / max | reads of B until then (mean) | read on B with the token: p50 / p99 |")
print(f"|---|---|---|---|")
print(f"| {n} | {pct(lag, .5):.2f} / {pct(lag, .99):.2f} / {max(lag):.2f} ms | {sum(tries) / len(tries):.2f} "
      f"| {pct(token_ms, .5):.2f} / {pct(token_ms, .99):.2f} ms |")
EOF
