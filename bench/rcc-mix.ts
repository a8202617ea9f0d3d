/**
 * The recorded chunk mix as RCC work (bench/rcc.ts --mix): each recorded step becomes one
 * selectBatch of its chunks, as the encoder sends it (chunk sizes by docs/rcc.md §7, one k per
 * step, the default shaped target). A step whose work is too large to time whole in a bench is
 * timed on part of it and scaled: first fewer of its (equal-shaped) chunks, then, for a single
 * chunk still over the cap, fewer candidates (never below 2^10, where time is linear in 2^k).
 */
import { performance } from 'node:perf_hooks';
import { targetShape, type ChunkRequest, type RccBackend, type Selection } from '../src/codec/rcc/select.js';
import type { MixWork } from '../src/codec/rcc/chunk-mix.js';

export interface TimedStep {
  readonly work: MixWork;
  /** Chunks and bits actually run, and the factor from their samples to the step's. */
  readonly chunks: number;
  readonly k: number;
  readonly scale: number;
  readonly seconds: number;
}

const KEY = { seedLo: 0x2545f491, seedHi: 0x4f6cdd1d };
const MIN_SCALED_K = 10;

/** Deterministic N(0, s^2)-like targets: s sets the KL per dimension (about k bits per chunk). */
function target(n: number, k: number, salt: number): Float32Array {
  let s = (salt * 2654435761) >>> 0 || 1;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  const sd = Math.sqrt((2 * k * Math.LN2) / n); // ||d||^2 / 2 nats = k bits
  const d = new Float32Array(n);
  for (let j = 0; j < n; j++) d[j] = sd * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return d;
}

/** The requests run for one step under a sample cap, and the scale back to the whole step. */
export function stepRequests(w: MixWork, capSamples: number, stepSalt = 0): { requests: ChunkRequest[]; k: number; scale: number } {
  const n0 = w.sizes[0];
  let k = w.k;
  while (k > MIN_SCALED_K && n0 * 2 ** k > capSamples) k--;
  const per = n0 * 2 ** k;
  const m = Math.max(1, Math.min(w.sizes.length, Math.floor(capSamples / per)));
  const requests = w.sizes.slice(0, m).map((n, c) => {
    const d = target(n, w.k, stepSalt * 65_537 + c);
    return { addr: { key: KEY, step: w.step, chunk: c }, d, k, shape: targetShape(d, 0.35) };
  });
  const ran = requests.reduce((s, r) => s + r.d.length * 2 ** k, 0);
  return { requests, k, scale: w.samples / ran };
}

/** Best time of `reps` runs of each step (after a warm-up run). */
export async function timeMix(b: RccBackend, work: readonly MixWork[], capSamples: number, reps = 3): Promise<TimedStep[]> {
  const out: TimedStep[] = [];
  for (const [i, w] of work.entries()) {
    const { requests, k, scale } = stepRequests(w, capSamples, i);
    await b.selectBatch(requests);
    let best = Infinity;
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      await b.selectBatch(requests);
      best = Math.min(best, (performance.now() - t0) / 1000);
    }
    out.push({ work: w, chunks: requests.length, k, scale, seconds: best });
  }
  return out;
}

/**
 * A batch of `images` images at each step: their step requests issued together, as the batch
 * encoder does, either straight to `b` (one call per image) or through `coalesce(b)` (one pass).
 * Returns samples per second over the steps run (each step at its sampled size, unscaled).
 */
export async function timeImageBatch(b: RccBackend, work: readonly MixWork[], capSamples: number, images: number, wrap: (b: RccBackend) => RccBackend, reps = 3): Promise<number> {
  let samples = 0, seconds = 0;
  for (const [i, w] of work.entries()) {
    const per = Array.from({ length: images }, (_, m) => stepRequests(w, capSamples / images, i * 64 + m).requests
      .map((r) => ({ ...r, addr: { ...r.addr, key: { seedLo: r.addr.key.seedLo + m, seedHi: r.addr.key.seedHi } } })));
    const run = () => { const x = wrap(b); return Promise.all(per.map((q) => x.selectBatch(q))); };
    await run();
    let best = Infinity;
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      await run();
      best = Math.min(best, (performance.now() - t0) / 1000);
    }
    seconds += best;
    samples += per.flat().reduce((s, r) => s + r.d.length * 2 ** r.k, 0);
  }
  return samples / seconds;
}

/** Samples per second over the whole mix (every step at its full size). */
export function mixRate(t: readonly TimedStep[]): number {
  return t.reduce((s, x) => s + x.work.samples, 0) / t.reduce((s, x) => s + x.seconds * x.scale, 0);
}

/** The mix's rate per chunk-size class (n <= bound), for seeing where time goes. */
export function rateBySize(t: readonly TimedStep[], bounds: readonly number[]): { n_max: number; samples_per_s: number | null; time_share: number }[] {
  const total = t.reduce((s, x) => s + x.seconds * x.scale, 0);
  let lo = 0;
  return bounds.map((hi) => {
    const sel = t.filter((x) => x.work.sizes[0] > lo && x.work.sizes[0] <= hi);
    lo = hi;
    const secs = sel.reduce((s, x) => s + x.seconds * x.scale, 0);
    return { n_max: hi, samples_per_s: sel.length ? sel.reduce((s, x) => s + x.work.samples, 0) / secs : null, time_share: secs / total };
  });
}

/** One small request per distinct step shape, at most `k` bits, for cross-backend identity. */
export function identityRequests(work: readonly MixWork[], k: number, limit: number): ChunkRequest[] {
  const seen = new Set<string>();
  const out: ChunkRequest[] = [];
  for (const [i, w] of work.entries()) {
    const key = `${w.sizes[0]}:${w.k}`;
    if (seen.has(key) || out.length >= limit) continue;
    seen.add(key);
    const d = target(w.sizes[0], w.k, i + 1);
    out.push({ addr: { key: KEY, step: w.step, chunk: i }, d, k: Math.min(k, w.k), shape: targetShape(d, 0.35) });
  }
  return out;
}

export const sameSelections = (a: readonly Selection[], b: readonly Selection[]) =>
  a.length === b.length && a.every((x, i) => x.index === b[i].index && Object.is(x.score, b[i].score));
