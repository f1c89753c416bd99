#!/usr/bin/env bash
# The web console's page server time: a release build on a fresh SQLite
# file (or ROSTER_BENCH_PG_URL) loaded with gen.py's directory at a small
# scale (BENCH_USERS=10000 BENCH_GROUPS=1000 by default; `big` holds every user), then
# REQUESTS sequential requests of each page through one signed-in session,
# timed by curl from the request sent to the first byte back
# (time_starttransfer - time_pretransfer: the server's time plus a
# loopback round trip). Prints p50, p95 and max per page in ms.
# Bounded: at most REQUESTS (200) requests per page, loopback only.
# Usage: bench/console.sh   (BENCH_USERS, BENCH_GROUPS, REQUESTS, ROSTER_BIN to override)
set -euo pipefail
cd "$(dirname "$0")/.."
NUSERS=${BENCH_USERS:-10000}
NGROUPS=${BENCH_GROUPS:-1000}
REQUESTS=${REQUESTS:-200}
KEY=rst_bench_console_key_0123456789
PORT=${PORT:-$((20000 + RANDOM % 10000))}

if [ -z "${ROSTER_BIN:-}" ]; then
    cargo build --release -p roster --quiet --target-dir "${CARGO_TARGET_DIR:-target}"
    ROSTER_BIN=${CARGO_TARGET_DIR:-target}/release/roster
fi
work=$(mktemp -d)
python3 bench/gen.py "$work" "$NUSERS" "$NGROUPS" 10 2 42 100 >/dev/null
db=${ROSTER_BENCH_PG_URL:-sqlite://$work/bench.db}
ROSTER_BOOTSTRAP_ADMIN_KEY=$KEY ROSTER_LOG=warn ROSTER_RATE_LIMIT=0 \
    "$ROSTER_BIN" serve --listen "127.0.0.1:$PORT" --database "$db" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
base=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done
ROSTER_URL=$base ROSTER_KEY=$KEY "$ROSTER_BIN" import "$work/directory.ndjson" --batch 5000 >/dev/null 2>&1
for _ in $(seq 300); do curl -fs "$base/readyz" >/dev/null && break; sleep 0.1; done

# Sign in as a browser does: the form's nonce cookie and field, then the session cookie.
jar=$work/cookies
nonce=$(curl -fs -c "$jar" "$base/sign-in" | sed -n 's/.*name="nonce" value="\([^"]*\)".*/\1/p')
curl -fs -b "$jar" -c "$jar" -o /dev/null --data-urlencode "key=$KEY" --data-urlencode "nonce=$nonce" "$base/sign-in"
auth=(-b "$jar")

id_of() { curl -fs -H "Authorization: Bearer $KEY" "$base/v1/groups?prefix=$1&limit=1" | sed 's/.*"items":\[{"id":"\([^"]*\)".*/\1/'; }
big=$(id_of big)
root=$(id_of grp000000)
# A cursor deep into big's members: the page after the first 50.
cursor=$(curl -fs "${auth[@]}" "$base/groups/$big" | sed -n 's/.*href="\/groups\/[^?]*?cursor=\([^"]*\)" rel="next".*/\1/p' | head -1)

measure() {
    local name=$1 path=$2
    local times
    times=$(for _ in $(seq "$REQUESTS"); do
        curl -fs "${auth[@]}" -o /dev/null -w '%{time_pretransfer} %{time_starttransfer}\n' "$base$path"
    done | awk '{ printf "%.3f\n", ($2 - $1) * 1000 }' | sort -n)
    local n p50 p95 max
    n=$(echo "$times" | wc -l)
    p50=$(echo "$times" | sed -n "$(( (n + 1) / 2 ))p")
    p95=$(echo "$times" | sed -n "$(( (n * 95 + 99) / 100 ))p")
    max=$(echo "$times" | tail -1)
    printf '| %-34s | %6s | %6s | %6s |\n' "$name" "$p50" "$p95" "$max"
}

echo "console pages, $NUSERS users, $NGROUPS groups, big = $NUSERS members; $REQUESTS requests each (ms)"
echo "| page | p50 | p95 | max |"
echo "|---|---|---|---|"
measure "overview /" "/"
measure "group page of big (members 1-50)" "/groups/$big"
measure "members page 2 of big (cursor)" "/groups/$big?cursor=$cursor"
measure "members of big at any depth" "/groups/$big/all-members"
measure "group page of a tree root" "/groups/$root"
measure "users search ?q=user00012" "/users?q=user00012"
measure "groups search ?q=grp0001" "/groups?q=grp0001"
measure "change feed /events" "/events"
