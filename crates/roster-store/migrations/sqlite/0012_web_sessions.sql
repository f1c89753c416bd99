-- Signed-in sessions of the web console. A session is known only by the
-- SHA-256 digest of its random token (the browser's cookie holds the
-- token). It belongs to a user and, when it was made from an API key, to
-- that key: deleting either deletes it. Kept in the store, not in a
-- server's memory, so sessions survive a restart and every server on one
-- PostgreSQL database accepts them.
CREATE TABLE web_sessions (
    digest     TEXT PRIMARY KEY,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key_id     BLOB REFERENCES api_keys (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);
CREATE INDEX web_sessions_by_user ON web_sessions (user_id);
CREATE INDEX web_sessions_by_key ON web_sessions (key_id);
