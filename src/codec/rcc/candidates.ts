/**
 * Shared-randomness streams of the RCC (docs/rcc.md §4–§6): candidate Gaussians, Poisson arrival
 * times, and the per-step partition of latent dimensions into chunks. Pure TypeScript reference:
 * every other backend must reproduce these values bit for bit.
 */
import { philox4x32, counterWord3, Domain } from './philox.js';
import { exponentialF32, gaussianPairF32, lnF32 } from './f32math.js';

/** 64-bit stream seed as two 32-bit words (Philox key). */
export interface StreamKey {
  readonly seedLo: number;
  readonly seedHi: number;
}

export interface ChunkAddress {
  readonly key: StreamKey;
  readonly step: number;
  readonly chunk: number;
}

const ARRIVAL_BLOCK = 256;

/**
 * Standard normals of length n from one Philox stream (§4): dimensions 4j..4j+3 come from counter
 * (j, c1, c2, c3), words 0,1 and 2,3 each giving one Box–Muller pair.
 */
export function gaussianStream(key: StreamKey, c1: number, c2: number, c3: number, n: number, out: Float32Array = new Float32Array(n)): Float32Array {
  const w = new Uint32Array(4);
  const quad = new Float32Array(4);
  for (let j = 0; 4 * j < n; j++) {
    philox4x32(j, c1, c2, c3, key.seedLo, key.seedHi, w);
    gaussianPairF32(w[0], w[1], quad, 0);
    gaussianPairF32(w[2], w[3], quad, 2);
    const base = 4 * j;
    for (let t = 0; t < 4 && base + t < n; t++) out[base + t] = quad[t];
  }
  return out;
}

/** Candidate `index`'s standard-normal vector of length n for a chunk: counter (j, index, chunk, step). */
export function candidateGaussians(addr: ChunkAddress, index: number, n: number, out?: Float32Array): Float32Array {
  return gaussianStream(addr.key, index, addr.chunk, counterWord3(Domain.candidate, addr.step), n, out);
}

/**
 * ln T_i for i in [0, 2^k): T are the arrival times of a unit-rate Poisson process, accumulated
 * in float32 with a two-level blocked scan so that parallel implementations can match it (§5).
 */
export function lnArrivalTimes(addr: ChunkAddress, k: number): Float32Array {
  const count = 2 ** k;
  const w = new Uint32Array(4);
  const c3 = counterWord3(Domain.arrival, addr.step);
  const local = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    if ((i & 3) === 0) philox4x32(i >>> 2, 0, addr.chunk, c3, addr.key.seedLo, addr.key.seedHi, w);
    const e = exponentialF32(w[i & 3]);
    local[i] = i % ARRIVAL_BLOCK === 0 ? e : Math.fround(local[i - 1] + e);
  }
  const out = new Float32Array(count);
  let offset = 0; // S_b: float32 sum of the totals of blocks before b
  for (let start = 0; start < count; start += ARRIVAL_BLOCK) {
    const end = Math.min(start + ARRIVAL_BLOCK, count);
    for (let i = start; i < end; i++) out[i] = lnF32(Math.fround(offset + local[i]));
    offset = Math.fround(offset + local[end - 1]);
  }
  return out;
}

/** Number of partial sums in the normative dot product (§6). */
export const DOT_LANES = 64;

/** Dot product in the normative order: 64 float32 accumulators by j mod 64, then a halving tree. */
export function normativeDot(g: Float32Array, d: Float32Array, acc: Float32Array = new Float32Array(DOT_LANES)): number {
  acc.fill(0);
  const n = d.length;
  for (let j = 0; j < n; j++) {
    const l = j & (DOT_LANES - 1);
    acc[l] = Math.fround(acc[l] + Math.fround(g[j] * d[j]));
  }
  for (let width = DOT_LANES >> 1; width >= 1; width >>= 1) {
    for (let l = 0; l < width; l++) acc[l] = Math.fround(acc[l] + acc[l + width]);
  }
  return acc[0];
}

/**
 * Pseudo-random permutation of [0, n) for a step (§7): Fisher–Yates from the top, with the
 * m-th draw r = floor(w_m * (i+1) / 2^32) computed exactly in integers.
 */
export function stepPermutation(key: StreamKey, step: number, n: number): Uint32Array {
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  const w = new Uint32Array(4);
  const c3 = counterWord3(Domain.partition, step);
  for (let i = n - 1, m = 0; i >= 1; i--, m++) {
    if ((m & 3) === 0) philox4x32(m >>> 2, 0, 0, c3, key.seedLo, key.seedHi, w);
    const r = mulShift32(w[m & 3], i + 1);
    const tmp = perm[i];
    perm[i] = perm[r];
    perm[r] = tmp;
  }
  return perm;
}

/** floor(w * n / 2^32) for 32-bit w and n <= 2^32, exact in doubles. */
export function mulShift32(w: number, n: number): number {
  const lo = (w & 0xffff) * n;
  return Math.floor(((w >>> 16) * n + Math.floor(lo / 65536)) / 65536);
}

/**
 * Sizes of `chunks` near-equal parts of n dims (§7): the first n mod chunks parts get one extra.
 */
export function chunkSizes(n: number, chunks: number): number[] {
  const base = Math.floor(n / chunks);
  const extra = n % chunks;
  return Array.from({ length: chunks }, (_, c) => base + (c < extra ? 1 : 0));
}

/** Chain noise (initial state, ancestral sampling): counter (j, 0, stream, step) in its own domain. */
export function chainNoise(key: StreamKey, step: number, stream: number, n: number): Float32Array {
  return gaussianStream(key, 0, stream, counterWord3(Domain.chainNoise, step), n);
}
