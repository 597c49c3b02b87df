-- The desktop's own cache and outbox for remote mode. Never the server's schema.

-- One row per (server, person) the app has signed in as: the partition of everything below.
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    server TEXT NOT NULL,
    user TEXT NOT NULL,
    UNIQUE (server, user)
);

-- What the person has seen: one JSON value per key (a list, a detail page), as last fetched.
CREATE TABLE cache (
    account INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (account, key)
) WITHOUT ROWID;

-- Actions taken offline. `id` (AUTOINCREMENT: never reused) is the enqueue order, which sending keeps.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    action TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'done', 'already_done', 'refused')),
    reason TEXT,
    queued_at TEXT NOT NULL,
    last_attempt_at TEXT,
    finished_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_by_account ON outbox (account, state, id);
