-- The administrator's Users and staff-keys tables at clinic scale (hundreds of staff, thousands of patient
-- users): searched, filtered, sorted and paged by one SQL statement each.
--
-- When the person last signed in (any door: the management API, the desktop's browser sign-in, the SMART
-- authorization pages); NULL: never.
ALTER TABLE users ADD COLUMN last_sign_in_at TEXT;
-- The display name folded (case and accents, as FHIR string search folds), for search and "sort by name":
-- SQLite's lower() and NOCASE know ASCII only. Written by `create_user`; rows from before this migration get it
-- when the store opens (`Store::fill_user_folds`).
ALTER TABLE users ADD COLUMN name_fold TEXT;
CREATE INDEX users_by_name_fold ON users(name_fold, id);
CREATE INDEX users_by_last_sign_in ON users(last_sign_in_at, id);
CREATE INDEX users_by_created ON users(created_at, id);
CREATE INDEX users_by_patient ON users(patient_id) WHERE patient_id IS NOT NULL;
-- Who belongs to a practice, and who has a role: the visibility rule and the filters ask by practice and role.
CREATE INDEX memberships_by_practice ON memberships(practice_id, user_id);
CREATE INDEX user_roles_by_role ON user_roles(role, user_id);
-- Staff keys by owner (the visibility rule joins keys to their owners' memberships).
CREATE INDEX credentials_by_owner ON credentials(owner_id, kind) WHERE deleted_at IS NULL;
