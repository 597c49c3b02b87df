-- Third-party apps (SMART App Launch): registrations, practice approvals, and the grants people make.

CREATE TABLE apps (
    id                   TEXT PRIMARY KEY,
    client_id            TEXT NOT NULL UNIQUE,
    owner_id             INTEGER NOT NULL REFERENCES users(id),
    name                 TEXT NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    homepage             TEXT,
    privacy_policy       TEXT,
    app_type             TEXT NOT NULL,      -- patient | system
    platform             TEXT NOT NULL,      -- web | native | browser | service
    client_auth          TEXT NOT NULL,      -- none | client_secret_basic | client_secret_post | private_key_jwt
    secret_digest        BLOB,
    secret_hint          TEXT,
    previous_digest      BLOB,
    previous_valid_until TEXT,
    secret_generation    INTEGER NOT NULL DEFAULT 0,
    jwks                 TEXT,
    jwks_url             TEXT,
    redirect_uris        TEXT NOT NULL DEFAULT '[]',  -- JSON array of exact strings
    scopes               TEXT NOT NULL DEFAULT '',
    active               INTEGER NOT NULL DEFAULT 1,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    deleted_at           TEXT
);
CREATE INDEX apps_by_owner ON apps(owner_id);

-- One row per (app, practice): the latest request and its decision.
CREATE TABLE app_approvals (
    app_id       TEXT NOT NULL REFERENCES apps(id),
    practice_id  INTEGER NOT NULL REFERENCES practices(id),
    status       TEXT NOT NULL,              -- pending | approved | denied | withdrawn
    reason       TEXT,
    requested_by INTEGER NOT NULL REFERENCES users(id),
    requested_at TEXT NOT NULL,
    decided_by   INTEGER REFERENCES users(id),
    decided_at   TEXT,
    PRIMARY KEY (app_id, practice_id)
);
CREATE INDEX app_approvals_by_practice ON app_approvals(practice_id, status);

-- A grant is a credential of kind connected_app (a person consented) or backend_app (a system app's
-- standing access), tied to its app; `scope` is what was consented, `practice_id` the tenant base it was
-- granted at (NULL: the global /fhir base).
ALTER TABLE credentials ADD COLUMN app_id TEXT REFERENCES apps(id);
ALTER TABLE credentials ADD COLUMN scope TEXT;
ALTER TABLE credentials ADD COLUMN practice_id INTEGER REFERENCES practices(id);
CREATE INDEX credentials_by_app ON credentials(app_id, owner_id) WHERE app_id IS NOT NULL;

-- Authorization codes: single use, about a minute, bound to the grant (client, user, scopes, context),
-- the redirect URI and the PKCE challenge.
CREATE TABLE auth_codes (
    digest         BLOB PRIMARY KEY,
    credential_id  TEXT NOT NULL REFERENCES credentials(id),
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    nonce          TEXT,
    issued_at      TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    used_at        TEXT
);
CREATE INDEX auth_codes_by_expiry ON auth_codes(expires_at);

-- Refresh tokens rotate: each use marks the row used and issues the next. The family is the grant.
CREATE TABLE refresh_tokens (
    digest        BLOB PRIMARY KEY,
    credential_id TEXT NOT NULL REFERENCES credentials(id),
    issued_at     TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    used_at       TEXT,
    revoked_at    TEXT
);
CREATE INDEX refresh_tokens_by_credential ON refresh_tokens(credential_id);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens(expires_at);

-- Client assertion ids seen, kept until the assertion would have expired (replay protection).
CREATE TABLE assertion_jtis (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX assertion_jtis_by_expiry ON assertion_jtis(expires_at);

