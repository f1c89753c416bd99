#!/usr/bin/env python3
"""What webhooks cost: the writes/s of membership changes with 0, 1 and 10
subscriptions (and 1 scoped to an ancestor group, which takes the
transitive events), alternated over ROUNDS so that a busy machine weighs on
each alike; then deliveries per second to a fast local receiver, from a
backlog, with 1 and 10 subscriptions.

    python3 bench/webhooks.py [--seconds 5] [--workers 16] [--rounds 2] [--backlog 4000]

Builds `roster` and `roster-loadgen` in release mode (or takes ROSTER_BIN and
LOADGEN_BIN), starts one server on a new SQLite file (ROSTER_BENCH_PG_URL
set: on a new PostgreSQL database instead) on a free loopback port, and
drives it with roster-loadgen (closed loop, one persistent connection per
worker): each worker adds and removes users of one group, which is nested
in a parent, so every write is an edge change. The receiver is
`roster-loadgen receive`: it answers 204 at once, on loopback. Each row
gives the client's CPU share (cores), and the writes row the events
delivered during it, so a client or receiver limit shows.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

KEY = "rst_bench_key_0123456789abcdef"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build():
    roster, loadgen = os.environ.get("ROSTER_BIN"), os.environ.get("LOADGEN_BIN")
    if roster and loadgen:
        return roster, loadgen
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "roster", "-p", "roster-loadgen"], cwd=ROOT,
                   check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return roster or os.path.join(target, "release", "roster"), loadgen or os.path.join(target, "release",
                                                                                       "roster-loadgen")


class Api:
    def __init__(self, base):
        self.base = base

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method, headers={
            "Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                text = res.read()
                return json.loads(text) if text else None, res.headers
        except urllib.error.HTTPError as e:
            sys.exit(f"{method} {path}: {e.code} {e.read()[:300]!r}")


def wait_ready(base, proc):
    for _ in range(600):
        if proc.poll() is not None:
            sys.exit("the server exited")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit("the server did not get ready")


def receiver(loadgen, count, seconds):
    port = free_port()
    proc = subprocess.Popen([loadgen, "receive", "127.0.0.1", str(port), "--count", str(count), "--seconds",
                             str(seconds)], stdout=subprocess.PIPE, text=True)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.02)
    return port, proc


def subscribe(api, port, n, group=None, types=None):
    ids = []
    for k in range(n):
        body = {"url": f"http://127.0.0.1:{port}/hook/{k}", "description": f"bench {k}"}
        if group:
            body["group_id"] = group
        if types:
            body["event_types"] = types
        ids.append(api.call("POST", "/v1/webhooks", body)[0]["id"])
    return ids


def unsubscribe(api, ids):
    for i in ids:
        api.call("DELETE", f"/v1/webhooks/{i}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--backlog", type=int, default=4000, help="events each subscription is sent in the delivery rows")
    args = ap.parse_args()
    roster, loadgen = build()
    work = tempfile.mkdtemp(prefix="roster-webhooks-bench-")
    pg_admin, pg_db = os.environ.get("ROSTER_BENCH_PG_URL"), None
    if pg_admin:
        pg_db = f"roster_whbench_{os.getpid()}"
        subprocess.run(["psql", pg_admin, "-qc", f"CREATE DATABASE {pg_db}"], check=True)
        database = pg_admin.rsplit("/", 1)[0] + "/" + pg_db
    else:
        database = "sqlite://" + os.path.join(work, "roster.db")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, ROSTER_BOOTSTRAP_ADMIN_KEY=KEY, ROSTER_LOG="warn", ROSTER_RATE_LIMIT="0",
               ROSTER_WEBHOOKS_ALLOW="127.0.0.0/8")
    server = subprocess.Popen([roster, "serve", "--listen", f"127.0.0.1:{port}", "--database", database], env=env)
    try:
        wait_ready(base, server)
        run(args, Api(base), port, loadgen, work)
    finally:
        server.terminate()
        server.wait()
        if pg_db:
            subprocess.run(["psql", pg_admin, "-qc", f"DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)"])
        shutil.rmtree(work, ignore_errors=True)


def run(args, api, port, loadgen, work):
    stamp = int(time.time())
    parent = api.call("POST", "/v1/groups", {"name": f"bench-parent-{stamp}"})[0]["id"]
    group = api.call("POST", "/v1/groups", {"name": f"bench-group-{stamp}"})[0]["id"]
    api.call("PUT", f"/v1/groups/{parent}/children/{group}", {})
    users = [api.call("POST", "/v1/users", {"username": f"bench-{stamp}-{k}"})[0]["id"] for k in range(1000)]
    # Line 2k adds user k, line 2k+1 removes them: a worker that starts on
    # an odd line sees one 404 first, then every request changes an edge.
    lines = []
    for u in users:
        lines.append(f"PUT /v1/groups/{group}/members/{u} {{}}")
        lines.append(f"DELETE /v1/groups/{group}/members/{u}")
    requests = os.path.join(work, "writes.txt")
    with open(requests, "w") as f:
        f.write("\n".join(lines) + "\n")

    configs = [
        ("0 subscriptions", 0, None, None),
        ("1 subscription (every event)", 1, None, None),
        ("10 subscriptions (every event)", 10, None, None),
        ("1 scoped to the parent (transitive events)", 1, parent, ["member.transitive_added",
                                                                   "member.transitive_removed"]),
    ]
    rows = {name: [] for name, *_ in configs}
    for _ in range(args.rounds):
        for name, n, scope, types in configs:
            rport, rproc = receiver(loadgen, 10**9, args.seconds + 2)
            ids = subscribe(api, rport, n, scope, types)
            out = subprocess.run([loadgen, "http", "127.0.0.1", str(port),
                                  requests, "--key", KEY, "--workers", str(args.workers), "--seconds",
                                  str(args.seconds)], capture_output=True, text=True, check=True).stdout
            got = json.loads(out)
            received = json.loads(rproc.communicate()[0])["received"]
            unsubscribe(api, ids)
            rows[name].append((got["rps"], got["errors"], got["p99_ms"], got["client_cpu_cores"], received))
    print(f"writes/s of membership changes, {args.workers} workers, {args.seconds:g} s a run, {args.rounds} rounds "
          "alternated")
    print(f"{'configuration':<46} {'writes/s':>9} {'vs 0':>6} {'p99 ms':>7} {'errors':>6} {'client':>6} "
          f"{'delivered':>9}")
    base_rps = sum(r[0] for r in rows[configs[0][0]]) / args.rounds
    for name, *_ in configs:
        rps = sum(r[0] for r in rows[name]) / args.rounds
        p99 = max(r[2] for r in rows[name])
        errors = sum(r[1] for r in rows[name])
        cpu = max(r[3] for r in rows[name])
        delivered = sum(r[4] for r in rows[name])
        print(f"{name:<46} {rps:>9.0f} {rps / base_rps:>6.2f} {p99:>7.1f} {errors:>6} {cpu:>6.2f} {delivered:>9}")

    # Deliveries per second: each subscription is sent the last `backlog`
    # events again (a redelivery), with no write running beside it.
    _, headers = api.call("PUT", f"/v1/groups/{group}/members/{users[0]}", {})
    head = int(headers["Roster-Revision"])
    after = max(0, head - args.backlog)
    print(f"\ndeliveries/s to a local receiver (204 at once), a backlog of {head - after} events per subscription")
    print(f"{'subscriptions':<14} {'events':>7} {'seconds':>8} {'per second':>10} {'receiver':>8}")
    for n in (1, 10):
        rport, rproc = receiver(loadgen, n * (head - after), 60)
        ids = subscribe(api, rport, n)
        for i in ids:
            api.call("POST", f"/v1/webhooks/{i}/redeliver", {"after": after})
        got = json.loads(rproc.communicate()[0])
        unsubscribe(api, ids)
        print(f"{n:<14} {got['received']:>7} {got['span_seconds']:>8.2f} {got['per_second'] or 0:>10.0f} "
              f"{got['receiver_cpu_cores']:>8}")


if __name__ == "__main__":
    main()
