/**
 * Parameters of the embedded default model (models/default/params.json): a stationary Gaussian
 * prior on the opponent-colour latent with power spectrum lambda_c(f) = A_c (f^2 + f0^2)^(-alpha_c/2),
 * f in cycles per latent pixel, fitted to natural photos by scripts/fit-default-model.ts.
 */
import { z } from 'zod';

export const DctModelParams = z.object({
  version: z.literal(1),
  downsample: z.number().int().min(1).max(16),
  scale: z.number().positive(),
  f0: z.number().positive().max(1),
  channels: z.array(z.object({ A: z.number().positive(), alpha: z.number().min(0).max(6) })).length(3),
  fittedOn: z.array(z.string()),
});
export type DctModelParams = z.infer<typeof DctModelParams>;

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
