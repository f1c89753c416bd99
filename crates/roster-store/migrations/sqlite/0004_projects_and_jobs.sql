-- Users as well as groups hold roles in projects; projects keep vendor
-- settings; each user carries the time their direct groups last changed
-- (a stamp clients echo back so a stale group list is refused, not
-- written); jobs record the outcome of operations clients poll for.
ALTER TABLE users ADD COLUMN groups_changed_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';

CREATE TABLE project_bindings_v2 (
    num        INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BLOB NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    group_id   BLOB REFERENCES groups (id) ON DELETE CASCADE,
    user_id    BLOB REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    CHECK ((group_id IS NULL) <> (user_id IS NULL))
);
INSERT INTO project_bindings_v2 (num, project_id, group_id, user_id, role, created_at)
    SELECT num, project_id, group_id, NULL, role, created_at FROM project_bindings;
DROP TABLE project_bindings;
ALTER TABLE project_bindings_v2 RENAME TO project_bindings;
CREATE UNIQUE INDEX project_bindings_group_key ON project_bindings (project_id, group_id) WHERE group_id IS NOT NULL;
CREATE UNIQUE INDEX project_bindings_user_key ON project_bindings (project_id, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX project_bindings_by_group ON project_bindings (group_id) WHERE group_id IS NOT NULL;
CREATE INDEX project_bindings_by_user ON project_bindings (user_id) WHERE user_id IS NOT NULL;

CREATE TABLE jobs (
    num        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         BLOB NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    state      TEXT NOT NULL,
    params     TEXT NOT NULL,
    result     TEXT,
    actor      BLOB,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
