#!/usr/bin/env bash
# The same workload on SQLite (one server) and PostgreSQL (one, then two
# servers on one database), side by side. Bounded: each run lasts SECS.
# Usage: bench/stores.sh [seconds=8] [connections=32]. Needs a PostgreSQL
# reachable at ROSTER_BENCH_PG_URL (default: the test server), and wrk for
# the first table (reads, user creation; skipped without it). The second
# table is the hot-group workload (bench/hotgroup.py): HOT_WRITERS (16)
# writers adding and removing the same 16 users of one group, with the
# busy answers and PostgreSQL's deadlock count over the run. The
# PostgreSQL database (ROSTER_BENCH_DB, default roster_bench_<pid>) and the
# ports (from ROSTER_BENCH_PORT, default 21801, three in a row) are the
# script's own, so runs beside other work on the machine do not collide.
# HOT_ONLY=1 runs the hot-group table alone; ROSTER_BIN=path measures that
# build instead of building target/release/roster.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}
conns=${2:-32}
pg_admin=${ROSTER_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
hot_writers=${HOT_WRITERS:-16}
hot_rounds=${HOT_ROUNDS:-4}
bench_db=${ROSTER_BENCH_DB:-roster_bench_$$}
port=${ROSTER_BENCH_PORT:-21801}
have_wrk=1
if [ "${HOT_ONLY:-0}" = 1 ]; then
    have_wrk=0
elif ! command -v wrk >/dev/null; then
    echo "wrk is not installed (apt-get install wrk): the first table is skipped" >&2
    have_wrk=0
fi
bin=${ROSTER_BIN:-}
if [ -z "$bin" ]; then
    cargo build --release -p roster --quiet
    bin=target/release/roster
fi

key=rst_bench_key_0123456789abcdef
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $bench_db WITH (FORCE)" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

serve() { # url port
    ROSTER_BOOTSTRAP_ADMIN_KEY=$key ROSTER_LOG=warn ROSTER_RATE_LIMIT=0 "$bin" serve --listen 127.0.0.1:$2 --database "$1" &
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

# A hot group on `base`: one group and 16 users; prints "group users".
hot_setup() { # base
    local group users="" u
    group=$(make_group "$1")
    for i in $(seq 16); do
        u=$(curl -sf -H "Authorization: Bearer $key" -H 'content-type: application/json' "$1/v1/users" \
            -d "{\"username\":\"hot-$RANDOM$RANDOM-$i\"}" | sed 's/.*"id":"\([^"]*\)".*/\1/;q')
        users="$users${users:+,}$u"
    done
    echo "$group $users"
}

# The hot-group table: SQLite, PostgreSQL with one server, with two. All
# three are served at once and driven in turn, HOT_ROUNDS slices of
# SECS/HOT_ROUNDS each, so a change in the machine's load during the run
# falls on every row alike (the ratio between the rows is the point).
hot_table() {
    rm -f "$work"/bench.db*
    psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $bench_db WITH (FORCE)" -c "CREATE DATABASE $bench_db"
    pg_url="${pg_admin%/*}/$bench_db"
    serve "sqlite://$work/bench.db" "$port"
    serve "$pg_url" $((port + 1))
    serve "$pg_url" $((port + 2))
    local labels=("SQLite, 1 server" "PostgreSQL, 1 server" "PostgreSQL, 2 servers")
    local bases=("http://127.0.0.1:$port" "http://127.0.0.1:$((port + 1))"
        "http://127.0.0.1:$((port + 1)) http://127.0.0.1:$((port + 2))")
    local setups=() results=() slice i r before after group users
    for i in 0 1 2; do
        setups+=("$(hot_setup "${bases[$i]%% *}")")
        results+=("")
    done
    slice=$(awk -v s="$secs" -v r="$hot_rounds" 'BEGIN {print s / r}')
    for _ in $(seq "$hot_rounds"); do
        for i in 0 1 2; do
            read -r group users <<<"${setups[$i]}"
            before=$(deadlocks)
            # shellcheck disable=SC2086
            r=$(python3 bench/hotgroup.py --key "$key" --group "$group" --users "$users" \
                --writers "$hot_writers" --seconds "$slice" ${bases[$i]})
            after=$(deadlocks)
            results[i]="${results[$i]}$r $((after - before))"$'\n'
        done
    done
    stop_all
    pg_url=
    python3 - "${labels[@]}" "${results[@]}" <<'PY'
import json, sys
labels, results = sys.argv[1:4], sys.argv[4:7]
rates = []
for label, text in zip(labels, results):
    runs = [line.rsplit(" ", 1) for line in text.splitlines() if line.strip()]
    rs = [(json.loads(j), int(d or 0)) for j, d in runs]
    secs = sum(r["seconds"] for r, _ in rs)
    writes, busy, errors = (sum(r[k] for r, _ in rs) for k in ("writes", "busy", "errors"))
    cpu = sum(r["client_cpu_share"] * r["seconds"] for r, _ in rs) / secs
    rates.append(writes / secs)
    print("| %-28s | %9s | %6s | %6s | %9s | %10s |" % (label, round(writes / secs), busy, errors,
          sum(d for _, d in rs) if "PostgreSQL" in label else "-", "%d %%" % round(100 * cpu)))
    for r, _ in rs:
        for sample in r.get("error_samples", []):
            print("    unexpected answer:", sample, file=sys.stderr)
print()
print("PostgreSQL writes/s as a share of SQLite's: one server %d %%, two servers %d %%"
      % (round(100 * rates[1] / rates[0]), round(100 * rates[2] / rates[0])))
PY
}

deadlocks() { psql "$pg_admin" -Atc "SELECT deadlocks FROM pg_stat_database WHERE datname = '$bench_db'"; }

run_all() { # row-function
    serve "sqlite://$work/bench.db" "$port"
    "$1" "SQLite, 1 server" "http://127.0.0.1:$port"
    stop_all
    rm -f "$work"/bench.db*
    psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $bench_db WITH (FORCE)" -c "CREATE DATABASE $bench_db"
    pg_url="${pg_admin%/*}/$bench_db"
    serve "$pg_url" $((port + 1))
    "$1" "PostgreSQL, 1 server" "http://127.0.0.1:$((port + 1))"
    serve "$pg_url" $((port + 2))
    "$1" "PostgreSQL, 2 servers" "http://127.0.0.1:$((port + 1))" "http://127.0.0.1:$((port + 2))"
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

echo "Hot group: $hot_writers writers adding and removing the same 16 users of one group, ${secs}s a row in $hot_rounds slices"
printf "| %-28s | %9s | %6s | %6s | %9s | %10s |\n" "store, servers" "writes/s" "busy" "errors" "deadlocks" "client CPU"
printf "|%s|%s|%s|%s|%s|%s|\n" "------------------------------" "-----------" "--------" "--------" "-----------" "------------"
hot_table
