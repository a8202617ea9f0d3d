#!/usr/bin/env bash
# Offline tooling for the Kubernetes manifests in k8s/: render the Kustomize overlays and validate
# every rendered object against the Kubernetes API schemas and the CRD schemas (KEDA,
# prometheus-operator), with no cluster and no network at validation time.
#
#   infra/k8s-tools.sh install            install the pinned tools (idempotent; the only step
#                                         that needs the network: Go module proxy and PyPI)
#   infra/k8s-tools.sh render OVERLAY     kustomize build k8s/overlays/OVERLAY to stdout
#   infra/k8s-tools.sh validate [FILE|-]  validate a multi-document YAML stream (default: every
#                                         overlay and release, rendered); exit 1 on the first invalid object
#   infra/k8s-tools.sh env                print the tool paths as KEY=VALUE lines (for the tests)
#
# Tools, pinned (kustomize v5.8.1 builds with Go >= 1.24; v5.8.3 wants Go 1.27), under ${DIFFC_CACHE:-$HOME/.cache/diffc}/k8s (DIFFC_K8S_TOOLS moves it):
#   kustomize          sigs.k8s.io/kustomize/kustomize/v5, built with `go install`
#   kubernetes-validate  PyPI package bundling the Kubernetes OpenAPI schemas, in its own venv
#   CRD schemas        openAPIV3Schema of KEDA's ScaledObject / ScaledJob / TriggerAuthentication and
#                      prometheus-operator's ServiceMonitor, taken from the Go modules' CRD YAML
#                      (`go mod download`) and turned into JSON Schema (k8s-validate.py), plus
#                      the parameter names of KEDA's Temporal scaler from its Go source.
set -euo pipefail

KUSTOMIZE_MODULE="sigs.k8s.io/kustomize/kustomize/v5"
KUSTOMIZE_VERSION="${DIFFC_KUSTOMIZE_VERSION:-v5.8.1}"
KUBERNETES_VALIDATE_VERSION="${DIFFC_KUBERNETES_VALIDATE_VERSION:-1.37.0}"
# The Kubernetes API version the objects are checked against (a schema kubernetes-validate bundles).
K8S_VERSION="${DIFFC_K8S_VERSION:-1.31.0}"
KEDA_MODULE="github.com/kedacore/keda/v2"
KEDA_VERSION="${DIFFC_KEDA_VERSION:-v2.21.0}"
PROM_OPERATOR_MODULE="github.com/prometheus-operator/prometheus-operator"
PROM_OPERATOR_VERSION="${DIFFC_PROM_OPERATOR_VERSION:-v0.85.0}"

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$INFRA_DIR/.." && pwd)"
TOOLS="${DIFFC_K8S_TOOLS:-${DIFFC_CACHE:-$HOME/.cache/diffc}/k8s}"
KUSTOMIZE="$TOOLS/bin/kustomize-$KUSTOMIZE_VERSION"
VENV="$TOOLS/venv-kubernetes-validate-$KUBERNETES_VALIDATE_VERSION"
CRD_DIR="$TOOLS/crds-v3-keda-$KEDA_VERSION-prom-$PROM_OPERATOR_VERSION"
VALIDATOR="$INFRA_DIR/k8s-validate.py"

die() { echo "k8s-tools: $*" >&2; exit 1; }
log() { echo "k8s-tools: $*" >&2; }

installed() { [[ -x "$KUSTOMIZE" && -x "$VENV/bin/python" && -f "$VENV/.complete" && -f "$CRD_DIR/.complete" ]]; }

install_kustomize() {
  [[ -x "$KUSTOMIZE" ]] && return 0
  command -v go >/dev/null 2>&1 || die "Go is needed to build kustomize (go install $KUSTOMIZE_MODULE@$KUSTOMIZE_VERSION)"
  mkdir -p "$TOOLS/bin"
  local gobin; gobin="$(mktemp -d "$TOOLS/bin/.build.XXXXXX")"
  log "building kustomize $KUSTOMIZE_VERSION (go install; about a minute) ..."
  if ! GOBIN="$gobin" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -p=${DIFFC_BUILD_JOBS:-2}" go install -trimpath "$KUSTOMIZE_MODULE@$KUSTOMIZE_VERSION"; then
    rm -rf "$gobin"; die "go install $KUSTOMIZE_MODULE@$KUSTOMIZE_VERSION failed"
  fi
  mv -f "$gobin/kustomize" "$KUSTOMIZE"
  rm -rf "$gobin"
}

install_validator() {
  [[ -f "$VENV/.complete" ]] && return 0
  command -v python3 >/dev/null 2>&1 || die "python3 is needed for kubernetes-validate"
  log "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION into $VENV ..."
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" \
    || die "pip install kubernetes-validate==$KUBERNETES_VALIDATE_VERSION failed"
  touch "$VENV/.complete"
}

# mod_dir MODULE VERSION -> the module's extracted directory in the Go module cache
mod_dir() {
  go mod download -json "$1@$2" | "$VENV/bin/python" -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir") or sys.exit("no Dir: " + d.get("Error", "?")))'
}

install_crds() {
  [[ -f "$CRD_DIR/.complete" ]] && return 0
  command -v go >/dev/null 2>&1 || die "Go is needed to fetch the CRD schemas (go mod download)"
  log "fetching CRD schemas ($KEDA_MODULE@$KEDA_VERSION, $PROM_OPERATOR_MODULE@$PROM_OPERATOR_VERSION) ..."
  local keda prom tmp
  keda="$(cd "$TOOLS" && mod_dir "$KEDA_MODULE" "$KEDA_VERSION")" || die "go mod download $KEDA_MODULE@$KEDA_VERSION failed"
  prom="$(cd "$TOOLS" && mod_dir "$PROM_OPERATOR_MODULE" "$PROM_OPERATOR_VERSION")" || die "go mod download $PROM_OPERATOR_MODULE@$PROM_OPERATOR_VERSION failed"
  tmp="$(mktemp -d "$TOOLS/.crds.XXXXXX")"
  "$VENV/bin/python" "$VALIDATOR" extract-crds "$tmp" \
    "$keda/config/crd/bases/keda.sh_scaledobjects.yaml" \
    "$keda/config/crd/bases/keda.sh_scaledjobs.yaml" \
    "$keda/config/crd/bases/keda.sh_triggerauthentications.yaml" \
    "$prom/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" \
    || { rm -rf "$tmp"; die "extracting the CRD schemas failed"; }
  "$VENV/bin/python" "$VALIDATOR" extract-scaler "$tmp" temporal "$keda/pkg/scalers/temporal_scaler.go" \
    || { rm -rf "$tmp"; die "extracting the Temporal scaler's parameters failed"; }
  touch "$tmp/.complete"
  rm -rf "$CRD_DIR"
  mv "$tmp" "$CRD_DIR"
}

install() {
  mkdir -p "$TOOLS"
  install_kustomize
  install_validator
  install_crds
  log "tools ready in $TOOLS (kustomize $KUSTOMIZE_VERSION, kubernetes-validate $KUBERNETES_VALIDATE_VERSION for Kubernetes $K8S_VERSION, KEDA $KEDA_VERSION, prometheus-operator $PROM_OPERATOR_VERSION)"
}

render() {
  local overlay="${1:-}"
  [[ -n "$overlay" && -d "$REPO_ROOT/k8s/overlays/$overlay" ]] || die "render: no overlay '$overlay' (have: $(ls "$REPO_ROOT/k8s/overlays" | tr '\n' ' '))"
  [[ -x "$KUSTOMIZE" ]] || die "kustomize is not installed: run infra/k8s-tools.sh install"
  "$KUSTOMIZE" build "$REPO_ROOT/k8s/overlays/$overlay"
}

validate() {
  installed || die "tools are not installed: run infra/k8s-tools.sh install"
  if [[ $# -gt 0 ]]; then
    "$VENV/bin/python" "$VALIDATOR" validate --k8s-version "$K8S_VERSION" --crds "$CRD_DIR" "$@"
    return
  fi
  local o
  for o in $(ls "$REPO_ROOT/k8s/overlays"); do
    render "$o" | "$VENV/bin/python" "$VALIDATOR" validate --k8s-version "$K8S_VERSION" --crds "$CRD_DIR" --name "overlay $o" -
  done
  # Versioned releases (the prod overlay + k8s/components/worker-build, docs/deploy.md).
  for o in $(ls "$REPO_ROOT/k8s/releases" 2>/dev/null); do
    "$KUSTOMIZE" build "$REPO_ROOT/k8s/releases/$o" | "$VENV/bin/python" "$VALIDATOR" validate --k8s-version "$K8S_VERSION" --crds "$CRD_DIR" --name "release $o" -
  done
}

case "${1:-}" in
  install) install ;;
  render) shift; render "$@" ;;
  validate) shift; validate "$@" ;;
  env)
    installed || die "tools are not installed: run infra/k8s-tools.sh install"
    printf 'KUSTOMIZE=%s\nK8S_PYTHON=%s\nK8S_VALIDATOR=%s\nK8S_VERSION=%s\nK8S_CRDS=%s\nKUSTOMIZE_VERSION=%s\nKUBERNETES_VALIDATE_VERSION=%s\nKEDA_VERSION=%s\nPROM_OPERATOR_VERSION=%s\n' \
      "$KUSTOMIZE" "$VENV/bin/python" "$VALIDATOR" "$K8S_VERSION" "$CRD_DIR" "$KUSTOMIZE_VERSION" "$KUBERNETES_VALIDATE_VERSION" "$KEDA_VERSION" "$PROM_OPERATOR_VERSION" ;;
  -h|--help|'') sed -n '2,/^set -/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
  *) die "unknown command '$1' (install | render OVERLAY | validate [FILE] | env)" ;;
esac
