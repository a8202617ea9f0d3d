/**
 * Chunk plans (docs/format.md, "Payload"): how a step's KL is split into independently coded
 * chunks. C chunks of about D = KL/C bits each, 2^k candidates per chunk with k = ceil(D + pad)
 * capped at maxChunkBits. A negative padding deliberately under-codes (fewer candidates than the
 * KL asks for), trading a little sample fidelity for rate (Vonderfecht & Liu, appendix A.6).
 */
import { z } from 'zod';
import { shapeExtraKlBits } from '../rcc/select.js';

export const CodingParams = z.object({
  maxChunkBits: z.number().int().min(1).max(24).default(16),
  /** Extra (or, if negative, fewer) candidate bits over a chunk's KL, in quarter bits. */
  paddingQuarterBits: z.number().int().min(-32).max(32).default(4),
  /**
   * Target KL per chunk in quarter bits; 0 means maxChunkBits. Above k - padding this
   * over-subscribes chunks: fewer chunks, each index costing about k bits, slightly truncated
   * samples (measured best on the analytic source: bench/codec.ts).
   */
  chunkKlQuarterBits: z.number().int().min(0).max(4 * 64).default(0),
  /**
   * Standard deviation of the shaped RCC target along each chunk's offset direction, in percent
   * (100 = the exact posterior q). Below 100 the index costs less and the chain's samples sit
   * closer to x0 along that one direction (docs/rcc.md §6, select.ts targetShape).
   */
  targetStdPercent: z.number().int().min(5).max(100).default(35),
  /** 'coded': each step's plan is sent; 'protocol': plans come from a fixed table, no side info. */
  sideInfo: z.enum(['coded', 'protocol']).default('coded'),
  /**
   * Plan deltas coded up to 2^32 instead of 2^17 (coding blob version 2, docs/format.md §4.1):
   * needed once a step's chunk count can change by 65536 or more, i.e. latents of 65536+ values
   * (see wideDeltasFor). Version 1 files keep the narrow coder they were written with.
   */
  wideDeltas: z.boolean().default(false),
});
export type CodingParams = z.infer<typeof CodingParams>;

export interface ChunkPlan {
  readonly chunks: number;
  readonly k: number;
}

/** Whether a latent of `dims` values needs wide plan deltas: |C - C'| < dims, zigzag < 2 dims. */
export function wideDeltasFor(dims: number): boolean {
  return 2 * dims > NARROW_DELTA_BOUND;
}

/** Values the version-1 (18-bucket) plan-delta coder can code are below this. */
export const NARROW_DELTA_BOUND = 2 ** 17;

export function paddingBits(p: CodingParams): number {
  return p.paddingQuarterBits / 4;
}

export function planForKl(klBits: number, dims: number, p: CodingParams): ChunkPlan {
  const pad = paddingBits(p) + shapeExtraKlBits(p.targetStdPercent / 100);
  const perChunk = p.chunkKlQuarterBits > 0 ? p.chunkKlQuarterBits / 4 : p.maxChunkBits;
  const chunks = Math.min(dims, Math.max(1, Math.ceil(klBits / perChunk)));
  const k = Math.min(p.maxChunkBits, Math.max(0, Math.ceil(klBits / chunks + pad)));
  return { chunks, k };
}

export function validatePlan(plan: ChunkPlan, dims: number, p: CodingParams): void {
  if (!Number.isInteger(plan.chunks) || plan.chunks < 1 || plan.chunks > dims) {
    throw new RangeError(`chunk count ${plan.chunks} outside [1, ${dims}]`);
  }
  if (!Number.isInteger(plan.k) || plan.k < 0 || plan.k > p.maxChunkBits) {
    throw new RangeError(`chunk bits ${plan.k} outside [0, ${p.maxChunkBits}]`);
  }
}

/** Plans for every step of a schedule from the expected KL per step (a model's protocol table). */
export function protocolPlans(alphaBars: readonly number[], expectedKlBits: (abT: number, abS: number) => number, dims: number, p: CodingParams): ChunkPlan[] {
  return alphaBars.map((abS, j) => planForKl(expectedKlBits(j === 0 ? 0 : alphaBars[j - 1], abS), dims, p));
}
