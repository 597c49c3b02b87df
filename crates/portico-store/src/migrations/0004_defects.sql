-- Tokens belong to the secret that minted them. Each regeneration starts a new secret generation; a token
-- records the generation it was minted with, so it stops working when that secret does (at once, or when
-- its grace period ends). A credential already in a grace period when this runs gets generation 1, so its
-- existing tokens (which either secret may have minted) count as the previous secret's and stop when the
-- grace ends: the safe side of not knowing.
ALTER TABLE credentials ADD COLUMN secret_generation INTEGER NOT NULL DEFAULT 0;
UPDATE credentials SET secret_generation = 1 WHERE previous_digest IS NOT NULL;
ALTER TABLE access_tokens ADD COLUMN secret_generation INTEGER NOT NULL DEFAULT 0;

-- Names are unique per owner as a reader sees them: compared case-folded (Unicode-aware, which SQLite's
-- lower() is not), so the folded key is computed by portico-domain and stored. Existing rows get their key
-- when the store opens (`Store::fill_name_keys`); until then a NULL key conflicts with nothing.
ALTER TABLE credentials ADD COLUMN name_key TEXT;
DROP INDEX credentials_owner_name;
CREATE UNIQUE INDEX credentials_owner_name_key ON credentials(owner_id, name_key) WHERE deleted_at IS NULL;
