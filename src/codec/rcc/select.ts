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
}

export interface Selection {
  readonly index: number;
  /** The winner's float32 score ln T - <g, d> (tests compare it across backends). */
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
  for (let j = 0; j < r.d.length; j++) {
    if (!Number.isFinite(r.d[j])) throw new RangeError(`non-finite target at chunk dim ${j}`);
  }
}

/** Reference selection, straight from the spec. */
export function selectChunkReference(r: ChunkRequest): Selection {
  validateRequest(r);
  const lnT = lnArrivalTimes(r.addr, r.k);
  const n = r.d.length;
  const g = new Float32Array(n);
  const acc = new Float32Array(DOT_LANES);
  let best = 0;
  let bestScore = Infinity;
  for (let i = 0; i < lnT.length; i++) {
    candidateGaussians(r.addr, i, n, g);
    const score = Math.fround(lnT[i] - normativeDot(g, r.d, acc));
    if (score < bestScore) {
      bestScore = score;
      best = i;
    }
  }
  return { index: best, score: bestScore };
}

export const tsBackend: RccBackend = {
  name: 'ts',
  async selectBatch(requests) {
    return requests.map(selectChunkReference);
  },
};
