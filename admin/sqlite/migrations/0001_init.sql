-- Projects and namespaces as docs/configuration.md describes them.
CREATE TABLE projects (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL DEFAULT '',
    secret            TEXT NOT NULL,
    api_key           TEXT NOT NULL,
    default_namespace TEXT NOT NULL,
    auth_url          TEXT NOT NULL DEFAULT '',
    publish_hook_url  TEXT NOT NULL DEFAULT '',
    events_hook_url   TEXT NOT NULL DEFAULT '',
    -- JSON array of origins.
    allowed_origins   TEXT NOT NULL DEFAULT '[]',
    anonymous         INTEGER NOT NULL DEFAULT 0,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE namespaces (
    project_id     TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    publish        INTEGER NOT NULL DEFAULT 0,
    anonymous      INTEGER NOT NULL DEFAULT 0,
    presence       INTEGER NOT NULL DEFAULT 0,
    join_leave     INTEGER NOT NULL DEFAULT 0,
    history_size   INTEGER NOT NULL DEFAULT 100,
    -- Milliseconds.
    history_ttl_ms INTEGER NOT NULL DEFAULT 300000,
    watch          INTEGER NOT NULL DEFAULT 1,
    position       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, name)
);

-- One row, bumped by every write: other processes sharing the file poll it
-- to know when to reload their cache (docs/admin.md, Several nodes: a change reaches every node
-- within a second).
CREATE TABLE structure_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO structure_version (id, version) VALUES (1, 1);
