/**
 * A model's mean per-step KL on a set of photos: the matrix `diffc schedule optimize --kl` reads
 * (Vonderfecht & Liu 2025, Algorithm 3 needs KL(t_i -> t_j) for every pair of candidates).
 *
 * For each photo: its latent x0 (the same image -> latent step as diffc compress), then for each
 * candidate t_i and sample: x_{t_i} = sqrt(ab_i) x0 + sqrt(1 - ab_i) eps (seeded noise), one
 * x0-hat from the model, e_i = |x0 - x0hat|^2. The KL of the step t_i -> t_j is then, in closed
 * form, (cX0 / sigma)^2 e_i / (2 ln 2) bits with the step's posterior coefficients: the codec's
 * |d|^2 / (2 ln 2) for d = cX0 (x0 - x0hat) / sigma (step-math.ts), for every later t_j at once.
 * The prior row is the same with x0-hat = the model's prior mean (alpha-bar 0).
 */
import { basename } from 'node:path';
import { CodedError } from '../errors.js';
import { loadImage } from '../image/io.js';
import { predictX0, latentSize, type DenoiseRequest } from '../codec/model.js';
import { diffuse, posteriorCoefficients } from '../codec/diffusion/step-math.js';
import { gaussianStream } from '../codec/rcc/candidates.js';
import { KlMatrix, type PlanningParams } from '../codec/schedule/optimize.js';
import { compressionSettings } from './compress-settings.js';
import { conditionedPredictors } from './conditioning.js';
import { imageLatent, type Size } from './image-latent.js';
import { resolveSchedule, type LoadedModel } from './model-context.js';
import type { PresetName } from './presets.js';

export type MeasureErrorCode = 'timesteps' | 'non-finite';

export class MeasureError extends CodedError<MeasureErrorCode> {
  override readonly name = 'MeasureError';
}

export const DEFAULT_GRID = 10;

export interface MeasureOptions {
  /** Explicit candidate timesteps (strictly decreasing); otherwise every `grid` from T-1 down. */
  readonly timesteps?: readonly number[];
  readonly grid?: number;
  /** Forward samples per photo and candidate (default 1). */
  readonly samples?: number;
  /** Seed of the forward noise (default 0). */
  readonly seed?: number;
  /** Text prompt and the chain's guidance, as diffc compress --prompt / --guidance (default: the model's). */
  readonly prompt?: string;
  readonly guidance?: number;
  /** The coding choices compress would use: --preset and, for models whose chunk bits are 'auto', the RCC backend's name. */
  readonly coding?: CodingChoice;
  /** After each model call (a batch of candidates): photo index, model calls done, calls in all. */
  readonly onProgress?: (e: MeasureProgress) => void;
}

export interface MeasureProgress {
  readonly image: number;
  readonly images: number;
  readonly file: string;
  readonly calls: number;
  readonly totalCalls: number;
}

/** Every `grid` timesteps of a T-step table, from T-1 down to 0 (T-1, T-1-grid, ...). */
export function gridTimesteps(steps: number, grid: number): number[] {
  const ts: number[] = [];
  for (let t = steps - 1; t >= 0; t -= grid) ts.push(t);
  return ts;
}

/** Checks candidates against a model's alpha-bar table: in range, decreasing, strictly noisier to cleaner, below 1. */
export function checkCandidates(table: Float64Array, timesteps: readonly number[]): void {
  if (timesteps.length === 0) throw new MeasureError('timesteps', 'no candidate timesteps');
  timesteps.forEach((t, i) => {
    if (!Number.isInteger(t) || t < 0 || t >= table.length) throw new MeasureError('timesteps', `timestep ${t} outside the model's 0..${table.length - 1}`);
    if (i > 0 && t >= timesteps[i - 1]) throw new MeasureError('timesteps', `timesteps must strictly decrease (${timesteps[i - 1]} then ${t})`);
    if (!(table[t] > 0 && table[t] < 1)) throw new MeasureError('timesteps', `timestep ${t} has alpha-bar ${table[t]}, outside (0, 1)`);
    if (i > 0 && !(table[t] > table[timesteps[i - 1]])) throw new MeasureError('timesteps', `alpha-bar does not increase from timestep ${timesteps[i - 1]} to ${t}`);
  });
}

/** What picks diffc compress's coding settings besides the model: its --preset and RCC backend. */
export interface CodingChoice {
  readonly preset?: PresetName;
  /** The backend's name ('ts', 'cpu', 'cuda', ...): it decides a model's 'auto' chunk bits. */
  readonly backend?: string;
}

/**
 * What diffc compress derives for an image of this size with nothing overridden but the prompt,
 * guidance and coding choice (compressionSettings: coding parameters, the chain's conditioning).
 */
function compressDefaults(lm: LoadedModel, image: Size, padded: Size, c: CodingChoice, prompt?: string, guidance?: number) {
  const info = lm.model.info;
  return compressionSettings({
    info, schedule: resolveSchedule(lm, info.defaults.schedule), latent: lm.model.latentShape(padded.width, padded.height),
    width: image.width, height: image.height, seed: 0, steps: 1, prompt, guidance, preset: c.preset, backend: c.backend,
  });
}

/** The coding settings diffc compress uses with this model (compressionSettings, nothing overridden but the choice). */
export function modelPlanningParams(lm: LoadedModel, c: CodingChoice = {}): PlanningParams {
  const m = lm.model.info.sizeMultiple, size = { width: m, height: m };
  const { params } = compressDefaults(lm, size, size, c);
  return { maxChunkBits: params.maxChunkBits, paddingQuarterBits: params.paddingQuarterBits, chunkKlQuarterBits: params.chunkKlQuarterBits, targetStdPercent: params.targetStdPercent };
}

/** Counter word 3 of the measurement's noise: domain 15, which no codec stream uses (docs/rcc.md §4 uses 0-3). */
const NOISE_DOMAIN = 15 << 28;

/** The forward noise of photo `image`, sample `sample`, candidate `cand`: a Philox Gaussian stream of its own. */
export function measureNoise(seed: number, image: number, sample: number, cand: number, n: number): Float32Array {
  const key = { seedLo: seed % 2 ** 32 >>> 0, seedHi: Math.floor(seed / 2 ** 32) >>> 0 };
  return gaussianStream(key, cand, sample, (NOISE_DOMAIN | (image & 0x0fffffff)) >>> 0, n);
}

export async function measureKl(lm: LoadedModel, files: readonly string[], o: MeasureOptions = {}): Promise<KlMatrix> {
  const t0 = performance.now();
  const model = lm.model, table = model.table;
  const grid = o.timesteps ? null : (o.grid ?? DEFAULT_GRID);
  const ts = o.timesteps ? [...o.timesteps] : gridTimesteps(table.length, grid!);
  checkCandidates(table, ts);
  const samples = o.samples ?? 1, seed = o.seed ?? 0;
  const n = ts.length;
  const abs = ts.map((t) => table[t]);
  // g2[i][j] = (cX0 / sigma)^2 / (2 ln 2) of the step t_i -> t_j; prior: from alpha-bar 0.
  const g2 = (abT: number, abS: number) => {
    const c = posteriorCoefficients(abT, abS);
    return (c.cX0 / c.sigma) ** 2 / (2 * Math.LN2);
  };
  const priorG = abs.map((ab) => g2(0, ab));
  const stepG = abs.map((abI, i) => abs.map((abJ, j) => (j > i ? g2(abI, abJ) : 0)));
  const prior = new Float64Array(n);
  const kl = Array.from({ length: n }, () => new Float64Array(n));
  const sizes: NonNullable<KlMatrix['images']>['sizes'] = [];
  const totalCalls = files.length * samples * n;
  let calls = 0;
  let conditioning: NonNullable<KlMatrix['conditioning']> = {};
  for (const [p, file] of files.entries()) {
    const { latent: x0, image, padded, condition } = await imageLatent(lm, loadImage(file));
    // The chain's denoiser as diffc compress conditions it (prompt, guidance or the model's default).
    const settings = compressDefaults(lm, image, padded, o.coding ?? {}, o.prompt, o.guidance);
    conditioning = { ...(settings.prompt !== undefined ? { prompt: settings.prompt } : {}), guidance: settings.conditioning.guidance };
    // A conditional model's chain runs on the image's decoded condition, as diffc compress gives it.
    const { chain: predictor } = await conditionedPredictors(model, padded.width, padded.height, settings.prompt, settings.conditioning, condition?.features);
    const dims = latentSize(predictor.latent);
    if (x0.length !== dims) throw new RangeError(`${file}: latent has ${x0.length} values, the model's predictor expects ${dims}`);
    sizes.push({ name: basename(file), width: image.width, height: image.height, latent: { ...predictor.latent } });
    const [priorMean] = await predictX0(predictor, [{ x: new Float32Array(dims), alphaBar: 0 }]);
    const ePrior = sqError(x0, priorMean, file, 'the prior mean');
    for (let j = 0; j < n; j++) prior[j] += priorG[j] * ePrior;
    // Candidates in batches of the predictor's size: one predictX0 call each, the noisy latents
    // dropped once their error is summed (memory stays at one batch, whatever the photo's size).
    for (let s = 0; s < samples; s++) {
      for (let start = 0; start < n; start += predictor.maxBatch) {
        const idx = Array.from({ length: Math.min(predictor.maxBatch, n - start) }, (_, q) => start + q);
        const reqs: DenoiseRequest[] = idx.map((i) => ({ x: diffuse(x0, measureNoise(seed, p, s, i, dims), abs[i]), alphaBar: abs[i] }));
        const x0hats = await predictX0(predictor, reqs);
        idx.forEach((i, q) => {
          const e = sqError(x0, x0hats[q], file, `timestep ${ts[i]}`);
          const row = kl[i], gi = stepG[i];
          for (let j = i + 1; j < n; j++) row[j] += gi[j] * e;
        });
        calls += idx.length;
        o.onProgress?.({ image: p, images: files.length, file, calls, totalCalls });
      }
    }
  }
  const photos = files.length;
  return KlMatrix.parse({
    format: 'diffc-kl', version: 1,
    timesteps: ts,
    prior: Array.from(prior, (v) => v / photos),
    kl: kl.map((r) => Array.from(r, (v) => v / (photos * samples))),
    model: { id: model.info.id, hash: Buffer.from(model.info.hash).toString('hex'), family: model.info.family },
    images: { count: photos, sizes },
    samples, seed, grid,
    conditioning,
    coding: modelPlanningParams(lm, o.coding),
    ...(o.coding?.preset !== undefined ? { preset: o.coding.preset } : {}),
    ...(o.coding?.backend !== undefined ? { backend: o.coding.backend } : {}),
    modelCalls: calls,
    seconds: +((performance.now() - t0) / 1000).toFixed(3),
  });
}

/** |x0 - x0hat|^2 in double precision; a non-finite model output is refused. */
function sqError(x0: Float32Array, x0hat: Float32Array, file: string, what: string): number {
  let e = 0;
  for (let i = 0; i < x0.length; i++) {
    const d = x0[i] - x0hat[i];
    e += d * d;
  }
  if (!Number.isFinite(e)) throw new MeasureError('non-finite', `${file}: the model's x0 estimate at ${what} is not finite`);
  return e;
}
