-- Audit retention. Successful reads (`fhir_access`, and `preview` with outcome 'ok') older than the retention
-- period are rolled into one row per UTC day, kind, credential, client, patient and actor, then deleted from
-- `audit` (`Store::roll_up_audit`, the only statement allowed to delete there). Everything else in `audit`
-- (tokens, credential changes, refusals, sign-ins) is kept forever. Key columns are NOT NULL with '' / 0
-- standing for "none", because NULLs never conflict in a key and the roll-up upserts by key. IF NOT EXISTS
-- throughout, so running this a second time is harmless.
CREATE TABLE IF NOT EXISTS audit_daily (
    day            TEXT NOT NULL,              -- YYYY-MM-DD, UTC
    kind           TEXT NOT NULL,
    credential_id  TEXT NOT NULL DEFAULT '',
    client_id      TEXT NOT NULL DEFAULT '',
    patient_id     TEXT NOT NULL DEFAULT '',
    actor_user_id  INTEGER NOT NULL DEFAULT 0,
    resource_types TEXT NOT NULL DEFAULT '',   -- merged "Type:n" counts, comma-separated, sorted by type
    events         INTEGER NOT NULL,           -- audit rows rolled in
    resources      INTEGER NOT NULL,           -- sum of their counts
    last_at        TEXT NOT NULL,              -- the newest rolled row's time (history order, "last used")
    last_seq       INTEGER NOT NULL,           -- the newest rolled row's seq, so history keeps the log's order
    PRIMARY KEY (day, kind, credential_id, client_id, patient_id, actor_user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS audit_daily_by_credential ON audit_daily(credential_id, last_seq);
CREATE INDEX IF NOT EXISTS audit_daily_by_patient ON audit_daily(patient_id, last_seq);
-- The daily counts are history too: they grow, and are never deleted.
CREATE TRIGGER IF NOT EXISTS audit_daily_no_delete BEFORE DELETE ON audit_daily BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
-- The roll-up finds old reads by time without scanning the rows kept forever; the index holds only reads,
-- and only until they are rolled up.
CREATE INDEX IF NOT EXISTS audit_reads_by_time ON audit(at) WHERE kind IN ('fhir_access', 'preview') AND outcome = 'ok';
