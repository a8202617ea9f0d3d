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
# ftfy, wcwidth and open_clip_torch (CLIP's bpe_simple_vocab_16e6.txt.gz and its SimpleTokenizer),
# without their dependencies: open_clip's would pull torchvision and more, none of it used.
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r scripts/parity/requirements-tokenizers.txt
bash scripts/fetch-photos.sh
# The exports and make-bundle use the node tree: npm ci must have run.
[ -d node_modules ] || npm ci --no-audit --no-fund
time "$venv/bin/python" scripts/parity/generate.py "$@"
