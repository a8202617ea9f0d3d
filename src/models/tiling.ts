/**
 * How a model tiles large photos (docs/tiling.md §5): the denoiser's latent tiles, which are part
 * of the model's definition (encoder and decoder must blend the same tiles, so they live in the
 * bundle manifest and its hash), and the VAE's tiles, which change pixels only. A manifest
 * without `tiling` gets its family's defaults below; they are frozen, since changing one would
 * change what existing files decode to.
 */
import { z } from 'zod';
import type { ModelFamily } from './types.js';

const Tile = z.object({
  /** Tile side in latent cells. */
  tile: z.number().int().min(8).max(1024),
  /** Least overlap between neighbouring tiles, latent cells. */
  overlap: z.number().int().min(0).max(512),
}).strict().refine((t) => t.overlap < t.tile, { message: 'overlap must be smaller than the tile' });

export const ModelTiling = z.object({
  predictor: Tile,
  vae: Tile.optional(),
}).strict();
export type ModelTiling = z.infer<typeof ModelTiling>;

/** Native latent sizes: SD 1.5 512 px, SD 2.1 768 px, SDXL and Flux 1024 px; overlap a quarter. */
export const FAMILY_TILING: Readonly<Record<ModelFamily, { predictor: { tile: number; overlap: number }; vae?: { tile: number; overlap: number } }>> = {
  'analytic-dct': { predictor: { tile: 64, overlap: 16 } },
  sd15: { predictor: { tile: 64, overlap: 16 }, vae: { tile: 64, overlap: 16 } },
  sd21: { predictor: { tile: 96, overlap: 24 }, vae: { tile: 64, overlap: 16 } },
  sdxl: { predictor: { tile: 128, overlap: 32 }, vae: { tile: 128, overlap: 32 } },
  'flux-dev': { predictor: { tile: 128, overlap: 32 }, vae: { tile: 128, overlap: 32 } },
  // Untiled: its denoiser takes the whole condition with the whole latent (src/models/onnx/cod.ts).
  cod: { predictor: { tile: 4096, overlap: 0 } },
  // The one-step UNet tiles as the original does (manifest oneStep, src/models/stablecodec/tiles.ts), not here.
  stablecodec: { predictor: { tile: 4096, overlap: 0 }, vae: { tile: 128, overlap: 32 } },
};

/** Latent tile alignment: Flux packs 2x2 latent patches into tokens, so its tiles start on even cells. */
export const FAMILY_ALIGN: Readonly<Record<ModelFamily, number>> = { 'analytic-dct': 1, sd15: 1, sd21: 1, sdxl: 1, 'flux-dev': 2, cod: 1, stablecodec: 1 };

export function modelTiling(family: ModelFamily, manifestTiling: ModelTiling | undefined): { predictor: { tile: number; overlap: number; align: number }; vae: { tile: number; overlap: number; align: number } } {
  const d = FAMILY_TILING[family];
  const p = manifestTiling?.predictor ?? d.predictor;
  const v = manifestTiling?.vae ?? d.vae ?? p;
  const align = FAMILY_ALIGN[family];
  return { predictor: { ...p, align }, vae: { ...v, align } };
}
