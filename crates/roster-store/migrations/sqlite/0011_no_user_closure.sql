-- A user's groups at any depth are no longer kept at write time: they are
-- their direct groups (memberships) joined to those groups' ancestors
-- (group_closure), probed when a write or a store read asks. Every read of
-- a running server answers them from its in-memory index, which computes
-- them from the edges; the table was most of a bulk import's cost (one row
-- per user per ancestor group, in a tree led by the group). So it goes, and
-- with it the count of users at any depth that its triggers kept.
DROP TRIGGER IF EXISTS user_closure_added;
DROP TRIGGER IF EXISTS user_closure_removed;
DROP TABLE user_closure;
ALTER TABLE groups DROP COLUMN n_all_members;
