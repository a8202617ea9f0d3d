/**
 * Timestep-schedule optimiser (Vonderfecht & Liu 2025, Algorithm 3): the chain from the prior to a
 * target timestep that minimises total coding cost sum C(KL(t_i -> t_j)), as a shortest path over
 * a DAG of candidate timesteps. KL is per image averaged over a set of images; C(D) maps a step's
 * KL to its expected coded bits (chunking and index overheads).
 */
import { z } from 'zod';

export const KlMatrix = z.object({
  /** Candidate timesteps, strictly decreasing. */
  timesteps: z.array(z.number().int().nonnegative()).min(1),
  /** prior[j]: mean KL bits from the prior (nothing known) to timesteps[j]. */
  prior: z.array(z.number().nonnegative()),
  /** kl[i][j], i < j: mean KL bits from timesteps[i] to timesteps[j] (entries with j <= i ignored). */
  kl: z.array(z.array(z.number())),
}).superRefine((m, ctx) => {
  const n = m.timesteps.length;
  if (m.prior.length !== n) ctx.addIssue({ code: 'custom', message: `prior has ${m.prior.length} entries, expected ${n}` });
  if (m.kl.length !== n || m.kl.some((r) => r.length !== n)) ctx.addIssue({ code: 'custom', message: `kl must be ${n}x${n}` });
  for (let i = 1; i < n; i++) if (m.timesteps[i] >= m.timesteps[i - 1]) ctx.addIssue({ code: 'custom', message: 'timesteps must strictly decrease' });
});
export type KlMatrix = z.infer<typeof KlMatrix>;

export interface OptimizedSchedule {
  readonly timesteps: number[];
  readonly cost: number;
  readonly klBits: number;
}

/** Shortest path from the prior to `target` (a timestep in the matrix). */
export function optimizeSchedule(m: KlMatrix, cost: (klBits: number) => number, target: number): OptimizedSchedule {
  const n = m.timesteps.length;
  const end = m.timesteps.indexOf(target);
  if (end < 0) throw new RangeError(`target timestep ${target} is not a candidate`);
  const best = new Float64Array(n).fill(Infinity);
  const kl = new Float64Array(n);
  const from = new Int32Array(n).fill(-1); // -1 = prior
  for (let j = 0; j <= end; j++) {
    best[j] = cost(m.prior[j]);
    kl[j] = m.prior[j];
    for (let i = 0; i < j; i++) {
      const c = best[i] + cost(m.kl[i][j]);
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

/**
 * Expected coded bits of a step with KL D under the chunk planner (chain/chunk-plan.ts): C chunks
 * of D/C bits, each costing about its KL plus the extra KL of the shaped target (std s) plus an
 * index overhead growing with the spread of the information density, at most k bits; plus ~2
 * bits of coded side information. `stepPenaltyBits` charges each step extra, trading rate for
 * fewer model calls and RCC passes (encode time grows with the step count).
 */
export function chunkedCodingCost(maxChunkBits: number, paddingBits: number, sideInfoBits = 2, stepPenaltyBits = 0, targetStd = 1): (klBits: number) => number {
  const extra = targetStd >= 1 ? 0 : (targetStd ** 2 - 1 - Math.log(targetStd ** 2)) / (2 * Math.LN2);
  return (klBits: number) => {
    const chunks = Math.max(1, Math.ceil(klBits / maxChunkBits));
    const d = klBits / chunks;
    const k = Math.min(maxChunkBits, Math.max(0, Math.ceil(d + extra + paddingBits)));
    const spread = Math.sqrt((2 * d) / Math.LN2) * Math.min(1, targetStd); // std of the info density, bits
    return stepPenaltyBits + sideInfoBits + chunks * Math.min(k, d + extra + Math.log2(1 + spread) + 1);
  };
}
