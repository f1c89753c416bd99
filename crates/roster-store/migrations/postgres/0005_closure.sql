-- The flattened nesting graph, kept in step with memberships at write time
-- (the idea of Zanzibar's Leopard index): which groups reach which, by how
-- many paths (a reflexive row per group), and every user in every group at
-- any depth, by how many paths. Path counts make removals exact when a
-- group is reachable along several paths. `n_all_members` counts the
-- users in a group at any depth, kept by triggers.
CREATE TABLE group_closure (
    ancestor   UUID NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    descendant UUID NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    paths      BIGINT NOT NULL,
    PRIMARY KEY (ancestor, descendant)
);
CREATE INDEX group_closure_up ON group_closure (descendant, ancestor);

CREATE TABLE user_closure (
    group_id UUID NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_num BIGINT NOT NULL,
    paths    BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX user_closure_members ON user_closure (group_id, user_num);
CREATE INDEX user_closure_of_user ON user_closure (user_id, group_id);

ALTER TABLE groups ADD COLUMN n_all_members BIGINT NOT NULL DEFAULT 0;
CREATE FUNCTION user_closure_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE groups SET n_all_members = n_all_members + 1 WHERE id = NEW.group_id;
    ELSE
        UPDATE groups SET n_all_members = n_all_members - 1 WHERE id = OLD.group_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER user_closure_added AFTER INSERT ON user_closure
    FOR EACH ROW EXECUTE FUNCTION user_closure_count();
CREATE TRIGGER user_closure_removed AFTER DELETE ON user_closure
    FOR EACH ROW EXECUTE FUNCTION user_closure_count();

INSERT INTO group_closure (ancestor, descendant, paths) SELECT id, id, 1 FROM groups;
INSERT INTO group_closure (ancestor, descendant, paths)
WITH RECURSIVE walk (ancestor, descendant) AS (
    SELECT group_id, child_id FROM memberships WHERE child_id IS NOT NULL
    UNION ALL
    SELECT w.ancestor, m.child_id FROM walk w JOIN memberships m ON m.group_id = w.descendant
    WHERE m.child_id IS NOT NULL
)
SELECT ancestor, descendant, COUNT(*) FROM walk GROUP BY ancestor, descendant;
INSERT INTO user_closure (group_id, user_id, user_num, paths)
SELECT c.ancestor, m.user_id, u.num, SUM(c.paths)
FROM memberships m JOIN group_closure c ON c.descendant = m.group_id JOIN users u ON u.id = m.user_id
WHERE m.user_id IS NOT NULL
GROUP BY c.ancestor, m.user_id, u.num;
