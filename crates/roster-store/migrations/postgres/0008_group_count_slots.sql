-- A group's counts (direct members, admins, nested groups, users at any
-- depth) leave the group's row for slots that are summed on read, so
-- membership changes to one group no longer queue on each other for them.
--
-- Every transaction that moves a group's counts adds its change to one of
-- the group's slots, chosen with SKIP LOCKED: the slot it holds already, or
-- one no other transaction holds, or else a new slot (numbered by its
-- transaction id, so two new slots never collide). No writer ever waits for
-- another on a count. A group gains a slot only while other transactions
-- hold every slot it has, so it never has more than were ever held at once.
CREATE TABLE group_count_slots (
    group_id    UUID NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    slot        BIGINT NOT NULL,
    members     BIGINT NOT NULL DEFAULT 0,
    admins      BIGINT NOT NULL DEFAULT 0,
    children    BIGINT NOT NULL DEFAULT 0,
    all_members BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, slot)
);
INSERT INTO group_count_slots (group_id, slot, members, admins, children, all_members)
SELECT id, 0, n_members, n_admins, n_children, n_all_members FROM groups
WHERE n_members <> 0 OR n_admins <> 0 OR n_children <> 0 OR n_all_members <> 0;

-- Adds the changes of groups `ids` (parallel arrays; a group may repeat) to
-- their counts. A group deleted meanwhile (in this transaction, by a
-- cascade) is skipped.
CREATE FUNCTION add_group_counts(ids UUID[], d_members BIGINT[], d_admins BIGINT[], d_children BIGINT[],
                                 d_all_members BIGINT[]) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    WITH d AS (
        SELECT id, SUM(m) AS m, SUM(a) AS a, SUM(c) AS c, SUM(al) AS al
        FROM unnest(ids, d_members, d_admins, d_children, d_all_members) AS u (id, m, a, c, al)
        GROUP BY id
    ), pick AS (
        SELECT d.*, s.slot FROM d CROSS JOIN LATERAL (
            SELECT slot FROM group_count_slots WHERE group_id = d.id LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED
        ) s
    ), done AS (
        -- By key, not by the locked version's ctid: a slot changed by a
        -- transaction that committed after this statement began is not the
        -- version the statement sees, and only a match by key follows it
        -- to the latest one.
        UPDATE group_count_slots g
        SET members = g.members + pick.m, admins = g.admins + pick.a, children = g.children + pick.c,
            all_members = g.all_members + pick.al
        FROM pick WHERE g.group_id = pick.id AND g.slot = pick.slot
        RETURNING g.group_id
    )
    INSERT INTO group_count_slots (group_id, slot, members, admins, children, all_members)
    SELECT d.id, pg_current_xact_id()::TEXT::BIGINT, d.m, d.a, d.c, d.al FROM d
    WHERE d.id NOT IN (SELECT group_id FROM done) AND EXISTS (SELECT 1 FROM groups WHERE groups.id = d.id);
END $$;

-- The same change to the direct counts of every group in `ids`.
CREATE FUNCTION add_group_counts(ids UUID[], d_members BIGINT, d_admins BIGINT, d_children BIGINT)
RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    n INTEGER := cardinality(ids);
BEGIN
    PERFORM add_group_counts(ids, array_fill(d_members, ARRAY[n]), array_fill(d_admins, ARRAY[n]),
                             array_fill(d_children, ARRAY[n]), array_fill(0::BIGINT, ARRAY[n]));
END $$;

-- The users-at-any-depth count moves with the closure rows, once per group
-- per statement, now into slots.
CREATE OR REPLACE FUNCTION user_closure_rows_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM add_group_counts(array_agg(group_id), array_agg(0::BIGINT), array_agg(0::BIGINT),
                             array_agg(0::BIGINT), array_agg(n))
    FROM (SELECT group_id, COUNT(*) AS n FROM added GROUP BY group_id) d;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION user_closure_rows_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM add_group_counts(array_agg(group_id), array_agg(0::BIGINT), array_agg(0::BIGINT),
                             array_agg(0::BIGINT), array_agg(-n))
    FROM (SELECT group_id, COUNT(*) AS n FROM removed GROUP BY group_id) d;
    RETURN NULL;
END $$;

ALTER TABLE groups DROP COLUMN n_members, DROP COLUMN n_admins, DROP COLUMN n_children, DROP COLUMN n_all_members;
