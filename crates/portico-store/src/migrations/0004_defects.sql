-- Tokens belong to the secret that minted them. Each regeneration starts a new secret generation; a token
-- records the generation it was minted with, so it stops working when that secret does (at once, or when
-- its grace period ends). A credential already in a grace period when this runs gets generation 1, so its
-- existing tokens (which either secret may have minted) count as the previous secret's and stop when the
-- grace ends: the safe side of not knowing.
ALTER TABLE credentials ADD COLUMN secret_generation INTEGER NOT NULL DEFAULT 0;
UPDATE credentials SET secret_generation = 1 WHERE previous_digest IS NOT NULL;
ALTER TABLE access_tokens ADD COLUMN secret_generation INTEGER NOT NULL DEFAULT 0;

