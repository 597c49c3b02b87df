CREATE TABLE practices (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    patient_id    TEXT,
    created_at    TEXT NOT NULL
);

CREATE TABLE user_roles (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role    TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE memberships (
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    practice_id INTEGER NOT NULL REFERENCES practices(id),
    PRIMARY KEY (user_id, practice_id)
);

CREATE TABLE patient_practices (
    patient_id  TEXT NOT NULL,
    practice_id INTEGER NOT NULL REFERENCES practices(id),
    PRIMARY KEY (patient_id, practice_id)
);
CREATE INDEX patient_practices_by_practice ON patient_practices(practice_id, patient_id);

CREATE TABLE sessions (
    digest     BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
);

-- The current version of every FHIR resource; the JSON carries meta.versionId and meta.lastUpdated.
CREATE TABLE resources (
    type         TEXT NOT NULL,
    id           TEXT NOT NULL,
    version      INTEGER NOT NULL,
    last_updated TEXT NOT NULL,
    deleted      INTEGER NOT NULL DEFAULT 0,
    patient_id   TEXT,
    json         TEXT NOT NULL,
    PRIMARY KEY (type, id)
);
CREATE INDEX resources_by_patient ON resources(patient_id, type);

CREATE TABLE credentials (
    id                   TEXT PRIMARY KEY,
    kind                 TEXT NOT NULL,
    owner_id             INTEGER NOT NULL REFERENCES users(id),
    name                 TEXT NOT NULL,
    note                 TEXT,
    client_id            TEXT NOT NULL UNIQUE,
    secret_digest        BLOB NOT NULL,
    secret_hint          TEXT NOT NULL,
    previous_digest      BLOB,
    previous_valid_until TEXT,
    valid_from           TEXT,
    valid_to             TEXT,
    active               INTEGER NOT NULL,
    created_at           TEXT NOT NULL,
    created_by           INTEGER NOT NULL REFERENCES users(id),
    updated_at           TEXT NOT NULL,
    deleted_at           TEXT
);
-- Names are unique per owner among credentials that still exist.
CREATE UNIQUE INDEX credentials_owner_name ON credentials(owner_id, name) WHERE deleted_at IS NULL;

CREATE TABLE credential_patients (
    credential_id TEXT NOT NULL REFERENCES credentials(id),
    patient_id    TEXT NOT NULL,
    PRIMARY KEY (credential_id, patient_id)
);

CREATE TABLE access_tokens (
    digest        BLOB PRIMARY KEY,
    credential_id TEXT NOT NULL REFERENCES credentials(id),
    scope         TEXT NOT NULL,
    patient_id    TEXT,
    issued_at     TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    revoked_at    TEXT
);
CREATE INDEX access_tokens_by_credential ON access_tokens(credential_id);

-- Append-only: the triggers below refuse every UPDATE and DELETE.
CREATE TABLE audit (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    at             TEXT NOT NULL,
    kind           TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    actor_user_id  INTEGER,
    credential_id  TEXT,
    client_id      TEXT,
    token_digest   TEXT,
    patient_id     TEXT,
    resource_types TEXT NOT NULL DEFAULT '',
    count          INTEGER,
    detail         TEXT
);
CREATE INDEX audit_by_credential ON audit(credential_id, seq);
CREATE INDEX audit_by_patient ON audit(patient_id, seq);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
