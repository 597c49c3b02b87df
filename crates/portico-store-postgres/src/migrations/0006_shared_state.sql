-- State every server sharing the database must agree on (SQLite's migration 0012).
-- Failed authentication per key (an account, a client id, an address): a lock earned through one server
-- holds at every other.
CREATE TABLE throttle (
    key          TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    last_failure TEXT NOT NULL,
    locked_until TEXT
);
CREATE INDEX throttle_by_last_failure ON throttle(last_failure COLLATE "C");
-- The service's id_token signing keys (PEM): every server signs with the same key. One row.
CREATE TABLE signing_keys (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    pem        TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
