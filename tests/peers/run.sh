#!/usr/bin/env bash
# Independent-peer conformance tests: third-party Python clients against a real
# `portico serve`.  Run from anywhere; uses <repo>/.venv-peers (gitignored).
#   PORTICO_BIN   the binary to test (default: target/debug/portico)
#   extra arguments are passed to pytest
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv-peers"
REQS="$ROOT/tests/peers/requirements.txt"
STAMP="$VENV/.peers-requirements.sha256"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi

want="$( (cat "$REQS"; "$VENV/bin/python" -c 'import sys; print(sys.version)') | sha256sum | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQS"
    echo "$want" > "$STAMP"
fi

export PORTICO_BIN="${PORTICO_BIN:-target/debug/portico}"
if [ ! -x "$PORTICO_BIN" ] && [ ! -x "$ROOT/$PORTICO_BIN" ]; then
    echo "run.sh: portico binary not found at $PORTICO_BIN (cargo build -p portico-cli)" >&2
    exit 2
fi

set +e
"$VENV/bin/python" -m pytest tests/peers -q -p no:cacheprovider "$@"
code=$?
exit $code
