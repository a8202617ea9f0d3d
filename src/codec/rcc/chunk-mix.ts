/**
 * Chunk-shape mixes: which RCC work real encodes ask for, step by step (C chunks of about
 * dims/C values, 2^k candidates each; docs/rcc.md §7). Recorded by scripts/record-chunk-mix.ts
 * into test/fixtures/rcc-mix/recorded.json and replayed by `npm run bench:rcc -- --mix recorded`,
 * so the backends are measured on the shapes the codec really sends, not only on large uniform
 * chunks.
 */
import { z } from 'zod';
import { chunkSizes } from './candidates.js';

export const MixStep = z.object({
  step: z.number().int().min(1),
  chunks: z.number().int().min(1),
  k: z.number().int().min(0).max(24),
  /** The file's rate after this step (header included), so a rate cut is a prefix. */
  cumulative_bpp: z.number().nonnegative(),
});
export type MixStep = z.infer<typeof MixStep>;

export const MixSource = z.object({
  /** e.g. `default:astronaut` or `analytic:sdxl-1024`. */
  id: z.string().min(1),
  /** encode: read from a real .dfc's coded plans; protocol: planned from a closed-form expected KL. */
  kind: z.enum(['encode', 'protocol']),
  model: z.string().min(1),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  dims: z.number().int().positive(),
  max_chunk_bits: z.number().int().min(1).max(24),
  steps: z.array(MixStep).min(1),
}).refine((s) => s.steps.every((x) => x.chunks <= s.dims && x.k <= s.max_chunk_bits), 'a step plan outside the source\'s dims or chunk cap');
export type MixSource = z.infer<typeof MixSource>;

export const ChunkMix = z.object({
  version: z.literal(1),
  note: z.string(),
  sources: z.array(MixSource).min(1),
});
export type ChunkMix = z.infer<typeof ChunkMix>;

/** One step's RCC work: the chunk sizes (spec §7) and bits, and its samples (candidates x dims). */
export interface MixWork {
  readonly source: string;
  readonly step: number;
  readonly k: number;
  readonly sizes: readonly number[];
  readonly samples: number;
}

/** The steps of every source up to `maxBpp` (a rate cut keeps each file's prefix within it). */
export function mixWork(mix: ChunkMix, maxBpp = Infinity): MixWork[] {
  const out: MixWork[] = [];
  for (const s of mix.sources) {
    for (const x of s.steps) {
      if (x.cumulative_bpp > maxBpp) break;
      out.push({ source: s.id, step: x.step, k: x.k, sizes: chunkSizes(s.dims, x.chunks), samples: s.dims * 2 ** x.k });
    }
  }
  return out;
}

/** How the mix's samples spread over chunk sizes: share of samples in chunks of n <= each bound. */
export function sampleShareBySize(work: readonly MixWork[], bounds: readonly number[]): { n_max: number; share: number }[] {
  const total = work.reduce((s, w) => s + w.samples, 0);
  return bounds.map((b) => ({
    n_max: b,
    share: work.reduce((s, w) => s + w.sizes.reduce((t, n) => t + (n <= b ? n * 2 ** w.k : 0), 0), 0) / total,
  }));
}
