#!/usr/bin/env bash
# Fetches the reference tools `diffc eval` drives, without installing anything system-wide:
#   - cjxl/djxl (JPEG XL baseline) from Debian bookworm's libjxl-tools 0.7, with the libraries a
#     Debian machine lacks;
#   - butteraugli (Debian's package of google/butteraugli, 2017-01-16);
#   - ssimulacra2_rs 0.5.2 (the rust-av SSIMULACRA 2 tool) built from crates.io with cargo.
#   bash scripts/fetch-eval-tools.sh   -> .cache/tools/bin/{cjxl,djxl,butteraugli,ssimulacra2_rs}
# then DIFFC_TOOLS_DIR=.cache/tools/bin diffc eval ...   (or put the tools on PATH)
# Idempotent: reruns are instant once the tools are there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=.cache/tools
SS2_VERSION=0.5.2
want=(cjxl djxl butteraugli ssimulacra2_rs)
ready=1
for t in "${want[@]}"; do [ -x "$root/bin/$t" ] || ready=0; done
if [ $ready = 1 ] && [ -f "$root/debs/.complete" ]; then exit 0; fi
pkgs=(libjxl-tools libjxl0.7 libhwy1 libopenexr-3-1-30 libimath-3-1-29 butteraugli)
mkdir -p .cache/debs "$root/bin"
missing=()
for p in "${pkgs[@]}"; do ls .cache/debs/"$p"_*.deb >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  # A fresh machine may have no package lists yet: update them once and retry.
  (cd .cache/debs && apt-get download "${missing[@]}" 2>/dev/null) || { apt-get update -qq && (cd .cache/debs && apt-get download "${missing[@]}"); } || {
    echo "fetch-eval-tools: 'apt-get download ${missing[*]}' failed (needs Debian bookworm's package index; try 'apt-get update' as root)" >&2
    exit 1
  }
fi
rm -rf "$root/debs.tmp"
mkdir -p "$root/debs.tmp"
for p in "${pkgs[@]}"; do dpkg -x "$(ls .cache/debs/"$p"_*.deb | head -n 1)" "$root/debs.tmp"; done
rm -rf "$root/debs"
mv "$root/debs.tmp" "$root/debs"
for t in cjxl djxl butteraugli; do
  cat > "$root/bin/$t.tmp" <<WRAP
#!/bin/sh
# diffc: $t from Debian, with its libraries from .cache/tools/debs (scripts/fetch-eval-tools.sh)
here=\$(cd "\$(dirname "\$0")/.." && pwd)
LD_LIBRARY_PATH="\$here/debs/usr/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "\$here/debs/usr/bin/$t" "\$@"
WRAP
  chmod +x "$root/bin/$t.tmp"
  mv "$root/bin/$t.tmp" "$root/bin/$t"
done
"$root/bin/cjxl" --version > /dev/null
if [ ! -x "$root/bin/ssimulacra2_rs" ]; then
  command -v cargo > /dev/null || { echo "fetch-eval-tools: ssimulacra2_rs needs cargo (https://rustup.rs)" >&2; exit 1; }
  echo "fetch-eval-tools: building ssimulacra2_rs $SS2_VERSION (about 2 min)"
  cargo install ssimulacra2_rs --version "$SS2_VERSION" --no-default-features --locked --quiet --root "$root/cargo"
  cp "$root/cargo/bin/ssimulacra2_rs" "$root/bin/ssimulacra2_rs.tmp"
  mv "$root/bin/ssimulacra2_rs.tmp" "$root/bin/ssimulacra2_rs"
fi
touch "$root/debs/.complete"
rm -rf "$root/jxl"   # the layout of an earlier version of this script
echo "fetch-eval-tools: $("$root/bin/cjxl" --version 2>&1 | head -n 1), butteraugli, $("$root/bin/ssimulacra2_rs" --version) in $root/bin"
