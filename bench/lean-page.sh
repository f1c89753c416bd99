#!/usr/bin/env bash
# The size and time of a 1000-member page, whole and with
# `fields=id,username`, on a release build on a fresh SQLite file: one
# keep-alive connection, requests one after another (curl, no load
# generator). Usage: bench/lean-page.sh [requests=200]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}

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
python3 - "$work/import.json" <<'EOF'
import json, sys
records = [{"type": "group", "name": "thousand"}]
for i in range(1000):
    u = f"member{i:04}"
    records.append({"type": "user", "username": u, "email": f"{u}@example.com", "first_name": "First",
                    "last_name": "Last", "display_name": f"Person {i}"})
    records.append({"type": "member", "group": "thousand", "user": u})
json.dump({"records": records}, open(sys.argv[1], "w"))
EOF
curl -sf -H "$auth" -H "content-type: application/json" $base/v1/import --data-binary @"$work/import.json" >/dev/null
group=$(curl -sf -H "$auth" "$base/v1/groups?prefix=thousand" | sed 's/.*"items":\[{"id":"\([^"]*\)".*/\1/')

for query in "limit=1000" "limit=1000&fields=id,username"; do
    url="$base/v1/groups/$group/members?$query"
    urls=()
    for _ in $(seq "$n"); do urls+=(-o /dev/null "$url"); done
    curl -s -H "$auth" -w '%{size_download} %{time_total}\n' "${urls[@]}" |
        awk -v q="$query" '{ bytes = $1; t[NR] = $2; sum += $2 }
            END { asort(t); printf "%-32s %8d bytes  %6.2f ms mean  %6.2f ms p50  (%d requests)\n",
                  q, bytes, 1000 * sum / NR, 1000 * t[int(NR / 2) + 1], NR }'
done
