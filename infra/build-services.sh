#!/usr/bin/env bash
# Build and cache the development services: the Temporal CLI (whose `server start-dev` is a
# complete single-process Temporal) and MinIO (S3-compatible object store), and fetch ElasticMQ
# (SQS-compatible, for the `diffc trigger sqs` tests; infra/elasticmq.sh, from Maven Central).
#
#   infra/build-services.sh [temporal|minio|elasticmq ...]     default: all three
#
# Binaries go to $DIFFC_SERVICES_BIN (default ${DIFFC_CACHE:-$HOME/.cache/diffc}/bin), named
# with their version (temporal-v1.5.1, minio-v0.0.0-...) plus a plain symlink (temporal, minio).
# A build whose versioned binary is already there is skipped. Needs Go (see go.mod of each:
# Temporal CLI v1.5.1 wants go >= 1.25) and network access to the Go module proxy.
# Builds run under `nice -n 19` with GOFLAGS=-p=1 unless DIFFC_BUILD_JOBS says otherwise:
# expect several minutes each on a small machine.
set -euo pipefail

# Pinned versions. Temporal CLI v1.5.1 is the last tag that `go install` accepts (later tags
# carry replace directives). MinIO has no semver tags; this is the pseudo-version of its
# latest commit that builds with Go 1.26.
TEMPORAL_MODULE="github.com/temporalio/cli/cmd/temporal"
TEMPORAL_VERSION="${DIFFC_TEMPORAL_VERSION:-v1.5.1}"
MINIO_MODULE="github.com/minio/minio"
MINIO_VERSION="${DIFFC_MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"

BIN_DIR="${DIFFC_SERVICES_BIN:-${DIFFC_CACHE:-$HOME/.cache/diffc}/bin}"
JOBS="${DIFFC_BUILD_JOBS:-1}"

die() { echo "build-services: $*" >&2; exit 1; }
log() { echo "build-services: $*" >&2; }

# build NAME MODULE VERSION
build() {
  local name="$1" module="$2" version="$3"
  local target="$BIN_DIR/$name-$version"
  if [[ -x "$target" ]]; then
    log "$name $version already built: $target"
    ln -sfn "$name-$version" "$BIN_DIR/$name"
    return 0
  fi
  command -v go >/dev/null 2>&1 || die "Go is not installed (need go >= 1.25 on PATH); see docs/dev-services.md"
  mkdir -p "$BIN_DIR"
  local gobin
  gobin="$(mktemp -d "$BIN_DIR/.build-$name.XXXXXX")"
  log "building $name $version ($module@$version) ..."
  local start=$SECONDS
  # GOBIN isolates the output; CGO off gives static binaries that do not depend on the host's libc.
  if ! GOBIN="$gobin" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -p=$JOBS" \
      nice -n 19 go install -trimpath "$module@$version"; then
    rm -rf "$gobin"
    die "go install $module@$version failed (see the messages above; is the Go module proxy reachable and Go new enough? $(go version))"
  fi
  local built="$gobin/$(basename "$module")"
  [[ -x "$built" ]] || { rm -rf "$gobin"; die "go install succeeded but $built is missing"; }
  mv -f "$built" "$target"
  rm -rf "$gobin"
  ln -sfn "$name-$version" "$BIN_DIR/$name"
  log "built $name $version in $((SECONDS - start)) s: $target"
}

want=("$@")
[[ ${#want[@]} -gt 0 ]] || want=(temporal minio elasticmq)
for w in "${want[@]}"; do
  case "$w" in
    temporal) build temporal "$TEMPORAL_MODULE" "$TEMPORAL_VERSION" ;;
    minio) build minio "$MINIO_MODULE" "$MINIO_VERSION" ;;
    # A JVM server, not a Go build: Maven resolves it into its own cache dir (seconds once cached).
    elasticmq) bash "$(dirname "$0")/elasticmq.sh" fetch ;;
    *) die "unknown service '$w' (expected temporal, minio or elasticmq)" ;;
  esac
done
log "binaries in $BIN_DIR"
