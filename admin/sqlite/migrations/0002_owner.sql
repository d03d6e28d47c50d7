-- A random id for this file, written once. A node that owns the structure
-- and copies it into the engine signs each snapshot with it, so a restart
-- of the same owner is told from a second owner on another file
-- (docs/scaling.md, One structure for every host).
CREATE TABLE structure_owner (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    owner TEXT NOT NULL
);
INSERT INTO structure_owner (id, owner) VALUES (1, lower(hex(randomblob(8))));
