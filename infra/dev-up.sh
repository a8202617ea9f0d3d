#!/usr/bin/env bash
# Start the development services in the background, on 127.0.0.1 and free ports:
#   temporal  `temporal server start-dev` (headless, state in <state>/temporal.db)
#   minio     `minio server` (fresh data dir, a bucket named $DIFFC_S3_BUCKET or diffc-dev)
# then write their endpoints and credentials to .cache/dev-services.env (see docs/dev-services.md).
#
#   infra/dev-up.sh [temporal] [minio]      # npm run dev:up; no names: both
#
# Safe to re-run: healthy services are kept; dead ones are restarted with their old ports (when
# still free), data and credentials. Missing binaries are built first with
# infra/build-services.sh (several minutes the first time) unless DIFFC_NO_BUILD=1.
#
# Environment: DIFFC_SERVICES_STATE (state dir, default .cache/dev-services; the env file is
# <state>.env), DIFFC_SERVICES_BIN / DIFFC_CACHE (binaries), MINIO_ROOT_USER and
# MINIO_ROOT_PASSWORD (default: generated), DIFFC_S3_BUCKET, DIFFC_UP_TIMEOUT (health wait, s, 90).
# Bucket triggers: with DIFFC_TRIGGER_URL (e.g. http://127.0.0.1:8080/events) and
# DIFFC_TRIGGER_SECRET, MinIO gets a webhook target 'DIFFC' that posts object-created events of
# the bucket there with 'Authorization: Bearer <secret>' (queued on disk while the receiver is
# down), for `diffc trigger serve`.
set -euo pipefail
SCRIPT_NAME=dev-up
# shellcheck source=infra/lib.sh
. "$(dirname "$0")/lib.sh"
parse_services "$@"

UP_TIMEOUT="${DIFFC_UP_TIMEOUT:-90}"
[[ "$UP_TIMEOUT" =~ ^[0-9]+$ ]] || die "DIFFC_UP_TIMEOUT must be a number of seconds"
safe_value "$STATE_DIR" || die "DIFFC_SERVICES_STATE ($STATE_DIR) must be a plain path (A-Z a-z 0-9 . _ / -)"
command -v node >/dev/null 2>&1 || die "node is needed to pick free ports"
command -v curl >/dev/null 2>&1 || die "curl is needed for the MinIO health check"

# service_bin NAME: the versioned binary behind $BIN_DIR/NAME, built if missing.
service_bin() {
  local name="$1"
  if [[ ! -x "$BIN_DIR/$name" ]]; then
    [[ "${DIFFC_NO_BUILD:-}" != 1 ]] || die "$name is not built in $BIN_DIR (run infra/build-services.sh $name)"
    log "$name is not built yet: building it (several minutes the first time)"
    "$INFRA_DIR/build-services.sh" "$name" >&2
  fi
  local real
  real="$(cd "$BIN_DIR" && readlink -f "$name")" || die "cannot resolve $BIN_DIR/$name"
  [[ -x "$real" ]] || die "$BIN_DIR/$name points to $real, which is not an executable"
  safe_value "$real" || die "$real: the binaries' path must be a plain path"
  echo "$real"
}

free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

port_free() {
  node -e 'const s = require("net").createServer(); s.once("error", () => process.exit(1));
           s.listen(Number(process.argv[1]), "127.0.0.1", () => s.close());' "$1"
}

# fresh_ports N -> PORTS (array): N distinct free ports.
fresh_ports() {
  PORTS=()
  local p seen
  while [[ ${#PORTS[@]} -lt $1 ]]; do
    p="$(free_port)"
    seen=0
    for q in ${PORTS[@]+"${PORTS[@]}"}; do [[ "$q" != "$p" ]] || seen=1; done
    [[ $seen == 1 ]] || PORTS+=("$p")
  done
}

random_token() { # random_token N: N lowercase hex characters
  od -An -N64 -tx1 /dev/urandom | tr -d ' \n' | head -c "$1"
}

# spawn LOG CMD...: starts CMD in its own session, output appended to LOG; sets SPAWNED_PID.
spawn() {
  local logfile="$1"
  shift
  echo "== $(date -u +%FT%TZ) $*" >>"$logfile"
  if command -v setsid >/dev/null 2>&1; then
    # Not a process-group leader here, so setsid execs in place: $! is the service's own PID.
    setsid nohup "$@" >>"$logfile" 2>&1 </dev/null 9>&- &
  else
    nohup "$@" >>"$logfile" 2>&1 </dev/null 9>&- &
  fi
  SPAWNED_PID=$!
}

# wait_healthy NAME PID LOG CHECK...: polls CHECK until it succeeds, the process dies or time runs out.
wait_healthy() {
  local name="$1" pid="$2" logfile="$3"
  shift 3
  local deadline=$((SECONDS + UP_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) exited while starting; the end of $logfile:"
      tail -n 30 "$logfile" >&2 || true
      return 1
    fi
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.3
  done
  log "$name (pid $pid) not healthy after ${UP_TIMEOUT} s; the end of $logfile:"
  tail -n 30 "$logfile" >&2 || true
  return 1
}

# give_up NAME PID BIN: stops a service that did not come up and forgets it.
give_up() {
  stop_pid "$2" "$3" "$1" || true
  rm -f "$STATE_DIR/$1.env"
  write_env_file
  die "$1 did not start (see $STATE_DIR/$1.log)"
}

minio_live() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$1/minio/health/live"; }

# minio_bucket PORT USER PASS BUCKET: creates the bucket unless it is there (SigV4-signed PUT).
minio_bucket() {
  local code
  code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -X PUT \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$2:$3" "http://127.0.0.1:$1/$4")" || return 1
  [[ "$code" == 200 || "$code" == 409 ]]
}

up_minio() {
  local bin port console data user pass bucket
  bin="$BIN_minio"
  if read_service minio; then
    if pid_is "$MINIO_PID" "$MINIO_BIN"; then
      if wait_healthy minio "$MINIO_PID" "$STATE_DIR/minio.log" minio_live "$MINIO_PORT"; then
        log "minio already running (pid $MINIO_PID) at $S3_ENDPOINT"
        return 0
      fi
      stop_pid "$MINIO_PID" "$MINIO_BIN" minio
    fi
    port="$MINIO_PORT" console="$MINIO_CONSOLE_PORT" data="$MINIO_DATA_DIR"
    user="$S3_ACCESS_KEY_ID" pass="$S3_SECRET_ACCESS_KEY" bucket="$S3_BUCKET"
    if ! port_free "$port" || ! port_free "$console" || [[ "$port" == "$console" ]]; then
      fresh_ports 2
      log "minio's old ports $port/$console are taken; using ${PORTS[0]}/${PORTS[1]}"
      port="${PORTS[0]}" console="${PORTS[1]}"
    fi
    log "restarting minio on 127.0.0.1:$port with its data in $data"
  else
    fresh_ports 2
    port="${PORTS[0]}" console="${PORTS[1]}" data="$STATE_DIR/minio-data"
    user="${MINIO_ROOT_USER:-diffc-$(random_token 8)}"
    pass="${MINIO_ROOT_PASSWORD:-$(random_token 32)}"
    bucket="${DIFFC_S3_BUCKET:-diffc-dev}"
    ((${#user} >= 3)) || die "MINIO_ROOT_USER must have at least 3 characters"
    ((${#pass} >= 8)) || die "MINIO_ROOT_PASSWORD must have at least 8 characters"
    safe_value "$user" && safe_value "$pass" || die "MINIO_ROOT_USER/PASSWORD may only hold A-Z a-z 0-9 . _ : / @ % + = , -"
    [[ "$bucket" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "DIFFC_S3_BUCKET '$bucket' is not a valid bucket name"
    rm -rf "$data"
    log "starting minio on 127.0.0.1:$port (fresh data in $data)"
  fi
  mkdir -p "$data"
  local hook="${DIFFC_TRIGGER_URL:-${MINIO_WEBHOOK:-}}"
  if [[ -n "$hook" ]]; then
    [[ -n "${DIFFC_TRIGGER_SECRET:-}" ]] || die "DIFFC_TRIGGER_URL needs DIFFC_TRIGGER_SECRET (the receiver refuses unauthenticated events)"
    safe_value "$hook" || die "DIFFC_TRIGGER_URL ($hook) must be a plain URL"
    mkdir -p "$STATE_DIR/minio-events"
    # Exported to minio only (local -x), never written to its log or the state file.
    local -x MINIO_NOTIFY_WEBHOOK_ENABLE_DIFFC=on MINIO_NOTIFY_WEBHOOK_ENDPOINT_DIFFC="$hook" \
      MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_DIFFC="$DIFFC_TRIGGER_SECRET" MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_DIFFC="$STATE_DIR/minio-events"
  fi
  MINIO_ROOT_USER="$user" MINIO_ROOT_PASSWORD="$pass" MINIO_BROWSER=off MINIO_UPDATE=off \
    spawn "$STATE_DIR/minio.log" "$bin" server --quiet --address "127.0.0.1:$port" --console-address "127.0.0.1:$console" "$data"
  local pid="$SPAWNED_PID"
  # Recorded before the health wait, so that dev-down can always stop what was started.
  write_kv "$STATE_DIR/minio.env" "MINIO_PID=$pid" "MINIO_BIN=$bin" "MINIO_PORT=$port" "MINIO_CONSOLE_PORT=$console" \
    "MINIO_DATA_DIR=$data" "MINIO_LOG=$STATE_DIR/minio.log" \
    "S3_ENDPOINT=http://127.0.0.1:$port" "S3_REGION=us-east-1" "S3_FORCE_PATH_STYLE=true" \
    "S3_ACCESS_KEY_ID=$user" "S3_SECRET_ACCESS_KEY=$pass" "S3_BUCKET=$bucket" "MINIO_WEBHOOK=$hook"
  wait_healthy minio "$pid" "$STATE_DIR/minio.log" minio_live "$port" || give_up minio "$pid" "$bin"
  wait_healthy minio "$pid" "$STATE_DIR/minio.log" minio_bucket "$port" "$user" "$pass" "$bucket" || give_up minio "$pid" "$bin"
  if [[ -n "$hook" ]]; then
    S3_ENDPOINT="http://127.0.0.1:$port" S3_REGION=us-east-1 S3_FORCE_PATH_STYLE=true S3_ACCESS_KEY_ID="$user" S3_SECRET_ACCESS_KEY="$pass" \
      node --import tsx "$INFRA_DIR/bucket-notify.ts" "$bucket" || give_up minio "$pid" "$bin"
    log "minio posts object-created events of $bucket to $hook"
  fi
  log "minio up (pid $pid) at http://127.0.0.1:$port, bucket $bucket"
}

temporal_health() { "$1" operator cluster health --address "127.0.0.1:$2" --log-level never --color never | grep -q SERVING; }

up_temporal() {
  local bin port http metrics db
  bin="$BIN_temporal"
  db="$STATE_DIR/temporal.db"
  if read_service temporal; then
    if pid_is "$TEMPORAL_PID" "$TEMPORAL_BIN"; then
      if wait_healthy temporal "$TEMPORAL_PID" "$STATE_DIR/temporal.log" temporal_health "$TEMPORAL_BIN" "$TEMPORAL_PORT"; then
        log "temporal already running (pid $TEMPORAL_PID) at $TEMPORAL_ADDRESS"
        return 0
      fi
      stop_pid "$TEMPORAL_PID" "$TEMPORAL_BIN" temporal
    fi
    port="$TEMPORAL_PORT" http="$TEMPORAL_HTTP_PORT" metrics="$TEMPORAL_METRICS_PORT"
    if ! port_free "$port" || ! port_free "$http" || ! port_free "$metrics"; then
      fresh_ports 3
      log "temporal's old ports are taken; using ${PORTS[*]}"
      port="${PORTS[0]}" http="${PORTS[1]}" metrics="${PORTS[2]}"
    fi
    log "restarting temporal on 127.0.0.1:$port with its state in $db"
  else
    fresh_ports 3
    port="${PORTS[0]}" http="${PORTS[1]}" metrics="${PORTS[2]}"
    rm -f "$db" "$db-shm" "$db-wal"
    log "starting temporal on 127.0.0.1:$port (fresh state in $db)"
  fi
  spawn "$STATE_DIR/temporal.log" "$bin" server start-dev --headless --ip 127.0.0.1 --port "$port" \
    --http-port "$http" --metrics-port "$metrics" --db-filename "$db" --log-level warn --color never
  local pid="$SPAWNED_PID"
  write_kv "$STATE_DIR/temporal.env" "TEMPORAL_PID=$pid" "TEMPORAL_BIN=$bin" "TEMPORAL_PORT=$port" \
    "TEMPORAL_HTTP_PORT=$http" "TEMPORAL_METRICS_PORT=$metrics" "TEMPORAL_DB=$db" "TEMPORAL_LOG=$STATE_DIR/temporal.log" \
    "TEMPORAL_ADDRESS=127.0.0.1:$port" "TEMPORAL_NAMESPACE=default"
  wait_healthy temporal "$pid" "$STATE_DIR/temporal.log" temporal_health "$bin" "$port" || give_up temporal "$pid" "$bin"
  log "temporal up (pid $pid) at 127.0.0.1:$port, namespace default"
}

# Build (when needed) before taking the lock: builds take minutes and are safe to run side by side.
for s in "${SERVICES[@]}"; do
  b="$(service_bin "$s")" || exit 1
  printf -v "BIN_$s" '%s' "$b"
done
take_lock
mkdir -p "$STATE_DIR"
for s in "${SERVICES[@]}"; do
  "up_$s"
  write_env_file
done
log "endpoints in $ENV_FILE (load with: set -a; . $ENV_FILE; set +a)"
