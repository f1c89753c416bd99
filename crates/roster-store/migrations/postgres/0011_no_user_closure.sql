-- A user's groups at any depth are no longer kept at write time: they are
-- their direct groups (memberships) joined to those groups' ancestors
-- (group_closure), probed when a write or a store read asks. Every read of
-- a running server answers them from its in-memory index, which computes
-- them from the edges; the table was most of a bulk import's cost (one row
-- per user per ancestor group, in a tree led by the group). So it goes
-- (its triggers with it), and with it the count of users at any depth that
-- the triggers kept in the count slots.
DROP TABLE user_closure;
DROP FUNCTION user_closure_rows_added();
DROP FUNCTION user_closure_rows_removed();
DROP FUNCTION add_group_counts(UUID[], BIGINT, BIGINT, BIGINT);
DROP FUNCTION add_group_counts(UUID[], BIGINT[], BIGINT[], BIGINT[], BIGINT[]);
ALTER TABLE group_count_slots DROP COLUMN all_members;

-- Adds the same change to the direct counts of every group in `ids` (a
-- group named twice takes it twice), as 0008's did: in a slot of the group
-- no other transaction holds (SKIP LOCKED), or in a new one. A group
-- deleted meanwhile (in this transaction, by a cascade) is skipped.
CREATE FUNCTION add_group_counts(ids UUID[], d_members BIGINT, d_admins BIGINT, d_children BIGINT)
RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    WITH d AS (
        SELECT id, d_members * COUNT(*) AS m, d_admins * COUNT(*) AS a, d_children * COUNT(*) AS c
        FROM unnest(ids) AS u (id)
        GROUP BY id
    ), pick AS (
        SELECT d.*, s.slot FROM d CROSS JOIN LATERAL (
            SELECT slot FROM group_count_slots WHERE group_id = d.id LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED
        ) s
    ), done AS (
        -- By key, not by the locked version's ctid (see 0008).
        UPDATE group_count_slots g
        SET members = g.members + pick.m, admins = g.admins + pick.a, children = g.children + pick.c
        FROM pick WHERE g.group_id = pick.id AND g.slot = pick.slot
        RETURNING g.group_id
    )
    INSERT INTO group_count_slots (group_id, slot, members, admins, children)
    SELECT d.id, pg_current_xact_id()::TEXT::BIGINT, d.m, d.a, d.c FROM d
    WHERE d.id NOT IN (SELECT group_id FROM done) AND EXISTS (SELECT 1 FROM groups WHERE groups.id = d.id);
END $$;
