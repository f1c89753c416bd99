-- Roster's directory schema for SQLite.
-- Every entity has `num` (a never-reused integer, the keyset tiebreak and
-- the numeric id some front-ends show) and `id` (the UUID everyone else
-- sees). Names are compared through `*_key` columns, case-folded in Rust
-- (SQLite's NOCASE folds ASCII only). Unique constraints are named
-- `<table>_<field>_key` so errors name the field.

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, value) VALUES
    ('users', 0), ('groups', 0), ('roles', 0), ('organizations', 1),
    ('projects', 0), ('keys', 0), ('events', 0);

CREATE TABLE organizations (
    num        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         BLOB NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL,
    slug       TEXT NOT NULL CONSTRAINT organizations_slug_key UNIQUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX organizations_by_name ON organizations (name_key, num);
-- The default organization (see roster_core::DEFAULT_ORG_ID).
INSERT INTO organizations (id, name, name_key, slug, created_at, updated_at)
VALUES (X'00000000000070008000000000000001', 'Default', 'default', 'default',
        CAST(strftime('%s','now') AS INTEGER) * 1000000, CAST(strftime('%s','now') AS INTEGER) * 1000000);

CREATE TABLE groups (
    num           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            BLOB NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    name_key      TEXT NOT NULL CONSTRAINT groups_name_key UNIQUE,
    unique_id     TEXT CONSTRAINT groups_unique_id_key UNIQUE,
    slug          TEXT,
    description   TEXT,
    org_id        BLOB NOT NULL REFERENCES organizations (id),
    source_type   TEXT NOT NULL,
    attributes    TEXT NOT NULL,
    created_by    BLOB,
    updated_by    BLOB,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    version       INTEGER NOT NULL,
    n_members     INTEGER NOT NULL DEFAULT 0,
    n_admins      INTEGER NOT NULL DEFAULT 0,
    n_children    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX groups_by_org ON groups (org_id);

CREATE TABLE users (
    num           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            BLOB NOT NULL UNIQUE,
    username      TEXT NOT NULL,
    username_key  TEXT NOT NULL CONSTRAINT users_username_key UNIQUE,
    email         TEXT,
    first_name    TEXT,
    last_name     TEXT,
    display_name  TEXT,
    active        INTEGER NOT NULL,
    site_role     TEXT NOT NULL,
    primary_group BLOB REFERENCES groups (id) ON DELETE SET NULL,
    external_id   TEXT CONSTRAINT users_external_id_key UNIQUE,
    attributes    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    version       INTEGER NOT NULL,
    n_groups      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX users_site_admins ON users (site_role, active);
CREATE INDEX users_primary_group ON users (primary_group);

-- One edge of the graph: a user (user_id) or a group (child_id) in group_id.
CREATE TABLE memberships (
    num         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          BLOB NOT NULL UNIQUE,
    group_id    BLOB NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id     BLOB REFERENCES users (id) ON DELETE CASCADE,
    child_id    BLOB REFERENCES groups (id) ON DELETE CASCADE,
    role        TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CHECK ((user_id IS NULL) <> (child_id IS NULL))
);
CREATE UNIQUE INDEX memberships_user_key ON memberships (group_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX memberships_child_key ON memberships (group_id, child_id) WHERE child_id IS NOT NULL;
CREATE INDEX memberships_users_in_group ON memberships (group_id, num) WHERE user_id IS NOT NULL;
CREATE INDEX memberships_children_in_group ON memberships (group_id, num) WHERE child_id IS NOT NULL;
CREATE INDEX memberships_of_user ON memberships (user_id, num) WHERE user_id IS NOT NULL;
CREATE INDEX memberships_of_child ON memberships (child_id) WHERE child_id IS NOT NULL;

CREATE TABLE roles (
    num         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          BLOB NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL CONSTRAINT roles_name_key UNIQUE,
    description TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE group_roles (
    group_id BLOB NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    role_id  BLOB NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, role_id)
) WITHOUT ROWID;
CREATE INDEX group_roles_by_role ON group_roles (role_id);

CREATE TABLE projects (
    num         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          BLOB NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL CONSTRAINT projects_name_key UNIQUE,
    description TEXT,
    org_id      BLOB NOT NULL REFERENCES organizations (id),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX projects_by_org ON projects (org_id);

CREATE TABLE project_bindings (
    num        INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BLOB NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    group_id   BLOB NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    CONSTRAINT project_bindings_group_key UNIQUE (project_id, group_id)
);
CREATE INDEX project_bindings_by_group ON project_bindings (group_id);

CREATE TABLE shares (
    num        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         BLOB NOT NULL UNIQUE,
    group_id   BLOB NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id    BLOB REFERENCES users (id) ON DELETE CASCADE,
    to_group   BLOB REFERENCES groups (id) ON DELETE CASCADE,
    level      INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    CHECK ((user_id IS NULL) <> (to_group IS NULL))
);
CREATE UNIQUE INDEX shares_user_key ON shares (group_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX shares_group_key ON shares (group_id, to_group) WHERE to_group IS NOT NULL;
CREATE INDEX shares_by_user ON shares (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX shares_by_group ON shares (to_group) WHERE to_group IS NOT NULL;

CREATE TABLE api_keys (
    num        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         BLOB NOT NULL UNIQUE,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    digest     TEXT NOT NULL CONSTRAINT api_keys_digest_key UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE INDEX api_keys_by_user ON api_keys (user_id, num);

-- The append-only change log; `seq` is the change-feed position, taken
-- from the `events` counter row so that it is gapless and in commit order.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor       BLOB,
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    before      TEXT,
    after       TEXT
);
