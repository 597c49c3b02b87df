#!/usr/bin/env bash
# End-to-end tests of the real desktop app: Xvfb display, a fresh keyutils session keyring, tauri-driver
# with Debian's WebKitWebDriver, and Selenium driving the window. Screenshots go to tests/artifacts/.
#   PORTICO_DESKTOP_BIN  the app binary (default: target/debug/portico-desktop)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

export PORTICO_DESKTOP_BIN="${PORTICO_DESKTOP_BIN:-$ROOT/target/debug/portico-desktop}"
[ -x "$PORTICO_DESKTOP_BIN" ] || { echo "desktop/run.sh: no app at $PORTICO_DESKTOP_BIN (cargo build -p portico-desktop)" >&2; exit 2; }
command -v tauri-driver >/dev/null || cargo install tauri-driver --locked --quiet
for tool in WebKitWebDriver xvfb-run keyctl xclip; do
  command -v "$tool" >/dev/null || { echo "desktop/run.sh: $tool is missing (scripts/test installs it)" >&2; exit 2; }
done

VENV="$ROOT/.venv-desktop"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
STAMP="$VENV/.requirements.sha256"
want="$(sha256sum tests/desktop/requirements.txt | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$want" ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/desktop/requirements.txt
  echo "$want" > "$STAMP"
fi

mkdir -p tests/artifacts
# keyctl session: the app's keyring lives in a session keyring of this run only.
exec xvfb-run -a -s "-screen 0 1280x800x24" keyctl session - \
  "$VENV/bin/python" -m pytest tests/desktop -q -p no:cacheprovider "$@"
