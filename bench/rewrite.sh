#!/usr/bin/env bash
# What writing the index snapshot again while serving costs the writes that
# land meanwhile. One server on a SQLite directory made by gen.py and
# `roster load`; for each setting of --index-snapshot-every (0 first: never
# while serving), wrk creates users for SECS seconds at CONNS connections and
# prints their rate and latency; the server's log gives each rewrite's
# duration. Bounded: two runs of SECS seconds.
#
# Usage: N_USERS=100000 N_GROUPS=10000 PER_USER=9 EVERY=2000 SECS=20 bench/rewrite.sh
# BENCH_DIR keeps the directory between runs (made on first use);
# ROSTER_BIN measures that build instead of building target/release/roster;
# PREP_ONLY=1 makes the directory and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
users=${N_USERS:-100000}
groups=${N_GROUPS:-10000}
per_user=${PER_USER:-9}
every=${EVERY:-2000}
secs=${SECS:-20}
conns=${CONNS:-8}
port=${ROSTER_BENCH_PORT:-21841}
dir=${BENCH_DIR:-/tmp/roster-rewrite-$users}
key=rst_bench_key_0123456789abcdef
bin=${ROSTER_BIN:-}
if [ -z "$bin" ]; then
    cargo build --release -p roster --quiet
    bin=target/release/roster
fi
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
mkdir -p "$dir"
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

serve() { # every log
    ROSTER_BOOTSTRAP_ADMIN_KEY=$key ROSTER_LOG=info ROSTER_RATE_LIMIT=0 "$bin" serve \
        --listen 127.0.0.1:$port --database "sqlite://$dir/s.db" --index-snapshot-every "$1" >"$2" 2>&1 &
    pid=$!
    for _ in $(seq 3000); do
        curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return
        sleep 0.1
    done
    echo "the server did not get ready" >&2; exit 1
}

stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }

if [ ! -f "$dir/s.db" ]; then
    python3 bench/gen.py "$dir" "$users" "$groups" 10 "$per_user" 42 10 >/dev/null
    serve 0 "$dir/first.log"   # makes the database and the key
    stop
    "$bin" load "$dir/directory.ndjson" --database "sqlite://$dir/s.db" >/dev/null
    serve 0 "$dir/first.log"   # the first load writes the snapshot
    stop
fi
[ "${PREP_ONLY:-0}" = 1 ] && exit 0

loaded=$(grep 'index loaded' "$dir/first.log" | tail -1)
echo "directory: $(sed 's/.*users=\([0-9]*\).*memberships=\([0-9]*\).*/\1 users, \2 memberships/' <<<"$loaded")," \
    "snapshot $(du -m "$dir/s.db.index" | cut -f1) MB; $conns connections, ${secs}s each"
echo
echo "| --index-snapshot-every | users created/s | p50 | p99 | max | rewrites | each (ms) |"
echo "|---|---|---|---|---|---|---|"
for e in 0 "$every"; do
    serve "$e" "$dir/run-$e.log"
    out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency -s bench/create-user.lua \
        -H "Authorization: Bearer $key" "http://127.0.0.1:$port")
    if grep -q "Non-2xx" <<<"$out"; then echo "$out" >&2; exit 1; fi
    stop
    rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    max=$(awk '$1 == "Latency" {print $4}' <<<"$out")
    rewrites=$(grep -c 'written while serving' "$dir/run-$e.log" || true)
    each=$(grep 'written while serving' "$dir/run-$e.log" | sed 's/.*ms=\([0-9]*\).*/\1/' | paste -sd, - || true)
    echo "| $e | $rps | $p50 | $p99 | $max | $rewrites | ${each:--} |"
done
