#!/usr/bin/env bash
# Bulk import throughput: generates a directory with a fixed shape (no
# randomness: user i is in "everyone" and in K other groups picked by a
# fixed formula), starts a release `roster serve` on a fresh SQLite file (or
# the PostgreSQL database in ROSTER_BENCH_PG_URL) on loopback, and times
# `roster import` of it, then a second, idempotent run.
#
#   bench/import.sh                       # 20 000 users, 200 groups, 200 000 memberships
#   USER_COUNT=1000000 GROUP_COUNT=100000 PER_USER=9 bench/import.sh   # 10^6 users, 10^7 memberships
#   ROSTER_BIN=/tmp/roster-before bench/import.sh   # another build (skips building this tree's)
#
# The build honours CARGO_TARGET_DIR (e.g. /tmp/... so as not to share target/).
set -euo pipefail
cd "$(dirname "$0")/.."

USER_COUNT=${USER_COUNT:-20000}
GROUP_COUNT=${GROUP_COUNT:-200}
PER_USER=${PER_USER:-9}          # groups per user besides "everyone"
BATCH=${BATCH:-5000}
PORT=${PORT:-18180}
KEY=bench-admin-key-0123456789
work=$(mktemp -d)
server=""
trap 'if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi; rm -rf "$work"' EXIT

if [ -n "${ROSTER_BIN:-}" ]; then
    bin=$ROSTER_BIN
else
    cargo build --release -q -p roster
    bin=${CARGO_TARGET_DIR:-target}/release/roster
fi

echo "== generating $USER_COUNT users, $GROUP_COUNT groups, $((USER_COUNT * (PER_USER + 1))) memberships"
python3 - "$USER_COUNT" "$GROUP_COUNT" "$PER_USER" > "$work/directory.ndjson" <<'PY'
import json, sys
users, groups, per_user = map(int, sys.argv[1:])
w = sys.stdout.write
for i in range(users):
    w(json.dumps({"type": "user", "username": f"user{i:07d}", "email": f"user{i:07d}@example.com"}) + "\n")
w(json.dumps({"type": "group", "name": "everyone"}) + "\n")
for g in range(groups):
    w(json.dumps({"type": "group", "name": f"group{g:06d}"}) + "\n")
for i in range(users):
    w(json.dumps({"type": "member", "group": "everyone", "user": f"user{i:07d}"}) + "\n")
    for k in range(per_user):
        g = (i * 7919 + k * 104729) % groups
        w(json.dumps({"type": "member", "group": f"group{g:06d}", "user": f"user{i:07d}"}) + "\n")
PY
records=$(wc -l < "$work/directory.ndjson")

db=${ROSTER_BENCH_PG_URL:-sqlite://$work/bench.db}
ROSTER_BOOTSTRAP_ADMIN_KEY=$KEY ROSTER_LOG=warn ROSTER_RATE_LIMIT=0 "$bin" serve --listen "127.0.0.1:$PORT" --database "$db" &
server=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done

export ROSTER_URL="http://127.0.0.1:$PORT" ROSTER_KEY=$KEY
for run in first repeat; do
    start=$(date +%s.%N)
    "$bin" import "$work/directory.ndjson" --batch "$BATCH" > "$work/$run.out" 2>&1
    end=$(date +%s.%N)
    secs=$(echo "$end - $start" | bc)
    echo "$run import: $records records in ${secs}s, $(echo "$records / $secs" | bc) records/s"
    tail -1 "$work/$run.out"
done
if [ -z "${ROSTER_BENCH_PG_URL:-}" ]; then
    echo "database file: $(du -sh "$work"/bench.db* | awk '{print $1}' | paste -sd+)"
fi
