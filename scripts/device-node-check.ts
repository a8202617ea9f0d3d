/**
 * Node-level GPU check of the CUDA RCC backend: the addon as the codec loads it, through the
 * same TypeScript wrappers and the CLI. Bundled into one .mjs by
 * native/cuda-pfr/scripts/node-device-prep.sh and run on a GPU machine without Node by
 * native/cuda-pfr/scripts/node-device-check.sh; also runs from the sources:
 *
 *   node --import tsx scripts/device-node-check.ts [--quick] [--budget-s 240] [--seed N]
 *        [--workdir DIR] [--require-cuda]
 *
 * Checks: (a) node, addon and device info; (b) cuda == ts (winner index and Object.is(score)) on
 * randomized mixed batches and on the recorded mix's identity requests, and cuda == cpu on
 * k = 16..20 shapes, each cuda run with automatic, 4 and 16 threads per candidate; (c) `diffc
 * compress --backend cuda` writes the same .dfc bytes as `--backend cpu`; (d) samples/s of
 * cuda and cpu on uniform chunks and on the recorded mix, cut short by the time budget.
 * The last stdout line is one JSON object. Exit 0: all passed, or no CUDA (printed as
 * "cuda unavailable: <reason>", "cuda": null); 1: a check failed or the addon is unusable;
 * 3: no CUDA with --require-cuda. --quick (or DIFFC_CHECK_QUICK=1) keeps to small shapes
 * (k <= 10, a few encode steps) for the host-emulated driver (native/cuda-pfr/harness/mockcuda).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createNativeBackend, loadAddon } from '../src/rcc-backends/index.js';
import { targetShape, tsBackend, type ChunkRequest, type RccBackend, type Selection } from '../src/codec/rcc/select.js';
import { ChunkMix, mixWork, type MixWork } from '../src/codec/rcc/chunk-mix.js';
import { identityRequests, mixRate, sameSelections, timeMix, type TimedStep } from '../bench/rcc-mix.js';
import { main } from '../src/cli/main.js';
import { saveImage } from '../src/image/io.js';

const t0 = performance.now();
const elapsed = () => (performance.now() - t0) / 1000;
const log = (s: string) => process.stderr.write(`[node-check ${elapsed().toFixed(1)}s] ${s}\n`);

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'budget-s': { type: 'string' },
    seed: { type: 'string', default: '20260101' },
    workdir: { type: 'string' },
    'require-cuda': { type: 'boolean', default: false },
    'mix-file': { type: 'string', default: 'test/fixtures/rcc-mix/recorded.json' },
    'mix-bpp': { type: 'string', default: '0.2' },
    image: { type: 'string', default: 'test/fixtures/default-dct-v1/coffee-96x64.png' },
    // Self-test of this script without a GPU: 'cpu' runs every step with the cpu backend in the
    // cuda role (reported as "stand_in": "cpu"; says nothing about CUDA).
    'stand-in': { type: 'string' },
  },
});
if (values['stand-in'] !== undefined && values['stand-in'] !== 'cpu') throw new Error('--stand-in takes only cpu');
const GPU: 'cuda' | 'cpu' = values['stand-in'] === 'cpu' ? 'cpu' : 'cuda';
const QUICK = values.quick || process.env.DIFFC_CHECK_QUICK === '1';
const BUDGET_S = Number(values['budget-s'] ?? process.env.DIFFC_CHECK_BUDGET_S ?? (QUICK ? 900 : 240));
const SEED = Number(values.seed) >>> 0;
const WORK = path.resolve(values.workdir ?? path.join(os.tmpdir(), `diffc-node-check-${process.pid}`));

const report: Record<string, unknown> = {
  check: 'diffc-node-device-check',
  quick: QUICK,
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
  cpus: os.availableParallelism(),
  seed: SEED,
  budget_s: BUDGET_S,
};
const failures: string[] = [];
let finished = false;

function harnessInfo(): unknown {
  // Set by node-device-check.sh when it ran the native harness first (--harness).
  const rc = process.env.DIFFC_CHECK_HARNESS_RC;
  if (rc === undefined || rc === '') return undefined;
  return { rc: Number(rc), seconds: Number(process.env.DIFFC_CHECK_HARNESS_S ?? NaN), log: process.env.DIFFC_CHECK_HARNESS_LOG ?? null };
}

function emit(code: number): never {
  finished = true;
  const harness = harnessInfo();
  if (harness !== undefined) {
    report.harness = harness;
    const rc = (harness as { rc: number }).rc;
    if (rc === 124 || rc === 137) failures.push('native harness timed out (node-device-check.sh --harness; its log says how far it got)');
    else if (rc !== 0) failures.push(`native harness exited ${rc}`);
  }
  report.failures = failures;
  report.ok = failures.length === 0 && code !== 3;
  report.elapsed_s = +elapsed().toFixed(2);
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(failures.length ? 1 : code);
}

// The device call has a hard limit: past budget + 60 s, report what is done rather than nothing.
setTimeout(() => {
  if (finished) return;
  failures.push(`watchdog: still running after ${BUDGET_S + 60} s`);
  emit(1);
}, (BUDGET_S + 60) * 1000).unref();

// ---------------------------------------------------------------------------------------------
// Deterministic inputs

function rng(seed: number) {
  let a = seed >>> 0 || 1, b = 0x9e3779b9, c = 0x85ebca6b, d = 0xc2b2ae35;
  const next = () => { // sfc32
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) next();
  const float = () => (next() + 0.5) / 2 ** 32;
  return {
    u32: next,
    float,
    int: (m: number) => Math.floor(float() * m),
    normal: () => Math.sqrt(-2 * Math.log(float())) * Math.cos(2 * Math.PI * float()),
  };
}
type Rng = ReturnType<typeof rng>;

/** Targets of the codec's scale (about k bits per chunk) and the extremes the spec must survive. */
function target(r: Rng, n: number, k: number, mode: number): Float32Array {
  const d = new Float32Array(n);
  const sd = Math.sqrt((2 * Math.max(k, 1) * Math.LN2) / n);
  for (let j = 0; j < n; j++) {
    switch (mode) {
      case 1: d[j] = 1e-3 * r.normal(); break;
      case 2: d[j] = (r.float() - 0.5) * 3e-39; break; // subnormal: no flush-to-zero anywhere
      case 3: d[j] = (r.float() - 0.5) * 5e38; break; // overflowing products: inf/NaN scores never win
      case 4: d[j] = r.int(2) ? 0 : -0; break;
      case 5: d[j] = r.int(10) === 0 ? 20 * r.normal() : 0; break;
      case 6: d[j] = 3 * r.normal(); break;
      default: d[j] = sd * r.normal(); break;
    }
  }
  return d;
}

function shapeFor(r: Rng, d: Float32Array): ChunkRequest['shape'] {
  switch (r.int(4)) {
    case 0: return undefined;
    case 1: return targetShape(d, 0.2 + 0.79 * r.float());
    case 2: return { a: Math.fround(-r.float() * 0.5), b: Math.fround(0.5 + 2 * r.float()) };
    default: return { a: 0, b: 1 };
  }
}

const EDGE_N = [1, 3, 15, 16, 17, 63, 64, 65, 250, 256, 1000, 4099, 5000];

/** Randomized batches of mixed chunk sizes, each chunk kept under `cap` samples (n x 2^k). */
function randomBatches(r: Rng, opts: { batches: number; maxN: number; maxK: number; cap: number }): ChunkRequest[][] {
  const out: ChunkRequest[][] = [];
  for (let b = 0; b < opts.batches; b++) {
    const chunks = 2 + r.int(5);
    const batch: ChunkRequest[] = [];
    for (let c = 0; c < chunks; c++) {
      const edges = EDGE_N.filter((x) => x <= opts.maxN);
      let n = r.int(3) === 0 ? edges[r.int(edges.length)] : Math.max(1, Math.round(Math.exp(r.float() * Math.log(opts.maxN))));
      n = Math.min(n, opts.maxN);
      let k = r.int(opts.maxK + 1);
      if (c === 0 && b % 3 === 0) k = opts.maxK; // every third batch reaches the top k
      while (k > 0 && n * 2 ** k > opts.cap) k--;
      const mode = r.int(4) === 0 ? 1 + r.int(6) : 0;
      const d = target(r, n, k, mode);
      batch.push({ addr: { key: { seedLo: r.u32(), seedHi: r.u32() }, step: r.u32() >>> 4, chunk: r.u32() }, d, k, shape: shapeFor(r, d) });
    }
    out.push(batch);
  }
  return out;
}

/** Fixed larger shapes (cuda vs cpu only): [n, k, chunks] per batch, plus one mixed batch. */
function bigBatches(r: Rng, quick: boolean): ChunkRequest[][] {
  const plain: [number, number, number][] = quick
    ? [[64, 10, 2], [5, 10, 3]]
    : [[256, 16, 8], [4, 16, 16], [16, 18, 4], [64, 17, 8], [1000, 16, 4], [4099, 16, 2], [256, 20, 1], [37, 19, 3]];
  const mixed: [number, number][] = quick ? [[300, 9], [1, 10], [1000, 8]] : [[5000, 16], [1, 20], [300, 18], [2048, 17], [17, 16]];
  const make = (n: number, k: number, c: number): ChunkRequest => {
    const d = target(r, n, k, c % 5 === 4 ? 3 : 0);
    return { addr: { key: { seedLo: r.u32(), seedHi: r.u32() }, step: r.u32() >>> 4, chunk: c }, d, k, shape: shapeFor(r, d) };
  };
  return [
    ...plain.map(([n, k, c]) => Array.from({ length: c }, (_, i) => make(n, k, i))),
    mixed.map(([n, k], i) => make(n, k, i)),
  ];
}

const samplesOf = (reqs: readonly ChunkRequest[]) => reqs.reduce((s, q) => s + q.d.length * 2 ** q.k, 0);

// ---------------------------------------------------------------------------------------------
// Identity

interface Mismatch { where: string; n: number; k: number; chunk: number; want: string; got: string }
const mismatches: Mismatch[] = [];

/** sameSelections, and the first differing chunks for the report. */
function compare(where: string, reqs: readonly ChunkRequest[], want: readonly Selection[], got: readonly Selection[]): boolean {
  if (sameSelections(want, got)) return true;
  for (let i = 0; i < reqs.length && mismatches.length < 8; i++) {
    const w = want[i], g = got[i];
    if (!g || w.index !== g.index || !Object.is(w.score, g.score)) {
      mismatches.push({ where, n: reqs[i].d.length, k: reqs[i].k, chunk: i, want: `${w.index}:${w.score}`, got: g ? `${g.index}:${g.score}` : 'missing' });
    }
  }
  return false;
}

async function identity(cuda: Record<string, RccBackend>, cpu: RccBackend, mix: readonly MixWork[]): Promise<boolean> {
  const r = rng(SEED);
  const tStart = performance.now();
  const id: Record<string, unknown> = {};
  report.identity = id;
  let all = true;

  // (1) randomized mixed batches: every cuda variant and cpu against the ts reference.
  const batches = randomBatches(r, QUICK ? { batches: 4, maxN: 1200, maxK: 10, cap: 2 ** 16 } : { batches: 24, maxN: 5000, maxK: 14, cap: 2 ** 22 });
  const tsBudget = QUICK ? 2e7 : 1.6e8; // ts runs ~2e7 samples/s: at most ~8 s of reference work
  const ok: Record<string, boolean> = { cpu_vs_ts: true };
  for (const v of Object.keys(cuda)) ok[`${v}_vs_ts`] = true;
  let tsSamples = 0, nBatches = 0, nChunks = 0, maxN = 0, maxK = 0;
  for (const [bi, batch] of batches.entries()) {
    if (bi >= 3 && tsSamples + samplesOf(batch) > tsBudget) continue;
    const ref = await tsBackend.selectBatch(batch);
    tsSamples += samplesOf(batch);
    nBatches++;
    nChunks += batch.length;
    for (const q of batch) { maxN = Math.max(maxN, q.d.length); maxK = Math.max(maxK, q.k); }
    ok.cpu_vs_ts &&= compare(`random#${bi} cpu`, batch, ref, await cpu.selectBatch(batch));
    for (const [v, b] of Object.entries(cuda)) ok[`${v}_vs_ts`] &&= compare(`random#${bi} ${v}`, batch, ref, await b.selectBatch(batch));
  }
  id.random = { batches: nBatches, chunks: nChunks, max_n: maxN, max_k: maxK, ts_samples: tsSamples, ...ok };
  all &&= Object.values(ok).every(Boolean);
  log(`identity: ${nBatches} random batches (${nChunks} chunks, n <= ${maxN}, k <= ${maxK}) vs ts: ${JSON.stringify(ok)}`);

  // (2) the recorded mix's step shapes (bench/rcc-mix.ts identityRequests), against ts.
  const mk = QUICK ? 6 : 10, limit = QUICK ? 6 : 24;
  const idReqs = identityRequests(mix, mk, limit);
  const idRef = await tsBackend.selectBatch(idReqs);
  const mixOk: Record<string, boolean> = { cpu_vs_ts: compare('mix cpu', idReqs, idRef, await cpu.selectBatch(idReqs)) };
  for (const [v, b] of Object.entries(cuda)) mixOk[`${v}_vs_ts`] = compare(`mix ${v}`, idReqs, idRef, await b.selectBatch(idReqs));
  id.mix = { requests: idReqs.length, k: mk, max_n: Math.max(...idReqs.map((q) => q.d.length)), samples: samplesOf(idReqs), ...mixOk };
  all &&= Object.values(mixOk).every(Boolean);
  log(`identity: ${idReqs.length} mix shapes at k <= ${mk} vs ts: ${JSON.stringify(mixOk)}`);

  // (3) larger shapes where ts is too slow: cuda against cpu.
  const big = bigBatches(r, QUICK);
  const bigOk: Record<string, boolean> = {};
  for (const v of Object.keys(cuda)) bigOk[`${v}_vs_cpu`] = true;
  for (const [bi, batch] of big.entries()) {
    const ref = await cpu.selectBatch(batch);
    for (const [v, b] of Object.entries(cuda)) bigOk[`${v}_vs_cpu`] &&= compare(`big#${bi} ${v}`, batch, ref, await b.selectBatch(batch));
  }
  id.big = { batches: big.length, chunks: big.reduce((s, b) => s + b.length, 0), max_k: Math.max(...big.flat().map((q) => q.k)), samples: big.reduce((s, b) => s + samplesOf(b), 0), ...bigOk };
  all &&= Object.values(bigOk).every(Boolean);
  log(`identity: ${big.length} larger batches vs cpu: ${JSON.stringify(bigOk)}`);

  id.seconds = +((performance.now() - tStart) / 1000).toFixed(2);
  if (mismatches.length) id.mismatches = mismatches;
  return all;
}

// ---------------------------------------------------------------------------------------------
// .dfc byte identity through the CLI

/** A deterministic photo-like test image (smooth shading, edges, texture), written with sharp. */
async function syntheticImage(file: string, w: number, h: number): Promise<void> {
  const r = rng(7);
  const data = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const edge = (x - 0.6 * w) * 0.8 + (y - 0.4 * h) > 0 ? 0.25 : 0;
      for (let c = 0; c < 3; c++) {
        const v = 0.45 + 0.25 * Math.sin((x + 9 * c) / 19) * Math.cos((y - 5 * c) / 27) + edge + 0.06 * (r.float() - 0.5);
        data[3 * (y * w + x) + c] = Math.min(1, Math.max(0, v));
      }
    }
  }
  await saveImage({ width: w, height: h, data, bitDepth: 8 }, file, { force: true });
}

async function compress(name: string, img: string, backend: 'cpu' | 'cuda', extra: string[]) {
  const out = path.join(WORK, `${name}.dfc`);
  const lines: string[] = [];
  const t = performance.now();
  const rc = await main(['compress', img, '-o', out, '--backend', backend, '--force', '--json', '-q', ...extra],
    (s) => lines.push(s), (s) => process.stderr.write(`  diffc: ${s.trimEnd()}\n`));
  const seconds = (performance.now() - t) / 1000;
  if (rc !== 0) return { rc, seconds, bytes: undefined, info: undefined };
  const info = JSON.parse(lines.at(-1) ?? '{}') as { steps?: number; bytes?: number; bpp?: number };
  return { rc, seconds, bytes: readFileSync(out), info };
}

async function dfcIdentity(): Promise<boolean> {
  mkdirSync(WORK, { recursive: true });
  const cases: { name: string; img: string; args: string[] }[] = [];
  if (QUICK) {
    cases.push({ name: 'coffee-quick', img: values.image, args: ['--steps', '5', '--chunk-bits', '8'] });
  } else {
    const synth = path.join(WORK, 'synthetic-256.png');
    await syntheticImage(synth, 256, 256);
    cases.push(
      { name: 'coffee-full-chain', img: values.image, args: ['--bpp', '1'] }, // all 28 steps, the model's 14-bit chunks
      { name: 'coffee-k20', img: values.image, args: ['--steps', '10', '--chunk-bits', '20'] },
      { name: 'synthetic-256', img: synth, args: ['--bpp', '0.05'] },
    );
  }
  const rows: Record<string, unknown>[] = [];
  report.dfc = rows;
  let all = true;
  for (const c of cases) {
    const a = await compress(`${c.name}.cpu`, c.img, 'cpu', c.args);
    const b = await compress(`${c.name}.gpu`, c.img, GPU, c.args);
    const identical = a.bytes !== undefined && b.bytes !== undefined && a.bytes.equals(b.bytes);
    const sha = (x?: Buffer) => (x ? createHash('sha256').update(x).digest('hex').slice(0, 16) : null);
    rows.push({
      name: c.name, image: c.img, args: c.args.join(' '), steps: a.info?.steps ?? null, bpp: a.info?.bpp ?? null,
      cpu_rc: a.rc, cuda_rc: b.rc, cpu_bytes: a.bytes?.length ?? null, cuda_bytes: b.bytes?.length ?? null,
      cpu_sha256: sha(a.bytes), cuda_sha256: sha(b.bytes), identical,
      cpu_s: +a.seconds.toFixed(3), cuda_s: +b.seconds.toFixed(3),
    });
    log(`dfc ${c.name} (${c.args.join(' ')}): cpu ${a.bytes?.length ?? 'rc ' + a.rc} B in ${a.seconds.toFixed(2)} s, cuda ${b.bytes?.length ?? 'rc ' + b.rc} B in ${b.seconds.toFixed(2)} s, identical: ${identical}`);
    all &&= identical;
  }
  return all;
}

// ---------------------------------------------------------------------------------------------
// Throughput

function uniformRequests(n: number, k: number, chunks: number): ChunkRequest[] {
  const r = rng(12345);
  return Array.from({ length: chunks }, (_, c) => {
    const d = new Float32Array(n);
    for (let j = 0; j < n; j++) d[j] = r.normal();
    return { addr: { key: { seedLo: 0x9e3779b9, seedHi: 0x7f4a7c15 }, step: 17, chunk: c }, d, k };
  });
}

/** Best time of runs after a warm-up, over about `seconds` (at least `minReps` runs). */
async function bestTime(b: RccBackend, reqs: ChunkRequest[], seconds: number, minReps: number): Promise<number> {
  await b.selectBatch(reqs);
  let best = Infinity, reps = 0;
  const end = performance.now() + seconds * 1000;
  do {
    const t = performance.now();
    await b.selectBatch(reqs);
    best = Math.min(best, (performance.now() - t) / 1000);
    reps++;
  } while ((performance.now() < end || reps < minReps) && reps < 200);
  return best;
}

/** The mix timed in an interleaved step order, so a run cut by `deadline` is a spread sample. */
async function timeMixUntil(b: RccBackend, work: readonly MixWork[], cap: number, reps: number, deadline: number, maxSteps: number) {
  const stride = 16;
  const order: MixWork[] = [];
  for (let s = 0; s < stride; s++) for (let i = s; i < work.length; i += stride) order.push(work[i]);
  const timed: TimedStep[] = [];
  const todo = order.slice(0, maxSteps);
  // The first slice always runs, so each backend gets a figure even when the budget is spent.
  for (let i = 0; i < todo.length && (i === 0 || performance.now() < deadline); i += 8) timed.push(...await timeMix(b, todo.slice(i, i + 8), cap, reps));
  return { rate: timed.length ? mixRate(timed) : null, steps: timed.length };
}

async function throughput(cuda: RccBackend, cpu: RccBackend, mix: readonly MixWork[]): Promise<void> {
  const deadline = t0 + BUDGET_S * 0.85 * 1000;
  const [n, k, chunks] = QUICK ? [256, 8, 2] : [256, 16, 8];
  const reqs = uniformRequests(n, k, chunks);
  const samples = samplesOf(reqs);
  const uCuda = samples / await bestTime(cuda, reqs, QUICK ? 0 : 1.5, QUICK ? 1 : 5);
  const uCpu = samples / await bestTime(cpu, reqs, QUICK ? 0 : 1.5, QUICK ? 1 : 3);
  Object.assign(report, { uniform_shape: { n, k, chunks }, uniform_cuda_samples_per_s: +uCuda.toPrecision(4), uniform_cpu_samples_per_s: +uCpu.toPrecision(4) });
  log(`uniform n=${n} k=${k} x${chunks}: cuda ${uCuda.toExponential(3)}, cpu ${uCpu.toExponential(3)} samples/s`);

  // Caps per step: the bench's 2^24 for the CPU; the GPU gets 2^30 so launches do not dominate.
  const capCuda = QUICK ? 12 : 30, capCpu = QUICK ? 12 : 24;
  const maxSteps = QUICK ? 4 : mix.length;
  const reps = QUICK ? 1 : 2;
  const mid = performance.now() + (deadline - performance.now()) / 2;
  const mc = await timeMixUntil(cuda, mix, 2 ** capCuda, reps, mid, maxSteps);
  const mp = await timeMixUntil(cpu, mix, 2 ** capCpu, reps, deadline, maxSteps);
  const frac = (x: number | null, of: number) => (x === null ? null : +(x / of).toFixed(4));
  Object.assign(report, {
    mix_file: values['mix-file'], mix_bpp: Number(values['mix-bpp']), mix_steps_total: mix.length,
    mix_cap_log2: { cuda: capCuda, cpu: capCpu },
    mix_cuda_samples_per_s: mc.rate === null ? null : +mc.rate.toPrecision(4), mix_cuda_steps_timed: mc.steps,
    mix_cpu_samples_per_s: mp.rate === null ? null : +mp.rate.toPrecision(4), mix_cpu_steps_timed: mp.steps,
    mix_cuda_uniform_fraction: frac(mc.rate, uCuda), mix_cpu_uniform_fraction: frac(mp.rate, uCpu),
    mix_cuda_over_cpu: mc.rate !== null && mp.rate !== null ? +(mc.rate / mp.rate).toPrecision(3) : null,
    budget_cut: mc.steps < maxSteps || mp.steps < maxSteps,
  });
  log(`mix (${mix.length} steps): cuda ${mc.rate?.toExponential(3)} (${mc.steps} steps), cpu ${mp.rate?.toExponential(3)} (${mp.steps} steps) samples/s`);
}

// ---------------------------------------------------------------------------------------------

const { addon, path: addonPath, error } = loadAddon();
if (!addon) {
  report.addon = null;
  report.addon_error = error;
  report.cuda = null;
  process.stderr.write(`addon unavailable: ${error}\n`);
  failures.push(`addon unavailable: ${error}`);
  emit(1);
}
const info = addon.info();
// node-device-check.sh says whether it used the carried addon or rebuilt it on the device.
report.addon = { path: addonPath, abi: addon.abiVersion, simd: info.simd, best: info.best, threads: info.threads, source: process.env.DIFFC_CHECK_ADDON_SOURCE ?? null };
const ci = addon.cudaInfo();
if (GPU === 'cpu') {
  report.stand_in = 'cpu';
  process.stderr.write('stand-in: the cpu backend plays cuda; nothing here is a CUDA result\n');
} else if (!ci.available) {
  report.cuda = null;
  report.cuda_unavailable = ci.error;
  report.skipped = true;
  for (const key of ['identical_indices', 'dfc_identical', 'uniform_cuda_samples_per_s', 'mix_cuda_samples_per_s', 'mix_cuda_uniform_fraction']) report[key] = null;
  process.stderr.write(`cuda unavailable: ${ci.error}\n`);
  emit(values['require-cuda'] ? 3 : 0);
}
report.cuda = GPU === 'cpu' ? null : { device: ci.device, jit: ci.jit, compute_capability: ci.computeCapability, sms: ci.sms };
const gpuText = GPU === 'cpu' ? 'cpu stand-in' : `${ci.device}, sm ${ci.computeCapability}, ${ci.sms} SMs, kernels via ${ci.jit}`;
log(`node ${process.version}; addon ${addonPath} (simd ${info.simd.join(',')}, ${info.threads} threads); cuda: ${gpuText}${QUICK ? '; quick mode' : ''}`);

const mix = mixWork(ChunkMix.parse(JSON.parse(readFileSync(values['mix-file'], 'utf8'))), Number(values['mix-bpp']));
const cpu = createNativeBackend('cpu');
const cuda = { cuda: createNativeBackend(GPU), cuda_t4: createNativeBackend(GPU, { tpc: 4 }), cuda_t16: createNativeBackend(GPU, { tpc: 16 }) };
try {
  report.identical_indices = await identity(cuda, cpu, mix);
  if (!report.identical_indices) failures.push('cuda selections differ from the reference (identity.mismatches)');
  report.dfc_identical = await dfcIdentity();
  if (!report.dfc_identical) failures.push('cuda .dfc differs from cpu .dfc (or an encode failed)');
  await throughput(cuda.cuda, cpu, mix);
} catch (e) {
  failures.push(`error: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
}
emit(0);
