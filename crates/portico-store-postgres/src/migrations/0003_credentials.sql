-- Credentials (with every column SQLite's later migrations added: secret_generation and name_key from 0004,
-- app_id, scope and practice_id from 0007), their patient lists, the access tokens issued to them, and the
-- access-change notices (SQLite 0009): the schema SQLite reached by its migration 0011, same names.

CREATE TABLE credentials (
    id                   TEXT PRIMARY KEY,
    kind                 TEXT NOT NULL,
    owner_id             BIGINT NOT NULL REFERENCES users(id),
    name                 TEXT NOT NULL,
    note                 TEXT,
    client_id            TEXT NOT NULL UNIQUE,
    secret_digest        BYTEA NOT NULL,
    secret_hint          TEXT NOT NULL,
    previous_digest      BYTEA,
    previous_valid_until TEXT,
    valid_from           TEXT,
    valid_to             TEXT,
    active               BOOLEAN NOT NULL,
    created_at           TEXT NOT NULL,
    created_by           BIGINT NOT NULL REFERENCES users(id),
    updated_at           TEXT NOT NULL,
    deleted_at           TEXT,
    -- Which secret is current: 0 at creation, one more with each regeneration; a token records the
    -- generation that minted it and stops with that secret.
    secret_generation    BIGINT NOT NULL DEFAULT 0,
    -- The name as portico-domain's `name_key` folds it (Unicode-aware case folding); a grant's is
    -- U+001F "grant:" and its id, so it never collides. Always written here (SQLite has rows from before it).
    name_key             TEXT NOT NULL,
    -- Grants only: the app (its foreign key comes with the apps table, 0005), the scopes consented and the
    -- tenant base it was granted at (NULL: the global /fhir base).
    app_id               TEXT,
    scope                TEXT,
    practice_id          BIGINT REFERENCES practices(id)
);
-- Names are unique per owner among credentials that still exist, compared as their folded key.
CREATE UNIQUE INDEX credentials_owner_name_key ON credentials(owner_id, name_key) WHERE deleted_at IS NULL;
CREATE INDEX credentials_by_app ON credentials(app_id, owner_id) WHERE app_id IS NOT NULL;
-- Staff keys by owner (the visibility rule joins keys to their owners' memberships).
CREATE INDEX credentials_by_owner ON credentials(owner_id, kind) WHERE deleted_at IS NULL;

CREATE TABLE credential_patients (
    credential_id TEXT NOT NULL REFERENCES credentials(id),
    patient_id    TEXT NOT NULL,
    PRIMARY KEY (credential_id, patient_id)
);

CREATE TABLE access_tokens (
    digest            BYTEA PRIMARY KEY,
    credential_id     TEXT NOT NULL REFERENCES credentials(id),
    scope             TEXT NOT NULL,
    patient_id        TEXT,
    issued_at         TEXT NOT NULL,
    expires_at        TEXT NOT NULL,
    revoked_at        TEXT,
    secret_generation BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX access_tokens_by_credential ON access_tokens(credential_id);
-- Expired tokens are pruned by expiry (instants compare as text, byte by byte).
CREATE INDEX access_tokens_by_expiry ON access_tokens(expires_at COLLATE "C");

-- Notices of what changed in a credential's effective access when an administrator changed its owner's roles
-- or practices, written in the transaction of the change. `diff` is portico_domain::AccessDiff as JSON. The
-- owner acknowledges a notice once; otherwise the rows never change and are never deleted.
CREATE TABLE access_changes (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    credential_id   TEXT NOT NULL REFERENCES credentials(id),
    owner_id        BIGINT NOT NULL REFERENCES users(id),
    changed_by      BIGINT REFERENCES users(id),
    cause           TEXT NOT NULL CHECK (cause IN ('roles', 'practices')),
    at              TEXT NOT NULL,
    diff            TEXT NOT NULL,
    acknowledged_at TEXT
);
CREATE INDEX access_changes_unacknowledged ON access_changes(owner_id, id) WHERE acknowledged_at IS NULL;
CREATE INDEX access_changes_by_time ON access_changes(at COLLATE "C");

-- The practices a notice concerns (its owner's before and after the change): whose administrators see it.
CREATE TABLE access_change_practices (
    change_id   BIGINT NOT NULL REFERENCES access_changes(id),
    practice_id BIGINT NOT NULL REFERENCES practices(id),
    PRIMARY KEY (practice_id, change_id)
);

-- Refuses the statement with the message given as the trigger's argument (the notices' append-only rules).
CREATE FUNCTION access_changes_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0];
END;
$$;

CREATE TRIGGER access_changes_no_delete BEFORE DELETE ON access_changes
FOR EACH ROW EXECUTE FUNCTION access_changes_refuse('access change notices are append-only');
CREATE TRIGGER access_changes_only_acknowledged BEFORE UPDATE ON access_changes
FOR EACH ROW WHEN (OLD.acknowledged_at IS NOT NULL OR NEW.acknowledged_at IS NULL
    OR NEW.id IS DISTINCT FROM OLD.id OR NEW.credential_id IS DISTINCT FROM OLD.credential_id
    OR NEW.owner_id IS DISTINCT FROM OLD.owner_id OR NEW.changed_by IS DISTINCT FROM OLD.changed_by
    OR NEW.cause IS DISTINCT FROM OLD.cause OR NEW.at IS DISTINCT FROM OLD.at OR NEW.diff IS DISTINCT FROM OLD.diff)
EXECUTE FUNCTION access_changes_refuse('an access change notice is only ever acknowledged, once');
CREATE TRIGGER access_change_practices_no_update BEFORE UPDATE ON access_change_practices
FOR EACH ROW EXECUTE FUNCTION access_changes_refuse('access change notices are append-only');
CREATE TRIGGER access_change_practices_no_delete BEFORE DELETE ON access_change_practices
FOR EACH ROW EXECUTE FUNCTION access_changes_refuse('access change notices are append-only');
-- TRUNCATE skips row triggers (SQLite has no such statement): refuse it too.
CREATE TRIGGER access_changes_no_truncate BEFORE TRUNCATE ON access_changes
FOR EACH STATEMENT EXECUTE FUNCTION access_changes_refuse('access change notices are append-only');
CREATE TRIGGER access_change_practices_no_truncate BEFORE TRUNCATE ON access_change_practices
FOR EACH STATEMENT EXECUTE FUNCTION access_changes_refuse('access change notices are append-only');
