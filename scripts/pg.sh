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
  # A CA of this run and a server certificate it signed for 127.0.0.1, so TLS to the database is tested
  # for real (sslmode=require&sslrootcert=$PORTICO_TEST_PG_CA); plain connections stay allowed too.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=portico test CA" \
    -keyout "$PG_DIR/ca.key" -out "$PG_DIR/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$PG_DIR/server.key" -out "$PG_DIR/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$PG_DIR/san.ext"
  openssl x509 -req -in "$PG_DIR/server.csr" -CA "$PG_DIR/ca.pem" -CAkey "$PG_DIR/ca.key" -CAcreateserial \
    -days 2 -extfile "$PG_DIR/san.ext" -out "$PG_DIR/server.pem" 2>/dev/null
  chmod 0600 "$PG_DIR/server.key"
  [ ${#PG_AS[@]} -gt 0 ] && chown nobody "$PG_DIR/server.key" "$PG_DIR/server.pem"
  "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U portico --auth=trust -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log"; return 1; }
  # Loopback only, its socket in its own folder; connections for parallel test threads each holding a
  # small pool, and for the per-test databases the integration tests copy from a template.
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -o \
    "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c max_connections=500 -c shared_buffers=128MB \
     -c ssl=on -c ssl_cert_file=$PG_DIR/server.pem -c ssl_key_file=$PG_DIR/server.key" start >/dev/null \
    || { cat "$PG_DIR/server.log"; return 1; }
  export PORTICO_TEST_PG="postgres://portico@127.0.0.1:$port/postgres"
  export PORTICO_TEST_PG_CA="$PG_DIR/ca.pem"
  echo "==> throwaway PostgreSQL on 127.0.0.1:$port ($PG_DIR)"
}
