/**
 * Timestep-schedule optimiser (Vonderfecht & Liu 2025, Algorithm 3): the chain from the prior to a
 * target timestep that minimises total coding cost sum C(KL(t_i -> t_j)), as a shortest path over
 * a DAG of candidate timesteps. KL is per image averaged over a set of images; C(D) maps a step's
 * KL to its expected coded bits under the codec's own chunk planner (planForKl) and the expected
 * code length of each chunk's index in the payload's bucket coder (docs/format.md §4).
 */
import { z } from 'zod';
import { CodingParams, planForKl, wideDeltasFor, type ChunkPlan } from '../chain/chunk-plan.js';
import { PayloadWriter } from '../chain/payload.js';

/** The coding settings that decide a step's cost: what planForKl and the RCC target depend on. */
export const PlanningParams = CodingParams.pick({ maxChunkBits: true, paddingQuarterBits: true, chunkKlQuarterBits: true, targetStdPercent: true });
export type PlanningParams = z.infer<typeof PlanningParams>;

const Hex8 = z.string().regex(/^[0-9a-f]{16}$/, 'expected 16 hex digits');
const Latent = z.object({ channels: z.number().int().positive(), height: z.number().int().positive(), width: z.number().int().positive() });

/**
 * A KL matrix file (`diffc schedule measure` writes one; `schedule optimize --kl` reads it). Only
 * timesteps, prior and kl are required, so hand-written matrices still load; a measured file also
 * says what it was measured with.
 */
export const KlMatrix = z.object({
  format: z.literal('diffc-kl').optional(),
  version: z.literal(1).optional(),
  /** Candidate timesteps, strictly decreasing. */
  timesteps: z.array(z.number().int().nonnegative()).min(1),
  /** prior[j]: mean KL bits from the prior (nothing known) to timesteps[j]. */
  prior: z.array(z.number().nonnegative()),
  /** kl[i][j], i < j: mean KL bits from timesteps[i] to timesteps[j] (entries with j <= i ignored). */
  kl: z.array(z.array(z.number())),
  /** The model the KL was measured with (hash: the first 8 bytes of its content sha256, hex). */
  model: z.object({ id: z.string(), hash: Hex8, family: z.string() }).optional(),
  /** The images, their sizes and latent shapes (KL is per image, so it scales with the latent). */
  images: z.object({
    count: z.number().int().positive(),
    sizes: z.array(z.object({ name: z.string(), width: z.number().int().positive(), height: z.number().int().positive(), latent: Latent })),
  }).optional(),
  /** Forward samples x_t per image and candidate, and the seed of their noise. */
  samples: z.number().int().positive().optional(),
  seed: z.number().int().nonnegative().optional(),
  /** Candidate spacing when the timesteps were a grid (null: an explicit list). */
  grid: z.number().int().positive().nullable().optional(),
  conditioning: z.object({ prompt: z.string().optional(), guidance: z.number().optional() }).optional(),
  /** The coding settings the model compresses with (the cost model's defaults for this file). */
  coding: PlanningParams.optional(),
  /** What chose them besides the model: diffc compress's --preset, and the RCC backend for 'auto' chunk bits. */
  preset: z.string().optional(),
  backend: z.string().optional(),
  modelCalls: z.number().int().nonnegative().optional(),
  seconds: z.number().nonnegative().optional(),
}).superRefine((m, ctx) => {
  const n = m.timesteps.length;
  if (m.prior.length !== n) ctx.addIssue({ code: 'custom', message: `prior has ${m.prior.length} entries, expected ${n}` });
  if (m.kl.length !== n || m.kl.some((r) => r.length !== n)) ctx.addIssue({ code: 'custom', message: `kl must be ${n}x${n}` });
  for (let i = 1; i < n; i++) if (m.timesteps[i] >= m.timesteps[i - 1]) ctx.addIssue({ code: 'custom', message: 'timesteps must strictly decrease' });
  if (m.images && m.images.sizes.length !== m.images.count) ctx.addIssue({ code: 'custom', message: `images.count ${m.images.count} but ${m.images.sizes.length} sizes` });
});
export type KlMatrix = z.infer<typeof KlMatrix>;

/** Mean latent values per image of a measured file (what caps a step's chunk count), if it says. */
export function klMatrixDims(m: KlMatrix): number | undefined {
  const s = m.images?.sizes;
  if (!s?.length) return undefined;
  return Math.round(s.reduce((a, x) => a + x.latent.channels * x.latent.height * x.latent.width, 0) / s.length);
}

export interface OptimizedSchedule {
  readonly timesteps: number[];
  readonly cost: number;
  readonly klBits: number;
}

/** One step of a path over the candidates, by index into the matrix's timesteps (-1: the prior). */
export interface StepContext {
  readonly from: number;
  readonly to: number;
  /** The step ends at the schedule's target. */
  readonly last: boolean;
  /** The candidate before `from` on the cheapest path to it (-1: the prior); undefined when `from` is the prior. */
  readonly before?: number;
}

/**
 * Shortest path from the prior to `target` (a timestep in the matrix). `cost(kl, step)` is a
 * step's cost; a cost that depends on the step before (side information coded as a delta from
 * the previous plan) sees the cheapest path found to `step.from`, so the search is then greedy
 * in that one term.
 */
export function optimizeSchedule(m: KlMatrix, cost: (klBits: number, step: StepContext) => number, target: number): OptimizedSchedule {
  const n = m.timesteps.length;
  const end = m.timesteps.indexOf(target);
  if (end < 0) throw new RangeError(`target timestep ${target} is not a candidate`);
  const best = new Float64Array(n).fill(Infinity);
  const kl = new Float64Array(n);
  const from = new Int32Array(n).fill(-1); // -1 = prior
  for (let j = 0; j <= end; j++) {
    const last = j === end;
    best[j] = cost(m.prior[j], { from: -1, to: j, last });
    kl[j] = m.prior[j];
    for (let i = 0; i < j; i++) {
      const c = best[i] + cost(m.kl[i][j], { from: i, to: j, last, before: from[i] });
      if (c < best[j]) {
        best[j] = c;
        kl[j] = kl[i] + m.kl[i][j];
        from[j] = i;
      }
    }
  }
  const path: number[] = [];
  for (let j = end; j >= 0; j = from[j]) path.push(m.timesteps[j]);
  return { timesteps: path.reverse(), cost: best[end], klBits: kl[end] };
}

/** A schedule's steps as StepContexts over the matrix's candidates. */
export function scheduleSteps(m: KlMatrix, timesteps: readonly number[]): StepContext[] {
  const idx = timesteps.map((t) => {
    const i = m.timesteps.indexOf(t);
    if (i < 0) throw new RangeError(`timestep ${t} is not a candidate of the matrix`);
    return i;
  });
  return idx.map((to, s) => ({ from: s === 0 ? -1 : idx[s - 1], to, last: s === idx.length - 1, ...(s > 0 ? { before: s === 1 ? -1 : idx[s - 2] } : {}) }));
}

/** The matrix's KL of a step (from -1: the prior). */
export function stepKl(m: KlMatrix, from: number, to: number): number {
  return from < 0 ? m.prior[to] : m.kl[from][to];
}

/** The matrix's KL of each step of a schedule drawn from its candidates (step 0 from the prior). */
export function scheduleStepKl(m: KlMatrix, timesteps: readonly number[]): number[] {
  return scheduleSteps(m, timesteps).map((st) => stepKl(m, st.from, st.to));
}

export interface CostModelOptions {
  /** The codec's coding settings (missing fields: CodingParams' defaults). */
  readonly params: Partial<PlanningParams>;
  /** Latent values per image: a step has at most this many chunks (default: no cap). */
  readonly dims?: number;
  /** Coded side information per step (the plan's two deltas), bits, when `sideInfo` is not given. */
  readonly sideInfoBits?: number;
  /** Side information of a step given its plan and place (e.g. sideInfoBitsFor against the plan it is coded from). */
  readonly sideInfo?: (plan: ChunkPlan, step: StepContext | undefined) => number;
  /** Extra bits charged per step: fewer, larger steps, faster encodes (encode time grows with the step count). */
  readonly stepPenaltyBits?: number;
}

export interface StepCost {
  /** What planForKl gives the step: C chunks of 2^k candidates. */
  readonly plan: ChunkPlan;
  /** Mean KL per chunk, KL / C. */
  readonly chunkKlBits: number;
  /** Expected code length of one chunk's index. */
  readonly indexBits: number;
  /** Coded side information (the plan). */
  readonly sideInfoBits: number;
  /** KL the step's samples fall short of sending (C deficitBits), which the next step codes again. */
  readonly carriedKlBits: number;
  /** The step's own coded bits: side information + C * indexBits. */
  readonly codedBits: number;
  /** What the optimiser charges: codedBits + carriedKlBits (unless the last step) + the step penalty. */
  readonly bits: number;
}

export const DEFAULT_SIDE_INFO_BITS = 2;

/**
 * Expected coded bits of a step with KL `klBits`: the codec's own planner decides (C, k), and each
 * of the C chunks costs the expected code length of its index (expectedIndexBits), plus the
 * step's side information. A step that is not the last is also charged the KL its samples fall
 * short of sending (expectedDeficitBits), since the chain codes it again in the next step.
 */
export function stepCodingCost(klBits: number, o: CostModelOptions, step?: StepContext): StepCost {
  return stepCost(klBits, CodingParams.parse(o.params), o, step);
}

function stepCost(klBits: number, params: CodingParams, o: CostModelOptions, step: StepContext | undefined): StepCost {
  const plan = planForKl(klBits, o.dims ?? Number.MAX_SAFE_INTEGER, params);
  const s = params.targetStdPercent / 100;
  const chunkKlBits = klBits / plan.chunks;
  const indexBits = expectedIndexBits(chunkKlBits, plan.k, s);
  const carriedKlBits = plan.chunks * expectedDeficitBits(chunkKlBits, plan.k, s);
  const sideInfoBits = o.sideInfo ? o.sideInfo(plan, step) : (o.sideInfoBits ?? DEFAULT_SIDE_INFO_BITS);
  const codedBits = sideInfoBits + plan.chunks * indexBits;
  return { plan, chunkKlBits, indexBits, sideInfoBits, carriedKlBits, codedBits, bits: codedBits + (step?.last ? 0 : carriedKlBits) + (o.stepPenaltyBits ?? 0) };
}

/** C(D) for optimizeSchedule, with these coding settings. */
export function codingCost(o: CostModelOptions): (klBits: number, step?: StepContext) => number {
  const params = CodingParams.parse(o.params);
  return (klBits: number, step?: StepContext) => stepCost(klBits, params, o, step).bits;
}

/**
 * The earlier positional form: chunks of at most `maxChunkBits`, `paddingBits` of padding, the
 * shaped target's std `targetStd` (1 = the exact posterior; note the codec's default is 0.35).
 * Same planner and index cost as codingCost.
 */
export function chunkedCodingCost(maxChunkBits: number, paddingBits: number, sideInfoBits = DEFAULT_SIDE_INFO_BITS, stepPenaltyBits = 0, targetStd = 1): (klBits: number, step?: StepContext) => number {
  return codingCost({
    params: { maxChunkBits, paddingQuarterBits: Math.round(4 * paddingBits), chunkKlQuarterBits: 0, targetStdPercent: Math.round(100 * targetStd) },
    sideInfoBits, stepPenaltyBits,
  });
}

const sideInfoCache = new Map<string, number>();

/**
 * Bits the payload spends on a step's plan coded against `reference` (the protocol plan, or the
 * previous step's plan; {chunks: 1, k: 0} before the first step), measured with the payload's own
 * writer in its initial state: the step written with coded side information, less the same step
 * without it. Later steps cost a little less once the delta coders have adapted.
 */
export function sideInfoBitsFor(plan: ChunkPlan, reference: ChunkPlan, params: CodingParams, dims: number): number {
  const wide = wideDeltasFor(dims);
  const key = `${wide ? 'w' : 'n'}:${reference.chunks},${reference.k}>${plan.chunks},${plan.k}`;
  let v = sideInfoCache.get(key);
  if (v === undefined) {
    const zeros = new Array<number>(plan.chunks).fill(0);
    const p = { ...params, wideDeltas: wide };
    v = new PayloadWriter({ ...p, sideInfo: 'coded' }, dims).writeStep(plan, zeros, reference) - new PayloadWriter({ ...p, sideInfo: 'protocol' }, dims).writeStep(plan, zeros, plan);
    sideInfoCache.set(key, v);
  }
  return v;
}

/**
 * Side information of each step of a path of plans, coded in order by the payload's writer as
 * diffc compress codes it (against `protocol[j]` when given, else the previous plan), its delta
 * coders adapting as they go: each step written with coded side information, less the same step
 * written without.
 */
export function sideInfoBitsAlong(plans: readonly ChunkPlan[], params: CodingParams, dims: number, protocol?: readonly ChunkPlan[]): number[] {
  const p = { ...params, wideDeltas: wideDeltasFor(dims) };
  const coded = new PayloadWriter({ ...p, sideInfo: 'coded' }, dims), bare = new PayloadWriter({ ...p, sideInfo: 'protocol' }, dims);
  return plans.map((plan, j) => {
    const zeros = new Array<number>(plan.chunks).fill(0);
    return coded.writeStep(plan, zeros, protocol?.[j]) - bare.writeStep(plan, zeros, plan);
  });
}

// ---------------------------------------------------------------------------------------------
// Expected index cost of one RCC chunk.
//
// A chunk's winner depends on its offset d only through m = |d| (candidates are isotropic), so a
// chunk of KL D bits is the 1-D problem p = N(0, 1), target q' = N(m, s^2) with m^2 = 2 D ln 2
// (s = targetStd; s < 1 is the shaped target of docs/rcc.md §6). The candidates are the first
// n = 2^k points (T_i, x_i) of a unit-rate Poisson process marked with x_i ~ p, and the encoder
// picks argmin T_i / w(x_i), w = q'/p. In that model (the n-th arrival taken at time n):
//   the winner is at (t, x) with density p(x) exp(-(t / w) G(n w / t)), 0 < t < n,
//   G(c) = E_p[min(w, c)]   (the chance that no point of [0, n) scores below t / w),
//   its index is Poisson with mean (t / w)(w - G(w)) (the losers that arrived before it).
// The payload codes bucket b = floor(log2(index + 1)) with an adaptive model for this k, then b
// raw bits (none for b = k, a one-member bucket), so a chunk costs E[raw bits] + H(bucket) once
// the model has adapted. The winner's mean offset E[x*] falls short of m when 2^k candidates
// cannot reach the target (deficitBits): the chain codes the shortfall again in the next step.
// Checked against simulated selections by the reference PFR (test/cli-schedule.test.ts) and
// against the bits diffc compress codes (test/cli-schedule-measure.test.ts, docs/models.md).
// ---------------------------------------------------------------------------------------------

export interface ChunkSelection {
  /** P(b), b = 0..k: the index's bucket distribution. */
  readonly buckets: Float64Array;
  /** E[x*]: the winner's mean offset along the chunk's direction (m = |d| for an exact sample of q). */
  readonly meanProjection: number;
}

/** The winner of one chunk of KL `chunkKlBits` with 2^k candidates, in the Poisson-process model above. */
export function chunkSelection(chunkKlBits: number, k: number, targetStd: number): ChunkSelection {
  if (!(Number.isInteger(k) && k >= 0 && k <= 30)) throw new RangeError(`k ${k} outside [0, 30]`);
  if (!(chunkKlBits >= 0 && Number.isFinite(chunkKlBits))) throw new RangeError(`chunk KL ${chunkKlBits} is not a finite non-negative number`);
  if (!(targetStd > 0 && targetStd <= 1)) throw new RangeError(`target std ${targetStd} outside (0, 1]`);
  const P = new Float64Array(k + 1);
  if (k === 0) {
    P[0] = 1; // one candidate, index 0: the sample is p's, nothing is sent
    return { buckets: P, meanProjection: 0 };
  }
  const s = targetStd, m = Math.sqrt(2 * chunkKlBits * Math.LN2), n = 2 ** k, logN = k * Math.LN2;
  // x grid covering p and q' (q' has std s around m), in logs: w spans e^(m^2/2) and more. Points
  // beyond x_reach are never among the first n candidates (n p(x) < e^-30) and are left out: the
  // model is unchanged by scaling w, so their share of E_p[w] does not matter.
  const dx = Math.min(0.08, s / 6);
  const xMax = Math.min(m + 9, Math.sqrt(2 * (logN + 30)) + 1);
  const xs: number[] = [];
  for (let x = -9; x <= xMax; x += dx) xs.push(x);
  const len = xs.length;
  const lp = new Float64Array(len), lw = new Float64Array(len);
  for (let i = 0; i < len; i++) {
    const x = xs[i];
    lp[i] = (-x * x) / 2 - 0.5 * Math.log(2 * Math.PI) + Math.log(dx);
    lw[i] = -Math.log(s) - (x - m) ** 2 / (2 * s * s) + (x * x) / 2;
  }
  const W = weightSums(lp, lw);
  // Integration points in u = log2(1 + t), 8 per bucket, up to the horizon t = n.
  const SUB = 8, uMax = Math.log2(1 + n), steps = Math.ceil(uMax * SUB);
  const ts = new Float64Array(steps), dts = new Float64Array(steps), lts = new Float64Array(steps);
  for (let j = 0; j < steps; j++) {
    const t0 = 2 ** (j / SUB) - 1, t1 = 2 ** Math.min(uMax, (j + 1) / SUB) - 1;
    ts[j] = 0.5 * (t0 + t1);
    lts[j] = Math.log(ts[j]);
    dts[j] = t1 - t0;
  }
  let total = 0, sumX = 0;
  for (let i = 0; i < len; i++) {
    // The point's winning mass p ∫ exp(-e) dt is at most p min(n, w / G(w)) (e >= t G(w) / w): skip it below 1e-12.
    if (lp[i] + Math.min(logN, -Math.log(W.minRatio(lw[i]))) < -28) continue;
    const p = Math.exp(lp[i]);
    // Losers before the winner arrive at rate P(w' < w) - E[w' ; w' < w] / w.
    const before = Math.max(0, W.rateBelow(lw[i]));
    let mass = 0;
    const ratio = W.walker();
    for (let j = 0; j < steps; j++) {
      const e = n * ratio(logN + lw[i] - lts[j]); // (t / w) G(n w / t), increasing in t
      if (e > 40) break;
      const dens = p * Math.exp(-e) * dts[j];
      mass += dens;
      addPoissonBuckets(P, ts[j] * before, dens, k);
    }
    total += mass;
    sumX += mass * xs[i];
  }
  for (let b = 0; b <= k; b++) P[b] /= total;
  return { buckets: P, meanProjection: sumX / total };
}

/**
 * Sums over the grid (log-probabilities lp, log-ratios lw), kept in logs where they overflow:
 *   minRatio(ln c) = G(c) / c = E_p[min(w, c)] / c = E_p[w; w < c] / c + P_p(w >= c)
 *   rateBelow(ln v) = P_p(w < v) - E_p[w; w < v] / v
 */
function weightSums(lp: Float64Array, lw: Float64Array) {
  const order = Array.from(lw.keys()).sort((a, b) => lw[a] - lw[b]);
  const len = order.length;
  const lwS = new Float64Array(len);
  const belowLog = new Float64Array(len + 1).fill(-Infinity); // ln E_p[w; w < lwS[r]]
  const pBelow = new Float64Array(len + 1); // P_p(w < lwS[r])
  order.forEach((o, r) => { lwS[r] = lw[o]; });
  for (let r = 0; r < len; r++) {
    belowLog[r + 1] = logAdd(belowLog[r], lp[order[r]] + lwS[r]);
    pBelow[r + 1] = pBelow[r] + Math.exp(lp[order[r]]);
  }
  const pTotal = pBelow[len];
  const first = (l: number) => { // first r with lwS[r] >= l
    let lo = 0, hi = len;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (lwS[mid] < l) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return {
    minRatio: (lc: number) => {
      const r = first(lc);
      return Math.exp(belowLog[r] - lc) + (pTotal - pBelow[r]);
    },
    /** minRatio for decreasing arguments, walking the sorted grid down instead of searching it. */
    walker: () => {
      let r = len;
      return (lc: number) => {
        if (r === len || (r > 0 && lwS[r - 1] >= lc) || lwS[r] < lc) {
          if (r < len && lwS[r] < lc) r = first(lc);
          while (r > 0 && lwS[r - 1] >= lc) r--;
        }
        return Math.exp(belowLog[r] - lc) + (pTotal - pBelow[r]);
      };
    },
    rateBelow: (lv: number) => {
      const r = first(lv);
      return pBelow[r] - Math.exp(belowLog[r] - lv);
    },
  };
}

function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

/** Bucket probabilities P(b), b = 0..k, of one chunk of KL `chunkKlBits` with 2^k candidates. */
export function indexBucketProbabilities(chunkKlBits: number, k: number, targetStd: number): Float64Array {
  return chunkSelection(chunkKlBits, k, targetStd).buckets;
}

const POISSON_STEP = 1 / 64;
const POISSON_MAX = 60;
const POISSON_BUCKETS = 8; // 1 + Poisson(60) stays below 2^8 with all but ~1e-30 of its mass
let poissonTable: Float64Array | undefined; // row g: bucket probabilities of 1 + Poisson(g * STEP)

/** Adds `weight` times the bucket distribution of floor(log2(1 + Poisson(lambda))), capped at k. */
function addPoissonBuckets(P: Float64Array, lambda: number, weight: number, k: number): void {
  if (lambda > POISSON_MAX) {
    P[Math.min(k, Math.floor(Math.log2(1 + lambda)))] += weight;
    return;
  }
  const table = poissonTable ??= poissonBucketTable();
  const f = lambda / POISSON_STEP, g = Math.floor(f), r = f - g;
  const a = g * POISSON_BUCKETS, b = a + POISSON_BUCKETS;
  for (let i = 0; i < POISSON_BUCKETS; i++) P[Math.min(k, i)] += weight * (table[a + i] * (1 - r) + table[b + i] * r);
}

function poissonBucketTable(): Float64Array {
  const rows = Math.ceil(POISSON_MAX / POISSON_STEP) + 2;
  const table = new Float64Array(rows * POISSON_BUCKETS);
  for (let g = 0; g < rows; g++) {
    const l = g * POISSON_STEP;
    let p = Math.exp(-l);
    for (let c = 0; c < 2 ** POISSON_BUCKETS - 1; c++) {
      table[g * POISSON_BUCKETS + Math.floor(Math.log2(c + 1))] += p;
      p *= l / (c + 1);
    }
  }
  return table;
}

/** Expected code length of one index given its bucket probabilities: E[raw bits] + H(bucket). */
export function indexBitsFromBuckets(P: Float64Array): number {
  const k = P.length - 1;
  let bits = 0;
  for (let b = 0; b <= k; b++) if (P[b] > 0) bits += P[b] * ((b < k ? b : 0) - Math.log2(P[b]));
  return bits;
}

/**
 * Information a chunk's sample falls short of sending, bits: an exact sample of q sits m = |d| along
 * the chunk's direction on average, the selection's winner E[x*] < m when 2^k candidates are too
 * few to reach the target, and a shift of E[x*] carries E[x*]^2 / 2 of the m^2 / 2 nats. The
 * chain carries that shortfall into the next step, whose KL grows by about as much (to first
 * order: the state's error along the offset is what the next x0-hat gets wrong).
 */
export function deficitBits(chunkKlBits: number, sel: ChunkSelection): number {
  const m2 = 2 * chunkKlBits * Math.LN2;
  return Math.max(0, (m2 - sel.meanProjection ** 2) / (2 * Math.LN2));
}

// The chunk KL grid: 4 points per bit up to GRID_LINEAR bits, then 32 per octave (far beyond k the
// winner is about the best of 2^k candidates whatever the KL, and the costs change slowly).
const GRID_PER_BIT = 4, GRID_LINEAR = 64, GRID_PER_OCTAVE = 32;
const gridU = (d: number) => (d <= GRID_LINEAR ? d * GRID_PER_BIT : GRID_LINEAR * GRID_PER_BIT + GRID_PER_OCTAVE * Math.log2(d / GRID_LINEAR));
const gridD = (u: number) => (u <= GRID_LINEAR * GRID_PER_BIT ? u / GRID_PER_BIT : GRID_LINEAR * 2 ** ((u - GRID_LINEAR * GRID_PER_BIT) / GRID_PER_OCTAVE));
const chunkCache = new Map<string, { d: number; index: number; deficit: number }>();

function gridChunk(k: number, targetStd: number, u: number): { d: number; index: number; deficit: number } {
  const key = `${k}:${targetStd}:${u}`;
  let v = chunkCache.get(key);
  if (!v) {
    const d = gridD(u), sel = chunkSelection(d, k, targetStd);
    v = { d, index: indexBitsFromBuckets(sel.buckets), deficit: deficitBits(d, sel) };
    chunkCache.set(key, v);
  }
  return v;
}

function interpolated(chunkKlBits: number, k: number, targetStd: number, field: 'index' | 'deficit'): number {
  const f = gridU(chunkKlBits), g = Math.floor(f);
  const lo = gridChunk(k, targetStd, g);
  if (f === g) return lo[field];
  const hi = gridChunk(k, targetStd, g + 1), r = (chunkKlBits - lo.d) / (hi.d - lo.d);
  return lo[field] * (1 - r) + hi[field] * r;
}

/**
 * Expected coded bits of one chunk's index: KL `chunkKlBits`, 2^k candidates, shaped target std
 * `targetStd`. Computed on a grid of the KL per k and s (1/4 bit apart up to 64 bits, then 32 per
 * octave) and interpolated linearly (smooth in the KL at fixed k).
 */
export function expectedIndexBits(chunkKlBits: number, k: number, targetStd: number): number {
  return k === 0 ? 0 : interpolated(chunkKlBits, k, targetStd, 'index');
}

/** deficitBits of a chunk, on the same grid as expectedIndexBits. */
export function expectedDeficitBits(chunkKlBits: number, k: number, targetStd: number): number {
  return k === 0 ? chunkKlBits : interpolated(chunkKlBits, k, targetStd, 'deficit');
}
