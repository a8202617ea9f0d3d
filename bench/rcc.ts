/**
 * RCC scoring throughput, side by side: the TypeScript reference, the native CPU path on one
 * thread and on all threads, and CUDA when present. Throughput is samples/s = candidates x dims
 * per second (each sample is one Gaussian draw and one multiply-add).
 *
 *   npm run bench:rcc -- [--json] [--n 256] [--k 16] [--chunks 8] [--seconds 1]
 *                        [--mix recorded|FILE] [--mix-bpp 0.2] [--mix-cap-log2 24]
 *
 * The table goes to stderr; with --json the last line of stdout is one JSON object:
 * { ts_samples_per_s, native1_samples_per_s, native_samples_per_s, native_threads,
 *   cuda_samples_per_s (null without a GPU), identical_indices, ... }.
 * The ts reference (~25 M samples/s) is timed on the same n with fewer candidates (--ts-k).
 *
 * --mix replays a chunk-shape mix (`recorded`: test/fixtures/rcc-mix/recorded.json, written by
 * scripts/record-chunk-mix.ts from real encodes) up to --mix-bpp, one selectBatch per step as the
 * encoder sends it, each step timed on at most 2^cap samples and scaled (bench/rcc-mix.ts). It adds
 * uniform_cpu_samples_per_s (the uniform large-chunk figure above, all threads), mix_cpu_samples_per_s,
 * mix_cpu_uniform_fraction (their ratio, measured side by side), mix_cpu_ceiling_fraction (the mix
 * over the documented issue ceiling, bench/rcc-ceilings.ts; null on hardware it was not derived
 * for unless --cpu-ceiling gives one), the same for cuda when present, mix_by_size (rate and time share per chunk-size class) and, in
 * identical_indices, the mix's shapes checked across ts, cpu and cuda.
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { tsBackend, type ChunkRequest, type RccBackend, type Selection } from '../src/codec/rcc/select.js';
import { createNativeBackend, loadAddon } from '../src/rcc-backends/index.js';
import { readFileSync } from 'node:fs';
import { ChunkMix, mixWork } from '../src/codec/rcc/chunk-mix.js';
import { identityRequests, mixRate, rateBySize, sameSelections as same, timeImageBatch, timeMix, type TimedStep } from './rcc-mix.js';
import { coalescingBackend } from '../src/codec/rcc/coalesce.js';
import { cpuCeiling, cudaCeiling } from './rcc-ceilings.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    n: { type: 'string', default: '256' },
    k: { type: 'string', default: '16' },
    chunks: { type: 'string', default: '8' },
    'ts-k': { type: 'string', default: '10' },
    seconds: { type: 'string', default: '1' },
    mix: { type: 'string' },
    'mix-bpp': { type: 'string', default: '0.2' },
    'mix-cap-log2': { type: 'string', default: '24' },
    'cpu-ceiling': { type: 'string' },
    'cuda-ceiling': { type: 'string' },
  },
});
const MIX_FILE = values.mix === 'recorded' ? 'test/fixtures/rcc-mix/recorded.json' : values.mix;
const mix = MIX_FILE ? mixWork(ChunkMix.parse(JSON.parse(readFileSync(MIX_FILE, 'utf8'))), Number(values['mix-bpp'])) : undefined;
const mixCap = 2 ** Number(values['mix-cap-log2']);
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

// The recorded mix: the same backends on the shapes real encodes send.
const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const cpuMax = cpuCeiling(simd, threads, num(values['cpu-ceiling']));
const cudaMax = cudaCeiling(device, num(values['cuda-ceiling']));
const frac = (x: number | null, of: number | null) => (x !== null && of ? +(x / of).toFixed(4) : null);
let mixCpu: number | null = null, mixCuda: number | null = null;
let bySize: ReturnType<typeof rateBySize> | null = null;
let batch8: { per_image_calls: number; one_pass: number } | null = null;
const SIZE_CLASSES = [4, 16, 64, 256, 4096, Infinity];
if (mix) {
  const total = mix.reduce((s, w) => s + w.samples, 0);
  process.stderr.write(`\nmix ${MIX_FILE} to ${values['mix-bpp']} bpp: ${mix.length} steps, ${total.toExponential(3)} samples; each step timed on <= 2^${values['mix-cap-log2']} samples\n`);
  const idReqs = identityRequests(mix, tsK, 24);
  const idTs = await tsBackend.selectBatch(idReqs);
  const report = (name: string, t: TimedStep[]) => {
    const r = mixRate(t);
    const by = rateBySize(t, SIZE_CLASSES);
    process.stderr.write(`${name.padEnd(30)} ${r.toExponential(3).padStart(11)} samples/s on the mix; by chunk size: ` +
      `${by.map((x) => `n<=${x.n_max}: ${x.samples_per_s ? x.samples_per_s.toExponential(2) : '-'} (${(100 * x.time_share).toFixed(0)} % of time)`).join(', ')}\n`);
    return { r, by };
  };
  if (addon) {
    const all = createNativeBackend('cpu', { threads: 0 });
    identical &&= same(await all.selectBatch(idReqs), idTs);
    const c = report(`native ${simd}, ${threads} threads`, await timeMix(all, mix, mixCap));
    mixCpu = c.r;
    bySize = c.by;
    // Eight images a step, as a batch encode of the default model sends them (its recorded steps).
    const photoSteps = mix.filter((w) => w.source.startsWith('default:'));
    if (photoSteps.length) {
      const perImage = await timeImageBatch(all, photoSteps, mixCap, 8, (b) => b);
      const coalesced = await timeImageBatch(all, photoSteps, mixCap, 8, coalescingBackend);
      batch8 = { per_image_calls: perImage, one_pass: coalesced };
      process.stderr.write(`8 images a step (default-model steps): one call per image ${perImage.toExponential(3)}, one coalesced pass ${coalesced.toExponential(3)} samples/s (x${(coalesced / perImage).toFixed(3)})\n`);
    }
    if (cudaRate !== null) {
      const gpu = createNativeBackend('cuda');
      identical &&= same(await gpu.selectBatch(idReqs), idTs);
      mixCuda = report('cuda', await timeMix(gpu, mix, mixCap)).r;
    }
  } else {
    process.stderr.write('mix: needs the native addon\n');
  }
  if (mixCpu !== null && nativeAll !== null) process.stderr.write(`cpu mix / uniform: ${(mixCpu / nativeAll).toFixed(3)}; mix / documented ceiling: ${cpuMax ? (mixCpu / cpuMax).toFixed(3) : 'unknown for this cpu (--cpu-ceiling)'}\n`);
  if (mixCuda !== null && cudaRate !== null) process.stderr.write(`cuda mix / uniform: ${(mixCuda / cudaRate).toFixed(3)}; mix / documented ceiling: ${cudaMax ? (mixCuda / cudaMax).toFixed(3) : 'unknown for this gpu (--cuda-ceiling)'}\n`);
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
  ...(mix ? {
    mix: MIX_FILE,
    mix_bpp: Number(values['mix-bpp']),
    mix_steps: mix.length,
    uniform_cpu_samples_per_s: nativeAll,
    mix_cpu_samples_per_s: mixCpu,
    cpu_ceiling_samples_per_s: cpuMax,
    mix_cpu_ceiling_fraction: frac(mixCpu, cpuMax),
    uniform_cpu_ceiling_fraction: frac(nativeAll, cpuMax),
    mix_cpu_uniform_fraction: frac(mixCpu, nativeAll),
    uniform_cuda_samples_per_s: cudaRate,
    mix_cuda_samples_per_s: mixCuda,
    cuda_ceiling_samples_per_s: cudaMax,
    mix_cuda_ceiling_fraction: frac(mixCuda, cudaMax),
    mix_cuda_uniform_fraction: frac(mixCuda, cudaRate),
    mix_cpu_batch8_samples_per_s: batch8,
    mix_by_size: bySize?.map((x) => ({ n_max: Number.isFinite(x.n_max) ? x.n_max : null, samples_per_s: x.samples_per_s, time_share: +x.time_share.toFixed(4) })),
  } : {}),
};
if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
else process.stdout.write(`${rows.join('\n')}\n`);
