-- Fewer index entries in random places per membership. A bulk load writes
-- memberships in user order, and user ids are time-ordered, so trees that
-- lead with the user grow at their end; every tree that leads with the group
-- takes each new row on a random page, and at 10^7 rows those page writes
-- are what an import waits on. So:
-- - a user's membership in a group is unique by (user, group), not
--   (group, user): the same rule, with the entries appended;
-- - user_closure is keyed by (group, user_num), the order its pages are
--   read in, and (group, user_id) goes: one group-led tree instead of two.
CREATE UNIQUE INDEX memberships_user_pair ON memberships (user_id, group_id) WHERE user_id IS NOT NULL;
DROP INDEX memberships_user_key;

CREATE TABLE user_closure_v2 (
    group_id BLOB NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_num INTEGER NOT NULL,
    user_id  BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    paths    INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_num)
) WITHOUT ROWID;
INSERT INTO user_closure_v2 (group_id, user_num, user_id, paths)
SELECT group_id, user_num, user_id, paths FROM user_closure;
DROP TABLE user_closure;
ALTER TABLE user_closure_v2 RENAME TO user_closure;
CREATE UNIQUE INDEX user_closure_of_user ON user_closure (user_id, group_id);
CREATE TRIGGER user_closure_added AFTER INSERT ON user_closure
BEGIN
    UPDATE groups SET n_all_members = n_all_members + 1 WHERE id = NEW.group_id;
END;
CREATE TRIGGER user_closure_removed AFTER DELETE ON user_closure
BEGIN
    UPDATE groups SET n_all_members = n_all_members - 1 WHERE id = OLD.group_id;
END;
