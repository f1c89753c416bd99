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

ALTER TABLE user_closure DROP CONSTRAINT user_closure_pkey;
ALTER TABLE user_closure ADD PRIMARY KEY (group_id, user_num);
DROP INDEX user_closure_members;
DROP INDEX user_closure_of_user;
CREATE UNIQUE INDEX user_closure_of_user ON user_closure (user_id, group_id);

-- n_all_members moves once per group per statement, not once per row: a
-- bulk insert of 5 000 closure rows into one large group rewrote that
-- group's row 5 000 times.
DROP TRIGGER user_closure_added ON user_closure;
DROP TRIGGER user_closure_removed ON user_closure;
DROP FUNCTION user_closure_count();
CREATE FUNCTION user_closure_rows_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE groups g SET n_all_members = g.n_all_members + d.n
    FROM (SELECT group_id, COUNT(*) AS n FROM added GROUP BY group_id) d WHERE g.id = d.group_id;
    RETURN NULL;
END $$;
CREATE FUNCTION user_closure_rows_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE groups g SET n_all_members = g.n_all_members - d.n
    FROM (SELECT group_id, COUNT(*) AS n FROM removed GROUP BY group_id) d WHERE g.id = d.group_id;
    RETURN NULL;
END $$;
CREATE TRIGGER user_closure_added AFTER INSERT ON user_closure
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION user_closure_rows_added();
CREATE TRIGGER user_closure_removed AFTER DELETE ON user_closure
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION user_closure_rows_removed();
