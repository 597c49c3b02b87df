-- The patient directory: what a picker shows and searches of each live Patient (display name, birth date,
-- gender, MRN, the folded words of its names), written in the same transaction as the Patient (see
-- `search::write_index`), so a search as you type is a few indexed lookups, never a parse of every Patient's
-- JSON. Rows point at their resource by `rid`; Patients stored before this migration are added in its
-- transaction (`directory::backfill`).
CREATE TABLE patient_directory (
    rid        INTEGER PRIMARY KEY,
    patient_id TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    -- The display name folded (case and accents): the order of a list.
    sort_key   TEXT NOT NULL,
    birth_date TEXT,
    gender     TEXT,
    mrn        TEXT,
    -- The MRN folded, for case-insensitive prefix search.
    mrn_key    TEXT
);
CREATE INDEX patient_directory_by_name ON patient_directory(sort_key, patient_id);
CREATE INDEX patient_directory_by_birth ON patient_directory(birth_date) WHERE birth_date IS NOT NULL;
CREATE INDEX patient_directory_by_mrn ON patient_directory(mrn_key) WHERE mrn_key IS NOT NULL;

-- Every folded word of every name of a Patient in the directory: a word prefix is one range of this key.
CREATE TABLE patient_name_words (
    word TEXT NOT NULL,
    rid  INTEGER NOT NULL,
    PRIMARY KEY (word, rid)
) WITHOUT ROWID;
CREATE INDEX patient_name_words_by_rid ON patient_name_words(rid);
