-- Users: folded first and last names (prefix search over username, first
-- or last name), a finer role label, and a password hash for platforms
-- that log users in with one.
ALTER TABLE users ADD COLUMN first_key TEXT COLLATE "C";
ALTER TABLE users ADD COLUMN last_key TEXT COLLATE "C";
ALTER TABLE users ADD COLUMN role_label TEXT;
ALTER TABLE users ADD COLUMN password_hash TEXT;
CREATE INDEX users_by_first_name ON users (first_key) WHERE first_key IS NOT NULL;
CREATE INDEX users_by_last_name ON users (last_key) WHERE last_key IS NOT NULL;
