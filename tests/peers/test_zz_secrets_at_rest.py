"""Runs last (file name order): no secret seen by the other tests is stored or logged in clear.

Checks the SQLite database and its WAL/SHM files while the server is still
running (recent writes live in the WAL), and the server's log (stderr).
"""

from __future__ import annotations

import pytest

MIN_SECRETS = 6


def needles(secret: str) -> list[bytes]:
    """The secret itself, and its random body without any `prefix_` (if long enough)."""
    out = [secret.encode()]
    body = secret.rsplit("_", 1)[-1]
    if body != secret and len(body) >= 20:
        out.append(body.encode())
    return out


def test_log_is_written(portico):
    assert portico.log_path.is_file(), f"no server log at {portico.log_path}"
    text = portico.log_path.read_text(errors="replace")
    assert text.strip(), f"server log {portico.log_path} is empty"
    lowered = text.lower()
    assert any(w in lowered for w in ("/fhir/", "/oauth/token", "request")), (
        f"server log never mentions a request; tail: {text[-1500:]}"
    )


def test_no_secret_at_rest(portico):
    secrets = sorted(set(s for s in portico.secrets if s))
    assert len(secrets) >= MIN_SECRETS, (
        f"only {len(secrets)} secrets collected; the other tests must run first "
        f"(run the whole tests/peers directory)"
    )
    kinds = {s.split("_", 1)[0] for s in secrets}
    assert len(kinds) >= 3, f"expected client secrets, access and session tokens; prefixes: {kinds}"

    files = [
        portico.db_path,
        portico.db_path.with_name(portico.db_path.name + "-wal"),
        portico.db_path.with_name(portico.db_path.name + "-shm"),
        portico.log_path,
    ]
    present = [f for f in files if f.is_file()]
    assert portico.db_path in present, f"database {portico.db_path} is missing"
    scanned = {f.name: f.read_bytes() for f in present}
    assert sum(len(b) for b in scanned.values()) > 0

    leaks = []
    for secret in secrets:
        for name, data in scanned.items():
            if any(needle in data for needle in needles(secret)):
                leaks.append(f"{secret[:10]}… ({len(secret)} chars) found in {name}")
    assert not leaks, "secrets stored in clear:\n" + "\n".join(leaks)
