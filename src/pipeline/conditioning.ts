/**
 * Guidance of one compression, the same wherever it runs (diffc compress, the compressImage
 * activities, diffc decompress and the decompressImage activity): the values a new file gets (the
 * request's, else the model's defaults), the values a file decodes with (its header's, else its
 * family's frozen legacy values), and the two denoisers they select: the coded chain's and the
 * final reconstruction's (docs/format.md §3.8).
 */
import type { DfcConditioning, DfcHeader } from '../codec/format/index.js';
import { checkModelHash, DFC_LIMITS } from '../codec/format/index.js';
import type { NoisePredictor } from '../codec/model.js';
import { LEGACY_GUIDANCE, type GuidanceDefaults } from '../models/guidance.js';
import type { DiffusionModel, ModelFamily } from '../models/types.js';
import type { RgbImage } from '../image/types.js';
import { ModelError } from '../models/errors.js';
import { EntropyError } from '../codec/entropy/learned/index.js';

export const GUIDANCE_RANGE = DFC_LIMITS.guidance;

/**
 * A guidance value as the header stores it and both sides compute with: rounded to float32 once,
 * here, before any model call uses it (so the encoder's chain is the decoder's), in [0, 100].
 */
export function guidanceValue(g: number, what = 'guidance'): number {
  const v = Math.fround(g);
  if (!Number.isFinite(v) || v < GUIDANCE_RANGE.min || v > GUIDANCE_RANGE.max) throw new RangeError(`${what} ${g} is outside [${GUIDANCE_RANGE.min}, ${GUIDANCE_RANGE.max}]`);
  return v === 0 ? 0 : v; // -0 -> +0
}

export interface ConditioningRequest {
  readonly prompt?: string;
  readonly guidance?: number;
  readonly denoiseGuidance?: number;
}

/** A new file's conditioning: what was asked for, else the model's defaults (denoise: with or without a prompt). */
export function resolveConditioning(defaults: GuidanceDefaults, r: ConditioningRequest): DfcConditioning {
  return {
    guidance: guidanceValue(r.guidance ?? defaults.guidance, 'guidance'),
    denoiseGuidance: guidanceValue(r.denoiseGuidance ?? (r.prompt ? defaults.promptDenoiseGuidance : defaults.denoiseGuidance), 'denoise guidance'),
  };
}

export interface FileConditioning extends DfcConditioning {
  /** The file has no conditioning field: these are its family's legacy values. */
  readonly legacy: boolean;
}

/** What a file decodes with: the header's conditioning, else the legacy values of the model family it was coded with. */
export function fileConditioning(header: DfcHeader, family: ModelFamily): FileConditioning {
  return header.conditioning ? { ...header.conditioning, legacy: false } : { ...LEGACY_GUIDANCE[family], legacy: true };
}

export interface ConditionedPredictors {
  /** Runs the coded chain (encoder and decoder). */
  readonly chain: NoisePredictor;
  /** Runs the final reconstruction from the last coded step to x0 (the chain's when the guidance is the same). */
  readonly denoiser: NoisePredictor;
}

/**
 * The chain's and the reconstruction's denoisers for a padded size, prompt and conditioning (and,
 * for a conditional model, the image's decoded condition: imageCondition / fileCondition).
 */
export async function conditionedPredictors(
  model: DiffusionModel, width: number, height: number, prompt: string | undefined, c: DfcConditioning, condition?: Float32Array,
): Promise<ConditionedPredictors> {
  const chain = await model.predictor(width, height, { prompt, guidance: c.guidance, condition });
  const denoiser = c.denoiseGuidance === c.guidance ? chain : await model.predictor(width, height, { prompt, guidance: c.denoiseGuidance, condition });
  return { chain, denoiser };
}

/** A conditional model's coded condition of a padded image and its decoded features; undefined for other models. */
export async function imageCondition(model: DiffusionModel, padded: RgbImage): Promise<{ bytes: Uint8Array; features: Float32Array } | undefined> {
  return model.condition?.encode(padded);
}

/**
 * The decoded condition a file's chain runs with (docs/format.md §3.9): its coded condition
 * through the model's decoder; undefined for a model without one. A file and a model that
 * disagree about having one are a ModelError.
 */
export async function fileCondition(model: DiffusionModel, header: DfcHeader): Promise<Float32Array | undefined> {
  const d = model.info.downsample;
  // Another model's file is that, before anything about conditions (as the chain decode would say).
  checkModelHash(header, model.info.hash);
  if (!model.condition) {
    if (header.condition) throw new ModelError('family', `the file has a coded condition (${header.condition.length} bytes), but ${model.info.id} is not a conditional model`);
    return undefined;
  }
  if (!header.condition) throw new ModelError('family', `${model.info.id} is a conditional model, and the file has no coded condition (.dfc field 17)`);
  try {
    return await model.condition.decode(header.condition, header.latent.width * d, header.latent.height * d);
  } catch (e) {
    if (e instanceof EntropyError) throw new EntropyError(e.code, `the coded condition (.dfc field 17) does not decode: ${e.message}`, { cause: e });
    throw e;
  }
}
