/**
 * Discrete DDPM noise schedules (Ho et al. 2020; Nichol & Dhariwal 2021 for cosine).
 * A schedule is its alpha-bar table over integer timesteps 0..T-1; every other quantity
 * (SNR, sigma, flow time) is converted from it in noise-level.ts.
 */
import { z } from 'zod';

export const DdpmScheduleConfig = z.object({
  kind: z.enum(['scaled_linear', 'linear', 'cosine']),
  steps: z.number().int().min(2).max(100_000).default(1000),
  betaStart: z.number().positive().max(1).default(0.00085),
  betaEnd: z.number().positive().max(1).default(0.012),
  cosineOffset: z.number().nonnegative().default(0.008),
});
export type DdpmScheduleConfig = z.infer<typeof DdpmScheduleConfig>;

/** SD 1.5 / 2.1 / SDXL training schedule. */
export const SD_SCHEDULE: DdpmScheduleConfig = {
  kind: 'scaled_linear', steps: 1000, betaStart: 0.00085, betaEnd: 0.012, cosineOffset: 0.008,
};

export function betas(config: DdpmScheduleConfig): Float64Array {
  const c = DdpmScheduleConfig.parse(config);
  const T = c.steps;
  const out = new Float64Array(T);
  if (c.kind === 'cosine') {
    // alpha-bar(t) = f(t)/f(0), f(t) = cos^2(((t/T) + s)/(1 + s) * pi/2); beta clipped at 0.999 (eq. 17).
    const f = (t: number) => Math.cos(((t / T + c.cosineOffset) / (1 + c.cosineOffset)) * (Math.PI / 2)) ** 2;
    for (let t = 0; t < T; t++) out[t] = Math.min(1 - f(t + 1) / f(t), 0.999);
    return out;
  }
  for (let t = 0; t < T; t++) {
    const frac = t / (T - 1);
    out[t] = c.kind === 'linear'
      ? c.betaStart + frac * (c.betaEnd - c.betaStart)
      : (Math.sqrt(c.betaStart) + frac * (Math.sqrt(c.betaEnd) - Math.sqrt(c.betaStart))) ** 2;
  }
  return out;
}

/** alpha-bar_t = prod_{i<=t} (1 - beta_i), t = 0..T-1. */
export function alphaBars(config: DdpmScheduleConfig): Float64Array {
  const b = betas(config);
  const out = new Float64Array(b.length);
  let prod = 1;
  for (let t = 0; t < b.length; t++) {
    prod *= 1 - b[t];
    out[t] = prod;
  }
  return out;
}
