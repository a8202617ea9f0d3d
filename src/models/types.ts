/**
 * What the codec needs from a diffusion model, beyond the codec core's NoisePredictor: the
 * autoencoder (image <-> latent), the noise schedule, and conditioning. Each family adapter
 * (SD 1.5/2.1, SDXL(+refiner), Flux, the embedded analytic model) implements DiffusionModel.
 */
import type { LatentShape, NoisePredictor } from '../codec/model.js';
import type { PredictionKind } from '../codec/diffusion/prediction.js';
import type { RgbImage } from '../image/types.js';
import type { GuidanceDefaults } from './guidance.js';

export type ModelFamily = 'analytic-dct' | 'sd15' | 'sd21' | 'sdxl' | 'flux-dev' | 'cod' | 'stablecodec';

export interface ModelInfo {
  readonly id: string;
  readonly family: ModelFamily;
  /** First 8 bytes of the bundle's content sha256 (goes into every .dfc header). */
  readonly hash: Uint8Array;
  readonly prediction: PredictionKind;
  /** Latent channels and the autoencoder's spatial downsampling factor. */
  readonly latentChannels: number;
  readonly downsample: number;
  /** Images are padded to a multiple of this before encoding (then cropped back). */
  readonly sizeMultiple: number;
  /**
   * One-step models (StableCodec): the whole code is the coded condition (.dfc field 17) and no
   * chain steps are coded; the reconstruction from zero steps is the model's one-step decode.
   */
  readonly oneStep?: boolean;
  /** Default RCC chunk bits, coding schedule id, reconstruction, and guidance (src/models/guidance.ts) for this model. */
  readonly defaults: CodingDefaults & GuidanceDefaults;
}

export interface CodingDefaults {
  /** 'auto': by the RCC backend at encode time (src/pipeline/chunk-bits.ts). */
  readonly maxChunkBits: number | 'auto';
  readonly schedule: string;
  readonly reconMethod: 'flow' | 'ancestral' | 'mse';
  readonly reconSteps: number;
}

export interface Conditioning {
  readonly prompt?: string;
  /**
   * Classifier-free (SD families: CFG when > 1) or distilled (Flux) guidance scale, where the
   * family uses one; absent: the family's legacy value (SD 1, Flux 3.5).
   */
  readonly guidance?: number;
  /** A conditional model's decoded condition (ConditionCodec), which its denoiser takes at every step. */
  readonly condition?: Float32Array;
}

/**
 * The side information of a conditional model (CoD-style: docs/models.md): a condition of the
 * image, coded before the chain (.dfc field 17) with the learned entropy coder
 * (docs/learned-entropy.md), whose decoded form the denoiser receives at every step.
 */
export interface ConditionCodec {
  /** A padded image's coded condition, and the decoded features the chain runs with (the decoder's own computation). */
  encode(image: RgbImage): Promise<{ bytes: Uint8Array; features: Float32Array }>;
  /** The features of a coded condition for a padded size (EntropyError when it is damaged). */
  decode(bytes: Uint8Array, width: number, height: number): Promise<Float32Array>;
}

export interface DiffusionModel {
  readonly info: ModelInfo;
  /** alpha-bar over the model's integer timesteps 0..T-1 (flow models: their DDPM equivalent). */
  readonly table: Float64Array;
  latentShape(width: number, height: number): LatentShape;
  /** Autoencoder: padded RGB images -> DDPM-form latents x0 (scaled/shifted as the model expects). */
  encode(images: readonly RgbImage[]): Promise<Float32Array[]>;
  decode(latents: readonly Float32Array[], width: number, height: number): Promise<RgbImage[]>;
  /** A noise predictor bound to a latent size and conditioning (reused across images). */
  predictor(width: number, height: number, cond?: Conditioning): Promise<NoisePredictor>;
  /** Expected KL bits per step from alpha-bar a to b for protocol plans, when the bundle has it. */
  expectedStepKlBits?(width: number, height: number, abT: number, abS: number): number;
  /** Conditional models only: their condition's coder. */
  readonly condition?: ConditionCodec;
  close(): Promise<void>;
}
