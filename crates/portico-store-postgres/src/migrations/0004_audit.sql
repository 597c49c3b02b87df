-- The audit log, its daily counts of old reads and the per-minute counts of unauthenticated failures: the
-- schema SQLite reached by its migration 0011, with the same table and column names.
--
-- Instants, kinds and the other columns that are compared by range or ordered are `COLLATE "C"` in the
-- column itself, so every comparison and sort on them is SQLite's binary one whatever the database's
-- default collation, and their indexes serve those comparisons without a COLLATE in each query.

-- Append-only, enforced by the database (the triggers below), not only by the code that writes it. `seq`
-- is the log's order: history views sort by it.
CREATE TABLE audit (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             TEXT COLLATE "C" NOT NULL,
    kind           TEXT COLLATE "C" NOT NULL,
    outcome        TEXT COLLATE "C" NOT NULL,
    actor_user_id  BIGINT,
    credential_id  TEXT,
    client_id      TEXT,
    token_digest   TEXT,
    patient_id     TEXT,
    resource_types TEXT NOT NULL DEFAULT '',
    count          BIGINT,
    detail         TEXT
);
CREATE INDEX audit_by_credential ON audit(credential_id, seq);
CREATE INDEX audit_by_patient ON audit(patient_id, seq);
-- The roll-up finds old reads by time without scanning the rows kept forever; the index holds only reads,
-- and only until they are rolled up. `seq` breaks ties as SQLite's rowid does in its index on `at`.
CREATE INDEX audit_reads_by_time ON audit(at, seq) WHERE kind IN ('fhir_access', 'preview') AND outcome = 'ok';

-- Audit retention: successful reads older than the retention period, one row per UTC day, kind,
-- credential, client, patient and actor. Key columns are NOT NULL with '' / 0 standing for "none", because
-- NULLs never conflict in a key and the roll-up upserts by key.
CREATE TABLE audit_daily (
    day            TEXT COLLATE "C" NOT NULL,              -- YYYY-MM-DD, UTC
    kind           TEXT COLLATE "C" NOT NULL,
    credential_id  TEXT NOT NULL DEFAULT '',
    client_id      TEXT NOT NULL DEFAULT '',
    patient_id     TEXT NOT NULL DEFAULT '',
    actor_user_id  BIGINT NOT NULL DEFAULT 0,
    resource_types TEXT NOT NULL DEFAULT '',               -- merged "Type:n" counts, sorted by type
    events         BIGINT NOT NULL,                        -- audit rows rolled in
    resources      BIGINT NOT NULL,                        -- sum of their counts
    last_at        TEXT COLLATE "C" NOT NULL,              -- the newest rolled row's time
    last_seq       BIGINT NOT NULL,                        -- the newest rolled row's seq (history order)
    PRIMARY KEY (day, kind, credential_id, client_id, patient_id, actor_user_id)
);
CREATE INDEX audit_daily_by_credential ON audit_daily(credential_id, last_seq);
CREATE INDEX audit_daily_by_patient ON audit_daily(patient_id, last_seq);

-- Unauthenticated failures (a wrong password, a bad client secret), counted per minute, door and subject.
-- `subject` is an id Portico issued or a fixed label for unknown ones, never the presented string.
CREATE TABLE auth_failures (
    minute  TEXT COLLATE "C" NOT NULL,
    door    TEXT COLLATE "C" NOT NULL,
    subject TEXT COLLATE "C" NOT NULL,
    count   BIGINT NOT NULL,
    PRIMARY KEY (minute, door, subject)
);

-- Append-only enforcement. SQLite refuses every UPDATE and DELETE on `audit` by trigger and lets the
-- roll-up alone delete by dropping the DELETE trigger inside its own savepoint, for its own statements
-- only. Dropping a trigger here would lock the whole table against every other server's appends until the
-- transaction ends, so the one exception is made another way: `audit_roll_up_delete` below is the only
-- way rows leave `audit`. It runs with `portico.audit_roll_up` set for its own duration (a function's SET
-- clause: PostgreSQL restores the old value when the function returns or fails), and the DELETE trigger
-- lets a row go only while that is set and only if the row is a successful read, which is all the roll-up
-- ever removes. Any other DELETE, in any session, before or after, fails; an UPDATE or a TRUNCATE always
-- does.
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only (% on %)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;

CREATE FUNCTION audit_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('portico.audit_roll_up', true), '') = 'on'
       AND OLD.kind IN ('fhir_access', 'preview') AND OLD.outcome = 'ok' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only (DELETE on audit)'
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;

-- Deletes the given rows (reads the caller has just added to `audit_daily`); returns how many it deleted.
CREATE FUNCTION audit_roll_up_delete(seqs BIGINT[]) RETURNS BIGINT LANGUAGE plpgsql
SET portico.audit_roll_up = 'on' AS $$
DECLARE
    deleted BIGINT;
BEGIN
    DELETE FROM audit WHERE seq = ANY(seqs);
    GET DIAGNOSTICS deleted = ROW_COUNT;
    RETURN deleted;
END
$$;

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_delete();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
-- The daily counts are history too: they grow (the roll-up adds to them) and are never deleted.
CREATE TRIGGER audit_daily_no_delete BEFORE DELETE ON audit_daily
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_daily_no_truncate BEFORE TRUNCATE ON audit_daily
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
