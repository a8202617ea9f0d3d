#!/usr/bin/env bash
# Rebuilds the parity suite (scripts/parity/README.md): the pinned venv, tiny random-init
# diffusers/transformers pipelines, their optimum ONNX exports, the bundles under
# models/test/parity/ and diffusers' expected values under test/parity/.
#   bash scripts/parity/regenerate.sh                 # everything
#   bash scripts/parity/regenerate.sh --only sdxl     # one pipeline (see generate.py --help)
#   bash scripts/parity/regenerate.sh --skip-export   # re-record expected values from the bundles
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.cache/parity-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r scripts/parity/requirements.txt
# CLIP's BPE merges ship in open_clip's wheel (bpe_simple_vocab_16e6.txt.gz); only that file is read.
wheel=.cache/parity/dl/open_clip_torch-3.3.0-py3-none-any.whl
if [ ! -f "$wheel" ]; then
  "$venv/bin/pip" download -q --disable-pip-version-check --no-deps -d .cache/parity/dl open-clip-torch==3.3.0
fi
bash scripts/fetch-photos.sh
# The exports and make-bundle use the node tree: npm ci must have run.
[ -d node_modules ] || npm ci --no-audit --no-fund
time "$venv/bin/python" scripts/parity/generate.py "$@"
