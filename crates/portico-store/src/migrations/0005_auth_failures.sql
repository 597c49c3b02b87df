-- Unauthenticated failures (unknown or wrong client credentials at the token endpoint, failed sign-ins) are
-- counted per door, subject and minute rather than stored one row each: a flood of them adds counts, not
-- rows. `subject` is an id Portico issued (a client id, a user id) or a fixed label for unknown ones, never
-- the presented string, which could be a pasted secret.
CREATE TABLE auth_failures (
    minute  TEXT NOT NULL,
    door    TEXT NOT NULL,
    subject TEXT NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (minute, door, subject)
);
-- Expired tokens and sessions are pruned by expiry.
CREATE INDEX access_tokens_by_expiry ON access_tokens(expires_at);
CREATE INDEX sessions_by_expiry ON sessions(expires_at);
