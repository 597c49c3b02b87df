# A throwaway PostgreSQL cluster for tests: `source scripts/pg.sh; pg_throwaway_start` starts one (initdb into
# a temporary folder, loopback only, a free port), exports PORTICO_TEST_PG (a superuser URL) and removes the
# cluster when the calling shell exits. initdb refuses to run as root, so as root the cluster runs as
# `nobody`. Installs Debian's postgresql packages when missing.

pg_bin() {
  local found
  if found="$(command -v initdb 2>/dev/null)"; then dirname "$found"; return; fi
  found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  [ -n "$found" ] && [ -x "$found/initdb" ] && echo "$found"
}

pg_throwaway_stop() {
  [ -n "${PG_DIR:-}" ] || return 0
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=""
}

pg_throwaway_start() {
  PG_BIN="$(pg_bin || true)"
  if [ -z "$PG_BIN" ] || ! command -v psql >/dev/null || ! command -v pg_dump >/dev/null; then
    echo "==> installing PostgreSQL (Debian packages)"
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    PG_BIN="$(pg_bin)"
  fi
  PG_DIR="$(mktemp -d /tmp/portico-pg.XXXXXX)"
  chmod 0755 "$PG_DIR"
  PG_AS=()
  if [ "$(id -u)" -eq 0 ]; then
    chown nobody "$PG_DIR"
    PG_AS=(runuser -u nobody --)
  fi
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  trap pg_throwaway_stop EXIT
  "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U portico --auth=trust -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log"; return 1; }
  # Loopback only, its socket in its own folder; connections for parallel test threads each holding a
  # small pool, and for the per-test databases the integration tests copy from a template.
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -o \
    "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c max_connections=500 -c shared_buffers=128MB" start >/dev/null \
    || { cat "$PG_DIR/server.log"; return 1; }
  export PORTICO_TEST_PG="postgres://portico@127.0.0.1:$port/postgres"
  echo "==> throwaway PostgreSQL on 127.0.0.1:$port ($PG_DIR)"
}
