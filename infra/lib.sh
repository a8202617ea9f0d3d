# Shared by infra/dev-up.sh and infra/dev-down.sh (sourced, not run).
#
# State layout (DIFFC_SERVICES_STATE, default <repo>/.cache/dev-services):
#   <state>/minio.env, <state>/temporal.env   one file per running service: PID, ports, paths
#   <state>/minio-data/, <state>/temporal.db  the services' data
#   <state>/minio.log, <state>/temporal.log   their output
#   <state>.env                               both service files together, for people and tests
#                                             to source (default .cache/dev-services.env)
#   <state>.lock                              serialises dev-up / dev-down

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$INFRA_DIR/.." && pwd)"
STATE_DIR="${DIFFC_SERVICES_STATE:-$REPO_ROOT/.cache/dev-services}"
STATE_DIR="${STATE_DIR%/}"
ENV_FILE="$STATE_DIR.env"
BIN_DIR="${DIFFC_SERVICES_BIN:-${DIFFC_CACHE:-$HOME/.cache/diffc}/bin}"
SERVICES_ALL=(temporal minio)

die() { echo "$SCRIPT_NAME: $*" >&2; exit 1; }
log() { echo "$SCRIPT_NAME: $*" >&2; }

# parse_services ARGS... -> SERVICES (array); no arguments means all.
parse_services() {
  SERVICES=()
  local a
  for a in "$@"; do
    case "$a" in
      temporal|minio) SERVICES+=("$a") ;;
      -h|--help) sed -n '2,/^set -/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
      *) die "unknown service '$a' (expected temporal and/or minio)" ;;
    esac
  done
  [[ ${#SERVICES[@]} -gt 0 ]] || SERVICES=("${SERVICES_ALL[@]}")
}

# take_lock: one dev-up / dev-down at a time per state dir (flock where there is one).
take_lock() {
  mkdir -p "$(dirname "$STATE_DIR")"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$STATE_DIR.lock"
    if ! flock -n 9; then
      log "waiting for another dev-up/dev-down (lock $STATE_DIR.lock)"
      flock -w 120 9 || die "another dev-up/dev-down has held $STATE_DIR.lock for more than 120 s"
    fi
  fi
}

# pid_is PID BIN: is PID alive and running BIN (guards against a reused PID)?
pid_is() {
  local pid="$1" bin="$2" args
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  args="$(ps -o args= -p "$pid" 2>/dev/null)" || return 1
  [[ "$args" == "$bin "* ]]
}

# stop_pid PID BIN NAME: SIGTERM, wait up to 15 s, then SIGKILL.
stop_pid() {
  local pid="$1" bin="$2" name="$3" i
  pid_is "$pid" "$bin" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || { log "stopped $name (pid $pid)"; return 0; }
    sleep 0.1
  done
  log "$name (pid $pid) ignored SIGTERM for 15 s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  die "could not stop $name (pid $pid)"
}

# read_service NAME: loads <state>/NAME.env into the environment; fails when there is none.
read_service() {
  local f="$STATE_DIR/$1.env"
  [[ -f "$f" ]] || return 1
  # Our own file: KEY=VALUE lines with shell-safe values (see write_kv).
  set -a
  # shellcheck disable=SC1090
  . "$f"
  set +a
}

safe_value() { [[ "$1" =~ ^[A-Za-z0-9._:/@%+=,-]*$ ]]; }

# write_kv FILE KEY=VALUE...: writes the file atomically; values must be shell-safe.
write_kv() {
  local file="$1" kv tmp
  shift
  tmp="$(mktemp "$file.XXXXXX")"
  for kv in "$@"; do
    safe_value "${kv#*=}" || { rm -f "$tmp"; die "${kv%%=*}='${kv#*=}' has characters the state file cannot hold (allowed: A-Z a-z 0-9 . _ : / @ % + = , -)"; }
    printf '%s\n' "$kv" >>"$tmp"
  done
  mv -f "$tmp" "$file"
}

# write_env_file: <state>.env from the service files (removed when none is left).
write_env_file() {
  local parts=() s
  for s in "${SERVICES_ALL[@]}"; do [[ -f "$STATE_DIR/$s.env" ]] && parts+=("$STATE_DIR/$s.env"); done
  if [[ ${#parts[@]} -eq 0 ]]; then
    rm -f "$ENV_FILE"
    return 0
  fi
  local tmp
  tmp="$(mktemp "$ENV_FILE.XXXXXX")"
  {
    echo "# Development services, written by infra/dev-up.sh; stop them with npm run dev:down."
    echo "# Load into a shell with:  set -a; . $ENV_FILE; set +a"
    echo "DIFFC_SERVICES_STATE=$STATE_DIR"
    cat "${parts[@]}"
  } >"$tmp"
  mv -f "$tmp" "$ENV_FILE"
}
