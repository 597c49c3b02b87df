-- Notices of what changed in a credential's effective access when an administrator changed its owner's roles
-- or practices (one row per credential whose access differs; none when nothing did), written in the
-- transaction of the change. `diff` is portico_domain::AccessDiff as JSON. The owner acknowledges a notice
-- once ("Got it"); otherwise the rows never change and are never deleted.
CREATE TABLE access_changes (
    id              INTEGER PRIMARY KEY,
    credential_id   TEXT NOT NULL REFERENCES credentials(id),
    owner_id        INTEGER NOT NULL REFERENCES users(id),
    changed_by      INTEGER REFERENCES users(id),
    cause           TEXT NOT NULL CHECK (cause IN ('roles', 'practices')),
    at              TEXT NOT NULL,
    diff            TEXT NOT NULL,
    acknowledged_at TEXT
);
CREATE INDEX access_changes_unacknowledged ON access_changes(owner_id, id) WHERE acknowledged_at IS NULL;
CREATE INDEX access_changes_by_time ON access_changes(at);

-- The practices a notice concerns (its owner's before and after the change): whose administrators see it.
CREATE TABLE access_change_practices (
    change_id   INTEGER NOT NULL REFERENCES access_changes(id),
    practice_id INTEGER NOT NULL REFERENCES practices(id),
    PRIMARY KEY (practice_id, change_id)
) WITHOUT ROWID;

CREATE TRIGGER access_changes_no_delete BEFORE DELETE ON access_changes
BEGIN SELECT RAISE(ABORT, 'access change notices are append-only'); END;
CREATE TRIGGER access_changes_only_acknowledged BEFORE UPDATE ON access_changes
WHEN OLD.acknowledged_at IS NOT NULL OR NEW.acknowledged_at IS NULL
  OR NEW.id IS NOT OLD.id OR NEW.credential_id IS NOT OLD.credential_id OR NEW.owner_id IS NOT OLD.owner_id
  OR NEW.changed_by IS NOT OLD.changed_by OR NEW.cause IS NOT OLD.cause OR NEW.at IS NOT OLD.at OR NEW.diff IS NOT OLD.diff
BEGIN SELECT RAISE(ABORT, 'an access change notice is only ever acknowledged, once'); END;
CREATE TRIGGER access_change_practices_no_update BEFORE UPDATE ON access_change_practices
BEGIN SELECT RAISE(ABORT, 'access change notices are append-only'); END;
CREATE TRIGGER access_change_practices_no_delete BEFORE DELETE ON access_change_practices
BEGIN SELECT RAISE(ABORT, 'access change notices are append-only'); END;
