#!/usr/bin/env bash
# Fetches libjxl's cjxl/djxl (Debian bookworm's libjxl-tools 0.7 and the libraries a Debian
# machine lacks) for the JPEG XL baseline of `diffc eval`, without installing anything:
#   bash scripts/fetch-jxl.sh   -> .cache/tools/bin/{cjxl,djxl} (wrappers), .cache/tools/jxl/
# then DIFFC_JXL_DIR=.cache/tools/bin diffc eval ...   (or install libjxl-tools: cjxl on PATH)
# Idempotent: reruns are instant once the tools are there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=.cache/tools
if [ -x "$root/bin/cjxl" ] && [ -x "$root/bin/djxl" ] && [ -f "$root/jxl/.complete" ]; then exit 0; fi
pkgs=(libjxl-tools libjxl0.7 libhwy1 libopenexr-3-1-30 libimath-3-1-29)
mkdir -p .cache/debs "$root/bin"
have() { ls .cache/debs/"$1"_*.deb >/dev/null 2>&1; }
missing=()
for p in "${pkgs[@]}"; do have "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  # A fresh machine may have no package lists yet: update them once and retry.
  (cd .cache/debs && apt-get download "${missing[@]}" 2>/dev/null) || { apt-get update -qq && (cd .cache/debs && apt-get download "${missing[@]}"); } || {
    echo "fetch-jxl: 'apt-get download ${missing[*]}' failed (needs Debian bookworm's package index; try 'apt-get update' as root)" >&2
    exit 1
  }
fi
rm -rf "$root/jxl.tmp"
mkdir -p "$root/jxl.tmp"
for p in "${pkgs[@]}"; do dpkg -x "$(ls .cache/debs/"$p"_*.deb | head -n 1)" "$root/jxl.tmp"; done
rm -rf "$root/jxl"
mv "$root/jxl.tmp" "$root/jxl"
for t in cjxl djxl; do
  cat > "$root/bin/$t.tmp" <<WRAP
#!/bin/sh
# diffc: $t from Debian's libjxl-tools, with its libraries from .cache/tools/jxl (scripts/fetch-jxl.sh)
here=\$(cd "\$(dirname "\$0")/.." && pwd)
LD_LIBRARY_PATH="\$here/jxl/usr/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "\$here/jxl/usr/bin/$t" "\$@"
WRAP
  chmod +x "$root/bin/$t.tmp"
  mv "$root/bin/$t.tmp" "$root/bin/$t"
done
"$root/bin/cjxl" --version > /dev/null
touch "$root/jxl/.complete"
echo "fetch-jxl: $("$root/bin/cjxl" --version 2>&1 | head -n 1) in $root/bin"
