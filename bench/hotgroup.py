#!/usr/bin/env python3
"""The hot-group workload: W writers add and remove the same U users of one
group (PUT and DELETE /v1/groups/{id}/members/{user}) for S seconds, spread
over one or more servers. Closed loop: each writer holds one persistent
connection and sends one request at a time.

  hotgroup.py --key KEY --group ID --users ID,ID,... [--writers 16] [--seconds 8] BASE [BASE ...]

Prints one JSON line: writes, writes/s, busy (503 answers), errors (any
other answer than 200, 201, 204 or 404) with up to five of them, and the
client's CPU share (its CPU time over wall time times the machine's cores).
"""
import argparse
import http.client
import json
import os
import threading
import time
import urllib.parse


def writer(n, args, users, bases, deadline, out):
    base = urllib.parse.urlparse(bases[n % len(bases)])
    conn = http.client.HTTPConnection(base.hostname, base.port)
    headers = {"Authorization": f"Bearer {args.key}", "Content-Type": "application/json"}
    ops = busy = errors = 0
    samples = []
    i = n
    while time.monotonic() < deadline:
        user = users[(n * 5 + i * 3) % len(users)]
        path = f"/v1/groups/{args.group}/members/{user}"
        if i % 2 == 0:
            conn.request("PUT", path, body="{}", headers=headers)
        else:
            conn.request("DELETE", path, headers=headers)
        res = conn.getresponse()
        body = res.read()
        ops += 1
        if res.status == 503:
            busy += 1
        elif res.status not in (200, 201, 204, 404):
            errors += 1
            if len(samples) < 5:
                samples.append(f"{'PUT' if i % 2 == 0 else 'DELETE'} {res.status} {body[:200]!r}")
        i += 1
    out[n] = (ops, busy, errors, samples)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--key", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--users", required=True)
    p.add_argument("--writers", type=int, default=16)
    p.add_argument("--seconds", type=float, default=8)
    p.add_argument("bases", nargs="+")
    args = p.parse_args()
    users = args.users.split(",")
    out = [None] * args.writers
    start, cpu = time.monotonic(), time.process_time()
    deadline = start + args.seconds
    threads = [threading.Thread(target=writer, args=(n, args, users, args.bases, deadline, out)) for n in range(args.writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu = time.monotonic() - start, time.process_time() - cpu
    ops, busy, errors = (sum(x[i] for x in out) for i in range(3))
    samples = [s for x in out for s in x[3]]
    print(json.dumps({
        "writes": ops,
        "writes_per_s": round(ops / wall),
        "seconds": round(wall, 3),
        "busy": busy,
        "errors": errors,
        "client_cpu_share": round(cpu / (wall * (os.cpu_count() or 1)), 2),
        "error_samples": samples[:5],
    }))


if __name__ == "__main__":
    main()
