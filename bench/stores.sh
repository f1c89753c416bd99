#!/usr/bin/env bash
# The same workload on SQLite (one server) and PostgreSQL (one, then two
# servers on one database), side by side. Bounded: each run lasts SECS.
# Usage: bench/stores.sh [seconds=8] [connections=32]. Needs a PostgreSQL
# reachable at ROSTER_BENCH_PG_URL (default: the test server), and wrk for
# the first table (reads, user creation; skipped without it). The second
# table is the hot-group workload (bench/hotgroup.py): HOT_WRITERS (16)
# writers adding and removing the same 16 users of one group, with the
# busy answers and PostgreSQL's deadlock count over the run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}
conns=${2:-32}
pg_admin=${ROSTER_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
hot_writers=${HOT_WRITERS:-16}
have_wrk=1
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk): the first table is skipped" >&2; have_wrk=0; }
cargo build --release -p roster --quiet

key=rst_bench_key_0123456789abcdef
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql "$pg_admin" -qc "DROP DATABASE IF EXISTS roster_bench WITH (FORCE)" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

serve() { # url port
    ROSTER_BOOTSTRAP_ADMIN_KEY=$key ROSTER_LOG=warn ROSTER_RATE_LIMIT=0 target/release/roster serve --listen 127.0.0.1:$2 --database "$1" &
    pids+=($!)
    for _ in $(seq 100); do curl -sf http://127.0.0.1:$2/healthz >/dev/null && return; sleep 0.1; done
    echo "server on port $2 did not start" >&2; exit 1
}

stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=(); }

make_group() { # base -> prints group id
    curl -sf -H "Authorization: Bearer $key" -H 'content-type: application/json' "$1/v1/groups" \
        -d "{\"name\":\"bench-$RANDOM$RANDOM\"}" | sed 's/.*"id":"\([^"]*\)".*/\1/;q'
}

# Runs wrk against every base URL at once (connections split between them)
# and prints the summed requests per second.
load() { # kind path bases...
    local kind=$1 path=$2; shift 2
    local per=$((conns / $#)) outs=() loaders=()
    for base in "$@"; do
        local out; out=$(mktemp -p "$work")
        outs+=("$out")
        if [ "$kind" = write ]; then
            wrk -t1 -c"$per" -d"${secs}s" -s bench/create-user.lua -H "Authorization: Bearer $key" "$base" >"$out" &
        else
            wrk -t1 -c"$per" -d"${secs}s" -H "Authorization: Bearer $key" "$base$path" >"$out" &
        fi
        loaders+=($!)
    done
    wait "${loaders[@]}"
    local total=0
    for out in "${outs[@]}"; do
        if grep -q "Non-2xx" "$out"; then
            echo "error: some $kind requests failed:" >&2; cat "$out" >&2; exit 1
        fi
        local rps; rps=$(awk '/Requests\/sec/ {print $2}' "$out")
        total=$(awk -v a="$total" -v b="${rps:-0}" 'BEGIN {printf "%.0f", a + b}')
    done
    echo "$total"
}

row() { # label bases...
    local label=$1; shift
    local group; group=$(make_group "$1")
    local reads writes
    reads=$(load read "/v1/groups/$group" "$@")
    writes=$(load write "" "$@")
    printf "| %-28s | %10s | %10s |\n" "$label" "$reads" "$writes"
}

# The hot-group row: one group, 16 users, HOT_WRITERS writers over the bases.
hot() { # label bases...
    local label=$1; shift
    local group users="" before=0 after=0 result
    group=$(make_group "$1")
    for i in $(seq 16); do
        local u
        u=$(curl -sf -H "Authorization: Bearer $key" -H 'content-type: application/json' "$1/v1/users" \
            -d "{\"username\":\"hot-$RANDOM$RANDOM-$i\"}" | sed 's/.*"id":"\([^"]*\)".*/\1/;q')
        users="$users${users:+,}$u"
    done
    if [ -n "${pg_url:-}" ]; then before=$(deadlocks); fi
    result=$(python3 bench/hotgroup.py --key "$key" --group "$group" --users "$users" \
        --writers "$hot_writers" --seconds "$secs" "$@")
    if [ -n "${pg_url:-}" ]; then after=$(deadlocks); fi
    python3 - "$label" "$result" $((after - before)) <<'PY'
import json, sys
r = json.loads(sys.argv[2])
print("| %-28s | %9s | %6s | %6s | %9s | %10s |" % (sys.argv[1], r["writes_per_s"], r["busy"], r["errors"],
      sys.argv[3] if "PostgreSQL" in sys.argv[1] else "-", "%d %%" % round(100 * r["client_cpu_share"])))
PY
}

deadlocks() { psql "$pg_admin" -Atc "SELECT deadlocks FROM pg_stat_database WHERE datname = 'roster_bench'"; }

run_all() { # row-function
    serve "sqlite://$work/bench.db" 21801
    "$1" "SQLite, 1 server" http://127.0.0.1:21801
    stop_all
    rm -f "$work"/bench.db*
    psql "$pg_admin" -qc "DROP DATABASE IF EXISTS roster_bench WITH (FORCE)" -c "CREATE DATABASE roster_bench"
    pg_url="${pg_admin%/*}/roster_bench"
    serve "$pg_url" 21802
    "$1" "PostgreSQL, 1 server" http://127.0.0.1:21802
    serve "$pg_url" 21803
    "$1" "PostgreSQL, 2 servers" http://127.0.0.1:21802 http://127.0.0.1:21803
    stop_all
    pg_url=
}

if [ "$have_wrk" = 1 ]; then
    echo "GET /v1/groups/{id} and POST /v1/users, ${secs}s each, $conns connections in all"
    printf "| %-28s | %10s | %10s |\n" "store, servers" "reads/s" "writes/s"
    printf "|%s|%s|%s|\n" "------------------------------" "------------" "------------"
    run_all row
    echo
fi

echo "Hot group: $hot_writers writers adding and removing the same 16 users of one group, ${secs}s"
printf "| %-28s | %9s | %6s | %6s | %9s | %10s |\n" "store, servers" "writes/s" "busy" "errors" "deadlocks" "client CPU"
printf "|%s|%s|%s|%s|%s|%s|\n" "------------------------------" "-----------" "--------" "--------" "-----------" "------------"
run_all hot
