#!/usr/bin/env python3
"""The hot-group workload: W writers add and remove the same U users of one
group (PUT and DELETE /v1/groups/{id}/members/{user}) for S seconds, spread
over one or more servers. Closed loop: each writer holds one persistent
connection and sends one request at a time.

  hotgroup.py --key KEY --group ID --users ID,ID,... [--writers 16] [--seconds 8] BASE [BASE ...]

Prints one JSON line: writes, writes/s, busy (503 answers), errors (any
other answer than 200, 201, 204 or 404), and the client's CPU share (its
CPU time over wall time times the machine's cores).
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
    i = n
    while time.monotonic() < deadline:
        user = users[(n * 5 + i * 3) % len(users)]
        path = f"/v1/groups/{args.group}/members/{user}"
        if i % 2 == 0:
            conn.request("PUT", path, body="{}", headers=headers)
        else:
            conn.request("DELETE", path, headers=headers)
        res = conn.getresponse()
        res.read()
        ops += 1
        if res.status == 503:
            busy += 1
        elif res.status not in (200, 201, 204, 404):
            errors += 1
        i += 1
    out[n] = (ops, busy, errors)


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
    print(json.dumps({
        "writes": ops,
        "writes_per_s": round(ops / wall),
        "busy": busy,
        "errors": errors,
        "client_cpu_share": round(cpu / (wall * (os.cpu_count() or 1)), 2),
    }))


if __name__ == "__main__":
    main()
