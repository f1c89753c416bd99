#!/usr/bin/env bash
# The benchmark suite of the big-directory issue, in one command:
#
#   bench/suite.sh                  # SCALE=small: 10^4 users, 10^3 groups, a few minutes
#   SCALE=medium bench/suite.sh     # 10^5 users, 10^4 groups
#   SCALE=full bench/suite.sh       # 10^6 users, 10^5 groups, one 10^6-member group
#
# Generates a fixed directory (bench/gen.py, seeded), imports it into a
# release Roster on a fresh SQLite file through `roster import`, loads the
# same data into a private slapd with slapadd, then measures on loopback,
# every run bounded in time: transitive checks, groups of a user, member
# pages at both ends of the big group, group reads, a bulk add of 10 000
# members, cold start and resident memory; and the same reads on slapd and
# the SCIM operations on scim2-server, with Roster/peer ratios. See
# bench/README.md for what each row compares.
#
# Knobs (environment): SCALE, BENCH_USERS, BENCH_GROUPS, DEPTH (10),
# PER_USER (2 direct groups per user), SEED (42), SAMPLE (1000 users and
# groups rotated over), SECS (8, each wrk run), CONNS (16), LOAD_SECS (5, each
# peer-comparison run), LOAD_WORKERS (4; PY_SECS and PY_WORKERS, their former
# names, still work), PEERS ("slapd scim2"; "" for none), PAGES_TRANSITIVE
# (auto|0|1: member pages with transitive=true), PORT, ROSTER_BIN (a roster
# binary to use instead of building this tree's).
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
SAMPLE=${SAMPLE:-1000}
SECS=${SECS:-8}
CONNS=${CONNS:-16}
LOAD_SECS=${LOAD_SECS:-${PY_SECS:-5}}
LOAD_WORKERS=${LOAD_WORKERS:-${PY_WORKERS:-4}}
PEERS=${PEERS-slapd scim2}
PAGES_TRANSITIVE=${PAGES_TRANSITIVE:-auto}
PORT=${PORT:-18480}
LDAP_PORT=$((PORT + 1))
SCIM_PORT=$((PORT + 2))
ROSTER_LDAP_PORT=$((PORT + 3))
KEY=bench-admin-key-0123456789
BASE_DN=dc=bench,dc=local
ROOT_DN=cn=admin,$BASE_DN
ROOT_PW=bench-secret
peer() { [[ " $PEERS " == *" $1 "* ]]; }

updated=""
need() { # command debian-packages...
    command -v "$1" >/dev/null && return
    echo "installing ${*:2}" >&2
    [ -n "$updated" ] || { apt-get update -q >/dev/null; updated=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${@:2}" >/dev/null
}
need wrk wrk
need jq jq
if peer slapd; then need slapd slapd ldap-utils; need ldapsearch ldap-utils; fi

work=$(mktemp -d)
roster_pid="" slapd_pid="" scim_pid=""
stop() { # pid
    [ -n "$1" ] || return 0
    kill "$1" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done
    kill -9 "$1" 2>/dev/null || true
}
cleanup() { stop "$roster_pid"; stop "$slapd_pid"; stop "$scim_pid"; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
ms() { printf "%.0f" "$(echo "$1 * 1000" | bc)"; }
summary=()
say() { echo "$*"; summary+=("$*"); }

if [ -n "${ROSTER_BIN:-}" ]; then bin=$ROSTER_BIN; else cargo build --release -q -p roster; bin=target/release/roster; fi
# The peer comparisons' client (bench/loadgen/, std only: seconds to build).
cargo build --release -q -p roster-loadgen
loadgen=target/release/roster-loadgen

# --- data ------------------------------------------------------------------
echo "== generating (seed $SEED): $NU users, $NG groups in a forest of depth $DEPTH, $PER_USER direct groups per user"
python3 bench/gen.py "$work" "$NU" "$NG" "$DEPTH" "$PER_USER" "$SEED" "$SAMPLE" > "$work/shape.out"
records=$(jq .records "$work/shape.json")
echo "   $(cat "$work/shape.out")"

# --- Roster: import, cold start ----------------------------------------------
serve() {
    ROSTER_BOOTSTRAP_ADMIN_KEY=$KEY ROSTER_LOG=warn ROSTER_RATE_LIMIT=0 "$bin" serve --listen "127.0.0.1:$PORT" \
        --ldap-listen "127.0.0.1:$ROSTER_LDAP_PORT" --ldap-base-dn "$BASE_DN" \
        --database "sqlite://$work/roster.db" 2>>"$work/roster.log" &
    roster_pid=$!
    # Ready, not just alive: reads answer from the in-memory index once it is loaded.
    for _ in $(seq 30000); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && return; sleep 0.01; done
    echo "Roster did not start" >&2; tail "$work/roster.log" >&2; exit 1
}
serve
export ROSTER_URL=http://127.0.0.1:$PORT ROSTER_KEY=$KEY
echo "== roster import ($records records, --batch 5000)"
t=$(now)
"$bin" import "$work/directory.ndjson" --batch 5000 > "$work/import.out" 2>&1 || { cat "$work/import.out"; exit 1; }
import_s=$(since "$t")
say "$(printf '| import (roster import, batch 5000) | %s records in %.1f s | %.0f records/s |' "$records" "$import_s" "$(echo "$records / $import_s" | bc -l)")"
# The database and its WAL; the index snapshot beside it is a cache.
db_size=$( (du -cb "$work"/roster.db "$work"/roster.db-wal "$work"/roster.db-shm 2>/dev/null || true) | tail -1 | awk '{printf "%.0f MB", $1 / 1e6}')

stop "$roster_pid"
t=$(now)
serve
cold_ms=$(ms "$(since "$t")")
say "| cold start (process start to /readyz OK: index loaded from the snapshot the stop wrote; populated DB of $db_size) | $cold_ms ms | |"

# --- ids, availability, request lists ----------------------------------------
echo "== resolving sampled ids and walking the big group's cursors"
python3 bench/prepare.py "$work" "$PORT" "$KEY" "$PAGES_TRANSITIVE" > "$work/prepare.out" || { cat "$work/prepare.out"; exit 1; }
avail() { jq -r ".$1" "$work/endpoints.json"; }
echo "   $(cat "$work/prepare.out")"
if [ "$(avail wrong_count)" != 0 ]; then
    say "| WRONG ANSWERS from the transitive endpoints | $(avail wrong_count) of the checked samples | see endpoints.json |"
    jq -c .wrong_answers "$work/endpoints.json"
fi
say "$(printf '| walk of the big group in 1000-member pages (to find the last cursor) | %s pages, %s members | %s s |' \
    "$(avail big_walk.pages_of_1000)" "$(avail big_walk.members_seen)" "$(avail big_walk.seconds)")"

# --- wrk on Roster -------------------------------------------------------------
auth="Authorization: Bearer $KEY"
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000; printf "%.2f", n }'; }
wrk_row() { # label paths-file [available]
    local label=$1 file=$work/req/$2 ok=${3:-true}
    if [ "$ok" != true ]; then say "| $label | not available | | | |"; return; fi
    PATHS=$file wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s bench/paths.lua -H "$auth" "http://127.0.0.1:$PORT" > "$work/wrk.out" 2>&1
    local rps p50 p99 bad
    rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$work/wrk.out")
    p50=$(to_ms "$(awk '/Latency Distribution/ {f = 1} f && $1 == "50%" {print $2; exit}' "$work/wrk.out")")
    p99=$(to_ms "$(awk '/Latency Distribution/ {f = 1} f && $1 == "99%" {print $2; exit}' "$work/wrk.out")")
    bad=$(awk '/Non-2xx/ {print $NF}' "$work/wrk.out")
    say "| $label | $rps | $p50 ms | $p99 ms | ${bad:+$bad non-2xx}${bad:-ok} |"
    local var=rps_${2%.paths}
    printf -v "$var" '%s' "$rps"
}
echo "== wrk, ${SECS}s each, $CONNS connections, 2 threads"
say ""
say "| Roster, wrk ($SCALE: $NU users, $NG groups; ${SECS}s, $CONNS conns) | req/s | p50 | p99 | answers |"
say "|---|---|---|---|---|"
# The protocol floor: what the server answers when it does nothing (the
# issue's yardstick for a check: at least 0.8 of it).
echo /healthz > "$work/req/healthz.paths"
wrk_row "protocol floor GET /healthz" healthz.paths
wrk_row "check, member pairs (depth 0..$DEPTH)" check_in.paths "$(avail check)"
wrk_row "check, non-member pairs" check_out.paths "$(avail check)"
wrk_row "groups of a user, transitive (limit 100)" user_groups_trans.paths "$(avail user_groups_transitive)"
wrk_row "groups of a user, direct (limit 100)" user_groups.paths
pk=direct; [ "$(avail pages_transitive)" = true ] && pk=transitive
wrk_row "big group ($NU members), $pk, first 100-member page" page100_first.paths
wrk_row "big group, $pk, last 100-member page" page100_last.paths
wrk_row "big group, $pk, first 1000-member page" page1000_first.paths
wrk_row "big group, $pk, last 1000-member page" page1000_last.paths
wrk_row "group read GET /v1/groups/{id}" group_read.paths
last_vs_first=$(awk -v a="${rps_page100_last:-0}" -v b="${rps_page100_first:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
say "| last/first 100-member page throughput | $last_vs_first | | | target ≥ 0.90 |"
check_vs_floor=$(awk -v a="${rps_check_in:-0}" -v b="${rps_healthz:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
say "| check (member pairs) / /healthz throughput | $check_vs_floor | | | target ≥ 0.80 |"
read -r rss hwm < <(awk '/VmRSS/ {r = $2} /VmHWM/ {h = $2} END {printf "%.0f %.0f\n", r / 1024, h / 1024}' "/proc/$roster_pid/status")
say "| Roster resident memory after the wrk runs | $rss MB (peak $hwm MB) | | | |"

# --- slapd ---------------------------------------------------------------------
loadrow() { # proto port reqfile [marker] -> JSON line
    local extra=()
    [ "$1" = http ] && extra=(--key "$KEY" ${4:+--marker "$4"})
    [ "$1" = ldap ] && extra=(--bind-dn "$ROOT_DN" --bind-pw "$ROOT_PW")
    # Roster's LDAP listener: the bench admin binds with its key.
    [ "$1" = ldap ] && [ "$2" = "$ROSTER_LDAP_PORT" ] && extra=(--bind-dn "uid=admin,ou=people,$BASE_DN" --bind-pw "$KEY")
    "$loadgen" "$1" 127.0.0.1 "$2" "$3" --workers "$LOAD_WORKERS" --seconds "$LOAD_SECS" "${extra[@]}"
}
# A Roster "hit" is an answer containing MARKER (a member check that says
# true, a non-empty list); an LDAP hit is a search with at least one entry.
compare() { # label roster-paths ldap-jsonl [roster side available] [marker]
    local label=$1 ok=${4:-true} r='{"rps": null, "p99_ms": null, "errors": "-", "hits": "-", "ops": "-", "client_cpu_cores": null}' l
    [ "$ok" = true ] && r=$(loadrow http "$PORT" "$work/req/$2" "${5:-\"id\"}")
    l=$(loadrow ldap "$LDAP_PORT" "$work/req/$3")
    say "$(jq -rn --argjson r "$r" --argjson l "$l" --arg name "$label" '
        def ms: if . == null then "" else "\(.) ms" end;
        "| \($name) | \($r.rps // "not available") | \($r.p99_ms | ms) | \($l.rps) | \($l.p99_ms | ms) | **\(if $r.rps != null and $l.rps > 0 then ($r.rps / $l.rps * 100 | round / 100) else "n/a" end)** | \($r.client_cpu_cores // "-") / \($l.client_cpu_cores // "-") | \($r.errors)/\($l.errors) err, \($r.hits)/\($l.hits) hits of \($r.ops)/\($l.ops) |"')"
}
# LDAP on both: the same requests, the same client; Roster's tree names
# users under ou=people. Rows go to a second table, printed after the first.
ldap_rows=()
for f in "$work"/req/*.ldap.jsonl; do sed 's/ou=users,/ou=people,/g' "$f" > "${f%.ldap.jsonl}.roster.ldap.jsonl"; done
compare_ldap() { # label roster-ldap-jsonl slapd-ldap-jsonl
    local r l
    r=$(loadrow ldap "$ROSTER_LDAP_PORT" "$work/req/${2%.ldap.jsonl}.roster.ldap.jsonl")
    l=$(loadrow ldap "$LDAP_PORT" "$work/req/$3")
    ldap_rows+=("$(jq -rn --argjson r "$r" --argjson l "$l" --arg name "$1" '
        "| \($name) | \($r.rps) | \($r.p99_ms) ms | \($l.rps) | \($l.p99_ms) ms | **\(if $l.rps > 0 then ($r.rps / $l.rps * 100 | round / 100) else "n/a" end)** | \($r.client_cpu_cores) / \($l.client_cpu_cores) | \($r.errors)/\($l.errors) err, \($r.hits)/\($l.hits) hits of \($r.ops)/\($l.ops) |"')")
}
slapd_start() { # conf
    local t; t=$(now)
    slapd -f "$1" -h "ldap://127.0.0.1:$LDAP_PORT/" -d 0 > "$work/slapd.log" 2>&1 &
    slapd_pid=$!
    for _ in $(seq 3000); do
        ldapsearch -x -H "ldap://127.0.0.1:$LDAP_PORT" -b "$BASE_DN" -s base 1.1 >/dev/null 2>&1 && break; sleep 0.01
    done
    slapd_cold_ms=$(ms "$(since "$t")")
}
if peer slapd; then
    echo "== slapd: slapadd and equivalent reads (roster-loadgen, $LOAD_WORKERS workers, ${LOAD_SECS}s each)"
    mkdir -p "$work/ldap/db"
    cat > "$work/ldap/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/dyngroup.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload dynlist
# memberof only to define the memberOf attribute (slapadd runs no overlay)
moduleload memberof
pidfile $work/ldap/slapd.pid
argsfile $work/ldap/slapd.args
sizelimit unlimited
database mdb
maxsize 68719476736
suffix "$BASE_DN"
rootdn "$ROOT_DN"
rootpw $ROOT_PW
directory $work/ldap/db
index objectClass eq
index cn,uid eq
index member,memberOf eq
EOF
    # The same database served with nested groups resolved by dynlist:
    # memberOf (and member) expanded recursively on searches.
    { cat "$work/ldap/slapd.conf"; echo "overlay dynlist"
      echo "dynlist-attrset groupOfURLs memberURL member+memberOf@groupOfNames*"; } > "$work/ldap/nested.conf"
    t=$(now)
    slapadd -q -f "$work/ldap/slapd.conf" -l "$work/directory.ldif"
    slapadd_s=$(since "$t")
    slapd_start "$work/ldap/slapd.conf"
    say ""
    say "| slapadd (offline load of the same data) | $(printf '%.1f' "$slapadd_s") s | Roster import/slapadd time: $(awk -v a="$import_s" -v b="$slapadd_s" 'BEGIN {printf "%.1f", a / b}') | | | | |"
    say "| slapd cold start (to first answer) | $slapd_cold_ms ms | Roster/slapd: $(awk -v a="$cold_ms" -v b="$slapd_cold_ms" 'BEGIN {printf "%.2f", a / b}') | | | | |"
    say ""
    say "| same client for both ($LOAD_WORKERS workers, ${LOAD_SECS}s) | Roster req/s | Roster p99 | slapd ops/s | slapd p99 | Roster/slapd | client CPU, cores of $(nproc) (Roster run / slapd run) | errors, hits |"
    say "|---|---|---|---|---|---|---|---|"
    compare "group read (GET /v1/groups/{id} vs base search, attr cn)" group_read.paths group_read.ldap.jsonl
    compare "direct member check (check on a direct pair vs (member=U) on the group)" check_direct.paths check_direct.ldap.jsonl "$(avail check)" '"member":true'
    compare "groups of a user, direct (vs (member=U) under ou=groups)" user_groups.paths user_groups.ldap.jsonl
    compare "first 100 members of big (vs (memberOf=big) sizelimit 100)" page100_first.paths page100_first.ldap.jsonl
    compare "first 1000 members of big (vs sizelimit 1000)" page1000_first.paths page1000_first.ldap.jsonl
    compare_ldap "root DSE (the protocol floor)" root_dse.ldap.jsonl root_dse.ldap.jsonl
    compare_ldap "direct member check: base search (member=U) on the group" check_direct.ldap.jsonl check_direct.ldap.jsonl
    compare_ldap "groups of a user, direct: (member=U) under ou=groups" user_groups.ldap.jsonl user_groups.ldap.jsonl
    compare_ldap "memberOf of a user entry (direct groups)" user_memberof.ldap.jsonl user_memberof.ldap.jsonl
    compare_ldap "a 1 000-member group's member values" group1000_members.ldap.jsonl group1000_members.ldap.jsonl
    read -r srss < <(awk '/VmRSS/ {printf "%.0f\n", $2 / 1024}' "/proc/$slapd_pid/status")
    stop "$slapd_pid"
    slapd_start "$work/ldap/nested.conf"
    compare "transitive check, member pairs (vs dynlist memberOf=G, base on user)" check_in.paths check_in.ldap.jsonl "$(avail check)" '"member":true'
    compare "transitive check, non-member pairs (same)" check_out.paths check_out.ldap.jsonl "$(avail check)" '"member":true'
    compare "groups of a user, transitive (vs dynlist memberOf of the user)" user_groups_trans.paths user_groups_trans.ldap.jsonl "$(avail user_groups_transitive)"
    compare "groups of a user, transitive, fields=id,name (same)" user_groups_trans_lean.paths user_groups_trans.ldap.jsonl "$(avail user_groups_transitive)"
    compare_ldap "transitive check, member pairs (in-chain memberOf on the user vs dynlist memberOf=G)" check_in.chain.ldap.jsonl check_in.ldap.jsonl
    compare_ldap "transitive check, non-member pairs (same)" check_out.chain.ldap.jsonl check_out.ldap.jsonl
    compare_ldap "groups of a user, transitive (in-chain member under ou=groups vs dynlist memberOf of the user)" user_groups_trans.chain.ldap.jsonl user_groups_trans.ldap.jsonl
    stop "$slapd_pid"; slapd_pid=""
    say "| slapd resident memory after the plain runs | $srss MB | Roster/slapd: $(awk -v a="$rss" -v b="$srss" 'BEGIN {printf "%.1f", a / b}') | | | | |"
    say ""
    say "| LDAP on both, same client ($LOAD_WORKERS workers, ${LOAD_SECS}s) | Roster ops/s | Roster p99 | slapd ops/s | slapd p99 | Roster/slapd | client CPU, cores of $(nproc) (Roster run / slapd run) | errors, hits |"
    say "|---|---|---|---|---|---|---|---|"
    for row in "${ldap_rows[@]}"; do say "$row"; done
fi

# --- bulk adds of 10 000 members ------------------------------------------------
echo "== bulk add of 10 000 members"
say ""
say "| bulk add of 10 000 members to an empty group | Roster | peer | Roster/peer time |"
say "|---|---|---|---|"
t=$(now)
"$bin" import "$work/bulk.ndjson" --batch 5000 > "$work/bulk.out" 2>&1 || { cat "$work/bulk.out"; exit 1; }
say "$(printf '| native: roster import of 10 000 member records (2 batches) | %.2f s | | |' "$(since "$t")")"
python3 - "$PORT" "$KEY" "$work/bulkscim.json" <<'PY'
import http.client, json, sys, time
port, key, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = http.client.HTTPConnection("127.0.0.1", port)
h = {"Authorization": f"Bearer {key}", "Content-Type": "application/scim+json"}
def call(method, path, body=None):
    c.request(method, path, json.dumps(body) if body is not None else None, h)
    r = c.getresponse(); data = r.read()
    if r.status >= 300: raise SystemExit(f"{method} {path}: {r.status} {data[:200]}")
    return json.loads(data) if data else None
users, cursor = [], None
while len(users) < 10000:
    page = call("GET", "/v1/users?prefix=user&limit=1000" + (f"&cursor={cursor}" if cursor else ""))
    users += [u["id"] for u in page["items"]]
    cursor = page["next_cursor"]
    if not cursor: break
users = users[:10000]
gid = call("GET", "/v1/groups?prefix=bulkscim")["items"][0]["id"]
op = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
t = time.time()
for b in range(0, len(users), 1000):
    call("PATCH", f"/scim/v2/Groups/{gid}?excludedAttributes=members",
         {"schemas": [op], "Operations": [{"op": "add", "path": "members", "value": [{"value": u} for u in users[b:b+1000]]}]})
secs = time.time() - t
n = call("GET", f"/v1/groups/{gid}")
json.dump({"seconds": secs, "users": len(users)}, open(out, "w"))
PY
scim_roster_s=$(jq .seconds "$work/bulkscim.json")
scim_peer_s="" scim_users_s=""
if peer scim2; then
    venv=target/scim2-server-venv
    [ -x $venv/bin/scim2-server ] || { python3 -m venv $venv && $venv/bin/pip install -q scim2-server; }
    $venv/bin/scim2-server --port "$SCIM_PORT" >/dev/null 2>&1 &
    scim_pid=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$SCIM_PORT/v2/ServiceProviderConfig" >/dev/null && break; sleep 0.2; done
    python3 - "$SCIM_PORT" "$work/scimpeer.json" <<'PY'
import http.client, json, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
c = http.client.HTTPConnection("127.0.0.1", port)
h = {"Content-Type": "application/scim+json"}
def call(method, path, body=None):
    c.request(method, "/v2" + path, json.dumps(body) if body is not None else None, h)
    r = c.getresponse(); data = r.read()
    if r.status >= 300: raise SystemExit(f"scim2-server {method} {path}: {r.status} {data[:200]}")
    return json.loads(data) if data else None
t = time.time()
users = [call("POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"user{i:07d}"})["id"] for i in range(10000)]
users_s = time.time() - t
g = lambda name, members: call("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members})["id"]
small = g("sub1000", [{"value": u} for u in users[:1000]])
bulk = g("bulkscim", [])
op = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
t = time.time()
for b in range(0, 10000, 1000):
    call("PATCH", f"/Groups/{bulk}", {"schemas": [op], "Operations": [{"op": "add", "path": "members", "value": [{"value": u} for u in users[b:b+1000]]}]})
patch_s = time.time() - t
assert len(call("GET", f"/Groups/{bulk}")["members"]) == 10000
json.dump({"users_seconds": users_s, "patch_seconds": patch_s, "small": small}, open(out, "w"))
PY
    scim_peer_s=$(jq .patch_seconds "$work/scimpeer.json")
    scim_users_s=$(jq .users_seconds "$work/scimpeer.json")
fi
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
say "$(printf '| SCIM: 10 PATCH add of 1000 members each | %.2f s | %s | %s |' "$scim_roster_s" \
    "${scim_peer_s:+$(printf '%.2f s (scim2-server)' "$scim_peer_s")}" "$(ratio "$scim_roster_s" "${scim_peer_s:-0}")")"
if [ -n "$scim_users_s" ]; then say "$(printf '| (scim2-server: 10 000 users created by POST, one at a time) | | %.1f s | |' "$scim_users_s")"; fi

if peer scim2; then
    echo "== SCIM GET of a 1 000-member group, wrk ${SECS}s, $CONNS connections"
    small=$(jq -r .small "$work/scimpeer.json")
    wrk -t2 -c"$CONNS" -d"${SECS}s" -H "$auth" "http://127.0.0.1:$PORT/scim/v2/Groups/$(sed 's|.*/||' "$work/req/scim_group1000.paths")" > "$work/wrk.out"
    r=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$work/wrk.out")
    wrk -t2 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$SCIM_PORT/v2/Groups/$small" > "$work/wrk.out"
    p=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$work/wrk.out")
    say ""
    say "| SCIM GET /Groups/{id}, 1 000 members (wrk) | Roster $r req/s | scim2-server $p req/s | Roster/peer **$(ratio "$r" "$p")** |"
fi

slow=$(grep -c "slow statement" "$work/roster.log" || true)
say ""
say "| Roster warnings: slow statements logged (the server's log, ROSTER_LOG=warn) | ${slow:-0} | |"
[ "${slow:-0}" = 0 ] || grep -o 'db.statement[^ ]*="[^"]*"' "$work/roster.log" | sort | uniq -c | sort -rn | head -3
echo
echo "== summary ($SCALE, seed $SEED, $(date -u +%F))"
printf '%s\n' "${summary[@]}"
