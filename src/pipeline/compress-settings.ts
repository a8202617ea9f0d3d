/**
 * The coding settings of one compression, derived the same way wherever it runs (the CLI in
 * process, or a Temporal activity), so that both produce the same bitstream for the same inputs.
 */
import { CodingParams, wideDeltasFor } from '../codec/chain/chunk-plan.js';
import { dfcHeader } from '../codec/codec.js';
import { writeDfc, type DfcConditioning } from '../codec/format/index.js';
import type { StopRule } from '../codec/chain/run.js';
import type { LatentShape } from '../codec/model.js';
import type { ReconMethod } from '../codec/diffusion/reconstruct.js';
import type { ModelInfo } from '../models/types.js';
import type { CodingSchedule } from '../codec/schedule/timesteps.js';
import { resolveConditioning } from './conditioning.js';
import { preset, type PresetName } from './presets.js';
import { chunkBitsFor } from './chunk-bits.js';
import { ModelError } from '../models/errors.js';

export interface SettingsRequest {
  readonly info: ModelInfo;
  readonly schedule: CodingSchedule;
  readonly latent: LatentShape;
  /** Original (unpadded) image size. */
  readonly width: number;
  readonly height: number;
  readonly seed: number;
  readonly prompt?: string;
  /** A conditional model's coded condition: part of the header, so of a bpp budget. */
  readonly condition?: Uint8Array;
  /** The coded chain's guidance (--guidance; default the model's). */
  readonly guidance?: number;
  /** The final reconstruction's guidance (--denoise-guidance; default the model's, with or without a prompt). */
  readonly denoiseGuidance?: number;
  readonly chunkBits?: number;
  /** The RCC backend's name, for models whose chunk bits are 'auto' (unknown: the CPU's). */
  readonly backend?: string;
  /** Named coding choices (--preset; presets.ts): below explicit settings, above the model's defaults. The schedule is chosen before (codingScheduleId). */
  readonly preset?: PresetName;
  readonly method?: ReconMethod;
  readonly denoiseSteps?: number;
  /** Set when a quality target drives the rate (bpp is then its cap): one-step models refuse it. */
  readonly targetQuality?: unknown;
  /** At most one rate control; none means 0.1 bpp. */
  readonly bpp?: number;
  readonly steps?: number;
  readonly timestep?: number;
}

export interface CompressionSettings {
  readonly params: CodingParams;
  readonly recon: { method: ReconMethod; steps: number };
  /** Written to the header; the chain's and the reconstruction's predictors are bound to it (conditionedPredictors). */
  readonly conditioning: DfcConditioning;
  /** The prompt the model conditions on and the header holds (undefined: none; '' is none). */
  readonly prompt?: string;
  readonly seed: { lo: number; hi: number };
  readonly image: { width: number; height: number; channels: number };
  readonly stop: StopRule;
}

export const DEFAULT_BPP = 0.1;

/**
 * A one-step model (StableCodec) codes at the one rate its checkpoint was trained for: its file is
 * the coded condition and no chain steps, decoded by an MSE reconstruction from step 0 (its
 * one-step decode). Asking it for a rate or another reconstruction is a ModelError('family').
 */
function oneStepSettings(r: SettingsRequest): { stop: StopRule; recon: { method: ReconMethod; steps: number } } {
  const asked = ([
    ['a quality target', r.targetQuality], ['bpp', r.targetQuality === undefined ? r.bpp : undefined], ['steps', r.steps], ['timestep', r.timestep],
    ['method', r.method], ['denoise steps', r.denoiseSteps],
  ] as const)
    .filter(([, v]) => v !== undefined).map(([k]) => k);
  if (asked.length) {
    throw new ModelError('family', `${r.info.id} is a one-step model (StableCodec): it codes at its checkpoint's fixed rate and decodes in one step, so ${asked.join(', ')} do not apply`);
  }
  return { stop: { steps: 0 }, recon: { method: 'mse', steps: 1 } };
}

export function compressionSettings(r: SettingsRequest): CompressionSettings {
  const { info, schedule } = r;
  const dims = r.latent.channels * r.latent.height * r.latent.width;
  const p = preset(r.preset ?? 'default', info.family);
  const params = CodingParams.parse({ ...p.coding, maxChunkBits: r.chunkBits ?? p.coding.maxChunkBits ?? chunkBitsFor(info.defaults.maxChunkBits, r.backend), wideDeltas: wideDeltasFor(dims) });
  const recon = { method: r.method ?? info.defaults.reconMethod, steps: r.denoiseSteps ?? info.defaults.reconSteps };
  const prompt = r.prompt ? r.prompt : undefined;
  const conditioning = resolveConditioning(info.defaults, { prompt, guidance: r.guidance ?? p.guidance, denoiseGuidance: r.denoiseGuidance ?? p.denoiseGuidance });
  const seed = { lo: r.seed % 2 ** 32, hi: Math.floor(r.seed / 2 ** 32) };
  const image = { width: r.width, height: r.height, channels: 3 };
  if (info.oneStep) return { params, ...oneStepSettings(r), conditioning, ...(prompt !== undefined ? { prompt } : {}), seed, image };
  const bpp = r.bpp ?? (r.timestep === undefined && r.steps === undefined ? DEFAULT_BPP : undefined);
  let stop: StopRule;
  if (bpp !== undefined) {
    // A bpp target covers the whole file: the header's bytes (prompt, conditioning, condition included)
    // come off the payload's budget. 8 bytes stand for the coding blob, 4 more for the payload length.
    const header = dfcHeader({
      model: { id: info.id, hash: info.hash, latent: r.latent }, image, seed, schedule, recon,
      coding: new Uint8Array(8), stepsCoded: schedule.timesteps.length, prompt, conditioning, condition: r.condition,
    });
    const headerBits = 8 * (writeDfc({ header, payload: new Uint8Array(0) }).length + 4);
    stop = { maxBits: Math.max(0, bpp * r.width * r.height - headerBits) };
  } else stop = r.timestep !== undefined ? { timestep: r.timestep } : { steps: r.steps };
  return { params, recon, conditioning, ...(prompt !== undefined ? { prompt } : {}), seed, image, stop };
}
