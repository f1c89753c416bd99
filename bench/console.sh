#!/usr/bin/env bash
# The web console's page server time: a release build on a SQLite file (or
# ROSTER_BENCH_PG_URL) loaded with gen.py's directory (BENCH_USERS=10000
# BENCH_GROUPS=1000 by default; `big` holds every user, grp000000 is the
# root of a 10-level forest), a freshly started server (so every cache is
# cold), then REQUESTS sequential requests of each page through one
# signed-in session, timed by curl from the request sent to the first byte
# back (time_starttransfer - time_pretransfer: the server's time plus a
# loopback round trip). Prints, per page in ms, the first request (the one
# that meets cold caches) and p50, p95 and max over all of them.
# Bounded: at most REQUESTS (200) requests per page, loopback only.
#
# Large scale (BENCH_USERS=1000000 BENCH_GROUPS=100000) imports for about
# 12 minutes on 2 cores: BENCH_DIR=dir keeps the generated files and the
# SQLite database there, and a later run with the same BENCH_DIR and sizes
# skips generating and importing (the server still starts afresh).
# Usage: bench/console.sh   (BENCH_USERS, BENCH_GROUPS, BENCH_DIR, REQUESTS, ROSTER_BIN to override)
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
tmp=$(mktemp -d)
if [ -n "${BENCH_DIR:-}" ]; then
    work=$BENCH_DIR
    mkdir -p "$work"
else
    work=$tmp
fi
db=${ROSTER_BENCH_PG_URL:-sqlite://$work/bench.db}
shape="$NUSERS users, $NGROUPS groups"
fresh=1
if [ -z "${ROSTER_BENCH_PG_URL:-}" ] && [ -f "$work/bench.db" ] && [ "$(cat "$work/imported" 2>/dev/null)" = "$shape" ]; then
    fresh=0
else
    rm -f "$work"/bench.db* "$work/imported"
    python3 bench/gen.py "$work" "$NUSERS" "$NGROUPS" 10 2 42 100 >/dev/null
fi
ROSTER_BOOTSTRAP_ADMIN_KEY=$KEY ROSTER_LOG=warn ROSTER_RATE_LIMIT=0 \
    "$ROSTER_BIN" serve --listen "127.0.0.1:$PORT" --database "$db" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$tmp"' EXIT
base=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done
if [ "$fresh" = 1 ]; then
    start=$(date +%s)
    ROSTER_URL=$base ROSTER_KEY=$KEY "$ROSTER_BIN" import "$work/directory.ndjson" --batch 5000 >/dev/null 2>&1
    echo "imported $shape in $(($(date +%s) - start)) s" >&2
    [ -n "${BENCH_DIR:-}" ] && echo "$shape" >"$work/imported"
fi
# The index loads (10^6 users: tens of seconds) before pages are timed.
for _ in $(seq 3000); do curl -fs "$base/readyz" >/dev/null && break; sleep 0.2; done

# Sign in as a browser does: the form's nonce cookie and field, then the session cookie.
jar=$tmp/cookies
nonce=$(curl -fs -c "$jar" "$base/sign-in" | sed -n 's/.*name="nonce" value="\([^"]*\)".*/\1/p')
curl -fs -b "$jar" -c "$jar" -o /dev/null --data-urlencode "key=$KEY" --data-urlencode "nonce=$nonce" "$base/sign-in"
auth=(-b "$jar")

api() { curl -fs -H "Authorization: Bearer $KEY" "$base$1"; }
id_of() { api "/v1/$1?prefix=$2&limit=1" | sed 's/.*"items":\[{"id":"\([^"]*\)".*/\1/'; }
big=$(id_of groups big)
root=$(id_of groups grp000000)
leaf=$(id_of groups "grp$(printf '%06d' $((NGROUPS - 1)))")
user=$(id_of users user0000012)
# A cursor deep into big's members: the page after the first 50.
cursor=$(curl -fs "${auth[@]}" "$base/groups/$big" | sed -n 's/.*href="\/groups\/[^?]*?cursor=\([^"]*\)" rel="next".*/\1/p' | head -1)

measure() {
    local name=$1 path=$2
    local all
    all=$(for _ in $(seq "$REQUESTS"); do
        curl -fs "${auth[@]}" -o /dev/null -w '%{time_pretransfer} %{time_starttransfer}\n' "$base$path"
    done | awk '{ printf "%.3f\n", ($2 - $1) * 1000 }')
    local first times n p50 p95 max
    first=$(echo "$all" | head -1)
    times=$(echo "$all" | sort -n)
    n=$(echo "$times" | wc -l)
    p50=$(echo "$times" | sed -n "$(( (n + 1) / 2 ))p")
    p95=$(echo "$times" | sed -n "$(( (n * 95 + 99) / 100 ))p")
    max=$(echo "$times" | tail -1)
    printf '| %-38s | %7s | %6s | %6s | %7s |\n' "$name" "$first" "$p50" "$p95" "$max"
}

echo "console pages, $shape, big = $NUSERS members; $REQUESTS requests each (ms)"
echo "| page | first | p50 | p95 | max |"
echo "|---|---|---|---|---|"
measure "members of big at any depth" "/groups/$big/all-members"
measure "members of a tree root at any depth" "/groups/$root/all-members"
measure "overview /" "/"
measure "group page of big (members 1-50)" "/groups/$big"
measure "members page 2 of big (cursor)" "/groups/$big?cursor=$cursor"
measure "group page of a tree root" "/groups/$root"
measure "tree below a root" "/groups/$root/tree"
measure "tree above a leaf" "/groups/$leaf/tree?up=1"
measure "delete confirmation of big" "/groups/$big/delete"
measure "user page (groups direct, any depth)" "/users/$user"
measure "users search ?q=user00012" "/users?q=user00012"
measure "users list" "/users"
measure "groups search ?q=grp0001" "/groups?q=grp0001"
measure "groups list" "/groups"
measure "change feed /events" "/events"
measure "own keys /keys" "/keys"
