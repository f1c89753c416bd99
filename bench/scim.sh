#!/usr/bin/env bash
# SCIM at scale, bounded, on loopback: a release build on a fresh SQLite
# file; 10 000 users created through SCIM POST, a group of 10 000 members
# made by SCIM PATCHes of 1 000 members each (timed), then wrk on
# GET /Groups/{id} of a 1 000-member group and
# GET /Groups/{id}?excludedAttributes=members of the 10 000-member one.
# Usage: bench/scim.sh [seconds=10] [connections=8]. Needs wrk and python3.
# With SCIM2_SERVER=1 it also measures scim2-server (PyPI) on the same
# 1 000-member GET (installed into target/scim2-server-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-8}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }

cargo build --release -p roster --quiet
work=$(mktemp -d)
key=rst_bench_key_0123456789abcdef
port=$((20000 + RANDOM % 10000))
ROSTER_BOOTSTRAP_ADMIN_KEY=$key ROSTER_LOG=warn ROSTER_RATE_LIMIT=0 \
    target/release/roster serve --listen 127.0.0.1:$port --database "sqlite://$work/bench.db" &
pid=$!
pids=$pid
trap 'kill $pids 2>/dev/null; wait $pids 2>/dev/null; rm -rf "$work"' EXIT
base=http://127.0.0.1:$port/scim/v2
for _ in $(seq 50); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done

# Setup over one keep-alive connection; prints the two group ids.
read -r big small < <(python3 - "$port" "$key" <<'PY'
import http.client, json, sys, time
port, key = int(sys.argv[1]), sys.argv[2]
c = http.client.HTTPConnection("127.0.0.1", port)
h = {"Authorization": f"Bearer {key}", "Content-Type": "application/scim+json"}
def call(method, path, body=None):
    c.request(method, "/scim/v2" + path, json.dumps(body) if body is not None else None, h)
    r = c.getresponse(); data = r.read()
    if r.status >= 300: raise SystemExit(f"{method} {path}: {r.status} {data[:200]}")
    return json.loads(data) if data else None
t = time.time()
users = [call("POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"u{i:05}"})["id"] for i in range(10000)]
print(f"created 10000 users in {time.time()-t:.1f}s", file=sys.stderr)
g = lambda name: call("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name})["id"]
big, small = g("big"), g("small")
op = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
times = []
for b in range(10):
    batch = [{"value": u} for u in users[b*1000:(b+1)*1000]]
    t = time.time()
    call("PATCH", f"/Groups/{big}?excludedAttributes=members", {"schemas": [op], "Operations": [{"op": "add", "path": "members", "value": batch}]})
    times.append(time.time() - t)
print("PATCH add 1000 members: " + " ".join(f"{x*1000:.0f}ms" for x in times), file=sys.stderr)
t = time.time()
for u in users[:100]:
    call("PATCH", f"/Groups/{big}?excludedAttributes=members", {"schemas": [op], "Operations": [{"op": "Remove", "path": "members", "value": [{"value": u}]}, {"op": "Add", "path": "members", "value": [{"value": u}]}]})
print(f"PATCH one member out and in, on the 10 000-member group: {(time.time()-t)*10:.1f}ms each (100 runs)", file=sys.stderr)
call("PATCH", f"/Groups/{small}", {"schemas": [op], "Operations": [{"op": "add", "path": "members", "value": [{"value": u} for u in users[:1000]]}]})
n = len(call("GET", f"/Groups/{big}")["members"])
assert n == 10000, n
print(big, small)
PY
)
auth="Authorization: Bearer $key"
echo "== GET /Groups/{id}, 1 000 members (${secs}s, $conns connections)"
wrk -t2 -c"$conns" -d"${secs}s" --latency -H "$auth" "$base/Groups/$small"
echo "== GET /Groups/{id}?excludedAttributes=members, 10 000 members (${secs}s, $conns connections)"
wrk -t2 -c"$conns" -d"${secs}s" --latency -H "$auth" "$base/Groups/$big?excludedAttributes=members"
echo "== GET /Groups?filter=displayName eq \"big\"&excludedAttributes=members (${secs}s, $conns connections)"
wrk -t2 -c"$conns" -d"${secs}s" --latency -H "$auth" "$base/Groups?filter=displayName%20eq%20%22big%22&excludedAttributes=members"

if [ "${SCIM2_SERVER:-0}" = 1 ]; then
    venv=target/scim2-server-venv
    [ -x $venv/bin/scim2-server ] || { python3 -m venv $venv && $venv/bin/pip install -q scim2-server; }
    sport=$((port + 1))
    $venv/bin/scim2-server --port $sport >/dev/null 2>&1 &
    pids="$pids $!"
    for _ in $(seq 50); do curl -sf http://127.0.0.1:$sport/v2/ServiceProviderConfig >/dev/null && break; sleep 0.2; done
    sgroup=$(python3 - "$sport" <<'PY'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
h = {"Content-Type": "application/scim+json"}
def call(method, path, body):
    c.request(method, "/v2" + path, json.dumps(body), h); r = c.getresponse(); return json.loads(r.read() or b"null")
users = [call("POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"u{i:05}"})["id"] for i in range(1000)]
g = call("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "small", "members": [{"value": u} for u in users]})
print(g["id"])
PY
)
    echo "== scim2-server: GET /Groups/{id}, 1 000 members (${secs}s, $conns connections)"
    wrk -t2 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$sport/v2/Groups/$sgroup"
fi
