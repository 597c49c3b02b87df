-- State every server sharing the database must agree on (SQLite has one server, PostgreSQL may have many).
-- Failed authentication per key (an account, a client id, an address): counted here, not in a server's
-- memory, so a lock earned through one server holds at every other, and survives a restart.
CREATE TABLE throttle (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    last_failure TEXT NOT NULL,
    locked_until TEXT
) WITHOUT ROWID;
CREATE INDEX throttle_by_last_failure ON throttle(last_failure);
-- The service's id_token signing keys (PEM, as the key file holds them), for servers without a key file
-- of their own: every server sharing the database signs with the same key. One row.
CREATE TABLE signing_keys (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    pem        TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
