-- Search index: the values of every search parameter of every live resource, written in the same
-- transaction as the resource (see `resources.rs`), so a search is an indexed query, never a scan that
-- parses JSON. Entries point at their resource by `rid`.
--
-- `resources` is rebuilt with an explicit INTEGER PRIMARY KEY: an implicit rowid may change on VACUUM,
-- an explicit one never does, so the index can rely on it. (type, id) stays unique, so every existing
-- statement (including `ON CONFLICT(type, id)`) works unchanged.
CREATE TABLE resources_v3 (
    rid          INTEGER PRIMARY KEY,
    type         TEXT NOT NULL,
    id           TEXT NOT NULL,
    version      INTEGER NOT NULL,
    last_updated TEXT NOT NULL,
    deleted      INTEGER NOT NULL DEFAULT 0,
    patient_id   TEXT,
    json         TEXT NOT NULL,
    UNIQUE (type, id)
);
INSERT INTO resources_v3(type, id, version, last_updated, deleted, patient_id, json)
    SELECT type, id, version, last_updated, deleted, patient_id, json FROM resources ORDER BY type, id;
DROP TABLE resources;
ALTER TABLE resources_v3 RENAME TO resources;
CREATE INDEX resources_by_patient ON resources(patient_id, type);
CREATE INDEX resources_live_by_type ON resources(type, id, patient_id) WHERE deleted = 0;

-- One table per parameter kind. Each is clustered by (rid, param) so that writing, deleting and the
-- per-resource probes of a search (EXISTS, sort keys) are range reads; the `_lookup` index serves
-- the driving lookup of a search by value. `ord` only makes the key unique.

-- token: system (NULL when the element has none) and code/value.
CREATE TABLE search_token (
    rid    INTEGER NOT NULL,
    param  TEXT NOT NULL,
    ord    INTEGER NOT NULL,
    type   TEXT NOT NULL,
    system TEXT,
    code   TEXT NOT NULL,
    PRIMARY KEY (rid, param, ord)
) WITHOUT ROWID;
CREATE INDEX search_token_lookup ON search_token(type, param, code, system);

-- date: the element's half-open range [start, end) in epoch milliseconds (open ends are the
-- smallest and largest 64-bit integers).
CREATE TABLE search_date (
    rid   INTEGER NOT NULL,
    param TEXT NOT NULL,
    ord   INTEGER NOT NULL,
    type  TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    PRIMARY KEY (rid, param, ord)
) WITHOUT ROWID;
CREATE INDEX search_date_lookup ON search_date(type, param, start, "end");

-- reference: the target's type and id. The `$shared` pseudo-parameter lists every reference to a
-- shared resource (Organization, Practitioner, …), for `$everything`.
CREATE TABLE search_reference (
    rid         INTEGER NOT NULL,
    param       TEXT NOT NULL,
    ord         INTEGER NOT NULL,
    type        TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    PRIMARY KEY (rid, param, ord)
) WITHOUT ROWID;
CREATE INDEX search_reference_lookup ON search_reference(type, param, target_id, target_type);

-- string: each textual part, folded (case and accents) for prefix and contains, raw for :exact.
CREATE TABLE search_string (
    rid    INTEGER NOT NULL,
    param  TEXT NOT NULL,
    ord    INTEGER NOT NULL,
    type   TEXT NOT NULL,
    folded TEXT NOT NULL,
    raw    TEXT NOT NULL,
    PRIMARY KEY (rid, param, ord)
) WITHOUT ROWID;
CREATE INDEX search_string_lookup ON search_string(type, param, folded);
