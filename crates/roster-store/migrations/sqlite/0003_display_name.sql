-- Users: the folded display name, so a prefix search also finds users by
-- the name platforms such as Box show.
ALTER TABLE users ADD COLUMN display_key TEXT;
CREATE INDEX users_by_display_name ON users (display_key) WHERE display_key IS NOT NULL;
