-- The desktop app's sign-in through the system browser (a public native client, RFC 8252): codes bound to a
-- user, the loopback redirect URI and the PKCE challenge; rotating refresh tokens in families, one family per
-- sign-in; and the sessions (management-API access tokens) each family has minted, so that signing out or a
-- replayed refresh token ends them all at once.
CREATE TABLE desktop_codes (
    digest         BLOB PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    issued_at      TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    used_at        TEXT,
    -- The family its exchange started, so a second exchange of the same code can end that family.
    family         TEXT
);
CREATE INDEX desktop_codes_by_expiry ON desktop_codes(expires_at);

CREATE TABLE desktop_refresh_tokens (
    digest     BLOB PRIMARY KEY,
    family     TEXT NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    issued_at  TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT,
    revoked_at TEXT
);
CREATE INDEX desktop_refresh_tokens_by_family ON desktop_refresh_tokens(family);
CREATE INDEX desktop_refresh_tokens_by_expiry ON desktop_refresh_tokens(expires_at);

ALTER TABLE sessions ADD COLUMN family TEXT;
CREATE INDEX sessions_by_family ON sessions(family) WHERE family IS NOT NULL;
