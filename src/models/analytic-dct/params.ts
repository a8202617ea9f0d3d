/**
 * Parameters of the embedded models (models/default/ and models/default-dct-v1/ params.json): a Gaussian prior on the
 * opponent-colour latent with power spectrum lambda_c(f) = A_c (f^2 + f0^2)^(-alpha_c/2), f in
 * cycles per latent pixel, fitted to natural photos by scripts/fit-default-model.ts.
 *   version 1: that prior taken as stationary: a per-coefficient Wiener denoiser, bicubic decode
 *              (diffc-default-dct-v1, kept so that its files decode).
 *   version 2: the same spectrum as the prior of a locally adaptive denoiser (local-wiener.ts)
 *              and a decoder that back-projects the bicubic upsample onto the latent's box means.
 */
import { z } from 'zod';

const Spectrum = {
  downsample: z.number().int().min(1).max(16),
  scale: z.number().positive(),
  f0: z.number().positive().max(1),
  channels: z.array(z.object({ A: z.number().positive(), alpha: z.number().min(0).max(6) })).length(3),
  fittedOn: z.array(z.string()),
};

const Radii = z.array(z.number().int().min(0).max(32)).min(1).max(6);

export const LocalWienerParams = z.object({
  kind: z.literal('local-wiener'),
  levels: z.number().int().min(1).max(6),
  radius: Radii,
  kappa: z.number().nonnegative().max(1e6),
  beta: z.number().min(0).max(16),
  pilotRadius: Radii.optional(),
  mix: z.number().nonnegative().max(1e6),
}).refine((d) => d.radius.length === d.levels && (d.pilotRadius === undefined || d.pilotRadius.length === d.levels), 'radius (and pilotRadius) need one entry per level');

export const DctModelParamsV1 = z.object({ version: z.literal(1), ...Spectrum });
export const DctModelParamsV2 = z.object({
  version: z.literal(2),
  ...Spectrum,
  denoiser: LocalWienerParams,
  /** Back-projection rounds of the decoder's upsample (0: plain bicubic). */
  backProjection: z.number().int().min(0).max(8),
  /** Photos the denoiser's settings were chosen on (never the evaluation's). */
  tunedOn: z.array(z.string()),
});
export const DctModelParams = z.discriminatedUnion('version', [DctModelParamsV1, DctModelParamsV2]);
export type DctModelParams = z.infer<typeof DctModelParams>;
export type LocalWienerParams = z.infer<typeof LocalWienerParams>;

/** Per-coefficient prior variances for an h x w latent, CHW order, each channel's DCT grid. */
export function priorVariances(p: DctModelParams, h: number, w: number): Float64Array {
  const n = h * w, out = new Float64Array(3 * n);
  for (let c = 0; c < 3; c++) {
    const { A, alpha } = p.channels[c];
    for (let u = 0; u < h; u++) {
      for (let v = 0; v < w; v++) {
        const f2 = (u / (2 * h)) ** 2 + (v / (2 * w)) ** 2;
        out[c * n + u * w + v] = A * (f2 + p.f0 * p.f0) ** (-alpha / 2);
      }
    }
  }
  return out;
}
