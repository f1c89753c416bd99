#!/usr/bin/env python3
"""Resolves the sampled names of samples.json to Roster ids over the native
API, probes which endpoints this server has, and writes the request lists
the load runs rotate over (for wrk and roster-loadgen, HTTP and LDAP).

  prepare.py WORK_DIR PORT KEY PAGES_TRANSITIVE(auto|0|1)

Writes into WORK_DIR/req/: NAME.paths (one HTTP path a line) and
NAME.ldap.jsonl, and WORK_DIR/endpoints.json (what is available, the big
group's last-page cursors and how long it took to walk to them).
"""
import http.client
import json
import os
import sys
import time
import urllib.parse

BASE = "dc=bench,dc=local"
work, port, key, pages_trans = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
conn = http.client.HTTPConnection("127.0.0.1", port)
H = {"Authorization": f"Bearer {key}"}


def get(path):
    conn.request("GET", path, headers=H)
    r = conn.getresponse()
    body = r.read()
    return r.status, (json.loads(body) if body and r.getheader("content-type", "").startswith("application/json") else body)


def must(path):
    status, body = get(path)
    if status != 200:
        raise SystemExit(f"GET {path}: {status} {body!r:.300}")
    return body


s = json.load(open(os.path.join(work, "samples.json")))
q = urllib.parse.quote

# Every group id, one 1000-group page at a time.
gid, cursor = {}, None
while True:
    page = must("/v1/groups?limit=1000" + (f"&cursor={q(cursor)}" if cursor else ""))
    for g in page["items"]:
        gid[g["name"]] = g["id"]
    cursor = page.get("next_cursor")
    if not cursor:
        break
# The sampled users by exact name (names have a fixed width, so a prefix
# that is a whole name matches only that user).
uid = {}
for name in s["users"]:
    items = must(f"/v1/users?prefix={name}&limit=1")["items"]
    assert items and items[0]["username"] == name, name
    uid[name] = items[0]["id"]

# What this server offers: an endpoint that is not there answers 404 (or
# 400/405); a query parameter that is not there is ignored, so transitive
# lists are recognised by the OpenAPI document naming the parameter.
openapi = must("/openapi.json")


def has_param(path, name):
    op = openapi.get("paths", {}).get(path, {}).get("get", {})
    return any(p.get("name") == name for p in op.get("parameters", []))


u0, g0 = s["pairs_in"][0][0], s["pairs_in"][0][1]
check_status, check_body = get(f"/v1/check?user={uid[u0]}&group={gid[g0]}")
avail = {
    "check": check_status == 200 and isinstance(check_body, dict) and "member" in check_body,
    "user_groups_transitive": has_param("/v1/users/{id}/groups", "transitive"),
    "members_transitive": has_param("/v1/groups/{id}/members", "transitive"),
}
# Correctness of the transitive endpoints on the samples (not timed).
wrong = []
if avail["check"]:
    # The path runs from the group down to one of the user's direct groups;
    # it is at most d + 1 long (a shorter way through another direct group
    # may exist).
    for u, g, d in s["pairs_in"][:200]:
        st, b = get(f"/v1/check?user={uid[u]}&group={gid[g]}")
        path = b.get("path", []) if isinstance(b, dict) else []
        mine = {gid[x] for x in s["direct"][u]}
        if (st != 200 or b.get("member") is not True or not 1 <= len(path) <= d + 1
                or path[0] != gid[g] or path[-1] not in mine):
            wrong.append(("in", u, g, d, st, b))
    for u, g in s["pairs_out"][:200]:
        st, b = get(f"/v1/check?user={uid[u]}&group={gid[g]}")
        if st != 200 or b.get("member") is not False:
            wrong.append(("out", u, g, st, b))
if avail["user_groups_transitive"]:
    for u in s["users"][:100]:
        items = must(f"/v1/users/{uid[u]}/groups?transitive=true&limit=1000")["items"]
        got = sorted(x.get("group", x)["name"] for x in items)
        want = sorted(s["transitive"][u] + ["big"] + (["sub1000"] if int(u[4:]) < 1000 else []))
        if got != want:
            wrong.append(("groups", u, got, want))
avail["wrong_answers"] = wrong[:5]
avail["wrong_count"] = len(wrong)

use_trans = avail["members_transitive"] if pages_trans == "auto" else pages_trans == "1"
mq = "transitive=true&" if use_trans else ""
avail["pages_transitive"] = use_trans

# The big group's last pages: walk the cursors once with 1000-member pages,
# keeping the cursor that opens the last one, then with 100-member pages
# from the cursor before it. "next_cursor" of the page before the last is
# the cursor of the last page.
big = gid["big"]
t = time.time()
prev2, prev, cursor, n_pages, seen = None, None, None, 0, 0
while True:
    page = must(f"/v1/groups/{big}/members?{mq}limit=1000" + (f"&cursor={q(cursor)}" if cursor else ""))
    if not page["items"] and cursor is not None:  # an empty page after a full one
        cursor, prev = prev, prev2
        break
    n_pages += 1
    seen += len(page["items"])
    if not page.get("next_cursor"):
        break
    prev2 = prev
    prev, cursor = cursor, page["next_cursor"]
last1000 = cursor  # None if the group fits one page
start100 = prev if prev is not None else None
c100, last100 = start100, None
while True:
    page = must(f"/v1/groups/{big}/members?{mq}limit=100" + (f"&cursor={q(c100)}" if c100 else ""))
    if not page["items"] and c100 != start100:  # an empty page after a full one
        break
    last100 = c100
    if not page.get("next_cursor"):
        break
    c100 = page["next_cursor"]
last_page = must(f"/v1/groups/{big}/members?{mq}limit=100" + (f"&cursor={q(last100)}" if last100 else ""))
avail["big_walk"] = {"pages_of_1000": n_pages, "members_seen": seen, "seconds": round(time.time() - t, 2),
                     "last_user": last_page["items"][-1]["user"]["username"] if last_page["items"] else None}

os.makedirs(os.path.join(work, "req"), exist_ok=True)


def write(name, lines):
    with open(os.path.join(work, "req", name), "w") as f:
        for line in lines:
            f.write((line if isinstance(line, str) and name.endswith(".paths") else json.dumps(line)) + "\n")


direct_pairs = [(u, s["direct"][u][0]) for u in s["users"]]
write("check_in.paths", [f"/v1/check?user={uid[u]}&group={gid[g]}" for u, g, _ in s["pairs_in"]])
write("check_out.paths", [f"/v1/check?user={uid[u]}&group={gid[g]}" for u, g in s["pairs_out"]])
write("check_direct.paths", [f"/v1/check?user={uid[u]}&group={gid[g]}" for u, g in direct_pairs])
write("user_groups.paths", [f"/v1/users/{uid[u]}/groups?limit=100" for u in s["users"]])
write("user_groups_trans.paths", [f"/v1/users/{uid[u]}/groups?transitive=true&limit=100" for u in s["users"]])
# The same page with only what LDAP's memberOf values carry (each group's id and name).
write("user_groups_trans_lean.paths", [f"/v1/users/{uid[u]}/groups?transitive=true&limit=100&fields=id,name" for u in s["users"]])
write("group_read.paths", [f"/v1/groups/{gid[g]}" for g in s["read_groups"]])
cur = lambda c: f"&cursor={q(c)}" if c else ""
write("page100_first.paths", [f"/v1/groups/{big}/members?{mq}limit=100"])
write("page100_last.paths", [f"/v1/groups/{big}/members?{mq}limit=100{cur(last100)}"])
write("page1000_first.paths", [f"/v1/groups/{big}/members?{mq}limit=1000"])
write("page1000_last.paths", [f"/v1/groups/{big}/members?{mq}limit=1000{cur(last1000)}"])
write("scim_group1000.paths", [f"/scim/v2/Groups/{gid['sub1000']}"])

udn = lambda u: f"uid={u},ou=users,{BASE}"
gdn = lambda g: f"cn={g},ou=groups,{BASE}"
write("group_read.ldap.jsonl", [{"base": gdn(g), "scope": "base", "filter": ["present", "objectClass"], "attrs": ["cn"]}
                                for g in s["read_groups"]])
write("check_direct.ldap.jsonl", [{"base": gdn(g), "scope": "base", "filter": ["eq", "member", udn(u)], "attrs": ["1.1"]}
                                  for u, g in direct_pairs])
write("check_in.ldap.jsonl", [{"base": udn(u), "scope": "base", "filter": ["eq", "memberOf", gdn(g)], "attrs": ["1.1"]}
                              for u, g, _ in s["pairs_in"]])
write("check_out.ldap.jsonl", [{"base": udn(u), "scope": "base", "filter": ["eq", "memberOf", gdn(g)], "attrs": ["1.1"]}
                               for u, g in s["pairs_out"]])
write("user_groups.ldap.jsonl", [{"base": f"ou=groups,{BASE}", "scope": "sub", "filter": ["eq", "member", udn(u)], "attrs": ["cn"]}
                                 for u in s["users"]])
write("user_groups_trans.ldap.jsonl", [{"base": udn(u), "scope": "base", "filter": ["present", "objectClass"], "attrs": ["memberOf"]}
                                       for u in s["users"]])
write("page100_first.ldap.jsonl", [{"base": f"ou=users,{BASE}", "scope": "one", "filter": ["eq", "memberOf", gdn("big")],
                                    "attrs": ["uid", "cn", "mail"], "sizelimit": 100}])
write("page1000_first.ldap.jsonl", [{"base": f"ou=users,{BASE}", "scope": "one", "filter": ["eq", "memberOf", gdn("big")],
                                     "attrs": ["uid", "cn", "mail"], "sizelimit": 1000}])
# LDAP on both sides (bench/suite.sh rewrites ou=users to Roster's ou=people):
# a user entry's memberOf (slapd: the stored direct values), a 1 000-member
# group's member values, and the in-chain rule (Roster only; slapd answers
# the same questions with dynlist).
write("user_memberof.ldap.jsonl", [{"base": udn(u), "scope": "base", "filter": ["present", "objectClass"], "attrs": ["memberOf"]}
                                   for u in s["users"]])
write("group1000_members.ldap.jsonl", [{"base": gdn("sub1000"), "scope": "base", "filter": ["present", "objectClass"],
                                        "attrs": ["member"]}])
write("root_dse.ldap.jsonl", [{"base": "", "scope": "base", "filter": ["present", "objectClass"], "attrs": ["1.1"]}])
IN_CHAIN = "1.2.840.113556.1.4.1941"
write("check_in.chain.ldap.jsonl", [{"base": udn(u), "scope": "base", "filter": ["ext", "memberOf", IN_CHAIN, gdn(g)],
                                     "attrs": ["1.1"]} for u, g, _ in s["pairs_in"]])
write("check_out.chain.ldap.jsonl", [{"base": udn(u), "scope": "base", "filter": ["ext", "memberOf", IN_CHAIN, gdn(g)],
                                      "attrs": ["1.1"]} for u, g in s["pairs_out"]])
write("user_groups_trans.chain.ldap.jsonl", [{"base": f"ou=groups,{BASE}", "scope": "one",
                                              "filter": ["ext", "member", IN_CHAIN, udn(u)], "attrs": ["cn"]}
                                             for u in s["users"]])
json.dump(avail, open(os.path.join(work, "endpoints.json"), "w"))
print(json.dumps(avail))
