#!/usr/bin/env bash
# Stop the development services that infra/dev-up.sh started (by their recorded PIDs, after
# checking that each PID still runs the same binary) and delete their data and logs.
#
#   infra/dev-down.sh [temporal] [minio]    # npm run dev:down; no names: both
#
# Safe to re-run: services that are not running are just forgotten. Set DIFFC_KEEP_DATA=1 to keep
# the data and logs (the next dev-up then starts fresh anyway).
set -euo pipefail
SCRIPT_NAME=dev-down
# shellcheck source=infra/lib.sh
. "$(dirname "$0")/lib.sh"
parse_services "$@"

if [[ ! -d "$STATE_DIR" ]]; then
  rm -f "$ENV_FILE"
  log "nothing running (no $STATE_DIR)"
  exit 0
fi
take_lock

down_minio() {
  if read_service minio; then
    stop_pid "$MINIO_PID" "$MINIO_BIN" minio
    rm -f "$STATE_DIR/minio.env"
  else
    log "minio: not running"
  fi
  [[ "${DIFFC_KEEP_DATA:-}" == 1 ]] || rm -rf "$STATE_DIR/minio-data" "$STATE_DIR/minio.log"
}

down_temporal() {
  if read_service temporal; then
    stop_pid "$TEMPORAL_PID" "$TEMPORAL_BIN" temporal
    rm -f "$STATE_DIR/temporal.env"
  else
    log "temporal: not running"
  fi
  [[ "${DIFFC_KEEP_DATA:-}" == 1 ]] || rm -f "$STATE_DIR/temporal.db" "$STATE_DIR/temporal.db-shm" "$STATE_DIR/temporal.db-wal" "$STATE_DIR/temporal.log"
}

for s in "${SERVICES[@]}"; do "down_$s"; done
write_env_file
# Nothing left: remove the state dir (the lock file stays; removing it would race a waiter).
if rmdir "$STATE_DIR" 2>/dev/null; then log "all stopped"; fi
