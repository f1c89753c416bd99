#!/usr/bin/env bash
# What an Iguazio list costs on a directory of many groups: a numbered page
# in name order, a lookup by exact name, and a page of users, each a bounded
# wrk run on loopback against a release build on a fresh SQLite file.
# Usage: bench/iguazio-lists.sh; BENCH_GROUPS (20000), SECS (5), CONNS (8),
# ROSTER_BIN (a build to measure instead of building this checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
groups=${BENCH_GROUPS:-20000}
secs=${SECS:-5}
conns=${CONNS:-8}
if ! command -v wrk >/dev/null; then
    echo "== installing wrk" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
bin=${ROSTER_BIN:-}
if [ -z "$bin" ]; then
    cargo build --release -p roster --quiet
    bin=target/release/roster
fi
work=$(mktemp -d)
key=rst_bench_key_0123456789abcdef
port=$((20000 + RANDOM % 10000))
ROSTER_BOOTSTRAP_ADMIN_KEY=$key ROSTER_LOG=warn ROSTER_RATE_LIMIT=0 "$bin" serve --listen 127.0.0.1:$port --database "sqlite://$work/bench.db" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
base=http://127.0.0.1:$port
for _ in $(seq 100); do curl -sf $base/healthz >/dev/null && break; sleep 0.1; done

auth="Authorization: Bearer $key"
json="content-type: application/json"
# Groups and users through the import, 5 000 records a request.
python3 - "$groups" "$work" <<'PY'
import json, sys
n, work = int(sys.argv[1]), sys.argv[2]
records = [{"type": "group", "name": f"grp{i:06d}"} for i in range(n)]
records += [{"type": "user", "username": f"user{i:06d}"} for i in range(n)]
for b, i in enumerate(range(0, len(records), 5000)):
    with open(f"{work}/batch{b:04d}.json", "w") as f:
        json.dump({"records": records[i:i + 5000]}, f)
PY
for batch in "$work"/batch*.json; do
    curl -sf -H "$auth" -H "$json" $base/v1/import --data-binary "@$batch" >/dev/null
done

run() { # label path
    local out
    out=$(wrk -t2 -c"$conns" -d"${secs}s" -H "$auth" "$base$2")
    printf '%-58s %10s req/s\n' "$1" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
}
echo "== $groups groups, $groups users; wrk ${secs}s, $conns connections"
run "page 0 of 10 groups by name" "/iguazio/api/user_groups?sort=name&page%5Bnumber%5D=0&page%5Bsize%5D=10"
run "page 500 of 10 groups by name" "/iguazio/api/user_groups?sort=name&page%5Bnumber%5D=500&page%5Bsize%5D=10"
run "one group by exact name" "/iguazio/api/user_groups?filter%5Bname%5D=grp010000"
run "page 0 of 10 users" "/iguazio/api/users?page%5Bnumber%5D=0&page%5Bsize%5D=10"
run "one user by exact username" "/iguazio/api/users?filter%5Busername%5D=user010000"
