#!/usr/bin/env python3
"""Deterministic directory for bench/suite.sh: the same data as NDJSON (for
`roster import`) and as LDIF (for slapadd), plus the name lists the load
runs rotate over. Everything comes from random.Random(SEED); the same
arguments always give byte-identical files.

Shape (N users, G groups, depth D, K direct groups per user):
  users     user0000000 .. : N users, inetOrgPerson in LDAP
  big       one group with every user as a direct member, in user order
            (so the first member page is user0000000.., the last the highest)
  grp000000 ..: G groups in a forest of D+1 levels; level l holds about
            G * 2^l / (2^(D+1) - 1) groups (at least 1), and every group of
            level l > 0 is the child of one random group of level l - 1, so
            each leaf has a chain of exactly D ancestors
  members   each user is a direct member of K random groups (uniform over
            all G, so mostly deep ones)
  sub1000   a group with users 0..999 (SCIM 1 000-member read)
  bulkadd   an empty group; bulk.ndjson adds users 0..9999 to it later
  bulkscim  an empty group for the SCIM PATCH bulk add

Outputs in OUT_DIR: directory.ndjson, directory.ldif, bulk.ndjson,
samples.json (sampled users, their member and non-member groups, groups
to read) and shape.json.
"""
import json
import os
import random
import sys

BASE = "dc=bench,dc=local"


def main():
    out, n_users, n_groups, depth, per_user, seed, n_sample = sys.argv[1:8]
    n_users, n_groups, depth, per_user, seed, n_sample = map(int, (n_users, n_groups, depth, per_user, seed, n_sample))
    rnd = random.Random(seed)
    uname = lambda i: f"user{i:07d}"
    gname = lambda g: f"grp{g:06d}"

    # Levels of the forest.
    weights = [2**lvl for lvl in range(depth + 1)]
    total_w = sum(weights)
    sizes = [max(1, round(n_groups * w / total_w)) for w in weights]
    sizes[-1] += n_groups - sum(sizes)  # the deepest level takes the rounding
    assert sizes[-1] >= 1, "too few groups for this depth"
    level_of, parent, levels, g = [], [], [], 0
    for lvl, size in enumerate(sizes):
        levels.append(list(range(g, g + size)))
        for _ in range(size):
            level_of.append(lvl)
            parent.append(rnd.choice(levels[lvl - 1]) if lvl > 0 else -1)
            g += 1

    def chain(grp):  # the group and its ancestors, the group first
        out_ = []
        while grp >= 0:
            out_.append(grp)
            grp = parent[grp]
        return out_

    direct = [sorted(set(rnd.randrange(n_groups) for _ in range(per_user))) for _ in range(n_users)]

    j = lambda rec: json.dumps(rec, separators=(",", ":")) + "\n"
    with open(os.path.join(out, "directory.ndjson"), "w") as f:
        w = f.write
        for i in range(n_users):
            w(j({"type": "user", "username": uname(i), "email": f"{uname(i)}@example.com"}))
        for name in ("big", "sub1000", "bulkadd", "bulkscim"):
            w(j({"type": "group", "name": name}))
        for grp in range(n_groups):
            w(j({"type": "group", "name": gname(grp)}))
        for grp in range(n_groups):
            if parent[grp] >= 0:
                w(j({"type": "child", "parent": gname(parent[grp]), "child": gname(grp)}))
        for i in range(n_users):
            w(j({"type": "member", "group": "big", "user": uname(i), "role": "member"}))
        for i in range(min(1000, n_users)):
            w(j({"type": "member", "group": "sub1000", "user": uname(i), "role": "member"}))
        for i in range(n_users):
            for grp in direct[i]:
                w(j({"type": "member", "group": gname(grp), "user": uname(i), "role": "member"}))

    with open(os.path.join(out, "bulk.ndjson"), "w") as f:
        for i in range(min(10000, n_users)):
            f.write(j({"type": "member", "group": "bulkadd", "user": uname(i), "role": "member"}))

    # LDIF: the same entries. Group members are user DNs, nested groups are
    # group DNs among the members (groupOfNames needs at least one member: an
    # empty group gets the empty DN, as is customary).
    udn = lambda i: f"uid={uname(i)},ou=users,{BASE}"
    gdn = lambda name: f"cn={name},ou=groups,{BASE}"
    members = [[] for _ in range(n_groups)]
    for i in range(n_users):
        for grp in direct[i]:
            members[grp].append(udn(i))
    for grp in range(n_groups):
        if parent[grp] >= 0:
            members[parent[grp]].append(gdn(gname(grp)))
    with open(os.path.join(out, "directory.ldif"), "w") as f:
        w = f.write
        w(f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: bench\no: bench\n\n")
        w(f"dn: ou=users,{BASE}\nobjectClass: organizationalUnit\nou: users\n\n")
        w(f"dn: ou=groups,{BASE}\nobjectClass: organizationalUnit\nou: groups\n\n")
        # memberOf holds the direct groups, as the memberof overlay keeps it
        # (slapadd runs no overlay, so it is written here).
        for i in range(n_users):
            w(f"dn: {udn(i)}\nobjectClass: inetOrgPerson\nuid: {uname(i)}\ncn: {uname(i)}\nsn: {uname(i)}\nmail: {uname(i)}@example.com\n")
            w(f"memberOf: {gdn('big')}\n")
            if i < 1000:
                w(f"memberOf: {gdn('sub1000')}\n")
            for grp in direct[i]:
                w(f"memberOf: {gdn(gname(grp))}\n")
            w("\n")

        def group(name, dns):
            w(f"dn: {gdn(name)}\nobjectClass: groupOfNames\ncn: {name}\n")
            if not dns:
                w("member:\n")
            for d in dns:
                w(f"member: {d}\n")
            w("\n")

        group("big", [udn(i) for i in range(n_users)])
        group("sub1000", [udn(i) for i in range(min(1000, n_users))])
        group("bulkadd", [])
        group("bulkscim", [])
        for grp in range(n_groups):
            group(gname(grp), members[grp])

    # Samples the load runs rotate over: a user, a group it is in at some
    # depth (a random one of the chain above one of its direct groups; the
    # depth is the chain position), and a group it is in at no depth.
    sample_users = sorted(rnd.sample(range(n_users), min(n_sample, n_users)))
    pairs_in, pairs_out = [], []
    for i in sample_users:
        c = chain(rnd.choice(direct[i]))
        d = rnd.randrange(len(c))
        pairs_in.append([uname(i), gname(c[d]), d])
        mine = set(x for grp in direct[i] for x in chain(grp))
        while True:
            other = rnd.randrange(n_groups)
            if other not in mine:
                break
        pairs_out.append([uname(i), gname(other)])
    read_groups = [gname(x) for x in rnd.sample(range(n_groups), min(n_sample, n_groups))]
    trans = {uname(i): sorted(set(gname(x) for grp in direct[i] for x in chain(grp))) for i in sample_users}
    direct_names = {uname(i): [gname(x) for x in direct[i]] for i in sample_users}
    with open(os.path.join(out, "samples.json"), "w") as f:
        json.dump({"users": [uname(i) for i in sample_users], "pairs_in": pairs_in, "pairs_out": pairs_out,
                   "read_groups": read_groups, "transitive": trans, "direct": direct_names}, f)
    memberships = n_users + min(1000, n_users) + sum(len(d) for d in direct)
    shape = {"users": n_users, "groups": n_groups + 4, "forest_levels": sizes, "depth": depth,
             "child_links": n_groups - sizes[0], "memberships": memberships, "seed": seed,
             "records": n_users + n_groups + 4 + (n_groups - sizes[0]) + memberships}
    with open(os.path.join(out, "shape.json"), "w") as f:
        json.dump(shape, f)
    print(json.dumps(shape))


if __name__ == "__main__":
    main()
