/**
 * What encoder and decoder do identically at each step: derive the model mean, split the
 * dimensions into chunks, and continue the chain from the winning candidates (docs/rcc.md §4, §7).
 */
import { candidateGaussians, chunkSizes, stepPermutation, type StreamKey } from '../rcc/candidates.js';
import { modelMean, posteriorCoefficients, type StepCoefficients } from '../diffusion/step-math.js';
import type { CodingSchedule } from '../schedule/timesteps.js';
import type { ChunkPlan } from './chunk-plan.js';

export interface ChunkLayout {
  readonly perm: Uint32Array;
  readonly offsets: number[];
  readonly sizes: number[];
}

/** alpha-bar the chain is at before coding `step` (0 = prior). */
export function alphaBarBefore(schedule: CodingSchedule, step: number): number {
  return step === 0 ? 0 : schedule.alphaBars[step - 1];
}

export function stepCoefficients(schedule: CodingSchedule, step: number): StepCoefficients {
  return posteriorCoefficients(alphaBarBefore(schedule, step), schedule.alphaBars[step]);
}

export function chunkLayout(key: StreamKey, step: number, dims: number, plan: ChunkPlan): ChunkLayout {
  const perm = stepPermutation(key, step, dims);
  const sizes = chunkSizes(dims, plan.chunks);
  const offsets: number[] = [];
  let off = 0;
  for (const s of sizes) {
    offsets.push(off);
    off += s;
  }
  return { perm, offsets, sizes };
}

/** Gathers a per-dimension vector into chunk c's order. */
export function gatherChunk(v: Float32Array, layout: ChunkLayout, c: number): Float32Array {
  const out = new Float32Array(layout.sizes[c]);
  const off = layout.offsets[c];
  for (let j = 0; j < out.length; j++) out[j] = v[layout.perm[off + j]];
  return out;
}

/** x_s = mu_p + sigma * g_winner per chunk, in float32 (the canonical sample). */
export function continueChain(
  key: StreamKey, step: number, coeffs: StepCoefficients, x0hat: Float32Array, xt: Float32Array | null,
  layout: ChunkLayout, indices: readonly number[],
): Float32Array {
  const muP = modelMean(coeffs, x0hat, xt);
  const sigma = Math.fround(coeffs.sigma);
  const out = new Float32Array(muP.length);
  for (let c = 0; c < indices.length; c++) {
    const g = candidateGaussians({ key, step, chunk: c }, indices[c], layout.sizes[c]);
    const off = layout.offsets[c];
    for (let j = 0; j < g.length; j++) {
      const dim = layout.perm[off + j];
      out[dim] = Math.fround(muP[dim] + Math.fround(sigma * g[j]));
    }
  }
  return out;
}
