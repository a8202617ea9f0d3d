#!/usr/bin/env node
// Builds the RCC addon, native/cuda-pfr/build/rcc_native.node, with the system C++ compiler only:
// no node-gyp, no download. Node's headers come from this Node's own install prefix (or
// npm_config_nodedir, or /usr/include/node); node-addon-api from node_modules. CUDA is not
// needed: the addon loads the driver at run time (src/rcc_cuda.cpp).
//
//   node native/cuda-pfr/build.mjs [--force] [--if-possible] [--verbose]
//
// --if-possible (the npm install hook): a failed build prints why and exits 0, and the 'ts'
// backend is used at run time. DIFFC_SKIP_NATIVE=1 skips the build. CXX picks the compiler.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = new Set(process.argv.slice(2));
const ifPossible = args.has('--if-possible');
const force = args.has('--force');
const verbose = args.has('--verbose');
const outDir = path.join(here, 'build');
const objDir = path.join(outDir, 'obj');
const genDir = path.join(outDir, 'gen');
const target = path.join(outDir, 'rcc_native.node');

function log(msg) {
  process.stderr.write(`[cuda-pfr] ${msg}\n`);
}

function nodeIncludeDir() {
  const candidates = [];
  if (process.env.npm_config_nodedir) candidates.push(path.join(process.env.npm_config_nodedir, 'include', 'node'));
  candidates.push(path.resolve(path.dirname(process.execPath), '..', 'include', 'node'));
  candidates.push('/usr/include/node', '/usr/local/include/node');
  const found = candidates.find((d) => existsSync(path.join(d, 'node_api.h')));
  if (!found) throw new Error(`Node headers (node_api.h) not found; looked in ${candidates.join(', ')}`);
  return found;
}

function addonApiIncludeDir() {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve('node-addon-api/package.json'));
}

// Embeds a text file as a C++ raw string literal.
function embed(file, symbol) {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  if (text.includes(')RCC_EMBED"')) throw new Error(`${file} contains the embedding delimiter`);
  const out = path.join(genDir, `${symbol}.h`);
  const body = `static const char ${symbol}[] = R"RCC_EMBED(${text})RCC_EMBED";\n`;
  if (!existsSync(out) || readFileSync(out, 'utf8') !== body) writeFileSync(out, body);
}

function run(cmd, argv) {
  if (verbose) log([cmd, ...argv].join(' '));
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'inherit', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b) => { err += b; });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(err) : reject(new Error(`${cmd} exited with ${code}\n${err}`))));
  });
}

function newestInput() {
  let newest = statSync(fileURLToPath(import.meta.url)).mtimeMs;
  for (const dir of ['src', 'kernels']) {
    const d = path.join(here, dir);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) newest = Math.max(newest, statSync(path.join(d, f)).mtimeMs);
  }
  return newest;
}

async function build() {
  if (!force && existsSync(target) && statSync(target).mtimeMs > newestInput()) {
    log(`up to date: ${path.relative(process.cwd(), target)}`);
    return;
  }
  const cxx = process.env.CXX || 'g++';
  const started = Date.now();
  mkdirSync(objDir, { recursive: true });
  mkdirSync(genDir, { recursive: true });
  embed(path.join(here, 'src', 'rcc_kernel.cu'), 'rcc_kernel_src');
  embed(path.join(here, 'kernels', 'rcc_kernel.ptx'), 'rcc_kernel_ptx');
  const x64 = process.arch === 'x64';
  const common = [
    '-std=c++17', '-O3', '-fPIC', '-fvisibility=hidden', '-pthread',
    // docs/rcc.md §3: each float32 operation rounded on its own; no FMA contraction, no fast-math
    // (which would also enable flush-to-zero).
    '-ffp-contract=off', '-fno-fast-math',
    '-Wall', '-Wextra', '-Wno-unused-parameter',
    '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS', '-DNODE_ADDON_API_DISABLE_DEPRECATED',
    '-I', genDir, '-I', nodeIncludeDir(), '-I', addonApiIncludeDir(),
  ];
  const sources = [
    ['rcc_engine.cpp', []],
    ['rcc_scalar.cpp', []],
    ['rcc_cuda.cpp', []],
    ['rcc_avx2.cpp', x64 ? ['-mavx2'] : []],
    ['rcc_avx512.cpp', x64 ? ['-mavx512f', '-Wno-maybe-uninitialized'] : []],
    ['addon.cpp', []],
  ];
  const jobs = Math.max(1, os.availableParallelism ? os.availableParallelism() : os.cpus().length);
  const queue = [...sources];
  const objects = sources.map(([src]) => path.join(objDir, src.replace(/\.cpp$/, '.o')));
  const worker = async () => {
    for (let item = queue.shift(); item; item = queue.shift()) {
      const [src, extra] = item;
      const obj = path.join(objDir, src.replace(/\.cpp$/, '.o'));
      const warnings = await run(cxx, [...common, ...extra, '-c', path.join(here, 'src', src), '-o', obj]);
      if (warnings.trim()) process.stderr.write(warnings);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, sources.length) }, worker));
  const tmp = `${target}.tmp-${process.pid}`;
  const link = process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : [];
  await run(cxx, ['-shared', '-pthread', ...link, '-o', tmp, ...objects, '-ldl']);
  renameSync(tmp, target);
  log(`built ${path.relative(process.cwd(), target)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.env.DIFFC_SKIP_NATIVE === '1') {
  log('DIFFC_SKIP_NATIVE=1: native RCC addon not built; the ts backend will be used');
} else {
  build().catch((e) => {
    if (ifPossible) {
      log('WARNING: the native RCC addon could not be built; diffc will fall back to the slow TypeScript');
      log('backend (rcc backend "ts"). Run `npm run build:native` to see the error again. Cause:');
      log(String(e && e.message ? e.message : e).split('\n').slice(0, 20).join('\n'));
      process.exit(0);
    }
    log(`build failed: ${e && e.message ? e.message : e}`);
    process.exit(1);
  });
}
