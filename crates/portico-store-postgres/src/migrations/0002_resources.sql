-- FHIR resources, their search index and the patient directory: the schema SQLite reached by its
-- migration 0011 (0001 resources, 0002 live index, 0003 rid key and search index, 0011 directory), with the
-- same table and column names.
--
-- Text that is searched by range or sorted is declared COLLATE "C": comparisons and ORDER BY are then
-- bytewise (code point order for UTF-8), as SQLite's are, whatever the database's locale, and the indexes
-- serve prefix ranges (`folded >= $1 AND folded < $2`) and sorts without a COLLATE in every statement.

-- The current version of every FHIR resource; the JSON carries meta.versionId and meta.lastUpdated.
-- `rid` never changes for a (type, id), so the index tables can point at it.
CREATE TABLE resources (
    rid          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type         TEXT COLLATE "C" NOT NULL,
    id           TEXT COLLATE "C" NOT NULL,
    version      BIGINT NOT NULL,
    last_updated TEXT COLLATE "C" NOT NULL,
    deleted      BOOLEAN NOT NULL DEFAULT false,
    patient_id   TEXT COLLATE "C",
    json         TEXT NOT NULL,
    UNIQUE (type, id)
);
CREATE INDEX resources_by_patient ON resources(patient_id, type);
-- Unfiltered searches count and page the live resources of one type in id order.
CREATE INDEX resources_live_by_type ON resources(type, id, patient_id) WHERE NOT deleted;

-- Search index: the values of every search parameter of every live resource, written in the same
-- transaction as the resource. One table per parameter kind, keyed (rid, param, ord) so that rewriting a
-- resource's entries and the per-resource probes of a search are range reads; the `_lookup` index serves
-- a search by value. `ord` only makes the key unique.

-- token: system (NULL when the element has none) and code/value.
CREATE TABLE search_token (
    rid    BIGINT NOT NULL,
    param  TEXT COLLATE "C" NOT NULL,
    ord    BIGINT NOT NULL,
    type   TEXT COLLATE "C" NOT NULL,
    system TEXT COLLATE "C",
    code   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (rid, param, ord)
);
CREATE INDEX search_token_lookup ON search_token(type, param, code, system);

-- date: the element's half-open range [start, end) in epoch milliseconds (open ends are the smallest and
-- largest 64-bit integers).
CREATE TABLE search_date (
    rid   BIGINT NOT NULL,
    param TEXT COLLATE "C" NOT NULL,
    ord   BIGINT NOT NULL,
    type  TEXT COLLATE "C" NOT NULL,
    start BIGINT NOT NULL,
    "end" BIGINT NOT NULL,
    PRIMARY KEY (rid, param, ord)
);
CREATE INDEX search_date_lookup ON search_date(type, param, start, "end");

-- reference: the target's type and id. The `$shared` pseudo-parameter lists every reference to a shared
-- resource (Organization, Practitioner, …), for `$everything`.
CREATE TABLE search_reference (
    rid         BIGINT NOT NULL,
    param       TEXT COLLATE "C" NOT NULL,
    ord         BIGINT NOT NULL,
    type        TEXT COLLATE "C" NOT NULL,
    target_type TEXT COLLATE "C" NOT NULL,
    target_id   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (rid, param, ord)
);
CREATE INDEX search_reference_lookup ON search_reference(type, param, target_id, target_type);

-- string: each textual part, folded (case and accents) for prefix and contains, raw for :exact.
CREATE TABLE search_string (
    rid    BIGINT NOT NULL,
    param  TEXT COLLATE "C" NOT NULL,
    ord    BIGINT NOT NULL,
    type   TEXT COLLATE "C" NOT NULL,
    folded TEXT COLLATE "C" NOT NULL,
    raw    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (rid, param, ord)
);
CREATE INDEX search_string_lookup ON search_string(type, param, folded);

-- The patient directory: what a picker shows and searches of each live Patient, written in the same
-- transaction as the Patient. Rows point at their resource by `rid`.
CREATE TABLE patient_directory (
    rid        BIGINT PRIMARY KEY,
    patient_id TEXT COLLATE "C" NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    -- The display name folded (case and accents): the order of a list.
    sort_key   TEXT COLLATE "C" NOT NULL,
    birth_date TEXT COLLATE "C",
    gender     TEXT,
    mrn        TEXT,
    -- The MRN folded, for case-insensitive prefix search.
    mrn_key    TEXT COLLATE "C"
);
CREATE INDEX patient_directory_by_name ON patient_directory(sort_key, patient_id);
CREATE INDEX patient_directory_by_birth ON patient_directory(birth_date) WHERE birth_date IS NOT NULL;
CREATE INDEX patient_directory_by_mrn ON patient_directory(mrn_key) WHERE mrn_key IS NOT NULL;

-- Every folded word of every name of a Patient in the directory: a word prefix is one range of this key.
CREATE TABLE patient_name_words (
    word TEXT COLLATE "C" NOT NULL,
    rid  BIGINT NOT NULL,
    PRIMARY KEY (word, rid)
);
CREATE INDEX patient_name_words_by_rid ON patient_name_words(rid);
