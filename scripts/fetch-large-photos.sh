#!/usr/bin/env bash
# Fetches real high-resolution photographs (2560x1600, LGPLv3 KDE wallpapers) from Debian's
# plasma-workspace-wallpapers package (~94 MB) into .cache/photos/large/ for bench:large (nothing
# is committed). Idempotent: reruns are instant once the photos are there.
#   scripts/fetch-large-photos.sh [DEST]    (default .cache/photos/large)
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-.cache/photos/large}
want=(Kite Path Autumn ColorfulCups)
have=0
for w in "${want[@]}"; do [ -f "$dest/$w.jpg" ] && have=$((have + 1)); done
if [ "$have" -eq "${#want[@]}" ]; then exit 0; fi
mkdir -p .cache/debs "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! ls .cache/debs/plasma-workspace-wallpapers_*.deb >/dev/null 2>&1; then
  # A fresh machine may have no package lists yet: update them once and retry.
  (cd .cache/debs && apt-get download plasma-workspace-wallpapers) || { apt-get update -qq && (cd .cache/debs && apt-get download plasma-workspace-wallpapers); } || {
    echo "fetch-large-photos: 'apt-get download plasma-workspace-wallpapers' failed (needs Debian's package index and the network; try 'apt-get update' as root)" >&2
    exit 1
  }
fi
dpkg -x .cache/debs/plasma-workspace-wallpapers_*.deb "$tmp"
for w in "${want[@]}"; do
  src=$(find "$tmp" -path "*/wallpapers/$w/contents/images/2560x1600.jpg" | head -n 1)
  if [ -z "$src" ]; then
    echo "fetch-large-photos: $w/contents/images/2560x1600.jpg is not in the package" >&2
    exit 1
  fi
  cp "$src" "$dest/$w.jpg.tmp" && mv "$dest/$w.jpg.tmp" "$dest/$w.jpg"
done
echo "fetch-large-photos: ${#want[@]} photos in $dest"
