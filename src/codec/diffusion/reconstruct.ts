/**
 * Turning the chain's last state x_t into an image estimate (Vonderfecht & Liu, §3):
 *   mse        DiffC-MSE: one call, x0-hat = E[x0 | x_t].
 *   flow       DiffC-F: probability-flow DDIM (Song et al. 2021, eq. 12 with eta = 0) from t to 0.
 *   ancestral  DiffC-A: DDPM ancestral sampling with p(x_s | x_t), noise from the chainNoise stream.
 * Intermediate noise levels are evenly spaced timesteps of the model's alpha-bar table.
 */
import { z } from 'zod';
import type { NoisePredictor } from '../model.js';
import { predictX0 } from '../model.js';
import { epsFromX0 } from './prediction.js';
import { modelMean, posteriorCoefficients } from './step-math.js';
import { alphaBarAt, timestepFromAlphaBar } from '../schedule/noise-level.js';
import { chainNoise, type StreamKey } from '../rcc/candidates.js';

export const ReconMethod = z.enum(['flow', 'ancestral', 'mse']);
export type ReconMethod = z.infer<typeof ReconMethod>;

export interface ReconOptions {
  readonly method: ReconMethod;
  /** Denoising steps for flow / ancestral (>= 1). */
  readonly steps: number;
  /** The model's alpha-bar table (timesteps 0..T-1). */
  readonly table: Float64Array;
  /** Seed for ancestral noise and for the prior draw when nothing was coded (a chain's own key wins). */
  readonly key: StreamKey;
}

/** Stream ids inside the chainNoise domain. */
export const NOISE_STREAM = { prior: 0, ancestral: 1 } as const;

export async function reconstruct(model: NoisePredictor, state: Float32Array | null, alphaBar: number, dims: number, opts: ReconOptions): Promise<Float32Array> {
  const [x] = await reconstructBatch(model, [{ state, alphaBar }], dims, opts);
  return x;
}

/** Reconstructs several chains together (one model call per denoising step for the batch). */
export async function reconstructBatch(
  model: NoisePredictor, chains: readonly { state: Float32Array | null; alphaBar: number; key?: StreamKey }[], dims: number, opts: ReconOptions,
): Promise<Float32Array[]> {
  if (!Number.isInteger(opts.steps) || opts.steps < 1) throw new RangeError(`denoise steps ${opts.steps} must be >= 1`);
  if (opts.method === 'mse') {
    return predictX0(model, chains.map((c) => ({ x: c.state ?? new Float32Array(dims), alphaBar: c.alphaBar })));
  }
  const T = opts.table.length - 1;
  const paths = chains.map((c) => {
    const start = c.state === null ? T : timestepFromAlphaBar(opts.table, c.alphaBar);
    const abs: number[] = [];
    for (let i = 0; i <= opts.steps; i++) abs.push(alphaBarAt(opts.table, start * (1 - i / opts.steps)));
    if (c.state !== null) abs[0] = c.alphaBar;
    return abs;
  });
  let xs = chains.map((c, i) => c.state ?? scaledPrior(c.key ?? opts.key, dims, paths[i][0]));
  let x0s: Float32Array[] = [];
  for (let i = 0; i < opts.steps; i++) {
    x0s = await predictX0(model, xs.map((x, j) => ({ x, alphaBar: paths[j][i] })));
    if (i === opts.steps - 1) break;
    xs = xs.map((x, j) => {
      const ab = paths[j][i], next = paths[j][i + 1];
      if (opts.method === 'flow') {
        const eps = epsFromX0(x0s[j], x, ab);
        const a = Math.sqrt(next), b = Math.sqrt(1 - next);
        return x0s[j].map((v, d) => a * v + b * eps[d]);
      }
      const c = posteriorCoefficients(ab, next);
      const mu = modelMean(c, x0s[j], x);
      const z = chainNoise(chains[j].key ?? opts.key, i, NOISE_STREAM.ancestral, dims);
      return mu.map((m, d) => m + c.sigma * z[d]);
    });
  }
  return x0s;
}

/** x_T for a chain with nothing coded: pure noise is the DDPM prior at alpha-bar ~ 0. */
function scaledPrior(key: StreamKey, dims: number, ab: number): Float32Array {
  const z = chainNoise(key, 0, NOISE_STREAM.prior, dims);
  const b = Math.sqrt(1 - ab);
  return z.map((v) => v * b);
}
