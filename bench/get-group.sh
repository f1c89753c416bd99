#!/usr/bin/env bash
# A first figure: a bounded wrk run of `GET /v1/groups/{id}` on loopback
# against a release build on a fresh SQLite file. Usage: bench/get-group.sh
# [seconds] [connections]. Needs wrk (Debian package `wrk`).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-32}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }

cargo build --release -p roster --quiet
work=$(mktemp -d)
key=rst_bench_key_0123456789abcdef
port=$((20000 + RANDOM % 10000))
ROSTER_BOOTSTRAP_ADMIN_KEY=$key ROSTER_LOG=warn ROSTER_RATE_LIMIT=0 \
    target/release/roster serve --listen 127.0.0.1:$port --database "sqlite://$work/bench.db" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
base=http://127.0.0.1:$port
for _ in $(seq 50); do curl -sf $base/healthz >/dev/null && break; sleep 0.1; done

auth="Authorization: Bearer $key"
json="content-type: application/json"
group=$(curl -sf -H "$auth" -H "$json" $base/v1/groups -d '{"name":"bench"}' | sed 's/.*"id":"\([^"]*\)".*/\1/;q')
for i in $(seq 100); do
    user=$(curl -sf -H "$auth" -H "$json" $base/v1/users -d "{\"username\":\"bench$i\"}" | sed 's/.*"id":"\([^"]*\)".*/\1/;q')
    curl -sf -X PUT -H "$auth" $base/v1/groups/$group/members/$user >/dev/null
done

echo "== GET /v1/groups/{id} (${secs}s, $conns connections, 2 threads)"
wrk -t2 -c"$conns" -d"${secs}s" --latency -H "$auth" "$base/v1/groups/$group"
echo "== GET /v1/groups/{id}/members?limit=100 (${secs}s, $conns connections, 2 threads)"
wrk -t2 -c"$conns" -d"${secs}s" --latency -H "$auth" "$base/v1/groups/$group/members?limit=100"
