/**
 * Guidance per model family: the defaults a new compression gets, and the frozen legacy values
 * that files without the header's conditioning field decode with (docs/format.md §3.8).
 *
 *   guidance              the coded chain's denoiser (encoder and decoder use the same)
 *   denoiseGuidance       the final reconstruction x_t -> x0, without a prompt ...
 *   promptDenoiseGuidance ... and with a non-empty prompt
 *
 * SD families: no CFG on the chain (1), CFG 5 for the final denoise when there is a prompt (the
 * reference implementation's SD 1.5 prompt setting: encode 1, denoise 5); without a prompt CFG
 * would only blend the empty prompt with itself (SD 1.x/2.x) or with zeros (SDXL), so 1. Flux-dev's
 * distilled guidance 3.5 throughout (what FluxPipeline uses). The embedded default model has no
 * conditioning: 1 and 1, ignored. A bundle manifest may set any of the three in its `defaults`.
 */
import type { ModelFamily } from './types.js';

export interface GuidanceDefaults {
  readonly guidance: number;
  readonly denoiseGuidance: number;
  readonly promptDenoiseGuidance: number;
}

export const FAMILY_GUIDANCE: Readonly<Record<ModelFamily, GuidanceDefaults>> = {
  'analytic-dct': { guidance: 1, denoiseGuidance: 1, promptDenoiseGuidance: 1 },
  sd15: { guidance: 1, denoiseGuidance: 1, promptDenoiseGuidance: 5 },
  sd21: { guidance: 1, denoiseGuidance: 1, promptDenoiseGuidance: 5 },
  sdxl: { guidance: 1, denoiseGuidance: 1, promptDenoiseGuidance: 5 },
  'flux-dev': { guidance: 3.5, denoiseGuidance: 3.5, promptDenoiseGuidance: 3.5 },
  cod: { guidance: 1, denoiseGuidance: 1, promptDenoiseGuidance: 1 },
  stablecodec: { guidance: 1, denoiseGuidance: 1, promptDenoiseGuidance: 1 },
};

/**
 * What decoders used before .dfc headers carried guidance, for the files written then (no
 * conditioning field): SD adapters defaulted to no CFG, Flux to distilled guidance 3.5, one
 * predictor for the chain and the reconstruction. Frozen: changing a default above must never
 * change what an existing file decodes to.
 */
export const LEGACY_GUIDANCE: Readonly<Record<ModelFamily, { readonly guidance: number; readonly denoiseGuidance: number }>> = Object.freeze({
  'analytic-dct': { guidance: 1, denoiseGuidance: 1 },
  sd15: { guidance: 1, denoiseGuidance: 1 },
  sd21: { guidance: 1, denoiseGuidance: 1 },
  sdxl: { guidance: 1, denoiseGuidance: 1 },
  'flux-dev': { guidance: 3.5, denoiseGuidance: 3.5 },
  cod: { guidance: 1, denoiseGuidance: 1 },
  stablecodec: { guidance: 1, denoiseGuidance: 1 },
});

/** A model's guidance defaults: the manifest's `defaults` where it sets them, else the family's. */
export function guidanceDefaults(family: ModelFamily, manifest: Partial<GuidanceDefaults> = {}): GuidanceDefaults {
  const f = FAMILY_GUIDANCE[family];
  return {
    guidance: manifest.guidance ?? f.guidance,
    denoiseGuidance: manifest.denoiseGuidance ?? f.denoiseGuidance,
    promptDenoiseGuidance: manifest.promptDenoiseGuidance ?? f.promptDenoiseGuidance,
  };
}
