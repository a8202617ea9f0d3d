/**
 * Candidate selection by the Poisson functional representation (docs/rcc.md §6), and the
 * TypeScript reference backend. The encoder picks argmin_i (ln T_i - <g_i, d>) over 2^k
 * candidates g_i ~ N(0, I); the decoder only ever regenerates the winner.
 */
import { candidateGaussians, lnArrivalTimes, normativeDot, DOT_LANES, type ChunkAddress } from './candidates.js';

export interface ChunkRequest {
  readonly addr: ChunkAddress;
  /** Standardised target offset d = (mu_q - mu_p) / sigma over the chunk's dims, in chunk order. */
  readonly d: Float32Array;
  /** log2 of the number of candidates. */
  readonly k: number;
  /**
   * Target shape (docs/rcc.md §6): float32 coefficients of the log-weight f(dot) = a dot^2 + b dot.
   * Absent means (0, 1): the exact target q. See targetShape().
   */
  readonly shape?: { readonly a: number; readonly b: number };
}

export interface Selection {
  readonly index: number;
  /** The winner's float32 score ln T - f(<g, d>) (tests compare it across backends). */
  readonly score: number;
}

/** A scorer of RCC chunks. Backends differ in speed only: results are identical by spec. */
export interface RccBackend {
  readonly name: string;
  selectBatch(requests: readonly ChunkRequest[]): Promise<Selection[]>;
  close?(): void;
}

export const MAX_CHUNK_BITS = 24;

export function validateRequest(r: ChunkRequest): void {
  if (!Number.isInteger(r.k) || r.k < 0 || r.k > MAX_CHUNK_BITS) {
    throw new RangeError(`chunk bits k=${r.k} outside [0, ${MAX_CHUNK_BITS}]`);
  }
  if (r.d.length === 0) throw new RangeError('empty chunk');
  if (r.shape && !(Number.isFinite(r.shape.a) && Number.isFinite(r.shape.b))) throw new RangeError('non-finite target shape');
  for (let j = 0; j < r.d.length; j++) {
    if (!Number.isFinite(r.d[j])) throw new RangeError(`non-finite target at chunk dim ${j}`);
  }
}

/** Reference selection, straight from the spec. */
export function selectChunkReference(r: ChunkRequest): Selection {
  validateRequest(r);
  const lnT = lnArrivalTimes(r.addr, r.k);
  const n = r.d.length;
  const a = Math.fround(r.shape?.a ?? 0), b = Math.fround(r.shape?.b ?? 1);
  const g = new Float32Array(n);
  const acc = new Float32Array(DOT_LANES);
  let best = 0;
  let bestScore = Infinity;
  for (let i = 0; i < lnT.length; i++) {
    candidateGaussians(r.addr, i, n, g);
    const score = shapedScore(lnT[i], normativeDot(g, r.d, acc), a, b);
    if (score < bestScore) {
      bestScore = score;
      best = i;
    }
  }
  return { index: best, score: bestScore };
}

/** score = lnT - ((a * dot) * dot + b * dot), each operation rounded to float32 (§6). */
export function shapedScore(lnT: number, dot: number, a: number, b: number): number {
  const fr = Math.fround;
  return fr(lnT - fr(fr(fr(a * dot) * dot) + fr(b * dot)));
}

/**
 * Coefficients that make PFR target q' instead of q: the same mean shift m = |d| along d/|d| but
 * standard deviation s < 1 there (unit elsewhere). log q'(g)/p(g) = a dot^2 + b dot + const with
 * a = (1 - 1/s^2) / (2 m^2), b = 1/s^2. A narrower target lowers the spread of the information
 * density, which the chunk's index cost grows with, at the price of (s^2 - 1 - ln s^2)/2 nats
 * more KL. s = 1 is the exact target (a = 0, b = 1).
 */
export function targetShape(d: Float32Array, s: number): { a: number; b: number } {
  let m2 = 0;
  for (let j = 0; j < d.length; j++) m2 += d[j] * d[j];
  if (s >= 1 || m2 < 1e-12) return { a: 0, b: 1 };
  return { a: Math.fround((1 - 1 / (s * s)) / (2 * m2)), b: Math.fround(1 / (s * s)) };
}

/** Extra KL in bits of the shaped target over the exact one, per chunk. */
export function shapeExtraKlBits(s: number): number {
  return s >= 1 ? 0 : (s * s - 1 - Math.log(s * s)) / (2 * Math.LN2);
}

export const tsBackend: RccBackend = {
  name: 'ts',
  async selectBatch(requests) {
    return requests.map(selectChunkReference);
  },
};
