/**
 * RCC scoring throughput, side by side: the TypeScript reference, the native CPU path on one
 * thread and on all threads, and CUDA when present. Throughput is samples/s = candidates x dims
 * per second (each sample is one Gaussian draw and one multiply-add).
 *
 *   npm run bench:rcc -- [--json] [--n 256] [--k 16] [--chunks 8] [--seconds 1]
 *
 * The table goes to stderr; with --json the last line of stdout is one JSON object:
 * { ts_samples_per_s, native1_samples_per_s, native_samples_per_s, native_threads,
 *   cuda_samples_per_s (null without a GPU), identical_indices, ... }.
 * The ts reference (~25 M samples/s) is timed on the same n with fewer candidates (--ts-k).
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { tsBackend, type ChunkRequest, type RccBackend, type Selection } from '../src/codec/rcc/select.js';
import { createNativeBackend, loadAddon } from '../src/rcc-backends/index.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    n: { type: 'string', default: '256' },
    k: { type: 'string', default: '16' },
    chunks: { type: 'string', default: '8' },
    'ts-k': { type: 'string', default: '10' },
    seconds: { type: 'string', default: '1' },
  },
});
const n = Number(values.n), k = Number(values.k), chunks = Number(values.chunks);
const tsK = Math.min(k, Number(values['ts-k']));
const seconds = Number(values.seconds);

function requests(bits: number): ChunkRequest[] {
  // Deterministic targets: N(0, 1)-like values from a fixed LCG; one stream key, chunks 0..C-1.
  let s = 12345;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  return Array.from({ length: chunks }, (_, c) => {
    const d = new Float32Array(n);
    for (let j = 0; j < n; j++) d[j] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
    return { addr: { key: { seedLo: 0x9e3779b9, seedHi: 0x7f4a7c15 }, step: 17, chunk: c }, d, k: bits };
  });
}

/** Best wall time of repeated runs (after one warm-up) over about `seconds`. */
async function time(b: RccBackend, reqs: ChunkRequest[]): Promise<{ s: number; out: Selection[] }> {
  let out = await b.selectBatch(reqs);
  let best = Infinity;
  const end = performance.now() + seconds * 1000;
  let reps = 0;
  do {
    const t0 = performance.now();
    out = await b.selectBatch(reqs);
    best = Math.min(best, (performance.now() - t0) / 1000);
    reps++;
  } while (performance.now() < end && reps < 100);
  return { s: best, out };
}

const samples = (bits: number) => chunks * 2 ** bits * n;
const rows: string[] = [];
const row = (name: string, bits: number, s: number) => {
  const rate = samples(bits) / s;
  rows.push(`${name.padEnd(30)} ${String(n).padStart(6)} ${String(bits).padStart(3)} ${String(chunks).padStart(6)} ${rate.toExponential(3).padStart(11)} ${(s * 1e3).toFixed(2).padStart(10)}`);
  process.stderr.write(`${rows[rows.length - 1]}\n`);
  return rate;
};
const same = (a: Selection[], b: Selection[]) => a.length === b.length && a.every((x, i) => x.index === b[i].index && Object.is(x.score, b[i].score));

process.stderr.write(`rcc bench: n=${n}, k=${k}, ${chunks} chunks; ts at k=${tsK}\n`);
process.stderr.write(`${'backend'.padEnd(30)} ${'n'.padStart(6)} ${'k'.padStart(3)} ${'chunks'.padStart(6)} ${'samples/s'.padStart(11)} ${'ms/batch'.padStart(10)}\n`);

const full = requests(k);
const small = requests(tsK);
const ts = await time(tsBackend, small);
const tsRate = row('ts (reference)', tsK, ts.s);
let identical = true;

const { addon, error } = loadAddon();
let native1: number | null = null, nativeAll: number | null = null, cudaRate: number | null = null;
let threads: number | null = null, simd: string | null = null, device: string | null = null;
if (!addon) {
  process.stderr.write(`native addon unavailable: ${error}\n`);
} else {
  const info = addon.info();
  threads = info.threads;
  simd = info.best;
  const one = createNativeBackend('cpu', { threads: 1 });
  const all = createNativeBackend('cpu', { threads: 0 });
  identical &&= same((await one.selectBatch(small)), ts.out);
  const r1 = await time(one, full);
  native1 = row(`native ${simd}, 1 thread`, k, r1.s);
  const rA = await time(all, full);
  nativeAll = row(`native ${simd}, ${threads} threads`, k, rA.s);
  identical &&= same(r1.out, rA.out);
  const ci = addon.cudaInfo();
  if (ci.available) {
    device = ci.device;
    const gpu = createNativeBackend('cuda');
    identical &&= same(await gpu.selectBatch(small), ts.out);
    const rC = await time(gpu, full);
    cudaRate = row(`cuda (${ci.device})`, k, rC.s);
    identical &&= same(rC.out, r1.out);
  } else {
    process.stderr.write(`cuda: unavailable (${ci.error})\n`);
  }
}
process.stderr.write(`identical indices and scores across backends: ${identical}\n`);

const result = {
  ts_samples_per_s: tsRate,
  native1_samples_per_s: native1,
  native_samples_per_s: nativeAll,
  native_threads: threads,
  cuda_samples_per_s: cudaRate,
  identical_indices: identical,
  simd,
  cuda_device: device,
  n,
  k,
  chunks,
  ts_k: tsK,
};
if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
else process.stdout.write(`${rows.join('\n')}\n`);
