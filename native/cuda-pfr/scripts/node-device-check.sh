#!/usr/bin/env bash
# The Node-level GPU check, on a machine without Node: unpacks what node-device-prep.sh put in
# .device/ (carried), runs the bundled scripts/device-node-check.ts with that Node and prints one
# JSON summary as the last stdout line (also $OUT/node-device-check.json when $OUT is set, with
# the log beside it). Run from anywhere in the repository copy:
#   native/cuda-pfr/scripts/node-device-check.sh [--harness] [check options: --quick
#        --budget-s S --require-cuda --seed N]
# --harness first runs scripts/device-check.sh (nvcc, NVRTC and PTX paths through the C++
# harness, no Node; needs nvcc and cmake) under a 90 s limit (DIFFC_HARNESS_LIMIT_S) and gives
# the Node check 120 s of budget instead of 200, so the whole call stays under 5 minutes.
# Exit: the check's (0 ok or "cuda unavailable: ..." skip with "cuda": null; 1 a check failed
# or nothing could run; 3 no CUDA with --require-cuda).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$ROOT"
DEV=${DIFFC_DEVICE_DIR:-.device}
case "$DEV" in /*) RUN=$DEV/run ;; *) RUN=$ROOT/$DEV/run ;; esac
LOG=$(mktemp)  # this script's and the check's stderr, copied to $OUT at the end
START=$(date +%s)
HARNESS=0
ARGS=()
for a in "$@"; do
  if [ "$a" = --harness ]; then HARNESS=1; else ARGS+=("$a"); fi
done
BUDGET=200
[ "$HARNESS" = 1 ] && BUDGET=120
for ((i = 0; i < ${#ARGS[@]}; i++)); do [ "${ARGS[$i]}" = --budget-s ] && BUDGET=${ARGS[$((i + 1))]:-$BUDGET}; done
say() { echo "[node-device-check] $*" | tee -a "$LOG" >&2; }

# One JSON line even when the check cannot start or dies (timeout, crash).
fail_json() {
  local why
  why=$(printf '%s' "$1" | tr '\n"\\' "  '" | cut -c1-500)
  printf '{"check":"diffc-node-device-check","ok":false,"cuda":null,"failures":["%s"],"elapsed_s":%d}\n' "$why" $(($(date +%s) - START))
}
finish() {  # $1: JSON line, $2: exit code
  if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT/dfc"
    printf '%s\n' "$1" > "$OUT/node-device-check.json"
    cp "$LOG" "$OUT/node-device-check.log"
    cp "$RUN"/work/*.dfc "$OUT/dfc/" 2>/dev/null
  fi
  # The unpacked Node is ~100 MB: never left where a later carry of .device would take it.
  [ "${DIFFC_KEEP_RUN:-0}" = 1 ] || rm -rf "$RUN"
  rm -f "$LOG"
  printf '%s\n' "$1"
  exit "$2"
}

untar_xz() {  # archive, destination: tar with xz, else Python's tarfile (lzma)
  tar -xJf "$1" -C "$2" 2>/dev/null || python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2], **({"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}))' "$1" "$2"
}

[ -f "$DEV/MANIFEST" ] || finish "$(fail_json "$DEV/MANIFEST missing: run native/cuda-pfr/scripts/node-device-prep.sh and carry $DEV")" 1
sed -n 2,4p "$DEV/MANIFEST" | tee -a "$LOG" >&2
(cd "$DEV" && grep -E '^[0-9a-f]{64}  ' MANIFEST | sha256sum -c --quiet) >&2 || finish "$(fail_json "checksums of $DEV do not match its MANIFEST")" 1
rm -rf "$RUN"
mkdir -p "$RUN/work"
untar_xz "$DEV/node.tar.xz" "$RUN" && untar_xz "$DEV/bundle.tar.xz" "$RUN" || finish "$(fail_json "cannot unpack $DEV archives")" 1
NODE=$RUN/node/bin/node
"$NODE" --version >/dev/null 2>&1 || finish "$(fail_json "the carried Node does not run here: $("$NODE" --version 2>&1 | head -1)")" 1
say "node $("$NODE" --version), unpacked in $(($(date +%s) - START)) s"

NVCC=$(command -v nvcc || true)
[ -z "$NVCC" ] && [ -x /usr/local/cuda/bin/nvcc ] && NVCC=/usr/local/cuda/bin/nvcc
[ -n "$NVCC" ] && export CUDA_HOME=${CUDA_HOME:-$(dirname "$(dirname "$NVCC")")}  # NVRTC fallback
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader 2>&1 | tee -a "$LOG" >&2

# The addon built where the bundle was made; if it cannot load here (e.g. an older libstdc++),
# rebuild it from the sources with this Node's headers and the carried node-addon-api.
cp "$DEV/rcc_native.node" "$RUN/rcc_native.node"
export DIFFC_RCC_ADDON=$RUN/rcc_native.node DIFFC_CHECK_ADDON_SOURCE=carried
if ! why=$("$NODE" -e 'require(process.env.DIFFC_RCC_ADDON)' 2>&1); then
  say "carried addon does not load: $(echo "$why" | grep -m1 -iE 'error|GLIBC' || echo "$why" | head -1)"
  if command -v "${CXX:-g++}" >/dev/null && NODE_PATH=$RUN/node_modules "$NODE" native/cuda-pfr/build.mjs --force 2>&1 | tee -a "$LOG" >&2; then
    export DIFFC_RCC_ADDON=$ROOT/native/cuda-pfr/build/rcc_native.node DIFFC_CHECK_ADDON_SOURCE=rebuilt
  else
    DIFFC_CHECK_ADDON_SOURCE="carried (does not load; no rebuild)"
  fi
fi

if [ "$HARNESS" = 1 ]; then
  H0=$(date +%s)
  HOUT=${OUT:-$RUN}/harness
  mkdir -p "$HOUT"
  say "native harness (device-check.sh --cross 4, ${DIFFC_HARNESS_LIMIT_S:-90} s limit), log $HOUT/harness.log"
  timeout -k 5 "${DIFFC_HARNESS_LIMIT_S:-90}" native/cuda-pfr/scripts/device-check.sh "$HOUT" --cross 4 > "$HOUT/harness.log" 2>&1
  export DIFFC_CHECK_HARNESS_RC=$? DIFFC_CHECK_HARNESS_S=$(($(date +%s) - H0)) DIFFC_CHECK_HARNESS_LOG=$HOUT/harness.log
  tail -5 "$HOUT/harness.log" | tee -a "$LOG" >&2
fi

# The check's own watchdog fires at budget + 60 s; this is the backstop.
LIMIT=$((BUDGET + 70))
say "check: budget $BUDGET s, hard limit $LIMIT s"
timeout -k 5 "$LIMIT" "$NODE" "$RUN/check.mjs" --workdir "$RUN/work" --budget-s "$BUDGET" ${ARGS[@]+"${ARGS[@]}"} \
  > "$RUN/stdout.txt" 2> >(tee -a "$LOG" >&2)
rc=$?
sleep 0.2  # let tee flush
LAST=$(tail -n 1 "$RUN/stdout.txt" 2>/dev/null)
case "$LAST" in
  '{'*) finish "$LAST" "$rc" ;;
  *) finish "$(fail_json "the check exited $rc without a summary (124/137: timeout after $LIMIT s)")" 1 ;;
esac
