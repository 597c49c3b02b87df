"""Shared fixtures for the independent-peer conformance tests.

One Portico server is started for the whole pytest session, on a fresh
SQLite file in a temporary directory, with the demo data seeded.  Every
test talks to it over real HTTP with third-party client libraries.

Every secret that the tests get hold of (client secrets, access tokens,
session tokens) is appended to ``portico.secrets`` so that the last test
(test_zz_secrets_at_rest.py) can check none of them was stored in clear.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import queue
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
MANIFEST = REPO_ROOT / "crates" / "portico-samples" / "data" / "manifest.tsv"
DEMO_PASSWORD = "portico-demo"
FHIR_JSON = "application/fhir+json"
STARTUP_TIMEOUT_S = 60.0
HTTP_TIMEOUT_S = 60.0


def portico_bin() -> Path:
    raw = os.environ.get("PORTICO_BIN", "target/debug/portico")
    path = Path(raw)
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


def sample_patients() -> list[dict]:
    """Rows of the samples manifest: one per sample patient (patient_id, name, ...)."""
    with MANIFEST.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert rows, f"no sample patients listed in {MANIFEST}"
    return rows


@dataclass
class Portico:
    proc: subprocess.Popen
    base_url: str
    fhir_base: str
    token_url: str
    db_path: Path | str
    log_path: Path
    tmp_dir: Path
    stdout_lines: list[str]
    secrets: list[str] = field(default_factory=list)

    # ---- helpers that record every secret they see -------------------------

    def remember(self, *values: str | None) -> None:
        for value in values:
            if value:
                self.secrets.append(value)

    def cli(self, *args: str) -> str:
        """Run a `portico` admin subcommand on the server's database file."""
        cmd = [str(portico_bin()), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (
            f"`{' '.join(cmd)}` exited {done.returncode}\n"
            f"stdout: {done.stdout}\nstderr: {done.stderr}"
        )
        return done.stdout

    def login(self, username: str, password: str = DEMO_PASSWORD) -> dict:
        """POST /api/session; returns the whole JSON body (token, user, ...)."""
        res = requests.post(
            f"{self.base_url}/api/session",
            json={"username": username, "password": password},
            timeout=HTTP_TIMEOUT_S,
        )
        assert res.status_code == 200, (
            f"POST /api/session as {username!r} -> {res.status_code}: {res.text}"
        )
        body = res.json()
        assert body.get("token"), f"session response without token: {body}"
        self.remember(body["token"])
        return body

    def create_credential(self, session_token: str, payload: dict) -> dict:
        """POST /api/credentials; returns the issued-secret JSON."""
        res = requests.post(
            f"{self.base_url}/api/credentials",
            json=payload,
            headers={"Authorization": f"Bearer {session_token}"},
            timeout=HTTP_TIMEOUT_S,
        )
        assert res.status_code == 201, (
            f"POST /api/credentials {payload} -> {res.status_code}: {res.text}"
        )
        issued = res.json()
        for key in ("client_id", "client_secret", "token_url", "fhir_base_url"):
            assert issued.get(key), f"issued credential lacks {key!r}: {issued}"
        self.remember(issued["client_secret"])
        return issued

    def client_credentials_token(self, client_id: str, client_secret: str) -> dict:
        """A plain client_credentials grant with client_secret_basic (via requests)."""
        res = requests.post(
            self.token_url,
            data={"grant_type": "client_credentials"},
            auth=(client_id, client_secret),
            timeout=HTTP_TIMEOUT_S,
        )
        assert res.status_code == 200, (
            f"POST {self.token_url} (client_credentials) -> {res.status_code}: {res.text}"
        )
        body = res.json()
        assert body.get("access_token"), f"token response without access_token: {body}"
        self.remember(body["access_token"])
        return body


def _pump(stream, lines: "queue.Queue[str | None]") -> None:
    for line in iter(stream.readline, ""):
        lines.put(line)
    lines.put(None)


@pytest.fixture(scope="session")
def portico(tmp_path_factory) -> Portico:
    tmp_dir = tmp_path_factory.mktemp("portico")
    with running_portico(str(tmp_dir / "portico.db"), tmp_dir, demo=True) as server:
        yield server


@contextlib.contextmanager
def running_portico(db: str, tmp_dir: Path, demo: bool):
    """`portico serve --db DB --port 0` (with `--demo` when asked), until the block ends; then SIGTERM, and
    the server must stop cleanly. DB is a SQLite file or a postgres:// URL."""
    binary = portico_bin()
    assert binary.is_file(), (
        f"Portico binary not found at {binary}; build it with "
        "`cargo build -p portico-cli` or set PORTICO_BIN"
    )
    db_path = db if "://" in db else Path(db)
    log_path = tmp_dir / f"portico-{len(list(tmp_dir.glob('portico*.log')))}.log"
    log_fh = log_path.open("wb")
    proc = subprocess.Popen(
        [str(binary), "serve", "--db", db, "--port", "0", *(["--demo"] if demo else [])],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log_fh,
        text=True,
        encoding="utf-8",
        bufsize=1,
    )
    lines: "queue.Queue[str | None]" = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()

    seen: list[str] = []
    base_url = fhir_base = token_url = None
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    try:
        while token_url is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"portico did not announce its URLs within {STARTUP_TIMEOUT_S}s; "
                    f"stdout so far: {seen!r}"
                )
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                proc.wait(timeout=10)
                raise AssertionError(
                    f"portico exited ({proc.returncode}) before listening; stdout: {seen!r}; "
                    f"log: {log_path.read_text(errors='replace')[-4000:]}"
                )
            seen.append(line.rstrip("\n"))
            text = line.strip()
            if " listening on " in text:
                base_url = text.split(" listening on ", 1)[1].strip().rstrip("/")
            elif text.startswith("FHIR base:"):
                fhir_base = text.split(":", 1)[1].strip().rstrip("/")
            elif text.startswith("Token URL:"):
                token_url = text.split(":", 1)[1].strip()
        assert base_url and base_url.startswith("http://127.0.0.1:"), (
            f"unexpected listening line; stdout: {seen!r}"
        )
        assert fhir_base == f"{base_url}/fhir", f"FHIR base {fhir_base!r} vs {base_url!r}"
        assert token_url == f"{base_url}/oauth/token", f"token URL {token_url!r}"

        server = Portico(
            proc=proc,
            base_url=base_url,
            fhir_base=fhir_base,
            token_url=token_url,
            db_path=db_path,
            log_path=log_path,
            tmp_dir=tmp_dir,
            stdout_lines=seen,
        )
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
                log_fh.close()
                raise AssertionError("portico did not stop within 30 s of SIGTERM")
        log_fh.close()
    assert proc.returncode == 0, f"portico exited {proc.returncode} after SIGTERM"


@pytest.fixture(scope="session")
def capability(portico) -> dict:
    """The server's CapabilityStatement as JSON (GET /fhir/metadata, no token)."""
    res = requests.get(
        f"{portico.fhir_base}/metadata",
        headers={"Accept": FHIR_JSON},
        timeout=HTTP_TIMEOUT_S,
    )
    assert res.status_code == 200, f"GET /fhir/metadata -> {res.status_code}: {res.text}"
    return res.json()


@pytest.fixture(scope="session")
def patient_user(portico) -> dict:
    """The demo `patient` user's session (token + user with patient_id)."""
    session = portico.login("patient")
    assert session["user"].get("patient_id"), f"patient user has no patient_id: {session}"
    return session


@pytest.fixture()
def patient_app(portico, patient_user, request) -> dict:
    """A fresh patient_app credential of the demo patient, created through the API."""
    return portico.create_credential(
        patient_user["token"],
        {"kind": "patient_app", "name": f"peer {request.node.name}"[:80]},
    )


# ---- SMART apps, and a real browser for the pages ------------------------------

REDIRECT_URI = "http://127.0.0.1/callback"


def register_app(portico: Portico, name: str, *args: str, approve: bool = True) -> dict:
    """`portico apps register ... --json` on the server's database (owner: the
    demo developer), then `portico apps approve --practice 1` unless told not to.
    The server sees the rows at once: SQLite in WAL mode, a second process writing."""
    out = portico.cli(
        "apps", "register", "--db", str(portico.db_path), "--owner", "developer", "--name", name, *args, "--json"
    )
    issued = json.loads(out)
    assert issued.get("client_id"), f"apps register printed {out!r}"
    portico.remember(issued.get("client_secret"))
    if approve:
        portico.cli("apps", "approve", "--db", str(portico.db_path), issued["client_id"], "--practice", "1")
    return issued


@pytest.fixture(scope="session")
def smart_configuration(portico) -> dict:
    res = requests.get(f"{portico.base_url}/.well-known/smart-configuration", timeout=HTTP_TIMEOUT_S)
    assert res.status_code == 200, f"smart-configuration -> {res.status_code}: {res.text}"
    return res.json()


@pytest.fixture(scope="session")
def browser():
    """One headless chromium for the session (started on first use)."""
    from browser import Browser

    b = Browser()
    yield b
    b.quit()


@pytest.fixture()
def callback():
    """A one-shot redirect listener on 127.0.0.1:<free port> for one authorization."""
    from browser import Callback

    with Callback() as cb:
        yield cb
