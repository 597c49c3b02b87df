#!/usr/bin/env bash
# Independent-peer conformance tests with npm clients (openid-client,
# fhirclient) against a real `portico serve`.  Run from anywhere.
#   PORTICO_BIN   the binary to test (default: target/debug/portico, relative
#                 to the repo root)
#   extra arguments are passed to `node --test`
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$HERE"

export PORTICO_BIN="${PORTICO_BIN:-target/debug/portico}"
case "$PORTICO_BIN" in
    /*) bin="$PORTICO_BIN" ;;
    *)  bin="$ROOT/$PORTICO_BIN" ;;
esac
if [ ! -x "$bin" ]; then
    echo "run.sh: portico binary not found at $bin (cargo build -p portico-cli)" >&2
    exit 2
fi

# npm ci only when node_modules does not match package-lock.json + node version.
STAMP="node_modules/.peers-npm-lock.sha256"
want="$( (cat package-lock.json; node --version) | sha256sum | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" > "$STAMP"
fi

# The TAP reporter prints the summary as `# tests N`, `# pass N`, `# fail N`
# whether or not stdout is a terminal.
set +e
npm test --silent -- --test-reporter=tap --test-reporter-destination=stdout "$@"
code=$?
set -e
exit $code
