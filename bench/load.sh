#!/usr/bin/env bash
# The bulk load alone, on suite.sh's data (bench/gen.py: nesting depth 10,
# the `big` group with every user): `roster import` into a fresh SQLite file,
# the cold start on the populated file (process start to /readyz; from the
# index snapshot the stop wrote, then from the database where the build
# keeps a snapshot), the
# database's size, then slapadd of the same directory as LDIF. Each binary in
# ROSTER_BINS (space-separated; default: this tree's release build) is run
# ROUNDS times, alternating, so that before and after see the same machine.
# Builds that have `roster load` (the offline bulk load, no server) are
# timed with it too, into another fresh file; IMPORT=0 times only that.
#
#   SCALE=medium bench/load.sh
#   SCALE=medium ROUNDS=2 ROSTER_BINS="/tmp/roster-before /tmp/roster-after" bench/load.sh
#
# Knobs: SCALE (small|medium|full), BENCH_USERS, BENCH_GROUPS, DEPTH (10),
# PER_USER (2), SEED (42), ROUNDS (1), SLAPADD (1; 0 skips it), KEEP (a
# directory to keep each run's database in, as KEEP/<round>-<n>.db), IMPORT
# (1; 0 skips `roster import` and what follows it), PORT.
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE=${SCALE:-small}
case $SCALE in
    small) nu=10000 ng=1000 ;;
    medium) nu=100000 ng=10000 ;;
    full) nu=1000000 ng=100000 ;;
    *) echo "SCALE is small, medium or full" >&2; exit 2 ;;
esac
NU=${BENCH_USERS:-$nu}
NG=${BENCH_GROUPS:-$ng}
DEPTH=${DEPTH:-10}
PER_USER=${PER_USER:-2}
SEED=${SEED:-42}
ROUNDS=${ROUNDS:-1}
SLAPADD=${SLAPADD:-1}
IMPORT=${IMPORT:-1}
PORT=${PORT:-18580}
KEY=bench-admin-key-0123456789
BASE_DN=dc=bench,dc=local

if [ -z "${ROSTER_BINS:-}" ]; then
    cargo build --release -q -p roster
    ROSTER_BINS=${CARGO_TARGET_DIR:-target}/release/roster
fi

work=$(mktemp -d)
pid=""
stop() { [ -n "$pid" ] || return 0; kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; }
trap 'stop; rm -rf "$work"' EXIT
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }

python3 bench/gen.py "$work" "$NU" "$NG" "$DEPTH" "$PER_USER" "$SEED" 10 > "$work/shape.out"
records=$(wc -l < "$work/directory.ndjson")
echo "== $SCALE: $records records ($(cat "$work/shape.out"))"

serve() { # bin db [more serve arguments]
    ROSTER_BOOTSTRAP_ADMIN_KEY=$KEY ROSTER_LOG=warn ROSTER_RATE_LIMIT=0 "$1" serve --listen "127.0.0.1:$PORT" \
        --database "sqlite://$2" "${@:3}" 2>>"$work/roster.log" &
    pid=$!
    for _ in $(seq 60000); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && return; sleep 0.01; done
    echo "Roster did not start" >&2; tail "$work/roster.log" >&2; exit 1
}

for round in $(seq "$ROUNDS"); do
    n=0
    for bin in $ROSTER_BINS; do
        n=$((n + 1))
        db=$work/r$round-$n.db
        if "$bin" load --help >/dev/null 2>&1; then
            t=$(now)
            "$bin" load "$work/directory.ndjson" --database "sqlite://$db" > "$work/load.out" 2>&1 \
                || { cat "$work/load.out"; exit 1; }
            load_s=$(since "$t")
            size=$( (du -cb "$db" "$db"-wal "$db"-shm 2>/dev/null || true) | tail -1 | awk '{printf "%.0f MB", $1 / 1e6}')
            t=$(now)
            serve "$bin" "$db"
            cold_s=$(since "$t")
            stop
            printf '| round %s | %s | load %.1f s (%.0f records/s) | first start %.2f s | %s |\n' \
                "$round" "$bin" "$load_s" "$(echo "$records / $load_s" | bc -l)" "$cold_s" "$size"
            rm -f "$db"*
        fi
        [ "$IMPORT" = 1 ] || continue
        serve "$bin" "$db"
        t=$(now)
        ROSTER_URL=http://127.0.0.1:$PORT ROSTER_KEY=$KEY "$bin" import "$work/directory.ndjson" --batch 5000 \
            > "$work/import.out" 2>&1 || { cat "$work/import.out"; exit 1; }
        import_s=$(since "$t")
        stop
        # A start reads the index snapshot the stop wrote (builds that keep
        # one), then, where the build can be told so, the database instead.
        t=$(now)
        serve "$bin" "$db"
        cold_s=$(since "$t")
        stop
        from_db=""
        if "$bin" serve --help | grep -q -- --index-snapshot; then
            t=$(now)
            serve "$bin" "$db" --index-snapshot off
            from_db=$(printf ', from the database %.2f s' "$(since "$t")")
            stop
        fi
        # The database and its WAL; the index snapshot beside it is a cache.
        size=$( (du -cb "$db" "$db"-wal "$db"-shm 2>/dev/null || true) | tail -1 | awk '{printf "%.0f MB", $1 / 1e6}')
        printf '| round %s | %s | import %.1f s (%.0f records/s) | cold start %.2f s%s | %s |\n' \
            "$round" "$bin" "$import_s" "$(echo "$records / $import_s" | bc -l)" "$cold_s" "$from_db" "$size"
        if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP"; cp "$db" "$KEEP/r$round-$n.db"; fi
        rm -f "$db"*
    done
    if [ "$SLAPADD" = 1 ]; then
        rm -rf "$work/ldap"; mkdir -p "$work/ldap/db"
        cat > "$work/ldap/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/dyngroup.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
database mdb
maxsize 68719476736
suffix "$BASE_DN"
rootdn "cn=admin,$BASE_DN"
directory $work/ldap/db
index objectClass eq
index cn,uid eq
index member,memberOf eq
EOF
        t=$(now)
        slapadd -q -f "$work/ldap/slapd.conf" -l "$work/directory.ldif"
        printf '| round %s | slapadd | %.1f s |\n' "$round" "$(since "$t")"
    fi
done
