#!/usr/bin/env bash
# Fetches public-domain test photos from Debian's python3-skimage package (nothing is committed):
#   bash scripts/fetch-photos.sh            -> .cache/photos/  (tests; the default model's fitting photos)
#   bash scripts/fetch-photos.sh --heldout  -> .cache/heldout/ (evaluation only: never used for
#                                              fitting or tuning the default model)
# Idempotent: reruns are instant once the photos are there.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--heldout" ]; then
  dest=.cache/heldout
  want=(rocket.jpg camera.png ihc.png hubble_deep_field.jpg coins.png)
else
  dest=.cache/photos
  want=(astronaut.png coffee.png chelsea.png rocket.jpg motorcycle_left.png camera.png)
fi
if [ -f "$dest/.complete" ]; then exit 0; fi
mkdir -p .cache/debs "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! ls .cache/debs/python3-skimage_*.deb >/dev/null 2>&1; then
  # A fresh machine may have no package lists yet: update them once and retry.
  (cd .cache/debs && apt-get download python3-skimage) || { apt-get update -qq && (cd .cache/debs && apt-get download python3-skimage); } || {
    echo "fetch-photos: 'apt-get download python3-skimage' failed (needs Debian's package index; try 'apt-get update' as root)" >&2
    exit 1
  }
fi
dpkg -x .cache/debs/python3-skimage_*.deb "$tmp"
src=$(find "$tmp" -type d -path '*skimage/data' | head -n 1)
for f in "${want[@]}"; do cp "$src/$f" "$dest/$f"; done
touch "$dest/.complete"
echo "fetch-photos: ${#want[@]} photos in $dest"
