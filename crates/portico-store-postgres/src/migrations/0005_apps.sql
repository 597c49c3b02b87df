-- Third-party apps (SMART App Launch): registrations, practice approvals, what the OAuth flows keep between
-- requests (codes, refresh tokens, client-assertion ids), and the desktop app's browser sign-in: the schema
-- SQLite reached by its migrations 0007 and 0008, with the same table and column names.
--
-- Instants are TEXT in format_instant's fixed-width form, declared COLLATE "C" so that every comparison and
-- order on them (and the expiry indexes housekeeping walks) is SQLite's binary one whatever the database's
-- default collation is.

CREATE TABLE apps (
    id                   TEXT PRIMARY KEY,
    client_id            TEXT NOT NULL UNIQUE,
    owner_id             BIGINT NOT NULL REFERENCES users(id),
    name                 TEXT NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    homepage             TEXT,
    privacy_policy       TEXT,
    app_type             TEXT NOT NULL,      -- patient | system
    platform             TEXT NOT NULL,      -- web | native | browser | service
    client_auth          TEXT NOT NULL,      -- none | client_secret_basic | client_secret_post | private_key_jwt
    secret_digest        BYTEA,
    secret_hint          TEXT,
    previous_digest      BYTEA,
    previous_valid_until TEXT COLLATE "C",
    secret_generation    BIGINT NOT NULL DEFAULT 0,
    jwks                 TEXT,
    jwks_url             TEXT,
    redirect_uris        TEXT NOT NULL DEFAULT '[]',  -- JSON array of exact strings
    scopes               TEXT NOT NULL DEFAULT '',
    active               BOOLEAN NOT NULL DEFAULT TRUE,
    created_at           TEXT COLLATE "C" NOT NULL,
    updated_at           TEXT COLLATE "C" NOT NULL,
    deleted_at           TEXT COLLATE "C"
);
CREATE INDEX apps_by_owner ON apps(owner_id);

-- One row per (app, practice): the latest request and its decision.
CREATE TABLE app_approvals (
    app_id       TEXT NOT NULL REFERENCES apps(id),
    practice_id  BIGINT NOT NULL REFERENCES practices(id),
    status       TEXT NOT NULL,              -- pending | approved | denied | withdrawn
    reason       TEXT,
    requested_by BIGINT NOT NULL REFERENCES users(id),
    requested_at TEXT COLLATE "C" NOT NULL,
    decided_by   BIGINT REFERENCES users(id),
    decided_at   TEXT COLLATE "C",
    PRIMARY KEY (app_id, practice_id)
);
CREATE INDEX app_approvals_by_practice ON app_approvals(practice_id, status);

-- A grant is a credential of kind connected_app or backend_app tied to its app. The credentials table (with
-- its app_id, scope and practice_id columns) comes from 0003, before apps existed: the reference to apps is
-- added here (0003 has its index, credentials_by_app).
ALTER TABLE credentials ADD CONSTRAINT credentials_app_id_fkey FOREIGN KEY (app_id) REFERENCES apps(id);

-- Authorization codes: single use, about a minute, bound to the grant (client, user, scopes, context),
-- the redirect URI and the PKCE challenge.
CREATE TABLE auth_codes (
    digest         BYTEA PRIMARY KEY,
    credential_id  TEXT NOT NULL REFERENCES credentials(id),
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    nonce          TEXT,
    issued_at      TEXT COLLATE "C" NOT NULL,
    expires_at     TEXT COLLATE "C" NOT NULL,
    used_at        TEXT COLLATE "C"
);
CREATE INDEX auth_codes_by_expiry ON auth_codes(expires_at);

-- Refresh tokens rotate: each use marks the row used and issues the next. The family is the grant.
CREATE TABLE refresh_tokens (
    digest        BYTEA PRIMARY KEY,
    credential_id TEXT NOT NULL REFERENCES credentials(id),
    issued_at     TEXT COLLATE "C" NOT NULL,
    expires_at    TEXT COLLATE "C" NOT NULL,
    used_at       TEXT COLLATE "C",
    revoked_at    TEXT COLLATE "C"
);
CREATE INDEX refresh_tokens_by_credential ON refresh_tokens(credential_id);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens(expires_at);

-- Client assertion ids seen, kept until the assertion would have expired (replay protection).
CREATE TABLE assertion_jtis (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX assertion_jtis_by_expiry ON assertion_jtis(expires_at);

-- The desktop app's sign-in through the system browser (a public native client, RFC 8252): codes bound to a
-- user, the loopback redirect URI and the PKCE challenge; rotating refresh tokens in families, one family per
-- sign-in. The sessions each family minted are `sessions` rows with their `family` (0001).
CREATE TABLE desktop_codes (
    digest         BYTEA PRIMARY KEY,
    user_id        BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    issued_at      TEXT COLLATE "C" NOT NULL,
    expires_at     TEXT COLLATE "C" NOT NULL,
    used_at        TEXT COLLATE "C",
    -- The family its exchange started, so a second exchange of the same code can end that family.
    family         TEXT
);
CREATE INDEX desktop_codes_by_expiry ON desktop_codes(expires_at);

CREATE TABLE desktop_refresh_tokens (
    digest     BYTEA PRIMARY KEY,
    family     TEXT NOT NULL,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    issued_at  TEXT COLLATE "C" NOT NULL,
    expires_at TEXT COLLATE "C" NOT NULL,
    used_at    TEXT COLLATE "C",
    revoked_at TEXT COLLATE "C"
);
CREATE INDEX desktop_refresh_tokens_by_family ON desktop_refresh_tokens(family);
CREATE INDEX desktop_refresh_tokens_by_expiry ON desktop_refresh_tokens(expires_at);
