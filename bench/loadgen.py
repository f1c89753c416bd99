#!/usr/bin/env python3
"""A small, bounded, closed-loop load generator that speaks both HTTP/1.1 and
LDAPv3 the same way, so that Roster and slapd are measured through clients of
the same cost (bench/suite.sh prints their ratio).

  loadgen.py http HOST PORT REQUESTS.jsonl --key KEY [--workers W] [--seconds S] [--marker BYTES]
  loadgen.py ldap HOST PORT REQUESTS.jsonl [--bind-dn DN --bind-pw PW] [--workers W] [--seconds S]

Each of W worker processes opens ONE persistent connection and sends one
request at a time (no pipelining), rotating over the request list from its
own offset, until S seconds have passed. Requests are encoded once, before
the clock starts; responses are framed (Content-Length; BER lengths) but not
decoded further, so the client does the same small amount of work per
request for both protocols. Prints one JSON line: ops, ops/s, latency
percentiles in ms, errors, and "hits" (HTTP: bodies containing --marker;
LDAP: searches that returned at least one entry).

REQUESTS.jsonl, one per line:
  http: /v1/groups/<id>                         (the path, as is)
  ldap: {"base": DN, "scope": "base"|"one"|"sub", "filter": F, "attrs": [..], "sizelimit": N}
        F = ["eq", attr, value] | ["and", F, ...] | ["present", attr]
"""
import argparse
import json
import multiprocessing as mp
import resource
import socket
import time


# --- BER, just what LDAP search and simple bind need ---------------------------
def ber_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, body):
    return bytes([tag]) + ber_len(len(body)) + body


def ber_int(tag, v):
    b = v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True)
    return tlv(tag, b)


def octets(tag, s):
    return tlv(tag, s.encode() if isinstance(s, str) else s)


def ldap_filter(f):
    kind = f[0]
    if kind == "eq":
        return tlv(0xA3, octets(0x04, f[1]) + octets(0x04, f[2]))
    if kind == "and":
        return tlv(0xA0, b"".join(ldap_filter(x) for x in f[1:]))
    if kind == "present":
        return octets(0x87, f[1])
    raise ValueError(f"filter {kind}")


def ldap_message(msgid, op):
    return tlv(0x30, ber_int(0x02, msgid) + op)


def ldap_bind(dn, pw):
    return tlv(0x60, ber_int(0x02, 3) + octets(0x04, dn) + octets(0x80, pw))


def ldap_search(r):
    scope = {"base": 0, "one": 1, "sub": 2}[r.get("scope", "sub")]
    body = (octets(0x04, r["base"]) + ber_int(0x0A, scope) + ber_int(0x0A, 0)
            + ber_int(0x02, r.get("sizelimit", 0)) + ber_int(0x02, 0) + tlv(0x01, b"\x00")
            + ldap_filter(r["filter"]) + tlv(0x30, b"".join(octets(0x04, a) for a in r.get("attrs", ["1.1"]))))
    return tlv(0x63, body)


def read_tlv_len(buf, i):
    """(header length, body length) of the TLV at buf[i], or None if incomplete."""
    if len(buf) < i + 2:
        return None
    first = buf[i + 1]
    if first < 0x80:
        return 2, first
    n = first & 0x7F
    if len(buf) < i + 2 + n:
        return None
    return 2 + n, int.from_bytes(buf[i + 2:i + 2 + n], "big")


class Conn:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def fill(self):
        chunk = self.s.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed by peer")
        self.buf += chunk

    def http(self, req, marker):
        """Sends req and reads one response; returns (ok, hit)."""
        self.s.sendall(req)
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            self.fill()
        head = bytes(self.buf[:end]).lower()
        status = int(head[9:12])
        k = head.find(b"content-length:")
        if k < 0:
            raise ValueError("no content-length: " + head.decode(errors="replace"))
        e = head.find(b"\r\n", k)
        length = int(head[k + 15:e if e > 0 else len(head)])
        while len(self.buf) < end + 4 + length:
            self.fill()
        body = self.buf[end + 4:end + 4 + length]
        hit = marker is not None and body.find(marker) >= 0
        del self.buf[:end + 4 + length]
        return 200 <= status < 300, hit

    def ldap(self, req):
        """Sends one request and reads messages up to its final one; returns
        (ok, entries). Final: BindResponse (0x61) or SearchResultDone (0x65)."""
        self.s.sendall(req)
        entries = 0
        while True:
            hdr = read_tlv_len(self.buf, 0)
            while hdr is None or len(self.buf) < hdr[0] + hdr[1]:
                self.fill()
                hdr = read_tlv_len(self.buf, 0)
            h, n = hdr
            msg = self.buf[h:h + n]
            idh, idn = read_tlv_len(msg, 0)
            op = idh + idn
            tag = msg[op]
            if tag in (0x61, 0x65):
                oh, _ = read_tlv_len(msg, op)
                code = msg[op + oh + 2]  # ENUMERATED resultCode, one byte
                del self.buf[:h + n]
                # 0 success, 4 sizeLimitExceeded (a bounded page), 32 noSuchObject
                return code in (0, 4), entries
            if tag == 0x64:
                entries += 1
            del self.buf[:h + n]


def worker(args, reqs, index, q):
    conn = Conn(args.host, args.port)
    marker = args.marker.encode() if args.marker else None
    msgid = 1
    if args.proto == "ldap":
        if args.bind_dn:
            ok, _ = conn.ldap(ldap_message(msgid, ldap_bind(args.bind_dn, args.bind_pw)))
            assert ok, "bind refused"
        # A search message embeds its id; one fixed id per request is fine
        # since requests never overlap on a connection.
        encoded = [ldap_message(2, ldap_search(r)) for r in reqs]
    else:
        encoded = [(f"GET {p} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
                    f"Authorization: Bearer {args.key}\r\n\r\n").encode() for p in reqs]
    n = len(encoded)
    i = (index * 7919) % n
    lat, errors, hits = [], 0, 0
    clock = time.perf_counter
    deadline = clock() + args.seconds
    start = clock()
    while True:
        t0 = clock()
        if t0 >= deadline:
            break
        if args.proto == "ldap":
            ok, entries = conn.ldap(encoded[i])
            hit = entries > 0
        else:
            ok, hit = conn.http(encoded[i], marker)
        lat.append(clock() - t0)
        errors += not ok
        hits += hit
        i = i + 1 if i + 1 < n else 0
    q.put((lat, errors, hits, clock() - start))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("proto", choices=["http", "ldap"])
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("requests")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--key", default="")
    p.add_argument("--marker", default=None)
    p.add_argument("--bind-dn", default=None)
    p.add_argument("--bind-pw", default="")
    args = p.parse_args()
    with open(args.requests) as f:
        reqs = [json.loads(line) if args.proto == "ldap" else line.strip() for line in f if line.strip()]
    q = mp.Queue()
    procs = [mp.Process(target=worker, args=(args, reqs, k, q)) for k in range(args.workers)]
    for pr in procs:
        pr.start()
    results = [q.get() for _ in procs]
    for pr in procs:
        pr.join()
    # The client's own CPU (its worker processes, user + system), so a
    # client that saturates the cores is not mistaken for a server limit.
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = used.ru_utime + used.ru_stime
    lat = sorted(x for r in results for x in r[0])
    ops = len(lat)
    elapsed = max(r[3] for r in results)
    pct = lambda q_: round(lat[min(ops - 1, int(q_ * ops))] * 1000, 3) if ops else None
    print(json.dumps({"ops": ops, "rps": round(ops / elapsed), "p50_ms": pct(0.50), "p90_ms": pct(0.90),
                      "p99_ms": pct(0.99), "errors": sum(r[1] for r in results), "hits": sum(r[2] for r in results),
                      "workers": args.workers, "seconds": args.seconds,
                      "client_cpu_cores": round(client_cpu / elapsed, 2) if elapsed else None}))


if __name__ == "__main__":
    main()
