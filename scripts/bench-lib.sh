# Shared by the benchmark scripts (bench-service, bench-postgres): starting and stopping `portico serve`,
# wrk runs pinned to a core and their figures, and set-up through the management API. Expects BIN, DB,
# WORK, DURATION, REYNA, CODE and PASSWORD to be set by the caller.

# ---- server control -------------------------------------------------------------------------------

# start_server CPUS [N]: starts `portico serve --db $DB` pinned to CPUS on a free port; sets PID and BASE
# (PID2 and BASE2 for N=2, a second server on the same database).
start_server() {
  local cpus=$1 n=${2:-} pid base
  : >"$WORK/serve$n.out"
  taskset -c "$cpus" "$BIN" serve --db "$DB" --port 0 >"$WORK/serve$n.out" 2>>"$WORK/serve$n.log" &
  pid=$!
  printf -v "PID$n" '%s' "$pid"
  for _ in $(seq 1 600); do
    base=$(sed -n 's/.* listening on \(http[^ ]*\).*/\1/p' "$WORK/serve$n.out")
    if [ -n "$base" ]; then
      printf -v "BASE$n" '%s' "$base"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "the server did not start:"; cat "$WORK/serve$n.log"; exit 1
}

stop_server() { # [N]
  local var="PID${1:-}"
  kill "${!var}" 2>/dev/null || true
  wait "${!var}" 2>/dev/null || true
  printf -v "$var" '%s' ""
}

rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$PID/status"; }

# ---- wrk ------------------------------------------------------------------------------------------

bench_files() { # the wrk script of token requests, in $WORK
  cat >"$WORK/token.lua" <<'EOF'
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
EOF
}

WRK_CPU=1
# run NAME CONNS URL [wrk args…]: one wrk run, pinned to $WRK_CPU, output kept in $WORK/NAME.txt.
run() {
  local name=$1 conns=$2 url=$3
  shift 3
  taskset -c "$WRK_CPU" wrk -t1 -c"$conns" -d"$DURATION" --timeout 30s --latency "$@" "$url" >"$WORK/$name.txt" 2>&1 || true
}
rps() { awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$WORK/$1.txt"; }
# pct NAME 50%|99%: a latency percentile in ms.
pct() {
  awk -v p="$2" '$1 == p {
    v = $2; unit = v; sub(/[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v)
    if (unit == "us") v /= 1000; else if (unit == "s") v *= 1000; else if (unit == "m") v *= 60000
    printf "%.2f", v }' "$WORK/$1.txt"
}
# Non-2xx answers and socket errors, so a figure made of refusals is never mistaken for throughput.
errors() {
  awk '/Non-2xx/ { printf " (%s non-2xx)", $NF } /Socket errors/ { printf " (socket errors:%s)", substr($0, index($0, ":") + 1) }' "$WORK/$1.txt"
}
tput() { echo "$(rps "$1")/s$(errors "$1")"; }
service_time() { echo "p50 $(pct "$1" 50%) ms, p99 $(pct "$1" 99%) ms ($(rps "$1")/s)$(errors "$1")"; }

# The measured URLs; the port changes with each start.
urls() {
  FHIR=$BASE/fhir
  READ=$FHIR/Patient/$REYNA
  PER_PATIENT="$FHIR/Observation?patient=$REYNA&_count=10"
  PRACTICE="$FHIR/Observation?code=$CODE&_count=10"
  EVERYTHING="$FHIR/Patient/$REYNA/\$everything"
}

# ---- set-up through the API -----------------------------------------------------------------------

api() { # api METHOD PATH SESSION [JSON]
  curl -sS --fail-with-body -X "$1" "$BASE/api$2" -H "Authorization: Bearer $3" -H "Content-Type: application/json" ${4:+-d "$4"}
}
session() {
  curl -sS --fail-with-body "$BASE/api/session" -H "Content-Type: application/json" \
    -d "{\"username\":\"$1\",\"password\":\"$PASSWORD\"}" | jq -r .token
}
token() { # token CLIENT_ID SECRET
  curl -sS --fail-with-body -u "$1:$2" -d grant_type=client_credentials "$BASE/oauth/token" | jq -r .access_token
}

# ---- the figures table -----------------------------------------------------------------------------

ROWS=()
row() { ROWS+=("$1|$2|$3"); }

print_rows() {
  printf '%-64s | %-26s | %s\n' "figure" "target" "measured"
  printf '%-64s-+-%-26s-+-%s\n' "$(printf -- '-%.0s' {1..64})" "$(printf -- '-%.0s' {1..26})" "$(printf -- '-%.0s' {1..40})"
  for r in "${ROWS[@]}"; do
    IFS='|' read -r f t m <<<"$r"
    printf '%-64s | %-26s | %s\n' "$f" "$t" "$m"
  done
}
