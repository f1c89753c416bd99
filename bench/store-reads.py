#!/usr/bin/env python3
"""What the store's transitive reads cost on a populated SQLite file (one
that bench/load.sh kept with KEEP=dir): the statements a server runs before
its in-memory index is loaded (afterwards the index answers them), timed
through Python's sqlite3 (the statements' text as the store sends them; the
planner is Python's SQLite build, not the bundled one, so read the figures
as an order of magnitude). A file from before migration 0010 (with
`user_closure`) is read with that schema's statements, a later one with the
joins of `memberships` and `group_closure` that replaced them.

    python3 bench/store-reads.py FILE.db [REPEAT=5]

Prints one line per question: the median and the slowest of REPEAT runs.
"""
import re
import sqlite3
import statistics
import sys
import time

OLD = {
    "members_page": "SELECT u.* FROM user_closure uc JOIN users u ON u.id = uc.user_id "
    "WHERE uc.group_id = ? AND uc.user_num > ? ORDER BY uc.user_num LIMIT ?",
    "members_count": "SELECT n_all_members FROM groups WHERE id = ?",
    "groups_page": "SELECT groups.* FROM user_closure uc JOIN groups ON groups.id = uc.group_id "
    "WHERE uc.user_id = ? AND groups.num > ? ORDER BY groups.num LIMIT ?",
    "groups_count": "SELECT COUNT(*) FROM user_closure WHERE user_id = ?",
    "check": "SELECT COUNT(*) FROM user_closure WHERE group_id = ? AND user_id = ?",
}
USERS_AT_ANY_DEPTH = (
    "SELECT m.user_id FROM group_closure c JOIN memberships m ON m.group_id = c.descendant "
    "WHERE c.ancestor = $1 AND m.user_id IS NOT NULL"
)
GROUPS_AT_ANY_DEPTH = (
    "SELECT c.ancestor FROM memberships m JOIN group_closure c ON c.descendant = m.group_id WHERE m.user_id"
)
NEW = {
    "members_page": f"SELECT * FROM users WHERE id IN ({USERS_AT_ANY_DEPTH}) AND num > $2 ORDER BY num LIMIT $3",
    "members_count": f"SELECT COUNT(*) FROM ({USERS_AT_ANY_DEPTH} GROUP BY m.user_id) AS x",
    "groups_page": f"SELECT * FROM groups WHERE id IN ({GROUPS_AT_ANY_DEPTH} = $1) AND groups.num > $2 "
    "ORDER BY groups.num LIMIT $3",
    "groups_count": f"SELECT COUNT(*) FROM ({GROUPS_AT_ANY_DEPTH} = $1 GROUP BY c.ancestor) AS x",
    "check": f"SELECT COUNT(*) FROM ({GROUPS_AT_ANY_DEPTH} = $2 AND c.ancestor = $1 LIMIT 1) AS x",
}


def timed(db, sql, args, repeat):
    # `$n` as the store writes it is SQLite's `?n` (bound by number).
    sql = re.sub(r"\$(\d)", r"?\1", sql)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        rows = db.execute(sql, args).fetchall()
        times.append(time.perf_counter() - t)
    return statistics.median(times), max(times), rows


def main():
    path = sys.argv[1]
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    old = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'user_closure'").fetchone() is not None
    q = OLD if old else NEW
    gid = lambda name: db.execute("SELECT id FROM groups WHERE name = ?", (name,)).fetchone()[0]
    uid = lambda name: db.execute("SELECT id FROM users WHERE username = ?", (name,)).fetchone()[0]
    max_num = db.execute("SELECT MAX(num) FROM users").fetchone()[0]
    # The root of the forest with the most users below it, and a leaf.
    root = db.execute(
        "SELECT c.ancestor FROM group_closure c JOIN groups g ON g.id = c.ancestor WHERE g.name LIKE 'grp%' "
        "GROUP BY c.ancestor ORDER BY COUNT(*) DESC LIMIT 1"
    ).fetchone()[0]
    leaf = gid("grp%06d" % (db.execute("SELECT COUNT(*) FROM groups WHERE name LIKE 'grp%'").fetchone()[0] - 1))
    user = uid("user0000042")
    print(f"# {path}: {'user_closure (before 0010)' if old else 'memberships x group_closure (0010)'}, "
          f"SQLite {sqlite3.sqlite_version}, median / slowest of {repeat}")
    cases = [
        ("first 100 members of big at any depth", "members_page", (gid("big"), 0, 101)),
        ("last 100 members of big at any depth", "members_page", (gid("big"), max_num - 100, 101)),
        ("count of big's members at any depth", "members_count", (gid("big"),)),
        ("first 100 members at any depth of the largest forest root", "members_page", (root, 0, 101)),
        ("count of that root's members at any depth", "members_count", (root,)),
        ("first 100 members at any depth of a leaf group", "members_page", (leaf, 0, 101)),
        ("a user's groups at any depth (first page)", "groups_page", (user, 0, 101)),
        ("count of a user's groups at any depth", "groups_count", (user,)),
        ("check: user in the forest root at any depth", "check", (root, user)),
    ]
    for label, key, args in cases:
        med, worst, rows = timed(db, q[key], args, repeat)
        n = rows[0][0] if key.endswith("count") or key == "check" else len(rows)
        print(f"| {label} | {med * 1000:.2f} ms | {worst * 1000:.2f} ms | {n} |")


if __name__ == "__main__":
    main()
