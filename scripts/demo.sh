#!/usr/bin/env bash
# The main job, end to end on this machine with the embedded default model (no server, no download):
# fetch a public-domain photo, compress it to 0.1 bpp, decode it, and show what the file holds.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-photos.sh
mkdir -p out
node bin/diffc.js compress .cache/photos/astronaut.png -o out/astronaut.dfc --bpp 0.1 --recon out/astronaut-recon.png --force
node bin/diffc.js decompress out/astronaut.dfc -o out/astronaut.png --force
cmp out/astronaut.png out/astronaut-recon.png && echo "decoded image is byte-identical to the encoder's reconstruction"
node bin/diffc.js info out/astronaut.dfc
